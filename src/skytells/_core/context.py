"""What an operation works with: the client's immutable `ClientConfig` and its `ClientState`.

The config never changes (`with_options` makes a new one); the state is what the client learns as
it goes (the account's request budget, the origins that serve no event stream, the creates in
flight and the prediction ids claimed, the server clock's offset), shared by the
clients derived from it. Both are plain values: no locks, no clock (the time comes in through the
protocol), so the same state serves threads and event loops alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .config import ClientConfig
from .ledger import CreateLedger
from .ratelimits import RateLimitTracker
from .servertime import ServerClock
from .stream_support import StreamSupport


@dataclass(frozen=True, eq=False)
class ClientState:
    """What one client (and the clients derived from it) learns from the server's answers."""

    rate_limits: RateLimitTracker = field(default_factory=RateLimitTracker)
    streams: StreamSupport = field(default_factory=StreamSupport)
    creates: CreateLedger = field(default_factory=CreateLedger)
    server_clock: ServerClock = field(default_factory=ServerClock)


@dataclass(frozen=True)
class Context:
    """The first argument of every operation: the settings and the learnt state of a client."""

    config: ClientConfig
    state: ClientState = field(default_factory=ClientState, compare=False)
