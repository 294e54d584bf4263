"""Security posture checks: the connector settings that let spoofed mail in or let mail out unprotected.

The catalogue of rules, by what they judge: the engine's own rule (:mod:`.engine`), inbound connectors
(:mod:`.inbound`), sender IPs within and across connectors (:mod:`.sender_ips`) and outbound connectors
(:mod:`.outbound`), and traffic (:mod:`.usage`: judged on message trace, not on settings); the helpers
they share read connectors (:mod:`.facts`).

Contracts:
- :func:`check` is pure and deterministic: the same connectors and skips give the same findings, sorted by
  rule id, kind, connector name (case-insensitive), field and message (see :mod:`.engine` for skips).
- Every finding names a rule of :data:`RULES`; its message says what is risky and how to fix it.
- Rule ids are stable: a rule is never renumbered; a retired id is never reused.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.model import Connector, SkipCheck
from reconciler.posture import inbound, outbound, sender_ips, usage
from reconciler.posture.engine import UNKNOWN_RULE, Hit, Rule, config_rule, rule, run
from reconciler.posture.findings import SEVERITIES, SEVERITY_RANK, Finding, Severity, fails

#: Every rule, in id order.  Ids are stable; see docs/posture.md for the full text of each.
RULES: tuple[Rule, ...] = (
    config_rule,
    inbound.open_partner,
    inbound.star_unidentified,
    inbound.internal_open,
    inbound.internal_onprem,
    inbound.ef_missing,
    inbound.ef_open,
    inbound.mixed_restriction,
    inbound.disabled_inbound,
    sender_ips.ip_overlap,
    sender_ips.private_ip,
    outbound.smart_host_no_tls,
    outbound.smart_host_encryption_only,
    outbound.domain_validation_no_domain,
    outbound.dane_none,
    outbound.mta_sts_none,
    outbound.inactive_route,
    usage.cuts_off_traffic,
    usage.unused_connector,
)
RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def check(connectors: Sequence[Connector], tenant_skips: Sequence[SkipCheck] = ()) -> list[Finding]:
    """Every posture finding of one tenant's connectors, skipped ones included, in a stable order.

    ``connectors`` are the tenant's connectors of both kinds (desired or live models); each one's
    ``skip_checks`` switch rules off for it, ``tenant_skips`` for the whole tenant.  Never raises on odd
    live values: a value a rule cannot read makes that rule see nothing there.
    """
    return run(RULES, connectors, tenant_skips)


__all__ = [
    "RULES",
    "RULES_BY_ID",
    "SEVERITIES",
    "SEVERITY_RANK",
    "UNKNOWN_RULE",
    "Finding",
    "Hit",
    "Rule",
    "Severity",
    "check",
    "fails",
    "rule",
]
