"""`models`: the model endpoints, in memory."""

from __future__ import annotations

import pytest

import skytells
from skytells._core.models import get_model, list_models

from .driver import Driver, context, json_reply, paths


def test_the_catalogue_is_a_list_bare_or_wrapped() -> None:
    driver = Driver().script(
        json_reply(200, [{"slug": "a"}, "junk"]), json_reply(200, {"data": [{"slug": "b"}]})
    )
    assert driver.run(list_models(context())) == [{"slug": "a"}]
    assert driver.run(list_models(context())) == [{"slug": "b"}]
    driver.script(json_reply(200, {"slug": "x"}))
    with pytest.raises(skytells.ServerError):
        driver.run(list_models(context()))


def test_one_model_with_fields() -> None:
    driver = Driver().script(json_reply(200, {"slug": "flux"}))
    assert driver.run(get_model(context(), "flux", ["input_schema"])) == {"slug": "flux"}
    assert paths(driver.requests) == ["GET /model/flux"]
    assert driver.requests[0].params == {"fields": "input_schema"}


def test_unknown_fields_and_bad_slugs_fail_before_sending() -> None:
    driver = Driver()
    with pytest.raises(skytells.ValidationError):
        driver.run(get_model(context(), "flux", "input_schema,price"))
    with pytest.raises(skytells.ValidationError):
        driver.run(get_model(context(), ".."))
    assert driver.requests == []


def test_models_of_one_type_whatever_the_case_and_odd_entries() -> None:
    catalogue = [
        {"namespace": "a", "type": "video"},
        {"namespace": "b", "type": " Video "},
        {"namespace": "c", "type": "image"},
        {"namespace": "d"},  # no type: never of any type asked for
        {"namespace": "e", "type": 7},
    ]
    driver = Driver().script(json_reply(200, catalogue), json_reply(200, catalogue))
    assert [m["namespace"] for m in driver.run(list_models(context(), type="VIDEO"))] == ["a", "b"]
    kept = driver.run(list_models(context(), ["input_schema"], type=skytells.ModelType.IMAGE))
    assert [m["namespace"] for m in kept] == ["c"]
    assert driver.requests[1].params == {"fields": "input_schema"}  # the filter is not sent


@pytest.mark.parametrize("bad", [0, "", " ", ["video"], b"video"])
def test_a_model_type_that_is_no_text_fails_before_sending(bad: object) -> None:
    driver = Driver()
    with pytest.raises(skytells.ValidationError) as info:
        driver.run(list_models(context(), type=bad))  # type: ignore[arg-type]
    assert info.value.error_id == "INVALID_PARAMETER"
    assert driver.requests == []


@pytest.mark.parametrize("bad", [123, 1.5, object(), [1], ["input_schema", None]])
def test_fields_that_are_no_names_fail_before_sending(bad: object) -> None:
    driver = Driver()
    for op in (list_models(context(), bad), get_model(context(), "flux", bad)):  # type: ignore[arg-type]
        with pytest.raises(skytells.ValidationError) as info:
            driver.run(op)
        assert info.value.error_id == "INVALID_PARAMETER" and "field" in str(info.value)
    assert driver.requests == []
