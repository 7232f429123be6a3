"""The emulator's request limits as the SDK sees them: a clear error, not a broken connection."""

from __future__ import annotations

from typing import Any

import pytest

from skytells import AsyncSkytellsClient, SkytellsClient, SkytellsError

HUGE_PROMPT = "x" * (17 << 20)  # over the emulator's 16 MiB body limit


def _assert_too_large(error: SkytellsError) -> None:
    assert error.http_status == 413
    assert error.error_id == "INVALID_REQUEST"
    assert "too large" in str(error)


def test_a_too_large_create_is_a_clear_error(client: SkytellsClient, emu: Any) -> None:
    with pytest.raises(SkytellsError) as caught:
        client.run("flux-edge", input={"prompt": HUGE_PROMPT})
    _assert_too_large(caught.value)
    assert emu.predictions() == []
    assert client.run("flux-edge", input={"prompt": "x"}).status == "succeeded"


@pytest.mark.anyio
async def test_a_too_large_create_is_a_clear_error_async(
    aclient: AsyncSkytellsClient, emu: Any
) -> None:
    with pytest.raises(SkytellsError) as caught:
        await aclient.run("flux-edge", input={"prompt": HUGE_PROMPT})
    _assert_too_large(caught.value)
    assert emu.predictions() == []
    assert (await aclient.run("flux-edge", input={"prompt": "x"})).status == "succeeded"
