"""The applier on the in-memory provider: what it refuses, the order it writes in, where it stops."""

from __future__ import annotations

from reconciler.applier import ChangeResult, apply_tenant
from reconciler.config import TenantConfig
from reconciler.model import InboundConnector
from reconciler.plan import TenantPlan
from reconciler.planner import plan_tenant
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
    report = apply_tenant(tplan, provider, on_result=seen.append)
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
    report = apply_tenant(tplan, provider)
    assert not report.ok and report.results == []
    assert any("'Kept' changed since the plan was made" in r for r in report.refused)
    assert len(provider.attempts) == writes  # nothing written, the create included
    assert provider.names("InboundConnector") == ["Kept"]


def test_a_plan_that_creates_a_connector_that_now_exists_is_refused() -> None:
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("New"))
    provider.create(_inbound("New"))
    report = apply_tenant(tplan, provider)
    assert report.refused == ["InboundConnector 'New' now exists; the plan would create it"]
    assert provider.attempts == [("create", "New")]  # only the one made behind the plan's back


def test_the_first_failed_write_stops_the_rest() -> None:
    provider = FakeProvider(connectors=[_inbound("Old")])
    tplan = _plan(provider, _inbound("A"), _inbound("B"))
    provider.fail_next("create", "The value of SenderDomains is not valid")
    report = apply_tenant(tplan, provider)
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
    refused = apply_tenant(tplan, provider)
    assert refused.refused[-1] == "review it and apply with --force to proceed"
    assert provider.attempts == []
    forced = apply_tenant(tplan, provider, force=True)
    assert forced.ok and provider.names("InboundConnector") == []


def test_a_planned_connector_is_validated_again_before_it_is_written() -> None:
    provider = FakeProvider()
    tplan = _plan(provider, _inbound("New"))
    (change,) = tplan.changes
    assert change.after is not None
    change.after["connector_type"] = "Partnr"  # a plan file edited by hand, digest recomputed
    report = apply_tenant(tplan, provider)
    (result,) = report.results
    assert result.status == "failed" and "the planned InboundConnector 'New' is not valid" in result.message
    assert provider.attempts == []
