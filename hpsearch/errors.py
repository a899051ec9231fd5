"""Errors that mean "the user's input is wrong".

Everything that subclasses :class:`UserError` is reported as one clear line and
exit code 2 by the CLI, and as a JSON 4xx answer by the server. Anything else is
a bug or an environment problem (exit code 1).
"""

from __future__ import annotations


class UserError(Exception):
    """Bad input: a CLI argument, a spec file, an unknown study."""


class SpecError(UserError):
    """A study spec is malformed. The message names the file, the key and what was expected."""


class StudyNotFound(UserError):
    """A study name that the storage does not hold."""
