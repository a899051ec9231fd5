"""Study names: the one rule every name must follow, and file- and URL-safe versions of them.

A study name is printed to terminals, put into HTML, URLs and file names, and
handed to commands. So one rule, for names from spec files, the ``--study-name``
option and the HTTP API alike (``name_problem``):

* 1 to 200 characters, every one printable: no control characters (NUL, BEL,
  ESC, DEL, U+0085, ...), no invisible format characters such as the bidi
  overrides (U+202E makes a terminal show text backwards), no line or
  paragraph separators;
* no path separators (``/``, ``\\``) and no ``..``: a name never reads as a path.

Studies made by other Optuna tools may have a ``/`` in their names; looking
such a study up (``lookup=True``) allows it, but nothing else.
"""

from __future__ import annotations

import re
import unicodedata

MAX_NAME_LENGTH = 200
_UNPRINTABLE = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}  # control, format, surrogate, private, unassigned


def name_problem(name: object, *, lookup: bool = False) -> str | None:
    """What is wrong with ``name`` as a study name (a phrase after "study name ..."), or None if nothing.

    ``lookup``: the name of an existing study to look up, which may contain ``/``.
    """
    if not isinstance(name, str) or not name:
        return "is empty (expected a non-empty string)"
    if len(name) > MAX_NAME_LENGTH:
        return f"is {len(name)} characters long; at most {MAX_NAME_LENGTH} are allowed"
    for i, ch in enumerate(name):
        if unicodedata.category(ch) in _UNPRINTABLE:
            what = unicodedata.name(ch, "a control character").lower()
            return f"has an unprintable character at position {i + 1} (U+{ord(ch):04X}, {what})"
    if "\\" in name or (not lookup and "/" in name):
        return "contains a path separator ('/' or '\\')" if not lookup else "contains a backslash"
    if ".." in name or name == ".":
        return "contains '..'"
    if lookup and any(part == "" for part in name.split("/")):
        return "has an empty segment between slashes"
    return None


def safe_name(name: str) -> str:
    """A file- and URL-safe version of a study name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.") or "study"


def printable(text: str) -> str:
    """``text`` with every unprintable character escaped (``\\x1b``, ``\\u202e``), for terminals.

    Stored data (names, errors, parameters of studies made by other code) may
    hold anything; printed raw, an ESC sequence would drive the terminal.
    """
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape").decode("ascii") for ch in text)
