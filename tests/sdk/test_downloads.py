"""`save()` against hostile servers: names, clashes, links, limits and the async disk path.

The API answers come from the scripted server (a prediction whose id or outputs are hostile),
the files from a raw-socket file host (`tests/file_host.py`) that sends endless bodies, gzip
bombs and names no real CDN would. Sync and async clients go through the same cases.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError
from tests.file_host import File, FileHost, endless, gzip, gzip_bomb
from tests.scripted_server import Reply, ScriptedServer

MODES = ["sync", "async"]
HOSTILE_URL_PATHS = [
    "/f/..%2F..%2Fescape.png",
    "/f/%2e%2e",
    "/f/a%00b.png",
    "/f/" + "n" * 10_000 + ".png",
    "/f/%E2%80%AEgnp.exe",
    "/f/.hidden",
    "/f/%2Fetc%2Fpasswd",
    "/f/C:%5Cwindows%5Cx.png",
    "/f/",
]
"""URL paths no real CDN sends: each must become a safe name inside the target folder."""
HOSTILE_IDS = ["../../..", "../keep", "..", "a/b", "a\\b", "x\x00y", "a" * 101, "ABSOLUTE"]
"""Prediction ids that cannot name a file (``ABSOLUTE``: replaced by an absolute path)."""
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def host() -> Iterator[FileHost]:
    with FileHost().running() as server:
        yield server


def save(mode: str, api: ScriptedServer, body: dict[str, Any], target: Path, **kw: Any) -> Any:
    """Run a model on the scripted API (which answers ``body``) and save the prediction with
    `Prediction.save` on the sync or the async client."""
    api.script(Reply(200, {"status": "succeeded", **body}))
    options: dict[str, Any] = {"base_url": api.base_url, "retry": {"retry_delay": 1}}
    if mode == "sync":
        with SkytellsClient("sk-test-key", **options) as client:
            return client.run("flux-pro", input={"prompt": "x"}).save(target, **kw)

    async def run() -> Any:
        async with AsyncSkytellsClient("sk-test-key", **options) as client:
            prediction = await client.run("flux-pro", input={"prompt": "x"})
            return await prediction.save(target, **kw)

    return asyncio.run(run())


def tree(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` (files with their bytes, links with their target)."""
    found: dict[str, bytes | str] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(folder, name)
            key = str(path.relative_to(root))
            if path.is_symlink():
                found[key] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[key] = path.read_bytes()
            else:
                found[key] = "dir"
    return found


# ── 1. names from the server never leave the target ─────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "hostile_id",
    HOSTILE_IDS,
)
def test_an_unsafe_prediction_id_is_refused_and_nothing_is_written(
    mode: str, hostile_id: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    if hostile_id == "ABSOLUTE":
        hostile_id = str(tmp_path / "elsewhere" / "deep")
    (tmp_path / "keep-out-0.png").write_bytes(b"the user's file")
    target = tmp_path / "a" / "b" / "c" / "out"
    target.mkdir(parents=True)
    before = tree(tmp_path)
    url = host.serve("/files/out-0.png", File(PNG))
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": hostile_id, "output": [url]}, target)
    assert info.value.error_id == "UNSAFE_OUTPUT_NAME"
    assert "\x00" not in str(info.value)
    assert tree(tmp_path) == before  # nothing written, no folder created, the user file intact
    assert host.requests == []  # refused before any download


@pytest.mark.parametrize("mode", MODES)
def test_hostile_url_names_are_reduced_to_safe_names_inside_the_target(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    raw_paths = HOSTILE_URL_PATHS
    urls = [host.serve(path, File(PNG + path.encode())) for path in raw_paths]
    target = tmp_path / "out"
    paths = save(mode, scripted, {"id": "pred-1", "output": urls}, target)
    assert len(paths) == len(urls) == len(set(paths))
    for path, raw in zip(paths, raw_paths, strict=True):
        assert path.parent == target and path.resolve().parent == target.resolve()
        name = path.name
        assert name.startswith("pred-1-") and len(name) <= 120  # bounded, well under 255
        assert all(c.isascii() and (c.isalnum() or c in "._-") for c in name), name
        assert path.read_bytes() == PNG + raw.encode()
    assert sorted(tree(tmp_path)) == ["out", *sorted(f"out/{p.name}" for p in paths)]
    assert paths[2].name == "pred-1-a_b.png"


def test_an_invalid_target_is_a_clear_error(scripted: ScriptedServer, tmp_path: Path) -> None:
    (tmp_path / "file.txt").write_text("x")
    with SkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
        for target in ("bad\x00name", str(tmp_path / "file.txt" / "sub"), "x" * 10_000):
            with pytest.raises(skytells.SkytellsError) as info:
                client.save_outputs({"id": "p", "status": "succeeded", "output": "hi"}, target)
            assert info.value.error_id == "FILE_WRITE_ERROR"


# ── 2. no file is lost on a name clash ────────────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
def test_outputs_with_the_same_name_become_distinct_files(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    urls = [
        host.serve("/one/img.png", File(b"one")),
        host.serve("/two/img.png", File(b"two")),
        host.serve("/three/IMG.png", File(b"three")),
        host.serve("/four/img", File(b"four", content_type="image/png")),  # .png from the type
    ]
    paths = save(mode, scripted, {"id": "p1", "output": [*urls, "text a", "text b"]}, tmp_path)
    assert len(set(paths)) == 6
    assert len({p.name.casefold() for p in paths}) == 6  # case-insensitive file systems too
    assert [p.read_bytes() for p in paths] == [
        b"one",
        b"two",
        b"three",
        b"four",
        b"text a",
        b"text b",
    ]
    assert [p.name for p in paths][:2] == ["p1-img.png", "p1-img-1.png"]


@pytest.mark.parametrize("mode", MODES)
def test_predictions_whose_ids_share_a_prefix_keep_their_own_files(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    first = host.serve("/a/out-0.png", File(b"first"))
    second = host.serve("/b/out-0.png", File(b"second"))
    (one,) = save(mode, scripted, {"id": "abcdefgh-1111", "output": [first]}, tmp_path)
    (two,) = save(mode, scripted, {"id": "abcdefgh-2222", "output": [second]}, tmp_path)
    assert one != two
    assert (one.read_bytes(), two.read_bytes()) == (b"first", b"second")


@pytest.mark.parametrize("mode", MODES)
def test_an_existing_file_is_replaced_only_with_overwrite(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    named = host.serve("/f/out-0.png", File(b"new"))
    typed = host.serve("/f/render", File(b"new", content_type="image/png"))
    mine = tmp_path / "p2-out-0.png"
    mine.write_bytes(b"mine")
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": "p2", "output": [named]}, tmp_path)
    assert info.value.error_id == "FILE_EXISTS" and mine.read_bytes() == b"mine"
    assert host.requests == []  # known before downloading: refused at once
    # The name known only from the content type: refused when the headers arrive.
    (tmp_path / "p2-render.png").write_bytes(b"mine too")
    with pytest.raises(skytells.SkytellsError, match="overwrite=True"):
        save(mode, scripted, {"id": "p2", "output": [typed]}, tmp_path)
    assert (tmp_path / "p2-render.png").read_bytes() == b"mine too"
    # A single-file target too.
    with pytest.raises(skytells.SkytellsError, match="already exists"):
        save(mode, scripted, {"id": "p2", "output": [named]}, mine)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p2-out-0.png", "p2-render.png"]
    (path,) = save(mode, scripted, {"id": "p2", "output": [named]}, tmp_path, overwrite=True)
    assert path == mine and mine.read_bytes() == b"new"


# ── 3. planted links are never followed ───────────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
def test_links_planted_in_the_target_are_not_followed(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    target = tmp_path / "out"
    target.mkdir()
    url = host.serve("/f/out-0.png", File(b"downloaded"))
    dest = target / "p3-out-0.png"
    (target / "p3-out-0.png.part").symlink_to(victim)  # the old temporary name
    (path,) = save(mode, scripted, {"id": "p3", "output": [url]}, target)
    assert path == dest and dest.read_bytes() == b"downloaded" and not dest.is_symlink()
    assert victim.read_bytes() == b"precious"
    # A link at the final name is an existing file: refused, and replaced itself with overwrite.
    dest.unlink()
    dest.symlink_to(victim)
    with pytest.raises(skytells.SkytellsError, match="already exists"):
        save(mode, scripted, {"id": "p3", "output": [url]}, target)
    save(mode, scripted, {"id": "p3", "output": [url]}, target, overwrite=True)
    assert not dest.is_symlink() and dest.read_bytes() == b"downloaded"
    assert victim.read_bytes() == b"precious"
    assert sorted(p.name for p in target.iterdir()) == ["p3-out-0.png", "p3-out-0.png.part"]


# ── 9. downloads are bounded in size and time ────────────────────────────────────────


@pytest.mark.parametrize("mode", MODES)
def test_an_endless_body_stops_at_max_bytes_without_a_retry(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(endless()))
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": "p4", "output": [url]}, tmp_path, max_bytes=1 << 20)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE" and "max_bytes" in str(info.value)
    assert list(tmp_path.iterdir()) == []  # no file, no .part
    assert len(host.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_a_declared_size_past_the_default_cap_is_refused_before_writing(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    huge = File(endless(pause=0.01), headers={"content-length": str(10 * 1024**3)})
    url = host.serve("/f/out-0.png", huge)
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": "p5", "output": [url]}, tmp_path, timeout=20_000)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE"
    assert list(tmp_path.iterdir()) == [] and len(host.requests) == 1


@pytest.mark.parametrize("mode", MODES)
def test_timeout_bounds_the_whole_save_retries_included(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(endless(b"\0" * 1024, pause=0.02)))
    with pytest.raises(skytells.APITimeoutError):
        save(mode, scripted, {"id": "p6", "output": [url]}, tmp_path, timeout=1000)
    assert len(host.requests) == 1  # one deadline for the call: no attempt after it passed
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("encoding", ["gzip", "gzip, gzip"])
def test_a_gzip_bomb_never_inflates_past_max_bytes(
    mode: str, encoding: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    body = gzip_bomb(1024)  # 1 MB on the wire, 1 GiB decoded
    if encoding == "gzip, gzip":
        body = gzip(body)
    url = host.serve("/f/out-0.png", File(body, headers={"content-encoding": encoding}))
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": "p7", "output": [url]}, tmp_path, max_bytes=8 << 20)
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE"
    assert list(tmp_path.iterdir()) == []
    assert host.requests[0].headers["accept-encoding"] == "identity"


@pytest.mark.parametrize("mode", MODES)
def test_an_encoded_file_is_decoded_and_an_unknown_encoding_refused(
    mode: str, scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/a.png", File(gzip(gzip(PNG)), headers={"content-encoding": "gzip, gzip"}))
    (path,) = save(mode, scripted, {"id": "p8", "output": [url]}, tmp_path)
    assert path.read_bytes() == PNG
    odd = host.serve("/f/b.png", File(b"\0" * 100, headers={"content-encoding": "br"}))
    with pytest.raises(skytells.SkytellsError) as info:
        save(mode, scripted, {"id": "p8", "output": [odd]}, tmp_path)
    assert info.value.error_id == "UNSUPPORTED_CONTENT_ENCODING"
    assert [p.name for p in tmp_path.iterdir()] == ["p8-a.png"]


# ── 17. the async save awaits its callback and keeps the disk off the event loop ─────

_opens: list[tuple[str, int]] = []
_watch: list[str] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watch and event in ("open", "os.mkdir", "os.rename", "os.link", "os.remove"):
        path = str(args[0]) if args and isinstance(args[0], (str, os.PathLike)) else ""
        if path.startswith(_watch[0]):
            _opens.append((path, threading.get_ident()))


sys.addaudithook(_audit)  # audit hooks cannot be removed: it records only while _watch is set


def test_async_save_awaits_on_progress_and_does_disk_work_in_a_thread(
    scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    urls = [host.serve(f"/f/out-{i}.png", File(PNG * 64)) for i in range(2)]
    seen: list[tuple[str, int, int | None]] = []

    async def on_progress(path: Path, done: int, total: int | None) -> None:
        await asyncio.sleep(0)
        seen.append((path.name, done, total))

    loop_threads: list[int] = []

    async def run() -> list[Path]:
        loop_threads.append(threading.get_ident())
        async with AsyncSkytellsClient("sk-test-key", base_url=scripted.base_url) as client:
            prediction = await client.run("flux-pro", input={"prompt": "x"})
            return await prediction.save(tmp_path / "out", on_progress=on_progress)

    scripted.script(Reply(200, {"id": "p9", "status": "succeeded", "output": [*urls, "text"]}))
    _watch.append(str(tmp_path))
    try:
        paths = asyncio.run(run())
    finally:
        _watch.clear()
    assert [p.name for p in paths] == ["p9-out-0.png", "p9-out-1.png", "p9-output.txt"]
    size = len(PNG) * 64
    assert seen and seen[-1] == ("p9-out-1.png", size, size)
    assert ("p9-out-0.png", size, size) in seen
    touched = [entry for entry in _opens if entry[0].startswith(str(tmp_path))]
    assert len(touched) >= 5  # the folder, the .part files, the moves
    assert all(thread != loop_threads[0] for _, thread in touched), touched


def test_sync_save_rejects_an_async_progress_callback(
    scripted: ScriptedServer, host: FileHost, tmp_path: Path
) -> None:
    url = host.serve("/f/out-0.png", File(PNG))

    async def on_progress(path: Path, done: int, total: int | None) -> None:
        return None

    with pytest.raises(TypeError, match="AsyncSkytellsClient"):
        save("sync", scripted, {"id": "p10", "output": [url]}, tmp_path, on_progress=on_progress)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_an_output_answered_204_is_an_error_not_an_empty_file(
    scripted: ScriptedServer, tmp_path: Path, flavour: str
) -> None:
    done = {"id": "pred-204", "status": "succeeded", "output": [f"{scripted.base_url}/f/a.png"]}
    scripted.script(Reply(204, b"", headers={"content-encoding": "gzip"}))
    if flavour == "sync":
        with SkytellsClient("sk-test", base_url=scripted.base_url, max_retries=0) as client:
            with pytest.raises(SkytellsError) as caught:
                client.save_outputs(done, tmp_path)
    else:

        async def save() -> None:
            async with AsyncSkytellsClient(
                "sk-test", base_url=scripted.base_url, max_retries=0
            ) as client:
                await client.save_outputs(done, tmp_path)

        with pytest.raises(SkytellsError) as caught:
            asyncio.run(save())
    assert "204" in str(caught.value)
    assert list(tmp_path.iterdir()) == []
