"""The command objective runs a real program in a subprocess: results, steps, pruning, failures."""

from __future__ import annotations

import json
import os
import shlex
import sys
import textwrap
import time
from pathlib import Path

import optuna
import pytest

from hpsearch.errors import SpecError, UserError
from hpsearch.spec import load_spec, spec_from_dict
from objectives import build_objective, cannot_evaluate, evaluate_best
from objectives import command as command_module
from objectives.command import CommandFailed, command_line, parse_result

PY = shlex.quote(sys.executable)


def script(tmp_path: Path, body: str, name: str = "prog.py") -> str:
    (tmp_path / name).write_text(textwrap.dedent(body))
    return name


def command_spec(tmp_path: Path, run: str, *, space=None, training=None, timeout=60, workdir=True):
    d = {
        "study": {"name": "cmd", "objective": "command", "direction": "maximize"},
        "command": {"run": run, "timeout": timeout},
        "space": space or {"x": {"type": "float", "low": 0.0, "high": 1.0}},
    }
    if workdir:
        d["study"]["workdir"] = str(tmp_path)
    if training:
        d["training"] = training
    return spec_from_dict(d)


def new_study(pruner=None, name="cmd"):
    return optuna.create_study(
        study_name=name,
        direction="maximize",
        pruner=pruner or optuna.pruners.NopPruner(),
        sampler=optuna.samplers.RandomSampler(seed=0),
    )


class AlwaysPrune(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return bool(trial.intermediate_values)


def process_gone(pid: int) -> bool:
    """No such process, or only a zombie left for its new parent to reap."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def wait_for_file(path: Path, deadline_s: float = 120.0) -> str:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


@pytest.mark.parametrize("last_line, value", [("0.875", 0.875), ('{"value": 0.25}', 0.25), ("  -3  ", -3.0)])
def test_last_stdout_line_is_the_result(tmp_path, last_line, value):
    name = script(
        tmp_path,
        f"""
        print("loading data ...")
        print({last_line!r})
    """,
    )
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    study = new_study()
    trial = study.ask()
    assert objective(trial, {"x": 0.5}) == value
    assert trial.user_attrs["exit_code"] == 0


def test_step_lines_are_intermediate_values_and_not_the_result(tmp_path):
    name = script(
        tmp_path,
        """
        import json
        for step in range(4):
            print(json.dumps({"step": step, "value": step / 10}))
            print("a log line between steps")
        print(json.dumps({"value": 0.9}))
    """,
    )
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    study = new_study(pruner=optuna.pruners.MedianPruner(n_startup_trials=5))
    trial = study.ask()
    value = objective(trial, {"x": 0.1})
    study.tell(trial, value)
    frozen = study.trials[0]
    assert frozen.value == 0.9
    assert frozen.intermediate_values == {0: 0.0, 1: 0.1, 2: 0.2, 3: 0.3}
    assert frozen.user_attrs["learning_curve"] == [0.0, 0.1, 0.2, 0.3]


def test_pruned_program_is_stopped_and_the_trial_pruned(tmp_path):
    name = script(
        tmp_path,
        """
        import json, os, time
        with open("pid.txt", "w") as f:
            f.write(str(os.getpid()))
        print(json.dumps({"step": 0, "value": 0.1}))
        time.sleep(600)
        print(1.0)
    """,
    )
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    study = new_study(pruner=AlwaysPrune())
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned):
        objective(trial, {"x": 0.5})
    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    assert study.trials[0].state == optuna.trial.TrialState.PRUNED
    assert study.trials[0].intermediate_values == {0: 0.1}
    assert process_gone(int((tmp_path / "pid.txt").read_text()))


def test_a_program_ignoring_sigterm_is_killed(tmp_path, monkeypatch):
    monkeypatch.setattr(command_module, "GRACE_SECONDS", 0.2)
    name = script(
        tmp_path,
        """
        import json, os, signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with open("pid.txt", "w") as f:
            f.write(str(os.getpid()))
        print(json.dumps({"step": 0, "value": 0.1}))
        while True:
            time.sleep(1)
    """,
    )
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    trial = new_study(pruner=AlwaysPrune()).ask()
    with pytest.raises(optuna.TrialPruned):
        objective(trial, {"x": 0.5})
    assert process_gone(int((tmp_path / "pid.txt").read_text()))


def test_nonzero_exit_fails_with_the_tail_of_stderr(tmp_path):
    name = script(
        tmp_path,
        """
        import sys
        sys.stderr.write("EARLY-NOISE " * 1000)
        sys.stderr.write("\\nTraceback: CUDA out of memory\\n")
        print(0.5)
        sys.exit(3)
    """,
    )
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    trial = new_study().ask()
    with pytest.raises(CommandFailed) as info:
        objective(trial, {"x": 0.5})
    message = str(info.value)
    assert "exited with code 3" in message and "CUDA out of memory" in message
    assert message.count("EARLY-NOISE") < 200  # only the tail is kept
    assert trial.user_attrs["exit_code"] == 3


def test_timeout_fails_the_trial_and_stops_the_program(tmp_path):
    name = script(
        tmp_path,
        """
        import os, sys, time
        with open("pid.txt", "w") as f:
            f.write(str(os.getpid()))
        sys.stderr.write("starting a very long run\\n")
        sys.stderr.flush()
        time.sleep(600)
        print(1.0)
    """,
    )
    # 5 s: far less than the program's 600 s sleep, far more than its start-up on a busy machine.
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}", timeout=5))
    trial = new_study().ask()
    with pytest.raises(CommandFailed, match=r"timed out after 5 s \(command.timeout\)") as info:
        objective(trial, {"x": 0.5})
    assert "starting a very long run" in str(info.value)
    assert process_gone(int(wait_for_file(tmp_path / "pid.txt")))


@pytest.mark.parametrize(
    "body, expected",
    [
        ("print('all done, no number')", "got 'all done, no number'"),
        ("pass", "got no output"),
        ('print(\'{"step": 1, "value": 0.5}\')', "got an intermediate value line last"),
        ('print(\'{"step": -1, "value": 0.5}\')', "expected an intermediate value line"),
    ],
)
def test_missing_or_unreadable_result_fails(tmp_path, body, expected):
    name = script(tmp_path, body)
    objective = build_objective(command_spec(tmp_path, f"{PY} {name}"))
    with pytest.raises(CommandFailed, match=expected):
        objective(new_study().ask(), {"x": 0.5})


def test_placeholders_params_env_and_trial_folder(tmp_path):
    name = script(
        tmp_path,
        """
        import json, os, sys
        folder = os.environ["HPSEARCH_TRIAL_DIR"]
        with open(os.path.join(folder, "seen.json"), "w") as f:
            json.dump({"argv": sys.argv[1:], "params": json.loads(os.environ["HPSEARCH_PARAMS"]),
                       "cwd": os.getcwd(), "trial": os.environ["HPSEARCH_TRIAL_NUMBER"]}, f)
        print(42)
    """,
    )
    spec = command_spec(
        tmp_path,
        f"{PY} {name} --lr={{lr}} --name '{{opt}} x' {{epochs}} {{flag}}",
        space={
            "lr": {"type": "float", "low": 1e-3, "high": 1.0, "log": True},
            "opt": {"type": "categorical", "choices": ["adam; touch pwned", "sgd"]},
        },
        training={"epochs": 7, "flag": True},
    )
    objective = build_objective(spec)
    study = new_study(name="arm/random/seed0")
    trial = study.ask()
    assert objective(trial, {"lr": 0.01, "opt": "adam; touch pwned"}) == 42.0
    folder = Path(trial.user_attrs["trial_dir"])
    assert folder == tmp_path / ".hpsearch-trials" / "arm" / "random" / "seed0" / "0"
    seen = json.loads((folder / "seen.json").read_text())
    assert seen["argv"] == ["--lr=0.01", "--name", "adam; touch pwned x", "7", "true"]
    assert seen["params"] == {"lr": 0.01, "opt": "adam; touch pwned", "epochs": 7, "flag": True}
    assert Path(seen["cwd"]) == tmp_path and seen["trial"] == "0"
    assert not (tmp_path / "pwned").exists()  # no shell ran the ';'


def test_command_line_fills_each_argument_after_splitting():
    assert command_line("train --x {a} '{b}' {c}", {"a": 1, "b": "two words", "c": "$HOME"}) == [
        "train",
        "--x",
        "1",
        "two words",
        "$HOME",
    ]


def test_parse_result_forms():
    assert parse_result("1e-3") == 0.001
    assert parse_result('{"value": 2}') == 2.0
    with pytest.raises(CommandFailed):
        parse_result('{"value": "high"}')


def test_a_program_that_cannot_start_fails_the_trial(tmp_path):
    spec = command_spec(tmp_path, "./missing-program {x}")
    with pytest.raises(CommandFailed, match="could not start the command"):
        build_objective(spec)(new_study().ask(), {"x": 0.5})


def test_studies_run_a_command_end_to_end(tmp_path):
    """Through the runner with a database: COMPLETE trials, and a failing trial keeps its stderr."""
    from hpsearch.search import run_study

    name = script(
        tmp_path,
        """
        import json, os, sys
        x = json.loads(os.environ["HPSEARCH_PARAMS"])["x"]
        if os.environ["HPSEARCH_TRIAL_NUMBER"] == "1":
            sys.exit("trial one always breaks")
        print(json.dumps({"step": 0, "value": x / 2}))
        print(json.dumps({"value": x}))
    """,
    )
    spec = command_spec(tmp_path, f"{PY} {name}")
    url = f"sqlite:///{tmp_path / 'h.db'}"
    study = run_study(spec, url, n_trials=4, progress=False)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) >= 3 and all(t.value == t.params["x"] for t in complete)
    assert all(t.intermediate_values == {0: t.params["x"] / 2} for t in complete)
    failed = study.trials[1]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "trial one always breaks" in json.dumps(failed.system_attrs) + json.dumps(failed.user_attrs)


# --- the spec ---------------------------------------------------------------------------------


def write_spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    return path


def test_spec_workdir_is_the_spec_folder_and_the_stored_copy_keeps_it(tmp_path):
    script(tmp_path, "print(1)", "train.py")
    path = write_spec(
        tmp_path,
        f"""
        [study]
        objective = "command"
        direction = "minimize"
        [command]
        run = "{sys.executable} train.py --x {{x}}"
        timeout = 600
        [space]
        x = {{ type = "int", low = 1, high = 3 }}
    """,
    )
    spec = load_spec(path)
    assert spec.study.workdir == str(tmp_path.resolve()) and spec.command.timeout == 600
    again = spec_from_dict(spec.to_dict())
    assert again == spec


@pytest.mark.parametrize(
    "body, key, expected",
    [
        ('[study]\nobjective = "command"\ndirection = "maximize"\n', "command", "a [command] table"),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = ""\n',
            "command.run",
            "a non-empty string",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "python3 t.py {lr}"\n',
            "command.run",
            "placeholders naming a [space] or [training] parameter (known: x)",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "python3 \'t.py"\n',
            "command.run",
            "a command line split like a shell",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "python3 t.py"\ntimeout = 0\n',
            "command.timeout",
            "a value > 0",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "python3 t.py"\ntimeot = 5\n',
            "command.timeot",
            "did you mean 'timeout'",
        ),
        (
            '[study]\nobjective = "command"\n[command]\nrun = "python3 t.py"\n',
            "study.direction",
            "'maximize' or 'minimize'",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "./nowhere/t.sh {x}"\n',
            "command.run",
            "a program that exists",
        ),
        (
            '[study]\nobjective = "command"\ndirection = "maximize"\n[command]\nrun = "no-such-program-xyz {x}"\n',
            "command.run",
            "a program on PATH",
        ),
        (
            '[study]\nobjective = "some_mod:fn"\ndirection = "maximize"\n[command]\nrun = "python3 t.py"\n',
            "command",
            "no [command] table for objective 'some_mod:fn'",
        ),
    ],
)
def test_spec_errors_name_the_key(tmp_path, body, key, expected):
    path = write_spec(tmp_path, body + '[space]\nx = { type = "float", low = 0.0, high = 1.0 }\n')
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {key}: expected") and expected in message, message


def test_a_command_cannot_score_a_test_split(tmp_path):
    spec = command_spec(tmp_path, "python3 t.py {x}")
    assert "no test split" in cannot_evaluate(spec)
    with pytest.raises(UserError, match="study.objective: expected an objective that can score a test split"):
        evaluate_best(spec, {"x": 0.5})


# --- user functions: found next to the spec; evaluated when they take split ------------------


def user_spec(tmp_path: Path, module: str) -> Path:
    return write_spec(
        tmp_path,
        f"""
        [study]
        objective = "{module}:objective"
        direction = "maximize"
        [training]
        offset = 1.0
        [space]
        x = {{ type = "float", low = 0.0, high = 1.0 }}
    """,
    )


def test_user_objective_is_imported_from_the_spec_folder(tmp_path, monkeypatch):
    (tmp_path / "specdir").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "specdir" / "my_obj_specdir.py").write_text(
        textwrap.dedent("""
        def objective(trial, params, split="validation"):
            return params["x"] + params["offset"] + (100 if split == "test" else 0)
    """)
    )
    path = user_spec(tmp_path / "specdir", "my_obj_specdir")
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = load_spec(path)
    stored = spec_from_dict(spec.to_dict())  # a worker or `best --evaluate` opens the stored copy
    assert build_objective(stored)(new_study().ask(), {"x": 0.25}) == 1.25
    assert cannot_evaluate(stored) is None
    assert evaluate_best(stored, {"x": 0.25}) == {"test_value": 101.25}


def test_user_objective_without_split_says_how_to_evaluate(tmp_path, monkeypatch):
    (tmp_path / "my_obj_nosplit.py").write_text("def objective(trial, params):\n    return params['x']\n")
    monkeypatch.setattr(sys, "path", list(sys.path))
    spec = load_spec(user_spec(tmp_path, "my_obj_nosplit"))
    with pytest.raises(UserError, match=r"takes no 'split' argument; give it one"):
        evaluate_best(spec, {"x": 0.5})


def test_missing_user_module_hints_where_it_was_looked_for(tmp_path, monkeypatch):
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    monkeypatch.setattr(sys, "path", list(sys.path))
    path = user_spec(tmp_path, "no_such_module_here")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    message = str(info.value)
    assert message.startswith(f"{path}: study.objective: expected a module 'no_such_module_here' in ")
    assert str(tmp_path) in message and "next to the spec file" in message


# --- the README's tour (sections 8 and 9) runs as written -----------------------------------


ROOT = Path(__file__).resolve().parents[2]


def readme_section(title: str) -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index(title)
    end = text.find("\n### ", start + len(title))
    end = text.find("\n## ", start) if end < 0 else end
    return text[start:end]


def code_blocks(section: str, lang: str) -> list[str]:
    import re

    return re.findall(rf"```{lang}\n(.*?)```", section, re.S)


def run_cli(line: str, cwd: Path, storage: str):
    import subprocess

    argv = shlex.split(line.split("#")[0])
    assert argv[0] == "hpsearch"
    env = {**os.environ, "HPSEARCH_STORAGE": storage, "COLUMNS": "120"}
    return subprocess.run(
        [sys.executable, "-m", "hpsearch.cli", *argv[1:]], cwd=cwd, env=env, capture_output=True, text=True, timeout=600
    )


def test_readme_command_example_runs_as_written(tmp_path):
    import shutil

    section = readme_section("### 8. Your own training program")
    (toml,) = code_blocks(section, "toml")
    spec_text = (ROOT / "studies" / "command-example.toml").read_text()
    for line in toml.strip().splitlines():  # the README shows the real file, not a paraphrase
        assert line in spec_text.splitlines(), line
    (tmp_path / "studies").mkdir()
    for name in ("command-example.toml", "command_train.py"):
        shutil.copy(ROOT / "studies" / name, tmp_path / "studies" / name)
    storage = f"sqlite:///{tmp_path / 'readme.db'}"
    (bash,) = code_blocks(section, "bash")
    outputs = []
    for line in bash.strip().splitlines():
        done = run_cli(line, tmp_path, storage)
        assert done.returncode == 0, (line, done.stdout, done.stderr)
        outputs.append(done.stdout)
    assert "command: python3 command_train.py" in outputs[0]
    assert "best trial #" in outputs[-1] and "learning_rate" in outputs[-1]
    study = optuna.load_study(study_name="command-example", storage=storage)
    finished = [
        t for t in study.trials if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    ]
    assert len(finished) == 8
    assert all(t.intermediate_values for t in finished)
    folders = tmp_path / "studies" / ".hpsearch-trials" / "command-example"
    assert (folders / "0" / "train.log").read_text().startswith("params: {")


def test_readme_csv_check_describes_the_columns(tmp_path):
    section = readme_section("### 9. Real-world CSVs")
    (bash,) = code_blocks(section, "bash")
    done = run_cli(bash.strip(), ROOT, f"sqlite:///{tmp_path / 'unused.db'}")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    assert "empty cells imputed with the training split's median: age (26), income (30)" in out
    assert "text, one-hot encoded (3): city (5 categories), plan (3 categories), region (4 categories)" in out
    assert "target 'churn': a class label, 2 classes" in out and "dropped (data.drop): customer_id" in out


def test_best_evaluate_scores_a_user_function_and_explains_a_command(tmp_path):
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "tuned_fn.py").write_text(
        textwrap.dedent("""
        def objective(trial, params, split="validation"):
            score = 1.0 - (params["x"] - 0.3) ** 2
            return score - (0.5 if split == "test" else 0.0)
    """)
    )
    (tmp_path / "specs" / "fn.toml").write_text(
        textwrap.dedent("""
        [study]
        name = "fn"
        objective = "tuned_fn:objective"
        direction = "maximize"
        sampler = "random"
        n_trials = 3
        [space]
        x = { type = "float", low = 0.0, high = 1.0 }
    """)
    )
    script(tmp_path / "specs", "print(0.5)", "prog.py")
    (tmp_path / "specs" / "cmd.toml").write_text(
        textwrap.dedent(f"""
        [study]
        name = "cmd"
        objective = "command"
        direction = "maximize"
        n_trials = 2
        [command]
        run = "{sys.executable} prog.py {{x}}"
        [space]
        x = {{ type = "float", low = 0.0, high = 1.0 }}
    """)
    )
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for name in ("fn", "cmd"):
        done = run_cli(f"hpsearch run {tmp_path / 'specs' / name}.toml", elsewhere, storage)
        assert done.returncode == 0, done.stderr
    done = run_cli("hpsearch best fn --evaluate", elsewhere, storage)  # imports tuned_fn from the spec's folder
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="fn", storage=storage)
    assert study.user_attrs["test_score"] == pytest.approx(study.best_value - 0.5)
    done = run_cli("hpsearch best cmd --evaluate", elsewhere, storage)
    assert done.returncode == 2
    assert "a command objective has no test split hpsearch knows of" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_a_killed_hpsearch_takes_its_program_down_with_it(tmp_path):
    """After a crash (kill -9 of hpsearch) no program trains on unwatched; resuming re-runs its slot."""
    import signal
    import subprocess

    name = script(
        tmp_path,
        """
        import os, time
        with open("pid.txt", "w") as f:
            f.write(str(os.getpid()))
        time.sleep(600)
        print(1.0)
    """,
    )
    runner = textwrap.dedent(f"""
        import optuna
        from hpsearch.spec import spec_from_dict
        from objectives import build_objective
        spec = spec_from_dict({{"study": {{"name": "c", "objective": "command", "direction": "maximize",
                                          "workdir": {str(tmp_path)!r}}},
                               "command": {{"run": {f"{sys.executable} {name}"!r}}},
                               "space": {{"x": {{"type": "float", "low": 0.0, "high": 1.0}}}}}})
        trial = optuna.create_study(direction="maximize").ask()
        build_objective(spec)(trial, {{"x": 0.5}})
    """)
    parent = subprocess.Popen([sys.executable, "-c", runner], cwd=ROOT)
    try:
        pid = int(wait_for_file(tmp_path / "pid.txt"))
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    end = time.monotonic() + 120
    while not process_gone(pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert process_gone(pid)


def test_command_test_line_scores_the_best_configuration_on_held_out_data(tmp_path):
    """[command] test (same placeholders as run) prints the held-out score that best --evaluate stores."""
    script(
        tmp_path,
        """
        import os, sys
        x = float(sys.argv[1])
        if len(sys.argv) > 2 and sys.argv[2] == "--test":
            print("test run", file=sys.stderr)
            print({"value": 1.0 - x - int(os.environ["HPSEARCH_SEED"]) / 1000}.__repr__().replace("'", '"'))
        else:
            print(1.0 - x)
    """,
    )
    (tmp_path / "cmd.toml").write_text(
        textwrap.dedent(f"""
        [study]
        name = "cmd"
        objective = "command"
        direction = "maximize"
        n_trials = 3
        seed = 7
        [command]
        run = "{sys.executable} prog.py {{x}}"
        test = "{sys.executable} prog.py {{x}} --test"
        [space]
        x = {{ type = "float", low = 0.0, high = 1.0 }}
    """)
    )
    storage = f"sqlite:///{tmp_path / 'h.db'}"
    done = run_cli(f"hpsearch run {tmp_path / 'cmd.toml'}", tmp_path, storage)
    assert done.returncode == 0, done.stderr
    done = run_cli("hpsearch best cmd --evaluate", tmp_path, storage)
    assert done.returncode == 0, done.stderr
    study = optuna.load_study(study_name="cmd", storage=storage)
    best_x = study.best_params["x"]
    assert study.user_attrs["test_score"] == pytest.approx(1.0 - best_x - 7 / 1000)
    assert "test run" in (tmp_path / ".hpsearch-trials" / "cmd" / "test" / "test-stderr.log").read_text()


def test_a_command_test_line_with_an_unknown_placeholder_is_refused(tmp_path):
    spec = command_spec(tmp_path, f"{PY} prog.py {{x}}")
    d = spec.to_dict()
    d["command"]["test"] = f"{PY} prog.py {{nope}}"
    with pytest.raises(SpecError, match="command.test"):
        spec_from_dict(d)


def test_a_command_with_two_objectives_prints_values_and_its_own_constraints(tmp_path):
    """The last line {"values": [...], "constraints": {...}}; step lines are kept as the curve only
    (Optuna prunes one objective); a line of the wrong length fails that trial with what was expected."""
    from hpsearch.search import run_study

    name = script(
        tmp_path,
        """
        import json, os
        x = json.loads(os.environ["HPSEARCH_PARAMS"])["x"]
        print(json.dumps({"step": 0, "value": x / 2}))
        if os.environ["HPSEARCH_TRIAL_NUMBER"] == "2":
            print(json.dumps({"values": [x]}))
        else:
            print(json.dumps({"values": [x, 1 - x], "constraints": {"x_small": x - 0.5}}))
    """,
    )
    spec = spec_from_dict(
        {
            "study": {
                "name": "cmd2",
                "objective": "command",
                "objectives": ["gain", "loss"],
                "directions": ["maximize", "minimize"],
                "workdir": str(tmp_path),
            },
            "command": {"run": f"{PY} {name}", "timeout": 60},
            "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        }
    )
    study = run_study(spec, f"sqlite:///{tmp_path / 'h.db'}", n_trials=5, progress=False)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 4
    for t in complete:
        assert t.values == pytest.approx([t.params["x"], 1 - t.params["x"]])
        assert t.constraints == pytest.approx({"x_small": t.params["x"] - 0.5})
        assert t.intermediate_values == {} and t.user_attrs["learning_curve"] == [t.params["x"] / 2]
    failed = study.trials[2]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert 'expected the last line of stdout to be {"values": [<2 numbers>]}' in failed.user_attrs["error"]


@pytest.mark.parametrize(
    ("line", "n", "expected"),
    [
        ('{"values": [1, 2]}', 2, {"values": [1.0, 2.0], "constraints": None}),
        ('{"values": [1, 2], "constraints": {"c": -1}}', 2, {"values": [1.0, 2.0], "constraints": {"c": -1}}),
    ],
)
def test_parse_result_of_several_objectives(line, n, expected):
    assert parse_result(line, n) == expected
    for bad in ("0.5", '{"value": 1}', '{"values": [1, "a"]}', '{"values": [1, 2], "other": 1}', None):
        with pytest.raises(CommandFailed, match="values"):
            parse_result(bad, 2)
    with pytest.raises(CommandFailed, match="constraints"):
        parse_result('{"values": [1, 2], "constraints": [1]}', 2)
