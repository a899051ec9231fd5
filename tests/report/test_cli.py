"""``hpsearch compare`` and ``hpsearch report`` end to end on a tiny iris study."""

from __future__ import annotations

import math

import optuna
import pytest

from hpsearch.cli import main
from hpsearch.search import is_finished
from hpsearch.space import grid_values
from hpsearch.storage import load_study_spec, open_storage

SPEC = """
[study]
name = "tiny"
objective = "mlp"
metric = "accuracy"
seed = 4
n_trials = 20

[data]
dataset = "iris"
seed = 11

[training]
max_epochs = 3
batch_size = 32

[space]
learning_rate = { type = "float", low = 1e-3, high = 1e-1, log = true }
width = { type = "int", low = 4, high = 16 }
"""


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    d = tmp_path_factory.mktemp("cmp")
    spec = d / "tiny.toml"
    spec.write_text(SPEC)
    url = f"sqlite:///{d / 'h.db'}"
    out = d / "out.html"
    argv = ["compare", str(spec), "--samplers", "grid,random", "--seeds", "2", "--n-trials", "3",
            "--eval-seeds", "2", "--quiet", "--storage", url, "-o", str(out)]
    return d, spec, url, out, argv


def _finished(url: str) -> dict[str, int]:
    st = open_storage(url, heartbeat=False)
    return {s.study_name: sum(is_finished(t) for t in st.get_all_trials(s._study_id))
            for s in st.get_all_studies()}


def test_compare_runs_arms_on_one_split_and_writes_report(compared, capsys):
    d, spec, url, out, argv = compared
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "median best value over repeats" in text and "test score of random's best" in text
    counts = _finished(url)
    assert set(counts) == {"tiny-grid-s4", "tiny-grid-s5", "tiny-random-s4", "tiny-random-s5"}
    st = open_storage(url, heartbeat=False)
    assert counts["tiny-random-s4"] == counts["tiny-random-s5"] == 3
    grid = grid_values(load_study_spec(st, "tiny-grid-s4").space, budget=3)
    assert 1 < counts["tiny-grid-s4"] == counts["tiny-grid-s5"] == math.prod(len(v) for v in grid.values()) <= 3
    for s in st.get_all_studies():
        assert s.user_attrs["comparison"] == "tiny"
        stored = load_study_spec(st, s.study_name)
        assert stored.split_seed == 11 and stored.study.seed in (4, 5)
    scored = [s for s in st.get_all_studies() if "test_score" in s.user_attrs]
    assert {s.user_attrs["sampler"] for s in scored} == {"grid", "random"}
    assert all(len(s.user_attrs["test_seeds"]) == 2 for s in scored)
    html = out.read_text()
    assert "<h1>Comparison tiny</h1>" in html and "test_accuracy" in html

    # resumable: the same command adds no trial and retrains nothing
    assert main(argv) == 0
    assert _finished(url) == counts
    assert "retraining" not in capsys.readouterr().out


def test_report_command_writes_study_and_comparison(compared, tmp_path, monkeypatch):
    d, spec, url, out, argv = compared
    if not out.exists():
        assert main(argv) == 0
    monkeypatch.chdir(tmp_path)
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda u: opened.append(u))
    assert main(["report", "tiny-random-s4", "--storage", url, "--open"]) == 0
    assert (tmp_path / "reports" / "tiny-random-s4.html").exists()
    assert opened == [(tmp_path / "reports" / "tiny-random-s4.html").as_uri()]
    assert main(["report", "tiny", "--storage", url]) == 0
    assert "Comparison tiny" in (tmp_path / "reports" / "tiny-comparison.html").read_text()


@pytest.mark.parametrize("argv, needle", [
    (["report", "nope"], "no study named 'nope'"),
    (["compare", "SPEC", "--samplers", "grid,bayes"], "--samplers"),
    (["compare", "SPEC", "--seeds", "0"], "--seeds"),
    (["compare", "missing.toml"], "missing.toml"),
])
def test_bad_input_exits_2_with_one_line(compared, tmp_path, capsys, argv, needle):
    d, spec, url, out, _ = compared
    db = tmp_path / "x.db"
    argv = [str(spec) if a == "SPEC" else a for a in argv] + ["--storage", f"sqlite:///{db}"]
    if argv[0] == "report":
        optuna.create_study(study_name="other", storage=f"sqlite:///{db}")
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1
    if argv[0] == "compare":
        assert not db.exists()  # rejected before the database is touched
