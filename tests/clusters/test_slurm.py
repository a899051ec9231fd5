"""The docs' sbatch array on a real single-node SLURM: one array task cancelled mid-trial, the study still ends exactly.

Needs SLURM's client tools and a running cluster (``SLURM_CONF``, as
``.ci/start-slurm.sh`` exports it). Skips with the reason when there is none,
and FAILS when ``CI`` is set: a CI that silently skips this proves nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

pytestmark = pytest.mark.slurm

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy" / "slurm" / "hpsearch-array.sbatch"
N_TRIALS = 6

# Each trial records which array task ran it. Slot 0's first attempt waits to be cancelled,
# so the scancel surely lands mid-trial; every other attempt takes a moment and succeeds.
PROGRAM = """
import os, sys, time
slot, attempt = os.environ["HPSEARCH_SLOT"], os.environ["HPSEARCH_ATTEMPT"]
with open(f"started-{slot}-{attempt}", "w") as f:
    f.write(os.environ.get("SLURM_ARRAY_TASK_ID", "?") + " " + os.environ.get("SLURM_JOB_ID", "?"))
if slot == "0" and attempt == "1":
    time.sleep(3600)
time.sleep(0.5)
print(float(sys.argv[1]))
"""


def _slurm_or_skip() -> None:
    reason = None
    if shutil.which("sbatch") is None:
        reason = "SLURM's sbatch is not installed (Debian: slurm-wlm; .ci/system-deps.sh installs it)"
    elif not os.environ.get("SLURM_CONF"):
        reason = "no SLURM cluster: SLURM_CONF is not set (.ci/start-slurm.sh starts one and sets it)"
    else:
        up = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=60)
        if up.returncode != 0 or not up.stdout.strip():
            reason = f"the SLURM cluster does not answer: {(up.stderr or up.stdout).strip()[:300]}"
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but SLURM is unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def _squeue(job: str) -> list[str]:
    done = subprocess.run(["squeue", "-h", "-j", job, "-o", "%i %T"], capture_output=True, text=True, timeout=60)
    return [line for line in done.stdout.splitlines() if line.strip()]


def test_the_docs_sbatch_array_survives_a_cancelled_task(cli):
    _slurm_or_skip()
    cli.program(PROGRAM)
    spec = cli.spec(n_trials=N_TRIALS)
    env = cli.env(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    env.pop("PYTHONPATH", None)
    # The docs' script as it is; only what this one small machine lacks is overridden on the command line.
    submitted = subprocess.run(
        ["sbatch", "--parsable", "--array=0-1", "--cpus-per-task=1", f"--output={cli.folder}/slurm-%A_%a.out",
         f"--chdir={cli.folder}", str(SCRIPT), str(spec)],
        cwd=cli.folder, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert submitted.returncode == 0, submitted.stderr
    job = submitted.stdout.strip().split(";")[0]
    try:
        first = cli.folder / "started-0-1"
        cli.wait_until(lambda: first.exists() and first.read_text().strip(), "slot 0's first attempt", 300)
        task = first.read_text().split()[0]
        cancelled = subprocess.run(["scancel", f"{job}_{task}"], capture_output=True, text=True, timeout=60)
        assert cancelled.returncode == 0, cancelled.stderr
        end = time.monotonic() + 600
        while _squeue(job) and time.monotonic() < end:
            time.sleep(0.5)
        assert not _squeue(job), "the array did not finish in 10 minutes"
    finally:
        subprocess.run(["scancel", job], capture_output=True, timeout=60)
    logs = "\n".join(p.read_text(errors="replace") for p in sorted(cli.folder.glob("slurm-*.out")))
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == N_TRIALS, logs  # exactly N: the cancelled slot ran again, nothing twice
    assert sorted(t.system_attrs["hpsearch_slot"] for t in complete) == list(range(N_TRIALS))
    interrupted = [t for t in study.trials if t.state == TrialState.FAIL]
    assert [t.system_attrs["hpsearch_slot"] for t in interrupted] == [0], logs
    assert "interrupted" in interrupted[0].system_attrs["fail_reason"]
    assert (cli.folder / "started-0-2").exists()  # slot 0's second attempt, by the task still running
    other = (cli.folder / "started-0-2").read_text().split()[0]
    assert other != task
