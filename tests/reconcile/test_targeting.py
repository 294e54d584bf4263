"""``--target KIND/NAME``: parsing, and a targeted plan (only matching connectors; unmanaged within)."""

from __future__ import annotations

import pytest

from reconciler.errors import ConfigError
from reconciler.reconcile.planner import plan_tenant
from reconciler.reconcile.targeting import parse_targets
from tests.reconcile.test_planner import actions, inbound, live_of, outbound, settings


def test_targets_are_case_insensitive_globs_on_kind_and_name() -> None:
    [exact, glob, anykind] = parse_targets(["InboundConnector/From Mimecast", "outbound*/To *", "*/relay?"])
    assert exact.matches("InboundConnector", "from MIMECAST")
    assert not exact.matches("OutboundConnector", "From Mimecast")
    assert glob.matches("OutboundConnector", "To Proofpoint") and not glob.matches("InboundConnector", "To x")
    assert anykind.matches("InboundConnector", "Relay1") and anykind.matches("OutboundConnector", "relayZ")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("From Mimecast", "expected KIND/NAME"),
        ("InboundConnector/", "expected KIND/NAME"),
        ("Inbound/From Mimecast", "the kind matches neither InboundConnector nor OutboundConnector"),
    ],
)
def test_a_malformed_target_is_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_targets([text])


def test_a_targeted_plan_plans_only_its_targets_and_unmanaged_only_within() -> None:
    desired = [inbound("In A", comment="new"), inbound("In B", comment="new"), outbound("Out")]
    live = live_of(inbound("In A"), inbound("In B"), inbound("In stray"), outbound("Out stray"))
    tenant = settings(unmanaged="delete", max_deletes=5)
    plan = plan_tenant("t", tenant, desired, live, parse_targets(["InboundConnector/In [AS]*"]))
    assert actions(plan) == [
        ("update", "InboundConnector", "In A"),
        ("delete", "InboundConnector", "In stray"),
    ]
    assert plan.targets == ["InboundConnector/In [AS]*"]
    assert plan.existing_count == 4
    untargeted = plan_tenant("t", tenant, desired, live)
    assert len(untargeted.changes) == 5 and untargeted.targets == []


def test_a_targeted_connector_is_still_renamed_from_its_old_name() -> None:
    desired = [inbound("New name", renamed_from=["Old name"])]
    live = live_of(inbound("Old name"))
    plan = plan_tenant("t", settings(), desired, live, parse_targets(["*/New name"]))
    [change] = plan.changes
    assert (change.action, change.previous_name, plan.unmanaged) == ("update", "Old name", [])
