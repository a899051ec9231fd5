"""SQLite under faults (issue 26): a database error inside a trial, a file deleted mid-run, the WAL at exit,
and read commands on files they must not change."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import textwrap
import time

import optuna
import pytest
from optuna.trial import TrialState

from hpsearch.cli import main

FAULTY = textwrap.dedent('''
    """Test objectives that meet database trouble from inside a trial."""
    import os
    import sqlite3

    import sqlalchemy

    from hpsearch.storage._attrs import set_user_attrs, trial_slot

    def blinks_once(trial, params):
        """Slot 1's first attempt: a write whose connection dropped (as Optuna raises it)."""
        flag = os.environ["HP_TEST_FLAG"]
        set_user_attrs(trial, {"a": 1, "b": 2})
        if trial_slot(trial) == 1 and not os.path.exists(flag):
            open(flag, "w").close()
            try:
                raise sqlalchemy.exc.OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))
            except sqlalchemy.exc.OperationalError as exc:
                import optuna
                raise optuna.exceptions.StorageInternalError("An exception is raised during the commit.") from exc
        return params["x"]

    def deletes_the_file(trial, params):
        """Slot 2 deletes the study's database file; later writes must not pretend to succeed."""
        if trial_slot(trial) == 2:
            os.remove(os.environ["HP_TEST_DB"])
        set_user_attrs(trial, {"a": 1, "b": 2})
        return params["x"]
''')

SPEC = textwrap.dedent("""
    [study]
    name = "{name}"
    objective = "faulty:{function}"
    direction = "maximize"
    sampler = "random"
    n_trials = {n_trials}
    seed = 2

    [space]
    x = {{ type = "float", low = 0.0, high = 1.0 }}
""")


@pytest.fixture
def faulty(workdir):
    (workdir / "faulty.py").write_text(FAULTY)
    for name, function, n in (
        ("blink", "blinks_once", 6),
        ("vanish", "deletes_the_file", 8),
        ("plain", "blinks_once", 12),
    ):
        (workdir / f"{name}.toml").write_text(SPEC.format(name=name, function=function, n_trials=n))
    return workdir


def _trials(path, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=f"sqlite:///{path}").get_trials(deepcopy=False)


def test_a_database_error_inside_the_objective_is_a_crash_and_its_slot_runs_again(faulty, capsys, monkeypatch):
    monkeypatch.setenv("HP_TEST_FLAG", str(faulty / "flag"))
    assert main(["run", "blink.toml", "-q"]) == 0, capsys.readouterr().err
    trials = _trials(faulty / "hpsearch.db", "blink")
    assert [t for t in trials if "error" in t.user_attrs] == [], "a database error was taken for the objective's"
    crashed = [t for t in trials if t.state == TrialState.FAIL]
    assert len(crashed) == 1
    assert "database error" in crashed[0].system_attrs["fail_reason"]
    assert crashed[0].system_attrs["hpsearch_slot"] == 1
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.system_attrs["hpsearch_slot"] for t in complete) == list(range(6)), "slot 1 ran again"


def test_a_database_file_deleted_mid_run_is_an_error_in_one_line(faulty, hp):
    done = hp("run", "vanish.toml", "-q", env={"HP_TEST_DB": str(faulty / "hpsearch.db")})
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "deleted" in lines[0] and "hpsearch.db" in lines[0]
    assert "finished" not in done.stdout


def test_after_a_clean_exit_the_db_file_alone_holds_every_trial(faulty, hp, tmp_path_factory):
    for args in (("run", "plain.toml", "-q"), ("run", "plain.toml", "-q", "--n-trials", "20", "--jobs", "2")):
        done = hp(*args, env={"HP_TEST_FLAG": str(faulty / "flag")})
        assert done.returncode == 0, done.stderr
        alone = tmp_path_factory.mktemp("copy") / "copy.db"
        shutil.copyfile(faulty / "hpsearch.db", alone)  # the .db only: no -wal, no -shm
        assert not (alone.parent / "copy.db-wal").exists()
        n = 12 if "--n-trials" not in args else 20
        finished = [t for t in _trials(alone, "plain") if t.state == TrialState.COMPLETE]
        assert len(finished) >= n, f"the copied .db holds {len(finished)} of {n} trials"


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_read_commands_leave_another_programs_sqlite_file_byte_identical(workdir, hp):
    other = workdir / "other.db"
    with sqlite3.connect(other) as con:
        con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
        con.execute("INSERT INTO notes (text) VALUES ('mine')")
    con.close()
    before = _digest(other)
    url = f"sqlite:///{other}"
    for args in (("studies",), ("show", "x"), ("best", "x"), ("export", "x"), ("report", "x", "-o", "x.html")):
        done = hp(*args, "--storage", url)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert "not an hpsearch/Optuna database" in done.stderr
        assert _digest(other) == before, f"{args[0]} changed the file"
        assert sorted(p.name for p in workdir.glob("other.db*")) == ["other.db"], "journal files were left"


def test_read_commands_read_a_study_without_writing_to_it(faulty, hp):
    assert hp("run", "plain.toml", "-q", env={"HP_TEST_FLAG": str(faulty / "flag")}).returncode == 0
    db = faulty / "hpsearch.db"
    before = _digest(db)
    for args in (("studies",), ("show", "plain"), ("best", "plain"), ("export", "plain")):
        done = hp(*args)
        assert done.returncode == 0, (args, done.stderr)
        assert _digest(db) == before, f"{args[0]} wrote to the database"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only files anyway")
def test_a_read_only_file_reads_and_says_so_for_writing(faulty, hp):
    assert hp("run", "plain.toml", "-q", env={"HP_TEST_FLAG": str(faulty / "flag")}).returncode == 0
    db = faulty / "hpsearch.db"
    db.chmod(0o444)
    try:
        assert hp("studies").returncode == 0
        done = hp("run", "plain.toml", "-q", "--n-trials", "20")
        assert done.returncode == 2
        assert len(done.stderr.strip().splitlines()) == 1 and "read-only" in done.stderr
    finally:
        db.chmod(0o644)


def _private_mounts_possible() -> bool:
    """Whether we may mount a tmpfs in a private mount namespace (root with unshare, as on CI)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    probe = "d=$(mktemp -d) && mount -t tmpfs -o size=64k tmpfs $d && umount $d && rmdir $d"
    return subprocess.run(["unshare", "-m", "sh", "-c", probe], capture_output=True).returncode == 0


needs_mounts = pytest.mark.skipif(not _private_mounts_possible(), reason="needs root, unshare and mount (tmpfs)")

FILESYSTEM_SCRIPT = """
set -u
mkdir -p m && mount -t tmpfs -o size={size} tmpfs m
cp plain.toml faulty.py m/ && cd m
hp() {{ "$@" > "../out.$N" 2> "../err.$N"; echo $? > "../rc.$N"; N=$((N+1)); }}
N=0
hp {hp} run plain.toml -q                   # 0: a study, cleanly ended
dd if=/dev/zero of=filler bs=4k 2>/dev/null  # the disk is full now
hp {hp} run plain.toml -q --n-trials 200    # 1: refused, one line
hp {hp} studies                              # 2: reading works
rm filler
cd .. && mount -o remount,ro m && cd m
hp {hp} studies                              # 3: a read-only filesystem reads
hp {hp} export plain                         # 4
hp {hp} run plain.toml -q --n-trials 300    # 5: and says so for writing
"""


@needs_mounts
def test_a_full_disk_and_a_read_only_filesystem_are_one_line_each_and_reading_works(faulty, hpsearch_command):
    script = FILESYSTEM_SCRIPT.format(size="8m", hp=" ".join(hpsearch_command))
    env = {**os.environ, "HP_TEST_FLAG": str(faulty / "flag"), "PYTHONPATH": "."}
    subprocess.run(["unshare", "-m", "sh", "-c", script], cwd=faulty, env=env, timeout=300, check=False)

    def result(n: int) -> tuple[int, str, str]:
        read = [(faulty / f"{what}.{n}").read_text() for what in ("rc", "out", "err")]
        return int(read[0]), read[1], read[2]

    assert result(0)[0] == 0, result(0)
    code, _, err = result(1)
    assert code != 0 and len(err.strip().splitlines()) == 1 and "disk is full" in err, err
    code, out, _ = result(2)
    assert code == 0 and "complete 12" in out
    code, out, _ = result(3)
    assert code == 0 and "complete 12" in out
    code, out, _ = result(4)
    assert code == 0 and len(out.strip().splitlines()) == 14  # the header, 12 complete and 1 crashed trial
    code, _, err = result(5)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "read-only" in err, err


def test_the_wal_stays_bounded_during_a_long_run(faulty, hpsearch_command):
    """SQLite's checkpoints keep the WAL from growing with the study (it is cut back after each)."""
    from hpsearch.storage._rdb import WAL_SIZE_LIMIT

    (faulty / "long.toml").write_text(SPEC.format(name="long", function="blinks_once", n_trials=300))
    env = {**os.environ, "HP_TEST_FLAG": str(faulty / "flag")}
    run = subprocess.Popen([*hpsearch_command, "run", "long.toml", "-q"], cwd=faulty, env=env)
    wal, largest = faulty / "hpsearch.db-wal", 0
    while run.poll() is None:
        try:
            largest = max(largest, wal.stat().st_size)
        except FileNotFoundError:
            pass
        time.sleep(0.02)
    assert run.returncode == 0
    assert 0 < largest <= WAL_SIZE_LIMIT, f"the WAL reached {largest} bytes"
    assert not wal.exists() or wal.stat().st_size == 0, "a clean exit leaves the WAL empty"
    assert len([t for t in _trials(faulty / "hpsearch.db", "long") if t.state == TrialState.COMPLETE]) == 300
