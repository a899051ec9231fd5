"""HTML reports: one self-contained offline file per study or comparison.

Public API::

    from hpsearch.report import report_html, write_report, study_report_html, comparison_report_html
    html = report_html(storage, "digits")            # a study, or a comparison group
    path = write_report(storage, "digits", "reports/digits.html")

``storage`` is an Optuna storage object or a storage URL. A name resolves to the
study of that name; otherwise to the comparison of that name (studies carrying
user attr ``comparison=<name>``); ``<name>-comparison`` always means the
comparison (that is also compare's default file name).

A comparison's report renders a verdict and never computes one: the verdict
it is handed (``verdict=``: what compare, ``hpsearch report`` or the server
got from hpsearch.comparison), else the one compare stored with the arm studies
if it is still theirs, else it says there is none yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna

from hpsearch._names import safe_name
from hpsearch.errors import StudyNotFound
from hpsearch.report._compare import comparison_page
from hpsearch.report._study import study_page
from hpsearch.results import StudyData, find_studies, stored_verdict, study_data
from hpsearch.storage import not_found

__all__ = [
    "StudyData",
    "comparison_report_html",
    "default_report_path",
    "report_html",
    "safe_name",
    "study_report_html",
    "write_report",
]


def _storage(storage: Any) -> optuna.storages.BaseStorage:
    if isinstance(storage, str):
        from hpsearch.storage import open_storage

        return open_storage(storage, heartbeat=False)
    return storage


def study_report_html(storage: Any, name: str) -> str:
    """The single-study report of study ``name``."""
    st = _storage(storage)
    for fs in st.get_all_studies():
        if fs.study_name == name:
            return study_page(study_data(st, fs))
    raise not_found(st, name)


def comparison_report_html(
    storage: Any, name: str, *, verdict: dict[str, Any] | None = None, arms: Sequence[StudyData] | None = None
) -> str:
    """The comparison report of the studies grouped as comparison ``name``, opening with ``verdict``
    (else the stored one; see the module docstring). ``arms``: its arm studies as just read from
    ``storage`` by the caller (compare has them), else they are read here."""
    st = _storage(storage)
    arms = list(arms) if arms is not None else find_studies(st, name)[1]
    if not arms:
        raise StudyNotFound(f"no comparison named {name!r} (no study has user attr comparison={name!r})")
    return comparison_page(name, arms, verdict if verdict is not None else stored_verdict(arms))


def report_html(storage: Any, name: str, *, verdict: dict[str, Any] | None = None) -> tuple[str, str]:
    """(kind, html) for a study or a comparison called ``name`` (kind: 'study' | 'comparison');
    ``verdict``: a comparison's verdict (else the stored one)."""
    st = _storage(storage)
    single, arms = find_studies(st, name)
    if single is not None:
        return "study", study_page(single)
    if not arms and name.endswith("-comparison"):
        name = name[: -len("-comparison")]
        arms = find_studies(st, name)[1]
    if arms:
        return "comparison", comparison_page(name, arms, verdict if verdict is not None else stored_verdict(arms))
    raise not_found(st, name)


def default_report_path(name: str, kind: str) -> Path:
    base = name[: -len("-comparison")] if name.endswith("-comparison") else name
    suffix = "-comparison" if kind == "comparison" else ""
    return Path("reports") / f"{safe_name(base)}{suffix}.html"


def write_report(
    storage: Any, name: str, path: str | Path | None = None, *, verdict: dict[str, Any] | None = None
) -> Path:
    """Write the report of ``name`` (study or comparison) and return its path."""
    kind, html = report_html(storage, name, verdict=verdict)
    out = Path(path) if path else default_report_path(name, kind)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out
