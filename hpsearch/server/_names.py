"""Study names arriving in URLs and bodies are checked before any use.

Names may contain ``/``, since studies made by other Optuna tools may use it;
names are only ever looked up in the database, never
joined to a filesystem path, but we still refuse anything that looks like a path
trick or would render badly: empty, ``.``/``..`` segments, backslashes,
control characters, or more than 200 characters.
"""

from __future__ import annotations

from hpsearch.server._errors import ApiError

MAX_NAME_LENGTH = 200


def check_study_name(name: str, *, status: int = 400) -> str:
    """Return ``name`` unchanged, or raise :class:`ApiError` explaining what is wrong."""
    if not isinstance(name, str) or not name:
        raise ApiError(status, "study name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise ApiError(status, f"study name is {len(name)} characters long; at most {MAX_NAME_LENGTH} allowed")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise ApiError(status, "study name must not contain control characters")
    if "\\" in name:
        raise ApiError(status, "study name must not contain a backslash")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise ApiError(status, "study name must not have empty, '.' or '..' segments between slashes")
    return name
