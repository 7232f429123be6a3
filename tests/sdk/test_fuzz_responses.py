"""Response fuzzing: whatever the server answers, every public call returns or raises a
`SkytellsError` subclass, never a raw exception (KeyError, TypeError, JSONDecodeError, ...).

Bodies come from the OpenAPI document's schemas (valid, then mutated), plus arbitrary JSON, random
bytes, truncated JSON and wrong content types, with random statuses and headers. They are fed
through an `httpx.MockTransport`: no real server produces arbitrary bytes on demand this fast.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skytells import SkytellsClient, SkytellsError
from skytells.emulator._openapi import load_openapi

SCHEMAS: dict[str, Any] = load_openapi()["components"]["schemas"]
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats()  # NaN and infinities too: Python's json reads and writes them
    | st.text(max_size=12)
)
ANY_JSON = st.recursive(
    JSON_LEAVES,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
NASTY = st.sampled_from(
    [
        *(None, True, 0, -1, 2**64, 1e308, float("inf"), float("-inf"), float("nan"), "", "x"),
        *([], {}, [1], {"a": 1}, "succeeded", "failed", "-", "http://127.0.0.1:9/x"),
    ]
)
"""Replacements that break assumptions: wrong types, non-finite numbers, huge values."""


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid against a JSON schema of the document (the keywords it uses)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return st.deferred(lambda: from_schema(SCHEMAS[name]))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for keyword in ("anyOf", "oneOf"):
        if keyword in schema:
            return st.one_of([from_schema(option) for option in schema[keyword]])
    kind = schema.get("type")
    if kind is None:
        return ANY_JSON
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": one}) for one in kind])
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {name: from_schema(properties[name]) for name in properties if name in required},
            optional={
                name: from_schema(sub) for name, sub in properties.items() if name not in required
            },
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=3)
    if kind == "string":
        text = st.text(min_size=schema.get("minLength", 0), max_size=16)
        examples = schema.get("examples")
        return st.sampled_from(examples) | text if examples else text
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False)
    return {"boolean": st.booleans(), "null": st.none()}[kind]


@st.composite
def mutated(draw: st.DrawFn, strategy: st.SearchStrategy[Any]) -> Any:
    """A valid value in which any node may be replaced (by an odd value or any JSON) and any key
    removed: about one node in six and one key in ten."""

    def walk(value: Any) -> Any:
        if draw(st.integers(0, 5)) == 0:
            return draw(NASTY | ANY_JSON)
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items() if draw(st.integers(0, 9)) != 0}
        if isinstance(value, list):
            return [walk(item) for item in value]
        return value

    return walk(draw(strategy))


SHAPES: dict[str, st.SearchStrategy[Any]] = {
    name: from_schema({"$ref": f"#/components/schemas/{name}"})
    for name in ("Prediction", "PredictionList", "Model", "Error")
}
SHAPES["ModelList"] = st.lists(SHAPES["Model"], max_size=3)
ANY_SHAPE = st.one_of(*SHAPES.values())

BODY_KINDS = ["valid", "mutated", "mutated", "mutated", "other", "truncated", "bytes", "empty"]
STATUSES = st.sampled_from(
    [200] * 12
    + [201, 204, 301, 302, 400, 401, 402, 403, 404, 408, 409, 422, 429, 451]
    + [500, 502, 503, 504]
) | st.integers(100, 599)
CONTENT_TYPES = st.sampled_from(
    ["application/json"] * 6
    + ["application/json; charset=utf-8", "text/html", "text/plain", "text/event-stream", ""]
)
HEADER_VALUES = st.sampled_from(
    ["1", "0", "-1", "0.001", "nan", "inf", "1e308", "-", "x"]
) | st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
OPTIONAL_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "retry-after",
            "retry-after-ms",
            "location",
            "x-request-id",
            "x-skytells-ratelimit-limit-requests",
            "x-skytells-ratelimit-remaining-requests",
            "x-skytells-ratelimit-window",
            "content-encoding",
        ]
    ),
    HEADER_VALUES | st.sampled_from(["gzip", "deflate", "br", "identity"]),
    max_size=3,
)


@st.composite
def bodies(draw: st.DrawFn, shape: str) -> bytes:
    """A body for a call expecting ``shape``: valid, mutated, another shape or any JSON (each
    possibly truncated), random bytes, or nothing."""
    kind = draw(st.sampled_from(BODY_KINDS))
    if kind == "bytes":
        return draw(st.binary(max_size=48))
    if kind == "empty":
        return b""
    expected = SHAPES[shape]
    value = draw(
        {
            "valid": expected,
            "mutated": mutated(expected),
            "other": ANY_SHAPE | mutated(ANY_SHAPE) | ANY_JSON,
            "truncated": expected | ANY_JSON,
        }[kind]
    )
    encoded = json.dumps(value).encode()
    if kind == "truncated":
        return encoded[: draw(st.integers(0, max(0, len(encoded) - 1)))]
    return encoded


Reply = tuple[int, dict[str, str], bytes]


@st.composite
def responses(draw: st.DrawFn, shape: str) -> Reply:
    """One arbitrary HTTP response (status, headers, body) to a call expecting ``shape``."""
    headers = draw(OPTIONAL_HEADERS)
    content_type = draw(CONTENT_TYPES)
    if content_type:
        headers["content-type"] = content_type
    return draw(STATUSES), headers, draw(bodies(shape))


def _scripted(replies: list[Reply]) -> httpx.MockTransport:
    """Answers the replies in turn, then the last one for ever (bodies sent as they are, even
    when their content-encoding is a lie)."""
    answers: Iterator[Reply] = itertools.chain(replies, itertools.repeat(replies[-1]))

    def handler(request: httpx.Request) -> httpx.Response:
        status, headers, body = next(answers)
        return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))

    return httpx.MockTransport(handler)


WAIT = {"interval": 1, "max_wait": 20}
MANY_IDS = [f"pred-{n}" for n in range(10)]  # enough for wait_many to read the listing


def _touch_page(client: SkytellsClient) -> object:
    page = client.predictions.list(page=1)
    return (len(page), page.pagination.has_next, [item.get("id") for item in page], page.to_dict())


def _touch_run(client: SkytellsClient) -> object:
    prediction = client.run("flux-pro", {"prompt": "x"}, max_wait=20)
    return (prediction.id, prediction.status, prediction.output, repr(prediction))


CALLS: dict[str, tuple[str, Callable[[SkytellsClient], object]]] = {
    "predictions.get": ("Prediction", lambda c: c.predictions.get("pred-1")),
    "predictions.list": ("PredictionList", _touch_page),
    "predictions.iter_all": (
        "PredictionList",
        lambda c: list(itertools.islice(c.predictions.iter_all(), 120)),
    ),
    "predictions.create": (
        "Prediction",
        lambda c: c.predictions.create({"model": "flux-pro", "input": {}}),
    ),
    "predict": ("Prediction", lambda c: c.predict({"model": "flux-pro", "input": {}})),
    "models.list": ("ModelList", lambda c: c.models.list()),
    "models.get": ("Model", lambda c: c.models.get("flux-pro", fields=["input_schema"])),
    "cancel": ("Prediction", lambda c: c.cancel_prediction("pred-1")),
    "delete": ("Prediction", lambda c: c.delete_prediction("pred-1")),
    "stream_prediction": ("Prediction", lambda c: c.stream_prediction("pred-1")),
    "run": ("Prediction", _touch_run),
    "wait": ("Prediction", lambda c: c.wait("pred-1", WAIT)),
    "wait_many": ("Prediction", lambda c: c.wait_many(["pred-1", "pred-2"], WAIT)),
    "wait_many (listing)": ("PredictionList", lambda c: c.wait_many(MANY_IDS, WAIT)),
    "run_many": (
        "Prediction",
        lambda c: list(c.run_many([{"model": "m", "input": {}}] * 2, options=WAIT)),
    ),
}


@pytest.mark.parametrize("name", list(CALLS))
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_calls_return_or_raise_skytells_errors(name: str, data: st.DataObject) -> None:
    shape, call = CALLS[name]
    replies = data.draw(st.lists(responses(shape), min_size=1, max_size=3), label="replies")
    http = httpx.Client(transport=_scripted(replies))
    client = SkytellsClient(
        "sk-fuzz-key-0000",
        base_url="http://127.0.0.1:9/v1",  # never contacted: the mock transport answers
        http_client=http,
        timeout=2000,
        poll_interval=1,
        retry={"retries": 1, "retry_delay": 1, "max_delay": 2, "max_retry_after": 5},
    )
    try:
        call(client)
    except SkytellsError as error:
        assert "sk-fuzz-key-0000" not in f"{error} {error!r} {error.details}"
    finally:
        http.close()
