"""Test doubles of the provider layer: a fake clock and an in-memory provider.

:class:`FakeClock` is a clock and a sleep in one: sleeping advances the clock at once, so retries and
token lifetimes run without waiting.  :class:`FakeProvider` keeps a tenant's connectors in memory and
implements only the hooks of :class:`~reconciler.providers.base.BaseProvider`, so the write protocol under
test is the real one; ``fail_next`` injects failures (refusals, throttling, unknown outcomes that did or
did not happen).
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.errors import ReadError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import FIELDS, MODELS, Connector, Kind
from reconciler.providers.base import AttemptFailure, BaseProvider
from reconciler.providers.retry import Budget, RetryPolicy

Action = Literal["create", "update", "delete", "list"]


class FakeClock:
    """Seconds that pass only when someone sleeps.  Thread-safe."""

    def __init__(self, start: float = 1000.0) -> None:
        self._now = start
        self._lock = threading.Lock()
        self.slept: list[float] = []

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._now += max(0.0, seconds)


def in_fake_time(policy: RetryPolicy, clock: FakeClock) -> RetryPolicy:
    """``policy`` measured and waited with ``clock``."""
    return dataclasses.replace(policy, clock=clock, sleep=clock.sleep)


@dataclass
class Fault:
    """What the next attempt of an action does instead of (or after) its work."""

    failure: AttemptFailure
    #: The write is carried out before the failure is raised (an answer lost on the way back).
    carried_out: bool = False


class FakeProvider(BaseProvider):
    """A tenant held in memory; writes go through :class:`BaseProvider`'s protocol."""

    def __init__(
        self,
        tenant: str = "fake",
        connectors: list[Connector] | None = None,
        *,
        clock: FakeClock | None = None,
        sources: dict[str, str] | None = None,
    ) -> None:
        """``sources`` gives connectors by name a ``ConnectorSource`` (``HybridWizard``, ``AdminUI``)."""
        self.clock = clock or FakeClock()
        super().__init__(tenant, RetryPolicy(max_attempts=4, clock=self.clock, sleep=self.clock.sleep))
        self._lock = threading.Lock()
        self._store: dict[str, LiveConnector] = {}
        self._faults: dict[Action, list[Fault]] = {}
        #: Every attempt made, as (action, connector name), in order.
        self.attempts: list[tuple[Action, str]] = []
        self.closed = False
        for connector in connectors or []:
            self._put(connector, str(uuid.uuid4()), (sources or {}).get(connector.name))

    # -- test controls ------------------------------------------------------------------------------------

    def fail_next(
        self, action: Action, message: str = "refused", *, carried_out: bool = False, **flags: Any
    ) -> None:
        """Make the next attempt of ``action`` fail with ``message`` and the :class:`AttemptFailure` flags."""
        self._faults.setdefault(action, []).append(Fault(AttemptFailure(message, **flags), carried_out))

    def names(self, kind: Kind) -> list[str]:
        return sorted(live.name for live in self._store.values() if live.kind == kind)

    # -- the provider -------------------------------------------------------------------------------------

    def read(self) -> LiveState:
        return LiveState(self.tenant, [c for kind in FIELDS for c in self._list(kind)])

    def close(self) -> None:
        self.closed = True

    # The fake's calls take no time, so the write's budget is only passed along.

    def _list(self, kind: Kind, budget: Budget | None = None) -> list[LiveConnector]:
        fault = self._take("list")
        if fault is not None:
            raise ReadError(self.tenant, f"cannot read the connectors: {fault.failure.message}")
        with self._lock:
            return [live for live in self._store.values() if live.kind == kind]

    def _create_once(self, connector: Connector, fields: list[str], budget: Budget) -> LiveConnector | None:
        self.attempts.append(("create", connector.name))
        fault = self._take("create")
        if fault is not None and not fault.carried_out:
            raise fault.failure
        if any(live.name.casefold() == connector.name.casefold() for live in self._list(connector.KIND)):
            raise AttemptFailure(f"A connector named '{connector.name}' already exists")
        values = {name: getattr(connector, name) for name in fields}
        live = self._put(MODELS[connector.KIND].model_construct(**values), str(uuid.uuid4()))
        if fault is not None:
            raise fault.failure
        return live

    def _update_once(self, live: LiveConnector, changes: dict[str, Any], budget: Budget) -> None:
        self.attempts.append(("update", live.name))
        fault = self._take("update")
        if fault is not None and not fault.carried_out:
            raise fault.failure
        with self._lock:
            current = self._store.get(live.guid)
        if current is None:
            raise AttemptFailure(f"'{live.name}' was not found", not_found=True)
        # model_construct, not model_copy: a copy would keep the original's managed_fields() cache
        self._put(
            type(current.connector).model_construct(**{**_fields(current.connector), **changes}), live.guid
        )
        if fault is not None:
            raise fault.failure

    def _delete_once(self, live: LiveConnector, budget: Budget) -> None:
        self.attempts.append(("delete", live.name))
        fault = self._take("delete")
        if fault is not None and not fault.carried_out:
            raise fault.failure
        with self._lock:
            gone = self._store.pop(live.guid, None) is None
        if gone:
            raise AttemptFailure(f"'{live.name}' was not found", not_found=True)
        if fault is not None:
            raise fault.failure

    def _take(self, action: Action) -> Fault | None:
        with self._lock:
            queue = self._faults.get(action)
            return queue.pop(0) if queue else None

    def _put(self, connector: Connector, guid: str, source: str | None = None) -> LiveConnector:
        raw = {"ConnectorSource": source} if source else {}
        live = LiveConnector(connector.KIND, connector.name, guid, connector, raw)
        with self._lock:
            self._store[guid] = live
        return live


def _fields(connector: Connector) -> dict[str, Any]:
    return {name: getattr(connector, name) for name in type(connector).model_fields}
