"""docs/service.md's examples (copied into the README) run as written against a real server."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "service.md"
DOC_BASE = "http://127.0.0.1:8000"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def test_python_loop_runs_a_whole_study(live_server):
    (code,) = _blocks("python")
    assert len(code.strip().splitlines()) <= 20  # "a training loop in about 15 lines"
    exec(compile(code.replace(DOC_BASE, live_server.url), str(DOC), "exec"), {})
    summary = httpx.get(f"{live_server.url}/api/studies/quad").json()
    assert summary["states"]["complete"] == 20 and summary["states"]["running"] == 0
    best = summary["best_trial"]
    assert best["value"] == pytest.approx((best["params"]["x"] - 2.0) ** 2)  # what the client told, for its params


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_examples_answer_as_documented(live_server):
    script = "\n".join(b for b in _blocks("sh") if "curl" in b)
    lines = [line for line in script.splitlines() if not line.startswith("#")]
    run = "set -e\n" + "\n".join(lines).replace(DOC_BASE, live_server.url)
    out = subprocess.run(["bash", "-c", run.replace("curl -s", "curl -s -w '\\n'")], capture_output=True,
                         text=True, timeout=60, check=True).stdout.split("\n")
    answers = [json.loads(line) for line in out if line.strip()]
    assert answers[0] == {"name": "quad"}
    assert answers[1]["trial"] == 0 and set(answers[1]["params"]) == {"x"}
    assert answers[2] == {"trial": 0, "state": "complete"}
    assert answers[3]["best_value"] == 20.16 and answers[3]["budget"] == 20
    assert answers[4]["trial"] == 1
    assert answers[5] == {"prune": False}
    assert answers[6] == {"trial": 1, "state": "pruned"}
