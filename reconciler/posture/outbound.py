"""Outbound rules (EXO-OUT-*): how each outbound connector sends mail, and routes no active connector
covers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from reconciler.model import Connector, OutboundConnector
from reconciler.posture.engine import REF_NEW_OUTBOUND, REF_ROUTING, Hit, rule
from reconciler.posture.facts import covers, listed, outbound_of


def _smart_hosted(c: OutboundConnector) -> bool:
    return not c.use_mx_record and bool(c.smart_hosts)


@rule(
    "EXO-OUT-001",
    "error",
    "Outbound connector to smart hosts without required TLS (tls_settings empty)",
    REF_NEW_OUTBOUND,
)
def smart_host_no_tls(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in outbound_of(connectors):
        if not _smart_hosted(c) or c.tls_settings is not None:
            continue
        yield Hit(
            c,
            "tls_settings",
            f"mail to the smart hosts {listed(c.smart_hosts)} is sent with opportunistic TLS only: anyone "
            "on the path can strip STARTTLS and read or change the mail. Fix: set tls_settings: "
            "CertificateValidation, or DomainValidation with tls_domain set to the smart host's "
            "certificate name.",
        )


@rule(
    "EXO-OUT-002",
    "warning",
    "Outbound connector to smart hosts with tls_settings EncryptionOnly (certificate not checked)",
    REF_NEW_OUTBOUND,
)
def smart_host_encryption_only(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in outbound_of(connectors):
        if not _smart_hosted(c) or c.tls_settings != "EncryptionOnly":
            continue
        yield Hit(
            c,
            "tls_settings",
            f"mail to the smart hosts {listed(c.smart_hosts)} is encrypted but the certificate is not "
            "checked: anyone who can redirect the connection (DNS, routing) can pose as the smart host "
            "and receive the mail. Fix: set tls_settings: CertificateValidation, or DomainValidation with "
            "tls_domain set to the smart host's certificate name.",
        )


@rule(
    "EXO-OUT-003",
    "warning",
    "tls_settings DomainValidation without tls_domain",
    REF_NEW_OUTBOUND,
)
def domain_validation_no_domain(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in outbound_of(connectors):
        if c.tls_settings != "DomainValidation" or c.tls_domain:
            continue
        yield Hit(
            c,
            "tls_domain",
            "tls_settings is DomainValidation but tls_domain is empty, so no certificate name is pinned "
            "and the connector does not check what its setting says. Fix: set tls_domain to the domain "
            "in the receiving server's certificate (like mail.contoso.com or *.contoso.com).",
        )


@rule(
    "EXO-OUT-004",
    "warning",
    "smtp_dane_mode None on a connector that delivers by MX",
    REF_NEW_OUTBOUND,
)
def dane_none(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in outbound_of(connectors):
        if not c.use_mx_record or c.smtp_dane_mode != "None":
            continue
        yield Hit(
            c,
            "smtp_dane_mode",
            "smtp_dane_mode is None: SMTP DANE is off for mail this connector delivers by MX, so a "
            "recipient domain's DNSSEC-signed TLSA records no longer protect it from TLS downgrade or a "
            "forged certificate. Fix: remove smtp_dane_mode (default Opportunistic) or set it to "
            "Mandatory for recipients that publish DANE.",
        )


@rule(
    "EXO-OUT-005",
    "warning",
    "mta_sts_mode None on a connector that delivers by MX",
    REF_NEW_OUTBOUND,
)
def mta_sts_none(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in outbound_of(connectors):
        if not c.use_mx_record or c.mta_sts_mode != "None":
            continue
        yield Hit(
            c,
            "mta_sts_mode",
            "mta_sts_mode is None: MTA-STS is off for mail this connector delivers by MX, so a recipient "
            "domain's policy requiring TLS with a valid certificate is ignored and delivery can be "
            "downgraded. Fix: remove mta_sts_mode (default Opportunistic).",
        )


@rule(
    "EXO-OUT-006",
    "warning",
    "Disabled or test-mode outbound connector is the only route for a recipient domain",
    REF_ROUTING,
)
def inactive_route(connectors: Sequence[Connector]) -> Iterator[Hit]:
    outbound = [c for c in outbound_of(connectors) if not c.is_transport_rule_scoped]
    active = [c for c in outbound if c.enabled and not c.test_mode]
    for c in outbound:
        if c.enabled and not c.test_mode:
            continue
        uncovered = [
            d
            for d in c.recipient_domains
            if not any(o is not c and any(covers(e, d) for e in o.recipient_domains) for o in active)
        ]
        if c.all_accepted_domains and not any(o is not c and o.all_accepted_domains for o in active):
            uncovered.append("all accepted domains")
        if not uncovered:
            continue
        state = "disabled" if not c.enabled else "in test mode"
        state = "disabled and in test mode" if not c.enabled and c.test_mode else state
        yield Hit(
            c,
            "enabled" if not c.enabled else "test_mode",
            f"this connector is {state} and no active connector covers {listed(uncovered)}: mail to those "
            "recipients leaves by the public MX route instead, without this connector's smart hosts and "
            "TLS settings (a partner's private route or an outbound filtering or encryption gateway is "
            "silently bypassed). Fix: enable it (test_mode: false), or delete it if the route is no "
            "longer needed.",
        )
