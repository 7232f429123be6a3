"""The `skytells_emulator` pytest fixture, exercised in a separate pytest run (pytester)."""

from __future__ import annotations

import pytest

TEST_FILE = """
import httpx
import pytest


def test_without_the_fixture_no_emulator_is_imported():
    import sys
    assert "skytells.emulator._server" not in sys.modules


def test_a_real_request(skytells_emulator):
    response = httpx.post(
        skytells_emulator.base_url + "/predict",
        headers={"x-api-key": skytells_emulator.api_key},
        json={"model": "flux-edge", "input": {"prompt": "x"}, "await": True},
    )
    assert response.status_code == 200
    assert response.json()["status"] == "succeeded"


def test_state_is_reset_between_tests(skytells_emulator):
    assert skytells_emulator.predictions() == []


@pytest.mark.skytells_emulator(time_scale=0.5, rate_limit=7)
def test_marker_configures(skytells_emulator):
    assert skytells_emulator.config.time_scale == 0.5
    assert skytells_emulator.config.rate_limit == 7


def test_the_marker_does_not_leak(skytells_emulator):
    assert skytells_emulator.config.time_scale == 0.25
    assert skytells_emulator.config.rate_limit is None

"""


def test_fixture_in_a_user_test_suite(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nskytells_emulator_time_scale = 0.25\n")
    pytester.makepyfile(test_user=TEST_FILE)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
