"""No remote code: what a study created over the HTTP API may name, and what workers run of it.

The trust boundary is the study database: a worker (``hpsearch worker NAME``,
``run``, ``compare``) runs whatever objective the spec stored with its study
names, so whoever can write the database can run code on the workers'
machines. The HTTP API is not such a boundary: anyone who can reach it (with
the token, if one is set) may create studies, and must not be able to make
every worker of a study run a program of their choice. Hence:

* the server (``hpsearch.server._trust``: the raw JSON body before validation,
  then the validated spec, by :func:`user_code_in`) allows a remote spec only
  the built-in objectives and datasets, or ``external`` (the client evaluates):
  no ``package.module:function``, no ``command`` objective or ``[command]``
  table, no file or folder (``data.path``, ``study.workdir``).
* ``API_STUDY_ATTRS`` (``created_by = "api"``) is written on every study the
  API creates (before its spec is stored, so no worker ever sees the spec
  without the mark), and :func:`check_may_run` makes a worker refuse an
  API-created study whose stored spec names user code or files anyway (a spec
  changed in the database afterwards, or a future hole in the checks above):
  user code runs only from specs that came from a file on a machine the user
  controls.

The rule lives here, below search (workers call :func:`check_may_run`) and the
server (which refuses such specs over HTTP); it imports nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hpsearch.errors import UserError
from hpsearch.records import CREATED_BY_ATTR
from hpsearch.storage import study_id_of

if TYPE_CHECKING:
    from hpsearch.spec import Spec

CREATED_BY_API = "api"
# What a remote client may name: hpsearch's own objectives, or "external" (trials evaluated by the client).
REMOTE_OBJECTIVES = ("mlp", "text", "external")
COMMAND = "command"


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
            "instead"
        )
