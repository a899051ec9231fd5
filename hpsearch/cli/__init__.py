"""The ``hpsearch`` command line: a thin click shell over the library.

Exit codes: 0 success; 2 bad input (click usage errors and every
``UserError``: spec errors, unknown studies, bad URLs), printed as ONE line
``error: ...`` without a traceback; 130 after Ctrl-C and 143 after SIGTERM (the
running trial is marked failed, so re-running resumes); 1 anything else: a failing objective or
database (one line too: unreachable for longer than HPSEARCH_DB_PATIENCE, a
SQLite file deleted while in use, a full disk), or a bug (a traceback; env
HPSEARCH_DEBUG=1 shows one for every error).
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import sys
import traceback

import click

from hpsearch.errors import UserError

# Each command's module, imported when the command is looked up (click's lazy-loading pattern):
# `hpsearch run` imports the run path only, not the report, server or table code of the others.
# `hpsearch --help` looks every command up, so it lists them all with their help.
COMMANDS = {
    "run": "hpsearch.cli._run_cmds:run",
    "worker": "hpsearch.cli._run_cmds:worker",
    "studies": "hpsearch.cli._study_cmds:studies",
    "show": "hpsearch.cli._study_cmds:show",
    "check": "hpsearch.cli._check_cmd:check",
    "delete": "hpsearch.cli._study_cmds:delete",
    "best": "hpsearch.cli._study_cmds:best",
    "compare": "hpsearch.cli._report_cmds:compare",
    "report": "hpsearch.cli._report_cmds:report",
    "serve": "hpsearch.cli._serve_cmd:serve",
    "export": "hpsearch.cli._export_cmd:export",
    "logs": "hpsearch.cli._logs_cmd:logs",
    "enqueue": "hpsearch.cli._control_cmds:enqueue",
    "stop": "hpsearch.cli._control_cmds:stop",
    "copy": "hpsearch.cli._control_cmds:copy",
}


class LazyGroup(click.Group):
    """A click group whose commands (``COMMANDS``: name -> "module:attribute") are imported on first use."""

    def __init__(self, *args, lazy_commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.lazy_commands, *super().list_commands(ctx)})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands and cmd_name not in self.commands:
            module, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):  # pragma: no cover - a wrong COMMANDS entry
                raise TypeError(f"{self.lazy_commands[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, lazy_commands=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="hpsearch", prog_name="hpsearch")
def cli() -> None:
    """Hyperparameter search over a NumPy MLP: grid, random, TPE and QMC search,
    stored in SQLite (or any SQLAlchemy database), with HTML reports.

    \b
    Examples:
      hpsearch run studies/quickstart.toml
      hpsearch compare studies/digits.toml --seeds 10 --jobs 2
      hpsearch report digits --open
      hpsearch studies

    Every command takes --storage URL (default: env HPSEARCH_STORAGE, else
    sqlite:///hpsearch.db in the current directory).
    """


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (see the module docstring).

    ``argv`` None: the process's own command line (the console script, ``python -m
    hpsearch.cli``). Such a process imports its libraries, runs one command and exits, so:

    * the command's module and its libraries (Optuna, SQLAlchemy, NumPy, rich) are imported
      with the garbage collector off, then frozen (``gc.freeze``) and the collector turned
      back on: they live as long as the process, and walking them in collection after
      collection cost 60-120 ms of start-up (measured with ``gc.callbacks``); forked
      workers inherit the frozen heap and skip it too;
    * the heap is frozen again before the process exits, so the interpreter's collections at
      exit skip it: they walked every object once more, 0.13-0.25 s of every command's exit
      (measured). Nothing is lost: every database write was committed before.

    Tests pass ``argv`` and keep a normal collector.
    """
    own = argv is None
    if own:
        gc.disable()
    try:
        _quiet_libraries()
        if own:
            _import_command(sys.argv[1:2])
    finally:
        if own:
            gc.freeze()
            gc.enable()
    try:
        return _main(argv)
    finally:
        if own:
            gc.freeze()


def _import_command(words: list[str]) -> None:
    """Import the module of the command named by ``words[0]``, if it names one (errors are left to click)."""
    target = COMMANDS.get(words[0]) if words else None
    if target is not None:
        try:
            importlib.import_module(target.split(":")[0])
        except Exception:  # pragma: no cover - click imports it again and reports the error
            pass


def _main(argv: list[str] | None) -> int:
    try:
        code = cli.main(args=argv, prog_name="hpsearch", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C (and our SIGTERM) into Abort
            return _interrupted(exc.__cause__)
        click.echo("aborted", err=True)
        return 1
    except click.UsageError as exc:
        where = f"hpsearch {exc.ctx.command_path.split(' ', 1)[1]}: " if exc.ctx and " " in exc.ctx.command_path else ""
        click.echo(f"error: {where}{_one_line(exc.format_message())}", err=True)
        return 2
    except click.ClickException as exc:
        click.echo(f"error: {_one_line(exc.format_message())}", err=True)
        return exc.exit_code
    except UserError as exc:
        from hpsearch.cli._common import cli_words

        click.echo(f"error: {cli_words(_one_line(str(exc)))}", err=True)
        return 2
    except KeyboardInterrupt as exc:
        return _interrupted(exc)
    except Exception as exc:
        from hpsearch.cli._common import cli_words
        from hpsearch.search import ObjectiveFailing, WorkerFailed
        from hpsearch.storage import DatabaseError, is_storage_error

        if os.environ.get("HPSEARCH_DEBUG"):
            traceback.print_exc()
        elif isinstance(exc, (ObjectiveFailing, WorkerFailed, DatabaseError)):
            click.echo(f"error: {cli_words(_one_line(str(exc)))}", err=True)
        elif is_storage_error(exc):  # the database failed (a full disk, a lost server): not a bug of ours
            click.echo(f"error: {_one_line(_database_trouble(exc))}", err=True)
        else:
            traceback.print_exc()
        return 1
    return code if isinstance(code, int) else 0


def _database_trouble(exc: BaseException) -> str:
    """One line for a database error that stopped a command (the disk filled up, the file became read-only)."""
    from hpsearch.storage import first_line

    text = first_line(exc)
    if "full" in text.lower():
        return f"the disk holding the database is full ({text}); free some space and run the same command again"
    if "readonly" in text.lower() or "read-only" in text.lower():
        return f"the database cannot be written ({text}): its file or filesystem is read-only"
    return f"database error: {text}"


_INTERRUPTED = "interrupted: the running trial was marked failed; run the same command again to resume"
_TERMINATED = (
    "terminated (SIGTERM): the running trials were stopped and marked interrupted, their slots free at once; "
    "run the same command again to resume"
)


def _interrupted(exc: KeyboardInterrupt) -> int:
    """Say how the run was stopped; 143 for SIGTERM (a scheduler's), 130 for Ctrl-C."""
    from hpsearch.search import Terminated

    if isinstance(exc, Terminated):
        click.echo(_TERMINATED, err=True)
        return 143
    click.echo(_INTERRUPTED, err=True)
    return 130


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _quiet_libraries() -> None:
    """Optuna logs every trial at INFO; our progress bar says it better. Warnings stay."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    from hpsearch.search import quiet_pool_resets

    quiet_pool_resets()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
