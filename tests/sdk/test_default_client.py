"""The module-level default client (``skytells.run``, ``skytells.predictions``,
``skytells.models``...): nothing at import, built from the environment on first use, once for
all threads, usable in a forked child over connections of its own, replaceable and resettable.
Against the session's emulator, over real sockets."""

from __future__ import annotations

import inspect
import multiprocessing
import os
import pydoc
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest

import skytells
from skytells import AuthenticationError, SkytellsClient, SkytellsError, _default

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork with threads (3.12+)

IMAGE = {"model": "flux-edge", "input": {"prompt": "a lighthouse"}}


@pytest.fixture
def env(emu: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The environment names the emulator; the default client is forgotten before and after."""
    monkeypatch.setenv("SKYTELLS_API_KEY", emu.api_key)
    monkeypatch.setenv("SKYTELLS_BASE_URL", emu.base_url)
    skytells.set_default_client(None)
    yield emu
    skytells.set_default_client(None)


def test_import_reads_no_environment_and_opens_nothing() -> None:
    """``import skytells`` reads no SKYTELLS_* variable, opens no socket, builds no client and
    does not load the default client's module (a fresh interpreter, every read recorded)."""
    code = r"""
import os, sys
reads = []
class Recording(type(os.environ)):
    def __getitem__(self, key):
        reads.append(key)
        return super().__getitem__(key)
    def __contains__(self, key):
        reads.append(key)
        return super().__contains__(key)
os.environ = Recording(os.environ._data, os.environ.encodekey, os.environ.decodekey,
                       os.environ.encodevalue, os.environ.decodevalue)
events = []
sys.addaudithook(lambda event, args: events.append(event) if event.startswith("socket.") else None)
def report():
    print(sorted({k for k in reads if k.startswith("SKYTELLS_")}), "socket.connect" in events,
          "skytells._default" in sys.modules, "predictions" in vars(skytells))
import skytells
report()
try:  # the first use: now the environment is read and a connection tried (nothing listens)
    skytells.models.list()
except skytells.APIConnectionError:
    report()
"""
    env = {
        **os.environ,
        "SKYTELLS_API_KEY": "sk-not-to-be-read-at-import",
        "SKYTELLS_BASE_URL": "http://127.0.0.1:9/v1",  # the discard port: refused
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 0, out.stderr
    at_import, at_first_use = out.stdout.splitlines()
    assert at_import == "[] False False False"
    assert at_first_use.startswith("['SKYTELLS_API_KEY', ") and "'SKYTELLS_BASE_URL'" in (
        at_first_use
    )
    assert at_first_use.endswith("True True False")  # never cached: a reset changes it


def test_built_from_the_environment_on_first_use(env: Any) -> None:
    prediction = skytells.run("flux-edge", input={"prompt": "a fox"})
    assert prediction.status == "succeeded" and isinstance(prediction, skytells.Prediction)
    client = skytells.default_client()
    assert client.base_url == env.base_url
    assert skytells.predictions.get(prediction.id)["id"] == prediction.id
    assert skytells.predictions is not None and skytells.default_client() is client  # one
    assert [m["namespace"] for m in skytells.models.list(type="video")] == ["mera"]
    created = skytells.predict({**IMAGE, "await": True})
    assert skytells.wait(created)["status"] == "succeeded"
    assert len(env.predictions()) == 2


def test_missing_key_is_the_clients_error_and_is_read_again(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SKYTELLS_API_KEY")
    with SkytellsClient() as keyless, pytest.raises(AuthenticationError) as by_client:
        keyless.models.list()
    with pytest.raises(AuthenticationError) as by_default:
        skytells.run("flux-edge", input={"prompt": "x"})
    assert (by_default.value.error_id, by_default.value.http_status, str(by_default.value)) == (
        by_client.value.error_id,
        by_client.value.http_status,
        str(by_client.value),
    )
    held = skytells.predictions  # a stand-in: holding it builds nothing
    with pytest.raises(AuthenticationError):
        held.get("pred_1")  # a call builds the client: no key
    assert env.predictions() == []  # nothing was sent
    monkeypatch.setenv("SKYTELLS_API_KEY", env.api_key)  # set later: picked up, nothing kept
    assert skytells.run("flux-edge", input={"prompt": "x"}).status == "succeeded"


def test_a_malformed_key_is_refused_as_the_client_refuses_it(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SKYTELLS_API_KEY", "sk-\x1bbad")
    with pytest.raises(AuthenticationError) as by_client:
        SkytellsClient()
    with pytest.raises(AuthenticationError) as by_default:
        skytells.models.list()
    assert str(by_default.value) == str(by_client.value) and "sk-" not in str(by_default.value)


def test_threads_racing_to_first_use_share_one_client(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Eight threads ask at once; construction is made slow enough for all of them to be
    inside it together if nothing kept them out: still one client is built."""
    built: list[SkytellsClient] = []

    class Slow(SkytellsClient):
        def __init__(self) -> None:
            threading.Event().wait(0.05)  # the window in which a racing thread would build too
            super().__init__()
            built.append(self)

    monkeypatch.setattr(_default, "SkytellsClient", Slow)
    barrier = threading.Barrier(8)
    used: list[SkytellsClient] = []

    def first_use() -> None:
        barrier.wait(10)
        skytells.predictions.create(IMAGE)
        used.append(skytells.default_client())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(used) == 8 and len(built) == 1 and all(c is built[0] for c in used)
    assert len(env.predictions()) == 8


def _in_child(ids: list[str], results: Any) -> None:
    try:
        problems = [] if skytells.default_client() else ["no client"]  # takes the lock if unbuilt
        for _ in range(20):
            for want in ids:
                got = skytells.predictions.get(want)["id"]
                if got != want:
                    problems.append(f"asked for {want}, got {got}")
        results.put(problems)
    except BaseException as exc:  # reported to the parent, which fails the test
        results.put([f"{type(exc).__name__}: {exc}"])


def test_a_forked_child_uses_it_over_connections_of_its_own(env: Any) -> None:
    """The parent's default client holds a keep-alive connection when the process forks; the
    children and the parent then use it at once, each getting its own answers (on shared
    connections they would read each other's responses)."""
    ids = [skytells.predictions.create(IMAGE)["id"] for _ in range(3)]
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    children = [
        context.Process(target=_in_child, args=([ids[i]], results), daemon=True) for i in (1, 2)
    ]
    for child in children:
        child.start()
    parent = [skytells.predictions.get(ids[0])["id"] for _ in range(20)]
    found = [results.get(timeout=60) for _ in children]
    for child in children:
        child.join(30)
    assert found == [[], []] and parent == [ids[0]] * 20
    assert skytells.predictions.get(ids[2])["id"] == ids[2]  # the parent's pool still works


def test_a_child_forked_while_the_lock_is_held_does_not_hang(env: Any) -> None:
    """Another thread of the parent may hold the first-use lock when the process forks: the
    child gets a lock of its own, so its first use does not wait for ever."""
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    with _default._holder.lock:  # as a thread building the client at that moment would
        child = context.Process(target=_in_child, args=([], results), daemon=True)
        child.start()
        try:
            assert results.get(timeout=30) == []
        finally:
            child.join(30)
            if child.is_alive():
                child.kill()
    assert child.exitcode == 0


def test_replace_and_reset(env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    built = skytells.default_client()
    mine = SkytellsClient(env.api_key, base_url=env.base_url.replace("127.0.0.1", "localhost"))
    skytells.set_default_client(mine)
    assert skytells.default_client() is mine
    assert skytells.predictions.create(IMAGE)["id"]
    with pytest.raises(SkytellsError) as info:  # the one built from the environment was closed
        built.predictions.list()
    assert info.value.error_id == "CLIENT_CLOSED" and "set_default_client()" in str(info.value)
    skytells.set_default_client(None)  # forgotten, not closed: it is the caller's
    assert mine.predictions.list().pagination.total == 1
    monkeypatch.setenv("SKYTELLS_BASE_URL", env.base_url.replace("127.0.0.1", "localhost"))
    rebuilt = skytells.default_client()  # from the environment as it is now
    assert rebuilt is not built and rebuilt is not mine and "localhost" in rebuilt.base_url
    mine.close()
    for wrong in ("sk-a-key", skytells.AsyncSkytellsClient(env.api_key)):
        with pytest.raises(SkytellsError) as info:
            skytells.set_default_client(wrong)  # type: ignore[arg-type]
        assert info.value.error_id == "INVALID_PARAMETER" and "SkytellsClient or None" in str(
            info.value
        )
        assert "sk-a-key" not in str(info.value)  # (it may be a key: never shown)
    assert skytells.default_client() is rebuilt  # unchanged


def test_introspecting_the_module_builds_nothing_and_never_raises(
    env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``hasattr``, ``getattr(..., None)``, ``inspect.getmembers``, ``help()``/pydoc and
    ``mock.patch`` read ``skytells.predictions`` and ``skytells.models``: with no key they
    must not raise, and with a key they must not build the default client."""
    for key in (None, env.api_key):
        if key is None:
            monkeypatch.delenv("SKYTELLS_API_KEY")
        else:
            monkeypatch.setenv("SKYTELLS_API_KEY", key)
        assert hasattr(skytells, "predictions") and hasattr(skytells, "models")
        assert isinstance(getattr(skytells, "predictions", None), skytells.Predictions)
        assert isinstance(getattr(skytells, "models", None), skytells.Models)
        members = dict(inspect.getmembers(skytells))
        assert members["predictions"] is skytells.predictions
        assert repr(members["models"]) == "<skytells.models: the default client's Models>"
        assert "Predictions" in pydoc.render_doc(skytells, renderer=pydoc.plaintext)
        assert "iter_all" in pydoc.render_doc(skytells.predictions, renderer=pydoc.plaintext)
        assert callable(skytells.predictions.get) and "slug" in str(
            inspect.signature(skytells.models.get)
        )
        inspect.getmembers(skytells.predictions)
        with mock.patch("skytells.predictions") as patched:
            patched.get.return_value = {"id": "p1"}
            assert skytells.predictions.get("p1") == {"id": "p1"}
        assert isinstance(skytells.predictions, skytells.Predictions)  # restored
        assert _default._holder.client is None  # nothing built
    assert env.predictions() == []  # nothing sent


def test_held_resources_use_the_default_client_of_each_call(env: Any) -> None:
    predictions, models, get = skytells.predictions, skytells.models, skytells.predictions.get
    created = predictions.create(IMAGE)
    first = skytells.default_client()
    mine = SkytellsClient(env.api_key, base_url=env.base_url.replace("127.0.0.1", "localhost"))
    try:
        skytells.set_default_client(mine)  # the one built from the environment is closed
        assert get(created["id"])["id"] == created["id"]  # through mine
        assert predictions.list().pagination.total == 1
        assert [m["namespace"] for m in models.list(type="video")] == ["mera"]
        skytells.set_default_client(None)
        assert predictions.get(created["id"])["id"] == created["id"]  # a new one, built now
        assert skytells.default_client() not in (first, mine)
    finally:
        mine.close()
