"""`prediction.files()`: each `OutputFile` method, sync and async, over real sockets.

Real outputs come from the emulator (images, video, audio); what no honest host sends (a lying
``Content-Length``, an endless body, a declared size past the cap, a gzip bomb, hostile names)
from the raw-socket file host of `tests/file_host.py`. Purged outputs come from the emulator's
retention (stale predictions: the host answers 404) and from predictions that say
``data_removed`` (refused before any request).
"""

from __future__ import annotations

import asyncio
import copy
import io
import os
import pickle
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

import skytells
from skytells import (
    AsyncOutputFile,
    AsyncPrediction,
    AsyncSkytellsClient,
    OutputFile,
    Prediction,
    SkytellsClient,
)
from tests.file_host import File, FileHost, endless, gzip, gzip_bomb
from tests.scripted_server import Reply, ScriptedServer
from tests.sdk.pool_state import async_pool_is_clean, sync_pool_is_clean
from tests.sdk.test_downloads import HOSTILE_IDS, HOSTILE_URL_PATHS, tree

MODES = ["sync", "async"]
METHODS = ["read", "iter", "open", "save"]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
API_KEY = "sk-secret-for-the-api-only"
OFFLINE_API = "http://127.0.0.1:9/v1"  # never called: files() needs no request

MODELS = {
    "image": ("flux-pro", {"prompt": "two foxes", "num_outputs": 2, "output_format": "jpg"}),
    "video": ("mera", {"prompt": "a city at night", "seconds": "4", "size": "1280x720"}),
    "audio": ("beatfusion-2.0", {"prompt": "lofi", "duration": 5}),
}
TYPES = {"image": "image/jpeg", "video": "video/mp4", "audio": "audio/wav"}


@pytest.fixture
def host() -> Iterator[FileHost]:
    with FileHost().running() as server:
        yield server


def use(file: OutputFile, method: str, folder: Path, **limits: Any) -> bytes:
    """The file's bytes through one method of the sync `OutputFile` (with ``limits``:
    ``max_bytes``, ``timeout``)."""
    if method == "read":
        return file.read(**limits)
    if method == "iter":
        return b"".join(file.iter_bytes(**limits))
    if method == "open":
        with file.open(**limits) as stream:
            return stream.read()
    return file.save(folder, **limits).read_bytes()


async def ause(file: AsyncOutputFile, method: str, folder: Path, **limits: Any) -> bytes:
    """The file's bytes through one method of the `AsyncOutputFile`."""
    if method == "read":
        return await file.read(**limits)
    if method == "iter":
        return b"".join([chunk async for chunk in file.aiter_bytes(**limits)])
    if method == "open":
        async with file.open(**limits) as stream:
            return await stream.read()
    return (await file.save(folder, **limits)).read_bytes()


def first_file(
    mode: str,
    data: dict[str, Any],
    method: str,
    folder: Path,
    *,
    client: dict[str, Any] | None = None,
    **limits: Any,
) -> bytes:
    """The bytes of ``data``'s first output file through ``method`` (with ``limits``) of a
    sync or async client (options ``client``) whose API is never called: files() sends no
    request."""
    options: dict[str, Any] = {"base_url": OFFLINE_API, "retry": {"retry_delay": 1}}
    options.update(client or {})
    if mode == "sync":
        with SkytellsClient(API_KEY, **options) as sdk:
            return use(sdk.predictions.files(data)[0], method, folder, **limits)

    async def run() -> bytes:
        async with AsyncSkytellsClient(API_KEY, **options) as sdk:
            return await ause(sdk.predictions.files(data)[0], method, folder, **limits)

    return asyncio.run(run())


def done(*urls: str, prediction_id: str = "p1", **extra: Any) -> dict[str, Any]:
    return {"id": prediction_id, "status": "succeeded", "output": list(urls), **extra}


# ── every method against the emulator's real outputs ─────────────────────────────────────


@pytest.mark.both_clients
@pytest.mark.parametrize("kind", list(MODELS))
def test_each_method_gives_the_bytes_and_names_save_gives(
    kind: str, client: SkytellsClient, tmp_path: Path
) -> None:
    model, inputs = MODELS[kind]
    prediction = client.run(model, input=inputs)
    saved = prediction.save(tmp_path / "all")
    files = prediction.files()
    assert all(isinstance(f, OutputFile) for f in files)
    assert [f.url for f in files] == prediction.output
    assert [f.name for f in files] == [p.name for p in saved]
    assert {f.content_type for f in files} == {TYPES[kind]}
    for file, path in zip(files, saved, strict=True):
        expected = path.read_bytes()
        assert file.read() == expected
        assert b"".join(file.iter_bytes()) == expected
        assert b"".join(file) == expected  # for chunk in file
        pieces = list(file.iter_bytes(4096))
        assert b"".join(pieces) == expected
        assert {len(p) for p in pieces[:-1]} == {4096} and 0 < len(pieces[-1]) <= 4096
        with file.open() as stream:
            assert stream.read() == expected
        one = file.save(tmp_path / "one")
        assert one == tmp_path / "one" / file.name and one.read_bytes() == expected
        mine = file.save(tmp_path / "mine.bin")
        assert mine == tmp_path / "mine.bin" and mine.read_bytes() == expected
        mine.unlink()
    assert not list(tmp_path.rglob("*.part"))


@pytest.mark.anyio
@pytest.mark.both_clients
@pytest.mark.parametrize("kind", list(MODELS))
async def test_each_async_method_gives_the_bytes_and_names_save_gives(
    kind: str, aclient: AsyncSkytellsClient, tmp_path: Path
) -> None:
    model, inputs = MODELS[kind]
    prediction = await aclient.run(model, input=inputs)
    saved = await prediction.save(tmp_path / "all")
    files = prediction.files()
    assert all(isinstance(f, AsyncOutputFile) for f in files)
    assert [f.name for f in files] == [p.name for p in saved]
    assert {f.content_type for f in files} == {TYPES[kind]}
    for file, path in zip(files, saved, strict=True):
        expected = path.read_bytes()
        assert await file.read() == expected
        assert b"".join([chunk async for chunk in file]) == expected
        pieces = [chunk async for chunk in file.aiter_bytes(4096)]
        assert b"".join(pieces) == expected and {len(p) for p in pieces[:-1]} == {4096}
        async with file.open() as stream:
            head = await stream.read(16)
            rest = b"".join([chunk async for chunk in stream])
        assert head + rest == expected and stream.closed
        one = await file.save(tmp_path / "one")
        assert one == tmp_path / "one" / file.name and one.read_bytes() == expected


@pytest.mark.anyio
async def test_text_outputs_have_no_files(client: SkytellsClient, aclient: Any) -> None:
    assert client.run("skytells-chat", input={"prompt": "hi"}).files() == []
    assert (await aclient.run("skytells-chat", input={"prompt": "hi"})).files() == []


def test_files_take_a_prediction_dict_but_not_an_id(client: SkytellsClient) -> None:
    prediction = client.run("truefusion", input={"prompt": "x", "output_format": "png"})
    (file,) = client.predictions.files(prediction.raw())
    assert file.read() == prediction.files()[0].read()
    with pytest.raises(skytells.SkytellsError) as info:
        client.predictions.files(prediction.id)  # type: ignore[arg-type]
    assert info.value.error_id == "INVALID_PARAMETER"
    with pytest.raises(skytells.SkytellsError, match="chunk_size"):
        file.iter_bytes(0)


# ── PIL reads open() ──────────────────────────────────────────────────────────────────────


@pytest.mark.both_clients
@pytest.mark.parametrize(
    ("output_format", "pil_format"), [("png", "PNG"), ("jpg", "JPEG"), ("webp", "WEBP")]
)
@pytest.mark.parametrize("seekable", [True, False])
def test_pil_opens_a_streamed_output(
    output_format: str, pil_format: str, seekable: bool, client: SkytellsClient
) -> None:
    prediction = client.run(
        "truefusion-pro",
        input={"prompt": "a fox", "output_format": output_format, "aspect_ratio": "16:9"},
    )
    (file,) = prediction.files()
    with Image.open(io.BytesIO(file.read())) as reference:
        reference.load()
    with file.open(seekable=seekable) as stream, Image.open(stream) as image:
        assert image.format == pil_format and image.size == reference.size
        assert image.size[0] > image.size[1]  # 16:9
        image.load()
        assert image.tobytes() == reference.tobytes()


def test_open_seeks_and_tells_like_a_file(client: SkytellsClient) -> None:
    (file,) = client.run(*MODELS["audio"]).files()
    data = file.read()
    assert len(data) > 100_000  # past the reader's buffer
    with file.open() as stream:
        assert stream.seekable() and stream.read(10) == data[:10] and stream.tell() == 10
        stream.seek(100_000)
        assert stream.read(10) == data[100_000:100_010] and stream.tell() == 100_010
        stream.seek(5)
        assert stream.read(5) == data[5:10]
        stream.seek(-5, io.SEEK_CUR)
        assert stream.read(5) == data[5:10]
        assert stream.seek(-10, io.SEEK_END) == len(data) - 10
        assert stream.read() == data[-10:]
        stream.seek(len(data) + 100)
        assert stream.read() == b""
        stream.seek(0)
        assert stream.read() == data
        with pytest.raises(ValueError):
            stream.seek(-1)
    assert stream.closed
    with file.open(seekable=False) as forward:
        assert not forward.seekable() and forward.read(10) == data[:10] and forward.tell() == 10
        with pytest.raises(io.UnsupportedOperation):
            forward.seek(0)
        assert forward.read() == data[10:]


# ── connections are released ─────────────────────────────────────────────────────────────


@pytest.fixture(params=["default", "httpx"])
def streaming_client(request: pytest.FixtureRequest, emu: Any) -> Iterator[SkytellsClient]:
    """A client on the emulator: its own transport, or an ``httpx.Client`` without event hooks
    (hooks that read every body would make every response whole before the SDK sees it)."""
    if request.param == "default":
        with SkytellsClient(emu.api_key, base_url=emu.base_url) as sdk:
            yield sdk
        return
    with (
        httpx.Client() as http,
        SkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http) as sdk,
    ):
        yield sdk


@pytest.fixture(params=["aiohttp", "httpx"])
async def streaming_aclient(
    request: pytest.FixtureRequest, emu: Any
) -> AsyncIterator[AsyncSkytellsClient]:
    """An async client on the emulator: aiohttp (the default), or a hook-less httpx client."""
    if request.param == "aiohttp":
        async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url) as sdk:
            yield sdk
        return
    async with (
        httpx.AsyncClient() as http,
        AsyncSkytellsClient(emu.api_key, base_url=emu.base_url, http_client=http) as sdk,
    ):
        yield sdk


def _large_output(prediction_id: str, emu: Any) -> dict[str, Any]:
    """The prediction with a 16 MiB output: far more than any read-ahead, so a response read
    in part keeps its connection busy until it is closed."""
    data: dict[str, Any] = emu.attach_large_output(prediction_id, 16 << 20)
    return data


def test_closing_open_or_iteration_early_releases_the_connection(
    streaming_client: SkytellsClient, emu: Any
) -> None:
    client = streaming_client
    (file,) = client.predictions.files(_large_output(client.run(*MODELS["audio"]).id, emu))
    assert sync_pool_is_clean(client)
    stream = file.open()
    assert stream.read(10) and not sync_pool_is_clean(client)  # the response is being read
    stream.close()
    assert sync_pool_is_clean(client)
    chunks = file.iter_bytes(1024)
    assert next(chunks) and not sync_pool_is_clean(client)
    chunks.close()
    assert sync_pool_is_clean(client)
    with pytest.raises(ZeroDivisionError), file.open() as stream:  # an error closes it too
        assert stream.read(10) and not sync_pool_is_clean(client)
        1 / 0  # noqa: B018
    assert sync_pool_is_clean(client)
    with file.open() as stream:  # the client still works
        assert stream.read(4) == b"RIFF"
    assert sync_pool_is_clean(client)


@pytest.mark.anyio
async def test_closing_async_open_or_iteration_early_releases_the_connection(
    streaming_aclient: AsyncSkytellsClient, emu: Any
) -> None:
    aclient = streaming_aclient
    prediction = await aclient.run(*MODELS["audio"])
    (file,) = aclient.predictions.files(_large_output(prediction.id, emu))
    async with file.open() as stream:
        assert await stream.read(10)
        assert not async_pool_is_clean(aclient._http)
    assert async_pool_is_clean(aclient._http)
    chunks = file.aiter_bytes(1024)
    assert await anext(chunks)
    assert not async_pool_is_clean(aclient._http)
    await chunks.aclose()
    assert async_pool_is_clean(aclient._http)
    async with file.open() as stream:  # the client still works
        assert await stream.read(4) == b"RIFF"
    assert async_pool_is_clean(aclient._http)


# ── purged outputs ────────────────────────────────────────────────────────────────────────


def _purged(emu: Any, poll: Callable[..., Any], client: SkytellsClient) -> Prediction:
    """A prediction whose outputs the emulator has purged (this object still lists them)."""
    emu.configure(retention_seconds=0.2)
    prediction = client.run("flux-edge", input={"prompt": "x"})
    poll(lambda: client.predictions.get(prediction.id), lambda p: p.get("data_removed"), 10, 0.05)
    assert prediction.raw().get("data_removed") is False
    return prediction


def _assert_output_not_found(call: Callable[[], Any], status: int) -> None:
    with pytest.raises(skytells.NotFoundError) as info:
        call()
    assert info.value.error_id == "OUTPUT_NOT_FOUND" and info.value.http_status == status
    assert "no longer available" in str(info.value)


@pytest.mark.both_clients
def test_purged_outputs_are_output_not_found_from_every_method(
    client: SkytellsClient, emu: Any, poll: Callable[..., Any], tmp_path: Path
) -> None:
    stale = _purged(emu, poll, client)
    (file,) = stale.files()
    _assert_output_not_found(file.read, 404)
    _assert_output_not_found(lambda: next(iter(file)), 404)
    _assert_output_not_found(file.open, 404)  # at open(), before any read
    _assert_output_not_found(lambda: file.save(tmp_path), 404)
    _assert_output_not_found(lambda: stale.save(tmp_path), 404)
    # Refreshed, it says data_removed: refused at once, with the same error.
    fresh = stale.refresh()
    assert fresh.raw().get("data_removed") is True
    (file,) = fresh.files()
    for call in (file.read, lambda: list(file), file.open, lambda: file.save(tmp_path)):
        _assert_output_not_found(call, 410)
    _assert_output_not_found(lambda: fresh.save(tmp_path), 410)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_purged_outputs_are_output_not_found_from_every_async_method(
    client: SkytellsClient,
    aclient: AsyncSkytellsClient,
    emu: Any,
    poll: Callable[..., Any],
    tmp_path: Path,
) -> None:
    stale = AsyncPrediction(aclient, _purged(emu, poll, client).raw())
    fresh = await AsyncPrediction(aclient, stale.raw()).refresh()
    for prediction, status in ((stale, 404), (fresh, 410)):
        (file,) = prediction.files()

        async def opened(file: AsyncOutputFile = file) -> None:
            async with file.open():
                pass

        calls = [
            file.read,
            lambda file=file: anext(file.aiter_bytes()),
            opened,
            lambda file=file: file.save(tmp_path),
            lambda prediction=prediction: prediction.save(tmp_path),
        ]
        for call in calls:
            with pytest.raises(skytells.NotFoundError) as info:
                await call()
            assert info.value.error_id == "OUTPUT_NOT_FOUND" and info.value.http_status == status
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", [*METHODS, "prediction.save"])
def test_data_removed_is_refused_before_any_request(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(PNG))
    data = done(url, data_removed=True)
    with pytest.raises(skytells.NotFoundError) as info:
        if method != "prediction.save":
            first_file(mode, data, method, tmp_path)
        elif mode == "sync":
            with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
                Prediction(client, data).save(tmp_path)  # type: ignore[arg-type]
        else:

            async def save() -> None:
                async with AsyncSkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
                    await AsyncPrediction(client, data).save(tmp_path)  # type: ignore[arg-type]

            asyncio.run(save())
    assert info.value.error_id == "OUTPUT_NOT_FOUND"
    assert info.value.details == {"url": url, "data_removed": True}
    assert host.requests == [] and list(tmp_path.iterdir()) == []


# ── a lying file host ─────────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_a_body_shorter_than_its_content_length_is_an_error(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(PNG, headers={"content-length": str(len(PNG) + 999)}))
    with pytest.raises(skytells.APIConnectionError, match=r"(?i)incomplete|not completed"):
        first_file(mode, done(url), method, tmp_path, client={"max_retries": 0})
    assert list(tmp_path.iterdir()) == []  # save(): no file, no .part


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_an_endless_body_stops_at_max_bytes(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(endless()))
    with pytest.raises(skytells.SkytellsError) as info:
        first_file(mode, done(url), method, tmp_path, max_bytes=1 << 20)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE" and "max_bytes" in str(info.value)
    assert len(host.requests) == 1 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_a_declared_size_past_the_cap_is_refused_before_reading(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    huge = File(endless(pause=0.01), headers={"content-length": str(10 * 1024**3)})
    url = host.serve("/f/out-0.png", huge)
    with pytest.raises(skytells.SkytellsError) as info:
        first_file(mode, done(url), method, tmp_path)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE" and len(host.requests) == 1


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_timeout_bounds_every_read(mode: str, method: str, host: FileHost, tmp_path: Path) -> None:
    url = host.serve("/f/out-0.png", File(endless(b"\0" * 1024, pause=0.02)))
    with pytest.raises(skytells.APITimeoutError) as info:
        first_file(mode, done(url), method, tmp_path, timeout=400)
    assert "timed out after 400 ms" in str(info.value)  # the timeout given, not the idle one
    assert len(host.requests) <= 1  # one deadline for the call: no attempt after it passed
    assert list(tmp_path.iterdir()) == []


def test_open_refuses_a_declared_size_past_the_cap_at_once(host: FileHost) -> None:
    url = host.serve("/f/out-0.png", File(PNG * 100))
    with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
        (file,) = client.predictions.files(done(url))
        with pytest.raises(skytells.SkytellsError) as info:
            file.open(max_bytes=len(PNG))  # the headers tell: nothing is read
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["read", "iter", "open"])
def test_a_gzip_bomb_never_inflates_past_max_bytes(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    bomb = File(gzip_bomb(1024), headers={"content-encoding": "gzip"})
    url = host.serve("/f/out-0.png", bomb)
    with pytest.raises(skytells.SkytellsError) as info:
        first_file(mode, done(url), method, tmp_path, max_bytes=8 << 20)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE"
    assert host.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_an_encoded_file_is_decoded_and_no_key_is_sent(
    mode: str, method: str, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/a.png", File(gzip(gzip(PNG)), headers={"content-encoding": "gzip, gzip"}))
    assert first_file(mode, done(url), method, tmp_path) == PNG
    (request,) = host.requests
    assert "x-api-key" not in request.headers and "authorization" not in request.headers
    assert API_KEY not in str(request.headers)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_a_busy_host_is_retried_before_the_first_byte(
    mode: str, method: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    scripted.script(
        Reply(503, "busy", content_type="text/plain"),
        Reply(200, PNG, content_type="image/png"),
    )
    url = scripted.base_url.replace("/v1", "/files/p1/render")  # no extension in the URL
    assert first_file(mode, done(url), method, tmp_path) == PNG
    assert len(scripted.requests) == 2
    if method == "save":
        assert [p.name for p in tmp_path.iterdir()] == ["p1-render.png"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", ["read", "open"])
def test_a_redirect_to_another_host_is_followed_without_any_key(
    mode: str, method: str, scripted: ScriptedServer, tmp_path: Path
) -> None:
    with ScriptedServer().running() as cdn:
        cdn.script(Reply(200, PNG, content_type="image/png"))
        moved = cdn.base_url.replace("/v1", "/cdn/abc/render.png")
        scripted.script(Reply(302, b"", headers={"location": moved}))
        url = scripted.base_url.replace("/v1", "/files/abc/render.png")
        assert first_file(mode, done(url), method, tmp_path) == PNG
        seen = scripted.requests + cdn.requests
    assert [r.path for r in seen] == ["/files/abc/render.png", "/cdn/abc/render.png"]
    assert all("x-api-key" not in r.headers and "authorization" not in r.headers for r in seen)


@pytest.mark.parametrize("transport", ["own", "httpx"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("method", METHODS)
def test_a_redirect_loop_is_one_clear_error_never_retried(
    mode: str,
    method: str,
    transport: str,
    scripted: ScriptedServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = scripted.base_url.replace("/v1", "/files/p1/loop.png")
    scripted.script(Reply(302, b"", headers={"location": url}))  # for ever
    client: dict[str, Any] = {}
    if transport == "httpx" and mode == "sync":
        client["http_client"] = httpx.Client()
    elif transport == "httpx":
        monkeypatch.setenv("SKYTELLS_ASYNC_HTTP", "httpx")  # its own httpx.AsyncClient
    with pytest.raises(skytells.SkytellsError) as info:
        first_file(mode, done(url), method, tmp_path, client=client)
    if "http_client" in client:
        client["http_client"].close()
    assert info.value.error_id == "TOO_MANY_REDIRECTS" and "/files/p1/loop.png" in str(info.value)
    assert 10 <= len(scripted.requests) <= 21  # one attempt: a loop is not retried
    assert list(tmp_path.iterdir()) == []


def test_the_content_type_is_learnt_from_the_response(scripted: ScriptedServer) -> None:
    scripted.script(Reply(200, PNG, content_type="image/webp; q=1"))
    url = scripted.base_url.replace("/v1", "/files/p1/render")
    with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
        (file,) = client.predictions.files(done(url))
        assert file.content_type is None  # neither the prediction nor the name tells
        assert file.read() == PNG
        assert file.content_type == "image/webp"
    assert "content_type='image/webp'" in repr(file)


# ── save() keeps Prediction.save()'s guarantees ──────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
def test_hostile_url_names_are_saved_as_safe_names_inside_the_target(
    mode: str, host: FileHost, tmp_path: Path
) -> None:
    urls = [host.serve(path, File(PNG + path.encode())) for path in HOSTILE_URL_PATHS]
    data = done(*urls, prediction_id="pred-1")
    target = tmp_path / "out"
    with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
        files = client.predictions.files(data)
        expected = [p.name for p in client.save_outputs(data, tmp_path / "all")]
    # The same names; save() adds an extension from the content type to a name without one.
    assert [f.name + ("" if "." in f.name else ".png") for f in files] == expected
    assert len(set(expected)) == len(urls)
    for index, raw in enumerate(HOSTILE_URL_PATHS):
        path = Path(os.devnull)
        if mode == "sync":
            with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
                path = client.predictions.files(data)[index].save(target)
        else:

            async def save(index: int = index) -> Path:
                async with AsyncSkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
                    return await client.predictions.files(data)[index].save(target)

            path = asyncio.run(save())
        assert path == target / expected[index] and path.resolve().parent == target.resolve()
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in path.name)
        assert path.read_bytes() == PNG + raw.encode()
    assert sorted(p.name for p in target.iterdir()) == sorted(expected)


@pytest.mark.parametrize("mode", MODES)
def test_a_prediction_with_tens_of_thousands_of_outputs_is_named_at_once(
    mode: str, scripted: ScriptedServer
) -> None:
    # About 500 KB from a hostile server: naming its files once took minutes (quadratic).
    count = 16_000
    urls = [f"https://cdn.example/{'x' if i % 2 else i}.png" for i in range(count)]
    scripted.script(Reply(body={"id": "p1", "status": "succeeded", "output": urls}))
    if mode == "sync":
        with SkytellsClient(API_KEY, base_url=scripted.base_url) as client:
            files = client.predictions.files(client.predictions.get("p1"))
            names = [file.name for file in files]
    else:

        async def listed() -> list[str]:
            async with AsyncSkytellsClient(API_KEY, base_url=scripted.base_url) as client:
                data = await client.predictions.get("p1")
                return [file.name for file in client.predictions.files(data)]

        names = asyncio.run(listed())
    assert len(set(names)) == count
    assert names[:4] == ["p1-0.png", "p1-x.png", "p1-2.png", "p1-x-1.png"]
    assert names[-1] == f"p1-x-{count // 2 - 1}.png"


@pytest.mark.parametrize("hostile_id", HOSTILE_IDS)
def test_an_unsafe_prediction_id_is_refused_before_any_request(
    hostile_id: str, host: FileHost, tmp_path: Path
) -> None:
    if hostile_id == "ABSOLUTE":
        hostile_id = str(tmp_path / "elsewhere")
    url = host.serve("/f/out-0.png", File(PNG))
    with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
        with pytest.raises(skytells.SkytellsError) as info:
            client.predictions.files(done(url, prediction_id=hostile_id))
    assert info.value.error_id == "UNSAFE_OUTPUT_NAME" and "\x00" not in str(info.value)
    assert host.requests == [] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
def test_save_never_replaces_a_file_or_follows_a_link_without_overwrite(
    mode: str, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(b"downloaded"))
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    target = tmp_path / "out"
    target.mkdir()
    (target / "p3-out-0.png.part").symlink_to(victim)  # a planted temporary name

    def save(**kw: Any) -> bytes:
        return first_file(mode, done(url, prediction_id="p3"), "save", target, **kw)

    dest = target / "p3-out-0.png"
    assert save() == b"downloaded" and not dest.is_symlink()
    with pytest.raises(skytells.SkytellsError) as info:
        save()
    assert info.value.error_id == "FILE_EXISTS" and "overwrite=True" in str(info.value)
    requests = len(host.requests)
    dest.unlink()
    dest.symlink_to(victim)  # a link at the final name is an existing file
    with pytest.raises(skytells.SkytellsError, match="already exists"):
        save()
    assert len(host.requests) == requests  # refused before downloading
    if mode == "sync":
        with SkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
            (file,) = client.predictions.files(done(url, prediction_id="p3"))
            assert file.save(target, overwrite=True) == dest
    else:

        async def replace() -> Path:
            async with AsyncSkytellsClient(API_KEY, base_url=OFFLINE_API) as client:
                (file,) = client.predictions.files(done(url, prediction_id="p3"))
                return await file.save(target, overwrite=True)

        assert asyncio.run(replace()) == dest
    assert not dest.is_symlink() and dest.read_bytes() == b"downloaded"
    assert victim.read_bytes() == b"precious"
    assert sorted(tree(target)) == ["p3-out-0.png", "p3-out-0.png.part"]


def test_an_output_file_copies_but_never_pickles_its_client(
    client: SkytellsClient, emu: Any
) -> None:
    prediction = client.run("truefusion", input={"prompt": "x", "output_format": "png"})
    (file,) = prediction.files()
    with pytest.raises(skytells.SkytellsError, match="does not pickle") as info:
        pickle.dumps(file)
    assert emu.api_key not in str(info.value)
    twin = copy.deepcopy(file)
    assert (twin.url, twin.name, twin.read()) == (file.url, file.name, file.read())
    # A pickled prediction gives its files once bound to a client again.
    restored = pickle.loads(pickle.dumps(prediction))
    with pytest.raises(skytells.SkytellsError) as unbound:
        restored.files()
    assert unbound.value.error_id == "PREDICTION_NOT_BOUND"
    assert restored.bind(client).files()[0].read() == file.read()
