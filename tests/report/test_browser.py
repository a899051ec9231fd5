"""Reports in a real headless Chromium: drawn, offline, no console errors, inert names."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from hpsearch.report import write_report

HOSTILE = '</script><script>alert(1)</script>"><img src=x onerror=alert(1)>'

pytestmark = pytest.mark.browser


def _open(browser, path: Path):
    """Load a report; return (page, console errors, requested URLs, dialogs)."""
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    dialogs: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(path.resolve().as_uri())
    page.wait_for_function(
        "document.querySelectorAll('div.plot').length > 0 && "
        "Array.from(document.querySelectorAll('div.plot')).every(d => d.querySelector('.main-svg'))",
        timeout=30_000,
    )
    return page, errors, requests, dialogs


def _check_drawn(page, path, errors, requests, dialogs, n_min: int) -> None:
    plots = page.locator("div.plot")
    assert plots.count() >= n_min
    for i in range(plots.count()):
        div = plots.nth(i)
        assert div.locator(".main-svg").count() >= 1, div.get_attribute("id")
        # something was drawn: traces, bars, boxes, contours or parcoords lines
        assert div.locator("g.trace, g.plot path, canvas").count() >= 1, div.get_attribute("id")
    assert errors == []
    assert requests == [path.resolve().as_uri()]
    assert dialogs == []
    assert page.evaluate("document.querySelectorAll('img').length") == 0


def test_comparison_report_draws_offline(browser, demo_storage, tmp_path):
    path = write_report(demo_storage, "demo", tmp_path / "demo-comparison.html")
    page, errors, requests, dialogs = _open(browser, path)
    _check_drawn(page, path, errors, requests, dialogs, n_min=9)
    # the reader picks the contour's axes from its dropdown, offline
    contour = page.locator("#fig-contour")
    title = "document.getElementById('fig-contour').layout.%s.title.text"
    before = (page.evaluate(title % "xaxis"), page.evaluate(title % "yaxis"))
    contour.locator(".updatemenu-header-group").click()
    contour.locator(".updatemenu-item-text").nth(2).click()
    page.wait_for_function(f"({title % 'xaxis'}) + '|' + ({title % 'yaxis'}) !== {before[0] + '|' + before[1]!r}")
    shown = page.evaluate("document.getElementById('fig-contour').data.filter(t => t.visible === true).length")
    assert shown >= 2  # that pair's contour and trials
    assert errors == [] and requests == [path.resolve().as_uri()]
    page.screenshot(path=str(tmp_path / "comparison.png"), full_page=True)
    page.close()


def test_study_report_with_hostile_names_draws_and_sorts(browser, tmp_path, make_comparison):
    storage = optuna.storages.InMemoryStorage()
    make_comparison(storage, name=HOSTILE, samplers=("random",), seeds=(0,), n_trials=12)
    name = next(s.study_name for s in storage.get_all_studies())
    storage.set_study_user_attr(storage.get_study_id_from_name(name), "test_score", HOSTILE)
    path = write_report(storage, name, tmp_path / "study.html")
    page, errors, requests, dialogs = _open(browser, path)
    _check_drawn(page, path, errors, requests, dialogs, n_min=6)  # no pruned-vs-complete panel: nothing was pruned
    assert HOSTILE in page.locator("h1").inner_text()  # shown as text, not run
    # the trial table sorts by value with plain JS: descending after two clicks
    header = page.locator("#trials th", has_text="value")
    header.click()
    header.click()
    cells = page.locator("#trials tbody tr td:nth-child(3)").all_inner_texts()
    values = [float(c) for c in cells if c not in ("–", "")]
    assert len(values) >= 5 and values == sorted(values, reverse=True)
    page.close()


def test_multi_objective_report_draws_the_pareto_section(browser, tmp_path, make_multi_objective):
    storage = optuna.storages.InMemoryStorage()
    make_multi_objective(storage, n_trials=80)
    path = write_report(storage, "tradeoff", tmp_path / "tradeoff.html")
    assert path.stat().st_size <= 8 * 2**20
    page, errors, requests, dialogs = _open(browser, path)
    _check_drawn(page, path, errors, requests, dialogs, n_min=3)
    for key in ("pareto", "hypervolume", "parallel"):
        assert page.locator(f"#fig-{key} .main-svg").count() >= 1
    xtitle = page.evaluate("document.getElementById('fig-pareto').layout.xaxis.title.text")
    assert xtitle.startswith("accuracy")
    # the front's markers are drawn: one point per front trial in the first trace
    n_front = page.locator("#fig-pareto g.trace").first.locator("path.point").count()
    assert n_front == page.locator("#front tbody tr").count() > 0
    page.locator("#pareto-section").scroll_into_view_if_needed()
    page.locator("#fig-pareto").screenshot(path=str(tmp_path / "pareto.png"))
    page.close()


def test_multi_objective_comparison_report_draws(browser, tmp_path, make_multi_objective_comparison):
    from hpsearch.comparison import comparison_verdict
    from hpsearch.results import arm_studies

    storage = optuna.storages.InMemoryStorage()
    make_multi_objective_comparison(storage, n_trials=15)
    verdict = comparison_verdict("mo", arm_studies(storage, "mo"))
    path = write_report(storage, "mo", tmp_path / "mo-comparison.html", verdict=verdict)
    assert path.stat().st_size <= 8 * 2**20
    page, errors, requests, dialogs = _open(browser, path)
    _check_drawn(page, path, errors, requests, dialogs, n_min=3)
    for key in ("hypervolume-trials", "final", "fronts"):
        assert page.locator(f"#fig-{key} .main-svg").count() >= 1
    page.locator("#pareto-section").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "mo-comparison.png"), full_page=True)
    page.close()
