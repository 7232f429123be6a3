"""`skytells.webhooks` end to end: the emulator delivers, the example Starlette receiver verifies,
de-duplicates and handles each event once."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import skytells
from skytells import SkytellsClient
from skytells import webhooks as wh
from skytells.webhooks import (
    WebhookDeduplicator,
    WebhookEvent,
    construct_event,
    parse_event,
    verify_signature,
)
from tests.asgi_server import serving
from tests.scripted_server import Reply, ScriptedServer

EXAMPLE = Path(__file__).parents[2] / "examples" / "webhook_receiver_starlette.py"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver_starlette", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


class Receiver:
    """The example receiver served on 127.0.0.1, recording the events it handled."""

    def __init__(self, secret: str, wrap: Callable[[ASGIApp], ASGIApp] | None = None) -> None:
        self.handled: list[WebhookEvent] = []
        app = example.create_app(secret, self.handled.append)
        self.app: ASGIApp = wrap(app) if wrap else app

    def serve(self) -> Any:
        return serving(self.app)


@pytest.fixture
def receiver(emu: Any) -> Iterator[tuple[Receiver, str]]:
    """The example receiver keyed by the emulator's API key, and its webhook URL."""
    rec = Receiver(emu.api_key)
    with rec.serve() as origin:
        yield rec, origin + example.PATH


def _done(emu: Any, poll: Callable[..., Any], prediction_id: str, count: int) -> list[Any]:
    return list(
        poll(
            lambda: emu.webhook_deliveries(prediction_id),
            lambda log: sum(d["outcome"] in ("delivered", "failed") for d in log) == count,
        )
    )


@pytest.mark.parametrize(
    "events",
    [["started", "completed"], ["prediction.started", "prediction.succeeded"]],
)
def test_signed_deliveries_of_a_real_prediction_are_handled_once(
    client: SkytellsClient,
    emu: Any,
    receiver: tuple[Receiver, str],
    poll: Callable[..., Any],
    events: list[str],
) -> None:
    rec, url = receiver
    prediction = client.run(
        "flux-pro", input={"prompt": "x"}, webhook={"url": url, "events": events}
    )
    log = _done(emu, poll, prediction.id, 2)
    assert [(d["event"], d["status_code"]) for d in log] == [(events[0], 200), (events[1], 200)]
    assert [(e.event, e.status, e.prediction_id) for e in rec.handled] == [
        (events[0], "starting", prediction.id),
        (events[1], "succeeded", prediction.id),
    ]
    assert rec.handled[-1].prediction == prediction.raw()
    assert rec.handled[-1].key == (prediction.id, "succeeded")


def test_a_receiver_that_fails_twice_then_succeeds_handles_the_event_once(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any]
) -> None:
    answered = 0

    def lose_two_answers(app: ASGIApp) -> ASGIApp:
        """The app handles every request, but its first two answers are lost (a 502 instead)."""

        async def flaky(scope: Scope, receive: Receive, send: Send) -> None:
            nonlocal answered
            answered += 1
            if answered > 2:
                await app(scope, receive, send)
                return

            async def discard(message: Message) -> None:
                pass

            await app(scope, receive, discard)
            await Response("bad gateway", 502)(scope, receive, send)

        return flaky

    rec = Receiver(emu.api_key, lose_two_answers)
    with rec.serve() as origin:
        webhook = {"url": origin + example.PATH, "events": ["completed"]}
        prediction = client.run("flux-pro", input={"prompt": "x"}, webhook=webhook)
        log = _done(emu, poll, prediction.id, 1)
    assert [(d["attempt"], d["status_code"], d["outcome"]) for d in log] == [
        (1, 502, "retrying"),
        (2, 502, "retrying"),
        (3, 200, "delivered"),
    ]
    assert [(e.event, e.prediction_id) for e in rec.handled] == [("completed", prediction.id)]


def test_the_seed_example_url_is_recorded_as_skipped(client: SkytellsClient, emu: Any) -> None:
    seed_url = "https://your-server.com/skytells-webhook"  # never contacted: not loopback
    prediction = client.run("flux-pro", input={"prompt": "x"}, webhook=seed_url)
    (entry,) = emu.webhook_deliveries(prediction.id)
    assert entry["outcome"] == "skipped" and entry["url"] == seed_url
    assert entry["event"] == "completed" and entry["status_code"] is None


@pytest.fixture
def captured(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any], scripted: ScriptedServer
) -> list[Any]:
    """Two real deliveries (started, completed) as received on the wire: raw body and headers."""
    scripted.script(Reply(200, {}))
    url = scripted.base_url.removesuffix("/v1") + "/hook"
    webhook = {"url": url, "events": ["started", "completed"]}
    prediction = client.run("flux-pro", input={"prompt": "x"}, webhook=webhook)
    _done(emu, poll, prediction.id, 2)
    return list(scripted.requests)


def test_verify_signature_accepts_real_deliveries_and_rejects_forgeries(
    captured: list[Any], emu: Any
) -> None:
    for seen in captured:
        verify_signature(seen.body, seen.headers, emu.api_key)
        upper = {k.upper(): v for k, v in seen.headers.items()}  # any case, any mapping
        verify_signature(seen.body.decode(), upper, emu.api_key)
    body, headers = captured[-1].body, captured[-1].headers
    signature = headers["x-skytells-signature"]
    forgeries: list[tuple[bytes, dict[str, str], str]] = [
        (body.replace(b'"succeeded"', b'"failed"'), headers, emu.api_key),  # tampered body
        (body + b" ", headers, emu.api_key),  # even one byte
        (body, headers, "sk-someone-else"),  # wrong secret
        (body, {k: v for k, v in headers.items() if k != "x-skytells-signature"}, emu.api_key),
        (body, {**headers, "x-skytells-signature": signature[:-2]}, emu.api_key),  # too short
        (body, {**headers, "x-skytells-signature": "z" * 64}, emu.api_key),  # not hex
        (body, {**headers, "x-skytells-signature": ""}, emu.api_key),
    ]
    for forged_body, forged_headers, secret in forgeries:
        with pytest.raises(skytells.SkytellsError) as info:
            verify_signature(forged_body, forged_headers, secret)
        assert info.value.error_id == "WEBHOOK_SIGNATURE_INVALID"
        assert info.value.http_status == 401
    prefixed = {**headers, "x-skytells-signature": "sha256=" + signature.upper()}
    verify_signature(body, prefixed, emu.api_key)
    with pytest.raises(skytells.ValidationError):
        verify_signature(body, headers, "")


def test_replays_are_answered_but_handled_once(captured: list[Any], emu: Any) -> None:
    rec = Receiver(emu.api_key)
    with rec.serve() as origin, httpx.Client(base_url=origin) as http:
        answers = []
        for seen in [*captured, *captured, captured[-1]]:
            headers = {k: v for k, v in seen.headers.items() if k.startswith("x-skytells")}
            answers.append(http.post(example.PATH, content=seen.body, headers=headers).json())
        forged = http.post(example.PATH, content=captured[0].body, headers={})
    assert answers[:2] == [{"ok": True}, {"ok": True}]
    assert answers[2:] == [{"ok": True, "duplicate": True}] * 3
    assert [e.status for e in rec.handled] == ["starting", "succeeded"]
    assert forged.status_code == 401 and forged.json() == {"error": "WEBHOOK_SIGNATURE_INVALID"}


def test_construct_and_parse_event(captured: list[Any], emu: Any) -> None:
    started = construct_event(captured[0].body, captured[0].headers, emu.api_key)
    assert started.event == "started" and started.status == "starting"
    bare = parse_event(captured[-1].body)  # no event header: the name comes from the status
    assert bare.event == "prediction.succeeded" and bare.prediction["status"] == "succeeded"
    spelled = parse_event(json.dumps({"id": "p", "status": "canceled"}))
    assert spelled.status == "cancelled" and spelled.event == "prediction.cancelled"
    for body in (b"{not json", b"\xff\xfe", b"[1, 2]", b'{"status": "succeeded"}', b'{"id": ""}'):
        with pytest.raises(skytells.SkytellsError) as info:
            parse_event(body, {})
        assert info.value.error_id == "INVALID_JSON" and info.value.http_status == 400
    key = emu.api_key
    unsigned = b'{"id": "p", "status": "succeeded"}'
    with pytest.raises(skytells.SkytellsError, match="missing"):
        construct_event(unsigned, {}, key)
    signed = {wh.SIGNATURE_HEADER: hmac.new(key.encode(), b"[]", hashlib.sha256).hexdigest()}
    with pytest.raises(skytells.SkytellsError) as info:
        construct_event(b"[]", signed, key)  # a valid signature over a body that is no event
    assert info.value.error_id == "INVALID_JSON"


def _event(prediction_id: str, status: str = "succeeded") -> WebhookEvent:
    return WebhookEvent("completed", {"id": prediction_id, "status": status})


def test_deduplicator_is_bounded_and_forgets_on_request() -> None:
    dedup = WebhookDeduplicator(max_entries=3)
    assert dedup.first_time(_event("a")) and not dedup.first_time(_event("a"))
    assert dedup.first_time(_event("a", "starting"))  # another status is another event
    assert dedup.first_time(_event("a", "canceled")) and dedup.seen(_event("a", "cancelled"))
    assert dedup.seen(_event("new")) is False and len(dedup) == 3  # seen() does not remember
    assert not dedup.first_time(_event("a"))  # a replay: now the most recently seen
    assert dedup.first_time(_event("b"))  # full: the least recently seen pair goes
    assert len(dedup) == 3 and dedup.seen(_event("a"))
    assert not dedup.seen(_event("a", "starting"))
    dedup.forget(_event("b"))
    assert dedup.first_time(_event("b"))
    with pytest.raises(skytells.ValidationError):
        WebhookDeduplicator(max_entries=0)


def test_deduplicator_entries_expire_after_their_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(wh.time, "monotonic", lambda: now[0])
    dedup = WebhookDeduplicator(ttl=60)
    assert dedup.first_time(_event("a"))
    now[0] += 59
    assert not dedup.first_time(_event("a"))
    now[0] += 2
    assert dedup.first_time(_event("a")) and len(dedup) == 1


def test_deduplicator_is_thread_safe() -> None:
    dedup = WebhookDeduplicator()
    start = threading.Barrier(16)
    firsts: list[bool] = []

    def race() -> None:
        start.wait(timeout=10)
        for n in range(200):
            if dedup.first_time(_event(f"p{n}")):
                firsts.append(True)

    threads = [threading.Thread(target=race) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert len(firsts) == 200 and len(dedup) == 200


def _asgi_pairs(headers: dict[str, str]) -> list[tuple[bytes, bytes]]:
    return [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]


def test_headers_may_be_pairs_of_str_or_bytes(captured: list[Any], emu: Any) -> None:
    for seen in captured:
        for headers in (list(seen.headers.items()), _asgi_pairs(seen.headers)):
            verify_signature(seen.body, headers, emu.api_key)
            event = construct_event(seen.body, headers, emu.api_key)
            assert event.event == seen.headers["x-skytells-event"]
            assert parse_event(seen.body, headers).event == event.event


def test_an_asgi_receiver_passes_the_raw_header_pairs(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any]
) -> None:
    """A bare ASGI app hands ``scope["headers"]`` (a list of byte pairs) to `construct_event`."""
    handled: list[WebhookEvent] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        try:
            handled.append(construct_event(body, scope["headers"], emu.api_key))
            status = 200
        except skytells.SkytellsError as error:
            status = error.http_status
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    with serving(app) as origin:
        webhook = {"url": origin + "/hook", "events": ["completed"]}
        prediction = client.run("flux-pro", input={"prompt": "x"}, webhook=webhook)
        log = _done(emu, poll, prediction.id, 1)
    assert [(d["status_code"], d["outcome"]) for d in log] == [(200, "delivered")]
    assert [(e.event, e.prediction_id) for e in handled] == [("completed", prediction.id)]


def test_bad_webhook_input_is_a_skytells_error(captured: list[Any], emu: Any) -> None:
    """What a receiver may pass by mistake, or an attacker may cause: a SkytellsError with an id
    and a status to answer (400 or 401), never TypeError, AttributeError or UnicodeEncodeError."""
    seen = captured[-1]
    body, headers, key = seen.body, seen.headers, emu.api_key
    cases: list[tuple[Any, Any, str, int]] = [
        (None, headers, "INVALID_PARAMETER", 400),
        (12, headers, "INVALID_PARAMETER", 400),
        ({"id": "p"}, headers, "INVALID_PARAMETER", 400),
        (body.decode() + "\ud800", headers, "INVALID_PARAMETER", 400),  # a lone surrogate
        ("\udfff" + body.decode(), list(headers.items()), "INVALID_PARAMETER", 400),
        (body, None, "WEBHOOK_SIGNATURE_INVALID", 401),  # no headers: no signature
        (body, [], "WEBHOOK_SIGNATURE_INVALID", 401),
        (body, 42, "INVALID_PARAMETER", 400),
        (body, "x-skytells-signature", "INVALID_PARAMETER", 400),
        (body, ["x-skytells-signature"], "INVALID_PARAMETER", 400),
        (body, [("x-skytells-signature", "a", "b")], "INVALID_PARAMETER", 400),
    ]
    for bad_body, bad_headers, error_id, status in cases:
        for function in (verify_signature, construct_event):
            with pytest.raises(skytells.SkytellsError) as info:
                function(bad_body, bad_headers, key)
            assert (info.value.error_id, info.value.http_status) == (error_id, status), (
                bad_body,
                bad_headers,
            )
    for bad_body in (None, 12, body.decode() + "\ud800"):
        with pytest.raises(skytells.SkytellsError) as info:
            parse_event(bad_body, headers)  # type: ignore[arg-type]
        assert info.value.http_status == 400
    for bad_headers in (42, ["x"]):
        with pytest.raises(skytells.SkytellsError) as info:
            parse_event(body, bad_headers)
        assert info.value.http_status == 400
    with pytest.raises(skytells.ValidationError):
        verify_signature(body, headers, "sk-\ud800")  # a secret that is not text


def test_a_body_decoded_with_surrogateescape_verifies_as_its_bytes(emu: Any) -> None:
    raw = b'{"id": "p", "status": "succeeded", "note": "\xff\xfe"}'  # not UTF-8
    signed = {wh.SIGNATURE_HEADER: hmac.new(emu.api_key.encode(), raw, hashlib.sha256).hexdigest()}
    verify_signature(raw.decode("utf-8", "surrogateescape"), signed, emu.api_key)
    with pytest.raises(skytells.SkytellsError) as info:
        construct_event(raw.decode("utf-8", "surrogateescape"), signed, emu.api_key)
    assert (info.value.error_id, info.value.http_status) == ("INVALID_JSON", 400)


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, "[" * 100_000])
def test_deeply_nested_webhook_json_is_invalid_json(emu: Any, body: bytes | str) -> None:
    raw = body.encode() if isinstance(body, str) else body
    signed = {wh.SIGNATURE_HEADER: hmac.new(emu.api_key.encode(), raw, hashlib.sha256).hexdigest()}
    with pytest.raises(skytells.SkytellsError) as info:
        construct_event(body, signed, emu.api_key)
    assert (info.value.error_id, info.value.http_status) == ("INVALID_JSON", 400)


@pytest.mark.parametrize(
    ("max_entries", "ttl"), [("10", None), (0, None), (True, None), (10, "60"), (10, -1.0)]
)
def test_deduplicator_settings_are_checked(max_entries: Any, ttl: Any) -> None:
    with pytest.raises(skytells.ValidationError) as info:
        WebhookDeduplicator(max_entries=max_entries, ttl=ttl)
    assert info.value.error_id == "INVALID_PARAMETER"
