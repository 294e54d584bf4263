"""Differential test: the client's validation and the emulator's ``New-*`` accept exactly the same
connectors, and agree on every default and read-back form.

The two sides are separate implementations of one reading of the service (``reconciler.model`` +
``reconciler.normalize`` against ``reconciler.emulator``).  For a generated connector file, the client
either refuses it (then the emulator must refuse the values as written) or accepts it (then the emulator
must accept what the client sends -- the name, the type and the non-default fields -- and the object it
returns must read back equal to the file).  Every disagreement is a bug on one side, decided from
docs/emulator.md and tests/fixtures/EVIDENCE.md.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.emulator.errors import CmdletError
from reconciler.emulator.store import MemoryStore
from reconciler.emulator.tenant import TenantInfo, invoke
from reconciler.model import FIELDS, MODELS, Connector, Kind, from_live

TENANT = TenantInfo.for_name("contoso.onmicrosoft.com", ("contoso.com",))

# Values near every edge the two sides judge: wildcards, masks, ranges, IPv6, private and Microsoft 365
# ranges, brackets, ports, underscores, certificate forms, lengths.
DOMAINS = st.sampled_from(
    [
        "contoso.com",
        "Fabrikam.COM",
        "*.contoso.com",
        "*",
        "a.*.contoso.com",
        "bad domain",
        "mail_1.contoso.com",
    ]
)
SENDER_IPS = st.sampled_from(
    ["192.0.2.1", "198.51.100.77/24", "198.51.100.0/23", "192.0.2.1/32", "192.0.2.1-192.0.2.9",
     "192.0.2.9-192.0.2.1", "2001:db8::1", "10.1.2.3", "not-an-ip"]
)  # fmt: skip
EF_SKIP_IPS = st.sampled_from(
    ["203.0.113.5", "203.0.113.10-203.0.113.20", "198.51.100.0/24", "2001:db8::/64", "2001:db8::25",
     "10.1.2.3", "172.16.5.0/24", "40.107.1.1", "52.102.0.9", "52.103.200.1", "2a01:111:f403::1", "fd00::1",
     "203.0.113.9-203.0.113.1", "bogus"]
)  # fmt: skip
SMART_HOSTS = st.sampled_from(
    ["relay.fabrikam.com", "192.0.2.25", "[192.0.2.25]", "2001:db8::25", "[2001:db8::25]",
     "relay_1.fabrikam.com", "_relay.fabrikam.com", "relay_.fabrikam.com",
     "198.51.100.0/25", "relay.fabrikam.com:25", "[192.0.2.25]:25", "*.fabrikam.com", "[relay.fabrikam.com]"]
)  # fmt: skip
CERTIFICATES = st.sampled_from(
    ["mail.contoso.com", "*.contoso.com", "*", "<I>CN=R3, O=Let's Encrypt, C=US<S>CN=mail.contoso.com",
     "<I>CN=R3<S>", "a.*.contoso.com"]
)  # fmt: skip
EMAILS = st.sampled_from(
    ["user@contoso.com", "Postmaster@Fabrikam.com", "first.last+tag@contoso.com", "a(b)@contoso.com",
     "not an address", "user@bad_domain.com"]
)  # fmt: skip
COMMENTS = st.sampled_from(["", "managed", "c" * 1024, "c" * 1025])


def _small(values: st.SearchStrategy[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(values, min_size=0, max_size=2)


#: Connectors both sides should accept, one per common shape; each example changes up to two fields of
#: one of them, so single-field edges are judged against an otherwise valid connector.
INBOUND_BASES: list[dict[str, Any]] = [
    {"connector_type": "Partner", "sender_domains": ["contoso.com"]},
    {"connector_type": "Partner", "sender_domains": ["*"], "sender_ip_addresses": ["198.51.100.0/24"],
     "restrict_domains_to_ip_addresses": True, "ef_skip_last_ip": True},
    {"connector_type": "Partner", "sender_domains": ["*"], "tls_sender_certificate_name": "*.contoso.com",
     "restrict_domains_to_certificate": True},
    {"connector_type": "OnPremises", "sender_domains": ["*"], "sender_ip_addresses": ["203.0.113.5"],
     "cloud_services_mail_enabled": True},
    {"connector_type": "OnPremises", "sender_domains": ["contoso.com"],
     "sender_ip_addresses": ["203.0.113.5"],
     "treat_messages_as_internal": True},
]  # fmt: skip
INBOUND_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "sender_domains": _small(DOMAINS),
    "comment": COMMENTS,
    "enabled": st.booleans(),
    "sender_ip_addresses": _small(SENDER_IPS),
    "ef_skip_ips": _small(EF_SKIP_IPS),
    "ef_skip_last_ip": st.booleans(),
    "ef_users": _small(EMAILS),
    "require_tls": st.booleans(),
    "restrict_domains_to_ip_addresses": st.booleans(),
    "restrict_domains_to_certificate": st.booleans(),
    "tls_sender_certificate_name": CERTIFICATES,
    "treat_messages_as_internal": st.booleans(),
    "cloud_services_mail_enabled": st.booleans(),
    "trusted_organizations": _small(DOMAINS),
    "client_host_names": _small(DOMAINS),
    # whether a domain is accepted depends on the tenant, which no file check can know: only accepted ones
    "associated_accepted_domains": _small(st.sampled_from(["contoso.com", "Contoso.COM"])),
    "connector_type": st.sampled_from(["Partner", "OnPremises"]),
}
OUTBOUND_BASES: list[dict[str, Any]] = [
    {"connector_type": "Partner", "recipient_domains": ["fabrikam.com"]},
    {"connector_type": "Partner", "recipient_domains": ["*"], "use_mx_record": False,
     "smart_hosts": ["relay.fabrikam.com"], "tls_settings": "DomainValidation",
     "tls_domain": "relay.fabrikam.com"},
    {"connector_type": "OnPremises", "all_accepted_domains": True, "use_mx_record": False,
     "smart_hosts": ["mail.contoso.com"], "cloud_services_mail_enabled": True,
     "tls_settings": "CertificateValidation"},
    {"connector_type": "Partner", "is_transport_rule_scoped": True, "use_mx_record": False,
     "smart_hosts": ["192.0.2.25"]},
]  # fmt: skip
OUTBOUND_FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "comment": COMMENTS,
    "enabled": st.booleans(),
    "recipient_domains": _small(DOMAINS),
    "smart_hosts": _small(SMART_HOSTS),
    "use_mx_record": st.booleans(),
    "tls_settings": st.sampled_from([None, "EncryptionOnly", "CertificateValidation", "DomainValidation"]),
    "tls_domain": st.sampled_from(["relay.fabrikam.com", "*.fabrikam.com", "*"]),
    "all_accepted_domains": st.booleans(),
    "route_all_messages_via_on_premises": st.booleans(),
    "sender_rewriting_enabled": st.booleans(),
    "cloud_services_mail_enabled": st.booleans(),
    "is_transport_rule_scoped": st.booleans(),
    "test_mode": st.booleans(),
    "mta_sts_mode": st.sampled_from(["Opportunistic", "None"]),
    "smtp_dane_mode": st.sampled_from(["Opportunistic", "Mandatory", "None"]),
    "connector_type": st.sampled_from(["Partner", "OnPremises"]),
}


def _variants(
    bases: list[dict[str, Any]], fields: dict[str, st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    changed = st.lists(st.sampled_from(sorted(fields)), max_size=2, unique=True).flatmap(
        lambda names: st.fixed_dictionaries({name: fields[name] for name in names})
    )
    return st.tuples(st.sampled_from(bases), changed).map(lambda pair: {**pair[0], **pair[1]})


INBOUND = _variants(INBOUND_BASES, INBOUND_FIELDS)
OUTBOUND = _variants(OUTBOUND_BASES, OUTBOUND_FIELDS)


def _client(kind: Kind, values: dict[str, Any]) -> Connector | None:
    try:
        return MODELS[kind].model_validate({"name": "Generated", **values})
    except ValidationError:
        return None


def _sent(connector: Connector) -> dict[str, Any]:
    """What the Exchange provider sends on create: the name, the type and the non-default fields."""
    specs = FIELDS[connector.KIND]
    return {
        specs[f].parameter: value
        for f, value in connector.managed_fields().items()
        if value is not None
        and not specs[f].set_only
        and (f in ("name", "connector_type") or value != specs[f].default)
    }


def _emulator_new(kind: Kind, parameters: dict[str, Any]) -> tuple[dict[str, Any] | None, str]:
    try:
        result = invoke(TENANT, MemoryStore(), f"New-{kind}", parameters)
    except CmdletError as exc:
        return None, exc.text
    return result.values[0], ""


def _check(kind: Kind, values: dict[str, Any]) -> None:
    connector = _client(kind, values)
    if connector is None:
        specs = FIELDS[kind]
        raw = {"Name": "Generated", **{specs[f].parameter: v for f, v in values.items() if v is not None}}
        created, _ = _emulator_new(kind, raw)
        assert created is None, f"the client refuses what the emulator's New-{kind} accepts: {values}"
        return
    created, why = _emulator_new(kind, _sent(connector))
    assert created is not None, f"the emulator refuses ({why}) what the client accepts: {values}"
    read = from_live(kind, created)
    owned = connector.unset_service_owned()
    got = {f: v for f, v in read.managed_fields().items() if f not in owned}
    assert got == {f: v for f, v in connector.managed_fields().items() if f not in owned}, values


FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(INBOUND)
def test_inbound_client_and_emulator_accept_the_same_and_agree_on_defaults(values: dict[str, Any]) -> None:
    _check("InboundConnector", values)


@FAST
@given(OUTBOUND)
def test_outbound_client_and_emulator_accept_the_same_and_agree_on_defaults(values: dict[str, Any]) -> None:
    _check("OutboundConnector", values)


def test_a_one_field_disagreement_is_found() -> None:
    """The generator reaches single-field edges: a connector that differs from an accepted one in one
    field only (a Microsoft 365 range in ef_skip_ips) is judged on its own."""
    base = {"connector_type": "Partner", "sender_domains": ["contoso.com"]}
    _check("InboundConnector", base)
    _check("InboundConnector", {**base, "ef_skip_ips": ["52.103.200.1"]})
    assert _client("InboundConnector", {**base, "ef_skip_ips": ["52.103.200.1"]}) is not None  # not EOP's
    assert _client("InboundConnector", {**base, "ef_skip_ips": ["52.103.100.1"]}) is None  # EOP's /17
