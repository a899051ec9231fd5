"""One rule for study names, from spec files, --study-name and the API; stored names printed escaped (issue 26)."""

from __future__ import annotations

import pytest

from hpsearch._names import name_problem, printable
from hpsearch.cli import main
from hpsearch.errors import SpecError
from hpsearch.spec import load_spec

HOSTILE = {
    "esc": "x\x1b[2Jy",
    "nul": "a\x00b",
    "bel": "ring\x07",
    "del": "rub\x7fout",
    "nel": "next\x85line",
    "newline": "two\nlines",
    "rlo": "evil\u202egnp.exe",
    "lre": "a\u202ab",
    "zero-width": "a\u200bb",
    "line-separator": "a\u2028b",
    "traversal": "../../../x",
    "absolute": "/etc/passwd",
    "backslash": "a\\b",
    "dots": "a..b",
    "empty": "",
    "long": "n" * 201,
}

SPEC = """
[study]
name = {name}
objective = "mlp"
metric = "accuracy"
sampler = "random"
n_trials = 2

[data]
dataset = "iris"

[space]
learning_rate = {{ type = "float", low = 1e-3, high = 1e-1, log = true }}
"""


def _toml_string(text: str) -> str:
    """A TOML basic string holding ``text`` exactly (every character as an escape)."""
    return '"' + "".join(f"\\U{ord(ch):08X}" for ch in text) + '"'


@pytest.mark.parametrize("key", sorted(HOSTILE))
def test_hostile_names_break_the_rule(key):
    assert name_problem(HOSTILE[key]) is not None


@pytest.mark.parametrize("name", ["digits", "digits-tpe-s3", "Ünïcödé 名前", "a.b_c d", "x" * 200])
def test_ordinary_names_pass(name):
    assert name_problem(name) is None


@pytest.mark.parametrize("key", ["esc", "nul", "rlo", "traversal", "absolute", "backslash", "newline", "del", "nel"])
def test_a_spec_file_with_a_hostile_name_is_refused_with_file_key_and_reason(tmp_path, key):
    path = tmp_path / "spec.toml"
    path.write_text(SPEC.format(name=_toml_string(HOSTILE[key])))
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: study.name: expected a printable name")
    assert message.isprintable(), "the message itself must not carry the character"


@pytest.mark.parametrize("key", ["esc", "nul", "rlo"])
def test_run_refuses_hostile_names_from_files_and_options_exit_2_one_line(tmp_path, monkeypatch, capsys, key):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.toml").write_text(SPEC.format(name=_toml_string(HOSTILE[key])))
    (tmp_path / "good.toml").write_text(SPEC.format(name='"fine"'))
    assert main(["run", "bad.toml"]) == 2
    assert main(["run", "good.toml", "--study-name", HOSTILE[key]]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 2  # one line per run
    assert all(line.isprintable() for line in err.strip().splitlines())
    assert not (tmp_path / "hpsearch.db").exists(), "nothing was written"


def test_studies_prints_stored_names_escaped(tmp_path, monkeypatch, capsys):
    """Names made by other Optuna code may hold anything; the terminal must get them escaped."""
    import optuna

    monkeypatch.chdir(tmp_path)
    for name in (HOSTILE["esc"], HOSTILE["rlo"], HOSTILE["newline"]):
        optuna.create_study(study_name=name, storage="sqlite:///hpsearch.db")
    assert main(["studies"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out
    assert "\\x1b" in out and "\\u202e" in out and "two\\nlines" in out


def test_printable_escapes_only_what_a_terminal_would_act_on():
    assert printable("plain name é 名") == "plain name é 名"
    assert printable("a\x1b[31mb\u202ec") == "a\\x1b[31mb\\u202ec"


def test_a_study_an_earlier_version_stored_with_a_slash_in_its_name_stays_readable(tmp_path, monkeypatch, capsys):
    """New names may not hold a '/', but studies stored before the rule must not become unreadable."""
    from hpsearch.search import new_study
    from hpsearch.spec import spec_from_dict
    from hpsearch.storage import open_storage

    monkeypatch.chdir(tmp_path)
    (tmp_path / "good.toml").write_text(SPEC.format(name='"legacy"'))
    spec = load_spec(tmp_path / "good.toml")
    old = spec.to_dict()
    old["study"]["name"] = "runs/legacy"
    stored = spec.model_copy(update={"study": spec.study.model_copy(update={"name": "runs/legacy"})})
    new_study(open_storage("sqlite:///hpsearch.db"), stored)  # as an earlier version stored it
    with pytest.raises(SpecError):
        spec_from_dict(old)  # a new spec with that name is refused
    assert spec_from_dict(old, stored=True).study.name == "runs/legacy"
    assert main(["show", "runs/legacy"]) == 0, capsys.readouterr().err
    bad = dict(old, study=dict(old["study"], name="runs/\x1b[2J"))
    with pytest.raises(SpecError):
        spec_from_dict(bad, stored=True)  # the rest of the rule holds for stored names too
