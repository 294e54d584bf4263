"""Writing end to end over TLS: the parameters sent, and writes whose outcome is unknown.

After every fault scenario the emulator's state is checked directly: a retry never creates twice, never
fails on "already exists" and never deletes twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from reconciler.errors import WriteError
from reconciler.model import InboundConnector, OutboundConnector
from reconciler.providers.exchange import ExchangeProvider
from tests.providers.conftest import Rig

INBOUND = InboundConnector(
    name="Mimecast inbound",
    connector_type="Partner",
    sender_domains=["*"],
    sender_ip_addresses=["198.51.100.0/24", "203.0.113.7"],
    restrict_domains_to_ip_addresses=True,
    ef_skip_last_ip=True,
    comment="managed by exoform",
)
OUTBOUND = OutboundConnector(
    name="Smart host out",
    connector_type="Partner",
    recipient_domains=["fabrikam.com"],
    use_mx_record=False,
    smart_hosts=["relay.fabrikam.com"],
    tls_settings="DomainValidation",
    tls_domain="relay.fabrikam.com",
    validation_recipients=["postmaster@fabrikam.com"],
)


def _capture(provider: ExchangeProvider) -> list[dict[str, Any]]:
    """The CmdletInput of every request the provider sends (observed through an httpx event hook)."""
    sent: list[dict[str, Any]] = []

    def hook(request: httpx.Request) -> None:
        if request.url.path.endswith("/InvokeCommand"):
            sent.append(json.loads(request.content)["CmdletInput"])

    provider.client.http.event_hooks["request"].append(hook)
    return sent


def test_create_sends_name_type_and_only_non_default_fields_and_reads_back_equal(rig: Rig) -> None:
    provider = rig.provider()
    sent = _capture(provider)
    live = provider.create(INBOUND)
    (new,) = sent
    assert new["CmdletName"] == "New-InboundConnector"
    assert new["Parameters"] == {
        "Name": "Mimecast inbound",
        "ConnectorType": "Partner",
        "Comment": "managed by exoform",
        "SenderDomains": ["*"],
        "SenderIPAddresses": ["198.51.100.0/24", "203.0.113.7"],
        "EFSkipLastIP": True,
        "RestrictDomainsToIPAddresses": True,
    }
    assert live.guid == rig.stored("InboundConnector")[0]["Guid"]
    again = provider.read().find("InboundConnector", INBOUND.name)
    assert again is not None and again.connector.managed_fields() == INBOUND.managed_fields()


def test_create_skips_ignored_fields(rig: Rig) -> None:
    provider = rig.provider()
    sent = _capture(provider)
    provider.create(INBOUND, skip_fields=frozenset({"comment", "ef_skip_last_ip"}))
    assert "Comment" not in sent[0]["Parameters"] and "EFSkipLastIP" not in sent[0]["Parameters"]


def test_new_outbound_leaves_out_mta_sts_and_dane_at_their_defaults(rig: Rig) -> None:
    provider = rig.provider()
    sent = _capture(provider)
    provider.create(OutboundConnector(name="Plain", connector_type="Partner", recipient_domains=["a.com"]))
    assert sent[0]["Parameters"] == {
        "Name": "Plain",
        "ConnectorType": "Partner",
        "RecipientDomains": ["a.com"],
    }


def test_validation_recipients_are_set_after_new(rig: Rig) -> None:
    provider = rig.provider()
    sent = _capture(provider)
    live = provider.create(OUTBOUND)
    assert [s["CmdletName"] for s in sent] == ["New-OutboundConnector", "Set-OutboundConnector"]
    assert "ValidationRecipients" not in sent[0]["Parameters"]
    assert sent[1]["Parameters"] == {
        "Identity": live.guid,
        "ValidationRecipients": ["postmaster@fabrikam.com"],
    }
    assert live.connector.managed_fields() == OUTBOUND.managed_fields()
    (stored,) = rig.stored("OutboundConnector")
    assert stored["ValidationRecipients"] == ["postmaster@fabrikam.com"]


def test_update_sends_only_the_changes_by_guid_and_renames(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    sent = _capture(provider)
    provider.update(
        live,
        {"name": "Mimecast in", "sender_ip_addresses": ["198.51.100.0/24"], "comment": ""},
    )
    assert sent == [
        {
            "CmdletName": "Set-InboundConnector",
            "Parameters": {
                "Identity": live.guid,
                "Name": "Mimecast in",
                "SenderIPAddresses": ["198.51.100.0/24"],
                "Comment": "",
            },
        }
    ]
    (stored,) = rig.stored("InboundConnector")
    assert (stored["Name"], stored["SenderIPAddresses"], stored["Guid"]) == (
        "Mimecast in",
        ["198.51.100.0/24"],
        live.guid,
    )


def test_clearing_an_optional_text_sends_null(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(OUTBOUND)
    provider.update(live, {"tls_settings": "EncryptionOnly", "tls_domain": None})
    (stored,) = rig.stored("OutboundConnector")
    assert stored["TlsSettings"] == "EncryptionOnly" and stored["TlsDomain"] is None


def test_create_only_field_cannot_be_updated(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    with pytest.raises(WriteError, match=r"client_host_names \(ClientHostNames\) can only be set when"):
        provider.update(live, {"client_host_names": ["mail.contoso.com"]})
    assert rig.cmdlets().get("Set-InboundConnector", 0) == 0


def test_delete_by_guid(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    sent = _capture(provider)
    provider.delete(live)
    assert sent == [
        {"CmdletName": "Remove-InboundConnector", "Parameters": {"Identity": live.guid, "Confirm": False}}
    ]
    assert rig.stored("InboundConnector") == []


def test_service_validation_error_is_reported_verbatim_and_not_retried(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(OUTBOUND)
    with pytest.raises(WriteError) as caught:
        provider.update(live, {"tls_domain": None})  # DomainValidation without TlsDomain
    error = caught.value
    assert error.cmdlet == "Set-OutboundConnector" and error.connector == OUTBOUND.name
    assert "TlsDomain" in error.service_message and error.code.startswith("Ex")
    assert str(error).startswith(f"tenant contoso: Set-OutboundConnector '{OUTBOUND.name}' failed: ")
    assert rig.cmdlets()["Set-OutboundConnector"] == 2  # validation recipients after New, then this one


def test_creating_an_existing_name_fails_with_the_service_message(rig: Rig) -> None:
    provider = rig.provider()
    provider.create(INBOUND)
    with pytest.raises(WriteError, match="New-InboundConnector 'Mimecast inbound' failed: ") as caught:
        provider.create(INBOUND)
    assert "AlreadyExists" in caught.value.exception_type
    assert len(rig.stored("InboundConnector")) == 1


# --- unknown outcomes --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        "drop_after_write:cmdlet=New-InboundConnector,count=1",  # applied, response lost
        "drop_after_write:cmdlet=New-InboundConnector",  # every New is applied then dropped
        "reset:cmdlet=New-InboundConnector,count=1",  # not applied, connection reset
        "close:cmdlet=New-InboundConnector,count=2",
        "500:cmdlet=New-InboundConnector,count=1",
        "503:cmdlet=New-InboundConnector,count=1",
        "html:cmdlet=New-InboundConnector,count=1",
        "429:cmdlet=New-InboundConnector,count=1,retry_after=0.1",
        "throttled_200:cmdlet=New-InboundConnector,count=1",
    ],
)
def test_create_with_a_fault_creates_exactly_once(rig: Rig, spec: str) -> None:
    rig.server.emulator.faults.add(spec)
    provider = rig.provider()
    live = provider.create(INBOUND)
    (stored,) = rig.stored("InboundConnector")
    assert stored["Guid"] == live.guid
    assert live.connector.managed_fields() == INBOUND.managed_fields()
    if spec.startswith("drop_after_write"):
        assert rig.cmdlets()["New-InboundConnector"] == 1  # applied the first time: never sent again


def test_create_with_validation_recipients_survives_a_dropped_new(rig: Rig) -> None:
    rig.server.emulator.faults.add("drop_after_write:cmdlet=New-OutboundConnector,count=1")
    live = rig.provider().create(OUTBOUND)
    (stored,) = rig.stored("OutboundConnector")
    assert stored["Guid"] == live.guid and stored["ValidationRecipients"] == ["postmaster@fabrikam.com"]
    assert rig.cmdlets()["New-OutboundConnector"] == 1


@pytest.mark.parametrize(
    "spec",
    [
        "drop_after_write:cmdlet=Set-InboundConnector,count=1",
        "reset:cmdlet=Set-InboundConnector,count=1",
        "504:cmdlet=Set-InboundConnector,count=1",
    ],
)
def test_update_with_a_fault_is_applied(rig: Rig, spec: str) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    rig.server.emulator.faults.add(spec)
    provider.update(live, {"name": "Renamed", "enabled": False})
    (stored,) = rig.stored("InboundConnector")
    assert (stored["Name"], stored["Enabled"], stored["Guid"]) == ("Renamed", False, live.guid)


@pytest.mark.parametrize(
    ("spec", "removes_sent"),
    [
        ("drop_after_write:cmdlet=Remove-InboundConnector,count=1", 1),  # applied: resolved by a re-read
        ("drop_after_write:cmdlet=Remove-InboundConnector", 1),
        ("close:cmdlet=Remove-InboundConnector,count=1", 2),  # not applied: the re-read finds it, retry
        ("500:cmdlet=Remove-InboundConnector,count=1", 2),
    ],
)
def test_delete_with_a_fault_deletes_once_and_only_that_connector(
    rig: Rig, spec: str, removes_sent: int
) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    provider.create(INBOUND.model_copy(update={"name": "Keep me"}))
    rig.server.emulator.faults.add(spec)
    provider.delete(live)
    assert rig.names("InboundConnector") == ["Keep me"]
    assert rig.cmdlets()["Remove-InboundConnector"] == removes_sent


def test_write_that_keeps_failing_reports_an_unknown_outcome(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(INBOUND)
    rig.server.emulator.faults.add("500:cmdlet=Set-InboundConnector")
    with pytest.raises(WriteError, match="the outcome is unknown: run plan again"):
        provider.update(live, {"comment": "changed"})
    (stored,) = rig.stored("InboundConnector")
    assert stored["Comment"] == "managed by exoform"


def test_unknown_outcome_that_cannot_be_resolved_is_reported(make_rig: Callable[..., Rig]) -> None:
    rig = make_rig()
    provider = rig.provider()
    rig.server.emulator.faults.add("close:cmdlet=New-InboundConnector,count=1")
    rig.server.emulator.faults.add("503:cmdlet=Get-InboundConnector")
    with pytest.raises(WriteError, match="could not be re-read"):
        provider.create(INBOUND)
    assert rig.stored("InboundConnector") == []


def test_validate_outbound(rig: Rig) -> None:
    provider = rig.provider()
    live = provider.create(OUTBOUND)
    (result,) = provider.validate_outbound(live, ["postmaster@fabrikam.com"])
    assert result["SmartHost"] == "relay.fabrikam.com" and result["Status"] == "Succeeded"


# -- an older or smaller service; names across kinds (issue 13) --------------------------------------------


def test_older_service_creates_outbound_connectors_at_mta_sts_and_dane_defaults(
    make_rig: Callable[..., Rig],
) -> None:
    from reconciler.emulator.config import EmulatorConfig

    rig = make_rig(config=EmulatorConfig(service="older"))
    provider = rig.provider()
    live = provider.create(OUTBOUND)
    assert rig.names("OutboundConnector") == ["Smart host out"]
    again = provider.read().find("OutboundConnector", "Smart host out")
    assert again is not None and again.guid == live.guid
    assert again.connector.managed_fields() == OUTBOUND.managed_fields()
    with pytest.raises(WriteError) as caught:
        provider.create(OutboundConnector(name="Strict", connector_type="Partner",
                                          recipient_domains=["a.com"],
                                          smtp_dane_mode="Mandatory"))  # fmt: skip
    assert caught.value.exception_type.endswith("AmbiguousParameterSetException")
    assert "SmtpDaneMode" in str(caught.value)


def test_a_create_onto_the_other_kinds_name_is_refused_by_the_service(rig: Rig) -> None:
    provider = rig.provider()
    provider.create(InboundConnector(name="Fabrikam", connector_type="Partner", sender_domains=["a.com"]))
    with pytest.raises(WriteError) as caught:
        provider.create(
            OutboundConnector(name="fabrikam", connector_type="Partner", recipient_domains=["a.com"])
        )
    assert caught.value.exception_type == "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
    assert rig.names("OutboundConnector") == []
