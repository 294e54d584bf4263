"""Every test of the run has exactly one tier (see tests/conftest.py), given by where it lives."""

from __future__ import annotations

import pytest

from tests.conftest import TIERS


def test_every_collected_test_has_exactly_one_tier_by_its_place(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    tiers = {item.nodeid: [m.name for m in item.iter_markers() if m.name in TIERS] for item in items}
    assert [nodeid for nodeid, marks in tiers.items() if len(marks) != 1] == []
    for nodeid, (tier,) in tiers.items():
        if nodeid.startswith("tests/reliability/"):
            assert tier in ("reliability", "long"), nodeid
        elif nodeid.startswith("tests/cli/") or nodeid.split("::")[0].endswith("_e2e.py"):
            assert tier in ("e2e", "long"), nodeid
    assert tiers[request.node.nodeid] == ["fast"]
