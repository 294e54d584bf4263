"""Conformance of the connector cmdlets, through the InvokeCommand protocol (in-process transport).

Every parameter and rule of docs/emulator.md ("Cmdlets and their rules") has a case the emulator accepts
or rejects.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from reconciler.emulator.app import Emulator
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.store import MemoryStores

DATE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$")
IN = {"Name": "Partner in", "SenderDomains": ["contoso.com"]}
OUT = {"Name": "Partner out", "RecipientDomains": ["fabrikam.com"]}
GUID = "6f1c2a4e-8d0b-4c71-9a3e-0e5b7f1d2c90"
BINDING = "System.Management.Automation.ParameterBindingException"
TRANSFORM = "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException"
UNKNOWN_PARAMETER = "Microsoft.Exchange.AdminApi.CommandInvocation.AmbiguousParameterSetException"
INVALID = "Microsoft.Exchange.Data.DataValidationException"


# -- Get output shape ------------------------------------------------------------------------------------


def test_new_inbound_returns_the_complete_get_shaped_object(exo: Any) -> None:
    (created,) = exo.ok("New-InboundConnector", **IN)
    (read,) = exo.get("InboundConnector")
    assert read == created
    expected_keys = {
        "Enabled", "ConnectorType", "ConnectorSource", "Comment", "SenderIPAddresses", "SenderDomains",
        "TrustedOrganizations", "ClientHostNames", "AssociatedAcceptedDomains", "RequireTls",
        "RestrictDomainsToIPAddresses", "RestrictDomainsToCertificate", "CloudServicesMailEnabled",
        "TreatMessagesAsInternal", "TlsSenderCertificateName", "EFTestMode", "ScanAndDropRecipients",
        "EFSkipLastIP", "EFSkipIPs", "EFSkipMailGateway", "EFUsers", "NameHashGuid",
        "OrganizationalUnitRootInternal", "AdminDisplayName", "ExchangeVersion", "Name", "DistinguishedName",
        "Identity", "ObjectCategory", "ObjectClass", "WhenChanged", "WhenCreated", "WhenChangedUTC",
        "WhenCreatedUTC", "ExchangeObjectId", "OrganizationalUnitRoot", "OrganizationId", "Id", "Guid",
        "OriginatingServer", "IsValid", "ObjectState",
    }  # fmt: skip
    assert expected_keys <= set(read)
    assert read["Identity"] == read["Name"] == read["Id"] == "Partner in"
    assert read["Guid"] == read["ExchangeObjectId"]
    assert read["SenderDomains"] == ["smtp:contoso.com;1"]
    assert read["Comment"] == "" and read["AdminDisplayName"] == ""
    assert read["SenderIPAddresses"] == [] and read["EFUsers"] == []
    assert read["TlsSenderCertificateName"] is None
    for key in ("WhenChanged", "WhenCreated", "WhenChangedUTC", "WhenCreatedUTC"):
        assert DATE.match(read[key]), read[key]
    # documented defaults (RequireTls and ConnectorType are the emulator's choice for UNCONFIRMED facts)
    assert read["Enabled"] is True and read["RequireTls"] is True
    assert read["ConnectorType"] == "Partner" and read["ConnectorSource"] == "Default"
    assert read["EFSkipLastIP"] is False and read["RestrictDomainsToIPAddresses"] is False


def test_new_outbound_defaults(exo: Any) -> None:
    (read,) = exo.ok("New-OutboundConnector", **OUT)
    assert read["UseMXRecord"] is True and read["Enabled"] is True
    assert read["TlsSettings"] is None and read["TlsDomain"] is None
    assert read["MtaStsMode"] == "Opportunistic" and read["SmtpDaneMode"] == "Opportunistic"
    assert read["IsValidated"] is False and read["LastValidationTimestamp"] is None
    assert read["ValidationRecipients"] == [] and read["SmartHosts"] == []
    assert read["RecipientDomains"] == ["fabrikam.com"]
    assert read["ConnectorType"] == "Partner" and read["ConnectorSource"] == "Default"
    for flag in ("AllAcceptedDomains", "RouteAllMessagesViaOnPremises", "SenderRewritingEnabled", "TestMode"):
        assert read[flag] is False


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("contoso.com", "smtp:contoso.com;1"),
        ("smtp:contoso.com", "smtp:contoso.com;1"),
        ("SMTP:contoso.com;1", "smtp:contoso.com;1"),
        ("*", "smtp:*;1"),
        ("smtp:*", "smtp:*;1"),
        ("*.contoso.com", "smtp:*.contoso.com;1"),
        ("", "smtp:;1"),
    ],
)
def test_sender_domains_read_back_as_smtp_form(exo: Any, given: str, stored: str) -> None:
    exo.ok("New-InboundConnector", Name="x", SenderDomains=[given, "other.example"])
    assert exo.get("InboundConnector")[0]["SenderDomains"] == [stored, "smtp:other.example;1"]


def test_parameter_names_are_case_insensitive_and_enums_canonical(exo: Any) -> None:
    exo.ok("new-outboundconnector", name="o", recipientdomains=["a.com"], USEMXRECORD=False,
           smarthosts=["mx.a.com"], tlssettings="encryptiononly")  # fmt: skip
    (read,) = exo.get("OutboundConnector")
    assert read["UseMXRecord"] is False and read["TlsSettings"] == "EncryptionOnly"


# -- names and identity ----------------------------------------------------------------------------------


def test_names_are_unique_per_kind_case_insensitively(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN)
    _, kind, _ = exo.fail("New-InboundConnector", Name="PARTNER IN", SenderDomains=["a.com"])
    assert kind.endswith(".ErrorInboundConnectorAlreadyExistsException")


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("New-InboundConnector", IN), ("New-OutboundConnector", {**OUT, "Name": "PARTNER IN"})),
        (("New-OutboundConnector", OUT), ("New-InboundConnector", {**IN, "Name": "partner OUT"})),
    ],
)
def test_names_are_unique_across_kinds_like_the_directory_container(
    exo: Any, first: tuple[str, dict[str, Any]], second: tuple[str, dict[str, Any]]
) -> None:
    exo.ok(first[0], **first[1])
    _, kind, text = exo.fail(second[0], **second[1])
    assert kind == "Microsoft.Exchange.Data.Directory.ADObjectAlreadyExistsException"
    assert "CN=" in text and "already exists" in text
    assert len(exo.get("InboundConnector")) + len(exo.get("OutboundConnector")) == 1


def test_rename_onto_the_other_kinds_name_is_refused(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN)
    exo.ok("New-OutboundConnector", **OUT)
    _, kind, _ = exo.fail("Set-OutboundConnector", Identity="Partner out", Name="Partner in")
    assert kind.endswith("ADObjectAlreadyExistsException")


@pytest.mark.parametrize("cmdlet", ["New-InboundConnector", "New-OutboundConnector"])
def test_names_longer_than_64_are_rejected(exo: Any, cmdlet: str) -> None:
    base = IN if "Inbound" in cmdlet else OUT
    exo.ok(cmdlet, **{**base, "Name": "n" * 64})
    _, kind, text = exo.fail(cmdlet, **{**base, "Name": "m" * 65})
    assert kind == INVALID and "maximum length is 64" in text


def test_identity_resolves_by_name_guid_and_dn(exo: Any) -> None:
    (created,) = exo.ok("New-InboundConnector", **IN)
    for identity in ("partner IN", created["Guid"].upper(), created["DistinguishedName"]):
        assert exo.ok("Get-InboundConnector", Identity=identity)[0]["Guid"] == created["Guid"]


def test_unknown_identity_is_404_management_object_not_found(exo: Any) -> None:
    for cmdlet in ("Get-InboundConnector", "Set-InboundConnector", "Remove-OutboundConnector"):
        code, kind, text = exo.fail(cmdlet, status=404, Identity="nope")
        assert (code, kind) == (
            "Ex6F9304",
            "Microsoft.Exchange.Configuration.Tasks.ManagementObjectNotFoundException",
        )
        assert "'nope' couldn't be found" in text


def test_ambiguous_identity(seeded: Any) -> None:
    exo = seeded(
        {
            "InboundConnector": [
                {"Name": "dup", "SenderDomains": ["a.com"]},
                {"Name": "DUP", "SenderDomains": ["b.com"]},
            ]
        }
    )
    _, kind, _ = exo.fail("Set-InboundConnector", Identity="dup", Comment="x")
    assert kind == "Microsoft.Exchange.Configuration.Tasks.ManagementObjectAmbiguousException"


def test_rename_keeps_guid_and_moves_identity(exo: Any) -> None:
    (created,) = exo.ok("New-InboundConnector", **IN)
    exo.ok("Set-InboundConnector", Identity=created["Guid"], Name="Renamed")
    (read,) = exo.get("InboundConnector")
    assert read["Guid"] == created["Guid"]
    assert read["Identity"] == read["Id"] == "Renamed" and "CN=Renamed," in read["DistinguishedName"]
    exo.fail("Get-InboundConnector", status=404, Identity="Partner in")


def test_rename_to_an_existing_name_is_refused(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN)
    exo.ok("New-InboundConnector", Name="second", SenderDomains=["b.com"])
    _, kind, _ = exo.fail("Set-InboundConnector", Identity="second", Name="partner in")
    assert kind.endswith("ErrorInboundConnectorAlreadyExistsException")


# -- Set semantics ---------------------------------------------------------------------------------------


def test_set_changes_only_given_parameters_and_replaces_lists(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN, SenderIPAddresses=["1.2.3.4", "5.6.7.0/24"], Comment="c")
    (before,) = exo.get("InboundConnector")
    exo.ok("Set-InboundConnector", Identity="Partner in", SenderIPAddresses=["9.9.9.9"])
    (after,) = exo.get("InboundConnector")
    assert after["SenderIPAddresses"] == ["9.9.9.9"]
    assert after["Comment"] == "c" and after["SenderDomains"] == before["SenderDomains"]
    assert after["WhenChanged"] > before["WhenChanged"] and after["WhenChangedUTC"] == after["WhenChanged"]
    assert after["WhenCreated"] == before["WhenCreated"]


def test_set_comment_null_reads_back_empty(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN, Comment="c")
    exo.ok("Set-InboundConnector", Identity="Partner in", Comment=None)
    assert exo.get("InboundConnector")[0]["Comment"] == ""


def test_set_and_remove_return_empty_value(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT)
    assert exo.ok("Set-OutboundConnector", Identity="Partner out", Comment="x") == []
    assert exo.ok("Remove-OutboundConnector", Identity="Partner out", Confirm=False) == []
    assert exo.get("OutboundConnector") == []


def test_whatif_changes_nothing(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN, WhatIf=True)
    assert exo.get("InboundConnector") == []


# -- parameters a cmdlet does not take -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmdlet", "params"),
    [
        ("Set-InboundConnector", {"Identity": "Partner in", "ClientHostNames": ["a.com"]}),
        ("New-OutboundConnector", {**OUT, "ValidationRecipients": ["a@fabrikam.com"]}),
        ("New-OutboundConnector", {**OUT, "IsValidated": True}),
        ("New-OutboundConnector", {**OUT, "LastValidationTimestamp": "2026-01-01T00:00:00Z"}),
        ("Set-OutboundConnector", {"Identity": "Partner out", "LinkForModifiedConnector": GUID}),
        ("New-InboundConnector", {**IN, "Identity": "x"}),
        ("New-InboundConnector", {**IN, "SmartHosts": ["a.com"]}),
        ("New-InboundConnector", {**IN, "NoSuchParameter": 1}),
        ("Get-InboundConnector", {"IncludeTestModeConnectors": True}),
        ("Remove-InboundConnector", {"Identity": "Partner in", "Comment": "x"}),
    ],
)  # fmt: skip
def test_parameters_the_cmdlet_does_not_take_are_rejected(
    exo: Any, cmdlet: str, params: dict[str, Any]
) -> None:
    exo.ok("New-InboundConnector", **IN)
    exo.ok("New-OutboundConnector", **OUT)
    code, kind, text = exo.fail(cmdlet, **params)
    # the live REST answer (tests/fixtures/rest/graph2otel.error.unknown-parameter.json): no error code
    assert (code, kind) == ("", UNKNOWN_PARAMETER)
    assert text.startswith("Parameter set cannot be resolved using the specified named parameters.")
    assert text.rpartition(" ")[2] in params  # names the parameter


def test_new_outbound_takes_link_for_modified_connector_and_set_takes_validation_fields(exo: Any) -> None:
    guid = "6f1c2a4e-8d0b-4c71-9a3e-0e5b7f1d2c90"
    exo.ok("New-OutboundConnector", **OUT, LinkForModifiedConnector=guid)
    exo.ok("Set-OutboundConnector", Identity="Partner out", ValidationRecipients=["a@fabrikam.com"],
           IsValidated=True, LastValidationTimestamp="2026-07-23T22:55:13")  # fmt: skip
    (read,) = exo.get("OutboundConnector")
    assert read["LinkForModifiedConnector"] == guid
    assert read["ValidationRecipients"] == ["a@fabrikam.com"] and read["IsValidated"] is True
    assert read["LastValidationTimestamp"] == "2026-07-23T22:55:13.0000000Z"


def test_missing_mandatory_parameters(exo: Any) -> None:
    _, kind, text = exo.fail("New-InboundConnector", Name="x")
    assert kind == BINDING and "SenderDomains" in text
    _, kind, text = exo.fail("Set-OutboundConnector", Comment="x")
    assert kind == BINDING and "Identity" in text
    _, kind, text = exo.fail("Validate-OutboundConnector", Identity="x")
    assert "Recipients" in text


def test_repeated_parameter_is_rejected(exo: Any) -> None:
    _, kind, text = exo.fail("New-InboundConnector", **IN, name="again")
    assert kind == BINDING and "more than once" in text


def test_unknown_cmdlet(exo: Any) -> None:
    _, kind, text = exo.fail("Get-Mailbox")
    assert kind == "System.Management.Automation.CommandNotFoundException" and "Get-Mailbox" in text


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("Enabled", "yes"),
        ("RequireTls", 1),
        ("SenderIPAddresses", [1, 2]),
        ("Comment", 5),
        ("ConnectorType", "Hybrid"),
        ("ConnectorSource", "AdminUI"),  # Get shows AdminUI, but it is not a value one can set
        ("Enabled", None),
    ],
)
def test_values_of_the_wrong_type_are_rejected(exo: Any, param: str, value: Any) -> None:
    _, kind, text = exo.fail("New-InboundConnector", **{**IN, param: value})
    assert kind == TRANSFORM and f"parameter '{param}'" in text


# -- value syntax ----------------------------------------------------------------------------------------

INBOUND_VALUES_OK: list[tuple[str, Any]] = [
    ("SenderDomains", ["*.contoso.com"]),
    ("SenderIPAddresses", ["203.0.113.5", "198.51.100.0/24", "198.51.100.7/32"]),
    ("EFSkipIPs", ["203.0.113.5", "203.0.113.10-203.0.113.20", "198.51.100.0/24", "2001:db8::/64"]),
    ("EFUsers", ["user@contoso.com"]),
    ("EFSkipLastIP", True),
    ("EFTestMode", True),
    ("EFSkipMailGateway", ["gateway"]),
    ("ScanAndDropRecipients", ["drop@contoso.com"]),
    ("TrustedOrganizations", ["fabrikam.onmicrosoft.com"]),
    ("ClientHostNames", ["mail.contoso.com"]),
    ("Comment", "text"),
    ("Enabled", False),
    ("RequireTls", False),
    ("ConnectorSource", "HybridWizard"),
    ("ConnectorSource", "Migrated"),
    ("TlsSenderCertificateName", "*.contoso.com"),
    ("AssociatedAcceptedDomains", ["contoso.onmicrosoft.com"]),
    # forms the service's types take (docs/emulator.md, "Read-back forms": IPRange, TlsCertificate)
    ("SenderIPAddresses", ["198.51.100.1-198.51.100.9"]),
    ("EFSkipIPs", ["2001:db8::25", "2001:db8::1-2001:db8::9"]),
    ("TlsSenderCertificateName", "<I>CN=R3, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"),
    ("Comment", "c" * 1024),
]


@pytest.mark.parametrize(("param", "value"), INBOUND_VALUES_OK)
def test_inbound_values_accepted(exo: Any, param: str, value: Any) -> None:
    exo.ok("New-InboundConnector", **{**IN, param: value})
    read = exo.get("InboundConnector")[0]
    assert read[param] == (value if param != "SenderDomains" else [f"smtp:{v};1" for v in value])


INBOUND_VALUES_BAD: list[tuple[str, Any, str]] = [
    ("SenderDomains", ["a.*.contoso.com"], "wildcard"),
    ("SenderDomains", ["contoso..com"], "SMTP domain"),
    ("SenderDomains", [], "SenderDomains"),
    ("SenderIPAddresses", ["2001:db8::1"], "IPv6"),
    ("SenderIPAddresses", ["198.51.100.0/23"], "/24"),
    ("SenderIPAddresses", ["not-an-ip"], "IPv4"),
    ("EFSkipIPs", ["10.1.2.3"], "private"),
    ("EFSkipIPs", ["192.168.0.0/16"], "private"),
    ("EFSkipIPs", ["172.20.0.1-172.20.0.9"], "private"),
    ("EFSkipIPs", ["40.107.1.1"], "Microsoft 365"),
    ("EFSkipIPs", ["203.0.113.9-203.0.113.1"], "range"),
    ("EFUsers", ["not an address"], "SMTP address"),
    ("TlsSenderCertificateName", "a.*.contoso.com", "wildcard"),
    ("TlsSenderCertificateName", "*", "'*' isn't allowed"),
    ("TlsSenderCertificateName", "<I>CN=R3<S>", "SMTP domain"),
    ("TrustedOrganizations", ["*"], "'*' isn't allowed"),
    ("Comment", "c" * 1025, "maximum length is 1024"),
    ("EFSkipIPs", ["52.102.7.1"], "Microsoft 365"),
    ("EFSkipIPs", ["2a01:111:f400::25"], "Microsoft 365"),
    ("EFSkipIPs", ["fd00::1"], "private"),
    ("TrustedOrganizations", ["bad domain"], "SMTP domain"),
    ("AssociatedAcceptedDomains", ["not-accepted.com"], "accepted domain"),
]


@pytest.mark.parametrize(("param", "value", "why"), INBOUND_VALUES_BAD)
def test_inbound_values_rejected(exo: Any, param: str, value: Any, why: str) -> None:
    _, kind, text = exo.fail("New-InboundConnector", **{**IN, param: value})
    assert kind in (TRANSFORM, INVALID, BINDING)
    assert why.casefold() in text.casefold()
    assert exo.get("InboundConnector") == []


OUTBOUND_VALUES_OK: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"RecipientDomains": ["*"]}, {"RecipientDomains": ["*"]}),
    ({"RecipientDomains": ["*.fabrikam.com"]}, {"RecipientDomains": ["*.fabrikam.com"]}),
    (
        {"UseMXRecord": False, "SmartHosts": ["mx.fabrikam.com", "203.0.113.5", "198.51.100.0/25"]},
        {"SmartHosts": ["mx.fabrikam.com", "[203.0.113.5]", "198.51.100.0/25"]},  # RoutingHost form
    ),
    (
        {"UseMXRecord": False, "SmartHosts": ["[203.0.113.5]", "2001:DB8::25", "relay_1.fabrikam.com"]},
        {"SmartHosts": ["[203.0.113.5]", "[2001:db8::25]", "relay_1.fabrikam.com"]},
    ),
    ({"Comment": "c" * 1024}, {}),
    ({"TlsSettings": "DomainValidation", "TlsDomain": "*.fabrikam.com"}, {}),
    ({"TlsSettings": "CertificateValidation"}, {}),
    ({"MtaStsMode": "None", "SmtpDaneMode": "Mandatory"}, {}),
    ({"SmtpDaneMode": "None"}, {}),
    ({"TestMode": True}, {}),
    ({"Enabled": False, "Comment": "c"}, {}),
    ({"ConnectorType": "OnPremises", "AllAcceptedDomains": True, "RecipientDomains": []}, {}),
    ({"ConnectorType": "OnPremises", "RouteAllMessagesViaOnPremises": True}, {}),
    ({"ConnectorType": "OnPremises", "SenderRewritingEnabled": True}, {}),
    ({"ConnectorType": "OnPremises", "CloudServicesMailEnabled": True}, {}),
    ({"RecipientDomains": [], "IsTransportRuleScoped": True}, {"IsTransportRuleScoped": True}),
]


@pytest.mark.parametrize(("extra", "expect"), OUTBOUND_VALUES_OK)
def test_outbound_values_accepted(exo: Any, extra: dict[str, Any], expect: dict[str, Any]) -> None:
    exo.ok("New-OutboundConnector", **{**OUT, **extra})
    (read,) = exo.get("OutboundConnector", IncludeTestModeConnectors=True)
    for key, value in {**extra, **expect}.items():
        assert read[key] == value


OUTBOUND_VALUES_BAD: list[tuple[dict[str, Any], str]] = [
    ({"RecipientDomains": ["a.*.fabrikam.com"]}, "wildcard"),
    ({"UseMXRecord": False}, "SmartHosts must be set"),
    ({"SmartHosts": ["mx.fabrikam.com"]}, "UseMXRecord is true"),
    ({"UseMXRecord": False, "SmartHosts": ["mx.fabrikam.com:25"]}, "port"),
    ({"UseMXRecord": False, "SmartHosts": ["*.fabrikam.com"]}, "FQDN"),
    ({"TlsDomain": "fabrikam.com"}, "DomainValidation"),
    ({"TlsSettings": "EncryptionOnly", "TlsDomain": "fabrikam.com"}, "DomainValidation"),
    ({"TlsSettings": "DomainValidation"}, "TlsDomain must be set"),
    ({"TlsSettings": "DomainValidation", "TlsDomain": "*"}, "'*' isn't allowed"),
    ({"UseMXRecord": False, "SmartHosts": ["[mx.fabrikam.com]"]}, "FQDN"),
    ({"UseMXRecord": False, "SmartHosts": ["[203.0.113.5]:25"]}, "port"),
    ({"Comment": "c" * 1025}, "maximum length is 1024"),
    ({"TlsSettings": "Opportunistic"}, "enumerator"),
    ({"MtaStsMode": "Mandatory"}, "enumerator"),
    ({"AllAcceptedDomains": True}, "OnPremises"),
    ({"RouteAllMessagesViaOnPremises": True}, "OnPremises"),
    ({"SenderRewritingEnabled": True}, "OnPremises"),
    ({"CloudServicesMailEnabled": True}, "OnPremises"),
    ({"IsTransportRuleScoped": True}, "IsTransportRuleScoped"),
    ({"RecipientDomains": []}, "RecipientDomains must be set"),
    ({"LinkForModifiedConnector": "not-a-guid"}, "System.Guid"),
]


@pytest.mark.parametrize(("extra", "why"), OUTBOUND_VALUES_BAD)
def test_outbound_values_rejected(exo: Any, extra: dict[str, Any], why: str) -> None:
    _, _, text = exo.fail("New-OutboundConnector", **{**OUT, **extra})
    assert why.casefold() in text.casefold()
    assert exo.get("OutboundConnector", IncludeTestModeConnectors=True) == []


# -- inbound cross-field rules (docs/emulator.md, "Cmdlets and their rules") ---------------------------

ONPREM = {"ConnectorType": "OnPremises", "SenderIPAddresses": ["203.0.113.5"]}


@pytest.mark.parametrize(
    "extra",
    [
        {**ONPREM, "TreatMessagesAsInternal": True},
        {**ONPREM, "CloudServicesMailEnabled": True},
        {"ConnectorType": "OnPremises", "TlsSenderCertificateName": "mail.contoso.com"},
        {"RestrictDomainsToIPAddresses": True, "SenderIPAddresses": ["203.0.113.5"]},
        {"RestrictDomainsToCertificate": True, "TlsSenderCertificateName": "mail.contoso.com"},
        {"RequireTls": True, "TlsSenderCertificateName": "mail.contoso.com"},
    ],
)
def test_inbound_rules_accepted(exo: Any, extra: dict[str, Any]) -> None:
    exo.ok("New-InboundConnector", **{**IN, **extra})


@pytest.mark.parametrize(
    ("extra", "why"),
    [
        ({"TreatMessagesAsInternal": True}, "OnPremises"),
        (
            {**ONPREM, "TreatMessagesAsInternal": True, "CloudServicesMailEnabled": True},
            "CloudServicesMailEnabled",
        ),
        ({"CloudServicesMailEnabled": True}, "OnPremises"),
        ({"ConnectorType": "OnPremises"}, "SenderIPAddresses or TlsSenderCertificateName"),
        ({"RequireTls": False, "TlsSenderCertificateName": "mail.contoso.com"}, "RequireTls"),
        ({"RestrictDomainsToIPAddresses": True}, "requires SenderIPAddresses"),
        ({"RestrictDomainsToCertificate": True}, "requires TlsSenderCertificateName"),
        (
            {
                "RestrictDomainsToIPAddresses": True,
                "RestrictDomainsToCertificate": True,
                "SenderIPAddresses": ["203.0.113.5"],
                "TlsSenderCertificateName": "mail.contoso.com",
            },
            "both",
        ),
    ],
)
def test_inbound_rules_rejected(exo: Any, extra: dict[str, Any], why: str) -> None:
    code, kind, text = exo.fail("New-InboundConnector", **{**IN, **extra})
    assert kind == INVALID and code.startswith("Ex") and len(code) == 8
    assert why.casefold() in text.casefold()


def test_set_is_checked_against_the_whole_object(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN, SenderIPAddresses=["203.0.113.5"], RestrictDomainsToIPAddresses=True)
    exo.fail("Set-InboundConnector", Identity="Partner in", SenderIPAddresses=[])
    exo.ok("New-OutboundConnector", **OUT, UseMXRecord=False, SmartHosts=["mx.fabrikam.com"])
    exo.fail("Set-OutboundConnector", Identity="Partner out", SmartHosts=[])
    exo.ok("Set-OutboundConnector", Identity="Partner out", UseMXRecord=True, SmartHosts=[])
    assert exo.get("OutboundConnector")[0]["UseMXRecord"] is True


# -- Get-OutboundConnector filters, ResultSize -----------------------------------------------------------


def test_test_mode_connectors_are_hidden_with_a_warning(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT)
    exo.ok("New-OutboundConnector", Name="trial", RecipientDomains=["b.com"], TestMode=True)
    response = exo.post("Get-OutboundConnector")
    body = response.json()
    assert [c["Name"] for c in body["value"]] == ["Partner out"]
    assert any("test mode connector" in w for w in body["@adminapi.warnings"])
    everything = exo.post("Get-OutboundConnector", {"IncludeTestModeConnectors": True}).json()
    assert [c["Name"] for c in everything["value"]] == ["Partner out", "trial"]
    assert "@adminapi.warnings" not in everything
    assert exo.ok("Get-OutboundConnector", Identity="trial")[0]["TestMode"] is True


def test_the_flag_can_list_only_test_mode_connectors(exo_for: Any) -> None:
    """The other reading of -IncludeTestModeConnectors:$true (UNCONFIRMED which the service does)."""
    exo = exo_for(Emulator(stores=MemoryStores(), config=EmulatorConfig(test_mode_flag="only")))
    exo.ok("New-OutboundConnector", **OUT)
    exo.ok("New-OutboundConnector", Name="trial", RecipientDomains=["b.com"], TestMode=True)
    assert [c["Name"] for c in exo.get("OutboundConnector", IncludeTestModeConnectors=True)] == ["trial"]
    assert [c["Name"] for c in exo.get("OutboundConnector")] == ["Partner out"]


def test_no_warning_without_test_mode_connectors(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT)
    assert "@adminapi.warnings" not in exo.post("Get-OutboundConnector").json()


def test_is_transport_rule_scoped_filter(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT)
    exo.ok("New-OutboundConnector", Name="scoped", IsTransportRuleScoped=True)
    assert [c["Name"] for c in exo.get("OutboundConnector", IsTransportRuleScoped=True)] == ["scoped"]
    assert [c["Name"] for c in exo.get("OutboundConnector", IsTransportRuleScoped=False)] == ["Partner out"]
    assert len(exo.get("OutboundConnector")) == 2


def test_result_size_defaults_to_1000_and_warns_when_truncating(seeded: Any) -> None:
    exo = seeded(
        {"InboundConnector": [{"Name": f"c{i:04d}", "SenderDomains": ["a.com"]} for i in range(1003)]}
    )
    body = exo.post("Get-InboundConnector").json()
    assert len(body["value"]) == 1000 and "@odata.nextLink" not in body
    assert any("ResultSize" in w for w in body["@adminapi.warnings"])
    body = exo.post("Get-InboundConnector", {"ResultSize": "Unlimited"}).json()
    assert len(body["value"]) == 1000 and "@odata.nextLink" in body  # the rest is on page 2
    assert len(exo.get("InboundConnector", ResultSize=5)) == 5
    _, kind, _ = exo.fail("Get-InboundConnector", ResultSize=0)
    assert kind == TRANSFORM


# -- Validate-OutboundConnector, Get-AcceptedDomain ------------------------------------------------------


def test_validate_outbound_connector_records_the_result(exo: Any) -> None:
    exo.ok(
        "New-OutboundConnector", **OUT, UseMXRecord=False, SmartHosts=["mx1.fabrikam.com", "mx2.fabrikam.com"]
    )
    results = exo.ok("Validate-OutboundConnector", Identity="Partner out", Recipients=["a@fabrikam.com"])
    assert [(r["SmartHost"], r["Status"]) for r in results] == [
        ("mx1.fabrikam.com", "Succeeded"),
        ("mx2.fabrikam.com", "Succeeded"),
    ]
    (read,) = exo.get("OutboundConnector")
    assert read["IsValidated"] is True and DATE.match(read["LastValidationTimestamp"])
    assert read["ValidationRecipients"] == ["a@fabrikam.com"]


def test_validate_fails_for_an_unreachable_smart_host(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT, UseMXRecord=False, SmartHosts=["mx.fabrikam.invalid"])
    (result,) = exo.ok("Validate-OutboundConnector", Identity="Partner out", Recipients=["a@fabrikam.com"])
    assert result["Status"] == "Failed"
    assert exo.get("OutboundConnector")[0]["IsValidated"] is False


def test_accepted_domains_include_the_initial_domain_and_seeded_ones(seeded: Any) -> None:
    exo = seeded({"AcceptedDomain": [{"DomainName": "contoso.com"}]})
    domains = exo.get("AcceptedDomain")
    assert [d["DomainName"] for d in domains] == ["contoso.onmicrosoft.com", "contoso.com"]
    assert domains[0]["InitialDomain"] is True and domains[1]["DomainType"] == "Authoritative"
    exo.ok("New-InboundConnector", **IN, AssociatedAcceptedDomains=["Contoso.com"])


def test_associated_accepted_domains_read_back_as_the_accepted_domains_object_name(seeded: Any) -> None:
    exo = seeded({"AcceptedDomain": [{"Name": "Contoso main", "DomainName": "contoso.com"}]})
    exo.ok("New-InboundConnector", **IN, AssociatedAcceptedDomains=["contoso.com"])
    (read,) = exo.get("InboundConnector")
    assert read["AssociatedAcceptedDomains"] == ["Contoso main"]  # the link renders the object's Name
    exo.ok("Set-InboundConnector", Identity="Partner in", AssociatedAcceptedDomains=["CONTOSO MAIN"])
    assert exo.get("InboundConnector")[0]["AssociatedAcceptedDomains"] == ["Contoso main"]


# -- read-back forms (docs/emulator.md, "Read-back forms") -------------------------------------------------


def test_ip_smart_hosts_read_back_bracketed_whatever_form_was_sent(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT, UseMXRecord=False, SmartHosts=["192.0.2.25"])
    assert exo.get("OutboundConnector")[0]["SmartHosts"] == ["[192.0.2.25]"]
    exo.ok("Set-OutboundConnector", Identity="Partner out", SmartHosts=["[192.0.2.25]", "2001:db8::25"])
    assert exo.get("OutboundConnector")[0]["SmartHosts"] == ["[192.0.2.25]", "[2001:db8::25]"]


def test_seeded_ip_smart_hosts_are_rendered_too(seeded: Any) -> None:
    exo = seeded({"OutboundConnector": [{**OUT, "UseMXRecord": False, "SmartHosts": ["192.0.2.25"]}]})
    assert exo.get("OutboundConnector")[0]["SmartHosts"] == ["[192.0.2.25]"]


def test_cidr_blocks_read_back_masked_to_the_network_address(exo: Any) -> None:
    exo.ok("New-InboundConnector", **IN, SenderIPAddresses=["198.51.100.77/24"], EFSkipIPs=["203.0.113.9/28"])
    (read,) = exo.get("InboundConnector")
    assert read["SenderIPAddresses"] == ["198.51.100.0/24"] and read["EFSkipIPs"] == ["203.0.113.0/28"]


def test_an_invalid_enum_value_names_the_services_type_in_the_live_error_shape(exo: Any) -> None:
    response = exo.post("New-OutboundConnector", {**OUT, "TlsSettings": "Strict"})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"] == "Invalid Operation" and "details" not in error  # as the live capture
    internal = error["innererror"]["internalexception"]
    assert internal["type"] == TRANSFORM
    assert 'to type "Microsoft.Exchange.Data.TlsAuthLevel"' in internal["message"]
    assert "EncryptionOnly, CertificateValidation, DomainValidation" in internal["message"]


def test_set_may_empty_sender_domains_new_may_not(exo: Any) -> None:
    _, kind, _ = exo.fail("New-InboundConnector", Name="x", SenderDomains=[])
    assert kind == BINDING
    exo.ok("New-InboundConnector", **IN)
    exo.ok("Set-InboundConnector", Identity="Partner in", SenderDomains=[])
    assert exo.get("InboundConnector")[0]["SenderDomains"] == []


# -- an older or smaller service (docs/emulator.md, "An older service") ------------------------------------


@pytest.fixture
def older(exo_for: Any) -> Any:
    return exo_for(Emulator(stores=MemoryStores(), config=EmulatorConfig(service="older")))


@pytest.mark.parametrize("cmdlet", ["New-OutboundConnector", "Set-OutboundConnector"])
@pytest.mark.parametrize("param", ["MtaStsMode", "SmtpDaneMode"])
def test_older_service_refuses_mta_sts_and_dane_as_unknown_parameters(
    older: Any, cmdlet: str, param: str
) -> None:
    older.ok("New-OutboundConnector", **{**OUT, "Name": "existing"})
    params = (
        {**OUT, param: "Opportunistic"}
        if cmdlet.startswith("New")
        else {"Identity": "existing", param: "None"}
    )
    code, kind, text = older.fail(cmdlet, **params)
    assert (code, kind) == ("", UNKNOWN_PARAMETER) and text.endswith(param)


def test_older_service_does_not_return_the_properties_and_refuses_them_in_select(older: Any) -> None:
    older.ok("New-OutboundConnector", **OUT)
    (read,) = older.get("OutboundConnector")
    assert "MtaStsMode" not in read and "SmtpDaneMode" not in read and read["Name"] == "Partner out"
    response = older.post("Get-OutboundConnector", url=f"{older.url}?$select=Name,MtaStsMode")
    assert response.status_code == 400
    assert "Could not find a property named 'MtaStsMode'" in response.text
    fine = older.post("Get-OutboundConnector", url=f"{older.url}?$select=Name,TlsSettings")
    assert fine.json()["value"] == [{"TlsSettings": None, "Name": "Partner out"}]


def test_current_service_knows_mta_sts_in_select(exo: Any) -> None:
    exo.ok("New-OutboundConnector", **OUT)
    response = exo.post("Get-OutboundConnector", url=f"{exo.url}?$select=Name,MtaStsMode")
    assert response.json()["value"] == [{"Name": "Partner out", "MtaStsMode": "Opportunistic"}]
