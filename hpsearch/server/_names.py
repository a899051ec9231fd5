"""Study names arriving in URLs and bodies are checked before any use, by the one rule of hpsearch._names.

Names in URLs may contain ``/`` (studies made by other Optuna tools may use
it; hpsearch's own names never do); names are only ever looked up in the
database, never joined to a filesystem path.
"""

from __future__ import annotations

from hpsearch._names import MAX_NAME_LENGTH, name_problem
from hpsearch.server._errors import ApiError

__all__ = ["MAX_NAME_LENGTH", "check_study_name"]


def check_study_name(name: str, *, status: int = 400) -> str:
    """Return ``name`` unchanged, or raise :class:`ApiError` explaining what is wrong."""
    problem = name_problem(name, lookup=True)
    if problem is not None:
        raise ApiError(status, f"study name {problem}")
    return name
