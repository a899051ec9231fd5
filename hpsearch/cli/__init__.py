"""The ``hpsearch`` command line: a thin click shell over the library.

Exit codes: 0 success; 2 bad input (click usage errors and every
``UserError``: spec errors, unknown studies, bad URLs), printed as ONE line
``error: ...`` without a traceback; 130 after Ctrl-C (the running trial is
marked failed, so re-running resumes); 1 anything else.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback

import click

from hpsearch.cli._check_cmd import check
from hpsearch.cli._export_cmd import export
from hpsearch.cli._report_cmds import compare, report
from hpsearch.cli._run_cmds import run, worker
from hpsearch.cli._serve_cmd import serve
from hpsearch.cli._study_cmds import best, delete, show, studies
from hpsearch.errors import UserError
from hpsearch.search import quiet_pool_resets


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
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


for _command in (run, worker, studies, show, check, delete, best, compare, report, serve):
    cli.add_command(_command)
cli.add_command(export)


def main(argv: list[str] | None = None) -> int:
    """Console-script entry point; returns the exit code (see the module docstring)."""
    _quiet_libraries()
    try:
        code = cli.main(args=argv, prog_name="hpsearch", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__, KeyboardInterrupt):  # click turns Ctrl-C into Abort
            click.echo(_INTERRUPTED, err=True)
            return 130
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
        click.echo(f"error: {_one_line(str(exc))}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo(_INTERRUPTED, err=True)
        return 130
    except Exception as exc:
        from hpsearch.search import TooManyCrashes, WorkerFailed

        if isinstance(exc, (TooManyCrashes, WorkerFailed)) and not os.environ.get("HPSEARCH_DEBUG"):
            click.echo(f"error: {_one_line(str(exc))}", err=True)
        else:
            traceback.print_exc()
        return 1
    return code if isinstance(code, int) else 0


_INTERRUPTED = "interrupted: the running trial was marked failed; run the same command again to resume"


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _quiet_libraries() -> None:
    """Optuna logs every trial at INFO; our progress bar says it better. Warnings stay."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    quiet_pool_resets()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
