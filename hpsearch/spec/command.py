"""Checks for objectives that run the user's own code: ``"command"`` and ``"module:function"``.

A ``[command]`` table's ``run`` is split like a shell (:func:`split_command`)
and each ``{name}`` in it must be a parameter the trial knows: a searched
``[space]`` entry or a fixed ``[training]`` setting. ``study.workdir`` (the
folder a user objective is imported from and a command runs in) is resolved
relative to the spec file, so the copy stored with a study still finds the
user's code when a worker, a resumed run or ``best --evaluate`` loads it.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

from hpsearch.spec.messages import NOTHING, spec_error
from hpsearch.spec.models import Spec

COMMAND_OBJECTIVE = "command"
PLACEHOLDER = re.compile(r"\{([A-Za-z_]\w*)\}")


def split_command(run: str) -> list[str]:
    """``run`` split like a POSIX shell would (quotes, backslashes); ValueError if unbalanced."""
    return shlex.split(run)


def placeholders(run: str) -> list[str]:
    """The ``{name}`` placeholders of a command line, in order of first appearance."""
    return list(dict.fromkeys(PLACEHOLDER.findall(run)))


def runs_user_code(objective: str) -> bool:
    """Whether the objective is the user's: a command or an importable function."""
    return objective == COMMAND_OBJECTIVE or ":" in objective


def check_user_code(spec: Spec, source: str, base_dir: Path | None, check_files: bool) -> None:
    """[command] and study.workdir: present where needed, consistent, resolved (in place)."""
    study = spec.study
    if study.objective != COMMAND_OBJECTIVE and spec.command is not None:
        raise spec_error(
            source,
            "command",
            f'no [command] table for objective {study.objective!r} (only objective = "{COMMAND_OBJECTIVE}" runs one)',
            spec.command.run,
        )
    if not runs_user_code(study.objective):
        if study.workdir is not None:
            raise spec_error(
                source,
                "study.workdir",
                f"no workdir for objective {study.objective!r} (only user functions and commands run in one)",
                study.workdir,
            )
        return
    _resolve_workdir(spec, source, base_dir, check_files)
    if study.objective == COMMAND_OBJECTIVE:
        _check_command(spec, source, check_files)


def _resolve_workdir(spec: Spec, source: str, base_dir: Path | None, check_files: bool) -> None:
    study = spec.study
    if study.workdir is None:
        if base_dir is not None:
            study.workdir = str(base_dir)
        return
    path = Path(study.workdir).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = (base_dir / path).resolve()
    if check_files and not path.is_dir():
        raise spec_error(source, "study.workdir", f"an existing folder (looked for {path})", study.workdir)
    study.workdir = str(path)


def _check_command(spec: Spec, source: str, check_files: bool) -> None:
    command = spec.command
    if command is None:
        raise spec_error(
            source, "command", 'a [command] table with run = "..." (required for objective = "command")', NOTHING
        )
    try:
        argv = split_command(command.run)
    except ValueError as exc:
        raise spec_error(source, "command.run", f"a command line split like a shell ({exc})", command.run) from None
    if not argv:
        raise spec_error(source, "command.run", "a program to run", command.run)
    known = {**spec.training, **spec.space}
    lines = [("command.run", command.run)]
    if command.test is not None:
        try:
            if not split_command(command.test):
                raise spec_error(source, "command.test", "a program to run", command.test)
        except ValueError as exc:
            raise spec_error(
                source, "command.test", f"a command line split like a shell ({exc})", command.test
            ) from None
        lines.append(("command.test", command.test))
    for key, line in lines:
        for name in placeholders(line):
            if name not in known:
                names = ", ".join(sorted(known)) or "none"
                raise spec_error(
                    source,
                    key,
                    f"placeholders naming a [space] or [training] parameter (known: {names})",
                    "{" + name + "}",
                )
    if check_files and not PLACEHOLDER.search(argv[0]):
        _check_program(argv[0], spec.study.workdir, source)


def _check_program(program: str, workdir: str | None, source: str) -> None:
    """The program must exist: a path (relative to the workdir) or a name on PATH."""
    if "/" in program:
        path = Path(program).expanduser()
        if not path.is_absolute() and workdir is not None:
            path = Path(workdir) / path
        if not path.is_file():
            raise spec_error(source, "command.run", f"a program that exists (looked for {path})", program)
    elif shutil.which(program) is None:
        raise spec_error(
            source,
            "command.run",
            "a program on PATH or a path to one (e.g. ./train.sh, relative to the spec file)",
            program,
        )
