"""`saving`: the plan of names, the file actions asked of the I/O layer, retries and limits of
a save, driven in memory (no disk: the driver records the files it is asked to write)."""

from __future__ import annotations

from pathlib import Path

import pytest

import skytells
from skytells._core.protocol import Download, DownloadResult, EnsureFree, PrepareFolder, WriteFile
from skytells._core.saving import is_url, save_outputs

from .driver import Driver, context, prediction

OUT = Path("/out")


def test_the_plan_names_every_output_and_refuses_taken_names_before_downloading() -> None:
    done = prediction(
        "succeeded",
        "p1",
        output=["https://files.example/a/img.png", "https://files.example/b/img.png", "hello"],
    )
    driver = Driver(
        downloads=[
            DownloadResult(200, {"content-type": "image/png"}, 10, OUT / "p1-img.png"),
            DownloadResult(200, {"content-type": "image/png"}, 20, OUT / "p1-img-1.png"),
        ]
    )
    written = driver.run(save_outputs(context(), done, OUT))
    assert written == [OUT / "p1-img.png", OUT / "p1-img-1.png", OUT / "p1-output.txt"]
    kinds = [type(a).__name__ for a in driver.actions if type(a).__name__ != "Now"]
    assert kinds == ["PrepareFolder", "EnsureFree", "Download", "Download", "WriteFile"]
    (free,) = [a for a in driver.actions if isinstance(a, EnsureFree)]
    assert free.paths == (OUT / "p1-img.png", OUT / "p1-img-1.png", OUT / "p1-output.txt")
    assert driver.files == {OUT / "p1-output.txt": b"hello"}
    first, second = [a for a in driver.actions if isinstance(a, Download)]
    assert second.max_bytes == first.max_bytes - 10  # one cap for the whole call
    assert first.choose({"content-type": "image/png"}) == OUT / "p1-img.png"


def test_a_name_without_an_extension_gets_one_from_the_content_type() -> None:
    done = prediction("succeeded", "p1", output="https://files.example/render")
    driver = Driver(downloads=[DownloadResult(200, {}, 1, OUT / "p1-render.webp")])
    driver.run(save_outputs(context(), done, OUT))
    (action,) = [a for a in driver.actions if isinstance(a, Download)]
    assert action.choose({"content-type": "image/webp"}) == OUT / "p1-render.webp"
    (free,) = [a for a in driver.actions if isinstance(a, EnsureFree)]
    assert free.paths == ()  # its final name is not known before the download


def test_a_file_target_with_overwrite_skips_the_check() -> None:
    done = prediction("succeeded", "p1", output="text")
    driver = Driver(folder_mode=False)
    assert driver.run(save_outputs(context(), done, OUT / "a.txt", overwrite=True)) == [
        OUT / "a.txt"
    ]
    assert not any(isinstance(a, EnsureFree) for a in driver.actions)
    (write,) = [a for a in driver.actions if isinstance(a, WriteFile)]
    assert write.overwrite and isinstance(driver.actions[1], PrepareFolder)


def test_a_purged_output_is_not_found_and_a_5xx_is_retried_within_the_deadline() -> None:
    done = prediction("succeeded", "p1", output="https://files.example/x.png")
    driver = Driver(downloads=[DownloadResult(503, {}, 0), DownloadResult(410, {}, 0)])
    with pytest.raises(skytells.NotFoundError) as info:
        driver.run(save_outputs(context(), done, OUT))
    assert info.value.error_id == "OUTPUT_NOT_FOUND"
    assert driver.sleeps == [0.5]
    deadlines = {a.deadline for a in driver.actions if isinstance(a, Download)}
    assert deadlines == {1000.0 + 600.0}  # one deadline for the call: 10 minutes by default


def test_text_past_max_bytes_and_nothing_to_save_are_refused() -> None:
    with pytest.raises(skytells.SkytellsError) as info:
        Driver().run(
            save_outputs(context(), prediction("succeeded", output="x" * 10), OUT, max_bytes=5)
        )
    assert info.value.error_id == "DOWNLOAD_TOO_LARGE"
    with pytest.raises(skytells.SkytellsError) as info:
        Driver().run(save_outputs(context(), prediction("processing"), OUT))
    assert info.value.error_id == "INVALID_REQUEST"
    with pytest.raises(skytells.SkytellsError) as info:
        Driver().run(
            save_outputs(context(), prediction("succeeded", output="x"), OUT, timeout_ms=0)
        )
    assert info.value.error_id == "INVALID_PARAMETER"


def test_what_counts_as_a_url() -> None:
    assert is_url("https://files.example/x.png") and is_url("http://[bad")
    assert not is_url("a poem: https://x") and not is_url("file:///etc/passwd")
