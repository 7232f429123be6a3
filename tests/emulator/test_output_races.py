"""Output renderings that outlive their prediction (a reset, a delete) never touch another one.

Each test holds one rendering in its worker thread at the worst moment (the file written under
its temporary name, not yet moved in place), removes that prediction, starts another with the
same model and input (the same file: its size could be shared), then lets the first go on.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from skytells.emulator import Emulator, _outputs

Wait = Callable[..., dict[str, Any]]
Poll = Callable[..., Any]
MODEL = "flux-pro"


@dataclass
class HeldRender:
    """The first rendering of `prompt`, held after writing its file (before the move), or
    before writing anything (`after_writing` False); `written` is set once it is held."""

    prompt: str
    after_writing: bool
    written: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    returned: threading.Event = field(default_factory=threading.Event)
    partial: Path | None = None
    calls: int = 0

    def input(self) -> dict[str, Any]:
        return {"prompt": self.prompt}


@pytest.fixture
def held(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldRender]:
    """Hold the first rendering of a prompt of this test's own (other renderings, of this test or
    late ones of earlier tests, run as usual); `after writing` unless parametrized otherwise."""
    where = getattr(request, "param", "after writing")
    hold = HeldRender(f"a lighthouse {uuid.uuid4().hex}", where == "after writing")
    render = _outputs.render_output
    lock = threading.Lock()

    def held_render(
        model_type: str, model_slug: str, input: dict[str, Any], index: int, dest: Path
    ) -> None:
        with lock:
            first = input.get("prompt") == hold.prompt and hold.calls == 0
            hold.calls += input.get("prompt") == hold.prompt
        if not first:
            render(model_type, model_slug, input, index, dest)
            return
        hold.partial = Path(dest)
        try:
            if hold.after_writing:
                render(model_type, model_slug, input, index, dest)
            hold.written.set()
            assert hold.release.wait(30), "the held rendering was never released"
            if not hold.after_writing:
                render(model_type, model_slug, input, index, dest)  # recreates its directory
        finally:
            hold.returned.set()

    monkeypatch.setattr(_outputs, "render_output", held_render)
    try:
        yield hold
    finally:
        hold.release.set()  # never leave a worker thread blocked


def create(http: httpx.Client, input: dict[str, Any]) -> str:
    response = http.post("/predictions", json={"model": MODEL, "input": input})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


def awaiting_outputs(emu: Emulator, prediction_id: str) -> bool:
    """True once the prediction has done all its steps (it waits for its outputs, or is done)."""
    (state,) = [p for p in emu.state()["predictions"] if p["id"] == prediction_id]
    return state["status"] == "succeeded" or state["progress"] == 100


def downloaded(anon: httpx.Client, done: dict[str, Any]) -> bytes:
    (url,) = done["output"]
    (stated,) = done["metadata"]["storage"]["files"]
    response = anon.get(url)
    assert response.status_code == 200, response.text
    assert len(response.content) == stated["size"]
    return response.content


@pytest.mark.parametrize("held", ["after writing", "before writing"], indirect=True)
def test_a_rendering_cut_short_by_a_reset_never_fails_a_prediction_made_after_it(
    emu: Emulator,
    http: httpx.Client,
    anon: httpx.Client,
    wait_for: Wait,
    poll: Poll,
    held: HeldRender,
) -> None:
    create(http, held.input())
    # Held: its file written but not yet moved in place, or not written yet.
    assert held.written.wait(30)
    emu.reset()  # a new test starts: the file of that rendering goes with the old prediction
    after = create(http, held.input())  # the same model and input: the same file and size
    # It renders its own file: it neither waits for nor shares the old generation's rendering.
    done = wait_for(after)
    assert done["status"] == "succeeded", done["error"]
    content = downloaded(anon, done)
    held.release.set()  # the old rendering finds its file gone, or writes it all again
    # The old rendering's late cleanup takes its own (recreated) root, never the current one.
    assert held.returned.wait(30) and held.partial is not None
    old_root = held.partial.parent.parent
    poll(lambda: not old_root.exists(), bool)
    assert downloaded(anon, done) == content
    assert [p["id"] for p in emu.predictions()] == [after]


def test_a_rendering_cut_short_by_a_delete_never_fails_a_prediction_sharing_its_file(
    emu: Emulator,
    http: httpx.Client,
    anon: httpx.Client,
    wait_for: Wait,
    poll: Poll,
    held: HeldRender,
) -> None:
    first = create(http, held.input())
    assert held.written.wait(30)
    second = create(http, held.input())  # its size is the one being rendered for the first
    poll(lambda: awaiting_outputs(emu, second), bool)
    assert http.delete(f"/predictions/{first}").status_code == 200  # its directory goes with it
    held.release.set()
    done = wait_for(second)
    assert done["status"] == "succeeded", done["error"]
    downloaded(anon, done)
    assert held.returned.wait(30)
    poll(lambda: held.partial is not None and not held.partial.parent.exists(), bool)
    assert [p["id"] for p in emu.predictions()] == [second]
