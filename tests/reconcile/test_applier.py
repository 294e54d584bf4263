"""The applier on the in-memory provider: what it refuses, the order it writes in, where it stops."""

from __future__ import annotations

import dataclasses

import pytest

from reconciler.desired.config import TenantConfig
from reconciler.desired.connectors import AbsentConnector
from reconciler.errors import Location
from reconciler.model import InboundConnector
from reconciler.plan import TenantPlan
from reconciler.reconcile.applier import ChangeResult, apply_tenant, pending_changes
from reconciler.reconcile.planner import plan_tenant
from tests.providers.fake import FakeProvider


def _inbound(name: str, **values: object) -> InboundConnector:
    return InboundConnector.model_validate(
        {"name": name, "connector_type": "Partner", "sender_domains": ["fabrikam.com"], **values}
    )


SETTINGS = TenantConfig(connectors="c", unmanaged="delete", max_deletes=5)


def _plan(
    provider: FakeProvider, *desired: InboundConnector, settings: TenantConfig = SETTINGS
) -> TenantPlan:
    return plan_tenant(provider.tenant, settings, list(desired), provider.read())


def test_creates_and_updates_run_before_deletes_and_every_change_is_reported() -> None:
    provider = FakeProvider(connectors=[_inbound("Old"), _inbound("Kept", comment="before")])
    tplan = _plan(provider, _inbound("Kept", comment="after"), _inbound("New"))
    assert {c.action for c in tplan.changes} == {"create", "update", "delete"}
    seen: list[ChangeResult] = []
    report = apply_tenant(tplan, provider, SETTINGS, on_result=seen.append)
    assert report.ok and not report.refused
    assert [r.status for r in report.results] == ["applied"] * 3
    assert [r.change for r in report.results] == tplan.changes  # in the plan's order
    assert len(seen) == 3
    assert provider.attempts[-1] == ("delete", "Old")  # the only delete comes after every other write
    assert provider.names("InboundConnector") == ["Kept", "New"]
    assert provider.read().find("InboundConnector", "Kept").connector.comment == "after"  # type: ignore[union-attr]


def test_a_plan_whose_connector_changed_since_is_refused_whole() -> None:
    provider = FakeProvider(connectors=[_inbound("Kept", comment="before")])
    tplan = _plan(provider, _inbound("Kept", comment="after"), _inbound("New"))
    live = provider.read().find("InboundConnector", "Kept")
    assert live is not None
    provider.update(live, {"comment": "edited behind exoform's back"})
    writes = len(provider.attempts)
    report = apply_tenant(tplan, provider, SETTINGS)
    assert not report.ok and report.results == []
    assert any("'Kept' changed since the plan was made" in r for r in report.refused)
    assert len(provider.attempts) == writes  # nothing written, the create included
    assert provider.names("InboundConnector") == ["Kept"]


CI_VARIABLES = ("GITHUB_ACTIONS", "TF_BUILD", "GITLAB_CI")


def test_a_plan_that_creates_a_connector_that_now_exists_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CI_VARIABLES:  # outside CI: the reasons alone
        monkeypatch.delenv(name, raising=False)
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("New"))
    provider.create(_inbound("New"))
    report = apply_tenant(tplan, provider, SETTINGS)
    assert report.refused == ["InboundConnector 'New' now exists; the plan would create it"]
    assert provider.attempts == [("create", "New")]  # only the one made behind the plan's back


def test_the_first_failed_write_stops_the_rest() -> None:
    provider = FakeProvider(connectors=[_inbound("Old")])
    tplan = _plan(provider, _inbound("A"), _inbound("B"))
    provider.fail_next("create", "The value of SenderDomains is not valid")
    report = apply_tenant(tplan, provider, SETTINGS)
    statuses = {(r.change.action, r.change.name): r.status for r in report.results}
    assert statuses == {
        ("create", "A"): "failed",
        ("create", "B"): "not attempted",
        ("delete", "Old"): "not attempted",
    }
    failed = next(r for r in report.results if r.status == "failed")
    assert "The value of SenderDomains is not valid" in failed.message
    assert provider.attempts == [("create", "A")]
    assert provider.names("InboundConnector") == ["Old"]  # the route is still there


def test_an_unsafe_plan_is_refused_unless_forced() -> None:
    live = [_inbound("One"), _inbound("Two")]
    settings = SETTINGS.model_copy(update={"max_deletes": 1})
    provider = FakeProvider(connectors=live)
    tplan = _plan(provider, settings=settings)
    assert tplan.unsafe
    refused = apply_tenant(tplan, provider, settings)
    assert refused.refused[-1] == "review it and apply with --force to proceed"
    assert provider.attempts == []
    forced = apply_tenant(tplan, provider, settings, force=True)
    assert forced.ok and provider.names("InboundConnector") == []


def test_a_planned_connector_is_validated_again_before_it_is_written() -> None:
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("New"))
    (change,) = tplan.changes
    assert change.after is not None
    change.after["connector_type"] = "Partnr"  # a plan file edited by hand, digest recomputed
    report = apply_tenant(tplan, provider, SETTINGS)
    assert report.results == []
    assert any("the planned InboundConnector 'New' is not valid: connector_type" in r for r in report.refused)
    assert provider.attempts == []


# --- apply checks the plan again under the current exoform.yaml and live state -----------------------------


def test_a_plan_made_under_a_looser_config_cannot_delete_protected_connectors() -> None:
    """A branch loosened exoform.yaml; its plan deletes two protected connectors; the current config wins."""
    provider = FakeProvider(connectors=[_inbound("Hybrid A"), _inbound("Hybrid B"), _inbound("Kept")])
    loose = SETTINGS.model_copy(update={"max_deletes": 5})
    tplan = _plan(provider, _inbound("Kept"), settings=loose)
    assert tplan.count("delete") == 2 and not tplan.unsafe
    strict = SETTINGS.model_copy(update={"protect": ["Hybrid*"], "max_deletes": 0})
    report = apply_tenant(tplan, provider, strict)
    assert report.results == []
    assert sum("is protected (protect in exoform.yaml)" in r for r in report.refused) == 2
    assert any("2 deletes exceed max_deletes 0" in r for r in report.refused)
    assert provider.attempts == []
    forced = apply_tenant(tplan, provider, strict, force=True)  # --force lifts thresholds, not protection
    assert forced.results == [] and provider.attempts == []


def test_a_plan_made_with_the_wizard_opt_out_cannot_delete_its_connectors_once_opted_back_in() -> None:
    """HybridWizard protection is re-checked where the write happens, from the current exoform.yaml."""
    wizard = "Inbound from 6c1d1f5a-0000-4000-8000-000000000001"
    provider = FakeProvider(connectors=[_inbound(wizard), _inbound("Kept")], sources={wizard: "HybridWizard"})
    opted_out = SETTINGS.model_copy(update={"protect_hybrid_wizard": False})
    tplan = _plan(provider, _inbound("Kept"), settings=opted_out)
    assert [(c.action, c.name) for c in tplan.changes] == [("delete", wizard)]
    report = apply_tenant(tplan, provider, SETTINGS)
    assert report.results == [] and provider.attempts == []
    assert any("Hybrid Configuration Wizard" in r for r in report.refused)
    assert apply_tenant(tplan, provider, opted_out).ok  # still opted out: the delete goes ahead
    assert provider.names("InboundConnector") == ["Kept"]


def test_protection_is_judged_by_the_live_name_not_the_name_in_the_plan() -> None:
    provider = FakeProvider(connectors=[_inbound("Hybrid A"), _inbound("Decoy")])
    tplan = _plan(provider, _inbound("Hybrid A"))
    (delete,) = tplan.changes
    hybrid = provider.read().find("InboundConnector", "Hybrid A")
    assert hybrid is not None
    # An edited plan: it shows a delete of "Decoy" but carries the protected connector's guid.
    tplan.changes = [dataclasses.replace(delete, guid=hybrid.guid)]
    report = apply_tenant(tplan, provider, SETTINGS.model_copy(update={"protect": ["Hybrid*"]}))
    assert any("'Hybrid A' is protected" in r for r in report.refused)
    assert provider.names("InboundConnector") == ["Decoy", "Hybrid A"]


def test_the_plans_own_verdict_is_ignored_thresholds_come_from_the_current_config() -> None:
    provider = FakeProvider(connectors=[_inbound("One"), _inbound("Two")])
    tplan = _plan(provider)
    tplan.unsafe_reasons = []  # the plan says it is safe
    report = apply_tenant(tplan, provider, SETTINGS.model_copy(update={"max_deletes": 1}))
    assert any("2 deletes exceed max_deletes 1" in r for r in report.refused)
    assert provider.attempts == []


def test_a_delete_is_refused_when_unmanaged_is_no_longer_delete() -> None:
    provider = FakeProvider(connectors=[_inbound("Old")])
    tplan = _plan(provider)
    report = apply_tenant(tplan, provider, SETTINGS.model_copy(update={"unmanaged": "report"}), force=True)
    assert any("exoform.yaml now says unmanaged: report" in r for r in report.refused)
    assert provider.names("InboundConnector") == ["Old"]


def test_the_fraction_counts_the_connectors_the_tenant_has_now() -> None:
    provider = FakeProvider(connectors=[_inbound(f"C{i}", comment="a") for i in range(10)])
    tplan = _plan(provider, *[_inbound(f"C{i}", comment="b" if i < 4 else "a") for i in range(10)])
    tplan.existing_count = 1000  # claimed by the plan file; apply counts the live connectors itself
    report = apply_tenant(tplan, provider, SETTINGS.model_copy(update={"max_change_fraction": 0.3}))
    assert any("4 of 10 existing connectors change" in r for r in report.refused)
    assert provider.attempts == []


def test_a_change_whose_name_is_not_the_name_it_writes_is_refused() -> None:
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("A"))
    (change,) = tplan.changes
    assert change.after is not None
    tplan.changes = [dataclasses.replace(change, after={**change.after, "name": "B"})]
    report = apply_tenant(tplan, provider, SETTINGS)
    assert any("would write the name 'B'" in r for r in report.refused)
    assert provider.attempts == []


def test_every_change_is_validated_before_the_first_write() -> None:
    """The second create is invalid: nothing is written, not even the valid first one."""
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("A"), _inbound("B"))
    first, second = tplan.changes
    assert second.after is not None
    tplan.changes = [first, dataclasses.replace(second, after={**second.after, "sender_domains": ["not a"]})]
    report = apply_tenant(tplan, provider, SETTINGS)
    assert report.results == [] and any("'B' is not valid: sender_domains" in r for r in report.refused)
    assert provider.attempts == []


def test_a_change_naming_a_connector_of_another_kind_is_refused() -> None:
    provider = FakeProvider(connectors=[_inbound("Old")])
    tplan = _plan(provider)
    (delete,) = tplan.changes
    tplan.changes = [dataclasses.replace(delete, kind="OutboundConnector")]
    report = apply_tenant(tplan, provider, SETTINGS)
    assert any("names the guid of InboundConnector 'Old'" in r for r in report.refused)
    assert provider.attempts == []


def test_a_delete_whose_guid_is_another_connectors_is_refused() -> None:
    """The plan shows a delete of "Old" but carries the guid of "Kept": it would delete what nobody saw."""
    provider = FakeProvider(connectors=[_inbound("Old"), _inbound("Kept")])
    tplan = _plan(provider, _inbound("Kept"))
    (delete,) = tplan.changes
    kept = provider.read().find("InboundConnector", "Kept")
    assert kept is not None
    tplan.changes = [dataclasses.replace(delete, guid=kept.guid)]
    report = apply_tenant(tplan, provider, SETTINGS)
    assert any("names the guid of 'Kept', which it would change instead" in r for r in report.refused)
    assert provider.names("InboundConnector") == ["Kept", "Old"]


# --- absent, max_changes, rings ------------------------------------------------------------------

REPORT = SETTINGS.model_copy(update={"unmanaged": "report"})


def _absent(name: str) -> AbsentConnector:
    return AbsentConnector("InboundConnector", name, Location("c/gone.yaml", 4, 1), "c")


def test_a_delete_the_files_declare_is_applied_under_unmanaged_report_and_protection_rechecked() -> None:
    provider = FakeProvider(connectors=[_inbound("Old"), _inbound("Stray")])
    tplan = plan_tenant("t", REPORT, [], provider.read(), absent=[_absent("old")])
    assert [(c.action, c.name, c.reason) for c in tplan.changes] == [
        ("delete", "Old", "declared absent in c/gone.yaml:4")
    ]
    protected = apply_tenant(tplan, provider, REPORT.model_copy(update={"protect": ["old"]}))
    assert protected.refused and "remove absent: true at c/gone.yaml:4" in protected.refused[0]
    assert provider.attempts == []
    assert apply_tenant(tplan, provider, REPORT).ok
    assert provider.names("InboundConnector") == ["Stray"]


def test_apply_rechecks_max_changes_under_the_current_config() -> None:
    provider = FakeProvider(connectors=[_inbound(f"C{i}") for i in range(4)])
    loose = SETTINGS.model_copy(update={"max_changes": None})
    tplan = _plan(provider, *[_inbound(f"C{i}", comment="rewritten") for i in range(4)], settings=loose)
    assert not tplan.unsafe
    report = apply_tenant(tplan, provider, SETTINGS)
    assert any(
        "4 existing connectors change (updated or deleted), more than max_changes 3" in r
        for r in report.refused
    )
    assert provider.attempts == []
    assert apply_tenant(tplan, provider, SETTINGS, force=True).ok


def test_pending_changes_lists_what_the_tenant_does_not_show_yet() -> None:
    provider = FakeProvider(connectors=[_inbound("Old"), _inbound("Kept", comment="before")])
    tplan = _plan(provider, _inbound("Kept", comment="after"), _inbound("New"))
    assert pending_changes(tplan, provider.read()) == [
        "create InboundConnector 'New'",
        "update InboundConnector 'Kept'",
        "delete InboundConnector 'Old'",
    ]
    assert apply_tenant(tplan, provider, SETTINGS).ok
    assert pending_changes(tplan, provider.read()) == []


@pytest.mark.parametrize(
    ("variable", "value", "system"),
    [
        ("GITHUB_ACTIONS", "true", "GitHub Actions"),
        ("TF_BUILD", "True", "Azure Pipelines"),
        ("GITLAB_CI", "true", "GitLab CI"),
    ],
)
def test_a_stale_plan_refused_in_ci_says_what_to_re_run_there(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, system: str
) -> None:
    for name in CI_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, value)
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("New"))
    provider.create(_inbound("New"))
    report = apply_tenant(tplan, provider, SETTINGS)
    assert report.refused == [
        "InboundConnector 'New' now exists; the plan would create it",
        f"in {system}: this saved plan is out of date; re-run the plan of this commit (for a pull request, "
        "its plan workflow or pipeline; after a merge, the whole apply workflow or pipeline, which plans "
        "again), review the new plan, then approve its apply",
    ]


def test_a_refusal_that_is_not_stale_gets_no_ci_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    provider = FakeProvider(connectors=[_inbound("Old")])
    tplan = _plan(provider)  # deletes Old
    report = apply_tenant(tplan, provider, SETTINGS.model_copy(update={"max_deletes": 0}))
    assert report.refused and not any("re-run" in reason for reason in report.refused)
