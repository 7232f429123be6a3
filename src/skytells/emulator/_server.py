"""`Emulator`: the application served by uvicorn in a background thread, with thread-safe control."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, TypeVar

import uvicorn

from ._app import create_app
from ._config import (
    DEFAULT_AWAIT_LIMIT,
    FAILURE_TEXTS,
    RATE_LIMIT_WINDOW_SECONDS,
    REQUEST_TIMEOUT_SECONDS,
    SSE_KEEPALIVE_SECONDS,
    EmulatorConfig,
)
from ._protocol import RateLimitedLog, guarded_protocol, max_pending_connections
from ._store import Store

_T = TypeVar("_T")

SHUTDOWN_GRACE_SECONDS = 0.5
"""At stop, how long requests still in progress may take to finish before they are cancelled
and their connections closed; then how long cancelled work is waited for. Neither depends on
clients: a render in a worker thread that outlives it finishes on its own and is discarded."""


class _Server(uvicorn.Server):
    """uvicorn's server, whose shutdown closes every connection still open from the server side
    (uvicorn closes idle ones and cancels requests, but leaves the connections of cancelled
    requests to their clients)."""

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        await super().shutdown(sockets)
        for connection in list(self.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Cancel what is left on the emulator's loop, wait a bounded time for it, close the loop.

    Unlike `asyncio.run`, this never waits for worker threads: neither asyncio's default
    executor (where the DNS look-ups of webhook deliveries run: a stalling resolver held the
    old `stop()` until its timeout) nor the threads where outputs render. What they were doing
    is abandoned; on a busy machine it could take longer than anyone wants `stop()` to wait.
    """
    try:
        tasks = asyncio.all_tasks(loop)
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = loop.run_until_complete(
                asyncio.wait(tasks, timeout=SHUTDOWN_GRACE_SECONDS)
            )
            for task in pending:  # abandoned on purpose: no "Task was destroyed" warning
                task._log_destroy_pending = False  # type: ignore[attr-defined]
        loop.run_until_complete(asyncio.wait_for(loop.shutdown_asyncgens(), SHUTDOWN_GRACE_SECONDS))
    except (asyncio.TimeoutError, RuntimeError):  # bounded: give up on what is left
        pass
    finally:
        loop.close()


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse a non-loopback host unless `allow_remote` (ValueError with the way out)."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(
            f"refusing to serve the emulator on non-loopback host {host!r}: it accepts a "
            "well-known key (which also opens its control API); pass allow_remote=True "
            "(command line: --allow-remote) to expose it anyway"
        )


class Emulator:
    """The Skytells API emulator, served on a local port by uvicorn in a background thread.

    Use it as a context manager (`with Emulator(time_scale=0) as emu:`) or call `start()` and
    `stop()`. Point a client at `base_url` with `api_key`. The control methods (`reset`,
    `configure`, `fail_next`, ...) may be called from any thread while it runs.

    As a local server it answers only requests whose `Host` names it (127.0.0.1, localhost,
    ::1, its address, or one of `allowed_hosts`), needs the API key on its control API too
    (`/_emulator/...`, which also refuses requests from web pages), bounds request bodies, and
    closes connections that take over `request_timeout` seconds to send a request.
    """

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        api_keys: Sequence[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: int | None = None,
        rate_limit_window: float = RATE_LIMIT_WINDOW_SECONDS,
        await_limit: float = DEFAULT_AWAIT_LIMIT,
        retention_seconds: float | None = None,
        failure_message: str = FAILURE_TEXTS[0],
        allow_remote: bool = False,
        webhook_secret: str | None = None,
        allow_remote_webhooks: bool = False,
        sse_keepalive: float = SSE_KEEPALIVE_SECONDS,
        allowed_hosts: Sequence[str] = (),
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        variants: Sequence[str] = (),
        honour_idempotency: bool = False,
        start_timeout: float = 10.0,
        stop_timeout: float = 10.0,
    ) -> None:
        check_host(host, allow_remote)
        keys: dict[str, Any] = {} if api_keys is None else {"api_keys": tuple(api_keys)}
        config = EmulatorConfig(
            time_scale=time_scale,
            rate_limit=rate_limit,
            rate_limit_window=rate_limit_window,
            await_limit=await_limit,
            retention_seconds=retention_seconds,
            failure_message=failure_message,
            webhook_secret=webhook_secret,
            allow_remote_webhooks=allow_remote_webhooks,
            sse_keepalive=sse_keepalive,
            allowed_hosts=tuple(allowed_hosts),
            request_timeout=request_timeout,
            variants=tuple(variants),
            honour_idempotency=honour_idempotency,
            **keys,
        )
        self.host = "127.0.0.1" if host == "localhost" else host
        self.port = port
        self.start_timeout = start_timeout
        self.stop_timeout = stop_timeout
        self.app = create_app(config)
        self._store: Store = self.app.state.store
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._failure: BaseException | None = None

    # ---- addresses -----------------------------------------------------------------------

    @property
    def root_url(self) -> str:
        """The server origin, e.g. `http://127.0.0.1:54321` (output files live under it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The API base URL a client needs, e.g. `http://127.0.0.1:54321/v1`."""
        return f"{self.root_url}/v1"

    @property
    def api_key(self) -> str:
        """The first accepted API key (the development key unless configured)."""
        return self._store.initial_config.api_keys[0]

    @property
    def api_keys(self) -> tuple[str, ...]:
        """Every accepted API key."""
        return self._store.initial_config.api_keys

    @property
    def config(self) -> EmulatorConfig:
        """The settings in force."""
        return self._store.config

    @property
    def running(self) -> bool:
        """True between a successful `start()` and `stop()`."""
        return self._thread is not None and self._thread.is_alive()

    # ---- start and stop --------------------------------------------------------------------

    def start(self) -> Emulator:
        """Bind the port and serve in a background thread; returns once it accepts requests."""
        if self._thread is not None:
            raise RuntimeError("the emulator is already started")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only when the
        # protocol says TCP (with proto 0, Nagle + delayed ACKs add ~40 ms to every response).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http=guarded_protocol(self.config.request_timeout, max_pending_connections()),
            log_level="warning",
            access_log=False,
            lifespan="on",
            loop="asyncio",
            ws="none",
            timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS,  # type: ignore[arg-type]
        )
        server = _Server(config)
        self._server, self._failure = server, None
        self._store.open_connections = lambda: len(server.server_state.connections)
        self._thread = threading.Thread(
            target=self._serve,
            args=(server, sock),
            name=f"skytells-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + self.start_timeout
        while not server.started:
            if not self._thread.is_alive():
                self._thread = None
                raise RuntimeError(f"the emulator failed to start: {self._failure!r}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the emulator did not start within {self.start_timeout} s")
            time.sleep(0.005)
        return self

    def _serve(self, server: _Server, sock: socket.socket) -> None:
        limiter = RateLimitedLog(threading.current_thread().name)
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addFilter(limiter)
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(limiter.loop_exception)
        self._loop = loop
        try:
            loop.run_until_complete(server.serve(sockets=[sock]))
        except BaseException as exc:  # reported by start(); a thread must not raise
            self._failure = exc
        finally:
            self._loop = None
            try:
                _close_loop(loop)
            finally:
                sock.close()
                uvicorn_log.removeFilter(limiter)

    def stop(self) -> None:
        """Stop serving and wait for the thread (TimeoutError if it does not end in time).

        Stopping does not wait for clients: held creates, event streams and hung requests are
        ended, requests still in progress get a short grace, then every connection is closed
        from the server side.
        """
        thread, server = self._thread, self._server
        if thread is None or server is None:
            return
        loop = self._loop
        if loop is not None and server.started and thread.is_alive():
            # Release requests held by `await`, event streams and hangs first, so that shutdown
            # need not wait for them (not waited for: a busy loop must not make stop() fail).
            with contextlib.suppress(RuntimeError):  # the loop has just closed
                loop.call_soon_threadsafe(self._store.close)
        server.should_exit = True
        thread.join(self.stop_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(self.stop_timeout)
            if thread.is_alive():
                raise TimeoutError(f"the emulator did not stop within {2 * self.stop_timeout} s")
        self._thread = self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Emulator {self.base_url} {state}>"

    # ---- control (thread-safe) -------------------------------------------------------------

    def _call(self, function: Callable[..., _T], *args: Any, **kwargs: Any) -> _T:
        """Run a store method on the server's loop and return its result (or raise its error)."""
        loop = self._loop
        if loop is None or not self.running:
            raise RuntimeError("the emulator is not running: call start() first")
        if self._thread is threading.current_thread():
            return function(*args, **kwargs)

        async def call() -> _T:
            return function(*args, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop).result(self.stop_timeout)

    def reset(self) -> None:
        """Forget every prediction, file, failure rule and counter; restore the initial settings."""
        self._call(self._store.reset)

    def configure(self, **changes: Any) -> EmulatorConfig:
        """Change `time_scale`, `await_limit`, `retention_seconds`, `rate_limit`,
        `rate_limit_window`, `sse_keepalive`, `webhook_secret`, `variants` (names among
        `VARIANTS`) or `honour_idempotency` at run time (`reset()` restores the initial ones)."""
        return self._call(self._store.configure, **changes)

    def fail_next(
        self, count: int = 1, model: str | None = None, message: str | None = None
    ) -> None:
        """Make the next `count` predictions (optionally only of `model`) fail with `message`."""
        self._call(self._store.fail_next, count, model, message)

    def fail_prediction(self, prediction_id: str, message: str | None = None) -> dict[str, Any]:
        """Fail a running prediction now; returns its JSON (ApiError if unknown or terminal)."""
        return self._call(lambda: self._store.fail(prediction_id, message).to_json())

    def attach_large_output(self, prediction_id: str, size_bytes: int) -> dict[str, Any]:
        """Replace a succeeded prediction's outputs with one WAV file of exactly `size_bytes`
        bytes (written in chunks), to test downloads of big outputs; returns its JSON."""
        if self._loop is None or not self.running:
            raise RuntimeError("the emulator is not running: call start() first")
        future = asyncio.run_coroutine_threadsafe(
            self._store.attach_large_output(prediction_id, size_bytes), self._loop
        )
        return future.result(timeout=300).to_json()

    def state(self) -> dict[str, Any]:
        """Predictions with internal details, failure rules, counters and settings."""
        return self._call(self._store.state)

    def events(self, prediction_id: str, after: int = 0) -> list[dict[str, Any]]:
        """A prediction's event log after id `after`, as dicts {id, type, data, created_at}."""
        return self._call(
            lambda: [event.to_json() for event in self._store.event_log(prediction_id).since(after)]
        )

    def predictions(self) -> list[dict[str, Any]]:
        """Every prediction's JSON, oldest first."""
        return self._call(lambda: [record.to_json() for record in self._store.records()])

    def webhook_deliveries(self, prediction_id: str | None = None) -> list[dict[str, Any]]:
        """The webhook delivery log, oldest first: one entry per attempt or skip, with
        `prediction_id`, `event`, `url`, `attempt`, `outcome` (delivered, retrying, failed,
        skipped), `status_code`, `error`, `skipped` (the reason) and ISO timestamps."""
        return self._call(self._store.webhooks.to_json, prediction_id)

    # ---- faults (see `skytells.emulator._faults` for the kinds) -----------------------------

    def add_fault(
        self,
        kind: str,
        *,
        method: str | None = None,
        path: str | None = None,
        model: str | None = None,
        probability: float = 1.0,
        count: int | None = None,
        seed: int | None = None,
        status: int | None = None,
        body: Any = None,
        error_id: str | None = None,
        retry_after: float | None = None,
        latency_ms: float | None = None,
        fraction: float | None = None,
        then: str | None = None,
    ) -> dict[str, Any]:
        """Add a fault rule; returns it as a dict with its `id`.

        `kind` is one of status, latency, late, drop, reset, truncate, hang, post_commit. The rule
        matches `method`, `path` (a glob such as `/v1/predictions/*`, or a path prefix) and, for
        creates, the body's `model` (None matches anything); it fires with `probability` (drawn
        from a `random.Random(seed)` of its own), at most `count` times (None: no limit).
        `status`, `body`, `error_id` and `retry_after` (seconds) shape a `status` answer,
        `latency_ms` a `latency` (before the request is handled) or a `late` (after it, before
        its answer) and `fraction` (of the body sent) a `truncate`. A
        `post_commit` (the request is carried out, its answer lost) ends with `then`: `drop`
        (the default), `reset` or `hang`, or answers `status` if given.
        ApiError 400 for an invalid rule.
        """
        spec = {
            "kind": kind,
            "method": method,
            "path": path,
            "model": model,
            "probability": probability,
            "count": count,
            "seed": seed,
            "status": status,
            "body": body,
            "error_id": error_id,
            "retry_after": retry_after,
            "latency_ms": latency_ms,
            "fraction": fraction,
            "then": then,
        }
        return self._call(lambda: self._store.faults.add(spec).to_json())

    def faults(self) -> list[dict[str, Any]]:
        """The fault rules in matching order, each with `fired` and `remaining`."""
        return self._call(self._store.faults.to_json)

    def clear_faults(self) -> int:
        """Remove every fault rule and end hung requests; returns how many rules there were."""
        return self._call(self._store.faults.clear)
