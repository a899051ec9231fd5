"""A command trial's output is kept and readable (hpsearch logs), failures name their cause, no orphans."""

from __future__ import annotations

import os
import re
import signal
import sys
import tracemalloc
import urllib.parse
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.spec import spec_from_dict
from objectives import build_objective


def test_logs_prints_a_trials_stdout_and_stderr(cli):
    cli.program("""
        import sys
        print("epoch 1 loss 0.5")
        print("warming up", file=sys.stderr)
        print(float(sys.argv[1]))
    """)
    done = cli.run("run", str(cli.spec(n_trials=2)), "-q")
    assert done.returncode == 0, done.stderr
    shown = cli.run("logs", "cmd", "1")
    assert shown.returncode == 0, shown.stderr
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    value = study.trials[1].value
    assert shown.stdout == f"epoch 1 loss 0.5\n{value!r}\n"
    assert shown.stderr == "warming up\n"
    missing = cli.run("logs", "cmd", "7")
    assert missing.returncode == 2 and "has no trial 7" in missing.stderr


def test_logs_follow_prints_until_the_trial_ends(cli):
    cli.program("""
        import os, sys, time
        print("before the gate")
        while os.path.exists("gate"):
            time.sleep(0.02)
        print("after the gate")
        print(float(sys.argv[1]))
    """)
    (cli.folder / "gate").touch()
    runner = cli.start("run", str(cli.spec(n_trials=1)), "-q")
    log = cli.folder / ".hpsearch-trials" / "cmd" / "0" / "stdout-0.log"
    cli.wait_until(lambda: log.exists() and "before the gate" in log.read_text(), "the trial's first line")
    follower = cli.start("logs", "cmd", "0", "--follow", log="follow.log")
    followed = cli.folder / "follow.log"
    cli.wait_until(lambda: "before the gate" in followed.read_text(), "--follow to print the first line")
    assert follower.poll() is None  # still following: the trial runs
    (cli.folder / "gate").unlink()
    assert runner.wait(timeout=240) == 0
    assert follower.wait(timeout=240) == 0  # it ends by itself once the trial has
    assert followed.read_text().splitlines()[:2] == ["before the gate", "after the gate"]


def test_a_failure_line_names_the_cause_and_the_trial_keeps_the_whole_text(cli):
    cli.program("""
        import sys
        print("loading data", file=sys.stderr)
        import no_such_module_xyz
    """)
    done = cli.run("run", str(cli.spec(n_trials=5)), "-q")
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    # the last line of the traceback, the cause, comes first (not a cut of the traceback's start)
    assert "command exited with code 1: ModuleNotFoundError: No module named 'no_such_module_xyz'" in line
    assert "--retry-failed" in line
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    error = study.trials[0].user_attrs["error"]
    assert "Traceback (most recent call last)" in error and "loading data" in error
    exported = cli.run("export", "cmd")
    assert exported.stdout.splitlines()[0].split(",")[-1] == "error"
    assert "ModuleNotFoundError" in exported.stdout.splitlines()[1]


def test_report_and_dashboard_show_each_failed_trials_cause_and_stderr_tail(cli):
    cli.program("""
        import sys
        print("loading data", file=sys.stderr)
        import no_such_module_xyz
    """)
    assert cli.run("run", str(cli.spec(n_trials=5)), "-q").returncode == 1
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    assert failed
    cause = "ModuleNotFoundError: No module named 'no_such_module_xyz'"

    done = cli.run("report", "cmd", "-o", "r.html")
    assert done.returncode == 0, done.stderr
    html = (cli.folder / "r.html").read_text()
    section = html[html.index('<h2 id="failures">') : html.index("<h2>All trials</h2>")]
    summaries = re.findall(r"<summary>#(\d+): ([^<]*)</summary>", section)
    assert [int(n) for n, _ in summaries] == sorted((t.number for t in failed), reverse=True)
    assert all(cause.replace("'", "&#39;") in text for _, text in summaries)
    assert "loading data" in section  # the stderr tail, behind each summary
    links = re.findall(r'<a href="(file://[^"]+)">', section)
    assert len(links) == len(failed)
    assert all(Path(urllib.parse.unquote(urllib.parse.urlparse(u).path)).is_file() for u in links)

    from fastapi.testclient import TestClient

    from hpsearch.server import create_app

    with TestClient(create_app(cli.storage), base_url="http://127.0.0.1") as client:
        page = client.get("/studies/cmd").text
    board = page[page.index('<h2 id="failures">') :]
    assert len(re.findall(r"<summary>#\d+: ", board)) == len(failed)
    assert cause.replace("'", "&#39;") in board and "loading data" in board
    assert f"hpsearch logs cmd {failed[-1].number}" in board
    assert "file://" not in board  # the server's paths stay on the server


def test_a_command_studys_report_suggests_evaluate_only_with_a_test_program(cli):
    cli.program("""
        import sys
        print(float(sys.argv[1]))
    """)
    assert cli.run("run", str(cli.spec(n_trials=2)), "-q").returncode == 0
    assert cli.run("report", "cmd", "-o", "r.html").returncode == 0
    html = (cli.folder / "r.html").read_text()
    hint = re.search(r'<p class="note" id="evaluate-hint">([^<]*)</p>', html).group(1)
    # best --evaluate would fail here (no test program): the report says what to add instead
    assert "[command] test" in hint and "Not evaluated on the test split yet" not in html
    assert cli.run("best", "cmd", "--evaluate").returncode == 2


def test_show_of_a_command_study_has_seconds_and_no_empty_epochs_column(cli):
    cli.program("""
        import sys
        print(float(sys.argv[1]))
    """)
    assert cli.run("run", str(cli.spec(n_trials=2)), "-q").returncode == 0
    shown = cli.run("show", "cmd")
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "seconds" in line)
    assert "epochs" not in header  # a command reports no epochs: no column of blanks
    rows = [line.split("│") for line in shown.stdout.splitlines() if re.match(r"│\s*\d+\s*│", line)]
    assert len(rows) == 2
    assert all(float(cells[-2]) > 0 for cells in rows)  # each trial's wall-clock seconds


def test_retry_failed_reopens_the_failed_slots_after_the_environment_is_fixed(cli):
    cli.program("""
        import os, sys
        if not os.path.exists("venv-ready"):
            sys.exit("ModuleNotFoundError: No module named 'sklearn'")
        print(float(sys.argv[1]))
    """)
    spec = cli.spec(n_trials=6)
    done = cli.run("run", str(spec), "-q")
    assert done.returncode == 1 and "--retry-failed" in done.stderr
    (cli.folder / "venv-ready").touch()  # the user fixes the environment
    plain = cli.run("run", str(spec), "-q")  # without the flag the 5 failed trials stay results
    assert plain.returncode == 0, plain.stderr
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    assert sum(t.state == TrialState.COMPLETE for t in study.trials) == 1
    retried = cli.run("run", str(spec), "--retry-failed")
    assert retried.returncode == 0, retried.stderr
    assert "re-opened the slots of 5 failed trials (#0, #1, #2, #3, #4)" in retried.stdout
    study = optuna.load_study(study_name="cmd", storage=cli.storage)
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 6 and len({t.system_attrs["hpsearch_slot"] for t in complete}) == 6
    old = [t for t in study.trials if t.state == TrialState.FAIL]
    assert len(old) == 5 and all("sklearn" in t.user_attrs["error_before_retry"] for t in old)
    assert all("error" not in t.user_attrs for t in old)


def test_a_100_mb_stdout_line_is_not_held_in_memory(tmp_path):
    """The output goes to the log in chunks; only a bounded part of a line is kept (the result is the last line)."""
    (tmp_path / "big.py").write_text(
        "import sys\nchunk = 'x' * (1 << 20)\n"
        "for _ in range(100):\n    sys.stdout.write(chunk)\n"
        "sys.stdout.write('\\n0.75\\n')\n"
    )
    spec = spec_from_dict(
        {
            "study": {"name": "big", "objective": "command", "direction": "maximize", "workdir": str(tmp_path)},
            "command": {"run": f"{sys.executable} big.py"},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )
    trial = optuna.create_study(direction="maximize").ask()
    tracemalloc.start()
    try:
        value = build_objective(spec)(trial, {"x": 0.5})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert value == 0.75
    assert peak < 20 * (1 << 20), f"peak {peak / 2**20:.0f} MB of Python memory for a 100 MB line"
    assert os.path.getsize(trial.user_attrs["stdout_log"]) == 100 * (1 << 20) + len("\n0.75\n")


@pytest.mark.usefixtures("linux_only")
def test_kill_9_of_run_leaves_no_program_running(cli):
    """The workers die with `run` (parent-death signal) and take their programs' process groups along."""
    cli.program("""
        import os, time
        with open(f"pid-{os.environ['HPSEARCH_SLOT']}", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(3600)
    """)
    runner = cli.start("run", str(cli.spec(n_trials=2)), "--jobs", "2", "-q")
    pids = [cli.folder / "pid-0", cli.folder / "pid-1"]
    cli.wait_until(lambda: all(p.exists() and p.read_text() for p in pids), "both programs to start")
    runner.send_signal(signal.SIGKILL)
    runner.wait()
    for p in pids:
        pid = int(p.read_text())
        cli.wait_until(lambda pid=pid: cli.process_gone(pid), f"program {pid} to be stopped")
    study = optuna.load_study(study_name="cmd", storage=cli.storage)

    def both_marked() -> bool:
        trials = optuna.load_study(study_name="cmd", storage=cli.storage).trials
        return [t.system_attrs.get("fail_reason") for t in trials] == ["interrupted (SIGTERM)"] * 2

    cli.wait_until(both_marked, "the workers to mark their trials interrupted")
    assert len(study.trials) == 2
