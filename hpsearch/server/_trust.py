"""No remote code: what a study created over the HTTP API may name, and what workers run of it.

The trust boundary is the study database: a worker (``hpsearch worker NAME``,
``run``, ``compare``) runs whatever objective the spec stored with its study
names, so whoever can write the database can run code on the workers'
machines. The HTTP API is not such a boundary: anyone who can reach it (with
the token, if one is set) may create studies, and must not be able to make
every worker of a study run a program of their choice. Hence:

* :func:`refuse_remote_code` (the raw JSON body, before the spec is validated,
  so it holds whatever the spec models accept) and :func:`refuse_remote_spec`
  (the validated spec) allow a remote spec only the built-in objectives and
  datasets, or ``external`` (the client evaluates): no ``package.module:function``,
  no ``command`` objective or ``[command]`` table, no file or folder
  (``data.path``, ``study.workdir``).
* ``API_STUDY_ATTRS`` (``created_by = "api"``) is written on every study the
  API creates (before its spec is stored, so no worker ever sees the spec
  without the mark), and :func:`check_may_run` makes a worker refuse an
  API-created study whose stored spec names user code or files anyway (a spec
  changed in the database afterwards, or a future hole in the checks above):
  user code runs only from specs that came from a file on a machine the user
  controls.

Imports nothing heavy at module level: workers call :func:`check_may_run`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpsearch.errors import UserError
from hpsearch.storage import study_id_of

if TYPE_CHECKING:
    from hpsearch.spec import Spec

CREATED_BY_ATTR = "created_by"
CREATED_BY_API = "api"
# What a remote client may name: hpsearch's own objectives, or "external" (trials evaluated by the client).
REMOTE_OBJECTIVES = ("mlp", "text", "external")
COMMAND = "command"

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


def user_code_in(spec: Spec) -> str | None:
    """The key of ``spec`` that names user code, a program or a local path; None if none does."""
    if spec.study.objective not in REMOTE_OBJECTIVES:
        return "study.objective"
    if getattr(spec, COMMAND, None) is not None:
        return COMMAND
    if getattr(spec.study, "workdir", None) is not None:
        return "study.workdir"
    if spec.data is not None and getattr(spec.data, "path", None) is not None:
        return "data.path"
    return None


def refuse_remote_spec(spec: Spec) -> None:
    """422 if the validated spec names user code, a command or a path (see :func:`user_code_in`)."""
    key = user_code_in(spec)
    if key is not None:
        raise _api_error(key, "not allowed in a study created over the API")


#: Study user attrs that mark a study the HTTP API created (written before its spec).
API_STUDY_ATTRS = {CREATED_BY_ATTR: CREATED_BY_API}


def check_may_run(storage: Any, study: Any, spec: Spec) -> None:
    """UserError if a worker must not run ``spec``: an API-created study naming user code or files."""
    attrs = storage.get_study_user_attrs(study_id_of(study))
    if attrs.get(CREATED_BY_ATTR) != CREATED_BY_API:
        return
    key = user_code_in(spec)
    if key is not None:
        raise UserError(
            f"study {study.study_name!r} was created over the HTTP API, and its stored spec names user code "
            f"or files ({key}); hpsearch runs those only from spec files. Create the study from a spec file "
            "with `hpsearch run SPEC` instead"
        )
