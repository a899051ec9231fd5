"""Fixtures of the storage tests (the fresh database itself is the root conftest's ``sqlite_storage``)."""

from __future__ import annotations

from typing import Any

import optuna
import pytest


@pytest.fixture
def env(sqlite_storage: Any) -> tuple[Any, Any, optuna.Study]:
    """(storage, its engine, study "s" in it): what the claims table's functions take."""
    study = optuna.create_study(study_name="s", storage=sqlite_storage)
    return sqlite_storage, sqlite_storage.engine, study
