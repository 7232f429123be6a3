"""Local files as model inputs, end to end over real sockets: every kind of value, the
``file_encoder`` hook (client and call, sync and async), the inline size limit, memory, and the
emulator's image-to-image output derived from the file that arrived."""

from __future__ import annotations

import asyncio
import base64
import io
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image, ImageStat

from skytells import (
    AsyncSkytellsClient,
    DispatchError,
    FileToEncode,
    FileTooLargeError,
    SkytellsClient,
    SkytellsError,
    ValidationError,
)
from skytells._core.file_inputs import json_bytes
from skytells._core.protocol import EncodeFile
from skytells._io.file_inputs import LocalFile, encode
from tests.scripted_server import Reply, ScriptedServer, prediction

MODEL = "truefusion-pro"  # image-to-image: its `image` input is `format: uri`


def png(size: tuple[int, int] = (37, 23), colour: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "PNG")
    return out.getvalue()


def sent_file(uri: str) -> tuple[str, bytes]:
    """The content type and bytes a ``data:`` URI carries."""
    header, _, data = uri.partition(",")
    assert header.startswith("data:") and header.endswith(";base64"), header[:80]
    return header[5:-7], base64.b64decode(data, validate=True)


@pytest.fixture
def red_png(tmp_path: Path) -> Path:
    path = tmp_path / "red.png"
    path.write_bytes(png())
    return path


def output_image(url: str) -> Image.Image:
    return Image.open(io.BytesIO(httpx.get(url, timeout=30).content)).convert("RGB")


# ── every kind of file value ─────────────────────────────────────────────────


def _kinds(path: Path) -> dict[str, Any]:
    data = path.read_bytes()
    return {
        "path": path,
        "str path object (os.PathLike)": _PathLike(str(path)),
        "bytes": data,
        "bytearray": bytearray(data),
        "memoryview": memoryview(data),
        "binary file": path.open("rb"),
        "BytesIO": io.BytesIO(data),
        "PIL image": Image.open(path),
    }


class _PathLike:
    def __init__(self, path: str) -> None:
        self._path = path

    def __fspath__(self) -> str:
        return self._path


@pytest.mark.both_clients
def test_each_kind_of_file_value_arrives_intact(client: SkytellsClient, red_png: Path) -> None:
    for kind, value in _kinds(red_png).items():
        created = client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": value}}
        )
        content_type, data = sent_file(created["input"]["image"])
        assert content_type == "image/png", kind
        # The PIL image is encoded again as PNG: its pixels, not its bytes, are the file.
        if kind == "PIL image":
            assert (
                Image.open(io.BytesIO(data)).convert("RGB").tobytes()
                == Image.open(red_png).convert("RGB").tobytes()
            )
        else:
            assert data == red_png.read_bytes(), kind
        if hasattr(value, "close"):
            value.close()


def test_files_nested_in_lists_and_dicts_inside_lists_are_sent(
    scripted: ScriptedServer, scripted_client: SkytellsClient, red_png: Path
) -> None:
    """The emulator's models take one image; what is sent for a list of files is read on a
    server that records the body."""
    scripted.script(Reply(body=prediction("pending")))
    wav = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(20)
    scripted_client.predictions.create(
        {
            "model": "any",
            "input": {
                "images": [red_png, b"\xff\xd8\xff\xe0jpeg"],
                "layers": [{"mask": bytearray(b"GIF89a..."), "opacity": 0.5}],
                "audio": io.BytesIO(wav),
                "text": "@not-a-file",
            },
        }
    )
    sent = scripted.requests[0].json()["input"]
    assert sent_file(sent["images"][0]) == ("image/png", red_png.read_bytes())
    assert sent_file(sent["images"][1]) == ("image/jpeg", b"\xff\xd8\xff\xe0jpeg")
    assert sent_file(sent["layers"][0]["mask"]) == ("image/gif", b"GIF89a...")
    assert sent["layers"][0]["opacity"] == 0.5
    assert sent_file(sent["audio"]) == ("audio/wav", wav)
    assert sent["text"] == "@not-a-file"


def test_a_file_object_is_read_from_where_it_is_and_left_there(
    scripted: ScriptedServer, scripted_client: SkytellsClient, red_png: Path
) -> None:
    scripted.script(Reply(body=prediction("pending")))
    with red_png.open("rb") as file:
        file.seek(8)
        scripted_client.predictions.create({"model": "any", "input": {"image": file}})
        assert file.tell() == 8  # where it was: sending it again sends the same bytes
        scripted_client.predictions.create({"model": "any", "input": {"image": file}})
    first, again = (sent_file(seen.json()["input"]["image"])[1] for seen in scripted.requests)
    assert first == again == red_png.read_bytes()[8:]


def test_a_pipe_is_read_once_with_its_type_sniffed(client: SkytellsClient) -> None:
    data = png((5, 4))
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)

    writer = threading.Thread(target=feed)
    writer.start()
    with os.fdopen(read_end, "rb") as pipe:
        created = client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": pipe}}
        )
    writer.join()
    assert sent_file(created["input"]["image"]) == ("image/png", data)


def test_a_text_mode_file_is_a_clear_error_and_nothing_is_sent(
    emu: Any, client: SkytellsClient, red_png: Path
) -> None:
    before = emu.state()["requests"]
    with red_png.open() as text, pytest.raises(ValidationError) as caught:
        client.run(MODEL, {"prompt": "x", "image": text})
    assert caught.value.error_id == "INVALID_FILE_INPUT"
    assert "text mode" in caught.value.message and "'rb'" in caught.value.message
    assert caught.value.details == {"field": "image"}
    with pytest.raises(ValidationError, match="text mode"):
        client.run(MODEL, {"prompt": "x", "image": io.StringIO("abc")})
    assert emu.state()["requests"] == before


def test_a_missing_file_is_a_clear_error(client: SkytellsClient, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as caught:
        client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": tmp_path / "nope.png"}}
        )
    assert caught.value.error_id == "FILE_NOT_READABLE"
    with pytest.raises(ValidationError, match="is a directory, not a file"):
        client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": tmp_path}})


def test_a_file_the_emulator_cannot_read_as_an_image_is_refused_naming_the_field(
    client: SkytellsClient,
) -> None:
    with pytest.raises(ValidationError) as caught:
        client.run(MODEL, {"prompt": "x", "image": b"%PDF-1.7 not an image"})
    assert caught.value.error_id == "INVALID_INPUT"
    assert "does not hold an image" in caught.value.details["fields"]["image"]


# ── image to image: the output proves the file arrived ──────────────────────


def _check_derived(output: Image.Image) -> None:
    assert output.size == (37, 23)
    red, green, blue = ImageStat.Stat(output).mean
    assert red > 250 and green < 5 and blue < 5


@pytest.mark.both_clients
def test_image_to_image_output_is_derived_from_the_input_file(
    client: SkytellsClient, red_png: Path
) -> None:
    result = client.run(MODEL, {"prompt": "x", "image": red_png, "output_format": "png"})
    _check_derived(output_image(result.output[0]))


@pytest.mark.anyio
@pytest.mark.both_clients
async def test_async_image_to_image_output_is_derived_from_the_input_file(
    aclient: AsyncSkytellsClient, red_png: Path
) -> None:
    result = await aclient.run(MODEL, {"prompt": "x", "image": Image.open(red_png)})
    _check_derived(await asyncio.to_thread(output_image, result.output[0]))


def test_files_go_through_dispatch_and_run_many(client: SkytellsClient, red_png: Path) -> None:
    client.queue({"model": MODEL, "input": {"prompt": "q", "image": red_png}})
    [queued] = client.dispatch()
    assert sent_file(queued["input"]["image"])[1] == red_png.read_bytes()
    results = list(
        client.run_many(
            [
                {"model": MODEL, "input": {"prompt": str(n), "image": png(colour=(255, 0, 0))}}
                for n in range(2)
            ]
        )
    )
    assert len(results) == 2
    for result in results:
        assert result.error is None
        _check_derived(output_image(result.prediction["output"][0]))


@pytest.mark.anyio
async def test_async_dispatch_and_predict_send_files(
    aclient: AsyncSkytellsClient, red_png: Path
) -> None:
    aclient.queue({"model": MODEL, "input": {"prompt": "q", "image": red_png}})
    [queued] = await aclient.dispatch()
    assert sent_file(queued["input"]["image"])[1] == png()  # the bytes of `red_png`
    held = await aclient.predict({"model": MODEL, "input": {"prompt": "x", "image": red_png}})
    assert sent_file(held["input"]["image"])[1] == png()


# ── the file_encoder hook ────────────────────────────────────────────────────


class Uploads:
    """An encoder that records what it was given and answers a URL on a CDN."""

    def __init__(self, host: str = "https://cdn.example.com") -> None:
        self.host = host
        self.seen: list[tuple[str | None, str, int | None, str, bytes, bytes]] = []

    def __call__(self, file: FileToEncode) -> str:
        with file.open() as stream:
            streamed = stream.read()
        self.seen.append(
            (file.name, file.content_type, file.size, file.field, file.read(), streamed)
        )
        return f"{self.host}/{len(self.seen)}/{file.name or 'blob'}"


def test_a_client_encoder_receives_each_file_and_its_url_is_sent(emu: Any, red_png: Path) -> None:
    uploads = Uploads()
    with SkytellsClient(emu.api_key, base_url=emu.base_url, file_encoder=uploads) as client:
        result = client.run(MODEL, {"prompt": "x", "image": red_png})
    assert result.response["input"]["image"] == "https://cdn.example.com/1/red.png"
    data = red_png.read_bytes()
    assert uploads.seen == [("red.png", "image/png", len(data), "image", data, data)]
    assert isinstance(LocalFile(red_png), FileToEncode)


def test_a_call_encoder_overrides_the_clients(emu: Any, red_png: Path) -> None:
    client_level, per_call = Uploads("https://client.example"), Uploads("https://call.example")
    with SkytellsClient(emu.api_key, base_url=emu.base_url, file_encoder=client_level) as client:
        created = client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": b"\x89PNG\r\n\x1a\n"}},
            file_encoder=per_call,
        )
        held = client.predict(
            {"model": MODEL, "input": {"prompt": "x", "image": red_png}}, file_encoder=per_call
        )
        ran = client.run(MODEL, {"prompt": "x", "image": red_png}, file_encoder=per_call)
        plain = client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": red_png}}
        )
    assert created["input"]["image"] == "https://call.example/1/blob"
    assert held["input"]["image"] == "https://call.example/2/red.png"
    assert ran.response["input"]["image"] == "https://call.example/3/red.png"
    assert plain["input"]["image"] == "https://client.example/1/red.png"
    assert per_call.seen[0][:4] == (None, "image/png", 8, "image")


def test_an_encoder_that_fails_or_answers_no_url_is_a_clear_error_before_sending(
    emu: Any, client: SkytellsClient, red_png: Path
) -> None:
    before = emu.state()["requests"]

    def broken(file: FileToEncode) -> str:
        raise PermissionError("bucket says no")

    with pytest.raises(SkytellsError) as caught:
        client.run(MODEL, {"prompt": "x", "image": red_png}, file_encoder=broken)
    assert caught.value.error_id == "FILE_ENCODER_FAILED"
    assert "bucket says no" in caught.value.message
    assert isinstance(caught.value.__cause__, PermissionError)
    with pytest.raises(ValidationError) as answered:
        client.run(MODEL, {"prompt": "x", "image": red_png}, file_encoder=lambda f: "s3://b/k")
    assert answered.value.error_id == "INVALID_FILE_ENCODER_RESULT"

    async def asynchronous(file: FileToEncode) -> str:
        return "https://x.example/a.png"

    with pytest.raises(SkytellsError, match="AsyncSkytellsClient"):
        client.run(MODEL, {"prompt": "x", "image": red_png}, file_encoder=asynchronous)
    with pytest.raises(SkytellsError) as bad:
        SkytellsClient(emu.api_key, base_url=emu.base_url, file_encoder="s3")  # type: ignore[arg-type]
    assert bad.value.error_id == "INVALID_PARAMETER"
    assert emu.state()["requests"] == before


@pytest.mark.anyio
async def test_async_client_takes_sync_and_async_encoders(emu: Any, red_png: Path) -> None:
    sync_uploads = Uploads("https://sync.example")
    calls: list[tuple[str | None, int | None]] = []

    async def async_upload(file: FileToEncode) -> str:
        await asyncio.sleep(0)
        calls.append((file.name, file.size))
        return f"https://async.example/{file.name}"

    async with AsyncSkytellsClient(
        emu.api_key, base_url=emu.base_url, file_encoder=sync_uploads
    ) as client:
        ran = await client.run(MODEL, {"prompt": "x", "image": red_png})
        created = await client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": red_png}}, file_encoder=async_upload
        )

        def returns_awaitable(file: FileToEncode) -> Any:
            return async_upload(file)

        held = await client.predict(
            {"model": MODEL, "input": {"prompt": "x", "image": red_png}},
            file_encoder=returns_awaitable,
        )
    assert ran.response["input"]["image"] == "https://sync.example/1/red.png"
    assert created["input"]["image"] == "https://async.example/red.png"
    assert held["input"]["image"] == "https://async.example/red.png"
    assert calls == [("red.png", len(png()))] * 2


# ── the inline size limit ────────────────────────────────────────────────────


@pytest.fixture
def big_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "big.png"
    with path.open("wb") as out:
        out.write(png())
        out.truncate(3 * 1024 * 1024)
    yield path


def test_a_file_above_the_inline_limit_is_refused_before_anything_is_sent(
    emu: Any, big_file: Path
) -> None:
    before = emu.state()["requests"]
    with SkytellsClient(
        emu.api_key, base_url=emu.base_url, max_inline_file_bytes=2 * 1024 * 1024
    ) as client:
        for value in (big_file, big_file.read_bytes(), big_file.open("rb")):
            with pytest.raises(FileTooLargeError) as caught:
                client.run(MODEL, {"prompt": "x", "image": [value]})
            error = caught.value
            assert error.error_id == "FILE_TOO_LARGE"
            assert error.details == {
                "field": "image[0]",
                "size": 3 * 1024 * 1024,
                "limit": 2 * 1024 * 1024,
            }
            assert "file_encoder" in error.message
        # An encoder that uploads is the remedy: the limit is for data: URIs only.
        ok = client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": big_file}},
            file_encoder=lambda f: "https://cdn.example.com/big.png",
        )
    assert ok["input"]["image"] == "https://cdn.example.com/big.png"
    assert emu.state()["requests"] == before + 1


def test_a_file_is_refused_by_its_size_without_being_read(emu: Any, client: SkytellsClient) -> None:
    class Huge(io.RawIOBase):
        """Claims 20 GiB; reading it would fail the test."""

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return True

        def tell(self) -> int:
            return 0

        def seek(self, offset: int, whence: int = 0) -> int:
            return 20 << 30 if whence == io.SEEK_END else offset

        def readinto(self, buffer: Any) -> int:
            raise AssertionError("read")

    with pytest.raises(FileTooLargeError) as caught:
        client.run(MODEL, {"prompt": "x", "image": Huge()})
    assert caught.value.details["size"] == 20 << 30


@pytest.mark.anyio
async def test_async_file_above_the_inline_limit_is_refused_before_anything_is_sent(
    emu: Any, big_file: Path
) -> None:
    before = emu.state()["requests"]
    async with AsyncSkytellsClient(
        emu.api_key, base_url=emu.base_url, max_inline_file_bytes=1024 * 1024
    ) as client:
        with pytest.raises(FileTooLargeError) as caught:
            await client.run(MODEL, {"prompt": "x", "image": big_file})
        assert caught.value.details["limit"] == 1024 * 1024
        client.queue({"model": MODEL, "input": {"prompt": "x", "image": big_file}})
        with pytest.raises(SkytellsError) as dispatched:
            await client.dispatch()
        assert dispatched.value.failed[0][1].error_id == "FILE_TOO_LARGE"  # type: ignore[attr-defined]
    assert emu.state()["requests"] == before


def test_the_default_limit_is_10_mib_and_a_file_of_10_mib_is_sent(
    client: SkytellsClient, tmp_path: Path
) -> None:
    """10 MiB inline is about 13.3 MiB of JSON: under the API's 16 MiB body limit."""
    path = tmp_path / "edge.png"
    with path.open("wb") as out:
        out.write(png())
        out.truncate(10 * 1024 * 1024)  # a PNG followed by zeros: still an image
    created = client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": path}})
    assert sent_file(created["input"]["image"])[1] == path.read_bytes()
    with path.open("ab") as grow:
        grow.write(b"\0")
    with pytest.raises(FileTooLargeError) as caught:
        client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": path}})
    assert caught.value.details["limit"] == 10 * 1024 * 1024


# ── memory: one encoded copy ─────────────────────────────────────────────────


def test_encoding_a_file_holds_about_one_encoded_copy(tmp_path: Path) -> None:
    size = 6 * 1024 * 1024
    path = tmp_path / "six.bin"
    path.write_bytes(os.urandom(size))
    encoded = 4 * size // 3
    for value in (path, path.read_bytes()):
        tracemalloc.start()
        try:
            inline = encode(EncodeFile(value, "image", None, 10 << 20))
            body = json_bytes({"model": MODEL, "input": {"prompt": "x", "image": inline}})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert len(body) > encoded
        # The body (URI included) plus reading buffers, never a second copy of the URI.
        print(f"{type(value).__name__}: peak {peak / encoded:.2f} x the encoded size")
        assert peak < encoded * 1.3, (type(value).__name__, peak, encoded)
        assert sent_file(json_body_image(body))[1] == path.read_bytes()
        del body, inline


def json_body_image(body: bytes | bytearray) -> str:
    import json

    image: str = json.loads(body)["input"]["image"]
    return image


# ── the async client reads off the event loop ────────────────────────────────


class _GatedFile(io.RawIOBase):
    """A file whose reading waits until the event loop has run a task: read on the loop's own
    thread, it would wait for ever (it gives up after 10 s and fails the test instead)."""

    def __init__(self, data: bytes, gate: threading.Event) -> None:
        self._data = io.BytesIO(data)
        self._gate = gate

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._gate.wait(10):
            raise AssertionError("the file was read on the event loop's thread")
        return self._data.readinto(buffer)


@pytest.mark.anyio
async def test_async_client_reads_files_and_runs_sync_encoders_off_the_event_loop(
    emu: Any,
) -> None:
    data = png()

    async def open_gate(gate: threading.Event) -> None:
        await asyncio.sleep(0)
        gate.set()

    def sync_encoder(file: FileToEncode) -> str:
        assert file.read() == data
        return "https://cdn.example.com/a.png"

    async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        for encoder in (None, sync_encoder):
            gate = threading.Event()
            opener = asyncio.ensure_future(open_gate(gate))
            created = await client.predictions.create(
                {"model": MODEL, "input": {"prompt": "x", "image": _GatedFile(data, gate)}},
                file_encoder=encoder,
            )
            await opener
            sent = created["input"]["image"]
            if encoder is None:
                assert sent_file(sent)[1] == data
            else:
                assert sent == "https://cdn.example.com/a.png"


def test_with_options_changes_the_encoder_and_the_limit_only_of_the_new_client(
    emu: Any, client: SkytellsClient, big_file: Path
) -> None:
    uploads = Uploads()
    small = client.with_options(max_inline_file_bytes=1024)
    with pytest.raises(FileTooLargeError):
        small.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": big_file}})
    uploading = small.with_options(file_encoder=uploads)
    created = uploading.predictions.create(
        {"model": MODEL, "input": {"prompt": "x", "image": big_file}}
    )
    assert created["input"]["image"] == "https://cdn.example.com/1/big.png"
    plain = client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": png()}})
    assert sent_file(plain["input"]["image"])[1] == png()
    with pytest.raises(SkytellsError) as bad:
        client.with_options(max_inline_file_bytes=-1)
    assert bad.value.error_id == "INVALID_PARAMETER"


# ── a bad file in a batch: that item fails, the batch accounts for every other ─


def _closed_file(path: Path) -> io.BufferedReader:
    file = path.open("rb")
    file.close()
    return file


def test_dispatch_reports_a_bad_file_as_that_items_error_and_keeps_what_was_created(
    emu: Any, client: SkytellsClient, red_png: Path
) -> None:
    for n in range(3):
        client.queue({"model": "flux-pro", "input": {"prompt": f"ok{n}"}})
    client.queue({"model": MODEL, "input": {"prompt": "x", "image": _closed_file(red_png)}})
    client.queue({"model": "flux-pro", "input": {"prompt": "ok3"}})
    with pytest.raises(DispatchError) as caught:
        client.dispatch()
    error = caught.value
    assert len(error.created) == 4
    [(payload, failure)] = error.failed
    assert payload["model"] == MODEL
    assert failure.error_id == "INVALID_FILE_INPUT" and failure.details == {"field": "image"}
    assert "closed" in failure.message
    assert len(client.queued_payloads()) == 1  # the created ones left the queue
    with pytest.raises(DispatchError) as again:
        client.dispatch()  # sends only the bad one again: nothing is created twice
    assert again.value.created == [] and len(again.value.failed) == 1
    assert emu.state()["predictions_created"] == 4


def test_any_exception_of_one_create_in_a_batch_is_that_items_skytells_error(
    emu: Any, client: SkytellsClient
) -> None:
    class Device(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            raise RuntimeError("device gone")

    class Options(dict):  # type: ignore[type-arg]
        """An input mapping that breaks when it is walked (a bug, not a file problem)."""

        def values(self) -> Any:
            raise LookupError("broken mapping")

    client.queue({"model": "flux-pro", "input": {"prompt": "ok"}})
    client.queue({"model": MODEL, "input": {"prompt": "x", "image": Device()}})
    client.queue({"model": MODEL, "input": Options(prompt="x")})
    with pytest.raises(DispatchError) as caught:
        client.dispatch()
    assert len(caught.value.created) == 1
    (_, device), (_, mapping) = caught.value.failed
    assert device.error_id == "INVALID_FILE_INPUT" and device.details == {"field": "image"}
    assert isinstance(device.__cause__, RuntimeError) and "device gone" in device.message
    assert mapping.error_id == "UNKNOWN_ERROR" and isinstance(mapping.__cause__, LookupError)
    assert len(client.queued_payloads()) == 2
    assert emu.state()["predictions_created"] == 1


@pytest.mark.anyio
async def test_async_dispatch_reports_a_bad_file_as_that_items_error(
    emu: Any, aclient: AsyncSkytellsClient
) -> None:
    for n in range(3):
        aclient.queue({"model": "flux-pro", "input": {"prompt": f"ok{n}"}})
    aclient.queue({"model": MODEL, "input": {"prompt": "x", "image": Path("a\0b.png")}})
    with pytest.raises(DispatchError) as caught:
        await aclient.dispatch()
    assert len(caught.value.created) == 3
    [(_, failure)] = caught.value.failed
    assert failure.error_id == "INVALID_FILE_INPUT" and "NUL" in failure.message
    assert len(aclient.queued_payloads()) == 1
    assert emu.state()["predictions_created"] == 3


def test_run_many_reports_a_bad_file_in_that_items_result(
    emu: Any, client: SkytellsClient, red_png: Path
) -> None:
    payloads: list[dict[str, Any]] = [
        {"model": "flux-pro", "input": {"prompt": f"ok{n}"}} for n in range(3)
    ]
    payloads.append({"model": MODEL, "input": {"prompt": "x", "image": _closed_file(red_png)}})
    results = sorted(client.run_many(payloads), key=lambda result: result.index)
    assert [result.error is None for result in results] == [True, True, True, False]
    failure = results[3].error
    assert isinstance(failure, ValidationError) and failure.error_id == "INVALID_FILE_INPUT"
    assert emu.state()["predictions_created"] == 3


# ── bad file values: clear errors, sync and async ───────────────────────────


class _Greedy:
    """A seekable object whose read(n) returns everything left, whatever n."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read()

    def seek(self, offset: int, whence: int = 0) -> int:
        return self._data.seek(offset, whence)

    def tell(self) -> int:
        return self._data.tell()

    def seekable(self) -> bool:
        return True


class _NotReady(io.RawIOBase):
    """A non-blocking stream with no data ready."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> None:
        return None


class _BadPath:
    def __fspath__(self) -> Any:
        return 42


def _bad_values(path: Path) -> dict[str, tuple[Any, str]]:
    released = memoryview(b"abc")
    released.release()
    return {
        "closed file": (_closed_file(path), "INVALID_FILE_INPUT"),
        "path with a NUL byte": (Path("a\0b.png"), "INVALID_FILE_INPUT"),
        "released memoryview": (released, "INVALID_FILE_INPUT"),
        "__fspath__ returning an int": (_BadPath(), "INVALID_FILE_INPUT"),
        "PIL image in mode La": (Image.new("LA", (4, 4)).convert("La"), "INVALID_FILE_INPUT"),
        "non-blocking stream with no data": (_NotReady(), "FILE_NOT_READABLE"),
    }


def test_bad_file_values_are_clear_errors_and_nothing_is_sent(
    emu: Any, client: SkytellsClient, red_png: Path
) -> None:
    before = emu.state()["requests"]
    for label, (value, error_id) in _bad_values(red_png).items():
        with pytest.raises(ValidationError) as caught:
            client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": value}})
        assert caught.value.error_id == error_id, label
        assert caught.value.details == {"field": "image"}, label
    deep: Any = "x"
    for _ in range(100_000):
        deep = [deep]
    with pytest.raises(ValidationError) as nested:
        client.predictions.create({"model": MODEL, "input": {"prompt": "x", "deep": deep}})
    assert nested.value.error_id == "INVALID_INPUT" and "nested too deeply" in nested.value.message
    assert emu.state()["requests"] == before


@pytest.mark.anyio
async def test_async_bad_file_values_are_clear_errors(
    emu: Any, aclient: AsyncSkytellsClient, red_png: Path
) -> None:
    before = emu.state()["requests"]
    for label, (value, error_id) in _bad_values(red_png).items():
        with pytest.raises(ValidationError) as caught:
            await aclient.predictions.create(
                {"model": MODEL, "input": {"prompt": "x", "image": value}}
            )
        assert caught.value.error_id == error_id, label
        assert caught.value.details == {"field": "image"}, label
    assert emu.state()["requests"] == before


def test_a_read_that_ignores_its_size_still_sends_the_file_intact(
    client: SkytellsClient,
) -> None:
    data = png((40, 30)) + b"\0" * 300_000
    created = client.predictions.create(
        {"model": MODEL, "input": {"prompt": "x", "image": _Greedy(data)}}
    )
    assert sent_file(created["input"]["image"]) == ("image/png", data)


def test_compressed_and_archive_members_are_binary_files(
    client: SkytellsClient, tmp_path: Path
) -> None:
    import gzip
    import zipfile

    data = png((6, 5))
    packed = tmp_path / "a.png.gz"
    packed.write_bytes(gzip.compress(data))
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as writer:
        writer.writestr("a.png", data)
    with gzip.open(packed, "rb") as unpacked, zipfile.ZipFile(archive) as reader:
        with reader.open("a.png") as member:
            for value in (unpacked, member):
                created = client.predictions.create(
                    {"model": MODEL, "input": {"prompt": "x", "image": value}}
                )
                assert sent_file(created["input"]["image"]) == ("image/png", data)


def test_a_file_whose_size_is_not_known_by_stat_is_read_whole(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    status = Path("/proc/self/status")
    if not status.exists() or status.stat().st_size != 0:
        pytest.skip("needs a /proc file (its stat size is 0)")
    scripted.script(Reply(body=prediction("pending")))
    scripted_client.predictions.create({"model": "any", "input": {"status": status}})
    _, data = sent_file(scripted.requests[0].json()["input"]["status"])
    assert data.startswith(b"Name:") and b"\nPid:" in data


def test_a_stream_that_grows_while_read_is_file_changed_naming_the_field(
    emu: Any, client: SkytellsClient
) -> None:
    class Liar(io.BytesIO):
        """Announces 10 bytes less than it holds."""

        def seek(self, offset: int, whence: int = 0) -> int:
            position = super().seek(offset, whence)
            return position - 10 if whence == io.SEEK_END else position

    with pytest.raises(SkytellsError) as caught:
        client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": Liar(png() + b"\0" * 20)}}
        )
    assert caught.value.error_id == "FILE_CHANGED"
    assert caught.value.details == {"field": "image"}


def test_files_that_together_overflow_the_api_body_are_refused_before_sending(
    emu: Any, client: SkytellsClient
) -> None:
    nine = png() + b"\0" * (9 * 1024 * 1024)
    before = emu.state()["requests"]
    with pytest.raises(FileTooLargeError) as caught:
        client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": nine, "mask": nine}}
        )
    error = caught.value
    assert error.details["limit"] == 16 * 1024 * 1024
    assert set(error.details["fields"]) == {"image", "mask"}
    assert error.details["size"] > 16 * 1024 * 1024
    assert "file_encoder" in error.message and "16.0 MiB" in error.message
    assert emu.state()["requests"] == before


# ── a stream is read once ────────────────────────────────────────────────────


def _pipe(data: bytes) -> io.BufferedReader:
    read_end, write_end = os.pipe()
    os.write(write_end, data)  # small: fits in the pipe's buffer
    os.close(write_end)
    return os.fdopen(read_end, "rb")


def test_a_queued_pipe_is_sent_whole_by_the_dispatch_after_a_failed_one(
    emu: Any, client: SkytellsClient
) -> None:
    data = png((16, 16))
    pipe = _pipe(data)
    client.queue({"model": MODEL, "input": {"prompt": "x", "image": pipe}})
    emu.add_fault("status", path="/v1/predict", status=503, count=10)
    with pytest.raises(DispatchError) as failed:
        client.dispatch()
    assert failed.value.failed[0][1].error_id == "SERVICE_UNAVAILABLE"
    emu.clear_faults()
    [created] = client.dispatch()
    assert sent_file(created["input"]["image"]) == ("image/png", data)
    pipe.close()


def test_a_pipe_sent_again_is_file_already_read_not_an_empty_file(
    emu: Any, client: SkytellsClient
) -> None:
    pipe = _pipe(png((8, 8)))
    emu.add_fault("status", path="/v1/predict", status=503, count=10)
    with pytest.raises(SkytellsError) as unavailable:
        client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": pipe}})
    assert unavailable.value.http_status == 503
    emu.clear_faults()
    with pytest.raises(ValidationError) as caught:
        client.predictions.create({"model": MODEL, "input": {"prompt": "x", "image": pipe}})
    assert caught.value.error_id == "FILE_ALREADY_READ"
    assert caught.value.details == {"field": "image"} and "pass its bytes" in caught.value.message
    pipe.close()


def test_an_encoder_reads_a_pipe_once_and_a_seekable_file_as_often_as_it_likes(
    client: SkytellsClient, red_png: Path
) -> None:
    reads: list[Any] = []

    def twice(file: FileToEncode) -> str:
        reads.append(file.read())
        try:
            reads.append(file.read())
        except ValidationError as error:
            reads.append(error.error_id)
        try:
            with file.open() as again:
                reads.append(again.read())
        except ValidationError as error:
            reads.append(error.error_id)
        return "https://cdn.example.com/x.png"

    data = red_png.read_bytes()
    client.predictions.create(
        {"model": MODEL, "input": {"prompt": "x", "image": _pipe(data)}}, file_encoder=twice
    )
    assert reads == [data, "FILE_ALREADY_READ", "FILE_ALREADY_READ"]
    reads.clear()
    with red_png.open("rb") as file:
        client.predictions.create(
            {"model": MODEL, "input": {"prompt": "x", "image": file}}, file_encoder=twice
        )
    assert reads == [data, data, data]


def test_a_dispatch_after_a_failed_one_reuses_the_encoders_url(emu: Any, red_png: Path) -> None:
    calls: list[str] = []

    def upload(file: FileToEncode) -> str:
        calls.append(file.field)
        return f"https://cdn.example.com/{len(calls)}.png"  # a new name at each upload

    with SkytellsClient(emu.api_key, base_url=emu.base_url, file_encoder=upload) as client:
        client.queue({"model": MODEL, "input": {"prompt": "x", "image": red_png}})
        emu.add_fault("status", path="/v1/predict", status=503, count=10)
        with pytest.raises(DispatchError):
            client.dispatch()
        emu.clear_faults()
        [created] = client.dispatch()
    assert calls == ["image"]  # uploaded once: the second dispatch sent the same body
    assert created["input"]["image"] == "https://cdn.example.com/1.png"
