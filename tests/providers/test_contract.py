"""The provider contract, lexicon style: the same tests against every provider.

Backends: the Exchange provider over the emulator in process (``provider: local``) and over loopback TLS
(:class:`~reconciler.emulator.server.EmulatorServer`), and the in-memory :class:`FakeProvider` that the
applier's unit tests use.  Each backend can lose a write's answer after carrying it out, fail a write in
a way that leaves its outcome unknown, and show the truth behind the provider's back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import pytest

from reconciler.desired.config import ExoformConfig
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import OPEN_SECRET
from reconciler.errors import ExoformError, WriteError
from reconciler.model import InboundConnector, Kind, OutboundConnector
from reconciler.providers.base import BaseProvider
from reconciler.providers.exchange import ExchangeProvider
from reconciler.providers.local import open_local
from reconciler.providers.session import Session
from tests.providers.conftest import TENANT, Rig
from tests.providers.fake import FakeClock, FakeProvider

Action = Literal["create", "update", "delete"]
VERB = {"create": "New", "update": "Set", "delete": "Remove"}

INBOUND = InboundConnector(
    name="Partner inbound",
    connector_type="Partner",
    sender_domains=["fabrikam.com"],
    sender_ip_addresses=["198.51.100.0/24"],
    restrict_domains_to_ip_addresses=True,
    comment="managed by exoform",
)
TEST_MODE_OUT = OutboundConnector(
    name="Trial route",
    connector_type="Partner",
    recipient_domains=["fabrikam.com"],
    use_mx_record=True,
    test_mode=True,
)


class Harness:
    """A provider, ways to make its next write go wrong, and the truth behind its back."""

    provider: BaseProvider

    def lose_answer(self, action: Action, kind: Kind) -> None:
        """The next attempt of ``action`` is carried out, but its answer is lost."""
        raise NotImplementedError

    def fail_unknown(self, action: Action, kind: Kind, *, always: bool = False) -> None:
        """The next attempt (every attempt with ``always``) fails before it is carried out, in a way that
        leaves its outcome unknown to the provider."""
        raise NotImplementedError

    def attempts(self, action: Action, kind: Kind) -> int:
        raise NotImplementedError

    def names(self, kind: Kind) -> list[str]:
        raise NotImplementedError

    def secrets(self) -> list[str]:
        return []


class EmulatorHarness(Harness):
    def __init__(self, provider: ExchangeProvider, emulator: Emulator, tenant: str) -> None:
        self.provider = provider
        self.emulator = emulator
        self.tenant = tenant

    def lose_answer(self, action: Action, kind: Kind) -> None:
        self.emulator.faults.add(f"drop_after_write:cmdlet={VERB[action]}-{kind},count=1")

    def fail_unknown(self, action: Action, kind: Kind, *, always: bool = False) -> None:
        self.emulator.faults.add(f"500:cmdlet={VERB[action]}-{kind}" + ("" if always else ",count=1"))

    def attempts(self, action: Action, kind: Kind) -> int:
        return int(self.emulator.stats.snapshot()["cmdlets"].get(f"{VERB[action]}-{kind}", 0))

    def names(self, kind: Kind) -> list[str]:
        return sorted(str(o["Name"]) for o in self.emulator.stores.get(self.tenant).read()[kind])

    def secrets(self) -> list[str]:
        assert isinstance(self.provider, ExchangeProvider)
        return [OPEN_SECRET, self.provider.client.tokens.token()]


class FakeHarness(Harness):
    def __init__(self) -> None:
        self.provider = self.fake = FakeProvider()

    def lose_answer(self, action: Action, kind: Kind) -> None:
        self.fake.fail_next(action, "connection lost", carried_out=True, retryable=True, unknown_outcome=True)

    def fail_unknown(self, action: Action, kind: Kind, *, always: bool = False) -> None:
        for _ in range(10 if always else 1):
            self.fake.fail_next(action, "HTTP 500", retryable=True, unknown_outcome=True)

    def attempts(self, action: Action, kind: Kind) -> int:
        return sum(1 for done, _ in self.fake.attempts if done == action)

    def names(self, kind: Kind) -> list[str]:
        return self.fake.names(kind)


@pytest.fixture(params=["fake", "local", "tls"])
def harness(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    if request.param == "fake":
        yield FakeHarness()
        return
    clock = FakeClock()
    with Session(clock=clock, sleep=clock.sleep) as session:
        if request.param == "local":
            values = {"connectors": "c", "provider": "local", "state": "state.json"}
            config = ExoformConfig.model_validate({"tenants": {"demo": values}})
            config = config.model_copy(update={"base_dir": tmp_path})
            provider = open_local("demo", config.tenants["demo"], config, session=session)
            emulator = provider.client.http._transport.emulator  # type: ignore[attr-defined]
            yield EmulatorHarness(provider, emulator, "demo")
            provider.close()
        else:
            make_rig: Callable[..., Rig] = request.getfixturevalue("make_rig")
            rig = make_rig()
            yield EmulatorHarness(rig.provider(), rig.server.emulator, TENANT)


def _managed(provider: BaseProvider, kind: Kind, name: str) -> dict[str, Any]:
    live = provider.read().find(kind, name)
    assert live is not None, f"{kind} '{name}' is not read back"
    return live.connector.managed_fields()


def test_read_is_complete_with_test_mode_connectors(harness: Harness) -> None:
    harness.provider.create(INBOUND)
    harness.provider.create(TEST_MODE_OUT)
    state = harness.provider.read()
    assert sorted((c.kind, c.name) for c in state.connectors) == [
        ("InboundConnector", INBOUND.name),
        ("OutboundConnector", TEST_MODE_OUT.name),
    ]


def test_create_update_rename_delete_round_trip(harness: Harness) -> None:
    provider = harness.provider
    created = provider.create(INBOUND)
    assert created.connector.managed_fields() == INBOUND.managed_fields()
    assert _managed(provider, "InboundConnector", INBOUND.name) == INBOUND.managed_fields()
    provider.update(created, {"name": "Renamed", "enabled": False})
    renamed = provider.read().find("InboundConnector", "Renamed")
    assert renamed is not None and renamed.guid == created.guid and renamed.connector.enabled is False
    provider.delete(renamed)
    assert harness.names("InboundConnector") == []


def test_a_create_whose_answer_was_lost_is_resolved_not_repeated(harness: Harness) -> None:
    harness.lose_answer("create", "InboundConnector")
    live = harness.provider.create(INBOUND)
    assert harness.names("InboundConnector") == [INBOUND.name]
    assert live.connector.managed_fields() == INBOUND.managed_fields()
    assert harness.attempts("create", "InboundConnector") == 1


def test_a_create_that_failed_with_unknown_outcome_is_retried_once_checked(harness: Harness) -> None:
    harness.fail_unknown("create", "InboundConnector")
    harness.provider.create(INBOUND)
    assert harness.names("InboundConnector") == [INBOUND.name]
    assert harness.attempts("create", "InboundConnector") == 2


def test_an_update_whose_answer_was_lost_counts_as_applied(harness: Harness) -> None:
    live = harness.provider.create(INBOUND)
    harness.lose_answer("update", "InboundConnector")
    harness.provider.update(live, {"comment": "changed"})
    assert _managed(harness.provider, "InboundConnector", INBOUND.name)["comment"] == "changed"
    assert harness.attempts("update", "InboundConnector") == 1


def test_gone_counts_as_done_for_a_delete_whose_answer_was_lost(harness: Harness) -> None:
    live = harness.provider.create(INBOUND)
    harness.provider.create(INBOUND.model_copy(update={"name": "Keep me"}))
    harness.lose_answer("delete", "InboundConnector")
    harness.provider.delete(live)
    assert harness.names("InboundConnector") == ["Keep me"]
    assert harness.attempts("delete", "InboundConnector") == 1


def test_deleting_a_connector_that_was_already_gone_is_an_error(harness: Harness) -> None:
    live = harness.provider.create(INBOUND)
    harness.provider.delete(live)
    with pytest.raises(WriteError) as caught:
        harness.provider.delete(live)
    assert caught.value.connector == INBOUND.name and caught.value.service_message


def test_a_write_that_keeps_failing_reports_an_unknown_outcome(harness: Harness) -> None:
    live = harness.provider.create(INBOUND)
    harness.fail_unknown("update", "InboundConnector", always=True)
    with pytest.raises(WriteError, match="the outcome is unknown: run plan again"):
        harness.provider.update(live, {"comment": "changed"})
    assert _managed(harness.provider, "InboundConnector", INBOUND.name)["comment"] == "managed by exoform"


def test_errors_carry_the_service_message_are_not_retried_and_hold_no_secret(harness: Harness) -> None:
    harness.provider.create(INBOUND)
    with pytest.raises(WriteError) as caught:
        harness.provider.create(INBOUND)
    error = caught.value
    assert error.connector == INBOUND.name and error.service_message
    assert error.service_message in str(error) and not error.retryable
    assert harness.attempts("create", "InboundConnector") == 2  # one each: the refusal was not retried
    assert harness.names("InboundConnector") == [INBOUND.name]
    for secret in harness.secrets():
        assert secret not in str(error)


def test_a_field_that_can_only_be_set_at_creation_is_refused_before_any_write(harness: Harness) -> None:
    live = harness.provider.create(INBOUND)
    with pytest.raises(ExoformError, match="can only be set when the connector is created"):
        harness.provider.update(live, {"client_host_names": ["mail.contoso.com"]})
    assert harness.attempts("update", "InboundConnector") == 0
