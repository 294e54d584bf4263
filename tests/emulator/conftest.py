"""Helpers for the emulator's own tests: an in-process Exchange client that speaks the wire protocol."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.transport import EmulatorTransport

BASE = "https://local.exoform.invalid"
TENANT = "contoso.onmicrosoft.com"
SCOPE = "https://outlook.office365.com/.default"


def get_token(
    client: httpx.Client, tenant: str = TENANT, client_id: str = "app", secret: str = "emulator"
) -> str:
    response = client.post(
        f"/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_secret": secret,
            "scope": SCOPE,
        },
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


class Exo:
    """Calls InvokeCommand for one tenant with a valid token."""

    def __init__(self, client: httpx.Client, tenant: str = TENANT) -> None:
        self.client = client
        self.tenant = tenant
        self.token = get_token(client, tenant)

    @property
    def url(self) -> str:
        return f"/adminapi/beta/{self.tenant}/InvokeCommand"

    def post(self, cmdlet: str, params: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        url = kwargs.pop("url", self.url)
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": params or {}}}
        return self.client.post(url, json=body, headers=headers, **kwargs)

    def ok(self, cmdlet: str, **params: Any) -> list[dict[str, Any]]:
        """Run a cmdlet that must succeed; its ``value``."""
        response = self.post(cmdlet, params)
        assert response.status_code == 200, response.text
        assert "error" not in response.json(), response.text
        return list(response.json()["value"])

    def fail(self, cmdlet: str, status: int = 400, **params: Any) -> tuple[str, str, str]:
        """Run a cmdlet that must fail with ``status``; (code, exception type, text) of the error."""
        response = self.post(cmdlet, params)
        assert response.status_code == status, response.text
        error = response.json()["error"]
        if "details" not in error:  # a value that cannot be converted: the live body has no details
            internal = error["innererror"]["internalexception"]
            return "", str(internal["type"]), str(internal["message"])
        code, exception_type, text = error["details"][0]["message"].split("|", 2)
        return code, exception_type, text

    def get(self, kind: str, **params: Any) -> list[dict[str, Any]]:
        return self.ok(f"Get-{kind}", **params)


@pytest.fixture
def emulator() -> Emulator:
    return Emulator()


@pytest.fixture
def client(emulator: Emulator) -> Iterator[httpx.Client]:
    with httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE) as c:
        yield c


@pytest.fixture
def exo(client: httpx.Client) -> Exo:
    return Exo(client)


@pytest.fixture
def exo_for() -> Iterator[Any]:
    """``exo_for(emulator, tenant=TENANT)``: an :class:`Exo` talking to ``emulator`` in-process."""
    clients: list[httpx.Client] = []

    def make(emulator: Emulator, tenant: str = TENANT) -> Exo:
        client = httpx.Client(transport=EmulatorTransport(emulator), base_url=BASE)
        clients.append(client)
        return Exo(client, tenant)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def seeded(exo_for: Any) -> Any:
    """``seeded(state)``: an :class:`Exo` on a fresh emulator whose single store starts from ``state``."""
    from reconciler.emulator.store import MemoryStore, SharedStore

    def make(state: dict[str, Any]) -> Exo:
        return exo_for(Emulator(stores=SharedStore(MemoryStore(state))))  # type: ignore[no-any-return]

    return make
