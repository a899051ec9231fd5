"""The single-study report offers every trial as the CSV of ``hpsearch export``, embedded (works offline)."""

from __future__ import annotations

import csv
import io
import re
from html import unescape
from urllib.parse import unquote

import optuna

from hpsearch.export import to_csv, trial_rows
from hpsearch.report import study_report_html

HOSTILE = '<script>alert("x")</script>, "quoted"\nnext line'


def _link(html: str) -> tuple[str, str]:
    m = re.search(r'<a id="trials-csv" download="([^"]*)" href="([^"]*)">', html)
    assert m, "no download link"
    return unescape(m.group(1)), unescape(m.group(2))


def test_study_report_embeds_the_export_csv(storage, synthetic):
    study = optuna.create_study(
        study_name="runs/lr sweep", storage=storage, direction="maximize", sampler=optuna.samplers.RandomSampler(0)
    )
    study.optimize(synthetic, n_trials=5)
    study.optimize(lambda t: t.suggest_categorical("comment", [HOSTILE]) and 0.5, n_trials=1)
    html = study_report_html(storage, "runs/lr sweep")
    name, href = _link(html)
    assert name == "runs-lr-sweep.csv"
    head, body = href.split(",", 1)
    assert head == "data:text/csv;charset=utf-8"
    assert unquote(body) == to_csv(*trial_rows(storage, "runs/lr sweep"))
    rows = list(csv.DictReader(io.StringIO(unquote(body))))
    assert rows[-1]["comment"] == HOSTILE and "<script>alert" not in html  # percent-encoded: no markup
    assert unquote(body).splitlines()[0] == "number,state,value,seconds,learning_rate,width,optimizer,comment,error"
