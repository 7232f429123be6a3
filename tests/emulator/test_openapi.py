"""The emulator's OpenAPI document: valid, complete, enforced on real traffic, fuzzed with Schemathesis."""

from __future__ import annotations

import asyncio
import io
import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from openapi_spec_validator import validate
from PIL import Image
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.python import asgi as schemathesis_asgi
from schemathesis.specs.openapi.checks import (
    allow_header_conformance,
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    use_after_free,
)
from starlette.responses import JSONResponse
from starlette.routing import Route

from skytells import AsyncSkytellsClient, SkytellsClient
from skytells.emulator import DEFAULT_API_KEY, Emulator, EmulatorConfig, create_app
from skytells.emulator._openapi import load_openapi, openapi_bytes
from tests.openapi_hook import (
    OpenAPIResponseError,
    response_validator_hooks,
    validated_count,
)
from tests.openapi_server_check import ResponseChecker, install

AUTH = {"x-api-key": DEFAULT_API_KEY}
BASE_URL = "http://127.0.0.1:8765"  # for the mocked transports
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# ------------------------------------------------------------------------------------ document


def test_document_is_valid_openapi_3_1() -> None:
    document = load_openapi()
    assert document["openapi"].startswith("3.1.")
    validate(document)


def test_load_openapi_returns_an_independent_copy() -> None:
    first = load_openapi()
    first["paths"].clear()
    assert load_openapi()["paths"]
    assert json.loads(openapi_bytes()) == load_openapi()


def test_document_describes_every_endpoint_of_the_spec() -> None:
    paths = load_openapi()["paths"]
    expected = {
        ("/v1/predict", "post"),
        ("/v1/predictions", "post"),
        ("/v1/predictions", "get"),
        ("/v1/predictions/{id}", "get"),
        ("/v1/predictions/{id}/cancel", "post"),
        ("/v1/predictions/{id}/delete", "delete"),
        ("/v1/predictions/{id}", "delete"),
        ("/v1/predictions/{id}/stream", "get"),
        ("/v1/models", "get"),
        ("/v1/models/{slug}", "get"),
        ("/v1/model/{slug}", "get"),
        ("/files/{prediction_id}/{filename}", "get"),
    }
    documented = {
        (path, method) for path, item in paths.items() for method in item if method in METHODS
    }
    assert expected <= documented
    for path, method in documented:
        responses = paths[path][method]["responses"]
        if path.startswith("/v1/"):
            assert {"200", "400", "401", "404", "422", "429", "500", "502", "503"} <= set(responses)


def _template(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "{}", path)


def _app_operations(app: Any) -> set[tuple[str, str]]:
    operations = set()
    for route in app.routes:
        if not isinstance(route, Route) or route.path.startswith("/_emulator"):
            continue
        for method in route.methods or ():
            if method != "HEAD":
                operations.add((_template(route.path), method.lower()))
    return operations


def test_document_matches_the_application_routes() -> None:
    app = create_app(EmulatorConfig(time_scale=0.0))
    documented = {
        (_template(path), method)
        for path, item in load_openapi()["paths"].items()
        for method in item
        if method in METHODS
    }
    served = _app_operations(app)
    assert served - documented == set(), "routes the document does not describe"
    assert documented - served == set(), "documented operations the emulator does not serve"


# --------------------------------------------------------------------- response validation hook


def _envelope(status: int, error_id: str = "X") -> dict[str, Any]:
    return {
        "status": False,
        "response": "nope",
        "error": {"http_status": status, "message": "nope", "details": None, "error_id": error_id},
    }


def _mock_client(handler: Any) -> httpx.Client:
    return httpx.Client(
        transport=httpx.MockTransport(handler),
        base_url=BASE_URL,
        event_hooks=response_validator_hooks(),
    )


def test_hook_accepts_conforming_responses_and_counts_them() -> None:
    example = load_openapi()["components"]["schemas"]["Prediction"]["example"]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/predictions/abc":
            return httpx.Response(200, json=example)
        return httpx.Response(502, json=_envelope(502, "PREDICTION_FAILED"))

    before = validated_count()
    with _mock_client(handler) as client:
        assert client.get("/v1/predictions/abc").status_code == 200
        assert client.get("/v1/predictions/other").status_code == 502
    assert validated_count() == before + 2


@pytest.mark.parametrize(
    ("path", "response", "message"),
    [
        ("/v1/predictions/abc", httpx.Response(200, json={"status": "x"}), "'id' is a required"),
        ("/v1/predictions/abc", httpx.Response(418, json=_envelope(418)), "418"),
        ("/v1/predictions/abc", httpx.Response(200, text="hi"), "text/plain"),
        ("/v1/models", httpx.Response(429, json=_envelope(429)), "Retry-After"),
        ("/v1/models", httpx.Response(404, json=_envelope(502)), "error.http_status is 502"),
        ("/v1/nowhere", httpx.Response(200, json={}), "undocumented route"),
        ("/v1/nowhere", httpx.Response(404, json={"message": "no"}), "not an error envelope"),
    ],
)
def test_hook_rejects_nonconforming_responses(
    path: str, response: httpx.Response, message: str
) -> None:
    with _mock_client(lambda request: response) as client:
        with pytest.raises(OpenAPIResponseError, match=re.escape(message)) as caught:
            client.get(path)
    assert f"GET {BASE_URL}{path}" in str(caught.value)


def test_hook_skips_routes_outside_the_api() -> None:
    before = validated_count()
    with _mock_client(lambda request: httpx.Response(200, text="anything")) as client:
        client.get("/_emulator/state")
        client.get("/health")
    assert validated_count() == before


def _first_output(prediction: dict[str, Any]) -> str:
    """The path of a prediction's first output file (`output` is a URL or a list of URLs)."""
    output = prediction["output"]
    url = output if isinstance(output, str) else output[0]
    return urlsplit(url).path


@pytest.fixture
def client(anon: httpx.Client) -> httpx.Client:
    """The suite's validated client on the emulator's origin (`anon`: no key unless given)."""
    assert anon.event_hooks["response"], "the client must carry the validation hooks"
    return anon


def test_real_traffic_conforms_to_the_document(client: httpx.Client) -> None:
    before = validated_count()
    requests = 0

    def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
        nonlocal requests
        requests += 1
        return client.request(method, url, **kwargs)

    assert call("GET", "/openapi.json").json() == load_openapi()
    assert isinstance(call("GET", "/v1/models", headers=AUTH).json(), list)
    described = call("GET", "/v1/models?fields=input_schema,output_schema", headers=AUTH).json()
    assert all("input_schema" in model for model in described)
    assert call("GET", "/v1/model/truefusion", headers=AUTH).json()["namespace"] == "truefusion"
    assert call("GET", "/v1/models/mera?fields=input_schema", headers=AUTH).status_code == 200

    body = {"model": "truefusion", "input": {"prompt": "a lighthouse"}, "await": True}
    image = call("POST", "/v1/predict", headers=AUTH, json=body).json()
    assert image["status"] == "succeeded"
    file = call("GET", _first_output(image))
    assert file.headers["content-type"] == "image/webp"
    with Image.open(io.BytesIO(file.content)) as picture:
        assert picture.size == (1024, 1024)

    speech_body = {"model": "skytells-tts", "input": {"text": "Hello there."}, "await": True}
    speech = call("POST", "/v1/predictions", json=speech_body, headers=AUTH).json()
    assert call("GET", _first_output(speech)).content[:4] == b"RIFF"

    chat_body = {
        "model": "skytells-chat",
        "input": {"prompt": "hi", "max_tokens": 8},
        "await": True,
    }
    chat = call("POST", "/v1/predict", json=chat_body, headers=AUTH).json()
    assert isinstance(chat["output"], str | list)

    video_body = {"model": "mera", "input": {"prompt": "waves", "size": "640x360"}, "stream": True}
    video = call("POST", "/v1/predict", headers=AUTH, json=video_body).json()
    assert call("GET", f"/v1/predictions/{video['id']}", headers=AUTH).status_code == 200
    assert call("GET", f"/v1/predictions/{video['id']}/stream", headers=AUTH).status_code == 200
    assert call("POST", f"/v1/predictions/{video['id']}/cancel", headers=AUTH).status_code in (
        200,
        409,
    )
    listed = call(
        "GET",
        "/v1/predictions",
        params={"per_page": 2, "page": 1, "model": "truefusion", "from": "2000-01-01"},
        headers=AUTH,
    ).json()
    assert listed["pagination"]["per_page"] == 2
    bearer = {"authorization": f"Bearer {DEFAULT_API_KEY}"}
    assert call("GET", "/v1/predictions?status=succeeded", headers=bearer).status_code == 200
    assert call("DELETE", f"/v1/predictions/{image['id']}/delete", headers=AUTH).status_code == 200
    assert call("DELETE", f"/v1/predictions/{chat['id']}", headers=AUTH).status_code == 200

    # Errors, each in the envelope the document describes.
    assert call("GET", f"/v1/predictions/{image['id']}", headers=AUTH).status_code == 502
    assert call("GET", "/v1/predictions/a%2Fb", headers=AUTH).status_code == 502
    assert call("GET", "/v1/models").status_code == 401
    assert call("GET", "/v1/models", headers={"x-api-key": "sk-wrong"}).status_code == 401
    assert call("GET", "/v1/model/nope", headers=AUTH).status_code == 404
    assert call("GET", "/v1/models?fields=bogus", headers=AUTH).status_code == 400
    assert call("GET", "/v1/predictions?per_page=0", headers=AUTH).status_code == 400
    assert call("GET", "/v1/predictions?from=2024-13-45", headers=AUTH).status_code == 400
    bad_model = {"model": "nope", "input": {}}
    assert call("POST", "/v1/predict", json=bad_model, headers=AUTH).status_code == 404
    assert call("POST", "/v1/predict", json={"input": {}}, headers=AUTH).status_code == 422
    bad_input = {"model": "truefusion", "input": {"num_outputs": 9}}
    assert call("POST", "/v1/predict", json=bad_input, headers=AUTH).status_code == 422
    garbage = {"content": b"{not json", "headers": {**AUTH, "content-type": "application/json"}}
    assert call("POST", "/v1/predict", **garbage).status_code == 400
    assert call("GET", "/v1/nowhere", headers=AUTH).status_code == 404
    assert call("PUT", "/v1/models", headers=AUTH).status_code == 405
    assert call("GET", f"/files/{image['id']}/out-0.webp").status_code == 404

    # The control API is not part of the document: not validated, not counted.
    client.get("/_emulator/state")
    assert validated_count() - before == requests


def test_rate_limited_responses_conform(client: httpx.Client) -> None:
    before = validated_count()
    patched = client.patch("/_emulator/config", json={"rate_limit": 2}, headers=AUTH)
    assert patched.status_code == 200
    assert validated_count() == before  # the control API is not validated
    statuses = [client.get("/v1/models", headers=AUTH).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert validated_count() - before == 3


# ------------------------------------------------------------- the emulator's own response check


def test_the_session_emulator_checks_the_responses_of_every_client(
    emu: Emulator, response_checker: ResponseChecker
) -> None:
    # Neither SDK client below carries a hook: the default sync client (its own httpx pool) and
    # the default async one (aiohttp) are checked by the emulator itself.
    before = response_checker.checked()
    with SkytellsClient(emu.api_key, base_url=emu.base_url) as client:
        assert client.run("flux-edge", input={"prompt": "x"}).status == "succeeded"
        assert client.models.list()

    async def run_async() -> None:
        async with AsyncSkytellsClient(emu.api_key, base_url=emu.base_url) as aclient:
            assert (await aclient.models.get("mera"))["type"] == "video"

    asyncio.run(run_async())
    sent = emu.state()["requests"]
    assert sent >= 3 and response_checker.checked() - before >= sent


def test_the_emulator_check_reports_what_does_not_conform_and_not_what_faults_do() -> None:
    emulator = Emulator(time_scale=0)
    checker = install(emulator.app)

    async def broken(request: Any) -> JSONResponse:
        return JSONResponse([{"namespace": 7}])  # a model list whose entry lacks every field

    emulator.app.router.routes.insert(0, Route("/v1/models", broken, methods=["GET"]))
    try:
        with emulator, httpx.Client(base_url=emulator.base_url, headers=AUTH) as http:
            assert http.get("/models").status_code == 200  # the client sees it unchanged
            (violation,) = checker.take_violations()
            assert f"GET {emulator.base_url}/models" in violation
            assert "namespace" in violation and "200" in violation
            # What a fault does to a response on the wire is the test's doing, not checked.
            emulator.add_fault("status", path="/v1/model/*", status=418, body="teapot", count=1)
            assert http.get("/model/mera").status_code == 418
            assert http.get("/model/mera").status_code == 200
            assert checker.take_violations() == [] and checker.checked() == 1
    finally:
        checker.close()


CHECKED_SUITE = """
import httpx
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.conftest import emu, emulator, response_checker  # noqa: F401


def _models(emu):
    return httpx.get(emu.base_url + "/models", headers={"x-api-key": emu.api_key})


def test_conforming(emu):
    assert _models(emu).status_code == 200


def test_broken(emu):
    async def broken(request):
        return JSONResponse([{"namespace": 7}])

    emu.app.router.routes.insert(0, Route("/v1/models", broken, methods=["GET"]))
    try:
        assert _models(emu).status_code == 200  # passes: the client does not look
    finally:
        emu.app.router.routes.pop(0)


def test_after(emu):
    assert _models(emu).status_code == 200
"""


def test_a_nonconforming_emulator_response_fails_the_test_that_caused_it(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_checked=CHECKED_SUITE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:xdist")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_broken*",
            "*1 emulator response(s) did not conform to the OpenAPI document*",
        ]
    )


# ----------------------------------------------------------------------------------- schemathesis

SCHEMATHESIS_CONFIG = {
    "auth": {
        "openapi": {
            "ApiKeyAuth": {"api_key": DEFAULT_API_KEY},
            "BearerAuth": {"bearer": DEFAULT_API_KEY},
        }
    },
    "generation": {"max-examples": 12},
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    ignored_auth,
    allow_header_conformance,
]
STATEFUL_CHECKS = [*CHECKS, use_after_free, ensure_resource_availability]


# Loaded over ASGI at import (cheap: the app starts on the first call), one app for the module.
schema = schemathesis.openapi.from_asgi(
    "/openapi.json",
    create_app(EmulatorConfig(time_scale=0.0)),
    config=SchemathesisConfig.from_dict(SCHEMATHESIS_CONFIG),
)


def _is_unknown_prediction(case: Any, response: Any) -> bool:
    """The documented 502 of the service for an unknown prediction id (not a server fault)."""
    if response.status_code != 502 or "{id}" not in case.path:
        return False
    try:
        return bool(json.loads(response.content)["error"]["error_id"] == "PREDICTION_FAILED")
    except (ValueError, KeyError, TypeError):
        return False


@schema.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)
def test_schemathesis_finds_no_failures(case: Any) -> None:
    response = case.call()
    excluded = [not_a_server_error] if _is_unknown_prediction(case, response) else []
    case.validate_response(response, checks=CHECKS, excluded_checks=excluded)


class _Workflow(schema.as_state_machine()):  # type: ignore[misc]
    """Stateful runs: create predictions, then follow the document's links with their real ids."""

    def setup(self) -> None:
        # Every run starts from an empty emulator, so a replayed run sees the same responses.
        with schemathesis_asgi.get_client(schema.app) as control:
            assert control.post("/_emulator/reset", headers=AUTH).status_code == 200

    def validate_response(
        self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
    ) -> None:
        excluded = [not_a_server_error] if _is_unknown_prediction(case, response) else []
        case.validate_response(
            response,
            checks=STATEFUL_CHECKS,
            excluded_checks=excluded,
            transport_kwargs=kwargs or None,
            recorder=self.recorder,
        )


TestStatefulWorkflow = _Workflow.TestCase
TestStatefulWorkflow.settings = settings(
    max_examples=15,
    stateful_step_count=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
