"""Listings, summaries and the study page never load a study's trials (issue 17).

Each test makes every way of loading all trials raise, then checks that the
answers equal what the trials say (hpsearch.search._outcomes), that the trial
table is paged and sorted in SQL, and that the dashboard's cache of finished
trials picks up new and finished trials.
"""

from __future__ import annotations

import json
import math
import re

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.search import best_trial, is_finished, state_counts
from hpsearch.server._dashboard import PAGE_SIZE
from hpsearch.server._summary import counts_by_state, trial_dict
from hpsearch.storage import open_storage


def _refuse(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("a listing or summary loaded every trial")

    monkeypatch.setattr(optuna.storages.RDBStorage, "get_all_trials", refuse)
    monkeypatch.setattr(optuna.storages.RDBStorage, "get_all_studies_summaries", refuse, raising=False)


@pytest.fixture
def big(storage_url):
    """A plain Optuna study of 250 trials (1 in 7 pruned, a few diverged / crashed / errors), and one running."""
    storage = open_storage(storage_url, heartbeat=False)
    study = optuna.create_study(study_name="big", storage=storage, direction="minimize")
    dists = {"x": optuna.distributions.FloatDistribution(0, 1), "k": optuna.distributions.IntDistribution(1, 9)}
    trials = []
    for i in range(250):
        x, k = (i * 37 % 101) / 100, 1 + i % 9
        state, value, attrs = TrialState.COMPLETE, (x - 0.3) ** 2 + k / 100, {}
        if i % 7 == 6:
            state, value = TrialState.PRUNED, None
        elif i % 50 == 13:
            state, value, attrs = TrialState.FAIL, None, {"diverged": True}
        elif i % 50 == 27:
            state, value, attrs = TrialState.FAIL, None, {"error": "boom"}
        elif i % 50 == 41:
            state, value = TrialState.FAIL, None
        trials.append(
            optuna.trial.create_trial(
                state=state,
                value=value,
                params={"x": x, "k": k},
                distributions=dists,
                user_attrs=attrs,
                intermediate_values={s: 1.0 / (s + 1) for s in range(3)},
            )
        )
    study.add_trials(trials)
    study.ask()
    study.set_user_attr("sampler", "tpe")
    yield study
    storage.engine.dispose()


def test_api_listing_and_summary_equal_the_trials_without_loading_them(client, big, monkeypatch):
    trials = big.get_trials(deepcopy=False)
    best = best_trial(trials, big.direction)
    _refuse(monkeypatch)
    (listed,) = client.get("/api/studies").json()
    summary = client.get("/api/studies/big").json()
    assert listed["states"] == summary["states"] == counts_by_state(trials)
    assert summary["states"]["crashed"] == state_counts(trials)["crashed"]
    assert summary["n_trials"] == len(trials) == 251
    assert summary["finished"] == sum(map(is_finished, trials)) == 251 - 1 - 4
    assert summary["best_value"] == best.value and summary["best_trial"] == trial_dict(best)
    assert summary["sampler"] == "tpe" and summary["last_change"] is not None


def test_dashboard_index_and_study_page_load_no_trials(client, big, monkeypatch):
    _refuse(monkeypatch)
    assert client.get("/").status_code == 200
    r = client.get("/studies/big")
    assert r.status_code == 200, r.text
    assert client.get("/poll?study=big").status_code == 200


def _rows(html: str) -> list[int]:
    body = html.split('<table id="trials">', 1)[1]
    return [int(n) for n in re.findall(r'<tr><td class="num">(\d+)</td>', body)]


def test_trial_table_is_paged_and_sorted(client, big, monkeypatch):
    trials = big.get_trials(deepcopy=False)
    _refuse(monkeypatch)
    html = client.get("/studies/big").text
    numbers = sorted(t.number for t in trials)
    assert _rows(html) == numbers[::-1][:PAGE_SIZE]
    assert "page 1 of 3" in html and 'id="next-page" href="?page=2&amp;sort=number&amp;order=desc"' in html
    assert _rows(client.get("/studies/big?page=3").text) == numbers[::-1][2 * PAGE_SIZE :]
    assert _rows(client.get("/studies/big?page=99").text) == numbers[::-1][2 * PAGE_SIZE :]  # clamped
    by_value = sorted((t for t in trials if t.value is not None), key=lambda t: (t.value, t.number))
    html = client.get("/studies/big?sort=value&order=asc").text
    assert _rows(html) == [t.number for t in by_value][:PAGE_SIZE]
    top = by_value[0]
    row = re.search(rf'<tr><td class="num">{top.number}</td>.*?</tr>', html, re.S).group(0)
    assert f"<td>{top.params['k']}</td>" in row and f"<td>{top.params['x']:.4g}</td>" in row
    assert client.get("/studies/big?sort=bogus").status_code == 400
    assert client.get("/studies/big?order=up").status_code == 400
    assert client.get("/studies/big?page=0").status_code == 422


def test_history_cache_sees_new_and_finished_trials(client, big, monkeypatch):
    _refuse(monkeypatch)

    def history():
        html = client.get("/studies/big").text
        fig = re.search(r'<script type="application/json" id="history-data">(.*?)</script>', html, re.S).group(1)
        return json.loads(fig)["data"][0]["x"]

    first = history()
    monkeypatch.undo()
    (open_trial,) = big.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    big.tell(open_trial.number, 0.0)  # the running trial finishes: the best
    big.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=0.5))
    _refuse(monkeypatch)
    second = history()
    assert second == sorted(first + [open_trial.number, 251])
    summary = client.get("/api/studies/big").json()
    assert summary["best_value"] == 0.0 and not math.isnan(summary["best_value"])


def test_full_report_is_rendered_again_only_when_the_database_changed(client, big, monkeypatch):
    import hpsearch.report as report

    calls = []
    real = report.study_report_html

    def counting(storage, name):
        calls.append(name)
        return real(storage, name)

    monkeypatch.setattr(report, "study_report_html", counting)
    first = client.get("/reports/studies/big")
    assert first.status_code == 200 and calls == ["big"]
    second = client.get("/reports/studies/big")
    assert second.status_code == 200 and calls == ["big"]  # from the cache, with a fresh CSP nonce
    assert re.findall(r'nonce="([^"]+)"', first.text) != re.findall(r'nonce="([^"]+)"', second.text)
    big.add_trial(optuna.trial.create_trial(state=TrialState.COMPLETE, value=0.25))
    assert client.get("/reports/studies/big").status_code == 200 and calls == ["big", "big"]
    big.set_user_attr("test_score", 0.5)  # study attrs count too (best --evaluate writes one)
    assert client.get("/reports/studies/big").status_code == 200 and calls == ["big", "big", "big"]


def test_cli_studies_lists_without_loading_trials(big, storage_url, monkeypatch):
    """`hpsearch studies` (in-process) prints counts and the best value from SQL alone."""
    from click.testing import CliRunner

    from hpsearch.cli import cli

    trials = big.get_trials(deepcopy=False)
    best = best_trial(trials, big.direction)
    _refuse(monkeypatch)
    monkeypatch.setenv("COLUMNS", "200")  # one line per row (rich reads the width from COLUMNS)
    result = CliRunner().invoke(cli, ["studies", "--storage", storage_url])
    assert result.exit_code == 0, result.output
    counts = ", ".join(f"{k} {v}" for k, v in sorted(state_counts(trials).items()))
    assert counts in result.output and "big" in result.output
    assert f"{best.value:.6g}"[:5] in result.output
