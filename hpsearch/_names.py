"""File- and URL-safe names, for report files, downloads and comparison arm studies."""

from __future__ import annotations

import re


def safe_name(name: str) -> str:
    """A file- and URL-safe version of a study name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "study"
