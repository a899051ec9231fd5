"""--gpus: one worker process per device slot, each trial sees only its slot, no device shared at once."""

from __future__ import annotations

import json
import os
import stat
from collections import defaultdict

import optuna
import pytest

from hpsearch.errors import UserError
from hpsearch.search._devices import device_slots, jobs_for, parse_gpus, worker_environment

# Records its environment, then "start" and "end" events in one shared file, appended with O_APPEND
# (each line in one write: lines of programs running at once never interleave). Between the two it
# waits until every worker has started a trial (or the study has no more), so trials surely overlap.
RECORDER = """
    import json, os, sys, time
    env = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "HPSEARCH_DEVICES", "HPSEARCH_WORKER",
                                          "HPSEARCH_TRIAL_NUMBER", "HPSEARCH_ATTEMPT", "HPSEARCH_SLOT")}
    def event(kind):
        fd = os.open("events.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, (json.dumps({"kind": kind, **env}) + "\\n").encode())
        os.close(fd)
    event("start")
    want = int(os.environ["HP_OVERLAP"])
    end = time.monotonic() + 300  # a bound for a broken run only: the loop ends when all started
    while time.monotonic() < end:
        with open("events.jsonl") as f:
            if sum('"start"' in line for line in f) >= want:
                break
        time.sleep(0.02)
    time.sleep(0.05)
    event("end")
    print(float(sys.argv[1]))
"""


def events(folder):
    return [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]


def test_four_jobs_on_four_gpus_each_trial_on_its_own_device(cli):
    cli.program(RECORDER)
    spec = cli.spec(n_trials=8)
    done = cli.run("run", str(spec), "--jobs", "4", "--gpus", "0,1,2,3", "-q", env=cli.env(HP_OVERLAP="4"))
    assert done.returncode == 0, done.stderr
    seen = events(cli.folder)
    starts = [e for e in seen if e["kind"] == "start"]
    assert len(starts) == 8 and len({e["HPSEARCH_TRIAL_NUMBER"] for e in starts}) == 8
    for e in starts:
        # worker w owns device w for its whole life: the right device, given both ways
        assert e["CUDA_VISIBLE_DEVICES"] == e["HPSEARCH_DEVICES"] == e["HPSEARCH_WORKER"]
        assert e["HPSEARCH_WORKER"] in {"0", "1", "2", "3"}
        assert e["HPSEARCH_ATTEMPT"] == "1"
    # the four workers all ran trials: four trials did run at once
    assert {e["HPSEARCH_WORKER"] for e in starts} == {"0", "1", "2", "3"}
    # replay the events in the order they were written: a device is never held by two trials at once
    holding: dict[str, set[str]] = defaultdict(set)
    most = 0
    for e in seen:
        device, trial = e["CUDA_VISIBLE_DEVICES"], e["HPSEARCH_TRIAL_NUMBER"]
        if e["kind"] == "start":
            assert not holding[device], f"device {device} given to trial {trial} while {holding[device]} ran on it"
            holding[device].add(trial)
        else:
            holding[device].remove(trial)
        most = max(most, sum(map(len, holding.values())))
    assert most == 4  # the check above saw four trials running together, not one after another
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 8


def test_gpus_all_asks_nvidia_smi_and_pairs_devices_per_trial(cli):
    bin_dir = cli.folder / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "nvidia-smi"
    fake.write_text(
        "#!/bin/sh\n"
        '[ "$1" = "-L" ] || exit 9\n'
        'for i in 0 1 2 3; do echo "GPU $i: NVIDIA Fake 80GB (UUID: GPU-0000000$i)"; done\n'
    )
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    cli.program(RECORDER)
    spec = cli.spec(n_trials=4)
    env = cli.env(HP_OVERLAP="2", PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    done = cli.run("run", str(spec), "--gpus", "all", "--gpus-per-trial", "2", "-q", env=env)
    assert done.returncode == 0, done.stderr
    starts = [e for e in events(cli.folder) if e["kind"] == "start"]
    assert len(starts) == 4
    # --jobs defaulted to the two slots: worker 0 holds GPUs 0 and 1, worker 1 holds 2 and 3
    assert {(e["HPSEARCH_WORKER"], e["CUDA_VISIBLE_DEVICES"]) for e in starts} == {("0", "0,1"), ("1", "2,3")}


def test_without_gpus_the_program_still_learns_its_worker_index(cli):
    cli.program(RECORDER)
    spec = cli.spec(n_trials=2)
    done = cli.run("run", str(spec), "-q", env=cli.env(HP_OVERLAP="1"))
    assert done.returncode == 0, done.stderr
    starts = [e for e in events(cli.folder) if e["kind"] == "start"]
    assert [e["HPSEARCH_WORKER"] for e in starts] == ["0", "0"]
    assert all(e["CUDA_VISIBLE_DEVICES"] is None for e in starts)


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--gpus", "0,0"], "each device once"),
        (["--gpus", "0,,1"], "expected a comma list"),
        (["--gpus", "0,1,2", "--gpus-per-trial", "2"], "divisible"),
        (["--gpus", "0,1", "--jobs", "3"], "at most 2"),
        (["--gpus-per-trial", "2"], "expected --gpus too"),
    ],
)
def test_bad_device_options_are_one_line_and_exit_2(cli, args, expected):
    cli.program("print(1)")
    spec = cli.spec(n_trials=1)
    done = cli.run("run", str(spec), *args)
    assert done.returncode == 2, done.stderr
    assert expected in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_gpus_all_without_nvidia_smi_says_so(cli):
    env = cli.env(PATH=str(cli.folder))  # python is called by its full path; no nvidia-smi here
    cli.program("print(1)")
    done = cli.run("run", str(cli.spec(n_trials=1)), "--gpus", "all", env=env)
    assert done.returncode == 2 and "nvidia-smi" in done.stderr


def test_device_slot_rules():
    assert parse_gpus(" 0, 1 ,GPU-ab12") == ["0", "1", "GPU-ab12"]
    assert device_slots(["0", "1", "2", "3"], 2) == [["0", "1"], ["2", "3"]]
    assert jobs_for(None, [["0"], ["1"]]) == 2 and jobs_for(1, [["0"], ["1"]]) == 1 and jobs_for(None, None) == 1
    assert worker_environment(3, ["2", "3"]) == {
        "HPSEARCH_WORKER": "3",
        "CUDA_VISIBLE_DEVICES": "2,3",
        "HPSEARCH_DEVICES": "2,3",
    }
    assert worker_environment(0, None) == {"HPSEARCH_WORKER": "0"}
    with pytest.raises(UserError):
        parse_gpus("0;1")
