"""Ctrl-C and task cancellation during `run()`: the prediction id is reported, no connection leaks."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable
from typing import Any

import pytest

from skytells import AsyncSkytellsClient, SkytellsClient
from tests.conftest import apoll, checks_after_create
from tests.sdk.pool_state import async_pool_is_clean, sync_pool_is_clean

pytestmark = pytest.mark.both_clients  # the default client and an http_client= one


def _pool_is_clean(pool: Any) -> bool:
    return all(c.is_idle() or c.is_closed() for c in pool.connections)


def test_ctrl_c_in_a_real_process_reports_the_prediction_id(
    emu: Any, poll: Callable[..., Any]
) -> None:
    emu.configure(time_scale=1.0)  # mera runs for about a minute
    script = textwrap.dedent(
        f"""
        from skytells import SkytellsClient
        client = SkytellsClient({emu.api_key!r}, base_url={emu.base_url!r})
        print("started", flush=True)
        client.run("mera", input={{"prompt": "x"}}, on_progress=lambda p: None)
        """
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "started"
        (prediction,) = poll(emu.predictions, lambda predictions: len(predictions) == 1)
        poll(emu.state, lambda state: checks_after_create(state) >= 1)  # it is waiting now
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=20)
    finally:
        process.kill()
    assert process.returncode != 0
    assert "KeyboardInterrupt" in stderr
    assert prediction["id"] in stderr and "client.predictions.get" in stderr


def test_interrupt_while_waiting_is_annotated_and_leaves_the_pool_clean(
    client: SkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    seen: list[str] = []

    def on_progress(state: dict[str, Any]) -> None:
        seen.append(state["id"])
        raise KeyboardInterrupt  # what a Ctrl-C during the callback looks like

    with pytest.raises(KeyboardInterrupt) as info:
        client.run("mera", input={"prompt": "x"}, on_progress=on_progress)
    assert info.value.skytells_prediction_id == seen[0]  # type: ignore[attr-defined]
    if sys.version_info >= (3, 11):  # exception notes exist from 3.11 on
        assert any(seen[0] in note for note in info.value.__notes__)
    assert sync_pool_is_clean(client)
    assert client.predictions.get(seen[0])["status"] != "cancelled"  # it goes on


@pytest.mark.anyio
async def test_cancelled_run_task_reports_the_id_and_frees_the_connection(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    emu.configure(time_scale=1.0)
    emu.add_fault("hang", method="GET", path="/v1/predictions/*", count=1)
    task = asyncio.create_task(aclient.run("mera", input={"prompt": "x"}))
    # mera ignores await: the client goes on to check it, and the server holds that check, so
    # the task is cancelled in mid-request.
    await apoll(emu.faults, lambda faults: faults[0]["fired"] == 1)
    assert not task.done()
    task.cancel()
    with pytest.raises(asyncio.CancelledError) as info:
        await task
    (prediction,) = emu.predictions()
    assert info.value.skytells_prediction_id == prediction["id"]  # type: ignore[attr-defined]
    assert async_pool_is_clean(aclient._http)
