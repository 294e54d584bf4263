"""The InvokeCommand wire protocol: envelope, auth, paging, $select, error shape."""

from __future__ import annotations

from typing import Any

import httpx

from reconciler.emulator.app import Emulator
from reconciler.emulator.config import EmulatorConfig, TenantConfig

IN = {"Name": "c", "SenderDomains": ["a.com"]}


def test_no_token_is_401(client: httpx.Client) -> None:
    body = {"CmdletInput": {"CmdletName": "Get-InboundConnector", "Parameters": {}}}
    response = client.post("/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand", json=body)
    assert response.status_code == 401
    assert "Bearer" in response.headers["www-authenticate"]
    forged = client.post(
        "/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand",
        json=body,
        headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."},
    )
    assert forged.status_code == 401


def test_token_of_another_tenant_is_refused(exo: Any) -> None:
    response = exo.post("Get-InboundConnector", url="/adminapi/beta/fabrikam.onmicrosoft.com/InvokeCommand")
    assert response.status_code == 401


def test_response_envelope_and_anchor_header(exo: Any) -> None:
    response = exo.post(
        "Get-InboundConnector",
        headers={
            "X-AnchorMailbox": "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
            + "contoso.onmicrosoft.com"
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["value"] == []
    assert body["@odata.context"].startswith(
        "https://local.exoform.invalid/adminapi/beta/contoso.onmicrosoft.com/"
    )
    assert response.headers["content-type"].startswith("application/json")


def test_malformed_body_is_400_in_the_error_shape(exo: Any) -> None:
    response = exo.client.post(
        exo.url, content=b"{not json", headers={"Authorization": f"Bearer {exo.token}"}
    )
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "Error executing cmdlet"
    response = exo.client.post(
        exo.url, json={"Cmdlet": "x"}, headers={"Authorization": f"Bearer {exo.token}"}
    )
    assert response.status_code == 400


def test_error_shape_and_headers(exo: Any) -> None:
    response = exo.post("Remove-InboundConnector", {"Identity": "missing", "Confirm": False})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "NotFound" and error["message"] == "Error executing cmdlet"
    assert error["details"][0]["code"] == "Client" and error["details"][0]["target"] == ""
    assert error["innererror"]["internalexception"]["type"].endswith("ManagementObjectNotFoundException")
    assert response.headers["x-exceptiontype"] == "ManagementObjectNotFoundException"


def _page_through(exo: Any, page_size: int, params: dict[str, Any]) -> tuple[list[str], list[str]]:
    names: list[str] = []
    links: list[str] = []
    url = exo.url
    while True:
        response = exo.post(
            "Get-InboundConnector", params, url=url, headers={"Prefer": f"odata.maxpagesize={page_size}"}
        )
        assert response.status_code == 200, response.text
        assert response.headers["preference-applied"] == f"odata.maxpagesize={page_size}"
        body = response.json()
        assert len(body["value"]) <= page_size
        names += [c["Name"] for c in body["value"]]
        if "@odata.nextLink" not in body:
            return names, links
        url = body["@odata.nextLink"]
        links.append(url)


def test_paging_with_prefer_maxpagesize_and_next_link(seeded: Any) -> None:
    exo = seeded({"InboundConnector": [{"Name": f"c{i:02d}", "SenderDomains": ["a.com"]} for i in range(25)]})
    names, links = _page_through(exo, 10, {"ResultSize": "Unlimited"})
    assert names == [f"c{i:02d}" for i in range(25)]
    assert len(links) == 2
    assert all(
        link.startswith("https://local.exoform.invalid/adminapi/beta/contoso.onmicrosoft.com/InvokeCommand?")
        for link in links
    )


def test_default_page_size_comes_from_config(exo_for: Any) -> None:
    from reconciler.emulator.store import MemoryStore, SharedStore

    seed = {"InboundConnector": [{"Name": f"c{i}", "SenderDomains": ["a.com"]} for i in range(5)]}
    exo = exo_for(Emulator(stores=SharedStore(MemoryStore(seed)), config=EmulatorConfig(page_size=2)))
    body = exo.post("Get-InboundConnector").json()
    assert len(body["value"]) == 2 and "@odata.nextLink" in body


def test_select_trims_properties(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN)
    response = exo.post("Get-InboundConnector", url=exo.url + "?$select=Name,Guid")
    (obj,) = response.json()["value"]
    assert set(obj) == {"Name", "Guid"}


def test_tenants_are_isolated(exo_for: Any) -> None:
    emulator = Emulator()
    contoso = exo_for(emulator, "contoso.onmicrosoft.com")
    fabrikam = exo_for(emulator, "fabrikam.onmicrosoft.com")
    contoso.ok("New-InboundConnector", **IN)
    assert fabrikam.get("InboundConnector") == []
    assert len(contoso.get("InboundConnector")) == 1


def test_configured_tenant_is_reachable_by_name_and_id(exo_for: Any) -> None:
    tenant_id = "0b7a5c1e-3f8d-4a2b-9c6e-1d2f3a4b5c6d"
    config = EmulatorConfig(
        tenants=(
            TenantConfig(name="contoso.onmicrosoft.com", id=tenant_id, accepted_domains=("contoso.com",)),
        )
    )
    emulator = Emulator(config=config)
    by_name = exo_for(emulator, "contoso.onmicrosoft.com")
    by_id = exo_for(emulator, tenant_id)
    by_name.ok("New-InboundConnector", **IN, AssociatedAcceptedDomains=["contoso.com"])
    assert [c["Name"] for c in by_id.get("InboundConnector")] == ["c"]
    token = by_name.client.post(
        "/unknown.onmicrosoft.com/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": "a", "client_secret": "emulator",
              "scope": "https://outlook.office365.com/.default"},
    )  # fmt: skip
    assert token.status_code == 400 and "AADSTS90002" in token.json()["error_description"]


def test_unknown_route_is_404(client: httpx.Client) -> None:
    assert client.get("/nothing/here").status_code == 404


def test_stats_endpoint_counts(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN)
    exo.get("InboundConnector")
    stats = exo.client.get("/_emulator/stats").json()
    assert stats["cmdlets"] == {"New-InboundConnector": 1, "Get-InboundConnector": 1}
    assert stats["tokens_issued"] == 1
