"""`skytells._core.batchfile`: request lines parsed and checked, inputs against a model's schema,
costs from prices, result lines."""

from __future__ import annotations

import json
from typing import Any

import pytest

from skytells._core.batchfile import (
    MAX_LINE_BYTES,
    BatchLine,
    CostEstimate,
    Problem,
    credits_used,
    fingerprint,
    invalid_batch,
    parse_line,
    request_cost,
    result_record,
    schema_problems,
)

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "prompt": {"type": "string", "minLength": 1},
        "num_outputs": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "guidance": {"type": "number", "exclusiveMaximum": 10},
        "aspect_ratio": {"type": "string", "enum": ["1:1", "16:9"]},
        "tags": {
            "type": "array",
            "items": {"type": "string", "pattern": "^[a-z]+$"},
            "maxItems": 2,
        },
        "mode": {"oneOf": [{"const": "fast"}, {"const": "slow"}]},
    },
    "required": ["prompt"],
    "additionalProperties": False,
}


def line(**fields: Any) -> bytes:
    return json.dumps(fields).encode()


def test_a_good_line_becomes_a_request() -> None:
    parsed = parse_line(3, line(custom_id="a", model="m", input={"prompt": "x"}, stream=True))
    assert isinstance(parsed, BatchLine)
    assert (parsed.line, parsed.custom_id, parsed.model, parsed.stream) == (3, "a", "m", True)
    assert parsed.payload() == {"model": "m", "input": {"prompt": "x"}, "stream": True}
    assert BatchLine.from_json(3, parsed.to_json()) == parsed


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"{oops", "not valid JSON"),
        (b"[1, 2]", "expected a JSON object, got an array"),
        (line(custom_id="a", model="m"), "missing field(s): input"),
        (line(custom_id="a", model="m", input={}, extra=1), "unknown field(s): extra"),
        (line(custom_id="", model="m", input={}), "custom_id must be a non-empty string"),
        (line(custom_id="a" * 300, model="m", input={}), "custom_id is longer"),
        (line(custom_id="a", model=5, input={}), "model must be a non-empty string"),
        (line(custom_id="a", model="m", input="x"), "input must be a JSON object"),
        (line(custom_id="a", model="m", input={}, webhook=3), "webhook must be a URL"),
        (line(custom_id="a", model="m", input={}, webhook={}), "webhook must have a 'url'"),
        (line(custom_id="a", model="m", input={}, stream="yes"), "stream must be true or false"),
        (b"\xff\xfe", "not UTF-8"),
        (b"[" * 100_000, "not valid JSON"),
        (b"x" * (MAX_LINE_BYTES + 1), "longer than"),
    ],
)
def test_each_bad_line_says_what_is_wrong(raw: bytes, problem: str) -> None:
    found = parse_line(7, raw)
    assert isinstance(found, Problem) and found.line == 7
    assert problem in found.problem


def test_blank_lines_are_skipped() -> None:
    assert parse_line(1, b"") is None and parse_line(2, b"   \t") is None


def test_one_error_lists_every_problem() -> None:
    error = invalid_batch(
        [Problem(2, "a"), Problem(5, "b"), Problem(9, "c"), Problem(10, "d")], 3, "f"
    )
    assert error.error_id == "INVALID_BATCH" and "7 bad line(s) in f" in str(error)
    assert "(and 4 more)" in str(error)
    assert error.details[:2] == [{"line": 2, "problem": "a"}, {"line": 5, "problem": "b"}]
    assert error.details[-1] == {"line": None, "problem": "3 more"}


def test_a_valid_input_has_no_problems() -> None:
    value = {"prompt": "x", "num_outputs": 2, "guidance": 9.5, "tags": ["a"], "mode": "fast"}
    assert schema_problems(SCHEMA, value) == []
    assert schema_problems(SCHEMA, {"prompt": "x", "num_outputs": 2.0}) == []  # 2.0 is an integer


def test_every_violation_is_named_by_its_path() -> None:
    problems = schema_problems(
        SCHEMA,
        {
            "num_outputs": 9,
            "guidance": 10,
            "aspect_ratio": "2:1",
            "tags": ["ok", "NO", "x"],
            "mode": "medium",
            "colour": "red",
        },
    )
    text = "\n".join(problems)
    assert "input.prompt: required" in text
    assert "input.num_outputs: 9 is more than the maximum 4" in text
    assert "input.guidance: 10 is not below 10" in text
    assert 'input.aspect_ratio: "2:1" is not one of "1:1", "16:9"' in text
    assert "input.tags: more than 2 items" in text
    assert "pattern" not in text  # "NO" breaks the pattern: the server's to say
    assert "input.mode: must match exactly one allowed form, matches 0" in text
    assert "input.colour: not an input of this model" in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"prompt": 3}, "input.prompt: expected string, got a number"),
        ({"prompt": "x", "num_outputs": True}, "expected integer, got a boolean"),
        ({"prompt": "x", "num_outputs": 1.5}, "expected integer, got a number"),
        ({"prompt": ""}, "shorter than 1 character(s)"),
    ],
)
def test_types_and_lengths(value: dict[str, Any], expected: str) -> None:
    assert any(expected in p for p in schema_problems(SCHEMA, value))


def test_what_the_validator_does_not_know_is_left_to_the_server() -> None:
    assert schema_problems({"type": "object", "if": {}, "then": {}}, {"a": 1}) == []
    assert schema_problems({"type": "string", "pattern": "(unclosed"}, "x") == []
    assert schema_problems(None, {"a": 1}) == []
    deep: dict[str, Any] = {"type": "object"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"a": deep}}
    value: Any = {}
    for _ in range(100):
        value = {"a": value}
    schema_problems(deep, value)  # bounded depth: no RecursionError


def model(amount: Any, unit: str, **schema_defaults: Any) -> dict[str, Any]:
    properties = {name: {"default": value} for name, value in schema_defaults.items()}
    return {
        "namespace": "m",
        "pricing": {"amount": amount, "currency": "USD", "unit": unit},
        "input_schema": {"properties": properties},
    }


@pytest.mark.parametrize(
    ("priced", "inputs", "cost"),
    [
        (model(0.03, "image"), {"num_outputs": 3}, 0.09),
        (model(0.03, "image", num_outputs=2), {}, 0.06),  # the schema's default
        (model(0.02, "second"), {"duration": 30}, 0.6),
        (model(0.5, "second"), {"seconds": "8"}, 4.0),
        (model(0.02, "second", duration=10), {}, 0.2),
        (model(0.001, "character"), {"text": "hello"}, 0.005),
        (model(0.000002, "token"), {"max_tokens": 500}, 0.001),
        (model(3.42, "prediction"), {}, 3.42),
    ],
)
def test_the_cost_of_a_request(priced: dict[str, Any], inputs: dict[str, Any], cost: float) -> None:
    assert request_cost(priced, inputs) == pytest.approx(cost)


@pytest.mark.parametrize("pricing", [None, {}, {"amount": "1"}, {"amount": -1}, {"amount": True}])
def test_no_usable_price_is_an_unknown_cost(pricing: Any) -> None:
    assert request_cost({"pricing": pricing}, {}) is None
    estimate = CostEstimate()
    estimate.add({"namespace": "free", "pricing": pricing}, {})
    assert estimate.unpriced == {"free": 1} and estimate.total == 0


def test_an_estimate_sums_by_model() -> None:
    estimate = CostEstimate()
    for _ in range(3):
        estimate.add(model(0.03, "image"), {"num_outputs": 2})
    assert estimate.by_model["m"]["requests"] == 3 and estimate.total == pytest.approx(0.18)
    assert estimate.to_dict()["currency"] == "USD"


def test_a_fingerprint_ignores_key_order() -> None:
    assert fingerprint("m", {"a": 1, "b": 2}) == fingerprint("m", {"b": 2, "a": 1})
    assert fingerprint("m", {"a": 1}) != fingerprint("n", {"a": 1})


def test_result_records() -> None:
    request = BatchLine(4, "c", "m", {"prompt": "x"})
    done = {
        "id": "p1",
        "status": "succeeded",
        "output": ["u"],
        "metadata": {"billing": {"credits_used": 0.03}},
    }
    assert result_record(request, done, None, ["f"]) == {
        "custom_id": "c",
        "line": 4,
        "id": "p1",
        "status": "succeeded",
        "output": ["u"],
        "error": None,
        "files": ["f"],
        "credits_used": 0.03,
    }
    refused = result_record(request, None, {"error_id": "INVALID_INPUT"}, [])
    assert refused["status"] == "not_created" and refused["id"] is None
    assert credits_used({"metadata": {"billing": {"credits_used": "lots"}}}) is None
    assert credits_used({"metadata": []}) is None


def test_server_patterns_are_never_evaluated() -> None:
    """A catastrophic-backtracking pattern from a server would take hours on one value; the
    validator leaves every ``pattern`` to the server."""
    schema = {"type": "object", "properties": {"p": {"type": "string", "pattern": "^(a+)+$"}}}
    assert schema_problems(schema, {"p": "a" * 5000 + "!"}) == []


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "number", "multipleOf": 0},
        {"type": "number", "multipleOf": "x"},
        {"$ref": "#/definitions/x"},
        {"type": "array", "items": [{"type": "string"}]},
        {"type": "object", "required": "p"},
        {"type": "object", "required": [1, None, {"a": 1}]},
        {"enum": 5},
        {"enum": [[1], {"a": 1}]},
        {"type": "object", "properties": [1]},
        {"type": "object", "properties": {"p": 5}},
        {"type": 7},
        {"type": ["string", 3, None]},
        {"minimum": "5", "maximum": 10**5000, "minLength": "1", "maxItems": None},
        {"anyOf": "x", "oneOf": [], "allOf": [5]},
        {"additionalProperties": 3},
    ],
)
def test_malformed_schema_keywords_are_ignored_never_a_crash(schema: dict[str, Any]) -> None:
    for value in ({"p": 1}, [1, "a"], "text", 3, 10**4000, None, True):
        assert isinstance(schema_problems(schema, value), list)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b'{"custom_id": "a", "model": "m", "input": {"n": NaN}}', "NaN"),
        (b'{"custom_id": "a", "model": "m", "input": {"n": -Infinity}}', "Infinity"),
        (b'{"custom_id": "a", "model": "m", "input": {"n": 1e400}}', "out of range"),
        (b'{"custom_id": "a", "model": "m", "input": {"n": ' + b"9" * 4000 + b"}}", "out of range"),
        (b'{"custom_id": "a", "model": "m", "input": {"n": ' + b"9" * 5000 + b"}}", "JSON"),
    ],
)
def test_numbers_no_json_reader_holds_are_bad_lines(raw: bytes, expected: str) -> None:
    found = parse_line(3, raw)
    assert isinstance(found, Problem) and expected in found.problem, found


def test_a_huge_integer_is_checked_against_the_schema_without_overflow() -> None:
    schema = {"type": "object", "properties": {"p": {"type": "integer", "maximum": 10}}}
    for huge in (10**400, 10**5000):
        problems = schema_problems(schema, {"p": huge})
        assert len(problems) == 1 and "more than the maximum 10" in problems[0]
    estimate = CostEstimate()
    model = {"namespace": "m", "pricing": {"amount": 0.1, "unit": "image"}}
    estimate.add(model, {"num_outputs": 10**400})
    assert estimate.total == pytest.approx(0.1)  # an unusable quantity counts as the default
