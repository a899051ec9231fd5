"""Report files: escaping, foreign studies, name resolution, size, plotly embedded once."""

from __future__ import annotations

import json
import math
import re

import optuna
import plotly.offline
import pytest

from hpsearch.comparison._verdict import load_verdict
from hpsearch.errors import StudyNotFound
from hpsearch.report import comparison_report_html, report_html, study_report_html, write_report

HOSTILE_SCRIPT = "</script><script>alert(1)</script>"
HOSTILE_IMG = '"><img src=x onerror=alert(1)>'
PLOTLY_HEAD = plotly.offline.get_plotlyjs()[:300]


def hostile_study(storage) -> str:
    name = f"evil{HOSTILE_SCRIPT}{HOSTILE_IMG}<!--"
    study = optuna.create_study(
        study_name=name, storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0)
    )
    study.set_user_attr("sampler", HOSTILE_IMG)
    study.set_user_attr("sampler_args", {HOSTILE_SCRIPT: HOSTILE_IMG})
    study.set_user_attr("test_score", HOSTILE_SCRIPT)

    def objective(trial):
        x = trial.suggest_float(HOSTILE_IMG, 0, 1)
        c = trial.suggest_categorical("choice", [HOSTILE_SCRIPT, "<b>bold</b>", "plain"])
        trial.set_user_attr("learning_curve", [x / 2, x])
        return x + (c == "plain")

    study.optimize(objective, n_trials=10)
    return name


def _assert_inert(html: str) -> None:
    for bad in ("<script>alert(1)", "<img src=x", "<b>bold</b>", "<!--"):
        assert bad not in html, bad
    # exactly our two script elements: plotly.js and the page script
    assert html.count("<script") == 2 and html.count("</script>") == 2


def test_hostile_names_params_and_attrs_cannot_inject_markup(storage):
    name = hostile_study(storage)
    html = study_report_html(storage, name)
    _assert_inert(html)
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in html  # shown, as text
    # the figure JSON still decodes to the original text (escaped only for the parser)
    payload = html.split("var figures = ", 1)[1].split(";\n", 1)[0]
    figs = json.loads(payload)
    assert any("img src=x" in json.dumps(f) for f in figs)


def test_hostile_comparison_name(storage, make_comparison):
    make_comparison(storage, name=HOSTILE_SCRIPT + HOSTILE_IMG, samplers=("random", "tpe"), seeds=(0,), n_trials=4)
    html = comparison_report_html(storage, HOSTILE_SCRIPT + HOSTILE_IMG)
    _assert_inert(html)


def test_hostile_parameter_names_and_choices_in_comparison_figures(storage):
    """Importance, score-vs-parameter and the contour's dropdown labels show such names as text."""

    def objective(trial):
        x = trial.suggest_float(HOSTILE_IMG, 0, 1)
        c = trial.suggest_categorical("choice", [HOSTILE_SCRIPT, "<b>bold</b>", "plain"])
        return x + (c == "plain")

    for sampler in ("random", "tpe"):
        for seed in (0, 1):
            s = optuna.create_study(
                study_name=f"h-{sampler}-{seed}",
                storage=storage,
                direction="maximize",
                sampler=optuna.samplers.RandomSampler(seed=seed),
            )
            for k, v in {"comparison": "h", "sampler": sampler, "seed": seed}.items():
                s.set_user_attr(k, v)
            s.optimize(objective, n_trials=8)
    html = comparison_report_html(storage, "h")
    _assert_inert(html)
    for fig in ("importance", "score-vs-param", "contour"):
        assert f'id="fig-{fig}"' in html, fig


def test_foreign_study_without_hpsearch_attrs(storage):
    study = optuna.create_study(study_name="foreign", storage=storage, direction="minimize")

    def objective(trial):
        x = trial.suggest_float("x", -3, 3)
        y = trial.suggest_int("y", 0, 4)
        if x > 2.5:
            raise ValueError("crash")  # a FAIL trial without the diverged attr
        return (x - 1) ** 2 + y

    study.optimize(objective, n_trials=25, catch=(ValueError,))
    kind, html = report_html(storage, "foreign")
    assert kind == "study"
    for fig in ("fig-history", "fig-parallel", "fig-slice", "fig-contour"):
        assert f'id="{fig}"' in html
    assert 'id="fig-states"' not in html  # no trial was pruned: no "pruned vs complete" panel
    assert "fig-curves" not in html  # no learning curves recorded: left out, not fatal
    # no spec stored: best --evaluate cannot retrain it, so the report does not suggest it
    assert "--evaluate" not in html and 'id="evaluate-hint"' not in html
    best = study.best_trial
    assert f"Trial #{best.number} reached" in html


def test_single_study_sections_and_table(make_comparison):
    storage = optuna.storages.InMemoryStorage()
    make_comparison(storage, samplers=("random",), seeds=(0,), n_trials=12)
    html = study_report_html(storage, "demo-random-s0")
    for fig in ("history", "importance", "contour", "parallel", "slice", "curves"):
        assert f'id="fig-{fig}"' in html, fig
    pruned = [t for t in _trials_of(storage, "demo-random-s0") if t.state == optuna.trial.TrialState.PRUNED]
    assert ('id="fig-states"' in html) == bool(pruned)  # "pruned vs complete" only where a trial was pruned
    rows = re.findall(r"<tr><td data-v=\"(\d+)\"", html)
    assert rows == [str(i) for i in range(12)]  # every trial in the sortable table
    assert "DIVERGED" in html or "diverged" not in html


def test_comparison_sections(demo_storage):
    kind, html = report_html(demo_storage, "demo")
    assert kind == "comparison"
    for fig in (
        "best-trials",
        "best-seconds",
        "best-epochs",
        "expected-max",
        "final",
        "importance",
        "score-vs-param",
        "contour",
        "cost",
    ):
        assert f'id="fig-{fig}"' in html, fig
    assert "random − grid" in html and "tpe − random" in html and "tpe − grid" in html
    assert html.index('id="verdict"') < html.index("<h2>Summary</h2>")  # the verdict comes first
    assert "Trials needed to match grid search" in html
    assert "<td>grid (its own median)</td><td>2</td>" in html and "of 2 reached</td>" in html
    assert "each TPE trial depends on the earlier ones" in html
    assert "grid: mean over 2 repeats of each repeat&#39;s exact expected best" in html
    for arm in ("grid", "random", "tpe"):  # importance per arm, never pooled
        assert f"fANOVA (whole space) in {arm}: median [IQR]" in html
    assert optuna.__version__ in html


def test_plotly_embedded_once_and_size_limit_3x2x6(demo_storage, tmp_path):
    path = write_report(demo_storage, "demo", tmp_path / "c.html")
    html = path.read_text()
    assert html.count(PLOTLY_HEAD) == 1
    assert path.stat().st_size <= 8 * 1024 * 1024
    # no resources from the network in our markup (plotly.js itself is inline)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html.replace(plotly.offline.get_plotlyjs(), ""))


def test_name_resolution_and_default_paths(sqlite_storage, tmp_path, monkeypatch, make_comparison, synthetic):
    storage = sqlite_storage
    make_comparison(storage, name="demo", samplers=("random",), seeds=(0,), n_trials=3)
    optuna.create_study(study_name="demo", storage=storage).optimize(synthetic, n_trials=2)
    monkeypatch.chdir(tmp_path)
    assert report_html(storage, "demo")[0] == "study"  # the study of that name wins
    assert report_html(storage, "demo-comparison")[0] == "comparison"
    assert write_report(storage, "demo").as_posix() == "reports/demo.html"
    assert write_report(storage, "demo-comparison").as_posix() == "reports/demo-comparison.html"
    with pytest.raises(StudyNotFound, match="did you mean"):
        report_html(storage, "dem")
    with pytest.raises(StudyNotFound):
        comparison_report_html(storage, "nothing")


def _quadratic_diverging_at_3(trial):
    x = trial.suggest_float("x", -1, 1)
    if trial.number == 3:
        trial.set_user_attr("diverged", True)  # how hpsearch marks a NaN loss
        return float("nan")
    return (x - 0.2) ** 2


def test_comparison_in_progress_minimize_unpaired(storage):
    """An arm with no trial yet, unequal seeds (unpaired test), a NaN trial: still a report."""
    for sampler, seeds, n in (("random", (0, 1, 2), 8), ("tpe", (0, 1), 8), ("grid", (5,), 0)):
        for sd in seeds:
            s = optuna.create_study(
                study_name=f"m-{sampler}-{sd}",
                storage=storage,
                direction="minimize",
                sampler=optuna.samplers.RandomSampler(sd),
            )
            for k, v in {"comparison": "m", "sampler": sampler, "seed": sd}.items():
                s.set_user_attr(k, v)
            s.optimize(_quadratic_diverging_at_3, n_trials=n)
    html = comparison_report_html(storage, "m", verdict=load_verdict(storage, "m"))  # as compare hands it
    assert "<td>unpaired Brunner-Munzel</td>" in html  # unequal seeds: unpaired
    assert "<td>paired Wilcoxon signed-rank</td>" not in html
    assert "tpe − random" in html
    assert "Random search vs grid search not tested: grid search has no repeat with a result yet" in html
    # one diverged trial per random repeat: counted at the worst value (the largest loss), not dropped
    worst = max(
        t.value
        for st in ("random", "tpe")
        for sd in range(3)
        for t in _trials_of(storage, f"m-{st}-{sd}")
        if t.value is not None
    )
    assert f"3 pruned or diverged trials count as the worst value, {worst:.4g}" in html
    assert re.search(r"<tr><td>random</td><td>3</td><td>21</td><td>0</td><td>3</td>", html)


def _trials_of(storage, name: str) -> list:
    try:
        return optuna.load_study(study_name=name, storage=storage).trials
    except KeyError:
        return []


def test_empty_failed_and_multi_objective_studies(storage):
    optuna.create_study(study_name="empty", storage=storage)
    failed = optuna.create_study(study_name="failed", storage=storage)

    def crash(trial):
        trial.suggest_float("x", 0, 1)
        raise RuntimeError("boom")

    failed.optimize(crash, n_trials=3, catch=(RuntimeError,))
    mo = optuna.create_study(study_name="mo", storage=storage, directions=["minimize", "maximize"])
    mo.optimize(lambda t: (t.suggest_float("x", 0, 1), t.suggest_float("y", 0, 1)), n_trials=5)
    assert "No complete trial yet." in study_report_html(storage, "empty")
    assert "No complete trial yet." in study_report_html(storage, "failed")
    mo_page = study_report_html(storage, "mo")
    # no single best (the same policy as the CLI and the server): the Pareto front instead
    assert "has no single best trial" in mo_page and 'id="pareto-section"' in mo_page
    assert "Best configuration" not in mo_page


def _six_params(trial) -> float:
    lr = trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True)
    width = trial.suggest_int("width", 16, 512, log=True)
    trial.suggest_int("depth", 1, 4)
    trial.suggest_float("dropout", 0.0, 0.5)
    opt = trial.suggest_categorical("optimizer", ["sgd", "momentum", "rmsprop", "adam"])
    trial.suggest_int("batch_size", 16, 256, log=True)
    trial.set_user_attr("train_seconds", 0.05 + width / 5000)
    return 0.97 - 0.04 * abs(math.log10(lr) + 2.5) - 0.02 * (opt == "sgd")


def test_full_size_comparison_stays_small_and_offers_the_contour_axes(tmp_path):
    """4 arms x 5 repeats x 40 trials over 6 hyperparameters: every figure, well under 8 MB."""
    storage = optuna.storages.InMemoryStorage()
    grid = {
        "learning_rate": [1e-3, 3e-2],
        "width": [32, 256],
        "depth": [1, 3],
        "dropout": [0.1, 0.4],
        "optimizer": ["sgd", "adam"],
        "batch_size": [32, 128],
    }
    for sampler in ("grid", "random", "qmc", "tpe"):  # studies only need the attrs: random draws stand in
        for seed in range(5):
            s = optuna.create_study(
                study_name=f"big-{sampler}-{seed}",
                storage=storage,
                direction="maximize",
                sampler=optuna.samplers.GridSampler(grid, seed=seed)
                if sampler == "grid"
                else optuna.samplers.RandomSampler(seed=seed),
            )
            for k, v in {"comparison": "big", "sampler": sampler, "seed": seed}.items():
                s.set_user_attr(k, v)
            s.optimize(_six_params, n_trials=40)
    path = write_report(storage, "big", tmp_path / "big.html")
    html = path.read_text()
    assert path.stat().st_size <= 8 * 1024 * 1024
    assert len(html) - len(plotly.offline.get_plotlyjs()) < 2_000_000  # the data itself stays small
    payload = json.loads(html.split("var figures = ", 1)[1].split(";\n", 1)[0])
    contour = next(f["fig"] for f in payload if f["id"] == "fig-contour")
    labels = [b["label"] for b in contour["layout"]["updatemenus"][0]["buttons"]]
    pairs = {frozenset(label.split(" × ")) for label in labels}
    assert len(labels) == len(pairs) == 15 and frozenset({"learning_rate", "optimizer"}) in pairs  # every pair
    assert "qmc: mean over 5 repeats" in html and "grid: mean over 5 repeats" in html


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ({"study": {"objective": "mlp"}}, "hpsearch best s --evaluate"),
        ({"study": {"objective": "table"}}, "hpsearch best s --evaluate"),
        ({"study": {"objective": "mod:fn"}}, "hpsearch best s --evaluate"),
        ({"study": {"objective": "command"}, "command": {"run": "x"}}, '[command] test = "..."'),
        ({"study": {"objective": "command"}, "command": {"run": "x", "test": "y"}}, "hpsearch best s --evaluate"),
        ({"study": {"objective": "external"}}, ""),
        (None, ""),
    ],
)
def test_the_report_suggests_best_evaluate_only_where_it_can_work(spec, hint):
    from hpsearch.records import SPEC_ATTR
    from hpsearch.report._study import evaluate_hint
    from hpsearch.results import StudyData

    study = StudyData(name="s", direction="maximize", attrs={} if spec is None else {SPEC_ATTR: spec}, trials=[])
    text = evaluate_hint(study)
    assert (hint in text) if hint else text == ""
