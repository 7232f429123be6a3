"""pytest plugin: the `skytells_emulator` fixture (a running emulator, reset for each test).

Loaded by every pytest run where the package is installed, so it imports nothing heavy: the
emulator is imported and started only when a test first asks for the fixture. One server
serves the whole session (per xdist worker); each test gets it reset. The time scale defaults
to 0 (instant predictions): set the ini option `skytells_emulator_time_scale`, or mark a test
with `@pytest.mark.skytells_emulator(time_scale=0.01, ...)` (any `Emulator.configure` setting).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
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
    from skytells.emulator import Emulator

    time_scale = float(str(pytestconfig.getini(_INI_TIME_SCALE)))
    # Stopping is bounded by the server itself; the generous timeout only covers a machine so
    # busy that the server's thread is starved (a teardown must not fail a green run).
    with Emulator(time_scale=time_scale, stop_timeout=60.0) as emulator:
        yield emulator


@pytest.fixture
def skytells_emulator(
    skytells_emulator_server: Emulator, request: pytest.FixtureRequest
) -> Emulator:
    """A running emulator, reset for this test: use `.base_url` and `.api_key` in a client."""
    skytells_emulator_server.reset()
    marker = request.node.get_closest_marker("skytells_emulator")
    if marker is not None and marker.kwargs:
        skytells_emulator_server.configure(**marker.kwargs)
    return skytells_emulator_server
