"""`context`: an operation's config and the state its client learns, shared when derived."""

from __future__ import annotations

import dataclasses

import pytest

from skytells._core.config import ClientConfig, with_changes
from skytells._core.context import ClientState, Context


def test_derived_contexts_share_the_learnt_state() -> None:
    state = ClientState()
    first = Context(ClientConfig(api_key="k"), state)
    second = Context(with_changes(first.config, timeout=1), state)
    assert second.state.rate_limits is first.state.rate_limits
    assert second.state.streams is first.state.streams
    assert Context(first.config).state is not state


def test_a_context_cannot_be_changed_in_place() -> None:
    ctx = Context(ClientConfig(api_key="k"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        ctx.config = ClientConfig(api_key="other")  # type: ignore[misc]
