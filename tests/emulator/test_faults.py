"""Every fault: what the client sees, and that the counters show it."""

from __future__ import annotations

import email.utils
import json
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import CONCURRENCY_MESSAGE, Fault, Faults
from reconciler.emulator.server import EmulatorServer

IN = {"Name": "c", "SenderDomains": ["a.com"]}


def test_429_for_the_next_n_requests_with_retry_after_seconds(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("429:count=2,retry_after=3")
    for _ in range(2):
        response = exo.post("Get-InboundConnector")
        assert response.status_code == 429 and response.headers["retry-after"] == "3"
    assert exo.post("Get-InboundConnector").status_code == 200
    assert emulator.stats.snapshot()["faults"] == {"429": 2}


def test_429_with_retry_after_as_an_http_date(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add(Fault("status", status=429, retry_after=5, retry_after_form="date", count=1))
    response = exo.post("Get-InboundConnector")
    assert response.status_code == 429
    when = email.utils.parsedate_to_datetime(response.headers["retry-after"])
    assert 4 <= when.timestamp() - time.time() <= 7


def test_fraction_is_deterministic_with_a_seed(exo_for: Any) -> None:
    def run(seed: int) -> list[int]:
        emulator = Emulator(faults=Faults(seed=seed, rules=[Fault.parse("503:fraction=0.5")]))
        exo = exo_for(emulator)
        return [exo.post("Get-InboundConnector").status_code for _ in range(20)]

    first, again = run(7), run(7)
    assert first == again
    assert set(first) == {200, 503}


@pytest.mark.parametrize("status", [500, 503, 504])
def test_server_errors(exo: Any, emulator: Emulator, status: int) -> None:
    emulator.faults.add(f"{status}:count=1")
    response = exo.post("Get-InboundConnector")
    assert response.status_code == status and "error" in response.json()
    assert emulator.stats.snapshot()["faults"] == {str(status): 1}


def test_200_carrying_a_throttling_error(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("throttled_200:count=1")
    response = exo.post("Get-InboundConnector")
    assert response.status_code == 200
    error = response.json()["error"]
    assert "value" not in response.json()
    assert "busy" in error["details"][0]["message"] and "throttled" in error["details"][0]["message"]


def test_html_and_plain_text_error_bodies(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("html:count=1,status=502")
    emulator.faults.add("text:count=1,status=503,body=Server busy")
    html = exo.post("Get-InboundConnector")
    assert html.status_code == 502 and html.headers["content-type"] == "text/html" and "<html>" in html.text
    text = exo.post("Get-InboundConnector")
    assert text.status_code == 503 and text.text == "Server busy"


def test_connection_faults_in_process(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("reset:count=1")
    emulator.faults.add("close:count=1")
    with pytest.raises(httpx.ReadError):
        exo.post("Get-InboundConnector")
    with pytest.raises(httpx.RemoteProtocolError):
        exo.post("Get-InboundConnector")
    assert exo.post("Get-InboundConnector").status_code == 200
    assert emulator.stats.snapshot()["faults"] == {"reset": 1, "close": 1}


def test_targeting_by_cmdlet_and_writes_only(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("500:cmdlet=Set-InboundConnector")
    emulator.faults.add("503:writes=true,cmdlet=New-OutboundConnector|Remove-InboundConnector")
    exo.ok("New-InboundConnector", **IN)
    assert exo.post("Set-InboundConnector", {"Identity": "c", "Comment": "x"}).status_code == 500
    assert exo.post("Remove-InboundConnector", {"Identity": "c"}).status_code == 503
    assert exo.post("Get-InboundConnector").status_code == 200


def test_after_lets_the_first_requests_through(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("500:after=2,count=1")
    codes = [exo.post("Get-InboundConnector").status_code for _ in range(4)]
    assert codes == [200, 200, 500, 200]


def test_failure_on_page_k_of_a_listing(seeded: Any) -> None:
    exo = seeded({"InboundConnector": [{"Name": f"c{i}", "SenderDomains": ["a.com"]} for i in range(6)]})
    emulator = exo.client._transport.emulator
    emulator.faults.add("500:page=2,count=1")
    prefer = {"Prefer": "odata.maxpagesize=2"}
    first = exo.post("Get-InboundConnector", headers=prefer)
    assert first.status_code == 200
    next_link = first.json()["@odata.nextLink"]
    assert exo.post("Get-InboundConnector", url=next_link, headers=prefer).status_code == 500
    retried = exo.post("Get-InboundConnector", url=next_link, headers=prefer)
    assert [c["Name"] for c in retried.json()["value"]] == ["c2", "c3"]


def test_token_expiry_mid_run(exo: Any, emulator: Emulator) -> None:
    assert exo.post("Get-InboundConnector").status_code == 200
    emulator.faults.add("expire_tokens:count=1")
    assert exo.post("Get-InboundConnector").status_code == 401
    assert exo.post("Get-InboundConnector").status_code == 401  # the old token stays invalid
    fresh = type(exo)(exo.client)  # a new token works
    assert fresh.post("Get-InboundConnector").status_code == 200
    assert emulator.stats.snapshot()["faults"] == {"expire_tokens": 1}


def test_drop_after_write_applies_the_write(exo: Any, emulator: Emulator) -> None:
    emulator.faults.add("drop_after_write:count=1")
    with pytest.raises(httpx.RemoteProtocolError):
        exo.post("New-InboundConnector", IN)
    assert [c["Name"] for c in exo.get("InboundConnector")] == ["c"]  # the write happened


def test_latency_is_added_to_invoke_command_only(exo: Any, emulator: Emulator) -> None:
    emulator.faults.latency_ms = 120
    started = time.monotonic()
    exo.post("Get-InboundConnector")
    assert time.monotonic() - started >= 0.12
    started = time.monotonic()
    exo.client.get("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration")
    assert time.monotonic() - started < 0.1


def test_jitter_stays_within_bounds() -> None:
    faults = Faults(latency_ms=10, jitter_ms=20, seed=1)
    delays = [faults.delay_seconds() for _ in range(50)]
    assert all(0.010 <= d <= 0.030 for d in delays) and len(set(delays)) > 1


def test_concurrency_cap_per_tenant(make_emulator_server: Callable[..., EmulatorServer]) -> None:
    server = make_emulator_server(faults=Faults(latency_ms=300, max_concurrent_per_tenant=2))
    token = _server_token(server)
    results: list[httpx.Response] = []
    lock = threading.Lock()

    def call() -> None:
        with server.client() as client:
            response = client.post(
                "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
                json={"CmdletInput": {"CmdletName": "Get-InboundConnector"}},
                headers={"Authorization": f"Bearer {token}"},
            )
        with lock:
            results.append(response)

    threads = [threading.Thread(target=call) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(200) >= 2 and codes.count(429) >= 1
    refused = next(r for r in results if r.status_code == 429)
    assert refused.text == CONCURRENCY_MESSAGE
    assert server.emulator.stats.snapshot()["faults"]["concurrency"] == codes.count(429)


def test_fault_spec_errors_are_clear() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'boom'"):
        Fault.parse("boom")
    with pytest.raises(ValueError, match="unknown fault option 'colour'"):
        Fault.parse("500:colour=red")
    with pytest.raises(ValueError, match="fraction"):
        Fault.parse("500:fraction=2")


# -- faults on the identity endpoints (token, OpenID discovery) ------------------------------------------

TOKEN_URL = "/contoso.onmicrosoft.com/oauth2/v2.0/token"
DISCOVERY_URL = "/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration"
TOKEN_FORM = {
    "grant_type": "client_credentials",
    "client_id": "a",
    "client_secret": "emulator",
    "scope": "https://outlook.office365.com/.default",
}


def test_token_endpoint_503_with_an_oauth_error_body_then_a_token(
    client: httpx.Client, emulator: Emulator
) -> None:
    emulator.faults.add("503:on=token,count=1")
    failed = client.post(TOKEN_URL, data=TOKEN_FORM)
    assert failed.status_code == 503
    assert failed.json()["error"] == "temporarily_unavailable"
    assert failed.json()["error_description"].startswith("AADSTS")
    assert "emulator" not in failed.text  # the secret is never echoed
    assert "access_token" in client.post(TOKEN_URL, data=TOKEN_FORM).json()
    stats = emulator.stats.snapshot()
    assert stats["faults"] == {"token:503": 1}
    assert stats["identity"] == {"token": 2} and stats["tokens_issued"] == 1


def test_token_endpoint_429_carries_retry_after(client: httpx.Client, emulator: Emulator) -> None:
    emulator.faults.add("429:on=token,retry_after=2,count=1")
    throttled = client.post(TOKEN_URL, data=TOKEN_FORM)
    assert throttled.status_code == 429 and throttled.headers["retry-after"] == "2"
    assert throttled.json()["error"] == "temporarily_unavailable"


def test_on_github_faults_the_actions_oidc_stand_in_only(client: httpx.Client, emulator: Emulator) -> None:
    emulator.faults.add("503:on=github,count=1")
    github = "/_github/oidc/token?audience=api://AzureADTokenExchange"
    headers = {"Authorization": "bearer emulator"}
    assert client.post(TOKEN_URL, data=TOKEN_FORM).status_code == 200  # the token endpoint is not hit
    assert client.get(github, headers=headers).status_code == 503
    assert "value" in client.get(github, headers=headers).json()
    stats = emulator.stats.snapshot()
    assert stats["faults"] == {"github:503": 1} and stats["identity"]["github"] == 2


def test_a_permanent_oauth_error_can_be_injected(client: httpx.Client, emulator: Emulator) -> None:
    emulator.faults.add("400:on=token,error=invalid_request,body=Bad request body.")
    refused = client.post(TOKEN_URL, data=TOKEN_FORM)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert refused.json()["error_description"].endswith("Bad request body.")


def test_discovery_500_with_html_then_the_metadata(client: httpx.Client, emulator: Emulator) -> None:
    emulator.faults.add("html:on=discovery,status=500,count=1")
    failed = client.get(DISCOVERY_URL)
    assert failed.status_code == 500 and failed.headers["content-type"] == "text/html"
    assert client.post(TOKEN_URL, data=TOKEN_FORM).status_code == 200  # the token endpoint is untouched
    assert client.get(DISCOVERY_URL).json()["token_endpoint"].endswith(TOKEN_URL)
    assert emulator.stats.snapshot()["faults"] == {"discovery:html": 1}


def test_on_identity_selects_both_with_after_and_count(client: httpx.Client, emulator: Emulator) -> None:
    emulator.faults.add("503:on=identity,after=1,count=2")
    codes = [
        client.get(DISCOVERY_URL).status_code,
        client.post(TOKEN_URL, data=TOKEN_FORM).status_code,
        client.get(DISCOVERY_URL).status_code,
        client.post(TOKEN_URL, data=TOKEN_FORM).status_code,
    ]
    assert codes == [200, 503, 503, 200]
    stats = emulator.stats.snapshot()
    assert stats["faults"] == {"token:503": 1, "discovery:503": 1}
    assert stats["identity"] == {"discovery": 2, "token": 2}


def test_rules_without_on_leave_identity_alone_and_identity_rules_leave_invoke_alone(
    exo: Any, emulator: Emulator
) -> None:
    emulator.faults.add("503")  # every InvokeCommand request, as before
    emulator.faults.add("reset:on=token|discovery")  # every identity request
    assert exo.post("Get-InboundConnector").status_code == 503
    with pytest.raises(httpx.ReadError):
        exo.client.post(TOKEN_URL, data=TOKEN_FORM)
    emulator.faults.clear()
    emulator.faults.add("503:on=identity")
    assert exo.post("Get-InboundConnector").status_code == 200
    assert exo.client.post(TOKEN_URL, data=TOKEN_FORM).status_code == 503


def test_identity_fault_specs_are_checked() -> None:
    assert Fault.parse("503:on=identity").on == frozenset({"token", "discovery"})
    assert Fault.parse("503").on == frozenset({"invoke"})
    with pytest.raises(ValueError, match="unknown endpoint"):
        Fault.parse("503:on=mars")
    with pytest.raises(ValueError, match="applies to InvokeCommand only"):
        Fault.parse("expire_tokens:on=token")
    with pytest.raises(ValueError, match="cmdlet=, writes= and page="):
        Fault.parse("503:on=discovery,cmdlet=Get-InboundConnector")


# -- over the real socket --------------------------------------------------------------------------------


def _server_token(server: EmulatorServer) -> str:
    with server.client() as client:
        response = client.post(
            "/contoso.onmicrosoft.com/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "emulator",
                  "scope": "https://outlook.office365.com/.default"},
        )  # fmt: skip
    return str(response.json()["access_token"])


@pytest.mark.parametrize(
    ("spec", "errors"),
    [
        # Python's TLS layer reports a reset that follows unread session tickets as EOF, so httpx may
        # raise either; both are transport errors a client must retry or resolve.
        ("reset:count=1", (httpx.ReadError, httpx.RemoteProtocolError)),
        ("close:count=1", (httpx.RemoteProtocolError,)),
    ],
)
def test_connection_faults_on_the_socket(
    emulator_server: EmulatorServer, spec: str, errors: tuple[type[Exception], ...]
) -> None:
    token = _server_token(emulator_server)
    emulator_server.emulator.faults.add(spec)
    body = {"CmdletInput": {"CmdletName": "Get-InboundConnector"}}
    headers = {"Authorization": f"Bearer {token}"}
    with emulator_server.client() as client:
        with pytest.raises(errors):
            client.post("/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", json=body, headers=headers)
        ok = client.post("/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", json=body, headers=headers)
    assert ok.status_code == 200


def test_reset_is_a_tcp_rst(emulator_server: EmulatorServer) -> None:
    token = _server_token(emulator_server)
    emulator_server.emulator.faults.add("reset:count=1")
    body = json.dumps({"CmdletInput": {"CmdletName": "Get-InboundConnector"}}).encode()
    request = (
        f"POST /adminapi/beta/contoso.onmicrosoft.com/InvokeCommand HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body
    raw = socket.create_connection(("127.0.0.1", emulator_server.port), timeout=5)
    with emulator_server.ssl_context().wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        tls.sendall(request)
        with socket.socket(fileno=os.dup(tls.fileno())) as tcp:  # read below TLS: the TCP stream itself
            tcp.settimeout(5)
            with pytest.raises(ConnectionResetError):
                while tcp.recv(65536):
                    pass


def test_drop_after_write_on_the_socket(emulator_server: EmulatorServer) -> None:
    token = _server_token(emulator_server)
    emulator_server.emulator.faults.add("drop_after_write:count=1")
    headers = {"Authorization": f"Bearer {token}"}
    url = "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand"
    with emulator_server.client() as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post(
                url,
                json={"CmdletInput": {"CmdletName": "New-InboundConnector", "Parameters": IN}},
                headers=headers,
            )
        listed = client.post(
            url, json={"CmdletInput": {"CmdletName": "Get-InboundConnector"}}, headers=headers
        )
    assert [c["Name"] for c in listed.json()["value"]] == ["c"]


@pytest.mark.parametrize("spec", ["reset:on=token,count=1", "close:on=token,count=1"])
def test_connection_faults_on_the_token_endpoint_over_the_socket(
    emulator_server: EmulatorServer, spec: str
) -> None:
    emulator_server.emulator.faults.add(spec)
    with emulator_server.client() as client:
        with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
            client.post(TOKEN_URL, data=TOKEN_FORM)
        assert client.post(TOKEN_URL, data=TOKEN_FORM).status_code == 200
    assert emulator_server.emulator.stats.snapshot()["faults"] == {f"token:{spec.split(':')[0]}": 1}
