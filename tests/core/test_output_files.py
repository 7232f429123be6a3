"""`output_files`: what each output file is (names, content types) and reading one, driven in
memory: the actions asked of the I/O layer, retries, purged outputs refused before any action."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import skytells
from skytells._core.output_files import Seen, content_type, file_chunks, files_of, read_file
from skytells._core.protocol import Download, DownloadResult, OpenFile, StreamResponse
from skytells._core.saving import save_outputs
from skytells._exceptions import APIConnectionError

from .driver import Driver, context, prediction

URL = "https://files.example/p1"
OUT = Path("/out")


def stored(*entries: Any) -> dict[str, Any]:
    """``metadata`` listing ``entries`` as ``storage.files``."""
    return {"storage": {"files": list(entries)}}


def test_files_are_the_url_outputs_named_as_save_names_them() -> None:
    outputs = [f"{URL}/a/img.png", "some text", f"{URL}/b/img.png", f"{URL}/c/IMG.PNG"]
    done = prediction("succeeded", "p1", output=outputs)
    files = files_of(done)
    assert [(f.index, f.url) for f in files] == [(0, outputs[0]), (2, outputs[2]), (3, outputs[3])]
    assert [f.name for f in files] == ["p1-img.png", "p1-img-1.png", "p1-IMG-2.PNG"]
    # The same names as saving them all into a folder gives.
    driver = Driver(
        downloads=[DownloadResult(200, {}, 1, OUT / f.name) for f in files],
    )
    driver.run(save_outputs(context(), done, OUT))
    chosen = [a.choose({}) for a in driver.actions if isinstance(a, Download)]
    assert [p.name for p in chosen] == [f.name for f in files]


@pytest.mark.parametrize("output", [None, "a text answer", ["two", "texts"], []])
def test_text_and_missing_outputs_have_no_files(output: Any) -> None:
    assert files_of(prediction("succeeded", "p1", output=output)) == []


def test_an_unsafe_prediction_id_is_refused_as_save_refuses_it() -> None:
    with pytest.raises(skytells.SkytellsError) as info:
        files_of(prediction("succeeded", "../../etc", output=[f"{URL}/a.png"]))
    assert info.value.error_id == "UNSAFE_OUTPUT_NAME"


def test_content_types_come_from_the_metadata_then_the_response_then_the_name() -> None:
    outputs = [f"{URL}/a.png", f"{URL}/render", f"{URL}/b.webp", f"{URL}/c.qqq", f"{URL}/d"]
    metadata = stored(
        {"url": outputs[0], "type": "IMAGE/PNG; charset=x"},
        {"url": outputs[1], "type": "video/mp4"},
        {"url": outputs[2], "type": "image/webp\x1b[31m"},  # not a media type: ignored
        {"url": 7, "type": "image/gif"},
        "not an entry",
    )
    files = files_of(prediction("succeeded", "p1", output=outputs, metadata=metadata))
    assert [f.declared_type for f in files] == ["image/png", "video/mp4", None, None, None]
    assert files[1].name == "p1-render.mp4"  # the extension from the declared type
    fresh = [content_type(f, Seen()) for f in files]
    assert fresh == ["image/png", "video/mp4", "image/webp", None, None]
    # What a response said counts once read, after what the prediction declares.
    said = Seen(content_type="audio/wav")
    assert [content_type(f, said) for f in files] == [
        "image/png",
        "video/mp4",
        "audio/wav",
        "audio/wav",
        "audio/wav",
    ]


@pytest.mark.parametrize("metadata", [None, "x", {"storage": []}, {"storage": {"files": {}}}])
def test_metadata_of_any_shape_is_no_error(metadata: Any) -> None:
    (file,) = files_of(prediction("succeeded", "p1", output=[f"{URL}/a.png"], metadata=metadata))
    assert file.declared_type is None and content_type(file, Seen()) == "image/png"


def test_read_opens_without_the_key_retries_and_learns_the_content_type() -> None:
    (file,) = files_of(prediction("succeeded", "p1", output=f"{URL}/a"))
    driver = Driver(
        streams=[
            StreamResponse(503, {"retry-after": "2"}),
            StreamResponse(200, {"content-type": "image/png"}, 1),
        ],
        chunks={1: [b"ab", b"cd"]},
    )
    seen = Seen()
    assert driver.run(read_file(context(), file, seen)) == b"abcd"
    assert driver.sleeps == [2]
    assert seen.content_type == "image/png"
    opens = [a for a in driver.actions if isinstance(a, OpenFile)]
    assert [a.url for a in opens] == [file.url, file.url]
    assert opens[0].max_bytes == 5 * 1024**3  # the download path's default cap


def test_read_starts_again_from_the_first_byte_after_a_cut() -> None:
    (file,) = files_of(prediction("succeeded", "p1", output=f"{URL}/a.png"))
    cut = APIConnectionError("GET failed: incomplete body", "NETWORK_ERROR")
    driver = Driver(
        streams=[StreamResponse(200, {}, 1), StreamResponse(200, {}, 2)],
        chunks={1: [b"abc", cut], 2: [b"abc", b"def"]},
    )
    assert driver.run(read_file(context(), file, Seen())) == b"abcdef"


def test_chunks_are_emitted_after_an_empty_one_and_a_cut_is_not_retried() -> None:
    (file,) = files_of(prediction("succeeded", "p1", output=f"{URL}/a.png"))
    cut = APIConnectionError("GET failed: incomplete body", "NETWORK_ERROR")
    driver = Driver(streams=[StreamResponse(200, {}, 1)], chunks={1: [b"ab", b"cd", cut]})
    with pytest.raises(APIConnectionError):
        driver.run(file_chunks(context(), file, Seen()))
    assert driver.emitted == [b"", b"ab", b"cd"]  # b"": open; no second attempt
    assert len([a for a in driver.actions if isinstance(a, OpenFile)]) == 1


@pytest.mark.parametrize("status", [404, 410])
def test_a_missing_file_is_output_not_found_without_a_retry(status: int) -> None:
    (file,) = files_of(prediction("succeeded", "p1", output=f"{URL}/a.png"))
    for op in (read_file, file_chunks):
        driver = Driver(streams=[StreamResponse(status, {})])
        with pytest.raises(skytells.NotFoundError) as info:
            driver.run(op(context(), file, Seen()))
        assert (info.value.error_id, info.value.http_status) == ("OUTPUT_NOT_FOUND", status)
        assert driver.sleeps == []


def test_a_purged_prediction_is_refused_before_any_action() -> None:
    purged = prediction("succeeded", "p1", output=[f"{URL}/a.png"], data_removed=True)
    (file,) = files_of(purged)
    runs = [
        lambda: read_file(context(), file, Seen()),
        lambda: file_chunks(context(), file, Seen()),
        lambda: save_outputs(context(), purged, OUT),
        lambda: save_outputs(context(), purged, OUT, only=0),
    ]
    for make in runs:
        driver = Driver()
        with pytest.raises(skytells.NotFoundError) as info:
            driver.run(make())
        assert info.value.error_id == "OUTPUT_NOT_FOUND"
        assert info.value.details == {"url": file.url, "data_removed": True}
        assert [type(a).__name__ for a in driver.actions] in ([], ["Now"])


def test_saving_one_output_names_it_as_saving_them_all() -> None:
    outputs = [f"{URL}/a/img.png", f"{URL}/b/img.png"]
    done = prediction("succeeded", "p1", output=outputs)
    driver = Driver(downloads=[DownloadResult(200, {}, 3, OUT / "p1-img-1.png")])
    assert driver.run(save_outputs(context(), done, OUT, only=1)) == [OUT / "p1-img-1.png"]
    (action,) = [a for a in driver.actions if isinstance(a, Download)]
    assert action.url == outputs[1] and action.choose({}) == OUT / "p1-img-1.png"
    # A file path is that output's path, whatever the number of outputs.
    driver = Driver(folder_mode=False, downloads=[DownloadResult(200, {}, 3, OUT / "mine.png")])
    driver.run(save_outputs(context(), done, OUT / "mine.png", only=1))
    (action,) = [a for a in driver.actions if isinstance(a, Download)]
    assert action.choose({}) == OUT / "mine.png"
