"""Causes of changes (``plan --base``): the files, a repair of a change made outside exoform, or both."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from reconciler.desired.config import TenantConfig
from reconciler.desired.connectors import AbsentConnector, LoadedConnector, TenantDesired
from reconciler.desired.revision import BaseDesired
from reconciler.errors import Location
from reconciler.live import LiveState
from reconciler.model import Connector
from reconciler.plan import Cause, TenantPlan
from reconciler.reconcile.cause import mark_at_base, mark_causes
from reconciler.reconcile.planner import plan_tenant
from reconciler.reconcile.targeting import parse_targets
from tests.reconcile.test_planner import inbound, live_of, outbound, settings

AT = Location("connectors/x.yaml", 1, 1)


def desired(*connectors: Connector, absent: tuple[str, ...] = (), **policy: Any) -> TenantDesired:
    config: TenantConfig = settings(**policy)
    gone = [AbsentConnector("InboundConnector", name, AT) for name in absent]
    return TenantDesired("t", config, [LoadedConnector(c, AT, {}) for c in connectors], absent=gone)


def causes(now: TenantDesired, base: TenantDesired | None, live: LiveState) -> dict[str, Cause | None]:
    plan = plan_tenant("t", now.settings, [c.connector for c in now.connectors], live, absent=now.absent)
    return {f"{c.action} {c.name}": c.cause for c in mark_causes(plan, base, live)}


def test_an_edit_in_the_files_is_the_files_and_a_live_edit_is_a_repair() -> None:
    base = desired(inbound("Relay"), outbound("Out"))
    now = desired(inbound("Relay"), outbound("Out", comment="via the filter"))
    live = live_of(inbound("Relay", sender_domains=["contoso.com", "evil.example"]), outbound("Out"))
    assert causes(now, base, live) == {"update Out": "files", "update Relay": "repair"}


def test_the_pr_editing_a_field_also_changed_live_is_both() -> None:
    base = desired(inbound("Relay"))
    now = desired(inbound("Relay", sender_domains=["contoso.com", "fabrikam.com"]))
    live = live_of(inbound("Relay", sender_domains=["evil.example"]))
    assert causes(now, base, live) == {"update Relay": "both"}


def test_a_pr_edit_and_a_live_edit_of_other_fields_of_one_connector_is_both() -> None:
    base = desired(inbound("Relay"))
    now = desired(inbound("Relay", comment="reviewed"))
    live = live_of(inbound("Relay", sender_domains=["evil.example"]))
    assert causes(now, base, live) == {"update Relay": "both"}


def test_a_pr_accepting_a_live_value_and_editing_another_field_is_the_files() -> None:
    base = desired(inbound("Relay"))
    now = desired(inbound("Relay", sender_domains=["evil.example"], comment="reviewed"))
    live = live_of(inbound("Relay", sender_domains=["evil.example"]))
    assert causes(now, base, live) == {"update Relay": "files"}


def test_creates_a_new_file_is_the_files_a_connector_deleted_live_is_a_repair() -> None:
    base = desired(inbound("Relay"))
    now = desired(inbound("Relay"), outbound("New"))
    assert causes(now, base, live_of()) == {"create New": "files", "create Relay": "repair"}
    changed = desired(inbound("Relay", comment="new"), outbound("New"))
    assert causes(changed, base, live_of())["create Relay"] == "both"


def test_deletes_by_the_files_or_of_a_connector_created_outside_exoform() -> None:
    live = live_of(inbound("Relay"), inbound("Made in the admin center"))
    base = desired(inbound("Relay"), unmanaged="delete")
    now = desired(absent=("Relay",), unmanaged="delete")
    assert causes(now, base, live) == {"delete Made in the admin center": "repair", "delete Relay": "files"}
    # A policy change in the PR deletes what the base left alone: the files'.
    reported = desired(inbound("Relay"))
    assert causes(base, reported, live) == {"delete Made in the admin center": "files"}


def test_a_tenant_not_declared_at_the_base_is_all_the_files() -> None:
    now = desired(inbound("Relay", comment="x"), inbound("New"))
    assert set(causes(now, None, live_of(inbound("Relay"))).values()) == {"files"}


def test_a_targeted_plan_is_marked_within_its_targets() -> None:
    base = desired(inbound("Relay"), inbound("Other"))
    live = live_of(inbound("Relay", comment="live edit"), inbound("Other", comment="live edit"))
    targets = parse_targets(["InboundConnector/Relay"])
    plan = plan_tenant("t", base.settings, [c.connector for c in base.connectors], live, targets)
    marked = mark_causes(plan, base, live, targets)
    assert [(c.name, c.cause) for c in marked] == [("Relay", "repair")]


def test_a_base_that_cannot_be_planned_leaves_the_changes_unmarked_with_a_warning() -> None:
    live = live_of(inbound("Relay", comment="live edit"))
    now = desired(inbound("Relay"))
    plan = plan_tenant("t", now.settings, [c.connector for c in now.connectors], live)
    # At the base the relay was an outbound connector of the same name: the base cannot be planned.
    base = BaseDesired("main", "0" * 40, {"t": desired(outbound("Relay"))})
    warning = mark_at_base(base, plan, live)
    assert warning is not None and warning.startswith("tenant t: its files at main cannot be planned")
    assert [c.cause for c in plan.changes] == [None]
    unloadable = BaseDesired("main", "0" * 40, problems={"t": "x.yaml:3:1: error: bad"})
    warning = mark_at_base(unloadable, plan, live)
    assert warning is not None and "x.yaml:3:1: error: bad" in warning


def test_marking_keeps_everything_else_of_the_plan() -> None:
    base = desired(inbound("Relay"))
    live = live_of(inbound("Relay", comment="live edit"))
    plan: TenantPlan = plan_tenant("t", base.settings, [c.connector for c in base.connectors], live)
    marked = mark_causes(plan, base, live)
    assert [c.cause for c in marked] == ["repair"]
    assert [replace(c, cause=None) for c in marked] == plan.changes
