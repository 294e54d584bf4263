"""The connector models: every service rule accepted and rejected, defaults, normalization, live form."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.model import (
    FIELDS,
    MODELS,
    PARAMETERS,
    InboundConnector,
    Kind,
    OutboundConnector,
    from_live,
    rule_violations,
)

INBOUND: dict[str, Any] = {
    "name": "Inbound from Fabrikam",
    "connector_type": "Partner",
    "sender_domains": ["fabrikam.com"],
}
OUTBOUND: dict[str, Any] = {
    "name": "Outbound to Fabrikam",
    "connector_type": "Partner",
    "recipient_domains": ["fabrikam.com"],
}
ON_PREM_IN: dict[str, Any] = {**INBOUND, "connector_type": "OnPremises", "sender_ip_addresses": ["192.0.2.1"]}
ON_PREM_OUT: dict[str, Any] = {**OUTBOUND, "connector_type": "OnPremises"}
SMART: dict[str, Any] = {"use_mx_record": False, "smart_hosts": ["mail.fabrikam.com"]}

# (kind, fields, field blamed or None when accepted, message fragment)
RULE_CASES: list[tuple[Kind, dict[str, Any], str | None, str]] = [
    ("InboundConnector", INBOUND, None, ""),
    ("InboundConnector", {**INBOUND, "sender_domains": []}, "sender_domains", "at least one domain"),
    ("InboundConnector", {**ON_PREM_IN, "treat_messages_as_internal": True}, None, ""),
    (
        "InboundConnector",
        {**INBOUND, "treat_messages_as_internal": True},
        "treat_messages_as_internal",
        "needs connector_type OnPremises",
    ),
    (
        "InboundConnector",
        {**ON_PREM_IN, "treat_messages_as_internal": True, "cloud_services_mail_enabled": True},
        "treat_messages_as_internal",
        "cannot be true when cloud_services_mail_enabled",
    ),
    ("InboundConnector", {**ON_PREM_IN, "cloud_services_mail_enabled": True}, None, ""),
    (
        "InboundConnector",
        {**INBOUND, "cloud_services_mail_enabled": True},
        "cloud_services_mail_enabled",
        "needs connector_type OnPremises",
    ),
    (
        "InboundConnector",
        {**INBOUND, "connector_type": "OnPremises"},
        "connector_type",
        "needs sender_ip_addresses or tls_sender_certificate_name",
    ),
    (
        "InboundConnector",
        {**INBOUND, "connector_type": "OnPremises", "tls_sender_certificate_name": "mail.contoso.com"},
        None,
        "",
    ),
    (
        "InboundConnector",
        {**INBOUND, "tls_sender_certificate_name": "mail.fabrikam.com", "require_tls": False},
        "tls_sender_certificate_name",
        "needs require_tls true",
    ),
    (
        "InboundConnector",
        {**INBOUND, "restrict_domains_to_ip_addresses": True, "sender_ip_addresses": ["192.0.2.0/24"]},
        None,
        "",
    ),
    (
        "InboundConnector",
        {**INBOUND, "restrict_domains_to_ip_addresses": True},
        "restrict_domains_to_ip_addresses",
        "needs sender_ip_addresses",
    ),
    (
        "InboundConnector",
        {
            **INBOUND,
            "restrict_domains_to_ip_addresses": True,
            "sender_ip_addresses": ["192.0.2.0/24"],
            "restrict_domains_to_certificate": True,
            "tls_sender_certificate_name": "mail.fabrikam.com",
        },
        "restrict_domains_to_certificate",
        "cannot both be true",
    ),
    (
        "InboundConnector",
        {**INBOUND, "restrict_domains_to_certificate": True, "tls_sender_certificate_name": "*.fabrikam.com"},
        None,
        "",
    ),
    (
        "InboundConnector",
        {**INBOUND, "restrict_domains_to_certificate": True},
        "restrict_domains_to_certificate",
        "needs tls_sender_certificate_name",
    ),
    ("OutboundConnector", OUTBOUND, None, ""),
    ("OutboundConnector", {**ON_PREM_OUT, "all_accepted_domains": True, "recipient_domains": []}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "all_accepted_domains": True},
        "all_accepted_domains",
        "needs connector_type OnPremises",
    ),
    ("OutboundConnector", {**ON_PREM_OUT, "route_all_messages_via_on_premises": True}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "route_all_messages_via_on_premises": True},
        "route_all_messages_via_on_premises",
        "needs connector_type OnPremises",
    ),
    ("OutboundConnector", {**ON_PREM_OUT, "sender_rewriting_enabled": True}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "sender_rewriting_enabled": True},
        "sender_rewriting_enabled",
        "needs connector_type OnPremises",
    ),
    ("OutboundConnector", {**ON_PREM_OUT, "cloud_services_mail_enabled": True}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "cloud_services_mail_enabled": True},
        "cloud_services_mail_enabled",
        "needs connector_type OnPremises",
    ),
    ("OutboundConnector", {**OUTBOUND, **SMART}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "smart_hosts": ["mail.fabrikam.com"]},
        "smart_hosts",
        "cannot be set when use_mx_record is true",
    ),
    ("OutboundConnector", {**OUTBOUND, "use_mx_record": False}, "use_mx_record", "needs at least one entry"),
    (
        "OutboundConnector",
        {**OUTBOUND, **SMART, "tls_settings": "DomainValidation", "tls_domain": "mail.fabrikam.com"},
        None,
        "",
    ),
    (
        "OutboundConnector",
        {**OUTBOUND, "tls_settings": "CertificateValidation", "tls_domain": "mail.fabrikam.com"},
        "tls_domain",
        "only allowed with tls_settings DomainValidation",
    ),
    (
        "OutboundConnector",
        {**OUTBOUND, "tls_settings": "DomainValidation"},
        "tls_settings",
        "DomainValidation needs tls_domain",
    ),
    ("OutboundConnector", {**OUTBOUND, "recipient_domains": [], "is_transport_rule_scoped": True}, None, ""),
    (
        "OutboundConnector",
        {**OUTBOUND, "is_transport_rule_scoped": True},
        "is_transport_rule_scoped",
        "has no recipient_domains",
    ),
    (
        "OutboundConnector",
        {**OUTBOUND, "recipient_domains": []},
        "recipient_domains",
        "set recipient_domains or all_accepted_domains",
    ),
]


@pytest.mark.parametrize(("kind", "fields", "blamed", "message"), RULE_CASES)
def test_cross_field_rules(kind: Kind, fields: dict[str, Any], blamed: str | None, message: str) -> None:
    model = MODELS[kind]
    lenient = model.model_validate(fields, context={"skip_rules": True})
    violations = rule_violations(lenient)
    if blamed is None:
        assert violations == []
        model.model_validate(fields)  # the rules hold
        return
    assert [(f, m) for f, m in violations if f == blamed and message in m], violations
    with pytest.raises(ValidationError, match=message):
        model.model_validate(fields)


# (kind, field, accepted value, rejected value, message fragment)
FIELD_CASES: list[tuple[Kind, str, Any, Any, str]] = [
    ("InboundConnector", "name", "x" * 64, "x" * 65, "at most 64 characters"),
    ("InboundConnector", "name", "a", "", "at least 1 character"),
    ("InboundConnector", "sender_ip_addresses", ["192.0.2.0/24"], ["192.0.2.0/23"], "/24 to /32"),
    ("InboundConnector", "sender_ip_addresses", ["192.0.2.1"], ["2001:db8::1"], "only IPv4"),
    ("InboundConnector", "ef_skip_ips", ["192.0.2.1-192.0.2.9"], ["10.0.0.1"], "private"),
    ("InboundConnector", "ef_skip_ips", ["203.0.113.0/24"], ["192.168.1.0/24"], "private"),
    ("InboundConnector", "sender_domains", ["*.fabrikam.com"], ["a.*.fabrikam.com"], "leading '*.'"),
    ("InboundConnector", "tls_sender_certificate_name", "*.fabrikam.com", "*", "not allowed here"),
    ("InboundConnector", "ef_users", ["a@contoso.com"], ["not-an-address"], "not an email address"),
    ("InboundConnector", "associated_accepted_domains", ["contoso.com"], ["*"], "not allowed here"),
    ("InboundConnector", "connector_type", "onpremises", "Internal", "'Partner' or 'OnPremises'"),
    ("InboundConnector", "require_tls", False, "yes", "valid boolean"),
    ("InboundConnector", "comment", "text", 5, "valid string"),
    ("InboundConnector", "ignore_fields", ["comment"], ["comet"], "did you mean 'comment'"),
    ("InboundConnector", "ignore_fields", ["ef_users"], ["name"], "identifies the connector"),
    ("InboundConnector", "ignore_fields", ["ef_users"], ["smart_hosts"], "not a field of InboundConnector"),
    ("InboundConnector", "renamed_from", ["Old name"], ["y" * 65], "at most 64 characters"),
    (
        "InboundConnector",
        "skip_checks",
        [{"rule": "EXO-1", "reason": "x"}],
        [{"rule": "EXO-1"}],
        "Field required",
    ),
    ("OutboundConnector", "recipient_domains", ["*"], ["bad domain"], "not a valid domain"),
    ("OutboundConnector", "smart_hosts", ["192.0.2.0/25"], ["mail.fabrikam.com:25"], "cannot carry a port"),
    ("OutboundConnector", "tls_settings", "encryptiononly", "Strict", "'EncryptionOnly'"),
    ("OutboundConnector", "mta_sts_mode", "None", "Mandatory", "'Opportunistic' or 'None'"),
    ("OutboundConnector", "smtp_dane_mode", "Mandatory", "Always", "'Mandatory'"),
    ("OutboundConnector", "tls_domain", None, "*.*.fabrikam.com", "leading '*.'"),
    ("OutboundConnector", "validation_recipients", ["a@fabrikam.com"], ["@fabrikam.com"], "email address"),
]


@pytest.mark.parametrize(("kind", "field", "good", "bad", "message"), FIELD_CASES)
def test_field_values(kind: Kind, field: str, good: Any, bad: Any, message: str) -> None:
    base = INBOUND if kind == "InboundConnector" else OUTBOUND
    model = MODELS[kind]
    model.model_validate({**base, field: good}, context={"skip_rules": True})
    with pytest.raises(ValidationError, match=re.escape(message)):
        model.model_validate({**base, field: bad}, context={"skip_rules": True})


def test_unknown_field_rejected() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        InboundConnector.model_validate({**INBOUND, "sender_ips": ["192.0.2.1"]})


def test_defaults_are_the_documented_ones() -> None:
    inbound = InboundConnector.model_validate(INBOUND)
    assert inbound.enabled is True
    assert inbound.require_tls is True
    assert inbound.ef_skip_last_ip is False
    assert inbound.treat_messages_as_internal is False
    assert inbound.tls_sender_certificate_name is None
    outbound = OutboundConnector.model_validate(OUTBOUND)
    assert outbound.use_mx_record is True
    assert outbound.tls_settings is None
    assert outbound.mta_sts_mode == "Opportunistic"
    assert outbound.smtp_dane_mode == "Opportunistic"
    assert outbound.test_mode is False


def test_normalized_values_compare_equal() -> None:
    written = InboundConnector.model_validate(
        {
            **INBOUND,
            "sender_domains": ["Fabrikam.COM", "*.Woodgrove.example", "fabrikam.com"],
            "sender_ip_addresses": ["198.51.100.7/32", "192.0.2.77/24"],
            "connector_type": "partner",
            "tls_sender_certificate_name": "",
        }
    )
    assert written.sender_domains == ["*.woodgrove.example", "fabrikam.com"]
    assert written.sender_ip_addresses == ["192.0.2.0/24", "198.51.100.7"]
    assert written.connector_type == "Partner"
    assert written.tls_sender_certificate_name is None
    again = InboundConnector.model_validate(written.model_dump())
    assert again.managed_fields() == written.managed_fields()


def test_live_wire_form_equals_yaml_form() -> None:
    desired = InboundConnector.model_validate({**INBOUND, "sender_domains": ["*", "fabrikam.com"]})
    live = from_live(
        "InboundConnector",
        {
            "Name": "Inbound from Fabrikam",
            "ConnectorType": "Partner",
            "SenderDomains": ["smtp:fabrikam.com;1", "smtp:*;1"],
            "Comment": None,
            "SenderIPAddresses": None,
            "ConnectorSource": "AdminUI",
            "EFTestMode": False,
            "WhenChangedUTC": "2026-07-23T22:55:13.0000000Z",
        },
    )
    assert live.managed_fields() == desired.managed_fields()


def test_live_state_breaking_rules_is_still_read() -> None:
    live = from_live(
        "OutboundConnector",
        {"Name": "Old", "ConnectorType": "Partner", "UseMXRecord": False, "SmartHosts": []},
    )
    assert (
        "use_mx_record",
        "use_mx_record false needs at least one entry in smart_hosts",
    ) in rule_violations(live)


def test_live_property_names_are_read_in_any_case_and_unknown_ones_ignored() -> None:
    live = from_live(
        "OutboundConnector",
        {
            "name": "Out",
            "CONNECTORTYPE": "Partner",
            "recipientDomains": ["Fabrikam.com"],
            "Guid": "0d5e6f7a-0000-0000-0000-000000000001",
            "IsValidated": True,
            "SomethingNew": {"added": "by the service"},
        },
    )
    assert (live.name, live.connector_type, live.recipient_domains) == ("Out", "Partner", ["fabrikam.com"])
    assert live.use_mx_record is True  # not returned: the default


def test_live_empty_values_in_the_service_form_read_as_the_model_form() -> None:
    live = from_live(
        "InboundConnector",
        {
            "Name": "In",
            "ConnectorType": "Partner",
            "SenderDomains": "smtp:fabrikam.com;1",
            "SenderIPAddresses": None,
            "EFUsers": "Postmaster@Fabrikam.com",
            "Comment": None,
            "TlsSenderCertificateName": "",
        },
    )
    assert live.sender_domains == ["fabrikam.com"]
    assert live.sender_ip_addresses == []
    assert live.ef_users == ["postmaster@fabrikam.com"]
    assert live.comment == ""
    assert live.tls_sender_certificate_name is None


@pytest.mark.parametrize("domains", [None, "absent"])
def test_live_connector_without_sender_domains_is_read_and_breaks_the_rule(domains: Any) -> None:
    obj: dict[str, Any] = {"Name": "In", "ConnectorType": "Partner"}
    if domains != "absent":
        obj["SenderDomains"] = domains
    live = from_live("InboundConnector", obj)
    assert live.sender_domains == []
    assert [field for field, _ in rule_violations(live)] == ["sender_domains"]


def test_the_blank_sender_domain_reads_as_the_empty_entry_a_file_can_write() -> None:
    """``smtp:;1`` (how the service stores an empty entry) is the entry ``""``, in a file or read live."""
    live = from_live(
        "InboundConnector", {"Name": "In", "ConnectorType": "Partner", "SenderDomains": [" smtp:;1 "]}
    )
    assert live.sender_domains == [""] and rule_violations(live) == []
    written = InboundConnector.model_validate({**INBOUND, "sender_domains": ["", "smtp:;1"]})
    assert written.sender_domains == [""]


def test_live_values_exoform_would_refuse_are_kept_as_the_service_holds_them() -> None:
    obj = {
        "Name": "In",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:a.com;1"],
        "EFSkipIPs": ["10.0.0.1 "],
    }
    assert from_live("InboundConnector", obj).ef_skip_ips == ["10.0.0.1"]
    with pytest.raises(ValidationError, match="private"):
        InboundConnector.model_validate({**INBOUND, "ef_skip_ips": ["10.0.0.1"]})


@pytest.mark.parametrize(
    ("kind", "obj", "where"),
    [
        ("InboundConnector", {"ConnectorType": "Partner", "SenderDomains": []}, ("name",)),
        (
            "InboundConnector",
            {"Name": "In", "ConnectorType": "Partner", "SenderDomains": 5},
            ("sender_domains",),
        ),
        (
            "InboundConnector",
            {"Name": "In", "ConnectorType": "Partner", "SenderDomains": [7]},
            ("sender_domains", 0),
        ),
        (
            "OutboundConnector",
            {"Name": "Out", "ConnectorType": "Partner", "UseMXRecord": "yes"},
            ("use_mx_record",),
        ),
        ("OutboundConnector", {"Name": "Out", "ConnectorType": "Internal"}, ("connector_type",)),
    ],
)
def test_live_value_that_cannot_be_read_is_a_validation_error_at_its_field(
    kind: Kind, obj: dict[str, Any], where: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as caught:
        from_live(kind, obj)
    assert caught.value.errors()[0]["loc"] == where


def test_live_reading_applies_only_under_the_live_context() -> None:
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        InboundConnector.model_validate(
            {"Name": "In", "ConnectorType": "Partner", "SenderDomains": ["a.com"]}
        )


@pytest.mark.parametrize(
    ("kind", "field", "parameter"),
    [
        ("InboundConnector", "sender_ip_addresses", "SenderIPAddresses"),
        ("InboundConnector", "ef_skip_ips", "EFSkipIPs"),
        ("InboundConnector", "tls_sender_certificate_name", "TlsSenderCertificateName"),
        ("OutboundConnector", "use_mx_record", "UseMXRecord"),
        ("OutboundConnector", "smart_hosts", "SmartHosts"),
    ],
)
def test_field_names_are_snake_case_of_parameters(kind: Kind, field: str, parameter: str) -> None:
    assert PARAMETERS[kind][field] == parameter


def test_service_owned_fields_are_not_desired_state() -> None:
    every = {f for specs in FIELDS.values() for f in specs}
    assert not every & {"connector_source", "is_validated", "last_validation_timestamp", "ef_test_mode"}
    assert "renamed_from" not in every and "kind" not in every
    assert FIELDS["InboundConnector"]["client_host_names"].create_only
    assert FIELDS["OutboundConnector"]["validation_recipients"].set_only


def test_a_copy_compares_with_its_own_values() -> None:
    """managed_fields() is cached per model; a copy with changes must not keep the original's values."""
    original = OutboundConnector.model_validate(
        {"name": "o", "connector_type": "Partner", "recipient_domains": ["*"]}
    )
    assert original.managed_fields()["recipient_domains"] == ["*"]
    copy = original.model_copy(update={"recipient_domains": ["contoso.com"]})
    assert copy.managed_fields()["recipient_domains"] == ["contoso.com"]
    assert original.managed_fields()["recipient_domains"] == ["*"]


# -- what the service returns, read and written back (issue 13) ------------------------------------------


@pytest.mark.parametrize(
    ("desired", "read_back"),
    [
        (["192.0.2.25"], ["[192.0.2.25]"]),
        (["2001:db8::25"], ["[2001:DB8::25]"]),
        (["[2001:db8::25]", "relay_1.fabrikam.com"], ["[2001:db8::25]", "Relay_1.Fabrikam.com"]),
    ],
)
def test_smart_hosts_as_written_equal_their_read_back_form(desired: list[str], read_back: list[str]) -> None:
    written = OutboundConnector.model_validate({**OUTBOUND, "use_mx_record": False, "smart_hosts": desired})
    live = from_live(
        "OutboundConnector",
        {"Name": OUTBOUND["name"], "ConnectorType": "Partner", "RecipientDomains": ["fabrikam.com"],
         "UseMXRecord": False, "SmartHosts": read_back},
    )  # fmt: skip
    assert written.managed_fields() == live.managed_fields()
    # and the read-back form is a valid file value (export writes it, validate takes it)
    assert (
        OutboundConnector.model_validate(
            {**OUTBOUND, "use_mx_record": False, "smart_hosts": read_back}
        ).smart_hosts
        == written.smart_hosts
    )


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("InboundConnector", "tls_sender_certificate_name",
         "<I>CN=R3, O=Let's Encrypt, C=US<S>CN=mail.contoso.com"),
        ("InboundConnector", "ef_skip_ips", ["2001:db8::25", "2001:db8:1::/48", "2001:db8::1-2001:db8::9"]),
        ("InboundConnector", "sender_ip_addresses", ["192.0.2.1-192.0.2.20"]),
        ("OutboundConnector", "comment", "c" * 1024),
    ],
)  # fmt: skip
def test_forms_the_services_types_allow_are_valid_file_values(kind: Kind, field: str, value: Any) -> None:
    base = INBOUND if kind == "InboundConnector" else OUTBOUND
    extra = {"require_tls": True} if field == "tls_sender_certificate_name" else {}
    connector = MODELS[kind].model_validate({**base, **extra, field: value})
    again = MODELS[kind].model_validate(connector.model_dump())
    assert again.managed_fields() == connector.managed_fields()


@pytest.mark.parametrize(
    ("kind", "field", "value", "message"),
    [
        ("OutboundConnector", "comment", "c" * 1025, "at most 1024 characters"),
        ("OutboundConnector", "tls_domain", "*", "'*' (all domains) is not allowed"),
        ("InboundConnector", "tls_sender_certificate_name", "*", "'*' (all domains) is not allowed"),
        ("InboundConnector", "tls_sender_certificate_name", "<I>CN=R3<S>", "<I>issuer<S>subject"),
        ("InboundConnector", "ef_skip_ips", ["40.107.12.0/24"], "Microsoft 365's own mail ranges"),
        ("InboundConnector", "ef_skip_ips", ["52.102.1.1"], "Microsoft 365's own mail ranges"),
        ("InboundConnector", "ef_skip_ips", ["2a01:111:f403::25"], "Microsoft 365's own mail ranges"),
        ("InboundConnector", "ef_skip_ips", ["fd00::25"], "private"),
        ("InboundConnector", "sender_ip_addresses", ["192.0.2.20-192.0.2.1"], "ends before it starts"),
        ("OutboundConnector", "smart_hosts", ["[mail.fabrikam.com]"], "only an IP address may stand in"),
    ],
)  # fmt: skip
def test_limits_and_refusals_of_the_service(kind: Kind, field: str, value: Any, message: str) -> None:
    base = INBOUND if kind == "InboundConnector" else OUTBOUND
    if field == "smart_hosts":
        base = {**base, "use_mx_record": False}
    with pytest.raises(ValidationError, match=re.escape(message)):
        MODELS[kind].model_validate({**base, field: value})


def test_validation_recipients_are_service_owned_unless_a_file_sets_them() -> None:
    plain = OutboundConnector.model_validate(OUTBOUND)
    assert plain.validation_recipients is None
    assert plain.unset_service_owned() == {"validation_recipients"}
    managed = OutboundConnector.model_validate({**OUTBOUND, "validation_recipients": ["A@Fabrikam.com"]})
    assert managed.validation_recipients == ["a@fabrikam.com"] and managed.unset_service_owned() == set()
    emptied = OutboundConnector.model_validate({**OUTBOUND, "validation_recipients": []})
    assert emptied.unset_service_owned() == set()  # explicitly empty: managed, and written as empty
    live = from_live(
        "OutboundConnector",
        {
            "Name": "Out",
            "ConnectorType": "Partner",
            "RecipientDomains": ["a.com"],
            "ValidationRecipients": None,
        },
    )
    assert live.validation_recipients == []
    assert FIELDS["OutboundConnector"]["validation_recipients"].service_owned
