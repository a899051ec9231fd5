"""The CLI imports a command's module (and its dependencies) only when that command runs.

Checked in fresh interpreters: this test process has imported everything already.
"""

from __future__ import annotations

import json
import subprocess
import sys

from hpsearch.cli import COMMANDS, cli, main

# Never needed to run a study: the server, the reports, the statistics and scikit-learn.
HEAVY = ("fastapi", "starlette", "uvicorn", "plotly", "jinja2", "scipy", "sklearn", "pandas", "hpsearch.report")
OTHER_COMMANDS = sorted({m.split(":")[0] for m in COMMANDS.values()} - {"hpsearch.cli._run_cmds"})


def _imported_after(code: str) -> set[str]:
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_importing_the_cli_imports_no_command_and_nothing_heavy():
    modules = _imported_after("import hpsearch.cli")
    assert not modules & {*HEAVY, *OTHER_COMMANDS, "hpsearch.cli._run_cmds", "optuna", "sqlalchemy", "numpy"}


def test_looking_up_run_imports_the_run_path_only():
    modules = _imported_after("import click\nfrom hpsearch.cli import cli\ncli.get_command(click.Context(cli), 'run')")
    assert "hpsearch.cli._run_cmds" in modules and "hpsearch.search" in modules
    assert not modules & {*HEAVY, *OTHER_COMMANDS}


def test_help_lists_every_command(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)
    for name in COMMANDS:
        assert cli.get_command(None, name).name == name  # type: ignore[arg-type, union-attr]


def test_every_command_has_its_help_and_examples(capsys):
    for name in COMMANDS:
        assert main([name, "--help"]) == 0
        out = capsys.readouterr().out
        assert f"Usage: hpsearch {name}" in out and "Examples:" in out, name
