"""Planner: matching, renames, unmanaged policies, protection, thresholds, ignore_fields."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reconciler.desired.config import TenantConfig
from reconciler.errors import PlanError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import MODELS, Connector, Kind
from reconciler.reconcile.planner import plan_tenant


def inbound(name: str, **fields: Any) -> Connector:
    data = {"name": name, "connector_type": "Partner", "sender_domains": ["contoso.com"]} | fields
    return MODELS["InboundConnector"].model_validate(data)


def outbound(name: str, **fields: Any) -> Connector:
    data = {"name": name, "connector_type": "Partner", "recipient_domains": ["fabrikam.com"]} | fields
    return MODELS["OutboundConnector"].model_validate(data)


def live_of(*connectors: Connector, when: str = "2026-11-01T10:00:00.0000000Z") -> LiveState:
    items = [
        LiveConnector(
            kind=c.KIND,
            name=c.name,
            guid=str(uuid.uuid5(uuid.NAMESPACE_DNS, c.KIND + c.name)),
            connector=c,
            raw={"WhenChangedUTC": when},
        )
        for c in connectors
    ]
    return LiveState(tenant="t", connectors=items)


def settings(**kw: Any) -> TenantConfig:
    return TenantConfig.model_validate({"connectors": "c"} | kw)


def actions(plan: Any) -> list[tuple[str, Kind, str]]:
    return [(c.action, c.kind, c.name) for c in plan.changes]


def test_no_changes_when_equal_even_with_different_case_and_order() -> None:
    desired = [inbound("Relay", sender_domains=["B.com", "a.com"])]
    live = live_of(inbound("relay", sender_domains=["a.com", "b.com"]))
    plan = plan_tenant("t", settings(), desired, live)
    assert plan.changes == []


def test_create_update_and_unmanaged_report() -> None:
    desired = [inbound("New"), outbound("Out", tls_settings="CertificateValidation")]
    live = live_of(outbound("Out"), inbound("Stray"))
    plan = plan_tenant("t", settings(), desired, live)
    assert actions(plan) == [("create", "InboundConnector", "New"), ("update", "OutboundConnector", "Out")]
    update = plan.changes[1]
    assert update.fields == ["tls_settings"]
    assert update.before is not None and update.before["tls_settings"] is None
    assert update.after is not None and update.after["tls_settings"] == "CertificateValidation"
    assert update.fingerprint and update.guid
    assert update.when_changed_utc == "2026-11-01T10:00:00.0000000Z"
    assert [(u.kind, u.name) for u in plan.unmanaged] == [("InboundConnector", "Stray")]
    assert plan.summary() == "1 to create, 1 to update, 0 to delete; 1 unmanaged"


def test_multi_valued_fields_show_added_and_removed_items() -> None:
    desired = [inbound("In", sender_domains=["a.com", "c.com"])]
    live = live_of(inbound("In", sender_domains=["a.com", "b.com"]))
    change = plan_tenant("t", settings(), desired, live).changes[0]
    assert change.fields == ["sender_domains"]
    (delta,) = change.field_changes
    assert (delta.field, delta.added, delta.removed) == ("sender_domains", ("c.com",), ("b.com",))


def test_unmanaged_ignore_hides_and_delete_plans_deletion() -> None:
    live = live_of(inbound("Stray"))
    assert plan_tenant("t", settings(unmanaged="ignore"), [], live).unmanaged == []
    plan = plan_tenant("t", settings(unmanaged="delete"), [], live)
    assert actions(plan) == [("delete", "InboundConnector", "Stray")]
    assert plan.changes[0].fingerprint


def test_rename_is_an_update_of_name_not_delete_and_create() -> None:
    desired = [inbound("New name", renamed_from=["Old name"])]
    live = live_of(inbound("Old name"))
    plan = plan_tenant("t", settings(unmanaged="delete"), desired, live)
    assert actions(plan) == [("update", "InboundConnector", "New name")]
    assert plan.changes[0].previous_name == "Old name"
    assert plan.changes[0].fields == ["name"]


def test_protect_refuses_delete_by_policy_and_rename_away() -> None:
    live = live_of(inbound("Hybrid inbound"))
    with pytest.raises(PlanError, match="'Hybrid inbound' is protected"):
        plan_tenant("t", settings(unmanaged="delete", protect=["hybrid*"]), [], live)
    desired = [inbound("Other", renamed_from=["Hybrid inbound"])]
    with pytest.raises(PlanError, match="renames it away"):
        plan_tenant("t", settings(protect=["Hybrid*"]), desired, live)
    # renaming within the protected names is allowed
    desired = [inbound("Hybrid inbound v2", renamed_from=["Hybrid inbound"])]
    assert plan_tenant("t", settings(protect=["Hybrid*"]), desired, live).changes[0].fields == ["name"]


def test_hybrid_wizard_connectors_are_protected_by_default() -> None:
    live = live_of(inbound("Inbound from 5d2a1c3e-0000-4000-8000-000000000001"), inbound("Stray"))
    wizard = live.connectors[0]
    live.connectors[0] = LiveConnector(
        wizard.kind, wizard.name, wizard.guid, wizard.connector, raw={"ConnectorSource": "HybridWizard"}
    )
    with pytest.raises(PlanError, match="Hybrid Configuration Wizard"):
        plan_tenant("t", settings(unmanaged="delete", max_deletes=2), [], live)
    plan = plan_tenant(
        "t", settings(unmanaged="delete", max_deletes=2, protect_hybrid_wizard=False), [], live
    )
    assert {c.name for c in plan.changes if c.action == "delete"} == {wizard.name, "Stray"}


def test_max_deletes_marks_plan_unsafe() -> None:
    live = live_of(inbound("A"), inbound("B"))
    plan = plan_tenant("t", settings(unmanaged="delete"), [], live)
    assert plan.unsafe and "2 deletes exceed max_deletes 1" in plan.unsafe_reasons[0]
    assert not plan_tenant("t", settings(unmanaged="delete", max_deletes=2), [], live).unsafe


def test_change_fraction_applies_only_from_ten_connectors() -> None:
    names = [f"C{i}" for i in range(10)]
    live = live_of(*(inbound(n) for n in names))
    desired = [inbound(n, comment="x" if i < 4 else "") for i, n in enumerate(names)]
    plan = plan_tenant("t", settings(), desired, live)
    assert plan.unsafe and "4 of 10 existing connectors change" in plan.unsafe_reasons[0]
    small = live_of(*(inbound(n) for n in names[:9]))
    assert not plan_tenant("t", settings(), desired[:9], small).unsafe


def test_ignore_fields_are_not_diffed_tenant_and_connector_level() -> None:
    live = live_of(outbound("Out", comment="edited in the portal", enabled=False))
    desired = [outbound("Out", ignore_fields=["enabled"])]
    plan = plan_tenant("t", settings(ignore_fields=["comment"]), desired, live)
    assert plan.changes == []
    plan = plan_tenant("t", settings(), desired, live)
    assert plan.changes[0].fields == ["comment"]


def test_create_only_field_change_is_refused_with_advice() -> None:
    live = live_of(inbound("In"))
    with pytest.raises(PlanError, match="client_host_names can only be set when a connector is created"):
        plan_tenant("t", settings(), [inbound("In", client_host_names=["mail.contoso.com"])], live)


def test_a_create_or_rename_onto_the_other_kinds_live_name_is_refused() -> None:
    live = live_of(inbound("Same"), outbound("Old"))
    with pytest.raises(PlanError, match="the tenant's InboundConnector 'Same' has that name"):
        plan_tenant("t", settings(), [outbound("SAME")], live)
    with pytest.raises(PlanError, match="share one namespace"):
        plan_tenant("t", settings(), [outbound("same", renamed_from=["Old"])], live)
    plan = plan_tenant("t", settings(), [outbound("Other"), inbound("Same")], live_of(inbound("Same")))
    assert actions(plan) == [("create", "OutboundConnector", "Other")]


def test_live_values_exoform_would_refuse_are_still_read_and_planned() -> None:
    from reconciler.model import from_live

    odd = from_live(
        "InboundConnector",
        {
            "Name": "Filter",
            "ConnectorType": "Partner",
            "SenderDomains": ["smtp:*;1"],
            "EFSkipIPs": ["10.1.2.3"],
        },
    )
    assert odd.ef_skip_ips == ["10.1.2.3"]
    live = LiveState("t", [LiveConnector("InboundConnector", "Filter", "g", odd)])
    plan = plan_tenant("t", settings(), [inbound("Filter", sender_domains=["*"])], live)
    assert [(c.action, c.fields) for c in plan.changes] == [("update", ["ef_skip_ips"])]


def test_validation_recipients_written_by_validation_are_no_drift_unless_a_file_sets_them() -> None:
    validated = outbound("Out", validation_recipients=["postmaster@fabrikam.com"])
    live = live_of(validated)
    plan = plan_tenant("t", settings(), [outbound("Out")], live)
    assert plan.changes == []  # validation stored recipients: not drift, and apply never wipes them
    plan = plan_tenant("t", settings(), [outbound("Out", validation_recipients=[])], live)
    assert [c.fields for c in plan.changes] == [["validation_recipients"]]  # set explicitly: managed
    created = plan_tenant("t", settings(), [outbound("New")], live_of())
    assert "validation_recipients" not in created.changes[0].fields
    assert "validation_recipients" in created.changes[0].ignored


def test_fingerprint_does_not_follow_unmanaged_validation_recipients() -> None:
    before = plan_tenant("t", settings(), [outbound("Out", comment="x")], live_of(outbound("Out")))
    revalidated = live_of(outbound("Out", validation_recipients=["a@fabrikam.com"]))
    after = plan_tenant("t", settings(), [outbound("Out", comment="x")], revalidated)
    assert before.changes[0].fingerprint == after.changes[0].fingerprint
