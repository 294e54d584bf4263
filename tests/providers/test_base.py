"""The provider interface's data: a live state that cannot be told apart is an error, never a guess."""

from __future__ import annotations

import pytest

from reconciler.errors import ReadError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import InboundConnector, OutboundConnector


def _in(name: str, guid: str) -> LiveConnector:
    connector = InboundConnector.model_validate(
        {"name": name, "connector_type": "Partner", "sender_domains": ["fabrikam.com"]}
    )
    return LiveConnector("InboundConnector", name, guid, connector)


def _out(name: str, guid: str) -> LiveConnector:
    connector = OutboundConnector.model_validate(
        {"name": name, "connector_type": "Partner", "recipient_domains": ["fabrikam.com"]}
    )
    return LiveConnector("OutboundConnector", name, guid, connector)


def test_two_connectors_with_one_guid_are_an_error_for_the_tenant() -> None:
    with pytest.raises(ReadError, match=r"tenant t: .*'A' and InboundConnector 'B' share the Guid"):
        LiveState("t", [_in("A", "g-1"), _in("B", "G-1")])


def test_two_names_of_one_kind_that_differ_only_in_case_are_an_error() -> None:
    with pytest.raises(ReadError, match=r"'Relay' and InboundConnector 'RELAY' share a name"):
        LiveState("t", [_in("Relay", "g-1"), _in("RELAY", "g-2")])


def test_connectors_told_apart_by_guid_or_kind_are_fine() -> None:
    state = LiveState("t", [_in("A", "g-1"), _out("B", "g-2"), _out("a", "g-3")])
    assert state.find("OutboundConnector", "A") is not None
