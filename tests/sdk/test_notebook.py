"""Notebooks: a prediction displays itself through IPython's display formatter, and
``progress=True`` draws a live bar: updated in place in a kernel, redrawn on a terminal (a pty),
plain lines in a pipe. Sync and async, against the emulator (and a hostile scripted server for
what the emulator never sends).
"""

from __future__ import annotations

import builtins
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from IPython.core.displaypub import DisplayPublisher
from IPython.core.formatters import DisplayFormatter
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from skytells import (
    AsyncPrediction,
    AsyncSkytellsClient,
    Prediction,
    PredictionFailedError,
    SkytellsClient,
    WaitTimeoutError,
)
from tests.core.test_display import Markup, assert_inert
from tests.scripted_server import Reply, ScriptedServer, prediction

MEDIA = [
    ("flux-edge", {"prompt": "a lighthouse"}, "img", "image/"),
    ("mera", {"prompt": "waves", "seconds": "4"}, "video", "video/"),
    ("skytells-tts", {"text": "Hello there"}, "audio", "audio/"),
    ("beatfusion-2.0", {"prompt": "lofi"}, "audio", "audio/"),
]
HOSTILE = "<script>alert('x')</script>\"' onerror=\"alert(1)"


def formatted(obj: Any) -> dict[str, Any]:
    """What Jupyter would show: IPython's display formatter, all MIME types."""
    data, _metadata = DisplayFormatter().format(obj)
    return data


def check_media(data: dict[str, Any], shown: Prediction | AsyncPrediction, tag: str) -> str:
    assert {"text/plain", "text/html"} <= set(data)
    plain = data["text/plain"]
    assert plain.splitlines()[0] == f"Prediction {shown.id}"
    assert "status     succeeded" in plain and "credits" in plain
    markup = assert_inert(data["text/html"])
    (url,) = shown.output if isinstance(shown.output, list) else [shown.output]
    (element,) = markup.elements(tag)
    assert element["src"] == url
    if tag != "img":
        assert "controls" in element
    text = "".join(markup.text)
    assert shown.id in text and shown.response["model"]["name"] in text
    return str(url)


# ── a prediction in a notebook ───────────────────────────────────────────


@pytest.mark.parametrize(("model", "inputs", "tag", "served"), MEDIA)
def test_outputs_display_inline_with_a_player_for_their_type(
    client: SkytellsClient, model: str, inputs: dict[str, Any], tag: str, served: str
) -> None:
    shown = client.run(model, input=inputs)
    url = check_media(formatted(shown), shown, tag)
    with httpx.Client() as http:  # the element points at a file the browser can play
        assert http.get(url).headers["content-type"].startswith(served)
    assert repr(shown) == f"Prediction(id={shown.id!r}, status='succeeded')"  # unchanged


@pytest.mark.anyio
@pytest.mark.parametrize(("model", "inputs", "tag", "served"), MEDIA)
async def test_async_outputs_display_inline_with_a_player_for_their_type(
    aclient: AsyncSkytellsClient, model: str, inputs: dict[str, Any], tag: str, served: str
) -> None:
    shown = await aclient.run(model, input=inputs)
    check_media(formatted(shown), shown, tag)


@pytest.mark.parametrize(("model", "inputs", "tag", "served"), MEDIA)
def test_each_output_file_displays_inline(
    client: SkytellsClient, model: str, inputs: dict[str, Any], tag: str, served: str
) -> None:
    shown = client.run(model, input=inputs)
    (file,) = shown.files()
    data = formatted(file)
    assert {"text/plain", "text/html"} <= set(data)
    assert file.name in data["text/plain"]
    (element,) = assert_inert(data["text/html"]).elements(tag)
    assert element["src"] == file.url


@pytest.mark.anyio
async def test_an_async_output_file_displays_inline(aclient: AsyncSkytellsClient) -> None:
    shown = await aclient.run("truefusion", input={"prompt": "a fox"})
    (file,) = shown.files()
    (element,) = assert_inert(formatted(file)["text/html"]).elements("img")
    assert element["src"] == file.url


def check_text(data: dict[str, Any], shown: Prediction | AsyncPrediction) -> None:
    markup = assert_inert(data["text/html"])
    assert not markup.links()
    (pre,) = markup.elements("pre")
    assert "max-height" in (pre["style"] or "")
    assert str(shown.output) in "".join(markup.text)
    assert str(shown.output)[:40] in data["text/plain"]


def test_a_text_output_displays_as_text(client: SkytellsClient) -> None:
    shown = client.run("skytells-chat", input={"prompt": "What is <b>bold</b>?"})
    check_text(formatted(shown), shown)


@pytest.mark.anyio
async def test_async_a_text_output_displays_as_text(aclient: AsyncSkytellsClient) -> None:
    shown = await aclient.run("skytells-chat", input={"prompt": "What is <b>bold</b>?"})
    check_text(formatted(shown), shown)


def check_failed(data: dict[str, Any]) -> None:
    markup = assert_inert(data["text/html"])
    assert not markup.elements("script") and not markup.links()
    assert HOSTILE in "".join(markup.text)  # the error text, shown as text
    assert any("#b91c1c" in (span["style"] or "") for span in markup.elements("span"))
    assert "status     failed" in data["text/plain"]


def test_a_failed_prediction_shows_its_error_as_text(client: SkytellsClient, emu: Any) -> None:
    emu.fail_next(message=HOSTILE)
    with pytest.raises(PredictionFailedError) as info:
        client.run("flux-edge", input={"prompt": "x"})
    assert info.value.prediction is not None
    check_failed(formatted(Prediction(client, info.value.prediction)))


@pytest.mark.anyio
async def test_async_a_failed_prediction_shows_its_error_as_text(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.fail_next(message=HOSTILE)
    with pytest.raises(PredictionFailedError) as info:
        await aclient.run("flux-edge", input={"prompt": "x"})
    assert info.value.prediction is not None
    check_failed(formatted(AsyncPrediction(aclient, info.value.prediction)))


def check_cancelled(data: dict[str, Any], shown: Prediction | AsyncPrediction) -> None:
    assert shown.status in ("cancelled", "canceled")
    markup = assert_inert(data["text/html"])
    assert not markup.elements("img") and "cancelled" in "".join(markup.text)
    assert "status     cancelled" in data["text/plain"]


def test_a_cancelled_prediction_displays(client: SkytellsClient, emu: Any) -> None:
    emu.configure(time_scale=1000.0)  # it stays running: there is time to cancel it
    shown = Prediction(
        client, client.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    )
    shown.cancel()
    check_cancelled(formatted(shown), shown)


@pytest.mark.anyio
async def test_async_a_cancelled_prediction_displays(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1000.0)
    created = await aclient.predictions.create({"model": "mera", "input": {"prompt": "x"}})
    shown = AsyncPrediction(aclient, created)
    await shown.cancel()
    check_cancelled(formatted(shown), shown)


def test_a_hostile_server_injects_nothing(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    body = prediction(
        "succeeded",
        id="pred_abc123",
        model={"name": HOSTILE, "type": "image"},
        error=HOSTILE,
        output=[
            "javascript:alert(1)",
            'https://cdn.example/a.png" onerror="alert(1)',
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            "https://cdn.example/fine.png",
        ],
        metadata={
            "storage": {"files": [{"url": "https://cdn.example/fine.png", "type": "video/x"}]}
        },
    )
    scripted.script(Reply(body=body))
    shown = scripted_client.run("flux-pro", input={"prompt": "x"})
    data = formatted(shown)
    markup = assert_inert(data["text/html"])
    assert set(markup.links()) == {"https://cdn.example/fine.png"}  # the player, its links
    assert markup.elements("video") and not markup.elements("script")
    text = "".join(markup.text)
    assert "javascript:alert(1)" in text and HOSTILE in text


def test_times_and_credits_past_what_python_holds_still_display(
    scripted: ScriptedServer, scripted_client: SkytellsClient
) -> None:
    body = prediction(
        "succeeded",
        output=["https://cdn.example/fine.png"],
        created_at="0001-01-01T00:00:00+01:00",
        completed_at="9999-12-31T23:59:59-01:00",
        metadata={"billing": {"credits_used": 10**400}},
    )
    scripted.script(Reply(body=body))
    shown = scripted_client.run("flux-pro", input={"prompt": "x"})
    data = formatted(shown)
    assert "created    0001-01-01T00:00:00+01:00" in data["text/plain"]
    assert "credits" not in data["text/plain"]
    (image,) = assert_inert(data["text/html"]).elements("img")
    assert image["src"] == "https://cdn.example/fine.png"


class _Unreadable(dict):  # type: ignore[type-arg]
    """A prediction dict a caller built: reading any key but the id and status fails."""

    def get(self, key: str, default: Any = None) -> Any:
        if key in ("id", "status"):
            return super().get(key, default)
        raise RuntimeError("unreadable")


def test_a_display_that_fails_falls_back_to_the_plain_repr(client: SkytellsClient) -> None:
    shown = Prediction(client, _Unreadable(id="p1", status="succeeded"))  # type: ignore[arg-type]
    assert shown._repr_mimebundle_() == {"text/plain": "Prediction(id='p1', status='succeeded')"}
    assert formatted(shown) == {"text/plain": "Prediction(id='p1', status='succeeded')"}
    unreadable = Prediction(client, _Unreadable(id=10**5000))  # type: ignore[arg-type]
    assert unreadable._repr_mimebundle_() == {"text/plain": "<Prediction>"}  # no repr either
    file = client.predictions.files({"id": "p1", "output": ["https://cdn.example/a.png"]})[0]
    file._info = None  # type: ignore[assignment]  # broken beyond repair: still shows
    assert file._repr_mimebundle_() == {"text/plain": "<OutputFile>"}


# ── progress=True in a kernel ────────────────────────────────────────────


class RecordingPublisher(DisplayPublisher):  # type: ignore[misc]
    """A kernel's display publisher that keeps what would go to the notebook."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.published: list[tuple[dict[str, str], dict[str, Any], bool]] = []

    def publish(  # type: ignore[override]
        self,
        data: dict[str, str],
        metadata: Any = None,
        source: Any = None,
        *,
        transient: dict[str, Any] | None = None,
        update: bool = False,
        **kwargs: Any,
    ) -> None:
        self.published.append((data, transient or {}, update))


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingPublisher]:
    """A running IPython shell (what ``get_ipython()`` returns in a notebook) whose display
    publisher records the bundles a notebook would get."""
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    builtin_names = set(vars(builtins))  # the shell adds `display` and `__IPYTHON__`
    config = Config()
    config.HistoryManager.enabled = False
    shell = InteractiveShell.instance(config=config)
    publisher = RecordingPublisher(shell=shell)
    shell.display_pub = publisher
    try:
        yield publisher
    finally:
        InteractiveShell.clear_instance()
        for name in set(vars(builtins)) - builtin_names:
            delattr(builtins, name)


PERCENT = re.compile(r"\] +(\d+)% (\S+)")


def bar_states(publisher: RecordingPublisher) -> list[tuple[int, str]]:
    """(percent, status) of each bundle; checks it is one display updated in place."""
    assert publisher.published, "no bar was shown"
    first_id = publisher.published[0][1]["display_id"]
    states = []
    for number, (data, transient, update) in enumerate(publisher.published):
        assert transient["display_id"] == first_id and update is (number > 0)
        assert_inert(data["text/html"])
        match = PERCENT.search(data["text/plain"])
        assert match is not None, data["text/plain"]
        states.append((int(match.group(1)), match.group(2)))
    percents = [percent for percent, _ in states]
    assert percents == sorted(percents)
    return states


def test_progress_in_a_kernel_is_one_live_bar_ending_at_100(
    client: SkytellsClient, emu: Any, kernel: RecordingPublisher, capfd: pytest.CaptureFixture[str]
) -> None:
    emu.configure(time_scale=0.05)
    seen: list[dict[str, Any]] = []
    shown = client.run("flux-edge", input={"prompt": "x"}, on_progress=seen.append, progress=True)
    states = bar_states(kernel)
    assert states[0][0] < 100 and states[-1] == (100, "succeeded")
    assert len(states) >= 3  # pending/processing... then the end, each an update
    assert "100%" in Markup(kernel.published[-1][0]["text/html"]).text
    assert seen[-1]["status"] == "succeeded" == shown.status  # the caller's callback too
    assert capfd.readouterr().err == ""  # in a kernel, nothing on stderr


@pytest.mark.anyio
async def test_async_progress_in_a_kernel_is_one_live_bar_ending_at_100(
    aclient: AsyncSkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    emu.configure(time_scale=0.05)
    seen: list[str] = []

    async def on_progress(state: dict[str, Any]) -> None:
        seen.append(state["status"])

    await aclient.run("flux-edge", input={"prompt": "x"}, on_progress=on_progress, progress=True)
    states = bar_states(kernel)
    assert states[-1] == (100, "succeeded") and seen[-1] == "succeeded"


def test_the_bar_follows_each_reported_percent(
    scripted: ScriptedServer, kernel: RecordingPublisher
) -> None:
    scripted.script(
        Reply(body=prediction("processing", metrics={"progress": 30})),
        Reply(body=prediction("processing", metrics={"progress": 70})),
        Reply(body=prediction("succeeded", model={"name": "flux-pro", "type": "image"})),
    )
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        client.wait("pred_abc123", {"interval": 10}, progress=True)
    assert bar_states(kernel) == [(30, "processing"), (70, "processing"), (100, "succeeded")]
    assert kernel.published[-1][0]["text/plain"].startswith("flux-pro pred_abc ")


@pytest.mark.anyio
async def test_async_the_bar_follows_each_reported_percent(
    scripted: ScriptedServer, kernel: RecordingPublisher
) -> None:
    scripted.script(
        Reply(body=prediction("processing", metrics={"progress": 30})),
        Reply(body=prediction("processing", metrics={"progress": 70})),
        Reply(body=prediction("succeeded")),
    )
    async with AsyncSkytellsClient("sk-test", base_url=scripted.base_url) as client:
        await client.wait("pred_abc123", {"interval": 10}, progress=True)
    assert bar_states(kernel) == [(30, "processing"), (70, "processing"), (100, "succeeded")]


def test_a_prediction_waits_with_a_bar(
    client: SkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    emu.configure(time_scale=0.05)
    shown = Prediction(
        client, client.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    )
    assert shown.wait(progress=True).status == "succeeded"
    assert bar_states(kernel)[-1] == (100, "succeeded")


@pytest.mark.anyio
async def test_async_a_prediction_waits_with_a_bar(
    aclient: AsyncSkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    emu.configure(time_scale=0.05)
    created = await aclient.predictions.create({"model": "flux-edge", "input": {"prompt": "x"}})
    shown = await AsyncPrediction(aclient, created).wait(progress=True)
    assert shown.status == "succeeded" and bar_states(kernel)[-1] == (100, "succeeded")


def test_a_failed_run_ends_the_bar_failed(
    client: SkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    emu.configure(time_scale=0.05)
    emu.fail_next(message="out of memory")
    with pytest.raises(PredictionFailedError):
        client.run("flux-edge", input={"prompt": "x"}, progress=True)
    percent, status = bar_states(kernel)[-1]
    assert status == "failed" and percent < 100
    assert "background:#b91c1c" in kernel.published[-1][0]["text/html"]


def test_a_timed_out_wait_ends_the_bar_saying_so(
    scripted: ScriptedServer, kernel: RecordingPublisher
) -> None:
    running = prediction("processing", metrics={"progress": 40})
    scripted.script(*[Reply(body=running)] * 200)
    with SkytellsClient("sk-test", base_url=scripted.base_url) as client:
        with pytest.raises(WaitTimeoutError):
            client.wait("pred_abc123", {"interval": 10, "max_wait": 300}, progress=True)
    assert bar_states(kernel)[-1] == (40, "timed")  # "timed out"
    assert "timed out" in kernel.published[-1][0]["text/plain"]


class FailingPublisher(RecordingPublisher):
    """A kernel whose display fails (its comm closed, say): each publish raises."""

    def publish(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        super().publish(*args, **kwargs)
        raise RuntimeError("comm closed")


def test_a_bar_that_cannot_be_shown_never_fails_the_run(
    client: SkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    shell = InteractiveShell.instance()
    shell.display_pub = failing = FailingPublisher(shell=shell)
    emu.configure(time_scale=0.05)
    with pytest.warns(RuntimeWarning, match="progress bar cannot be shown.*comm closed") as seen:
        shown = client.run("flux-edge", input={"prompt": "x"}, progress=True)
    assert shown.status == "succeeded" and len(emu.predictions()) == 1
    assert len(failing.published) == 1 and len(seen) == 1  # tried once, warned once


@pytest.mark.anyio
async def test_async_a_bar_that_cannot_be_shown_never_fails_the_run(
    aclient: AsyncSkytellsClient, emu: Any, kernel: RecordingPublisher
) -> None:
    shell = InteractiveShell.instance()
    shell.display_pub = failing = FailingPublisher(shell=shell)
    with pytest.warns(RuntimeWarning, match="progress bar cannot be shown") as seen:
        shown = await aclient.run("flux-edge", input={"prompt": "x"}, progress=True)
    assert shown.status == "succeeded" and len(failing.published) == 1 and len(seen) == 1


def test_without_progress_nothing_is_displayed(
    client: SkytellsClient, kernel: RecordingPublisher
) -> None:
    client.run("flux-edge", input={"prompt": "x"}, on_progress=lambda state: None)
    assert kernel.published == []


# ── progress=True on a terminal and in a pipe ────────────────────────────


def progress_script(emu: Any) -> str:
    return textwrap.dedent(
        f"""
        from skytells import SkytellsClient
        with SkytellsClient({emu.api_key!r}, base_url={emu.base_url!r}) as client:
            shown = client.run("flux-edge", input={{"prompt": "x"}}, progress=True)
        print(shown.status)
        """
    )


def child_env() -> dict[str, str]:
    return {**os.environ, "PYTHONIOENCODING": "utf-8", "IPYTHONDIR": os.devnull}


def test_progress_on_a_terminal_redraws_one_line(emu: Any) -> None:
    emu.configure(time_scale=0.05)
    main, side = os.openpty()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", progress_script(emu)],
            stdout=subprocess.PIPE,
            stderr=side,
            env=child_env(),
        )
        os.close(side)
        out, _ = process.communicate(timeout=60)
        chunks = []
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(main)
    assert process.returncode == 0 and out.decode().strip() == "succeeded"
    shown = b"".join(chunks).decode()
    redraws = shown.split("\r")
    assert len(redraws) >= 3 and all(line.endswith("\x1b[K") for line in redraws[1:-2])
    assert re.search(r"flux-edge [0-9a-f]{8} \[█{24}\] 100% succeeded \d:\d\d\x1b\[K\r?\n$", shown)
    assert "░" in shown  # it started empty


def test_progress_in_a_pipe_is_a_line_per_status(emu: Any) -> None:
    emu.configure(time_scale=0.05)
    done = subprocess.run(
        [sys.executable, "-c", progress_script(emu)],
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout.strip() == "succeeded"
    assert "\r" not in done.stderr and "\x1b" not in done.stderr
    lines = done.stderr.splitlines()
    statuses = [line.split("% ")[1].split()[0] for line in lines]
    assert statuses[-1] == "succeeded" and lines[-1].split("] ")[1].startswith("100% ")
    assert len(statuses) == len(set(statuses))  # one line per status, not per percent
    assert all(
        re.fullmatch(r"flux-edge [0-9a-f]{8} \[[#-]{10}\] +\d+% \w+ \d:\d\d", line)
        for line in lines
    )
