"""The provider interface: what the planner and applier know of a tenant, and the write protocol once.

A provider lists a tenant's connectors completely (or raises), and creates, updates and deletes one
connector at a time.  :class:`BaseProvider` holds what every provider shares, as octoDNS's
``BaseProvider.apply`` wraps ``_apply``: retries, resolving a write whose outcome is unknown by re-reading,
and "gone counts as done" for deletes; a concrete provider implements listing and one attempt of each
write.  Planner and applier depend on this module only, never on a concrete provider.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self, TypeVar

from reconciler.errors import AuthError, ExoformError, ReadError, WriteError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import FIELDS, Connector, Kind
from reconciler.providers.retry import Budget, RetryPolicy, controller, log_retries, out_of_time

if TYPE_CHECKING:
    from reconciler.providers.trace import RequestBudget, TraceReader

T = TypeVar("T")


class AttemptFailure(Exception):
    """One attempt at a call failed, classified for :class:`BaseProvider` to act on.

    ``retryable``: trying again may succeed.  ``unknown_outcome``: the request may have been carried out
    (only matters for writes).  ``not_found``: the service says the object does not exist.  ``auth``: the
    credentials were refused.  ``retry_after``: seconds the service asked us to wait.  ``code`` and
    ``exception_type``: the service's error code and type, when it sent them.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        unknown_outcome: bool = False,
        retry_after: float | None = None,
        not_found: bool = False,
        auth: bool = False,
        code: str = "",
        exception_type: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.unknown_outcome = unknown_outcome
        self.retry_after = retry_after
        self.not_found = not_found
        self.auth = auth
        self.code = code
        self.exception_type = exception_type

    def final(self, note: str) -> Self:
        """This failure, ``note`` added, as the last of an operation whose time ran out: not retryable."""
        return type(self)(
            self.message + note,
            unknown_outcome=self.unknown_outcome,
            not_found=self.not_found,
            auth=self.auth,
            code=self.code,
            exception_type=self.exception_type,
        )


#: What a provider can do beyond reading and writing connectors (declared in ``capabilities``).
Capability = Literal["validate_outbound", "message_trace"]


class BaseProvider(ABC):
    """A tenant's connectors: listing, and writes with the generic write semantics implemented once.

    Contracts:
    - :meth:`read` returns every connector of both kinds (test-mode outbound connectors included) or
      raises :class:`ReadError`; a partial result is never returned.
    - :meth:`create`, :meth:`update` and :meth:`delete` retry what the subclass classifies as retryable
      (within ``policy``); an attempt whose outcome is unknown is resolved by re-reading the connector
      before any retry or report, so a create never runs twice; a delete of a connector that is gone
      after an earlier attempt counts as done.  One write -- its attempts, waits and the reads that
      verify it -- takes at most ``policy.max_total`` seconds (one :class:`Budget`, handed to every hook).
      Failures raise :class:`WriteError` carrying the service's message (:class:`AuthError` for refused
      credentials).
    - Nothing a provider raises or logs contains a secret or a token.

    Subclasses implement :meth:`read`, :meth:`_list` and one attempt of each write (``_create_once``,
    ``_update_once``, ``_delete_once``), raising :class:`AttemptFailure` for a failed attempt; they
    declare optional abilities in ``capabilities``.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset()

    def __init__(self, tenant: str, policy: RetryPolicy) -> None:
        self.tenant = tenant
        self.policy = policy
        # Logged under the concrete provider's module, which users filter --log-level debug output by.
        self._log = logging.getLogger(type(self).__module__)

    # -- the interface ------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Get what calls to the tenant need from elsewhere (an access token) now, or raise
        :class:`AuthError`.  Optional: the first call signs in by itself."""
        return None

    @abstractmethod
    def read(self) -> LiveState:
        """Every connector of the tenant, or :class:`ReadError`."""

    def close(self) -> None:
        """Release what this provider holds (not what its session owns)."""
        return None

    def validate_outbound(self, live: LiveConnector, recipients: list[str]) -> list[dict[str, Any]]:
        """Test an outbound connector by sending mail to ``recipients`` (one result object per smart host).
        Only providers whose ``capabilities`` hold ``"validate_outbound"`` implement it."""
        raise ExoformError(f"tenant {self.tenant}: its provider cannot validate outbound connectors")

    def message_trace(self, budget: RequestBudget) -> TraceReader:
        """The tenant's message trace, read within ``budget`` (:mod:`reconciler.providers.trace`).  Only
        providers whose ``capabilities`` hold ``"message_trace"`` implement it."""
        raise ExoformError(f"tenant {self.tenant}: its provider cannot read message trace")

    def create(self, connector: Connector, *, skip_fields: frozenset[str] = frozenset()) -> LiveConnector:
        """Create ``connector`` with every managed field but ``skip_fields`` (ignored fields)."""
        kind: Kind = connector.KIND
        fields = [name for name in FIELDS[kind] if name not in skip_fields]
        operation = self._operation("create", kind)
        budget = self._budget(operation, connector.name)
        created: list[LiveConnector] = []

        def applied() -> bool:
            match = self._find(kind, budget, name=connector.name)
            if match is None:
                return False
            differs = [f for f in fields if not _same(f, getattr(match.connector, f), getattr(connector, f))]
            if differs:
                raise WriteError(
                    self.tenant,
                    operation,
                    connector.name,
                    "the first attempt's outcome was unknown and the connector now exists with other values "
                    f"({', '.join(differs)}); run plan again",
                )
            created.append(match)
            return True

        answer = self._write(
            operation, connector.name, budget, lambda: self._create_once(connector, fields, budget), applied
        )
        if created:
            return created[0]
        if answer is not None:
            return answer
        try:  # the service answered without the object: find it by name
            match = self._find(kind, budget, name=connector.name)
        except ReadError as exc:
            raise WriteError(
                self.tenant, operation, connector.name, f"created, but cannot be read back: {exc}"
            ) from None
        if match is None:
            raise WriteError(
                self.tenant,
                operation,
                connector.name,
                "the service reported success but the connector is not there",
            )
        return match

    def update(self, live: LiveConnector, changes: dict[str, Any]) -> None:
        """Set the given managed fields (field name -> new normalized value; ``name`` renames)."""
        kind = live.kind
        operation = self._operation("update", kind)
        for name in changes:
            spec = FIELDS[kind].get(name)
            if spec is None:
                raise WriteError(self.tenant, operation, live.name, f"'{name}' is not a field of {kind}")
            if spec.create_only:
                raise WriteError(
                    self.tenant,
                    operation,
                    live.name,
                    f"{name} ({spec.parameter}) can only be set when the connector is created; "
                    "delete and re-create the connector to change it",
                )
        if not changes:
            return
        budget = self._budget(operation, live.name)

        def applied() -> bool:
            match = self._find(kind, budget, guid=live.guid)
            if match is None:
                raise WriteError(self.tenant, operation, live.name, "the connector no longer exists")
            return all(_same(n, getattr(match.connector, n), v) for n, v in changes.items())

        self._write(operation, live.name, budget, lambda: self._update_once(live, changes, budget), applied)

    def delete(self, live: LiveConnector) -> None:
        """Delete ``live``; gone after an attempt of unknown outcome counts as done."""

        operation = self._operation("delete", live.kind)
        budget = self._budget(operation, live.name)

        def applied() -> bool:
            return self._find(live.kind, budget, guid=live.guid) is None

        self._write(
            operation, live.name, budget, lambda: self._delete_once(live, budget), applied, gone_is_done=True
        )

    # -- hooks --------------------------------------------------------------------------------------------

    # Each hook runs within ``budget``, the time left to the write it serves: its requests end by then.

    @abstractmethod
    def _list(self, kind: Kind, budget: Budget) -> list[LiveConnector]:
        """Every connector of ``kind``, or :class:`ReadError` (resolves writes of unknown outcome)."""

    @abstractmethod
    def _create_once(self, connector: Connector, fields: list[str], budget: Budget) -> LiveConnector | None:
        """One attempt to create ``connector`` with ``fields``: the created connector when the answer holds
        it, else None (it is then looked up by name).  Raises :class:`AttemptFailure`."""

    @abstractmethod
    def _update_once(self, live: LiveConnector, changes: dict[str, Any], budget: Budget) -> None:
        """One attempt to set ``changes`` on ``live``.  Raises :class:`AttemptFailure`."""

    @abstractmethod
    def _delete_once(self, live: LiveConnector, budget: Budget) -> None:
        """One attempt to delete ``live``.  Raises :class:`AttemptFailure` (``not_found`` when gone)."""

    def _operation(self, action: Literal["create", "update", "delete"], kind: Kind) -> str:
        """How messages name a write (the Exchange provider names its cmdlet)."""
        return f"{action} {kind}"

    # -- the write protocol -------------------------------------------------------------------------------

    def _budget(self, operation: str, connector: str) -> Budget:
        """The time one write may take, verification included."""
        return self.policy.budget(f"{operation} '{connector}' (with its retries and verifying reads)")

    def _find(
        self, kind: Kind, budget: Budget, *, name: str | None = None, guid: str | None = None
    ) -> LiveConnector | None:
        for live in self._list(kind, budget):
            if guid is not None and live.guid.lower() == guid.lower():
                return live
            if name is not None and live.name.casefold() == name.casefold():
                return live
        return None

    def _write(
        self,
        operation: str,
        connector: str,
        budget: Budget,
        attempt_once: Callable[[], T],
        applied: Callable[[], bool],
        *,
        gone_is_done: bool = False,
    ) -> T | None:
        """Run a write with retries within ``budget``; an unknown outcome is resolved by ``applied()``
        before trying again.  Returns the last attempt's answer, or None when the write turned out to have
        been applied."""
        uncertain = False
        retrying = controller(
            self.policy,
            lambda e: isinstance(e, AttemptFailure) and e.retryable,
            log_retries(self._log, self.tenant),
            budget,
        )

        def resolve() -> bool:
            try:
                return applied()
            except ReadError as exc:
                raise WriteError(
                    self.tenant,
                    operation,
                    connector,
                    f"the outcome is unknown and the connector could not be re-read ({exc}); "
                    "run plan again before retrying",
                ) from None

        try:
            for attempt in retrying:
                with attempt:
                    if uncertain:
                        if resolve():
                            self._log.debug(
                                "tenant %s: %s '%s' had been applied", self.tenant, operation, connector
                            )
                            return None
                        uncertain = False
                    try:
                        return attempt_once()
                    except AttemptFailure as failure:
                        if failure.not_found and gone_is_done and attempt.retry_state.attempt_number > 1:
                            return None
                        uncertain = failure.unknown_outcome
                        raise
        except AttemptFailure as failure:
            if uncertain and resolve():
                return None
            if failure.retryable and out_of_time(retrying, self.policy):
                failure = failure.final(f"; {budget.ran_out()}")
            raise self._write_error(operation, connector, failure) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_error(self, operation: str, connector: str, failure: AttemptFailure) -> ExoformError:
        if failure.auth:
            return AuthError(self.tenant, f"{operation} '{connector}': {failure.message}")
        message = failure.message
        if failure.unknown_outcome:
            message += "; the outcome is unknown: run plan again to see the tenant as it is"
        elif failure.retryable:
            message += " (gave up after retries)"
        return WriteError(
            self.tenant,
            operation,
            connector,
            message,
            code=failure.code,
            exception_type=failure.exception_type,
            retryable=failure.retryable,
        )

    def _read_error(self, operation: str, failure: AttemptFailure) -> ExoformError:
        if failure.auth:
            return AuthError(self.tenant, failure.message)
        message = (
            failure.message if failure.message.startswith(operation) else f"{operation}: {failure.message}"
        )
        if failure.retryable:
            message += f" (gave up after retries; limits: {self.policy.max_attempts} attempts)"
        return ReadError(self.tenant, f"cannot read the connectors: {message}")


def _same(field: str, live_value: Any, wanted: Any) -> bool:
    if field == "name" and isinstance(live_value, str) and isinstance(wanted, str):
        return live_value.casefold() == wanted.casefold()
    return bool(live_value == wanted)
