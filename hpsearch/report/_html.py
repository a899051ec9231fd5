"""Render a report page: Jinja2 (autoescape on) + figures as escaped JSON.

Why this shape: the file must work offline and be safe to open. plotly.js is
embedded exactly once; each figure is JSON handed to ``Plotly.newPlot``. Text
from the database (study names, parameter values, attributes) reaches the page
two ways, and both are closed: HTML text goes through Jinja2's autoescaping, and
JSON inside ``<script>`` has ``<``, ``>``, ``&`` (and the JS line separators)
written as ``\\uXXXX`` escapes, so ``</script>`` or ``<!--`` in a name cannot end
the script element. Strings inside figures are additionally HTML-escaped
(:func:`plain`), because plotly renders a subset of HTML in labels.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import jinja2
import plotly.graph_objects as go
import plotly.io
import plotly.offline
from markupsafe import Markup

from hpsearch._format import fmt_number

_JS_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


@dataclass
class Figure:
    """One plot on the page: a heading, a caption saying how to read it, the figure."""

    key: str
    title: str
    fig: go.Figure
    caption: str = ""


def plain(text: Any) -> str:
    """A database string made safe to show as plotly label text."""
    return html.escape(str(text), quote=False)


def script_json(obj: Any) -> Markup:
    """JSON that can sit inside a <script> element without ending it."""
    text = obj if isinstance(obj, str) else json.dumps(obj, allow_nan=False, default=str)
    for ch, esc in _JS_ESCAPES.items():
        text = text.replace(ch, esc)
    return Markup(text)


def figure_json(fig: go.Figure) -> str:
    """Plotly JSON of a figure (numpy arrays become compact typed arrays)."""
    fig.update_layout(template="plotly_white")
    if fig.layout.margin.t is None:  # figures may ask for more room (parcoords labels)
        fig.update_layout(margin=dict(l=60, r=20, t=30, b=50))
    return plotly.io.to_json(fig, validate=False)


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("hpsearch.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@lru_cache(maxsize=1)
def _plotly_js() -> Markup:
    js = plotly.offline.get_plotlyjs()
    # never let the library text end our script element early
    return Markup(js.replace("</script", "<\\/script"))


def render(template: str, *, title: str, figures: list[Figure], **context: Any) -> str:
    """The whole HTML page of a report as one string."""
    payload = "[" + ",".join(f'{{"id":{json.dumps("fig-" + f.key)},"fig":{figure_json(f.fig)}}}' for f in figures) + "]"
    figs = {f.key: f for f in figures}
    return (
        _env()
        .get_template(template)
        .render(
            title=title,
            figs=figs,
            figures_json=script_json(payload),
            plotly_js=_plotly_js(),
            **context,
        )
    )


def fmt(x: Any, digits: int = 4) -> str:
    """Numbers as short text for tables (hpsearch._format: None blank, NaN as a dash)."""
    return fmt_number(x, digits)
