"""pytest plugin: the `skytells_emulator` fixture (a running emulator, reset for each test), and
`skytells_client` / `async_skytells_client` (clients configured for it, closed after the test).

Loaded by every pytest run where the package is installed, so it imports nothing heavy: the
emulator is imported and started only when a test first asks for the fixture. One server
serves the whole session (per xdist worker); each test gets it reset. The time scale defaults
to 0 (instant predictions): set the ini option `skytells_emulator_time_scale`, or mark a test
with `@pytest.mark.skytells_emulator(time_scale=0.01, ...)` (any `Emulator.configure` setting).

While a test uses the fixture, ``SKYTELLS_BASE_URL`` and ``SKYTELLS_API_KEY`` point at the
emulator (``SKYTELLS_AI_API_URL`` is unset) and its address is in ``NO_PROXY``/``no_proxy`` (a
proxy of the environment never gets its traffic), so a `SkytellsClient()` built by the code under
test talks to the emulator, never to the real service with a real key that happens to be
exported; the default client (``skytells.run()``...) is forgotten before and after the test, so
inside it is built from that environment. The environment is restored after the test. A client
built before the test (at import, by application code) keeps its own settings: build clients
inside functions.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest

from .._extras import missing_extra_line

if TYPE_CHECKING:
    from skytells import AsyncSkytellsClient, SkytellsClient
    from skytells.emulator import Emulator

_INI_TIME_SCALE = "skytells_emulator_time_scale"


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ini option for the session emulator's time scale."""
    parser.addini(_INI_TIME_SCALE, "time_scale of the skytells_emulator fixture", default="0")


def pytest_configure(config: pytest.Config) -> None:
    """Register the `skytells_emulator` marker."""
    config.addinivalue_line(
        "markers",
        "skytells_emulator(**settings): Emulator.configure() settings for this test",
    )


@pytest.fixture(scope="session")
def skytells_emulator_server(pytestconfig: pytest.Config) -> Iterator[Emulator]:
    """The session's emulator, started on first use on a free loopback port."""
    missing = missing_extra_line("emulator", "the skytells_emulator fixture")
    if missing is not None:  # asked for by name: a skip would hide that the tests never ran
        pytest.fail(missing, pytrace=False)
    from skytells.emulator import Emulator

    time_scale = float(str(pytestconfig.getini(_INI_TIME_SCALE)))
    # Stopping is bounded by the server itself; the generous timeout only covers a machine so
    # busy that the server's thread is starved (a teardown must not fail a green run).
    with Emulator(time_scale=time_scale, stop_timeout=60.0) as emulator:
        yield emulator


@pytest.fixture
def skytells_emulator(
    skytells_emulator_server: Emulator,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Emulator]:
    """A running emulator, reset for this test: use `.base_url` and `.api_key` in a client.

    For the test's duration ``SKYTELLS_BASE_URL`` and ``SKYTELLS_API_KEY`` point at it,
    ``SKYTELLS_AI_API_URL`` is unset and its address is added to ``NO_PROXY``/``no_proxy``
    (restored after the test, with the test's own ``monkeypatch`` changes, in the right order);
    the default client is forgotten before and after the test."""
    import skytells

    from ._discovery import NO_PROXY_VARIABLES, without_proxy

    skytells_emulator_server.reset()
    marker = request.node.get_closest_marker("skytells_emulator")
    if marker is not None and marker.kwargs:
        skytells_emulator_server.configure(**marker.kwargs)
    base_url = skytells_emulator_server.base_url
    monkeypatch.setenv("SKYTELLS_BASE_URL", base_url)
    monkeypatch.setenv("SKYTELLS_API_KEY", skytells_emulator_server.api_key)
    monkeypatch.delenv("SKYTELLS_AI_API_URL", raising=False)
    for name in NO_PROXY_VARIABLES:
        monkeypatch.setenv(name, without_proxy(base_url, os.environ.get(name)))
    skytells.set_default_client(None)  # one built before the test has other settings
    yield skytells_emulator_server
    skytells.set_default_client(None)  # built from the emulator's settings: not for later


@pytest.fixture
def skytells_client(skytells_emulator: Emulator) -> Iterator[SkytellsClient]:
    """A `SkytellsClient` for the test's emulator, closed after the test."""
    from skytells import SkytellsClient

    with SkytellsClient(skytells_emulator.api_key, base_url=skytells_emulator.base_url) as client:
        yield client


@pytest.fixture
async def async_skytells_client(skytells_emulator: Emulator) -> AsyncIterator[AsyncSkytellsClient]:
    """An `AsyncSkytellsClient` for the test's emulator, closed after the test in the test's
    event loop. An async fixture needs an async test plugin: anyio's (installed with the SDK;
    mark the test ``@pytest.mark.anyio``) or pytest-asyncio's (``asyncio_mode = "auto"``)."""
    from skytells import AsyncSkytellsClient

    async with AsyncSkytellsClient(
        skytells_emulator.api_key, base_url=skytells_emulator.base_url
    ) as client:
        yield client
