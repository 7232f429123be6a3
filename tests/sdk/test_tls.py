"""HTTPS against a real TLS server whose certificate comes from a throwaway CA (trustme): every
path (sync over urllib3, calls and dispatch; async over aiohttp) trusts what httpx trusts,
``SSL_CERT_FILE`` included, and refuses a certificate it cannot verify."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

import skytells
from skytells import AsyncSkytellsClient, SkytellsClient
from tests.scripted_server import Reply, ScriptedServer, prediction


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def https(ca: trustme.CA) -> Iterator[ScriptedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with ScriptedServer(tls=context).running() as server:
        yield server


@pytest.fixture
def trusted(ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust the throwaway CA the way httpx reads it: ``SSL_CERT_FILE``."""
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))


def _queue(client: SkytellsClient, count: int) -> None:
    for i in range(count):
        client.queue({"model": "flux-edge", "input": {"prompt": f"n{i}"}})


@pytest.mark.usefixtures("trusted")
def test_every_path_trusts_the_ca_in_ssl_cert_file(https: ScriptedServer) -> None:
    https.script(Reply(body=prediction("starting")))
    with SkytellsClient("sk-test-key", base_url=https.base_url) as client:
        assert client.predictions.get("pred_abc123")["status"] == "starting"
        _queue(client, 3)
        assert len(client.dispatch()) == 3  # on threads over the same pool
    assert [r.method for r in https.requests] == ["GET", "POST", "POST", "POST"]


@pytest.mark.anyio
@pytest.mark.usefixtures("trusted")
async def test_the_async_client_trusts_the_ca_in_ssl_cert_file(https: ScriptedServer) -> None:
    https.script(Reply(body=prediction("starting")))
    async with AsyncSkytellsClient("sk-test-key", base_url=https.base_url) as client:
        assert (await client.predictions.get("pred_abc123"))["status"] == "starting"


def test_an_unverifiable_certificate_is_refused_on_every_path(https: ScriptedServer) -> None:
    https.script(Reply(body=prediction("starting")))
    with SkytellsClient("sk-test-key", base_url=https.base_url, max_retries=0) as client:
        with pytest.raises(skytells.APIConnectionError):
            client.predictions.get("pred_abc123")
        _queue(client, 2)
        with pytest.raises(skytells.DispatchError) as info:
            client.dispatch()
        assert all(isinstance(e, skytells.APIConnectionError) for _, e in info.value.failed)
        assert client.queued == 2
    assert https.requests == []  # no request got through


@pytest.mark.skipif(shutil.which("openssl") is None, reason="names a CA directory with openssl")
def test_the_sync_client_trusts_a_ca_in_ssl_cert_dir(
    https: ScriptedServer, ca: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A directory of CAs named by their subject hash, as OpenSSL looks them up."""
    pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(pem))
    subject_hash = subprocess.run(
        ["openssl", "x509", "-hash", "-noout", "-in", str(pem)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    folder = tmp_path / "certs"
    folder.mkdir()
    ca.cert_pem.write_to_path(str(folder / f"{subject_hash}.0"))
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SSL_CERT_DIR", str(folder))
    https.script(Reply(body=prediction("starting")))
    with SkytellsClient("sk-test-key", base_url=https.base_url, max_retries=0) as client:
        assert client.predictions.get("pred_abc123")["status"] == "starting"
