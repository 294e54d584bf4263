"""Message trace through a tenant's InvokeCommand client: the same auth, retries and bounds as the
connector reads, plus a request budget of its own.

The service accepts at most 100 message trace query requests per tenant in a running 5-minute window
(Microsoft Learn, "Get-MessageTraceV2"); :class:`TraceReader` stays under that by design: every attempt
it sends (a retry is an attempt) is paid from a :class:`RequestBudget` before it is sent, so a run never
sends more attempts than its budget.  An attempt the budget cannot pay for raises :class:`BudgetExhausted`
and nothing is sent.  (A token refresh or a redirect inside an attempt, once per token lifetime or
service move, is the one request not charged.)

Contracts:
- :meth:`TraceReader.summary` returns every row of the window or raises: it splits the window into
  10-day queries and continues each past a full result with ``StartingRecipientAddress`` and an
  ``EndDate`` set to the last row's ``Received`` (the documented way); a query is never truncated
  silently.
- Failures raise :class:`TraceError` (a :class:`~reconciler.errors.ReadError`) with the service's message;
  a refused identity's message names the roles message trace needs (not those that read connectors).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.errors import ReadError
from reconciler.providers.auth.hints import ROLE_HINT
from reconciler.providers.invoke import CallFailure, InvokeClient

SUMMARY = "Get-MessageTraceV2"
DETAIL = "Get-MessageTraceDetailV2"
#: The documented limits (Microsoft Learn, "Get-MessageTraceV2").
RETENTION = timedelta(days=90)
MAX_SPAN = timedelta(days=10)
MAX_RESULT_SIZE = 5000
THROTTLE_REQUESTS = 100
THROTTLE_WINDOW = timedelta(minutes=5)
#: What a refused trace read tells the user to grant (docs/monitoring.md, "The role to grant").
TRACE_ROLE_HINT = (
    "message trace needs the read identity to hold an Exchange role that runs Get-MessageTraceV2 and "
    "Get-MessageTraceDetailV2: the 'View-Only Organization Management' role group, the Global Reader Entra "
    "role, or a custom role group with the 'Message Tracking' role (docs/monitoring.md)"
)


class BudgetExhausted(Exception):
    """The run's request budget has no room for another message trace request."""


class TraceError(ReadError):
    """A message trace read failed (the service refused, throttled past the retries, or answered badly)."""


@dataclass
class RequestBudget:
    """Message trace requests one run may send (``limit``) and has sent (``used``); thread-safe."""

    limit: int
    used: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def left(self) -> int:
        with self._lock:
            return max(0, self.limit - self.used)

    def take(self) -> None:
        """Pay for one request, or raise :class:`BudgetExhausted` when none is left."""
        with self._lock:
            if self.used >= self.limit:
                raise BudgetExhausted(f"the request budget of {self.limit} message trace requests is spent")
            self.used += 1


def wire_time(moment: datetime) -> str:
    """A date-time as the cmdlets take it: ISO 8601 in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_wire_time(text: Any) -> datetime | None:
    """A ``Received`` / ``Date`` value (ISO 8601, up to 7 fractional digits; no zone means UTC)."""
    if not isinstance(text, str) or not text.strip():
        return None
    value = text.strip().replace("Z", "+00:00")
    head, dot, rest = value.partition(".")
    if dot:
        digits = "".join(ch for ch in rest if ch.isdigit())
        zone = rest[len(digits) :]
        value = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


class TraceReader:
    """Message trace of one tenant over ``client``, within ``budget``.

    Thread-safe: detail reads may run concurrently (within the client's read concurrency).
    """

    def __init__(self, tenant: str, client: InvokeClient, budget: RequestBudget) -> None:
        self.tenant = tenant
        self.client = client
        self.budget = budget
        #: One query, one request: the result size is the page size the client asks the service for.
        self.result_size = max(1, min(MAX_RESULT_SIZE, client.page_size))

    # -- the two cmdlets ---------------------------------------------------------------------------------

    def summary(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Every summary row received in [``start``, ``end``], newest first; :class:`TraceError` or
        :class:`BudgetExhausted` otherwise (never part of the rows as if they were all)."""
        rows: list[dict[str, Any]] = []
        seen: set[tuple[str, str]] = set()
        slice_end = end
        while slice_end > start:
            slice_start = max(start, slice_end - MAX_SPAN)
            for row in self._slice(slice_start, slice_end):
                key = (str(row.get("MessageTraceId", "")), str(row.get("RecipientAddress", "")).casefold())
                if key not in seen:
                    seen.add(key)
                    rows.append(row)
            slice_end = slice_start
        return rows

    def detail(self, trace_id: str, recipient: str) -> list[dict[str, Any]]:
        """The detail events of one message for one recipient."""
        return self._call(DETAIL, {"MessageTraceId": trace_id, "RecipientAddress": recipient})

    # -- internals -----------------------------------------------------------------------------------------

    def _slice(self, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """One query of at most 10 days, continued until a result is not full."""
        params: dict[str, Any] = {
            "StartDate": wire_time(start),
            "EndDate": wire_time(end),
            "ResultSize": self.result_size,
        }
        rows: list[dict[str, Any]] = []
        previous: tuple[str, str] | None = None
        while True:
            page = self._call(SUMMARY, dict(params))
            rows.extend(page)
            if len(page) < self.result_size:
                return rows
            last = page[-1]
            received, recipient = last.get("Received"), last.get("RecipientAddress")
            if parse_wire_time(received) is None or not isinstance(recipient, str):
                raise TraceError(self.tenant, f"{SUMMARY}: a row without Received or RecipientAddress")
            cursor = (str(received), recipient)
            if cursor == previous:
                raise TraceError(
                    self.tenant, f"{SUMMARY}: the continuation did not advance; the trace cannot be completed"
                )
            previous = cursor
            params["EndDate"] = received
            params["StartingRecipientAddress"] = recipient

    def _call(self, cmdlet: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """One cmdlet call with the client's retries, each attempt paid from the budget before it is sent."""
        try:
            for attempt in self.client.retrying():
                with attempt:
                    self.budget.take()
                    try:
                        return self.client.call_once(cmdlet, params, write=False)
                    except CallFailure as failure:
                        raise self._not_worth_waiting(failure) from None
        except CallFailure as failure:
            message = (
                failure.message if failure.message.startswith(cmdlet) else f"{cmdlet}: {failure.message}"
            )
            if failure.auth:  # the roles that read connectors (View-Only Configuration) do not run trace
                message = message.replace(f"; {ROLE_HINT}", "") + f"; {TRACE_ROLE_HINT}"
            elif failure.retryable:
                message += " (gave up after retries)"
            raise TraceError(self.tenant, f"cannot read message trace: {message}") from None
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    def _not_worth_waiting(self, failure: CallFailure) -> CallFailure:
        """``failure``, made final when the service asks for a longer wait than the policy's cap: the
        trace throttle's window is minutes long, and a retry before it moves only spends the budget."""
        wait = failure.retry_after
        if not failure.retryable or wait is None or wait <= self.client.policy.retry_after_cap:
            return failure
        return CallFailure(
            f"{failure.message}; the service asks to wait {wait:g} s (the message trace limit is "
            f"{THROTTLE_REQUESTS} requests in {THROTTLE_WINDOW.total_seconds() / 60:g} minutes per tenant)",
            code=failure.code,
            exception_type=failure.exception_type,
        )

    def accepted_domains(self) -> list[str]:
        """The tenant's accepted domain names (Get-AcceptedDomain: a configuration read, not a trace
        query, so not charged to the budget)."""
        try:
            objects = self.client.call("Get-AcceptedDomain", {"ResultSize": "Unlimited"})
        except CallFailure as failure:
            raise TraceError(self.tenant, f"cannot read the accepted domains: {failure.message}") from None
        return [str(o["DomainName"]) for o in objects if isinstance(o.get("DomainName"), str)]
