"""Fault injection: rules that make the emulator answer errors, slow down or break connections.

A rule matches requests by method, path and (for creates) the body's `model`, fires with a
probability drawn from its own seeded `random.Random` (so a run is reproducible), at most `count`
times, and does one of:

- `status`: answer `status` (default 503) with the API's error envelope and the spec's error id
  for that status (see `error_id_for`), or with `body`; 502 answers as a gateway does, with a
  non-JSON body; 429 and 503 carry `Retry-After` (whole seconds) and `retry-after-ms` from
  `retry_after` (default 1 s);
- `latency`: wait `latency_ms` before the request is handled (other rules still apply after it);
- `late`: handle the request (a create really creates), then hold its answer `latency_ms`
  before sending it (the answer to a create that is already made, still on its way);
- `drop`: close the connection (FIN) before any response byte;
- `reset`: abort the connection (RST, via SO_LINGER 0);
- `truncate`: handle the request, send the headers with the full Content-Length and the first
  `fraction` (default 0.5) of the body, then close the connection;
- `hang`: never answer, until the client disconnects, the rules are cleared or the server stops;
- `post_commit`: handle the request completely (a create really creates), then lose the
  answer: `then` says how: `drop` (the default: close the connection, FIN), `reset` (RST),
  `hang` (never answer, as `hang`: the client times out after its request was written); with
  `status`, answer that error status instead (a gateway failing after the API did the work).

Connection faults act on the real socket: `FaultMiddleware` wraps the whole application, so the
`send` it gets is the server's own (uvicorn's `RequestResponseCycle.send`), whose `transport` it
closes or aborts. The control API (`/_emulator/...`) is never faulted. With no rules, a request
costs one attribute check. A request ended by `status`, `drop`, `reset` or `hang` never reaches
the API, so `state()["requests"]` does not count it; each rule's `fired` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import math
import random
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ._errors import ApiError, dump_json, error_id_for
from ._http import parse_json

KINDS = ("status", "latency", "late", "drop", "reset", "truncate", "hang", "post_commit")
"""Every fault kind."""

CONTROL_PREFIX = "/_emulator"
DEFAULT_STATUS = 503
DEFAULT_RETRY_AFTER = 1.0
DEFAULT_FRACTION = 0.5
CLOSE_WAIT_SECONDS = 1.0
"""How long a connection fault waits for the server to notice the closed connection."""


GATEWAY_BODY = (
    "<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"
)
"""What a 502 fault answers. The spec's only id for 502 is PREDICTION_FAILED, the service's
definitive answer to an unknown prediction id; a fault stands for a failing gateway instead, which
answers with a non-JSON body (a variant the spec lists), not with an id of the API."""


_SPEC_FIELDS = (
    "kind",
    "method",
    "path",
    "model",
    "probability",
    "count",
    "seed",
    "status",
    "body",
    "error_id",
    "retry_after",
    "latency_ms",
    "fraction",
    "then",
)
POST_COMMIT_ENDINGS = ("drop", "reset", "hang")
"""How a `post_commit` fault loses the answer (`then`)."""


@dataclass
class FaultRule:
    """One fault rule (see the module docstring); `fired` counts the times it acted."""

    id: str
    kind: str
    method: str | None = None
    path: str | None = None
    model: str | None = None
    probability: float = 1.0
    count: int | None = None
    seed: int | None = None
    status: int | None = None
    body: Any = None
    error_id: str | None = None
    retry_after: float | None = None
    latency_ms: float | None = None
    fraction: float | None = None
    then: str | None = None
    fired: int = 0
    random: random.Random = field(default_factory=random.Random, repr=False)

    @property
    def exhausted(self) -> bool:
        """Whether it has fired `count` times already."""
        return self.count is not None and self.fired >= self.count

    def matches(self, method: str, path: str) -> bool:
        """Whether method and path match (the model is checked separately, it needs the body)."""
        if self.exhausted or (self.method is not None and self.method != method):
            return False
        return self.path is None or path_matches(self.path, path)

    def fire(self) -> bool:
        """Draw against the probability; count the firing when it fires."""
        if self.exhausted:
            return False
        if self.probability < 1.0 and self.random.random() >= self.probability:
            return False
        self.fired += 1
        return True

    def response(self) -> Response:
        """The answer of a `status` fault."""
        status = self.status or DEFAULT_STATUS
        headers: dict[str, str] = {}
        retry_after = self.retry_after
        if retry_after is None and status in (429, 503):
            retry_after = DEFAULT_RETRY_AFTER
        if retry_after is not None:
            headers["Retry-After"] = str(math.ceil(retry_after))
            headers["retry-after-ms"] = str(round(retry_after * 1000))
        if isinstance(self.body, str):
            return Response(self.body, status, headers, media_type="text/plain; charset=utf-8")
        if self.body is not None:
            return Response(dump_json(self.body), status, headers, media_type="application/json")
        if status == 502 and self.error_id is None:
            return Response(GATEWAY_BODY, status, headers, media_type="text/html; charset=utf-8")
        error_id = self.error_id or error_id_for(status)
        message = f"Injected fault: HTTP {status}"
        return ApiError(status, error_id, message, {"fault": self.id}, headers).response()

    def to_json(self) -> dict[str, Any]:
        """The rule as a JSON-ready dict (with `fired` and `remaining`)."""
        data = {name: getattr(self, name) for name in ("id", *_SPEC_FIELDS)}
        data["fired"] = self.fired
        data["remaining"] = None if self.count is None else max(0, self.count - self.fired)
        return data


def path_matches(pattern: str, path: str) -> bool:
    """A glob (`*`, `?`, `[...]`; `*` also matches `/`) or a path prefix on segment boundaries."""
    if any(char in pattern for char in "*?["):
        return fnmatch.fnmatchcase(path, pattern)
    prefix = pattern.rstrip("/")
    return path in (prefix, pattern) or path.startswith(prefix + "/")


class Faults:
    """The fault rules of one emulator; used on the server's event loop only."""

    def __init__(self) -> None:
        self.rules: list[FaultRule] = []
        self._numbers = 0
        self._released = asyncio.Event()

    def add(self, spec: dict[str, Any]) -> FaultRule:
        """Validate a rule spec (the fields of `FaultRule`), add it, and return it.

        ApiError 400 INVALID_PARAMETER names the first bad field.
        """
        unknown = sorted(set(spec) - set(_SPEC_FIELDS))
        if unknown:
            raise _bad(unknown[0], f"unknown fault field(s): {', '.join(unknown)}")
        rule = _validated(spec, f"fault-{self._numbers + 1}")
        self._numbers += 1
        self.rules.append(rule)
        return rule

    def clear(self) -> int:
        """Remove every rule and release hung requests; returns how many rules there were."""
        count = len(self.rules)
        self.rules.clear()
        self.release()
        return count

    def release(self) -> None:
        """End every `hang` and `latency` in progress (rules are kept; server stop, clear)."""
        released, self._released = self._released, asyncio.Event()
        released.set()

    def to_json(self) -> list[dict[str, Any]]:
        """Every rule, in matching order."""
        return [rule.to_json() for rule in self.rules]

    async def pause(self, seconds: float) -> None:
        """Sleep, but return early when released."""
        released = self._released
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(released.wait(), seconds)

    async def until_released(self) -> None:
        """Wait until `release()` (or `clear()`) is called."""
        await self._released.wait()


def _bad(name: str, message: str) -> ApiError:
    return ApiError(400, "INVALID_PARAMETER", message, {"parameter": name})


def _number(spec: dict[str, Any], name: str, low: float, high: float | None) -> float | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _bad(name, f"{name} must be a number")
    if value < low or (high is not None and value > high):
        raise _bad(name, f"{name} must be between {low:g} and {high:g}" if high else f">= {low:g}")
    return float(value)


def _integer(spec: dict[str, Any], name: str, low: int, high: int | None = None) -> int | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(name, f"{name} must be an integer")
    if value < low or (high is not None and value > high):
        raise _bad(
            name, f"{name} must be an integer >= {low}" + (f" and <= {high}" if high else "")
        )
    return value


def _text(spec: dict[str, Any], name: str) -> str | None:
    value = spec.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise _bad(name, f"{name} must be a non-empty string")
    return value


def _validated(spec: dict[str, Any], rule_id: str) -> FaultRule:
    kind = spec.get("kind")
    if kind not in KINDS:
        raise _bad("kind", f"kind must be one of {', '.join(KINDS)}")
    path = _text(spec, "path")
    if path is not None and not path.startswith("/"):
        raise _bad("path", "path must start with /")
    method = _text(spec, "method")
    probability = _number(spec, "probability", 0.0, 1.0)
    latency_ms = _number(spec, "latency_ms", 0.0, None)
    if kind in ("latency", "late") and latency_ms is None:
        raise _bad("latency_ms", f"a {kind} fault needs latency_ms")
    fraction = _number(spec, "fraction", 0.0, 1.0)
    if fraction is not None and fraction >= 1.0:
        raise _bad("fraction", "fraction must be below 1 (some of the body must be missing)")
    seed = _integer(spec, "seed", -(2**63))
    then = _text(spec, "then")
    if then is not None and (kind != "post_commit" or then not in POST_COMMIT_ENDINGS):
        raise _bad(
            "then", f"then is for post_commit faults: one of {', '.join(POST_COMMIT_ENDINGS)}"
        )
    return FaultRule(
        id=rule_id,
        kind=kind,
        method=method.upper() if method else None,
        path=path,
        model=_text(spec, "model"),
        probability=1.0 if probability is None else probability,
        count=_integer(spec, "count", 1),
        seed=seed,
        status=_integer(spec, "status", 400, 599),
        body=spec.get("body"),
        error_id=_text(spec, "error_id"),
        retry_after=_number(spec, "retry_after", 0.0, None),
        latency_ms=latency_ms,
        fraction=fraction,
        then=then,
        random=random.Random(seed),
    )


# ---- the middleware ------------------------------------------------------------------------


class FaultMiddleware:
    """Applies the fault rules of `faults` to every HTTP request outside the control API.

    It must wrap the whole application (nothing between it and the server), so that `send` is the
    server's own and its connection can be closed or aborted.
    """

    def __init__(self, app: ASGIApp, faults: Faults) -> None:
        self.app = app
        self.faults = faults

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.faults.rules or scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path")
        path = raw.decode("latin-1") if raw else scope["path"]
        method = scope["method"]
        candidates = [rule for rule in self.faults.rules if rule.matches(method, path)]
        if not candidates or path.startswith(CONTROL_PREFIX):
            await self.app(scope, receive, send)
            return
        model: str | None = None
        if any(rule.model is not None for rule in candidates):
            first = await _whole_request(receive)
            receive = _replaying(first, receive)
            model = _model_of(first.get("body", b""))
        delay, chosen = 0.0, None
        for rule in candidates:
            if (rule.model is not None and rule.model != model) or not rule.fire():
                continue
            if rule.kind != "latency":
                chosen = rule
                break
            delay += (rule.latency_ms or 0.0) / 1000
        if delay:
            await self.faults.pause(delay)
        if chosen is None:
            await self.app(scope, receive, send)
        elif chosen.kind == "status":
            await chosen.response()(scope, receive, send)
        elif chosen.kind == "late":
            start, body = await _captured(self.app, scope, receive)
            await self.faults.pause((chosen.latency_ms or 0.0) / 1000)
            if start is not None:
                await send(start)
                await send({"type": "http.response.body", "body": body, "more_body": False})
        else:
            await self._break(chosen, scope, receive, send)

    async def _break(self, rule: FaultRule, scope: Scope, receive: Receive, send: Send) -> None:
        """The connection faults: drop, reset, truncate, hang, post_commit."""
        cycle = getattr(send, "__self__", None)  # uvicorn's RequestResponseCycle
        transport: asyncio.Transport | None = getattr(cycle, "transport", None)
        if transport is None:
            raise ConnectionAbortedError(f"injected {rule.kind}: the server gives no socket access")
        if rule.kind == "hang":
            await self._hang(receive)
        elif rule.kind == "drop":
            await _whole_request(receive)  # closing with unread data would send RST, not FIN
        elif rule.kind in ("truncate", "post_commit"):
            start, body = await _captured(self.app, scope, receive)
            if rule.kind == "truncate" and start is not None:
                await _send_truncated(send, start, body, rule.fraction)
            elif rule.kind == "post_commit" and rule.status is not None:
                await rule.response()(scope, _nothing_more, send)
                return
            elif rule.kind == "post_commit" and rule.then == "hang":
                await self._hang(receive)
        if rule.kind == "reset" or (rule.kind == "post_commit" and rule.then == "reset"):
            _abort(transport)
        else:
            transport.close()
        await _wait_disconnect(receive)

    async def _hang(self, receive: Receive) -> None:
        """Until the client disconnects or the faults are released."""
        waiters = [
            asyncio.ensure_future(_disconnect(receive)),
            asyncio.ensure_future(self.faults.until_released()),
        ]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()


async def _nothing_more() -> Message:
    """The `receive` of an answer sent after the request body was read."""
    return {"type": "http.request", "body": b"", "more_body": False}


async def _whole_request(receive: Receive) -> Message:
    """Read the whole request body into one `http.request` message."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _replaying(first: Message, receive: Receive) -> Receive:
    """A `receive` that answers `first` once, then defers to the server's."""
    pending = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _model_of(body: bytes) -> str | None:
    try:
        data = parse_json(body)
    except ApiError:
        return None
    model = data.get("model") if isinstance(data, dict) else None
    return model if isinstance(model, str) else None


async def _captured(app: ASGIApp, scope: Scope, receive: Receive) -> tuple[Message | None, bytes]:
    """Run the application to the end; its response start message and whole body."""
    start: list[Message] = []
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        if message["type"] == "http.response.start":
            start.append(message)
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    return (start[0] if start else None), b"".join(chunks)


async def _send_truncated(send: Send, start: Message, body: bytes, fraction: float | None) -> None:
    """The headers with the full Content-Length, then only part of the body."""
    headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
    headers.append((b"content-length", str(len(body)).encode()))
    cut = max(0, min(len(body) - 1, int(len(body) * (fraction or DEFAULT_FRACTION))))
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": body[:cut], "more_body": True})


def _abort(transport: asyncio.Transport) -> None:
    """Abort with a TCP RST: SO_LINGER with a zero timeout, then close without flushing."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer: nothing to reset
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _disconnect(receive: Receive) -> None:
    """Return once the server reports the client's disconnection."""
    while (await receive())["type"] != "http.disconnect":
        pass


async def _wait_disconnect(receive: Receive) -> None:
    """Wait (briefly) until the server has seen the connection close, so that it neither logs
    an unfinished response nor writes an error response of its own into the closed socket."""
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(_disconnect(receive), CLOSE_WAIT_SECONDS)
