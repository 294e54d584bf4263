"""Usage rules (EXO-USE-*): what message trace says about a change under review and about idle connectors.

Unlike the other rules these judge traffic, not settings: their findings come from a tenant's traffic
report (:mod:`reconciler.monitor.traffic`), made by :func:`review_findings` (a plan's changes that cut
mail off) and :func:`unused_findings` (status and drift), when the tenant sets ``traffic: true``.  The
rules are in :data:`reconciler.posture.rules.RULES` so ``skip_checks`` can name them; their checks over
connectors find nothing.

Contracts:
- Every finding has ``source: traffic``: an observation of mail flow in a window, never a verdict on the
  files, so it never fails ``plan`` nor counts as drift at any ``--fail-on`` (:mod:`reconciler.verdicts`
  counts ``files`` and ``live`` findings only).
- A failed or partial trace read is said to be unknown, never "no traffic" (:func:`in_use_summary`).
- Pure: the same changes, report and skips give the same findings.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from reconciler.model import Connector, Kind, SkipCheck
from reconciler.posture.engine import Hit, _skip_reason, rule
from reconciler.posture.findings import Finding, Severity

if TYPE_CHECKING:
    from reconciler.monitor.traffic import TenantTraffic
    from reconciler.plan import Change

REF_MONITORING = "docs/monitoring.md"
#: The list fields whose removed items cut mail off: who may send in, where mail may go out, and through
#: which hosts.
NARROWING_FIELDS = ("sender_domains", "sender_ip_addresses", "recipient_domains", "smart_hosts")


@rule(
    "EXO-USE-001",
    "warning",
    "A change deletes, disables or narrows a connector that carried mail in the traffic window",
    REF_MONITORING,
)
def cuts_off_traffic(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # Judged on a plan's changes and the tenant's traffic (review_findings), not on connectors.
    return iter(())


@rule(
    "EXO-USE-002",
    "info",
    "A connector carried no mail in the traffic window: unused connectors are attack surface",
    REF_MONITORING,
)
def unused_connector(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # Judged on the tenant's traffic (unused_findings), not on connectors.
    return iter(())


def cut_off(change: Change) -> str | None:
    """What ``change`` takes away from a connector's mail flow ("deletes it", "disables it", "removes
    sender_domains contoso.com"), or None when it takes nothing away (a create, a widening, a rename)."""
    if change.action == "delete":
        return "deletes it"
    if change.action != "update" or change.before is None or change.after is None:
        return None
    if change.before.get("enabled") is True and change.after.get("enabled") is False:
        return "disables it"
    removed = [
        f"{fc.field} {', '.join(str(v) for v in fc.removed)}"
        for fc in change.field_changes
        if fc.field in NARROWING_FIELDS and fc.removed
    ]
    return f"removes {'; '.join(removed)}" if removed else None


def live_name(change: Change) -> str:
    """The name the connector has in the tenant now (before a rename)."""
    return change.previous_name or change.name


def review_findings(
    changes: Sequence[Change],
    report: TenantTraffic,
    skips: dict[tuple[Kind, str], Sequence[SkipCheck]],
    tenant_skips: Sequence[SkipCheck] = (),
) -> list[Finding]:
    """An EXO-USE-001 finding per change of ``changes`` that cuts mail off (:func:`cut_off`): a warning
    when the connector carried mail in the window (or may have: "at least N" of an incomplete read), info
    when it carried none, info "traffic unknown" when the read failed.  ``skips`` maps (kind, casefolded
    live name) to the connector's ``skip_checks``."""
    from reconciler.monitor.traffic import in_use_summary

    found = []
    for change in changes:
        what = cut_off(change)
        if what is None:
            continue
        name = live_name(change)
        summary = in_use_summary(report, change.kind, name)
        severity: Severity = "info"
        if summary.startswith("in use"):
            severity = "warning"
            message = (
                f"The change {what}, and the connector is {summary}: mail still flowing through it would "
                "be refused or routed otherwise. Check with whoever sends it before applying."
            )
        elif summary.startswith("no traffic"):
            message = f"The change {what}; the connector had {summary}."
        else:
            message = (
                f"The change {what}; whether the connector still carries mail is unknown: {summary}. "
                "Check its traffic with exoform traffic before applying."
            )
        found.append(_finding(cuts_off_traffic.id, severity, change.kind, name, message, skips, tenant_skips))
    return found


def unused_findings(
    report: TenantTraffic,
    skips: dict[tuple[Kind, str], Sequence[SkipCheck]],
    tenant_skips: Sequence[SkipCheck] = (),
    leave_out: Collection[tuple[Kind, str]] = (),
) -> list[Finding]:
    """An EXO-USE-002 (info) finding per connector of ``report`` that carried no mail in the window, and
    one for the tenant when the trace could not be read whole (then nothing is said to be unused).
    Connectors in ``leave_out`` (kind, casefolded name) are skipped (a change's finding covers them)."""
    from reconciler.monitor.traffic import in_use_summary, window_text

    if report.status != "complete":
        message = (
            f"Connector traffic {window_text(report)} is unknown: the message trace could not be read "
            f"({report.status}: {report.error or 'no reason given'}); no connector is said to be unused."
        )
        return [_finding(unused_connector.id, "info", None, None, message, skips, tenant_skips)]
    found = []
    for figure in report.connectors:
        if figure.messages != 0 or (figure.kind, figure.name.casefold()) in leave_out:
            continue
        summary = in_use_summary(report, figure.kind, figure.name)
        message = (
            f"The connector had {summary}. An unused connector is attack surface: a way in (or out) that "
            "nobody watches. Delete it (absent: true) or disable it if it is no longer needed."
        )
        found.append(
            _finding(unused_connector.id, "info", figure.kind, figure.name, message, skips, tenant_skips)
        )
    return found


def _finding(
    rule_id: str,
    severity: Severity,
    kind: Kind | None,
    name: str | None,
    message: str,
    skips: dict[tuple[Kind, str], Sequence[SkipCheck]],
    tenant_skips: Sequence[SkipCheck],
) -> Finding:
    own = skips.get((kind, name.casefold()), ()) if kind is not None and name is not None else ()
    reason = _skip_reason(own, rule_id) or _skip_reason(tenant_skips, rule_id)
    finding = Finding(
        rule=rule_id,
        severity=severity,
        kind=kind,
        name=name,
        message=message,
        reference=REF_MONITORING,
        source="traffic",
    )
    return replace(finding, skipped_reason=reason) if reason else finding


__all__ = [
    "NARROWING_FIELDS",
    "cut_off",
    "cuts_off_traffic",
    "live_name",
    "review_findings",
    "unused_connector",
    "unused_findings",
]
