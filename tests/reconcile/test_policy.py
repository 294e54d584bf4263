"""policy: protected names (globs, case-insensitive) and the max_deletes / max_change_fraction thresholds."""

from __future__ import annotations

from reconciler.plan import Action, Change, Plan, TenantPlan
from reconciler.reconcile.policy import (
    MIN_EXISTING_FOR_FRACTION,
    fleet_unsafe_reasons,
    is_protected,
    protection_violations,
    ring_split,
    unsafe_reasons,
)


def change(action: Action, name: str, previous_name: str | None = None, guid: str = "") -> Change:
    return Change(
        action=action,
        kind="InboundConnector",
        name=name,
        fields=["name"] if previous_name else [],
        before={"name": previous_name or name},
        after=None if action == "delete" else {"name": name},
        previous_name=previous_name,
        reason="no file declares it (unmanaged: delete)" if action == "delete" else "",
        guid=guid,
    )


def test_protect_globs_match_case_insensitively() -> None:
    assert is_protected("Hybrid inbound", ["hybrid*"])
    assert is_protected("hybrid INBOUND", ["Hybrid inbound"])
    assert not is_protected("Partner inbound", ["Hybrid*"])
    assert not is_protected("Hybrid inbound", [])


def test_deleting_a_protected_connector_is_a_violation() -> None:
    (problem,) = protection_violations([change("delete", "Hybrid inbound")], ["Hybrid*"])
    assert "'Hybrid inbound' is protected" in problem and "deletes it" in problem
    assert "(no file declares it (unmanaged: delete))" in problem
    assert protection_violations([change("delete", "Partner")], ["Hybrid*"]) == []
    assert protection_violations([change("update", "Hybrid inbound")], ["Hybrid*"]) == []


def test_renaming_a_protected_connector_away_is_a_violation_but_within_protection_is_not() -> None:
    (problem,) = protection_violations([change("update", "Partner", previous_name="Hybrid in")], ["Hybrid*"])
    assert "'Hybrid in' is protected but the plan renames it away to 'Partner'" in problem
    assert (
        protection_violations([change("update", "Hybrid in 2", previous_name="Hybrid in")], ["Hybrid*"]) == []
    )


WIZARD = "0b6c5a52-3f0e-4c8e-9d0a-7c1e2f3a4b5c"


def test_deleting_or_renaming_a_hybrid_wizard_connector_is_a_violation() -> None:
    name = "Inbound from 9e0f2f4c-1a2b-4c3d-8e9f-0a1b2c3d4e5f"
    (deleted,) = protection_violations([change("delete", name, guid=WIZARD)], [], hybrid_wizard={WIZARD})
    assert f"'{name}' is protected" in deleted and "Hybrid Configuration Wizard" in deleted
    assert "protect_hybrid_wizard" in deleted and "deletes it" in deleted
    (renamed,) = protection_violations(
        [change("update", "On-premises inbound", previous_name=name, guid=WIZARD)], [], hybrid_wizard={WIZARD}
    )
    assert f"'{name}' is protected" in renamed and "renames it away to 'On-premises inbound'" in renamed


def test_other_connectors_and_updates_in_place_are_not_hybrid_wizard_violations() -> None:
    assert (
        protection_violations([change("delete", "Partner", guid="other")], [], hybrid_wizard={WIZARD}) == []
    )
    assert (
        protection_violations([change("update", "Inbound from x", guid=WIZARD)], [], hybrid_wizard={WIZARD})
        == []
    )


def test_a_connector_both_globbed_and_made_by_the_wizard_is_reported_once() -> None:
    problems = protection_violations([change("delete", "Hybrid in", guid=WIZARD)], ["hybrid*"], {WIZARD})
    assert len(problems) == 1


def test_more_deletes_than_max_deletes_is_unsafe() -> None:
    deletes = [change("delete", f"c{i}") for i in range(2)]
    assert unsafe_reasons(deletes, 100, max_deletes=2, max_change_fraction=1.0) == []
    assert unsafe_reasons(deletes, 100, max_deletes=1, max_change_fraction=1.0) == [
        "2 deletes exceed max_deletes 1"
    ]


def test_changing_more_than_max_change_fraction_of_existing_connectors_is_unsafe() -> None:
    updates = [change("update", f"c{i}") for i in range(4)]
    (reason,) = unsafe_reasons(updates, 10, max_deletes=5, max_change_fraction=0.3)
    assert reason == "4 of 10 existing connectors change (40%), more than max_change_fraction 30%"
    assert unsafe_reasons(updates[:3], 10, max_deletes=5, max_change_fraction=0.3) == []
    creates = [change("create", f"n{i}") for i in range(10)]
    assert unsafe_reasons(creates, 10, max_deletes=5, max_change_fraction=0.3) == []


def test_the_fraction_applies_only_from_10_existing_connectors_on() -> None:
    assert MIN_EXISTING_FOR_FRACTION == 10
    every = [change("update", f"c{i}") for i in range(9)]
    assert unsafe_reasons(every, 9, max_deletes=5, max_change_fraction=0.3) == []
    assert unsafe_reasons([*every, change("update", "c9")], 10, max_deletes=5, max_change_fraction=0.3)


def test_more_updated_and_deleted_connectors_than_max_changes_is_unsafe_creates_aside() -> None:
    touched = [change("update", "a"), change("update", "b"), change("delete", "c")]
    creates = [change("create", f"n{i}") for i in range(5)]
    assert unsafe_reasons(touched + creates, 4, max_deletes=5, max_change_fraction=1, max_changes=3) == []
    assert unsafe_reasons(
        [*touched, change("update", "d")], 4, max_deletes=5, max_change_fraction=1, max_changes=3
    ) == ["4 existing connectors change (updated or deleted), more than max_changes 3"]
    assert unsafe_reasons(touched, 4, max_deletes=5, max_change_fraction=1, max_changes=None) == []


def _fleet(*changed: bool) -> Plan:
    return Plan(
        [TenantPlan(f"t{i}", "", changes=[change("create", "x")] if c else []) for i, c in enumerate(changed)]
    )


def test_more_tenants_with_changes_than_max_tenants_changed_makes_the_run_unsafe() -> None:
    plan = _fleet(True, False, True, True)
    assert fleet_unsafe_reasons(plan, None) == []
    assert fleet_unsafe_reasons(plan, 3) == []
    assert fleet_unsafe_reasons(plan, 2) == ["3 tenants change, more than max_tenants_changed 2"]


def test_ring_split_picks_a_ring_and_the_earlier_rings_tenants_with_changes() -> None:
    plan = _fleet(True, False, True, True)
    rings = {"t0": 0, "t1": 0, "t2": 1, "t3": 2}
    mine, earlier = ring_split(plan, rings, 2)
    assert [t.tenant for t in mine] == ["t3"]
    assert [(r, t.tenant) for r, t in earlier] == [(0, "t0"), (1, "t2")]  # t1 has no changes
    mine, earlier = ring_split(plan, rings, 0)
    assert [t.tenant for t in mine] == ["t0", "t1"] and earlier == []
