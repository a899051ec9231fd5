"""The HTTP API's side of the trust rule (hpsearch.trust): refuse a remote spec naming code, programs or files.

:func:`refuse_remote_code` reads the raw JSON body of ``POST /api/studies``
before the spec is validated (so it holds whatever the spec models accept),
:func:`refuse_remote_spec` the validated spec; both answer 422 with the key and why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpsearch.trust import API_STUDY_ATTRS, COMMAND, REMOTE_OBJECTIVES, user_code_in

if TYPE_CHECKING:
    from hpsearch.spec import Spec

__all__ = ["API_STUDY_ATTRS", "refuse_remote_code", "refuse_remote_spec"]

_WHY = "not over the API: only spec files may name code, programs or files"


def _api_error(key: str, message: str) -> Exception:
    from hpsearch.server._errors import ApiError

    return ApiError(422, f"<api>: {key}: {message} ({_WHY})")


def refuse_remote_code(body: Any) -> None:
    """422 if the JSON body of ``POST /api/studies`` names user code, a command or a path.

    Runs before spec validation: a ``command`` key is refused even where the
    spec models know no such section, and the message says why it is refused
    rather than that it is unknown.
    """
    if not isinstance(body, dict):
        return  # not a spec at all: validation says so
    if COMMAND in body:
        raise _api_error("command", "a [command] table runs a program on the workers' machines")
    study = body.get("study")
    if isinstance(study, dict):
        objective = study.get("objective")
        if isinstance(objective, str) and objective not in REMOTE_OBJECTIVES:
            raise _api_error(
                "study.objective",
                "expected a built-in objective (mlp, text) or 'external' "
                f"(your client evaluates the trials), got {objective!r}",
            )
        if study.get("workdir") is not None:
            raise _api_error("study.workdir", "names a folder on the server's machine")
    data = body.get("data")
    if isinstance(data, dict) and data.get("path") is not None:
        raise _api_error("data.path", "names a file on the server's machine")


def refuse_remote_spec(spec: Spec) -> None:
    """422 if the validated spec names user code, a command or a path (see :func:`user_code_in`)."""
    key = user_code_in(spec)
    if key is not None:
        raise _api_error(key, "not allowed in a study created over the API")
