"""Posture rules: each rule fires on a risky connector and stays quiet on its near miss; skips; thresholds."""

from __future__ import annotations

import contextlib
import json
import random
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from reconciler import posture
from reconciler.model import Connector, InboundConnector, OutboundConnector, SkipCheck, from_live
from reconciler.posture import RULES, RULES_BY_ID, Finding, check, fails

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def inbound(name: str = "In", **fields: Any) -> InboundConnector:
    """A desired inbound connector (service rules enforced)."""
    fields.setdefault("connector_type", "Partner")
    fields.setdefault("sender_domains", ["fabrikam.com"])
    return InboundConnector.model_validate({"name": name, **fields})


def outbound(name: str = "Out", **fields: Any) -> OutboundConnector:
    """A desired outbound connector (service rules enforced)."""
    fields.setdefault("connector_type", "Partner")
    fields.setdefault("recipient_domains", ["fabrikam.com"])
    return OutboundConnector.model_validate({"name": name, **fields})


def live_inbound(name: str = "In", **props: Any) -> Connector:
    """An inbound connector as read from a tenant: PascalCase properties, service rules not enforced."""
    return from_live("InboundConnector", {"Name": name, **props})


def live_outbound(name: str = "Out", **props: Any) -> Connector:
    return from_live("OutboundConnector", {"Name": name, **props})


def filter_inbound(name: str = "From filter", **fields: Any) -> InboundConnector:
    """A third-party filter's inbound connector as recommended: all domains, restricted to its IPs, EF on."""
    values: dict[str, Any] = {
        "sender_domains": ["*"],
        "require_tls": True,
        "restrict_domains_to_ip_addresses": True,
        "sender_ip_addresses": ["192.0.2.0/24"],
        "ef_skip_last_ip": True,
    }
    values.update(fields)
    return inbound(name, **values)


def by_ip_inbound(name: str = "From filter", **fields: Any) -> InboundConnector:
    """A Partner connector as the admin center makes it when the partner is identified by the sending
    server's IP address (docs/posture.md): every sender domain, the IPs, no IP restriction."""
    values: dict[str, Any] = {
        "sender_domains": ["*"],
        "sender_ip_addresses": ["192.0.2.0/24"],
        "restrict_domains_to_ip_addresses": False,
        "require_tls": True,
        "ef_skip_last_ip": True,
    }
    values.update(fields)
    return inbound(name, **values)


def smart_host_outbound(name: str = "Out", **fields: Any) -> OutboundConnector:
    values: dict[str, Any] = {
        "use_mx_record": False,
        "smart_hosts": ["mx.fabrikam.com"],
        "tls_settings": "CertificateValidation",
    }
    values.update(fields)
    return outbound(name, **values)


Scenario = Callable[[], list[Connector]]

# rule id -> (connectors that trigger it, the connector the finding must name)
TRIGGERS: dict[str, tuple[Scenario, str]] = {
    "EXO-IN-001": (lambda: [inbound("Fabrikam", require_tls=False)], "Fabrikam"),
    "EXO-IN-002": (lambda: [inbound("Any", sender_domains=["*"])], "Any"),
    "EXO-IN-003": (
        lambda: [
            live_inbound(
                "P", ConnectorType="Partner", SenderDomains=["smtp:*;1"], TreatMessagesAsInternal=True
            )
        ],
        "P",
    ),
    "EXO-IN-004": (
        lambda: [
            inbound(
                "OnPrem",
                connector_type="OnPremises",
                sender_domains=["*"],
                sender_ip_addresses=["198.51.100.7"],
                treat_messages_as_internal=True,
            )
        ],
        "OnPrem",
    ),
    "EXO-IN-005": (lambda: [filter_inbound("Filter", ef_skip_last_ip=False)], "Filter"),
    "EXO-IN-006": (lambda: [inbound("Skipper", ef_skip_last_ip=True)], "Skipper"),
    "EXO-IN-007": (
        lambda: [
            live_inbound(
                "Both",
                ConnectorType="Partner",
                SenderDomains=["smtp:fabrikam.com;1"],
                RequireTls=True,
                SenderIPAddresses=["198.51.100.7"],
                TlsSenderCertificateName="mail.fabrikam.com",
                RestrictDomainsToIPAddresses=True,
                RestrictDomainsToCertificate=True,
            )
        ],
        "Both",
    ),
    "EXO-IN-008": (
        lambda: [
            inbound(
                "Fabrikam",
                enabled=False,
                restrict_domains_to_ip_addresses=True,
                sender_ip_addresses=["198.51.100.7"],
            )
        ],
        "Fabrikam",
    ),
    "EXO-IP-001": (
        lambda: [
            filter_inbound("A filter"),
            inbound(
                "B partner",
                restrict_domains_to_ip_addresses=True,
                sender_ip_addresses=["192.0.2.77"],
            ),
        ],
        "B partner",
    ),
    "EXO-IP-002": (
        lambda: [filter_inbound("Natted", sender_ip_addresses=["10.1.2.0/24", "192.0.2.1"])],
        "Natted",
    ),
    "EXO-OUT-001": (lambda: [smart_host_outbound("Relay", tls_settings=None)], "Relay"),
    "EXO-OUT-002": (lambda: [smart_host_outbound("Relay", tls_settings="EncryptionOnly")], "Relay"),
    "EXO-OUT-003": (
        lambda: [
            live_outbound(
                "Pinned",
                ConnectorType="Partner",
                RecipientDomains=["fabrikam.com"],
                UseMXRecord=False,
                SmartHosts=["mx.fabrikam.com"],
                TlsSettings="DomainValidation",
                TlsDomain=None,
            )
        ],
        "Pinned",
    ),
    "EXO-OUT-004": (lambda: [outbound("Mx", smtp_dane_mode="None")], "Mx"),
    "EXO-OUT-005": (lambda: [outbound("Mx", mta_sts_mode="None")], "Mx"),
    "EXO-OUT-006": (lambda: [smart_host_outbound("Route", enabled=False)], "Route"),
}

# rule id -> near misses: the closest safe setups, none of which may trigger that rule
NEAR_MISSES: dict[str, list[tuple[str, Scenario]]] = {
    "EXO-IN-001": [
        ("requires TLS", lambda: [inbound("Fabrikam", require_tls=True)]),
        (
            "no TLS but restricted by IP",
            lambda: [
                inbound(
                    "Fabrikam",
                    require_tls=False,
                    restrict_domains_to_ip_addresses=True,
                    sender_ip_addresses=["198.51.100.7"],
                )
            ],
        ),
        (
            "OnPremises without TLS",
            lambda: [
                inbound(
                    "OnPrem",
                    connector_type="OnPremises",
                    require_tls=False,
                    sender_ip_addresses=["198.51.100.7"],
                )
            ],
        ),
    ],
    "EXO-IN-002": [
        (
            "'*' restricted by certificate",
            lambda: [inbound("Any", sender_domains=["*"], tls_sender_certificate_name="*.mimecast.com")],
        ),
        ("named domain, TLS only", lambda: [inbound("Fabrikam", require_tls=True)]),
        (
            "'*' on OnPremises (matched by IP)",
            lambda: [
                inbound(
                    "OnPrem",
                    connector_type="OnPremises",
                    sender_domains=["*"],
                    sender_ip_addresses=["198.51.100.7"],
                )
            ],
        ),
        (
            "'*' from another Microsoft 365 organization",
            lambda: [inbound("M&A", sender_domains=["*"], trusted_organizations=["contoso.onmicrosoft.com"])],
        ),
        ("'*' identified by sender IP (admin center)", lambda: [by_ip_inbound()]),
    ],
    "EXO-IN-003": [
        (
            "OnPremises restricted by IP",
            lambda: [
                inbound(
                    "OnPrem",
                    connector_type="OnPremises",
                    sender_ip_addresses=["198.51.100.7"],
                    treat_messages_as_internal=True,
                )
            ],
        ),
        ("Partner without it", lambda: [filter_inbound()]),
    ],
    "EXO-IN-004": [
        (
            "OnPremises without it",
            lambda: [inbound("OnPrem", connector_type="OnPremises", sender_ip_addresses=["198.51.100.7"])],
        ),
        (
            "Partner with it (EXO-IN-003's case)",
            lambda: [
                live_inbound(
                    "P", ConnectorType="Partner", SenderDomains=["x.com"], TreatMessagesAsInternal=True
                )
            ],
        ),
    ],
    "EXO-IN-005": [
        ("EF skips the last IP", lambda: [filter_inbound()]),
        (
            "EF skips listed IPs",
            lambda: [filter_inbound(ef_skip_last_ip=False, ef_skip_ips=["192.0.2.0/24"])],
        ),
        (
            "a partner's own domain restricted to its IPs (no filter in front)",
            lambda: [
                inbound(
                    "Fabrikam",
                    restrict_domains_to_ip_addresses=True,
                    sender_ip_addresses=["198.51.100.7"],
                )
            ],
        ),
    ],
    "EXO-IN-006": [
        ("restricted by IP", lambda: [filter_inbound()]),
        (
            "restricted by certificate",
            lambda: [
                inbound(
                    "Sepp",
                    sender_domains=["*"],
                    restrict_domains_to_certificate=True,
                    tls_sender_certificate_name="*.de.seppmail.cloud",
                    ef_skip_last_ip=True,
                )
            ],
        ),
        ("EF skips listed IPs only", lambda: [inbound("Skipper", ef_skip_ips=["192.0.2.1"])]),
        ("'*' identified by sender IP, not restricted (Barracuda, Proofpoint)", lambda: [by_ip_inbound()]),
    ],
    "EXO-IN-007": [
        (
            "IP restriction plus required certificate name (Mimecast)",
            lambda: [filter_inbound("Mimecast", tls_sender_certificate_name="*.mimecast.com")],
        ),
        (
            "certificate restriction only",
            lambda: [
                inbound(
                    "Cert",
                    restrict_domains_to_certificate=True,
                    tls_sender_certificate_name="mail.fabrikam.com",
                    sender_ip_addresses=["198.51.100.7"],
                )
            ],
        ),
    ],
    "EXO-IN-008": [
        (
            "enabled",
            lambda: [
                inbound(
                    "Fabrikam", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["198.51.100.7"]
                )
            ],
        ),
        (
            "disabled, but an enabled connector covers the domain",
            lambda: [
                inbound(
                    "Old",
                    enabled=False,
                    restrict_domains_to_ip_addresses=True,
                    sender_ip_addresses=["198.51.100.7"],
                ),
                inbound(
                    "New",
                    sender_domains=["*.fabrikam.com"],
                    restrict_domains_to_ip_addresses=True,
                    sender_ip_addresses=["198.51.100.8"],
                ),
            ],
        ),
        (
            "disabled OnPremises connector",
            lambda: [
                inbound(
                    "OnPrem", connector_type="OnPremises", enabled=False, sender_ip_addresses=["198.51.100.7"]
                )
            ],
        ),
    ],
    "EXO-IP-001": [
        (
            "adjacent ranges",
            lambda: [
                filter_inbound("A filter", sender_ip_addresses=["192.0.2.0/25"]),
                inbound("B", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["192.0.2.128/25"]),
            ],
        ),
        (
            "the other connector is disabled",
            lambda: [
                filter_inbound("A filter"),
                inbound(
                    "B",
                    enabled=False,
                    sender_domains=["*"],
                    restrict_domains_to_ip_addresses=True,
                    sender_ip_addresses=["192.0.2.77"],
                ),
            ],
        ),
        (
            "an OnPremises and a Partner connector for the same IPs (documented to coexist)",
            lambda: [
                inbound("OnPrem", connector_type="OnPremises", sender_ip_addresses=["192.0.2.0/24"]),
                filter_inbound("Partner lock-down"),
            ],
        ),
        (
            "same IPs on an inbound and an outbound connector",
            lambda: [filter_inbound("A filter"), smart_host_outbound("B", smart_hosts=["192.0.2.10"])],
        ),
    ],
    "EXO-IP-002": [
        ("just outside 172.16.0.0/12", lambda: [filter_inbound(sender_ip_addresses=["172.32.0.0/24"])]),
        ("documentation range", lambda: [filter_inbound(sender_ip_addresses=["203.0.113.0/24"])]),
    ],
    "EXO-OUT-001": [
        ("certificate validated", lambda: [smart_host_outbound()]),
        ("delivered by MX", lambda: [outbound("Mx", tls_settings=None)]),
    ],
    "EXO-OUT-002": [
        (
            "domain validated",
            lambda: [smart_host_outbound(tls_settings="DomainValidation", tls_domain="mx.fabrikam.com")],
        ),
        ("EncryptionOnly by MX", lambda: [outbound("Mx", tls_settings="EncryptionOnly")]),
    ],
    "EXO-OUT-003": [
        (
            "with tls_domain",
            lambda: [smart_host_outbound(tls_settings="DomainValidation", tls_domain="*.fabrikam.com")],
        ),
    ],
    "EXO-OUT-004": [
        ("Mandatory", lambda: [outbound("Mx", smtp_dane_mode="Mandatory")]),
        ("None to a smart host", lambda: [smart_host_outbound(smtp_dane_mode="None")]),
    ],
    "EXO-OUT-005": [
        ("default", lambda: [outbound("Mx")]),
        ("None to a smart host", lambda: [smart_host_outbound(mta_sts_mode="None")]),
    ],
    "EXO-OUT-006": [
        ("enabled", lambda: [smart_host_outbound("Route")]),
        (
            "disabled, but '*.fabrikam.com' is routed by an enabled connector",
            lambda: [
                smart_host_outbound("Old", enabled=False),
                smart_host_outbound("New", recipient_domains=["*.fabrikam.com"]),
            ],
        ),
        (
            "disabled, transport-rule scoped",
            lambda: [
                smart_host_outbound(
                    "Rule", enabled=False, recipient_domains=[], is_transport_rule_scoped=True
                )
            ],
        ),
    ],
}


def rules_fired(findings: list[Finding]) -> set[str]:
    return {f.rule for f in findings}


def test_rules_have_stable_ids_severities_and_references() -> None:
    ids = [r.id for r in RULES]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for rule in RULES:
        assert re.fullmatch(r"EXO-(CFG|IN|IP|OUT|USE)-\d{3}", rule.id)
        assert rule.severity in ("error", "warning", "info")
        assert rule.reference.startswith(("https://", "docs/"))
        assert rule.title


def test_every_connector_rule_has_a_trigger_and_a_near_miss() -> None:
    # The usage rules judge message trace, not connectors (tests/posture/test_usage.py).
    connector_rules = {r.id for r in RULES if r.skippable and not r.id.startswith("EXO-USE-")}
    assert set(TRIGGERS) == connector_rules
    assert set(NEAR_MISSES) == connector_rules


@pytest.mark.parametrize("rule_id", sorted(TRIGGERS))
def test_rule_fires_with_its_severity_connector_and_a_fix(rule_id: str) -> None:
    scenario, name = TRIGGERS[rule_id]
    hits = [f for f in check(scenario()) if f.rule == rule_id]
    assert len(hits) == 1, hits
    finding = hits[0]
    assert finding.severity == RULES_BY_ID[rule_id].severity
    assert finding.name == name
    assert finding.kind in ("InboundConnector", "OutboundConnector")
    assert finding.reference == RULES_BY_ID[rule_id].reference
    assert "Fix:" in finding.message
    assert finding.field is not None and finding.field in type(scenario()[0]).model_fields
    assert finding.skipped_reason is None


@pytest.mark.parametrize(
    ("rule_id", "case", "scenario"),
    [(rule_id, case, scenario) for rule_id, cases in sorted(NEAR_MISSES.items()) for case, scenario in cases],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_near_miss_does_not_fire(rule_id: str, case: str, scenario: Scenario) -> None:
    assert rule_id not in rules_fired(check(scenario())), case


def test_severities_a_reviewer_would_defend() -> None:
    severity = {r.id: r.severity for r in RULES}
    for error in ("EXO-IN-001", "EXO-IN-003", "EXO-IN-006", "EXO-OUT-001", "EXO-CFG-001"):
        assert severity[error] == "error"
    warnings = ("EXO-IN-002", "EXO-IN-004", "EXO-IN-005", "EXO-IP-001", "EXO-OUT-002", "EXO-OUT-004")
    for warning in (*warnings, "EXO-OUT-005"):
        assert severity[warning] == "warning"


def test_open_partner_message_explains_unenforced_ips() -> None:
    c = inbound("Fabrikam", require_tls=False, sender_ip_addresses=["198.51.100.7"])
    (finding,) = [f for f in check([c]) if f.rule == "EXO-IN-001"]
    assert "restrict_domains_to_ip_addresses is false" in finding.message


def test_overlap_is_reported_once_per_pair_naming_both_and_the_ranges() -> None:
    a = filter_inbound("A filter", sender_ip_addresses=["192.0.2.0/24", "198.51.100.0/24"])
    b = inbound(
        "b partner", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["192.0.2.77", "198.51.100.9"]
    )
    c = inbound("C other", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["198.51.100.200"])
    overlaps = [f for f in check([c, b, a]) if f.rule == "EXO-IP-001"]
    assert [f.name for f in overlaps] == ["b partner", "C other"]
    assert all(f.field == "sender_ip_addresses" for f in overlaps)
    first, second = overlaps[0].message, overlaps[1].message
    assert "'A filter'" in first and "192.0.2.77 and 192.0.2.0/24" in first and "198.51.100.9 and" in first
    assert "'A filter'" in second and "198.51.100.200 and 198.51.100.0/24" in second


def test_onpremises_overlap_with_partner_is_not_reported() -> None:
    # Microsoft: an OnPremises and a Partner connector for the same IPs "can coexist without a problem".
    onprem = inbound("OnPrem", connector_type="OnPremises", sender_ip_addresses=["198.51.100.0/24"])
    partner = inbound("Partner", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["198.51.100.9"])
    assert [f for f in check([onprem, partner]) if f.rule == "EXO-IP-001"] == []


def test_overlap_between_two_onpremises_connectors_is_reported() -> None:
    a = inbound("Relay A", connector_type="OnPremises", sender_ip_addresses=["198.51.100.0/24"])
    b = inbound("Relay B", connector_type="OnPremises", sender_ip_addresses=["198.51.100.9"])
    (finding,) = [f for f in check([a, b]) if f.rule == "EXO-IP-001"]
    assert finding.name == "Relay B" and "'Relay A'" in finding.message


def test_test_mode_connector_as_only_route_names_test_mode() -> None:
    c = smart_host_outbound("Trial", recipient_domains=["fabrikam.com", "contoso.com"], test_mode=True)
    other = smart_host_outbound("Live", recipient_domains=["contoso.com"])
    (finding,) = [f for f in check([c, other]) if f.rule == "EXO-OUT-006"]
    assert finding.field == "test_mode" and "in test mode" in finding.message
    assert "fabrikam.com" in finding.message and "contoso.com" not in finding.message


def test_disabled_star_route_is_not_covered_by_a_specific_domain() -> None:
    gateway = smart_host_outbound("Gateway", recipient_domains=["*"], enabled=False)
    partner = smart_host_outbound("Partner", recipient_domains=["fabrikam.com"])
    (finding,) = [f for f in check([gateway, partner]) if f.rule == "EXO-OUT-006"]
    assert finding.name == "Gateway" and "*" in finding.message


# --- vendor-recommended setups (reference doc, section 3b) -----------------------------------------

VENDOR_SETUPS: dict[str, Scenario] = {
    "Mimecast inbound with EF": lambda: [
        filter_inbound(
            "Mimecast", tls_sender_certificate_name="*.mimecast.com", sender_ip_addresses=["192.0.2.0/24"]
        )
    ],
    "Barracuda inbound": lambda: [
        filter_inbound("Barracuda", sender_ip_addresses=["209.222.80.0/24", "209.222.81.0/24"])
    ],
    "SEPPmail.cloud inline": lambda: [
        inbound(
            "SEPPmail in",
            sender_domains=["*"],
            restrict_domains_to_certificate=True,
            tls_sender_certificate_name="*.de.seppmail.cloud",
            ef_skip_last_ip=True,
        ),
        outbound(
            "SEPPmail out",
            recipient_domains=[],
            is_transport_rule_scoped=True,
            use_mx_record=False,
            smart_hosts=["mail.de.seppmail.cloud"],
            tls_settings="DomainValidation",
            tls_domain="*.de.seppmail.cloud",
        ),
    ],
    "Exclaimer Cloud": lambda: [
        inbound(
            "Exclaimer in",
            connector_type="OnPremises",
            sender_domains=["*"],
            restrict_domains_to_certificate=True,
            tls_sender_certificate_name="*.smtp.excl.cloud",
            cloud_services_mail_enabled=True,
        ),
        outbound(
            "Exclaimer out",
            connector_type="OnPremises",
            recipient_domains=[],
            is_transport_rule_scoped=True,
            use_mx_record=False,
            smart_hosts=["smtp.eu1.exclaimer.net"],
            tls_settings="DomainValidation",
            tls_domain="smtp.eu1.exclaimer.net",
            cloud_services_mail_enabled=True,
        ),
    ],
    "Hybrid Configuration Wizard": lambda: [
        inbound(
            "Inbound from on-premises",
            connector_type="OnPremises",
            sender_domains=["*"],
            tls_sender_certificate_name="mail.contoso.com",
            cloud_services_mail_enabled=True,
        ),
        outbound(
            "Outbound to on-premises",
            connector_type="OnPremises",
            recipient_domains=["contoso.com"],
            use_mx_record=False,
            smart_hosts=["mail.contoso.com"],
            tls_settings="DomainValidation",
            tls_domain="mail.contoso.com",
            cloud_services_mail_enabled=True,
        ),
    ],
    "Proofpoint Essentials outbound": lambda: [
        outbound(
            "Proofpoint out",
            recipient_domains=["*"],
            use_mx_record=False,
            smart_hosts=["outbound-us1.ppe-hosted.com"],
            tls_settings="CertificateValidation",
        )
    ],
}


VENDOR_SETUPS["Barracuda or Proofpoint identified by IP, with enhanced filtering"] = lambda: [
    by_ip_inbound("Barracuda", sender_ip_addresses=["209.222.80.0/24", "209.222.81.0/24"])
]


@pytest.mark.parametrize("setup", sorted(VENDOR_SETUPS))
def test_vendor_recommended_setups_are_clean(setup: str) -> None:
    assert check(VENDOR_SETUPS[setup]()) == []


def test_vendor_setups_documented_as_flagged() -> None:
    # Proofpoint's inbound script leaves enhanced filtering off; Barracuda's outbound uses EncryptionOnly.
    proofpoint = filter_inbound("Proofpoint in", ef_skip_last_ip=False)
    barracuda = smart_host_outbound(
        "Barracuda out",
        recipient_domains=["*"],
        smart_hosts=["d123.o.ess.barracudanetworks.com"],
        tls_settings="EncryptionOnly",
    )
    assert [(f.rule, f.name) for f in check([proofpoint, barracuda])] == [
        ("EXO-IN-005", "Proofpoint in"),
        ("EXO-OUT-002", "Barracuda out"),
    ]


# --- how the service picks an inbound connector (docs/posture.md) -----------------------------------------


def test_partner_identified_by_ip_without_enhanced_filtering_is_only_a_warning() -> None:
    c = by_ip_inbound("Proofpoint in", ef_skip_last_ip=False)
    assert [(f.rule, f.severity) for f in check([c])] == [("EXO-IN-005", "warning")]


def test_partner_star_open_to_every_server_without_tls_is_an_error() -> None:
    c = inbound("Open", sender_domains=["*"], require_tls=False)
    findings = check([c])
    assert ("EXO-IN-001", "error") in {(f.rule, f.severity) for f in findings}
    assert fails(findings, "error")


def test_partner_star_open_to_every_server_with_enhanced_filtering_is_an_error() -> None:
    for require_tls in (False, True):
        c = inbound("Skip all", sender_domains=["*"], require_tls=require_tls, ef_skip_last_ip=True)
        (finding,) = [f for f in check([c]) if f.rule == "EXO-IN-006"]
        assert finding.severity == "error" and "any server" in finding.message


def test_identified_by_ip_without_tls_still_enforces_nothing() -> None:
    c = by_ip_inbound("No TLS", require_tls=False, ef_skip_last_ip=False)
    (finding,) = [f for f in check([c]) if f.rule == "EXO-IN-001"]
    assert finding.severity == "error"
    assert "192.0.2.0/24" in finding.message and "any server" not in finding.message


def test_star_with_tls_only_is_a_warning_that_names_what_it_does() -> None:
    (finding,) = check([inbound("TLS for all", sender_domains=["*"])])
    assert (finding.rule, finding.severity) == ("EXO-IN-002", "warning")
    assert "every server" in finding.message and "sender_ip_addresses" in finding.message


def test_disabled_filter_identified_by_ip_says_its_tls_is_no_longer_required() -> None:
    (finding,) = [f for f in check([by_ip_inbound("Off", enabled=False)]) if f.rule == "EXO-IN-008"]
    assert "mail from 192.0.2.0/24 is accepted without TLS" in finding.message


def _vendor_connectors(mode: str) -> list[Connector]:
    """SEPPmail.cloud's connector parameter sets (tests/fixtures/vendor/), with the values its script
    fills in for a customer in the placeholders (docs/posture.md, vendor-recommended setups)."""
    fill = {
        "TlsSenderCertificateName": "contoso.de.seppmail.cloud",
        "SmartHosts": ["mail.de.seppmail.cloud"],
        "TlsDomain": "*.de.seppmail.cloud",
    }
    found: list[Connector] = []
    for kind, file in (("InboundConnector", "InBound.json"), ("OutboundConnector", "OutBound.json")):
        data = json.loads((FIXTURES / "vendor" / "seppmail365cloud" / file).read_text(encoding="utf-8"))
        props = {
            k: fill.get(k, v) if v == "---Parameter input---" else v for k, v in data["routing"][mode].items()
        }
        if props.get("SenderDomains") == "":
            props["SenderDomains"] = "*"  # the script sets smtp:*;1 before New-InboundConnector
        found.append(from_live(kind, props))
    return found


@pytest.mark.parametrize("mode", ["inline", "parallel"])
def test_seppmail_cloud_vendor_setup_is_clean(mode: str) -> None:
    assert check(_vendor_connectors(mode)) == []


LIVE_EXPECTED: dict[str, list[tuple[str, str]]] = {
    "evotec-pswindocumentation-o365.json": [],
    "graph2otel-m7kni-admin-api.json": [],
    "scubagear-sample-provider-export.json": [],
}


@pytest.mark.parametrize("source", sorted(LIVE_EXPECTED))
def test_real_tenant_connectors_give_exactly_the_documented_findings(source: str) -> None:
    data = json.loads((FIXTURES / "live" / source).read_text(encoding="utf-8"))
    connectors: list[Connector] = []
    for kind in ("InboundConnector", "OutboundConnector"):
        for obj in data.get(kind, []):
            # Evotec's transcript lacks ConnectorType; CloudServicesMailEnabled is accepted only on
            # OnPremises connectors, so that is what it is.
            props = {"ConnectorType": "OnPremises", **obj} if "ConnectorType" not in obj else obj
            connectors.append(from_live(kind, props))
    assert connectors
    assert [(f.rule, f.name) for f in check(connectors)] == LIVE_EXPECTED[source]


# --- skips --------------------------------------------------------------------------------------------


def test_connector_skip_keeps_the_finding_with_its_reason() -> None:
    skipped = inbound(
        "Legacy",
        require_tls=False,
        skip_checks=[{"rule": "EXO-IN-001", "reason": "partner cannot do TLS until Q3"}],
    )
    other = inbound("Other", require_tls=False)
    findings = [f for f in check([skipped, other]) if f.rule == "EXO-IN-001"]
    assert [(f.name, f.skipped_reason) for f in findings] == [
        ("Legacy", "partner cannot do TLS until Q3"),
        ("Other", None),
    ]
    assert findings[0].skipped
    assert fails(findings[:1], "info") is False
    assert fails(findings, "error") is True


def test_tenant_skip_applies_to_every_connector_and_connector_reason_wins() -> None:
    own = outbound(
        "Own", smtp_dane_mode="None", skip_checks=[{"rule": "EXO-OUT-004", "reason": "own reason"}]
    )
    plain = outbound("Plain", smtp_dane_mode="None")
    tenant = [SkipCheck(rule="EXO-OUT-004", reason="DNSSEC broken at our resolver")]
    findings = [f for f in check([own, plain], tenant) if f.rule == "EXO-OUT-004"]
    assert [(f.name, f.skipped_reason) for f in findings] == [
        ("Own", "own reason"),
        ("Plain", "DNSSEC broken at our resolver"),
    ]
    assert not fails(findings, "info")


def test_skip_matches_rule_ids_case_insensitively() -> None:
    c = outbound("Mx", mta_sts_mode="None", skip_checks=[{"rule": " exo-out-005 ", "reason": "testing"}])
    (finding,) = check([c])
    assert finding.rule == "EXO-OUT-005" and finding.skipped_reason == "testing"


def test_skip_of_one_rule_leaves_the_others() -> None:
    c = inbound(
        "Open", sender_domains=["*"], require_tls=False, skip_checks=[{"rule": "EXO-IN-002", "reason": "r"}]
    )
    assert {(f.rule, f.skipped_reason) for f in check([c])} == {("EXO-IN-001", None), ("EXO-IN-002", "r")}


def test_overlap_skip_on_either_connector_of_the_pair_silences_it() -> None:
    a = filter_inbound("A filter", skip_checks=[{"rule": "EXO-IP-001", "reason": "same gateway"}])
    b = inbound("B", restrict_domains_to_ip_addresses=True, sender_ip_addresses=["192.0.2.77"])
    (finding,) = [f for f in check([a, b]) if f.rule == "EXO-IP-001"]
    assert finding.name == "B"
    assert finding.skipped_reason == "same gateway (skipped on 'A filter')"


def test_unknown_rule_in_a_skip_is_an_error_finding() -> None:
    c = inbound("Typo", skip_checks=[{"rule": "EXO-IN-01", "reason": "r"}])
    tenant = [SkipCheck(rule="NO-SUCH-RULE", reason="r"), SkipCheck(rule="EXO-OUT-004", reason="fine")]
    findings = [f for f in check([c], tenant) if f.rule == "EXO-CFG-001"]
    assert [(f.kind, f.name, f.field, f.severity) for f in findings] == [
        (None, None, "skip_checks", "error"),
        ("InboundConnector", "Typo", "skip_checks", "error"),
    ]
    assert "'NO-SUCH-RULE'" in findings[0].message and "Fix:" in findings[0].message
    assert "Did you mean EXO-IN-001?" in findings[1].message
    assert fails(findings, "error")


def test_the_config_rule_cannot_be_switched_off() -> None:
    tenant = [SkipCheck(rule="EXO-CFG-001", reason="hide typos"), SkipCheck(rule="EXO-XX-1", reason="typo")]
    findings = check([], tenant)
    assert [f.rule for f in findings] == ["EXO-CFG-001", "EXO-CFG-001"]
    assert all(f.skipped_reason is None for f in findings)
    assert any("cannot be switched off" in f.message for f in findings)


# --- fails() --------------------------------------------------------------------------------------------


def _finding(severity: posture.Severity, skipped: str | None = None) -> Finding:
    return Finding("EXO-IN-001", severity, "InboundConnector", "c", "m", "r", None, skipped)


@pytest.mark.parametrize(
    ("severities", "threshold", "expected"),
    [
        ([], "info", False),
        (["info"], "info", True),
        (["info"], "warning", False),
        (["warning"], "warning", True),
        (["warning"], "error", False),
        (["warning", "error"], "error", True),
        (["error"], "warning", True),
        (["error"], "info", True),
    ],
)
def test_fails_at_or_above_threshold(
    severities: list[posture.Severity], threshold: posture.Severity, expected: bool
) -> None:
    assert fails([_finding(s) for s in severities], threshold) is expected


def test_fails_ignores_skipped_findings() -> None:
    assert fails([_finding("error", "accepted risk")], "info") is False
    assert fails([_finding("error", "accepted risk"), _finding("info")], "info") is True


def test_fails_rejects_an_unknown_threshold() -> None:
    with pytest.raises(ValueError, match="not a severity"):
        fails([], "fatal")  # type: ignore[arg-type]


# --- order and robustness ------------------------------------------------------------------------------


def _messy_tenant() -> list[Connector]:
    return [scenario()[i] for scenario, _ in TRIGGERS.values() for i in range(len(scenario()))]


def test_findings_are_sorted_and_do_not_depend_on_input_order() -> None:
    connectors = _messy_tenant()
    expected = check(connectors)
    assert [(f.rule, f.kind or "", (f.name or "").casefold()) for f in expected] == sorted(
        (f.rule, f.kind or "", (f.name or "").casefold()) for f in expected
    )
    rng = random.Random(7)
    for _ in range(5):
        shuffled = connectors[:]
        rng.shuffle(shuffled)
        assert check(shuffled) == expected


def test_findings_serialize_for_the_json_plan() -> None:
    (finding,) = check([outbound("Mx", mta_sts_mode="None")])
    data = TypeAdapter(Finding).dump_python(finding, mode="json")  # as the JSON plan carries it
    assert data["rule"] == "EXO-OUT-005" and data["kind"] == "OutboundConnector" and data["name"] == "Mx"
    assert (
        data["severity"] == "warning" and data["field"] == "mta_sts_mode" and data["skipped_reason"] is None
    )
    assert set(data) == {
        "rule",
        "severity",
        "kind",
        "name",
        "message",
        "reference",
        "field",
        "skipped_reason",
        "source",
    }


ODD_LIVE_INBOUND: list[dict[str, Any]] = [
    {},
    {"ConnectorType": "Partner", "SenderDomains": ["smtp:;1"]},
    {
        "ConnectorType": "OnPremises",
        "SenderDomains": None,
        "SenderIPAddresses": None,
        "TlsSenderCertificateName": "",
    },
    {"ConnectorType": "partner", "SenderDomains": "smtp:*;1", "RestrictDomainsToIPAddresses": True},
    {
        "ConnectorType": "Partner",
        "RestrictDomainsToCertificate": True,
        "RequireTls": False,
        "EFSkipLastIP": True,
    },
    {
        "ConnectorType": "OnPremises",
        "TreatMessagesAsInternal": True,
        "CloudServicesMailEnabled": True,
        "Enabled": False,
    },
    {
        "ConnectorType": "Partner",
        "SenderIPAddresses": "192.0.2.1",
        "Unknown": {"nested": [1, 2]},
        "Comment": None,
    },
]
ODD_LIVE_OUTBOUND: list[dict[str, Any]] = [
    {},
    {"ConnectorType": "Partner", "UseMXRecord": False, "SmartHosts": None, "TlsSettings": None},
    {
        "ConnectorType": "Partner",
        "UseMXRecord": True,
        "SmartHosts": ["192.0.2.1"],
        "TlsSettings": "encryptiononly",
    },
    {
        "ConnectorType": "OnPremises",
        "TlsDomain": "x.com",
        "TlsSettings": None,
        "TestMode": True,
        "Enabled": False,
    },
    {
        "ConnectorType": "Partner",
        "RecipientDomains": ["*"],
        "IsTransportRuleScoped": True,
        "AllAcceptedDomains": True,
    },
    {
        "ConnectorType": "Partner",
        "AllAcceptedDomains": True,
        "Enabled": False,
        "SmtpDaneMode": "none",
        "MtaStsMode": "NONE",
    },
]


def test_odd_live_connectors_do_not_crash_the_engine() -> None:
    connectors = [
        from_live("InboundConnector", {"ConnectorType": "Partner", "Name": f"in{i}", **props})
        if "ConnectorType" not in props
        else from_live("InboundConnector", {"Name": f"in{i}", **props})
        for i, props in enumerate(ODD_LIVE_INBOUND)
    ] + [
        from_live("OutboundConnector", {"ConnectorType": "Partner", "Name": f"out{i}", **props})
        if "ConnectorType" not in props
        else from_live("OutboundConnector", {"Name": f"out{i}", **props})
        for i, props in enumerate(ODD_LIVE_OUTBOUND)
    ]
    findings = check(connectors)
    fired = rules_fired(findings)
    # The odd values are read, not ignored: the broken connectors are flagged.
    assert {"EXO-IN-001", "EXO-IN-003", "EXO-IN-006", "EXO-OUT-004", "EXO-OUT-005", "EXO-OUT-006"} <= fired
    assert all(f.name for f in findings)


_live_inbound_props = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(["a", "B", "c"]),
        "ConnectorType": st.sampled_from(["Partner", "OnPremises"]),
    },
    optional={
        "Enabled": st.booleans(),
        "SenderDomains": st.lists(st.sampled_from(["smtp:*;1", "smtp:;1", "fabrikam.com", "*.contoso.com"])),
        "SenderIPAddresses": st.lists(
            st.sampled_from(["192.0.2.0/24", "192.0.2.7", "10.0.0.0/24", "127.0.0.1", "198.51.100.0/25"])
        ),
        "RequireTls": st.booleans(),
        "RestrictDomainsToIPAddresses": st.booleans(),
        "RestrictDomainsToCertificate": st.booleans(),
        "TlsSenderCertificateName": st.sampled_from([None, "", "*.mimecast.com"]),
        "TreatMessagesAsInternal": st.booleans(),
        "CloudServicesMailEnabled": st.booleans(),
        "EFSkipLastIP": st.booleans(),
        "EFSkipIPs": st.lists(st.sampled_from(["192.0.2.1-192.0.2.9", "198.51.100.0/24"])),
        "TrustedOrganizations": st.lists(st.just("contoso.onmicrosoft.com")),
    },
)
_live_outbound_props = st.fixed_dictionaries(
    {
        "Name": st.sampled_from(["a", "B", "c"]),
        "ConnectorType": st.sampled_from(["Partner", "OnPremises"]),
    },
    optional={
        "Enabled": st.booleans(),
        "TestMode": st.booleans(),
        "RecipientDomains": st.lists(
            st.sampled_from(["*", "fabrikam.com", "*.fabrikam.com", "a.fabrikam.com"])
        ),
        "AllAcceptedDomains": st.booleans(),
        "IsTransportRuleScoped": st.booleans(),
        "UseMXRecord": st.booleans(),
        "SmartHosts": st.lists(st.sampled_from(["mx.fabrikam.com", "192.0.2.1"])),
        "TlsSettings": st.sampled_from([None, "EncryptionOnly", "CertificateValidation", "DomainValidation"]),
        "TlsDomain": st.sampled_from([None, "", "mx.fabrikam.com"]),
        "SmtpDaneMode": st.sampled_from(["None", "Opportunistic", "Mandatory"]),
        "MtaStsMode": st.sampled_from(["None", "Opportunistic"]),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    inbound_props=st.lists(_live_inbound_props, max_size=4),
    outbound_props=st.lists(_live_outbound_props, max_size=4),
)
def test_any_live_state_gives_well_formed_findings(
    inbound_props: list[dict[str, Any]], outbound_props: list[dict[str, Any]]
) -> None:
    connectors: list[Connector] = []
    for props in inbound_props:
        with contextlib.suppress(ValidationError):
            connectors.append(from_live("InboundConnector", props))
    connectors += [from_live("OutboundConnector", props) for props in outbound_props]
    findings = check(connectors)
    for f in findings:
        assert f.rule in RULES_BY_ID and f.severity == RULES_BY_ID[f.rule].severity
        assert "Fix:" in f.message
    assert check(list(reversed(connectors))) == findings


# --- documentation and demo examples --------------------------------------------------------------------


def test_every_rule_is_documented() -> None:
    doc = (ROOT / "docs" / "posture.md").read_text(encoding="utf-8")
    for rule in RULES:
        assert f"### {rule.id}" in doc, rule.id
        assert rule.severity in doc


def _demo_files() -> list[Path]:
    return sorted((ROOT / "connectors" / "demo").glob("*.y*ml"))


@pytest.mark.skipif(not _demo_files(), reason="connectors/demo has no examples yet")
def test_demo_connectors_pass_clean() -> None:
    from reconciler.desired.connectors import load_connector_documents

    connectors: list[Connector] = []
    for path in _demo_files():
        loaded, problems = load_connector_documents(path)
        assert problems == [], problems
        connectors += [c.connector for c in loaded]
    risky = [(f.rule, f.name) for f in check(connectors) if f.severity != "info" and not f.skipped]
    assert risky == []
