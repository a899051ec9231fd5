"""The README's "From Python / a notebook" example runs as written (in a scratch directory)."""

from __future__ import annotations

import re
from pathlib import Path

import optuna
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end >= 0 else len(text)]


def test_the_notebook_section_says_how_to_get_pandas():
    assert "pip install -e '.[pandas]'" in _section("From Python / a notebook")


def test_the_notebook_example_runs(tmp_path, monkeypatch, capsys):
    pytest.importorskip("pandas")  # the optional extra the example's trials_dataframe() needs
    (code,) = re.findall(r"```python\n(.*?)```", _section("From Python / a notebook"), re.S)
    monkeypatch.chdir(tmp_path)  # the example stores its studies in ./hpsearch.db
    monkeypatch.delenv("HPSEARCH_STORAGE", raising=False)
    namespace: dict = {"__name__": "__main__"}
    exec(compile(code, f"{README}:From Python / a notebook", "exec"), namespace)
    study, df, verdict = namespace["study"], namespace["df"], namespace["verdict"]
    assert isinstance(study, optuna.Study) and study.study_name == "parabola"
    assert len(df) == 20 and {"number", "value", "params_x", "params_activation"} <= set(df.columns)
    assert study.best_params["activation"] == "relu" and abs(study.best_params["x"] - 0.3) < 0.3
    assert verdict["comparison"] == "parabola" and verdict["repeats"] == 3 and verdict["budget"] == 8
    assert verdict["verdict"] in capsys.readouterr().out
    assert (tmp_path / "hpsearch.db").exists()
