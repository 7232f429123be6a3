"""Models: the catalogue, both GET spellings, `fields=` schemas, and their errors."""

from __future__ import annotations

import httpx
import pytest
from jsonschema import Draft202012Validator

SLUGS = {
    "truefusion": "image",
    "truefusion-pro": "image",
    "truefusion-edge": "image",
    "truefusion-ultra": "image",
    "flux-pro": "image",
    "flux-edge": "image",
    "FLUX.2-pro": "image",
    "mera": "video",
    "beatfusion-2.0": "music",
    "skytells-tts": "audio",
    "skytells-chat": "text",
}
MODEL_KEYS = {
    "name",
    "description",
    "namespace",
    "type",
    "privacy",
    "img_url",
    "vendor",
    "billable",
    "pricing",
    "capabilities",
    "status",
    "metadata",
}


def test_list_is_a_bare_array_of_every_model(http: httpx.Client) -> None:
    response = http.get("/models")
    assert response.status_code == 200
    models = response.json()
    assert isinstance(models, list)
    assert {m["namespace"]: m["type"] for m in models} == SLUGS
    for model in models:
        assert set(model) == MODEL_KEYS
        assert model["status"] == "operational"
        assert set(model["vendor"]) == {
            "name",
            "description",
            "image_url",
            "verified",
            "slug",
            "metadata",
        }
        assert set(model["pricing"]) == {"amount", "currency", "unit"}
        assert set(model["metadata"]) >= {"edge_compatible", "openai_compatible", "cold_boot"}


def test_mera_costs_3_42_per_prediction(http: httpx.Client) -> None:
    pricing = http.get("/models/mera").json()["pricing"]
    assert pricing == {"amount": 3.42, "currency": "USD", "unit": "prediction"}


@pytest.mark.parametrize("prefix", ["/model", "/models"])
def test_get_one_model_under_both_paths(http: httpx.Client, prefix: str) -> None:
    response = http.get(f"{prefix}/FLUX.2-pro")
    assert response.status_code == 200
    body = response.json()
    assert body["namespace"] == "FLUX.2-pro" and set(body) == MODEL_KEYS


@pytest.mark.parametrize(
    "fields",
    [["input_schema"], ["output_schema"], ["input_schema", "output_schema"]],
)
def test_fields_adds_only_the_requested_schemas(http: httpx.Client, fields: list[str]) -> None:
    one = http.get("/models/truefusion", params={"fields": ",".join(fields)}).json()
    assert set(one) == MODEL_KEYS | set(fields)
    every = http.get("/models", params={"fields": ",".join(fields)}).json()
    assert all(set(m) == MODEL_KEYS | set(fields) for m in every)
    for name in fields:
        Draft202012Validator.check_schema(one[name])


def test_input_schemas_have_the_documented_keys(http: httpx.Client) -> None:
    models = {
        m["namespace"]: m
        for m in http.get("/models", params={"fields": "input_schema,output_schema"}).json()
    }
    pro = models["truefusion-pro"]["input_schema"]
    assert set(pro["properties"]) == {
        "prompt",
        "aspect_ratio",
        "num_outputs",
        "num_inference_steps",
        "guidance",
        "output_format",
        "seed",
        "image",
    }
    assert pro["required"] == ["prompt"] and pro["additionalProperties"] is False
    assert pro["properties"]["output_format"]["enum"] == ["webp", "png", "jpg"]
    mera = models["mera"]["input_schema"]["properties"]
    assert mera["seconds"]["type"] == "string" and "8" in mera["seconds"]["enum"]
    assert "1280x720" in mera["size"]["enum"]
    assert set(models["beatfusion-2.0"]["input_schema"]["properties"]) >= {"prompt", "lyrics"}
    assert models["skytells-tts"]["input_schema"]["required"] == ["text"]
    assert models["skytells-chat"]["input_schema"]["required"] == ["prompt"]
    for slug, model in models.items():
        has_image = "image" in model["input_schema"]["properties"]
        assert has_image == ("image-to-image" in model["capabilities"]), slug
    assert models["truefusion"]["output_schema"]["type"] == "array"
    # File outputs are arrays of URLs, audio and video included.
    for slug in ("mera", "beatfusion-2.0", "skytells-tts"):
        assert models[slug]["output_schema"]["type"] == "array", slug


def test_unknown_field_is_invalid_parameter(http: httpx.Client) -> None:
    for path in ("/models", "/models/truefusion"):
        response = http.get(path, params={"fields": "input_schema,pricing_table"})
        assert response.status_code == 400
        assert response.json()["error"]["error_id"] == "INVALID_PARAMETER"


@pytest.mark.parametrize(
    "slug", ["nope", "flux.2-pro", "TRUEFUSION", "a%20b", "a%26b", "a%2Fb", "truefusion%2F"]
)
@pytest.mark.parametrize("prefix", ["/model", "/models"])
def test_unknown_or_miscased_slug_is_model_not_found(
    http: httpx.Client, prefix: str, slug: str
) -> None:
    response = http.get(f"{prefix}/{slug}")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["error_id"] == "MODEL_NOT_FOUND" and error["http_status"] == 404
