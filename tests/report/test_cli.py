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
    argv = [
        "compare",
        str(spec),
        "--samplers",
        "grid,random",
        "--seeds",
        "2",
        "--n-trials",
        "3",
        "--eval-seeds",
        "2",
        "--quiet",
        "--storage",
        url,
        "-o",
        str(out),
    ]
    return d, spec, url, out, argv


def _finished(url: str) -> dict[str, int]:
    st = open_storage(url, heartbeat=False)
    return {s.study_name: sum(is_finished(t) for t in st.get_all_trials(s._study_id)) for s in st.get_all_studies()}


def test_compare_runs_arms_on_one_split_and_writes_report(compared, capsys):
    d, spec, url, out, argv = compared
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "comparison tiny: best value per repeat, median over repeats" in text
    arms = [line.split()[0] for line in text.splitlines() if line.startswith(("  grid ", "  random "))]
    assert arms == ["grid", "random"]  # one table: a row per arm, not one table per study
    assert "retraining the best configuration of 4 repeats on train+validation with 2 training seeds" in text
    *_, verdict, following = text.rstrip().splitlines()
    assert verdict.startswith("verdict: ")  # the verdict, then only the next step
    # the next step keeps the --storage it was given, so it works when pasted
    assert following == f"next: hpsearch report tiny-comparison --open --storage {url}"
    counts = _finished(url)
    assert set(counts) == {"tiny-grid-s4", "tiny-grid-s5", "tiny-random-s4", "tiny-random-s5"}
    st = open_storage(url, heartbeat=False)
    grid = grid_values(load_study_spec(st, "tiny-grid-s4").space, budget=3)
    assert 1 < counts["tiny-grid-s4"] == counts["tiny-grid-s5"] == math.prod(len(v) for v in grid.values()) <= 3
    # every arm runs the grid's size when the grid cannot fill n_trials: compared at the same budget
    assert counts["tiny-random-s4"] == counts["tiny-random-s5"] == counts["tiny-grid-s4"]
    for s in st.get_all_studies():
        assert s.user_attrs["comparison"] == "tiny"
        stored = load_study_spec(st, s.study_name)
        assert stored.split_seed == 11 and stored.study.seed in (4, 5)
    scored = [s for s in st.get_all_studies() if "test_score" in s.user_attrs]
    assert len(scored) == 4  # every repeat's best, not one best of all repeats
    for s in scored:
        a = s.user_attrs
        assert a["test_seeds"] == [0, 1] and len(a["test_scores"]) == 2 and a["test_metric"] == "accuracy"
        assert a["test_score"] == pytest.approx(sum(a["test_scores"]) / 2)
        best = max(
            (t for t in st.get_all_trials(s._study_id) if t.value is not None), key=lambda t: (t.value, -t.number)
        )
        assert a["test_trial"] == best.number
        assert a["n_val"] == 30 and a["n_test"] == 30  # iris: 150 rows, 20 % each
    html = out.read_text()
    assert "<h1>Comparison tiny</h1>" in html and "test_accuracy" in html

    # resumable: the same command adds no trial and retrains nothing
    assert main(argv) == 0
    assert _finished(url) == counts
    assert "retraining" not in capsys.readouterr().out


def test_a_rerun_compare_says_once_that_its_studies_are_complete(compared, capsys):
    *_, argv = compared
    assert main(argv) == 0  # the first run (or another test) completed it: nothing runs again
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    complete = [line for line in lines if "already complete" in line]
    assert complete[-1] == "4 studies already complete; nothing to do for them" or complete[-1].startswith(
        "4 studies already complete ("
    )
    assert len(complete) == 2  # one line per run, not one per arm study


def test_report_command_writes_study_and_comparison(compared, tmp_path, monkeypatch, capsys):
    d, spec, url, out, argv = compared
    if not out.exists():
        assert main(argv) == 0
    monkeypatch.chdir(tmp_path)
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda u: opened.append(u))
    assert main(["report", "tiny-random-s4", "--storage", url, "--open"]) == 0
    assert (tmp_path / "reports" / "tiny-random-s4.html").exists()
    assert opened == [(tmp_path / "reports" / "tiny-random-s4.html").as_uri()]
    assert "this is the report of the comparison" not in capsys.readouterr().out
    assert main(["report", "tiny", "--storage", url]) == 0
    assert "Comparison tiny" in (tmp_path / "reports" / "tiny-comparison.html").read_text()
    # no study is called "tiny" (as after `delete tiny`): the fallback to the comparison is named
    assert "no study is named 'tiny': this is the report of the comparison 'tiny'" in capsys.readouterr().out
    assert main(["report", "tiny-comparison", "--storage", url]) == 0
    assert "this is the report of the comparison" not in capsys.readouterr().out  # asked for by its name


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["report", "nope"], "no study named 'nope'"),
        (["compare", "SPEC", "--samplers", "grid,bayes"], "--samplers"),
        (["compare", "SPEC", "--seeds", "0"], "--seeds"),
        (["compare", "missing.toml"], "missing.toml"),
    ],
)
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


VERDICT_KEYS = [
    "comparison",
    "metric",
    "direction",
    "budget",
    "repeats",
    "arms",
    "pairs",
    "validation_pairs",
    "importance",
    "verdict",
    "sentences",
    "looks",
]


def test_compare_json_prints_only_the_verdict_and_report_json_repeats_it(compared, capsys):
    import json

    d, spec, url, out, argv = compared
    assert main(argv + ["--json"]) == 0
    captured = capsys.readouterr()
    verdict = json.loads(captured.out)  # stdout holds exactly one JSON object
    assert list(verdict) == VERDICT_KEYS
    assert "report written to" in captured.err
    assert (verdict["comparison"], verdict["metric"], verdict["direction"]) == ("tiny", "accuracy", "maximize")
    assert verdict["budget"] == verdict["arms"][0]["trials"] <= 3 and verdict["repeats"] == 2
    assert [a["sampler"] for a in verdict["arms"]] == ["grid", "random"]
    for arm in verdict["arms"]:
        assert list(arm) == ["sampler", "repeats", "trials", "best", "test", "seconds"]
        assert list(arm["test"]) == ["median", "q1", "q3", "per_repeat", "training_sd"]
        assert len(arm["test"]["per_repeat"]) == 2
    (pair,) = verdict["pairs"]
    assert list(pair) == ["a", "b", "on", "diff", "ci", "ci_level", "method", "p", "p_holm", "min_p", "better", "n"]
    assert (pair["a"], pair["b"], pair["method"]) == ("random", "grid", "brunner-munzel")  # grid pairs with nothing
    assert pair["on"] == "test"  # every repeat's pick retrained and scored on test
    assert pair["min_p"] >= 0.05 and pair["better"] is None  # 2 + 2 repeats cannot decide
    assert "no verdict is possible with 2 repeats" in verdict["verdict"] and "10 repeats" in verdict["verdict"]
    assert {r["param"] for r in verdict["importance"]} <= {"learning_rate", "width"}

    assert main(["report", "tiny", "--json", "--storage", url]) == 0
    assert json.loads(capsys.readouterr().out) == verdict  # read back from the database, nothing rerun


def test_report_json_of_a_plain_study_exits_2(compared, capsys):
    d, spec, url, out, argv = compared
    if not out.exists():
        assert main(argv) == 0
    capsys.readouterr()
    assert main(["report", "tiny-random-s4", "--json", "--storage", url]) == 2
    err = capsys.readouterr().err.strip()
    assert "'tiny-random-s4' is not a comparison" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize(("optimum", "heading"), [(None, "held-out (test)"), (0.9, "held-out (true mean)")])
def test_the_printed_verdict_names_a_tables_held_out_score_a_true_mean(optimum, heading):
    import io

    from rich.console import Console

    from hpsearch.cli._report_cmds import _print_verdict

    pair = {"a": "random", "b": "grid", "on": "test", "diff": 0.01, "ci": [0.0, 0.02], "method": "wilcoxon"}
    pair |= {"p": 0.01, "p_holm": 0.03, "min_p": 0.001, "better": "a"}
    verdict = {"comparison": "c", "metric": "accuracy", "repeats": 30, "budget": 72, "pairs": [pair], "verdict": "v"}
    if optimum is not None:
        verdict["optimum"] = optimum
    out = io.StringIO()
    _print_verdict(Console(file=out, width=200), verdict)
    assert (
        out.getvalue().splitlines()[0]
        == f"comparison c: {heading} accuracy per repeat, 30 repeats compared at 72 finished trials"
    )
