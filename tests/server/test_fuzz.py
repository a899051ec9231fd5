"""Property-based fuzzing of the HTTP API over its own OpenAPI schema: no input gives a 5xx.

The schema is generated from the app's routes (``app.openapi()``; the server
does not publish it). Every operation is called with path parameters, headers
and JSON bodies drawn from that schema, widened past its bounds (integers up to
2**70, floats including +-1e308, infinities and NaN, strings of any
characters, unknown keys, nesting), plus study specs with hostile numbers.
Deterministic (``derandomize=True``) and bounded (``max_examples``), so it runs
the same way in a few seconds on every machine.
"""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from hpsearch.server import create_app  # noqa: E402

SKIP = {"/static/plotly.min.js"}  # a 3.5 MB constant file: nothing to fuzz, slow to fetch
NAMES = ["grid", "tpe", "rand", "nope", "a/b", "multi"]

big_ints = st.one_of(
    st.integers(0, 5),  # the trials that exist
    st.integers(-3, 50),
    st.sampled_from([2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53, 2**63 - 1, 2**63, 2**64, -(2**63), -(2**31)]),
    st.integers(-(2**70), 2**70),
)
hostile_floats = st.one_of(
    st.floats(-10, 10),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, 1.0, -1e308, 1e308, 1e-300, 5e-324, 1.7976931348623157e308]),
)
scalars = st.one_of(st.none(), st.booleans(), big_ints, hostile_floats, st.text(max_size=20))
json_values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


def _param_entry() -> st.SearchStrategy:
    number = st.one_of(big_ints, hostile_floats)
    return st.one_of(
        st.fixed_dictionaries(
            {"type": st.just("float"), "low": number, "high": number},
            optional={"log": st.booleans(), "step": number, "grid": st.lists(number, max_size=4)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("int"), "low": big_ints, "high": big_ints},
            optional={"log": st.booleans(), "step": big_ints, "grid": st.lists(big_ints, max_size=4)},
        ),
        st.fixed_dictionaries(
            {"type": st.just("categorical"), "choices": st.lists(scalars, max_size=4)},
            optional={"grid": st.lists(scalars, max_size=3)},
        ),
        json_values,
    )


specs = st.fixed_dictionaries(
    {
        "study": st.fixed_dictionaries(
            {
                "name": st.one_of(st.sampled_from(NAMES), st.text(max_size=30)),
                "direction": st.sampled_from(["minimize", "maximize", "minimize", "sideways"]),
            },
            optional={
                "sampler": st.sampled_from(["grid", "random", "tpe", "qmc", "x"]),
                "n_trials": big_ints,
                "seed": big_ints,
                "pruner": st.sampled_from(["none", "median", "hyperband"]),
                "objective": st.sampled_from(["external", "external", "external", "mlp", "os:system", "command"]),
            },
        ),
        "space": st.dictionaries(st.sampled_from(["x", "y", "learning_rate", "width", ""]), _param_entry(), max_size=3),
    },
    optional={"data": st.one_of(st.none(), json_values), "training": json_values},
)


def _strategy(schema: dict, components: dict) -> st.SearchStrategy:
    """Values for a JSON schema, deliberately also outside its bounds and types now and then."""
    if "$ref" in schema:
        return _strategy(components[schema["$ref"].rsplit("/", 1)[1]], components)
    if "anyOf" in schema:
        return st.one_of(*[_strategy(s, components) for s in schema["anyOf"]])
    kind = schema.get("type")
    if "enum" in schema:
        shaped = st.sampled_from(schema["enum"])
    elif kind == "integer":
        shaped = st.one_of(big_ints, st.sampled_from([schema.get("maximum", 0), schema.get("minimum", 0)]).map(int))
    elif kind == "number":
        shaped = hostile_floats
    elif kind == "string":
        shaped = st.text(max_size=40)
    elif kind == "null":
        shaped = st.none()
    elif kind == "array":
        shaped = st.lists(_strategy(schema.get("items", {}), components), max_size=3)
    elif kind == "object" and "properties" in schema:
        props = {k: _strategy(v, components) for k, v in schema["properties"].items()}
        required = set(schema.get("required", ()))
        shaped = st.fixed_dictionaries(
            {k: v for k, v in props.items() if k in required},
            optional={k: v for k, v in props.items() if k not in required},
        )
    elif kind == "object":
        shaped = specs
    else:
        shaped = json_values
    return st.one_of(shaped, shaped, shaped, json_values)  # mostly the right shape: reach past validation


def _operations(app) -> list[tuple[str, str, dict]]:
    schema = app.openapi()
    return [
        (method, path, op) for path, ops in schema["paths"].items() if path not in SKIP for method, op in ops.items()
    ], schema.get("components", {}).get("schemas", {})


@st.composite
def _requests(draw, operations, components) -> tuple[str, str, dict, Any]:
    method, path, op = draw(st.sampled_from(operations))
    headers: dict[str, bytes] = {}
    query: dict[str, Any] = {}
    url = path
    for param in op.get("parameters", []):
        if param["in"] == "path":
            if param["schema"].get("type") == "integer":
                value = str(draw(st.one_of(big_ints, st.text(max_size=12))))
            else:
                value = draw(st.one_of(st.sampled_from(NAMES), st.sampled_from(NAMES), st.text(max_size=30)))
            url = url.replace("{" + param["name"] + "}", quote(value, safe="/") or "x")  # as a client sends it
        elif param["in"] == "header" and draw(st.booleans()):
            value = draw(st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=260))
            headers[param["name"]] = value.encode("latin-1")  # HTTP header bytes
        elif param["in"] == "query" and draw(st.booleans()):
            query[param["name"]] = draw(st.lists(st.sampled_from(NAMES), max_size=3))
    body = None
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if content is not None:
        body = draw(_strategy(content["schema"], components))
    return method, url, {"headers": headers, "params": query}, body


@pytest.mark.slow
def test_no_request_from_the_schema_gives_a_server_error(storage_url):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    multi = optuna.create_study(study_name="multi", storage=storage_url, directions=["minimize", "maximize"])
    multi.optimize(lambda t: (t.suggest_float("a", 0, 1), 1.0), n_trials=2)
    app = create_app(storage_url)
    operations, components = _operations(app)
    assert {p for _, p, _ in operations} >= {
        "/api/studies/{name}/ask",
        "/api/studies/{name}/tell",
        "/api/studies/{name}/trials/{number}/report",
        "/api/studies",
    }
    server_errors: list = []
    calls = [0]
    with TestClient(app, base_url="http://127.0.0.1", raise_server_exceptions=False) as client:
        space = {"x": {"type": "float", "low": 0.0, "high": 1.0}, "c": {"type": "categorical", "choices": [1, 2]}}
        for name, sampler in (("grid", "grid"), ("tpe", "tpe"), ("rand", "random")):
            spec = {
                "study": {
                    "name": name,
                    "direction": "minimize",
                    "sampler": sampler,
                    "n_trials": 30,
                    "pruner": "median",
                },
                "space": space,
            }
            assert client.post("/api/studies", json=spec).status_code == 201
            for _ in range(2):
                client.post(f"/api/studies/{name}/ask")

        @settings(
            max_examples=250, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(_requests(operations, components))
        def call(request) -> None:
            method, url, kw, body = request
            if body is not None:  # NaN and Infinity as Python's json writes them, as some clients do
                kw["content"] = json.dumps(body).encode()
                kw["headers"] = {**kw["headers"], "Content-Type": "application/json"}
            r = client.request(method.upper(), url, **kw)
            calls[0] += 1
            if r.status_code >= 500:
                server_errors.append((method, url, body, r.status_code, r.text[:200]))
            elif r.status_code >= 400 and r.headers.get("content-type", "").startswith("application/json"):
                assert set(r.json()) == {"error"}, (method, url, r.text)

        started = time.monotonic()
        call()
        print(f"fuzz: {calls[0]} requests in {time.monotonic() - started:.1f} s, {len(server_errors)} server errors")
    assert server_errors == [], f"{len(server_errors)} server errors, e.g. {server_errors[:3]}"
