"""``provider: local``: the same protocol code over the emulator's in-process transport, state in a file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reconciler.desired.config import ExoformConfig
from reconciler.errors import ReadError
from reconciler.model import OutboundConnector
from reconciler.providers.exchange import ExchangeProvider
from reconciler.providers.invoke import InvokeClient
from reconciler.providers.registry import open_provider
from reconciler.providers.session import Session

SEED = """\
InboundConnector:
  - Name: Seeded partner
    ConnectorType: Partner
    SenderDomains: [fabrikam.com]
OutboundConnector:
  - Name: Seeded test mode
    ConnectorType: Partner
    RecipientDomains: [fabrikam.com]
    TestMode: true
"""


def _config(tmp_path: Path, **tenant: object) -> ExoformConfig:
    values = {
        "connectors": "connectors",
        "provider": "local",
        **tenant,
    }
    config = ExoformConfig.model_validate({"tenants": {"demo": values}})
    return config.model_copy(update={"base_dir": tmp_path})


def _open(config: ExoformConfig) -> ExchangeProvider:
    provider = open_provider("demo", config.tenants["demo"], config)
    assert isinstance(provider, ExchangeProvider)
    return provider


def test_local_starts_from_the_seed_and_keeps_state_in_the_file(tmp_path: Path) -> None:
    (tmp_path / "seed.yaml").write_text(SEED)
    config = _config(tmp_path, state="state/demo.json", seed="seed.yaml")
    provider = _open(config)
    assert isinstance(provider.client, InvokeClient)  # the exchange protocol client, not a shortcut
    try:
        state = provider.read()
        assert sorted(c.name for c in state.connectors) == ["Seeded partner", "Seeded test mode"]
        provider.create(
            OutboundConnector(name="Added", connector_type="Partner", recipient_domains=["contoso.com"])
        )
    finally:
        provider.close()
    saved = json.loads((tmp_path / "state" / "demo.json").read_text())
    assert sorted(o["Name"] for o in saved["OutboundConnector"]) == ["Added", "Seeded test mode"]
    # The seed is only where an absent state starts: a new run reads the file, not the seed.
    (tmp_path / "seed.yaml").write_text("InboundConnector: []\n")
    again = _open(config)
    try:
        assert sorted(c.name for c in again.read().connectors) == [
            "Added",
            "Seeded partner",
            "Seeded test mode",
        ]
    finally:
        again.close()


def test_local_state_defaults_next_to_exoform_yaml(tmp_path: Path) -> None:
    provider = _open(_config(tmp_path))
    try:
        provider.create(
            OutboundConnector(name="Only", connector_type="Partner", recipient_domains=["contoso.com"])
        )
    finally:
        provider.close()
    assert (tmp_path / ".exoform" / "demo.json").exists()


def _read_once(config: ExoformConfig) -> tuple[str, list[float]]:
    """Read the tenant on a session that records its waits; the error's message and the waits."""
    waits: list[float] = []
    with Session(sleep=waits.append) as session:
        provider = open_provider("demo", config.tenants["demo"], config, session=session)
        try:
            with pytest.raises(ReadError) as caught:
                provider.read()
        finally:
            provider.close()
    return str(caught.value), waits


def test_a_corrupt_local_state_fails_at_once_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "demo.json").write_text('{"InboundConnector": [}')
    message, waits = _read_once(_config(tmp_path, state="demo.json"))
    assert re.search(r"demo\.json:1:23: error: invalid JSON", message), message
    assert waits == [], "a corrupt file was retried as if the service had failed"
    assert "service failed" not in message and "retries" not in message, message


def test_an_unreadable_local_state_fails_at_once_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "demo.json").mkdir()  # a folder where the state file belongs: unreadable as a file
    message, waits = _read_once(_config(tmp_path, state="demo.json"))
    assert f"{tmp_path / 'demo.json'}" in message, message
    assert waits == [] and "service failed" not in message, message


def test_a_symlink_at_the_local_state_lock_is_refused_not_followed(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (tmp_path / "demo.json.lock").symlink_to(elsewhere)
    provider = _open(_config(tmp_path, state="demo.json"))
    try:
        with pytest.raises(ReadError, match=r"demo\.json\.lock.*symbolic link; refusing to follow it"):
            provider.create(
                OutboundConnector(name="Only", connector_type="Partner", recipient_domains=["contoso.com"])
            )
    finally:
        provider.close()
    assert not elsewhere.exists(), "the lock file's link was followed"
    assert not (tmp_path / "demo.json").exists()


def test_exchange_tenants_get_the_exchange_provider(tmp_path: Path) -> None:
    config = ExoformConfig.model_validate(
        {
            "tenants": {
                "prod": {
                    "connectors": "c",
                    "provider": "exchange",
                    "organization": "contoso.onmicrosoft.com",
                    "auth": {"client_id": "app", "client_secret": "env:NOT_READ_YET"},
                }
            }
        }
    )
    provider = open_provider("prod", config.tenants["prod"], config)  # no network, no secret read yet
    assert isinstance(provider, ExchangeProvider)
    assert provider.client.is_service_host("https://outlook.office365.com/adminapi/beta/x/InvokeCommand")
    assert provider.client.is_service_host("https://nam12.outlook.office365.com/adminapi")
    assert not provider.client.is_service_host("https://outlook.office365.com.evil.example/")
    assert not provider.client.is_service_host("http://outlook.office365.com/")
    provider.close()
