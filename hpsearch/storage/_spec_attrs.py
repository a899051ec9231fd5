"""The spec travels with the study, as Optuna study user attributes.

So ``report``, ``best``, ``worker`` (on any machine) need only the study name
and the storage URL. Alongside the spec we record what a reader of the results
needs to reproduce them: the sampler, every argument it was built with, the
Optuna version (5.0 changed TPE's defaults) and the seed.
"""

from __future__ import annotations

import difflib
from typing import Any

import optuna

from hpsearch.errors import StudyNotFound, UserError
from hpsearch.records import OPTUNA_VERSION_ATTR, SAMPLER_ARGS_ATTR, SAMPLER_ATTR, SEED_ATTR, SPEC_ATTR
from hpsearch.storage._urls import display_url


def save_spec(study: optuna.Study, spec: Any, *, sampler_args: dict | None = None) -> None:
    """Store ``spec`` (and sampler, sampler_args, optuna_version, seed) with the study."""
    study.set_user_attr(SPEC_ATTR, spec.to_dict())
    study.set_user_attr(SAMPLER_ATTR, spec.study.sampler)
    study.set_user_attr(SAMPLER_ARGS_ATTR, dict(sampler_args or {}))
    study.set_user_attr(OPTUNA_VERSION_ATTR, optuna.__version__)
    study.set_user_attr(SEED_ATTR, spec.study.seed)


def study_names(storage: optuna.storages.BaseStorage) -> list[str]:
    return [s.study_name for s in storage.get_all_studies()]


def find_study_id(storage: optuna.storages.BaseStorage, name: str) -> int:
    """The study's id; StudyNotFound (naming close matches) when there is none."""
    try:
        return storage.get_study_id_from_name(name)
    except KeyError:
        raise not_found(storage, name) from None


def not_found(storage: optuna.storages.BaseStorage, name: str) -> StudyNotFound:
    names = study_names(storage)
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
    if not names:
        hint = " (the storage holds no studies)"
    return StudyNotFound(f"no study named {name!r}{hint}")


def missing_storage(url: str, name: str, *, what: str = "study") -> StudyNotFound:
    """The error for a study (``what``) looked up in a SQLite file that does not exist.

    Commands that only read check storage_exists first, so a typo in the URL
    does not leave an empty database behind; this is what they say instead.
    """
    return StudyNotFound(f"no {what} named {name!r} (storage {display_url(url)} does not exist)")


def load_study_spec(storage: optuna.storages.BaseStorage, name: str):
    """The Spec stored with study ``name`` (StudyNotFound / UserError when missing)."""
    from hpsearch.spec import spec_from_dict

    study_id = find_study_id(storage, name)
    attrs = storage.get_study_user_attrs(study_id)
    if SPEC_ATTR not in attrs:
        raise UserError(f"study {name!r} has no stored hpsearch spec (was it created outside hpsearch?)")
    return spec_from_dict(attrs[SPEC_ATTR], source=f"study {name!r}", stored=True)
