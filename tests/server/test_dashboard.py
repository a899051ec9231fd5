"""Dashboard pages: content, escaping of hostile names and values, live polling, offline plotly."""

from __future__ import annotations

import re
import statistics

import optuna
import pytest

from tests.server.conftest import grid_spec

HOSTILE = '<img src=x onerror="alert(1)">'
HOSTILE_CHOICE = "<b>bold</b>"


def _study_with_trials(client, name: str, values: list[float], **study: object) -> list[int]:
    spec = grid_spec(name, **study)
    spec["space"]["c"]["choices"] = ["a", HOSTILE_CHOICE, "c"]
    assert client.post("/api/studies", json=spec).status_code == 201
    numbers = []
    for v in values:
        t = client.post(f"/api/studies/{name}/ask").json()["trial"]
        assert client.post(f"/api/studies/{name}/tell", json={"trial": t, "value": v}).status_code == 200
        numbers.append(t)
    return numbers


def test_index_lists_studies_with_counts_and_best(client):
    _study_with_trials(client, "alpha", [0.5, 0.75])
    _study_with_trials(client, "beta", [0.25])
    client.post("/api/studies/beta/ask")  # one running trial
    html = client.get("/").text
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr>\s*<td><a href="/studies/(\w+)">.*?</tr>', html, re.S)}
    assert set(rows) == {"alpha", "beta"}
    cells = lambda row: re.findall(r'<td class="num">([^<]*)</td>', row)  # noqa: E731
    # complete, pruned, fail, running, finished / budget, best value
    assert cells(rows["alpha"]) == ["2", "0", "0", "0", "2 / 12", "0.75"]
    assert cells(rows["beta"]) == ["1", "0", "0", "1", "1 / 12", "0.25"]


def test_hostile_names_and_params_are_escaped(client):
    # every point of the 12-point grid, so the hostile choice is among the trials whatever the grid's order
    _study_with_trials(client, HOSTILE, [0.5, 0.9, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.15, 0.25, 0.35])
    index = client.get("/").text
    assert HOSTILE not in index
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in index
    href = re.search(r'<a href="(/studies/[^"]+)">&lt;img', index).group(1)
    page = client.get(href)
    assert page.status_code == 200
    assert HOSTILE not in page.text and HOSTILE_CHOICE not in page.text
    assert "&lt;b&gt;bold&lt;/b&gt;" in page.text  # the categorical value, escaped in the trial table
    # The figure JSON sits in a <script> block: "<" must be escaped there too.
    data = re.search(r'<script type="application/json" id="history-data">(.*?)</script>', page.text, re.S).group(1)
    assert "<" not in data


def test_study_page_shows_best_trial_and_all_trials(client):
    numbers = _study_with_trials(client, "s", [0.3, 0.8, 0.6])
    html = client.get("/studies/s").text
    assert re.search(r'Best trial: #(\d+), value <span id="best-value">0.8</span>', html).group(1) == str(numbers[1])
    table = html[html.index('<table id="trials">') :]
    assert sorted(int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', table)) == sorted(numbers)
    assert '<script src="/static/plotly.min.js"></script>' in html
    assert "cdn" not in html.lower() and "https://" not in html


def test_unknown_and_invalid_study_pages(client):
    r = client.get("/studies/nope")
    assert r.status_code == 404 and "nope" in r.text and r.headers["content-type"].startswith("text/html")
    r = client.get("/studies/a%2F%2E%2E%2Fb")
    assert r.status_code == 400


def test_poll_version_changes_when_a_trial_starts_or_ends(client):
    _study_with_trials(client, "s", [0.5])
    _study_with_trials(client, "other", [])
    v0 = client.get("/poll?study=s").json()["version"]
    assert client.get("/poll?study=s").json()["version"] == v0
    t = client.post("/api/studies/other/ask").json()["trial"]
    assert client.get("/poll?study=s").json()["version"] == v0  # another study's trial: no reload
    t = client.post("/api/studies/s/ask").json()["trial"]
    v1 = client.get("/poll?study=s").json()["version"]
    assert v1 != v0
    client.post("/api/studies/s/tell", json={"trial": t, "value": 0.1})
    assert client.get("/poll?study=s").json()["version"] not in (v0, v1)
    everything = client.get("/poll").json()["version"]
    _study_with_trials(client, "new", [])  # the study list page must notice a new, empty study
    assert client.get("/poll").json()["version"] != everything


def test_comparison_page_groups_studies_by_user_attr(client, storage_url):
    values = {
        "cmp-grid-seed0": [0.2, 0.4],
        "cmp-grid-seed1": [0.3, 0.5],
        "cmp-random-seed0": [0.9, 0.1],
        "cmp-random-seed1": [0.6],
        "cmp-random-seed2": [0.7, 0.8],
        "loner": [1.0],
    }
    for name, vals in values.items():
        sampler = "grid" if "grid" in name else "random"
        _study_with_trials(client, name, vals, sampler=sampler)
        if name != "loner":
            optuna.load_study(study_name=name, storage=storage_url).set_user_attr("comparison", "cmp")
    index = client.get("/").text
    assert '<a href="/comparisons/cmp">cmp</a> <span class="muted">(5 studies)</span>' in index
    # the arm studies are grouped under their comparison (folded), not in the list of studies
    main_table = index[index.index('<table id="studies">') : index.index("</table>")]
    assert "loner" in main_table and "cmp-" not in main_table
    arms = index[index.index('<details class="arms">') :]
    assert sorted(re.findall(r'<a href="/studies/(cmp-[\w-]+)">', arms)) == sorted(n for n in values if n != "loner")
    html = client.get("/comparisons/cmp").text
    assert "loner" not in html
    rows = re.findall(r'<tr><td>(\w+)</td><td class="num">(\d+)</td><td class="num">([^<]*)</td>', html)
    expected_random = statistics.median([0.9, 0.6, 0.8])
    assert rows == [("grid", "2", f"{statistics.median([0.4, 0.5]):.4g}"), ("random", "3", f"{expected_random:.4g}")]
    assert client.get("/comparisons/none-such").status_code == 404


def test_pages_read_only_the_trials_they_show_and_each_once(client, storage_url, monkeypatch):
    for name in ("a", "b", "other"):
        _study_with_trials(client, name, [0.5])
        if name != "other":
            optuna.load_study(study_name=name, storage=storage_url).set_user_attr("comparison", "g")
    reads: list[int] = []
    real = optuna.storages.RDBStorage.get_all_trials

    def counting(self, study_id, *args, **kwargs):
        reads.append(study_id)
        return real(self, study_id, *args, **kwargs)

    monkeypatch.setattr(optuna.storages.RDBStorage, "get_all_trials", counting)
    assert client.get("/studies/a").status_code == 200
    assert reads == []  # aggregate SQL and narrow rows (issue 17), no study's trials loaded
    assert client.get("/comparisons/g").status_code == 200
    assert reads == []


def test_plotly_is_served_locally(client):
    r = client.get("/static/plotly.min.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/javascript")
    assert len(r.content) > 1_000_000 and b"plotly" in r.content[:2000].lower()


def test_full_report_pages_come_from_hpsearch_report(client):
    pytest.importorskip("hpsearch.report", reason="hpsearch.report not built yet")
    _study_with_trials(client, "full", [0.5, 0.7, 0.6])
    page = client.get("/studies/full").text
    assert '<a href="/reports/studies/full">Full report</a>' in page
    r = client.get("/reports/studies/full")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "full" in r.text and "<html" in r.text.lower()
    assert client.get("/reports/studies/missing").status_code == 404
    assert client.get("/reports/comparisons/missing").status_code == 404
