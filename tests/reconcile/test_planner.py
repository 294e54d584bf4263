"""Planner: matching, renames, unmanaged policies, protection, thresholds, ignore_fields."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from reconciler.desired.config import TenantConfig
from reconciler.desired.connectors import AbsentConnector
from reconciler.errors import Location, PlanError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import MODELS, Connector, Kind
from reconciler.plan import Source
from reconciler.reconcile.planner import plan_tenant
from reconciler.reconcile.targeting import parse_targets


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


def test_protect_keeps_an_undeclared_connector_and_refuses_rename_away() -> None:
    live = live_of(inbound("Hybrid inbound"), inbound("Stray"))
    plan = plan_tenant("t", settings(unmanaged="delete", protect=["hybrid*"]), [], live)
    assert actions(plan) == [("delete", "InboundConnector", "Stray")]
    assert [(u.name, u.reason) for u in plan.unmanaged] == [
        ("Hybrid inbound", "kept under unmanaged: delete: protected (protect in exoform.yaml)")
    ]
    live = live_of(inbound("Hybrid inbound"))
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
    plan = plan_tenant("t", settings(unmanaged="delete", max_deletes=2), [], live)
    assert actions(plan) == [("delete", "InboundConnector", "Stray")]
    assert [u.name for u in plan.unmanaged] == [wizard.name]
    assert "Hybrid Configuration Wizard" in plan.unmanaged[0].reason
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
    plan = plan_tenant("t", settings(max_changes=None), desired, live)
    assert plan.unsafe and "4 of 10 existing connectors change" in plan.unsafe_reasons[0]
    small = live_of(*(inbound(n) for n in names[:9]))
    assert not plan_tenant("t", settings(max_changes=None), desired[:9], small).unsafe


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


def gone(name: str, kind: Kind = "InboundConnector", *, override: bool = False) -> AbsentConnector:
    where = Location("connectors/common/relay.yaml", 7, 1)
    return AbsentConnector(kind, name, where, "connectors/common", (where,) if override else ())


@pytest.mark.parametrize("policy", ["report", "ignore", "delete"])
def test_absent_deletes_a_live_connector_under_every_policy(policy: str) -> None:
    live = live_of(inbound("Printer relay"), inbound("Stray"))
    plan = plan_tenant(
        "t", settings(unmanaged=policy, max_deletes=2), [], live, absent=[gone("printer RELAY")]
    )
    deletes = [c for c in plan.changes if c.action == "delete"]
    assert deletes[0].name == "Printer relay"
    assert deletes[0].reason == "declared absent in connectors/common/relay.yaml:7"
    assert deletes[0].declared_absent and deletes[0].source is not None
    assert deletes[0].source.file == "connectors/common/relay.yaml"
    # the policy still decides about the connector nobody declared
    assert [c.name for c in deletes[1:]] == (["Stray"] if policy == "delete" else [])
    assert [u.name for u in plan.unmanaged] == (["Stray"] if policy == "report" else [])


def test_absent_of_a_connector_that_is_not_live_plans_nothing() -> None:
    plan = plan_tenant("t", settings(), [], live_of(), absent=[gone("Printer relay")])
    assert plan.changes == [] and not plan.unsafe


def test_absent_from_an_override_says_so_and_counts_against_max_deletes() -> None:
    live = live_of(inbound("A"), inbound("B"))
    plan = plan_tenant("t", settings(), [], live, absent=[gone("A", override=True), gone("B")])
    assert plan.changes[0].reason.startswith("declared absent for this tenant by an Override in ")
    assert plan.unsafe and "2 deletes exceed max_deletes 1" in plan.unsafe_reasons[0]


def test_absent_of_a_protected_connector_is_refused_naming_both() -> None:
    live = live_of(inbound("Hybrid inbound"))
    with pytest.raises(PlanError) as refused:
        plan_tenant("t", settings(protect=["hybrid*"]), [], live, absent=[gone("Hybrid inbound")])
    assert "'Hybrid inbound' is protected (protect in exoform.yaml)" in str(refused.value)
    assert "remove absent: true at connectors/common/relay.yaml:7" in str(refused.value)


@pytest.mark.parametrize("pattern", ["InboundConnector/Printer relay", "*/printer relay v2"])
def test_a_target_on_either_name_of_a_rename_plans_the_rename_never_a_delete(pattern: str) -> None:
    live = live_of(inbound("Printer relay"), inbound("Other"))
    desired = [inbound("Printer relay v2", renamed_from=["Printer relay"]), inbound("Other")]
    plan = plan_tenant("t", settings(unmanaged="delete"), desired, live, parse_targets([pattern]))
    assert actions(plan) == [("update", "InboundConnector", "Printer relay v2")]
    assert plan.changes[0].previous_name == "Printer relay"


def test_changes_carry_where_their_connector_is_declared() -> None:
    where = Source("connectors/common/mail.yaml", 3, 1, "connectors/common", ["connectors/t/o.yaml:1:1"])
    live = live_of(inbound("Old"))
    desired = [inbound("New"), inbound("Old", comment="x")]
    sources = {("InboundConnector", "new"): where, ("InboundConnector", "old"): where}
    plan = plan_tenant("t", settings(), desired, live, sources=sources)
    assert [c.source for c in plan.changes] == [where, where]


def test_max_changes_guards_a_small_tenant_by_default() -> None:
    names = ["A", "B", "C", "D", "E"]
    live = live_of(*(inbound(n) for n in names))
    rewritten = [inbound(n, comment="bad variable") for n in names[:4]] + [inbound("E"), inbound("New")]
    plan = plan_tenant("t", settings(), rewritten, live)
    assert plan.unsafe_reasons == [
        "4 existing connectors change (updated or deleted), more than max_changes 3"
    ]
    # three updates and any number of creates are within the default
    assert not plan_tenant("t", settings(), [*rewritten[1:], inbound("N2"), inbound("N3")], live).unsafe
    assert not plan_tenant("t", settings(max_changes=4), rewritten, live).unsafe
