"""Preemption: SIGTERM to a worker stops its program, frees the slot at once; the re-run resumes the checkpoint."""

from __future__ import annotations

import json
import signal

import optuna
import pytest
from optuna.trial import TrialState

# Trains 10 steps, writing a checkpoint (the last finished step) after each one into
# HPSEARCH_TRIAL_DIR. Its first attempt stops after step 3 and waits there to be preempted,
# so the kill surely lands mid-trial, after a checkpoint. Each attempt records where it began.
CHECKPOINTING = """
    import json, os, sys, time
    folder = os.environ["HPSEARCH_TRIAL_DIR"]
    ckpt = os.path.join(folder, "ckpt.json")
    start = json.load(open(ckpt))["step"] + 1 if os.path.exists(ckpt) else 0
    attempt = int(os.environ["HPSEARCH_ATTEMPT"])
    with open(os.path.join(folder, "began.jsonl"), "a") as f:
        f.write(json.dumps({"attempt": attempt, "step": start, "trial": os.environ["HPSEARCH_TRIAL_NUMBER"],
                            "pid": os.getpid()}) + "\\n")
    for step in range(start, 10):
        with open(ckpt + ".tmp", "w") as f:
            json.dump({"step": step}, f)
        os.replace(ckpt + ".tmp", ckpt)
        print(json.dumps({"step": step, "value": step / 10}))
        if attempt == 1 and step == 3:
            time.sleep(3600)  # preempted here
    print(float(sys.argv[1]))
"""


def began(folder):
    return [json.loads(line) for line in (folder / "began.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("jobs", ["1", "2"], ids=["in-process", "worker-processes"])
def test_sigterm_frees_the_slot_and_the_rerun_resumes_from_the_checkpoint(cli, jobs):
    cli.program(CHECKPOINTING)
    n = int(jobs)
    spec = cli.spec(n_trials=n)
    runner = cli.start("run", str(spec), "--jobs", jobs, "-q")
    slots = [cli.folder / ".hpsearch-trials" / "cmd" / str(k) for k in range(n)]

    def at_step_3() -> bool:
        for folder in slots:
            try:
                if json.loads((folder / "ckpt.json").read_text())["step"] != 3:
                    return False
            except (OSError, ValueError):
                return False
        return True

    cli.wait_until(at_step_3, "every trial's checkpoint of step 3")
    runner.send_signal(signal.SIGTERM)  # what SLURM and Kubernetes send first
    assert runner.wait(timeout=240) == 143, (cli.folder / "run.log").read_text()
    assert "terminated (SIGTERM)" in (cli.folder / "run.log").read_text()
    for folder in slots:
        assert cli.process_gone(began(folder)[0]["pid"])
    # marked interrupted by the worker itself, before any heartbeat expired or any re-run looked
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    assert [(t.state, t.system_attrs.get("fail_reason")) for t in study.trials] == [
        (TrialState.FAIL, "interrupted (SIGTERM)")
    ] * n
    assert all("error" not in t.user_attrs for t in study.trials)  # a crash, not a result

    done = cli.run("run", str(spec), "--jobs", jobs, "-q")
    assert done.returncode == 0, done.stderr
    for folder in slots:
        first, second = began(folder)
        assert (first["attempt"], first["step"]) == (1, 0)
        assert (second["attempt"], second["step"]) == (2, 4)  # resumed after the step-3 checkpoint
        assert second["trial"] != first["trial"]  # a new trial number, the same slot folder
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == n  # exactly once per slot
    assert sorted(t.user_attrs["attempt"] for t in complete) == [2] * n
    assert all(sorted(t.intermediate_values) == list(range(4, 10)) for t in complete)


def test_a_program_stopped_from_outside_is_a_crash_and_its_slot_runs_again(cli):
    """A scheduler may SIGTERM the program itself (every process of the job): not the configuration's fault."""
    cli.program("""
        import os, signal, sys
        if os.environ["HPSEARCH_ATTEMPT"] == "1":
            os.kill(os.getpid(), signal.SIGTERM)
        print(float(sys.argv[1]))
    """)
    done = cli.run("run", str(cli.spec(n_trials=1)), "-q")
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    states = [(t.state, t.user_attrs.get("attempt")) for t in study.trials]
    assert states == [(TrialState.FAIL, 1), (TrialState.COMPLETE, 2)]
    assert "SIGTERM" in study.trials[0].system_attrs["fail_reason"]
    assert "error" not in study.trials[0].user_attrs
