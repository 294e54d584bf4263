"""The usage rules (EXO-USE-*): which changes cut mail off, and what a traffic report makes of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler import posture
from reconciler.model import InboundConnector, Kind, SkipCheck
from reconciler.monitor.traffic import ConnectorTraffic, TenantTraffic
from reconciler.plan import Change
from reconciler.posture.usage import cut_off, review_findings, unused_findings

END = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def _update(kind: Kind, before: dict[str, Any], after: dict[str, Any]) -> Change:
    fields = [k for k in after if before.get(k) != after[k]]
    return Change("update", kind, "C", fields, before, after)


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (Change("delete", "InboundConnector", "C", [], {"enabled": True}, None), "deletes it"),
        (_update("InboundConnector", {"enabled": True}, {"enabled": False}), "disables it"),
        (
            _update(
                "InboundConnector",
                {"sender_ip_addresses": ["192.0.2.1", "192.0.2.2"]},
                {"sender_ip_addresses": ["192.0.2.2"]},
            ),
            "removes sender_ip_addresses 192.0.2.1",
        ),
        (
            _update(
                "OutboundConnector",
                {"smart_hosts": ["a.example", "b.example"]},
                {"smart_hosts": ["b.example"]},
            ),
            "removes smart_hosts a.example",
        ),
        (
            _update(
                "InboundConnector",
                {"sender_domains": ["a.example"]},
                {"sender_domains": ["a.example", "b.example"]},
            ),
            None,
        ),
        (_update("InboundConnector", {"enabled": False}, {"enabled": True}), None),
        (_update("OutboundConnector", {"comment": "x"}, {"comment": "y"}), None),
        (Change("create", "InboundConnector", "C", [], None, {"enabled": True}), None),
    ],
)
def test_what_a_change_cuts_off(change: Change, said: str | None) -> None:
    assert cut_off(change) == said


def _report(status: str = "complete", **figure: Any) -> TenantTraffic:
    values: dict[str, Any] = dict(
        kind="InboundConnector",
        name="C",
        method="observed",
        messages=0,
        observed=0,
        candidates=0,
        first_seen=None,
        last_seen=None,
        top_domains=(),
        how="observed: not named in the detail events of any message in the window (all read)",
    )
    values.update(figure)
    return TenantTraffic(
        tenant="t",
        start=END - timedelta(hours=48),
        end=END,
        status=status,  # type: ignore[arg-type]
        connectors=(ConnectorTraffic(**values),),
        error="throttled" if status != "complete" else None,
    )


DELETE = Change("delete", "InboundConnector", "C", [], {"enabled": True}, None)


def test_a_failed_read_is_unknown_in_review_and_names_no_connector_unused() -> None:
    failed = _report("failed", method="unknown", messages=None, how="unknown: throttled")
    (review,) = review_findings([DELETE], failed, {})
    assert review.severity == "info" and "unknown" in review.message and "no traffic" not in review.message
    (tenant_wide,) = unused_findings(failed, {})
    assert tenant_wide.name is None and "no connector is said to be unused" in tenant_wide.message


def test_used_unused_and_skipped() -> None:
    used = _report(messages=3, observed=3, last_seen=END, how="observed: ...")
    (finding,) = review_findings([DELETE], used, {})
    assert finding.severity == "warning" and "in use: 3 message(s) in the last 48 h" in finding.message
    assert unused_findings(used, {}) == []
    idle = _report()
    skips = {("InboundConnector", "c"): [SkipCheck(rule="exo-use-002", reason="kept for DR")]}
    (unused,) = unused_findings(idle, skips)
    assert unused.skipped_reason == "kept for DR" and unused.source == "traffic"
    assert unused_findings(idle, {}, leave_out={("InboundConnector", "c")}) == []


def test_skip_checks_may_name_the_usage_rules() -> None:
    c = InboundConnector.model_validate(
        {
            "name": "C",
            "connector_type": "OnPremises",
            "sender_domains": ["*"],
            "sender_ip_addresses": ["192.0.2.1"],
            "skip_checks": [{"rule": "EXO-USE-001", "reason": "r"}, {"rule": "EXO-USE-002", "reason": "r"}],
        }
    )
    assert not [f for f in posture.check([c]) if f.rule == posture.UNKNOWN_RULE]
