"""Shared CLI pieces: the --storage option, opening a study by name, number formatting."""

from __future__ import annotations

from typing import Any

import click
import optuna

storage_option = click.option(
    "--storage", default=None, metavar="URL",
    help="Database URL (default: env HPSEARCH_STORAGE, else sqlite:///hpsearch.db in the current directory).",
)


def open_existing(storage: str | None) -> tuple[str, optuna.storages.RDBStorage | None]:
    """(url, storage); storage is None when the URL names a SQLite file that does not exist.

    Read-only commands must not create an empty database as a side effect of a typo.
    """
    from hpsearch.storage import open_storage, resolve_storage_url, storage_exists

    url = resolve_storage_url(storage)
    if not storage_exists(url):
        return url, None
    return url, open_storage(url)


def load_named_study(storage: str | None, name: str) -> tuple[str, Any, optuna.Study, Any]:
    """(url, storage, study, spec) of an existing hpsearch study; StudyNotFound otherwise."""
    from hpsearch.search import load_study
    from hpsearch.storage import missing_storage

    url, st = open_existing(storage)
    if st is None:
        raise missing_storage(url, name)
    study, spec = load_study(st, name)
    return url, st, study, spec


def fmt(value: Any) -> str:
    """Numbers to 4-6 significant digits; everything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
