"""Shared CLI pieces: the --storage option, opening a study by name, number formatting."""

from __future__ import annotations

import re
from typing import Any

import click
import optuna

from hpsearch._format import fmt_number

storage_option = click.option(
    "--storage",
    default=None,
    metavar="URL",
    help="Database URL (default: env HPSEARCH_STORAGE, else sqlite:///hpsearch.db in the current directory).",
)


def next_command(words: str, storage: str | None) -> str:
    """A ``next: hpsearch ...`` line that works when pasted: it keeps an explicit ``--storage``
    (shown with any password masked; an env HPSEARCH_STORAGE reaches the next command by itself)."""
    if storage is None:
        return f"next: hpsearch {words}"
    import shlex

    from hpsearch.storage import display_url

    return f"next: hpsearch {words} --storage {shlex.quote(display_url(storage))}"


def open_existing(storage: str | None, *, read_only: bool = True) -> tuple[str, optuna.storages.RDBStorage | None]:
    """(url, storage); storage is None when the URL names a SQLite file that does not exist.

    Read-only commands must not create an empty database as a side effect of a typo,
    nor change the file they read (``read_only``: see hpsearch.storage.open_storage).
    """
    from hpsearch.storage import open_storage, resolve_storage_url, storage_exists

    url = resolve_storage_url(storage)
    if not storage_exists(url):
        return url, None
    return url, open_storage(url, heartbeat=not read_only, read_only=read_only)


def load_named_study(storage: str | None, name: str, *, read_only: bool = True) -> tuple[str, Any, optuna.Study, Any]:
    """(url, storage, study, spec) of an existing study; StudyNotFound otherwise.

    A study hpsearch cannot show (multi-objective) is a UserError that says
    why: exit 2, no traceback. A single-objective study made by other Optuna
    code has no stored spec: spec is None then.
    """
    from hpsearch.search import load_study
    from hpsearch.storage import SPEC_ATTR, find_study_id, missing_storage

    url, st = open_existing(storage, read_only=read_only)
    if st is None:
        raise missing_storage(url, name)
    study_id = find_study_id(st, name)  # a multi-objective study too: show and best list its front
    if SPEC_ATTR not in st.get_study_user_attrs(study_id):  # a plain Optuna study: read as it is
        return url, st, optuna.load_study(study_name=name, storage=st), None
    study, spec = load_study(st, name)
    return url, st, study, spec


def shown(text: Any) -> str:
    """Stored text made safe for a terminal: unprintable characters escaped (an ESC sequence, a bidi
    override in a name or a parameter of a study made by other code), rich markup escaped."""
    from rich.markup import escape

    from hpsearch._names import printable

    return escape(printable(str(text)))


def fmt(value: Any) -> str:
    """Numbers to 6 significant digits (hpsearch._format); everything else as text."""
    return fmt_number(value, 6, none="None", nan="nan")


# The library's messages name its parameters as the Python API spells them (n_trials); on the
# command line the same setting is an option (--n-trials). The shell translates, the library never
# writes command lines. Only a name used as a setting (followed by ":", "=", a number, "to" or ")"),
# never after "." (spec keys: study.n_trials) or inside a word.
_PARAMETERS = re.compile(
    r"(?<![\w.\-'\"])(n_trials|max_failures|eval_seeds|timeout|jobs|seeds|samplers)(?=:|=|\s+\d|\s+to\b|\))"
)


def cli_words(message: str) -> str:
    """A library message in the command line's words: ``n_trials 8`` -> ``--n-trials 8``."""
    return _PARAMETERS.sub(lambda m: "--" + m.group(1).replace("_", "-"), message)
