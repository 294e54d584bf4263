"""The HTTPS server: TLS with its own CA, keep-alive, concurrency, loopback only, clean stop."""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Callable

import httpx
import pytest

from reconciler.emulator.faults import Faults
from reconciler.emulator.server import EmulatorServer

TENANT = "contoso.onmicrosoft.com"
GET = {"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {}}}


def _token(server: EmulatorServer) -> str:
    with server.client() as client:
        response = client.post(
            f"/{TENANT}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "emulator",
                  "scope": "https://outlook.office365.com/.default"},
        )  # fmt: skip
    return str(response.json()["access_token"])


def test_tls_is_verified_against_the_printed_ca(emulator_server: EmulatorServer) -> None:
    assert emulator_server.base_url.startswith("https://127.0.0.1:")
    assert emulator_server.authority(TENANT) == f"{emulator_server.base_url}/{TENANT}"
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(f"{emulator_server.base_url}/_emulator/stats", verify=ssl.create_default_context())
    with emulator_server.client() as client:
        assert client.get("/_emulator/stats").status_code == 200


def test_keep_alive_reuses_one_connection(emulator_server: EmulatorServer) -> None:
    token = _token(emulator_server)
    before = emulator_server.connections_accepted
    with emulator_server.client() as client:
        for _ in range(20):
            response = client.post(
                f"/adminapi/beta/{TENANT}/InvokeCommand",
                json=GET,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert response.status_code == 200
    assert emulator_server.connections_accepted - before == 1


def test_concurrent_requests_are_served_in_parallel(
    make_emulator_server: Callable[..., EmulatorServer],
) -> None:
    server = make_emulator_server(faults=Faults(latency_ms=200))
    token = _token(server)
    codes: list[int] = []

    def call() -> None:
        with server.client() as client:
            response = client.post(
                f"/adminapi/beta/{TENANT}/InvokeCommand",
                json=GET,
                headers={"Authorization": f"Bearer {token}"},
            )
            codes.append(response.status_code)

    threads = [threading.Thread(target=call) for _ in range(10)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    assert codes == [200] * 10
    assert elapsed < 1.5  # ten 200 ms requests one after the other would take 2 s
    assert server.emulator.stats.snapshot()["max_in_flight"] >= 2


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.1", "example.com"])
def test_only_loopback_addresses_are_accepted(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        EmulatorServer(host=host)


def test_stop_closes_idle_keep_alive_connections_and_joins() -> None:
    before = set(threading.enumerate())
    server = EmulatorServer().start()  # a server of its own: the fixtures' one is shared by other tests
    client = server.client()
    assert client.get("/_emulator/stats").status_code == 200  # leaves an idle keep-alive connection open
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2
    new = set(threading.enumerate()) - before
    assert not any(t.name.startswith("exoform-emulator") for t in new)
    with pytest.raises(httpx.TransportError):
        client.get("/_emulator/stats")
    client.close()
    server.stop()  # idempotent


def test_a_request_body_over_the_limit_is_refused_with_413(emulator_server: EmulatorServer) -> None:
    from reconciler.emulator.server import MAX_REQUEST_BYTES

    token = _token(emulator_server)
    with emulator_server.client() as client:
        response = client.post(
            f"/adminapi/beta/{TENANT}/InvokeCommand",
            content=b" " * (MAX_REQUEST_BYTES + 1),
            headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
        )
    assert response.status_code == 413


def test_json_nested_too_deeply_is_answered_400_not_500(
    emulator_server: EmulatorServer, caplog: pytest.LogCaptureFixture
) -> None:
    token = _token(emulator_server)
    for depth in (100, 100_000):
        parameters = "[" * depth + "]" * depth
        body = '{"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": ' + parameters + "}}"
        with emulator_server.client() as client:
            response = client.post(
                f"/adminapi/beta/{TENANT}/InvokeCommand",
                content=body.encode(),
                headers={"Authorization": f"Bearer {token}", "content-type": "application/json"},
            )
        assert response.status_code == 400, (depth, response.text)
    assert "Traceback" not in caplog.text and "unexpected error" not in caplog.text
