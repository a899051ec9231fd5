"""Every fenced block of the README runs as written (or is checked for what it claims), in order.

The tour's shell blocks run in a scratch folder holding a copy of studies/,
through the CLI's own entry point, one line at a time, with three changes
that keep the suite fast and say nothing about behaviour: digits.toml runs 4
trials of 2 epochs (not 64 of 10), ``compare --seeds 10`` runs 2 seeds, and a
PostgreSQL URL is a second SQLite file. ``--open`` records the URL instead of
starting a browser. The ask/tell loop and the curl example run twice against
a live server: an example must work again when a reader runs it again.

``test_every_block_is_covered`` fails when a block is added without a test,
so the README cannot drift from the code unnoticed.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import optuna
import pytest

from hpsearch.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def block(first_words: str) -> str:
    """The one README block whose first line starts with ``first_words``."""
    (found,) = [body for _, body in BLOCKS if body.lstrip().startswith(first_words)]
    return found


def commands(body: str) -> Iterator[list[str]]:
    """The command lines of a shell block as argv lists (comments dropped, continuations joined)."""
    for line in body.replace("\\\n", " ").splitlines():
        argv = shlex.split(line, comments=True)
        if argv:
            yield argv


# A block's first words -> the test that runs it, or why it is checked another way.
COVERED = {
    "python3 -m venv .venv && .venv/bin/pip install -e .": "test_the_setup_blocks_are_what_ci_and_the_quickstart_run",
    "python3 -m venv .venv && .venv/bin/pip install -q": "test_the_setup_blocks_are_what_ci_and_the_quickstart_run",
    "hpsearch run studies/digits.toml": "test_the_tour_runs_in_order",
    "hpsearch enqueue digits": "test_the_tour_runs_in_order",
    "hpsearch compare studies/digits.toml": "test_the_tour_runs_in_order",
    "hpsearch report digits --open": "test_the_tour_runs_in_order",
    '[study]\nname = "digits"': "test_the_spec_blocks_are_valid_specs",
    "from sklearn.pipeline import make_pipeline": "test_the_estimator_example_scores_as_it_says",
    "hpsearch serve": "test_the_serve_lines_parse",
    "import json, time, uuid": "test_the_ask_tell_loop_and_curl_run_twice",
    "curl -s -X POST": "test_the_ask_tell_loop_and_curl_run_twice",
    "pip install -e '.[postgres]'": "test_the_tour_runs_in_order",
    '[study]\nname = "command-example"': "test_the_spec_blocks_are_valid_specs",
    "hpsearch check studies/command-example.toml": "test_the_command_example_runs_as_shown",
    '[study]\nobjective = "table"': "test_the_spec_blocks_are_valid_specs",
    "hpsearch check studies/csv-real.toml": "test_the_tour_runs_in_order",
    "import hpsearch": "tests/test_readme_notebook.py",
    "hpsearch/nn/": "the layout: tests/test_boundaries.py checks the packages it names",
    ".venv/bin/python -m pytest -m": "contributing: the suite itself",
    ".venv/bin/ruff check .": "contributing: .ci/run runs exactly these",
    "python benchmarks/bench_mlp.py": "benchmarks: minutes each, run by hand (benchmarks/README.md)",
}


def test_every_block_is_covered():
    for _lang, body in BLOCKS:
        assert any(body.lstrip().startswith(k) for k in COVERED), f"README block without a test:\n{body[:200]}"
    for words, why in COVERED.items():
        block(words)  # each entry still names exactly one block
        if why.startswith("test_"):
            assert why.split(" ")[0] in globals(), why


def test_the_setup_blocks_are_what_ci_and_the_quickstart_run():
    install_and_test = block("python3 -m venv .venv && .venv/bin/pip install -q")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert ".venv/bin/python -m pytest" in install_and_test and "pip install -q -e '.[test]'" in install_and_test
    assert "-e '.[test]'" in ci and "python -m pytest" in ci  # .ci/run runs the README's test command
    quickstart = block("python3 -m venv .venv && .venv/bin/pip install -e .")
    assert quickstart.strip().endswith(".venv/bin/hpsearch run studies/quickstart.toml")
    assert (ROOT / "studies" / "quickstart.toml").is_file()  # the tour below runs the same CLI on studies/


@pytest.fixture
def scratch(tmp_path, monkeypatch) -> Path:
    """A folder with a copy of studies/ (digits made small) as the current directory, its own database."""
    shutil.copytree(ROOT / "studies", tmp_path / "studies")
    digits = tmp_path / "studies" / "digits.toml"
    text = re.sub(r"(?m)^n_trials = \d+", "n_trials = 4", digits.read_text(encoding="utf-8"))
    digits.write_text(re.sub(r"(?m)^max_epochs = \d+", "max_epochs = 2", text), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    return tmp_path


def _as_tested(argv: list[str], folder: Path) -> list[str] | None:
    """A README command line as the test runs it (see the module docstring); None: not an hpsearch line."""
    if argv[0] != "hpsearch":
        return None
    argv = argv[1:]
    if "--seeds" in argv:
        argv[argv.index("--seeds") + 1] = "2"
    return [f"sqlite:///{folder / 'copy.db'}" if a.startswith("postgresql") else a for a in argv]


def _write_known_good(folder: Path) -> None:
    """known_good.csv for `enqueue --csv`: a header of parameter names, one configuration per row."""
    best = optuna.load_study(study_name="digits", storage="sqlite:///hpsearch.db").best_trial.params
    rows = [",".join(best), ",".join(str(v) for v in best.values())]
    (folder / "known_good.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.mark.slow  # about 30 s alone: three runs with --jobs 2 and a comparison
def test_the_tour_runs_in_order(scratch, monkeypatch, capsys):
    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url))
    ran = []
    for words in (
        "hpsearch run studies/digits.toml",
        "hpsearch enqueue digits",
        "hpsearch compare studies/digits.toml",
        "hpsearch report digits --open",
        "pip install -e '.[postgres]'",
        "hpsearch check studies/csv-real.toml",
    ):
        for argv in commands(block(words)):
            tested = _as_tested(argv, scratch)
            if tested is None:
                continue
            if tested[:2] == ["enqueue", "digits"] and "--csv" in tested:
                _write_known_good(scratch)
            code = main(tested)
            out, err = capsys.readouterr()
            assert code == 0, f"README line failed: {shlex.join(argv)}\n{out}\n{err}"
            assert "Traceback" not in err
            ran.append(tested[0])
    assert {"run", "studies", "show", "best", "export", "check", "enqueue", "stop", "copy"} <= set(ran)
    assert {"compare", "report", "delete", "worker"} <= set(ran)
    assert opened and all(u.startswith("file://") for u in opened)
    assert (scratch / "digits.csv").is_file() and (scratch / "reports" / "digits-comparison.html").is_file()
    # deleted after its report, then made again by section 7's run (its worker found it complete)
    study = optuna.load_study(study_name="digits", storage="sqlite:///hpsearch.db")
    assert len(study.trials) == 4
    assert "digits-pg" in optuna.get_all_study_names(f"sqlite:///{scratch / 'copy.db'}")


def test_the_command_example_runs_as_shown(scratch, capsys):
    for argv in commands(block("hpsearch check studies/command-example.toml")):
        assert main(_as_tested(argv, scratch)) == 0, shlex.join(argv)
    out = capsys.readouterr().out
    assert "best trial #" in out
    trials = optuna.load_study(study_name="command-example", storage="sqlite:///hpsearch.db").trials
    assert len(trials) == 8


def test_the_spec_blocks_are_valid_specs(tmp_path):
    from hpsearch.spec import spec_from_dict

    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python < 3.11
        pytest.skip("tomllib")
    digits = tomllib.loads(block('[study]\nname = "digits"'))
    assert spec_from_dict(digits, source="README").study.name == "digits"
    # the command example is the file it names, as shipped
    shown = block('[study]\nname = "command-example"')
    shipped = (ROOT / "studies" / "command-example.toml").read_text(encoding="utf-8")
    shown_lines = [line for line in shown.splitlines() if line.strip()]
    assert all(line in shipped.splitlines() for line in shown_lines), "README and studies/command-example.toml differ"
    table = tomllib.loads(block('[study]\nobjective = "table"'))
    assert table["study"]["objective"] == "table" and table["data"]["benchmark"] == "hpobench"
    assert (ROOT / "studies" / "hpobench-credit-g.toml").is_file()  # the example the section names
    named = spec_from_dict({**table, "study": {**table["study"], "name": "t"}}, source="README")
    assert named.study.metric == "accuracy" and named.space  # the table's own axes, its own metric


def test_the_estimator_example_scores_as_it_says():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    code = block("from sklearn.pipeline import make_pipeline")
    namespace = {"X_train": X_train, "X_test": X_test, "y_train": y_train, "y_test": y_test}
    *setup, last = code.strip().splitlines()
    exec(compile("\n".join(setup), f"{README}:estimator", "exec"), namespace)
    score = eval(last.split("#")[0], namespace)  # the line whose comment says "digits: 0.978"
    assert score > 0.95


def test_the_serve_lines_parse(monkeypatch):
    from hpsearch.cli import cli

    monkeypatch.delenv("HPSEARCH_TOKEN", raising=False)
    for argv in commands(block("hpsearch serve")):
        env = [a for a in argv if "=" in a and not a.startswith("-")]
        words = [a for a in argv if a not in env][1:]
        assert words[0] == "serve"
        with cli.make_context("hpsearch", words) as ctx:  # parses every option as the shell would pass it
            assert ctx.protected_args == ["serve"]


def _json_values(text: str) -> list[dict]:
    """The JSON objects curl printed one after another (no separator between answers)."""
    import json

    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
        while at < len(text) and text[at].isspace():
            at += 1
    return values


def test_the_ask_tell_loop_and_curl_run_twice(tmp_path):
    from tests.server.conftest import LiveServer

    server = LiveServer(f"sqlite:///{tmp_path / 'api.db'}").start()
    try:
        loop = block("import json, time, uuid").replace("http://127.0.0.1:8000", server.url)
        for _ in range(2):  # the second run joins the finished study: no 409 traceback
            exec(compile(loop, f"{README}:ask/tell", "exec"), {"__name__": "__main__"})
        study = optuna.load_study(study_name="quad", storage=f"sqlite:///{tmp_path / 'api.db'}")
        assert len([t for t in study.trials if t.state.name == "COMPLETE"]) == 20
        if shutil.which("curl") is None:
            pytest.fail("curl is not installed (.ci/system-deps.sh installs it)")
        script = block("curl -s -X POST").replace("http://127.0.0.1:8000", server.url)
        first = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert first.returncode == 0, first.stderr
        answers = _json_values(first.stdout)
        assert len(answers) == 4  # created, asked, told, summary
        assert set(answers[1]) >= {"trial", "params"} and answers[3]["name"] == "quad-curl"
        again = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120)
        assert again.returncode == 0  # a second run answers (409 for the study that exists), never breaks
        summary = optuna.load_study(study_name="quad-curl", storage=f"sqlite:///{tmp_path / 'api.db'}")
        assert any(t.value == pytest.approx(20.16) for t in summary.trials if t.state.name == "COMPLETE")
    finally:
        server.stop()
