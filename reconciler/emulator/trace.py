"""Message trace: ``Get-MessageTraceV2`` and ``Get-MessageTraceDetailV2`` over a message log the emulator
keeps (docs/emulator.md, "Message trace").

The limits are the documented ones (Microsoft Learn, "Get-MessageTraceV2" and "Get-MessageTraceDetailV2"):
data for the last 90 days; at most 10 days per query; without dates, the last 48 hours; ResultSize 1 to
5,000, default 1,000; rows newest first, continued past a full result with ``StartingRecipientAddress``
plus an ``EndDate`` set to the last row's ``Received``; at most 100 query requests in a running 5-minute
window per tenant, measured with the emulator's clock.  What the REST endpoint answers past that limit is
not documented: the emulator answers HTTP 429 with ``Retry-After`` (docs/monitoring.md, "How the
UNCONFIRMED facts were decided").

A message in the log is one summary row per recipient (``Received``, ``SenderAddress``,
``RecipientAddress``, ``Subject``, ``Status``, ``FromIP``, ``ToIP``, ``Size``, ``MessageId``,
``MessageTraceId``) plus its detail events.  When a seeded message names ``InboundConnector`` or
``OutboundConnector`` and no ``Events``, the events are made as the service writes them: a RECEIVE event
whose ``Data`` holds ``S:InboundConnectorData=Name=<name>``, or a SEND event with Action
``RouteMessageUsingConnector`` whose ``Data`` holds
``S:Microsoft.Exchange.Hygiene.TenantOutboundConnectorCustomData=Name=<name>``.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from reconciler.emulator.binding import format_time, parse_time
from reconciler.emulator.errors import CmdletError, binding, unknown_parameter
from reconciler.emulator.files import read_document
from reconciler.errors import InputError, Location, Problem

SUMMARY = "Get-MessageTraceV2"
DETAIL = "Get-MessageTraceDetailV2"
CMDLET_NAMES = {SUMMARY.casefold(): SUMMARY, DETAIL.casefold(): DETAIL}

RETENTION = timedelta(days=90)
MAX_SPAN = timedelta(days=10)
DEFAULT_SPAN = timedelta(hours=48)
DEFAULT_RESULT_SIZE = 1000
MAX_RESULT_SIZE = 5000
THROTTLE_REQUESTS = 100
THROTTLE_WINDOW = timedelta(minutes=5)

INBOUND_KEY = "S:InboundConnectorData=Name="
OUTBOUND_KEY = "S:Microsoft.Exchange.Hygiene.TenantOutboundConnectorCustomData=Name="
ROUTE_ACTION = "RouteMessageUsingConnector"
#: The emulator's own text when a result is cut at ResultSize (the service's text is UNCONFIRMED).
MORE_RESULTS_WARNING = (
    "There are more results available. To get them, run the query again with -StartingRecipientAddress "
    "set to the RecipientAddress and -EndDate set to the Received value of the last row."
)
INVALID_ARGUMENT = "Microsoft.Exchange.Management.Tasks.InvalidArgumentException"

_SUMMARY_PARAMS = (
    "StartDate",
    "EndDate",
    "SenderAddress",
    "RecipientAddress",
    "FromIP",
    "ToIP",
    "Status",
    "MessageId",
    "MessageTraceId",
    "Subject",
    "SubjectFilterType",
    "ResultSize",
    "StartingRecipientAddress",
)
_DETAIL_PARAMS = (
    "MessageTraceId",
    "RecipientAddress",
    "Action",
    "Event",
    "StartDate",
    "EndDate",
    "MessageId",
    "SenderAddress",
)
_FILTERS = (
    "SenderAddress",
    "RecipientAddress",
    "Status",
    "MessageId",
    "FromIP",
    "ToIP",
    "MessageTraceId",
    "Subject",
)
_MULTI = {"SenderAddress", "RecipientAddress", "Status", "MessageId", "Action", "Event"}
_ROW_FIELDS = (
    "Received",
    "SenderAddress",
    "RecipientAddress",
    "Subject",
    "Status",
    "ToIP",
    "FromIP",
    "Size",
    "MessageId",
    "MessageTraceId",
)

Clock = Callable[[], float]


@dataclass
class Message:
    """One row of the log: a message as one recipient received it, with its detail events."""

    received: datetime
    sender: str
    recipient: str
    trace_id: str
    message_id: str
    subject: str = ""
    status: str = "Delivered"
    from_ip: str = ""
    to_ip: str = ""
    size: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)

    @functools.cached_property
    def order(self) -> tuple[float, str, str]:
        """Where the row sorts in a result: newest first, then by recipient address."""
        return (-self.received.timestamp(), self.recipient.casefold(), self.trace_id)

    @functools.cached_property
    def received_text(self) -> str:
        return format_time(self.received)

    def row(self) -> dict[str, Any]:
        return {
            "Received": self.received_text,
            "SenderAddress": self.sender,
            "RecipientAddress": self.recipient,
            "Subject": self.subject,
            "Status": self.status,
            "ToIP": self.to_ip or None,
            "FromIP": self.from_ip or None,
            "Size": self.size,
            "MessageId": self.message_id,
            "MessageTraceId": self.trace_id,
        }


def connector_events(
    received: datetime, *, inbound: str | None = None, outbound: str | None = None, status: str = "Delivered"
) -> list[dict[str, Any]]:
    """The detail events the service writes for a message through ``inbound`` and/or ``outbound``."""
    events: list[dict[str, Any]] = []
    receive_data = f"{INBOUND_KEY}{inbound};S:ProcessingServer=EMULATOR01" if inbound else ""
    events.append(
        {
            "Date": format_time(received),
            "Event": "Receive",
            "Action": "",
            "Detail": "Message received by: EMULATOR01.EURPR01A001.PROD.OUTLOOK.COM",
            "Data": receive_data,
        }
    )
    if outbound:
        events.append(
            {
                "Date": format_time(received + timedelta(seconds=1)),
                "Event": "Send external",
                "Action": ROUTE_ACTION,
                "Detail": f"Message sent through the outbound connector {outbound}",
                "Data": f"{OUTBOUND_KEY}{outbound};S:ProcessingServer=EMULATOR01",
            }
        )
    else:
        events.append(
            {
                "Date": format_time(received + timedelta(seconds=1)),
                "Event": "Deliver" if status == "Delivered" else status,
                "Action": "",
                "Detail": "The message was delivered to the mailbox.",
                "Data": "",
            }
        )
    return events


class MessageLog:
    """The messages of every tenant (key: the tenant's store key); thread-safe.

    ``seed`` messages are every tenant's until a tenant records its own on top of them.
    """

    def __init__(self, seed: Sequence[Message] = ()) -> None:
        self._seed = list(seed)
        self._tenants: dict[str, list[Message]] = {}
        self._lock = threading.Lock()

    def messages(self, tenant: str) -> list[Message]:
        with self._lock:
            return list(self._tenants.get(tenant.casefold(), self._seed))

    def add(self, tenant: str, messages: Iterable[Message]) -> None:
        with self._lock:
            current = self._tenants.setdefault(tenant.casefold(), list(self._seed))
            current.extend(messages)


def send_through(
    log: MessageLog,
    tenant: str,
    *,
    sender: str,
    recipients: Sequence[str],
    received: datetime,
    inbound: str | None = None,
    outbound: str | None = None,
    from_ip: str = "",
    to_ip: str = "",
    subject: str = "",
) -> list[Message]:
    """Record a message sent "through" a connector: one row per recipient, with the detail events the
    service writes (see the module docstring).  Returns the rows recorded."""
    trace_id = str(uuid.uuid4())
    message_id = f"<{uuid.uuid4()}@emulator.example>"
    rows = [
        Message(
            received=received.astimezone(UTC),
            sender=sender,
            recipient=recipient,
            trace_id=trace_id,
            message_id=message_id,
            subject=subject,
            from_ip=from_ip,
            to_ip=to_ip,
            events=connector_events(received, inbound=inbound, outbound=outbound),
        )
        for recipient in recipients
    ]
    log.add(tenant, rows)
    return rows


# -- the seed file ---------------------------------------------------------------------------------------


def load_messages(path: str | os.PathLike[str]) -> list[Message]:
    """Messages from a JSON (or YAML) file, ``{"messages": [...]}`` (docs/emulator.md, "Message trace");
    :class:`InputError` with file, line and column for a bad entry."""
    document, locate = read_document(path, "message seed")
    items = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InputError([Problem(Location(str(path), 1, 1), 'a message seed is {"messages": [...]}')])
    messages: list[Message] = []
    problems: list[Problem] = []
    for index, item in enumerate(items):
        try:
            messages.append(_message(item))
        except (KeyError, TypeError, ValueError) as exc:
            line, column = locate(("messages", index))
            problems.append(Problem(Location(str(path), line, column), f"message #{index + 1}: {exc}"))
    if problems:
        raise InputError(problems)
    return messages


def _message(item: Any) -> Message:
    if not isinstance(item, dict):
        raise TypeError("must be an object")
    for key in ("Received", "SenderAddress", "RecipientAddress"):
        if not isinstance(item.get(key), str) or not item[key]:
            raise KeyError(f"'{key}' is missing or not a string")
    received = parse_time(item["Received"])
    events = item.get("Events")
    if events is None:
        events = connector_events(
            received,
            inbound=item.get("InboundConnector"),
            outbound=item.get("OutboundConnector"),
            status=str(item.get("Status") or "Delivered"),
        )
    elif not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        raise TypeError("'Events' must be a list of objects")
    return Message(
        received=received,
        sender=item["SenderAddress"],
        recipient=item["RecipientAddress"],
        trace_id=str(uuid.UUID(str(item.get("MessageTraceId") or uuid.uuid4()))),
        message_id=str(item.get("MessageId") or f"<{uuid.uuid4()}@emulator.example>"),
        subject=str(item.get("Subject") or ""),
        status=str(item.get("Status") or "Delivered"),
        from_ip=str(item.get("FromIP") or ""),
        to_ip=str(item.get("ToIP") or ""),
        size=int(item.get("Size") or 0),
        events=[dict(e) for e in events],
    )


def dump_messages(messages: Iterable[Message]) -> str:
    """A message seed file's text holding ``messages`` (events included)."""
    items = [{**m.row(), "Events": m.events} for m in messages]
    return json.dumps({"messages": items}, indent=1) + "\n"


# -- the cmdlets -----------------------------------------------------------------------------------------


class Throttled(Exception):
    """Past the documented rate: ``retry_after`` seconds until a request leaves the window."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:g} s")
        self.retry_after = retry_after


class MessageTrace:
    """The two V2 cmdlets over ``log``, throttled per tenant on ``clock`` (seconds since the epoch)."""

    def __init__(self, log: MessageLog, clock: Clock) -> None:
        self.log = log
        self.clock = clock
        self._accepted: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), UTC)

    def admit(self, tenant: str) -> None:
        """Count one query request of ``tenant``, or raise :class:`Throttled` when 100 were accepted in the
        last 5 minutes (refused requests are not counted)."""
        now = self.clock()
        window = THROTTLE_WINDOW.total_seconds()
        with self._lock:
            accepted = self._accepted.setdefault(tenant.casefold(), deque())
            while accepted and accepted[0] <= now - window:
                accepted.popleft()
            if len(accepted) >= THROTTLE_REQUESTS:
                raise Throttled(max(1.0, round(accepted[0] + window - now, 3)))
            accepted.append(now)

    def invoke(self, tenant: str, cmdlet: str, parameters: Any) -> tuple[list[dict[str, Any]], list[str]]:
        """Run a V2 trace cmdlet (``cmdlet`` in its canonical spelling): (output objects, warnings)."""
        if parameters is None:
            parameters = {}
        if not isinstance(parameters, dict):
            raise CmdletError(
                "System.ArgumentException",
                "CmdletInput.Parameters must be an object of parameter name to value.",
            )
        names = _SUMMARY_PARAMS if cmdlet == SUMMARY else _DETAIL_PARAMS
        bound = _bind(names, parameters)
        self.admit(tenant)
        messages = self.log.messages(tenant)
        if cmdlet == SUMMARY:
            return self._summary(messages, bound)
        return self._detail(messages, bound), []

    def _window(self, bound: dict[str, Any]) -> tuple[datetime, datetime]:
        now = self.now()
        end = _time("EndDate", bound["EndDate"]) if "EndDate" in bound else now
        start = _time("StartDate", bound["StartDate"]) if "StartDate" in bound else end - DEFAULT_SPAN
        if start > end:
            raise CmdletError(INVALID_ARGUMENT, "The StartDate value must be earlier than the EndDate value.")
        if start < now - RETENTION:
            raise CmdletError(
                INVALID_ARGUMENT,
                f"The StartDate can't be older than {RETENTION.days} days from today. Message trace data is "
                f"kept for {RETENTION.days} days.",
            )
        if end - start > MAX_SPAN:
            raise CmdletError(
                INVALID_ARGUMENT,
                f"The date range can't exceed {MAX_SPAN.days} days per query. Use a shorter range between "
                "StartDate and EndDate.",
            )
        return start, end

    def _summary(
        self, messages: list[Message], bound: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[str]]:
        start, end = self._window(bound)
        size = bound.get("ResultSize", DEFAULT_RESULT_SIZE)
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_RESULT_SIZE:
            raise binding(
                f"Cannot validate argument on parameter 'ResultSize'. The {size} argument is not in the "
                f"range 1 to {MAX_RESULT_SIZE}. Supply an argument that is in that range and try again."
            )
        after = str(bound.get("StartingRecipientAddress") or "").casefold()
        filtered = any(bound.get(name) for name in _FILTERS)
        wanted = [m for m in messages if start <= m.received <= end and (not filtered or _matches(m, bound))]
        if after:
            wanted = [m for m in wanted if m.received < end or m.recipient.casefold() > after]
        wanted.sort(key=lambda m: m.order)
        warnings = [MORE_RESULTS_WARNING] if len(wanted) > size else []
        return [m.row() for m in wanted[:size]], warnings

    def _detail(self, messages: list[Message], bound: dict[str, Any]) -> list[dict[str, Any]]:
        for required in ("MessageTraceId", "RecipientAddress"):
            if not bound.get(required):
                raise binding(
                    f"Cannot process command because of one or more missing mandatory parameters: {required}."
                )
        try:
            trace_id = str(uuid.UUID(str(bound["MessageTraceId"])))
        except ValueError:
            raise CmdletError(
                "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException",
                f"Cannot process argument transformation on parameter 'MessageTraceId'. Cannot convert value "
                f'"{bound["MessageTraceId"]}" to type "System.Guid".',
                shape="transformation",
            ) from None
        recipient = _one(bound["RecipientAddress"]).casefold()
        start, end = (None, None)
        if "StartDate" in bound or "EndDate" in bound:
            start, end = self._window(bound)
        events_wanted = {e.casefold() for e in bound.get("Event", [])}
        actions_wanted = {a.casefold() for a in bound.get("Action", [])}
        out: list[dict[str, Any]] = []
        for m in messages:
            if m.trace_id != trace_id or m.recipient.casefold() != recipient:
                continue
            if start is not None and end is not None and not start <= m.received <= end:
                continue
            for event in m.events:
                if events_wanted and str(event.get("Event", "")).casefold() not in events_wanted:
                    continue
                if actions_wanted and str(event.get("Action", "")).casefold() not in actions_wanted:
                    continue
                out.append(
                    {
                        "MessageTraceId": m.trace_id,
                        "MessageId": m.message_id,
                        "SenderAddress": m.sender,
                        "RecipientAddress": m.recipient,
                        **event,
                    }
                )
        return out


def throttled_response(exc: Throttled) -> httpx.Response:
    """The answer past the rate limit: HTTP 429, ``Retry-After`` and the API's error shape."""
    body = {
        "error": {
            "code": "TooManyRequests",
            "message": (
                f"Too many requests. The message trace limit of {THROTTLE_REQUESTS} query requests in "
                f"{int(THROTTLE_WINDOW.total_seconds() // 60)} minutes was reached; the request was "
                "throttled, please retry later."
            ),
        }
    }
    return httpx.Response(
        429,
        content=json.dumps(body).encode(),
        headers={
            "content-type": "application/json",
            "retry-after": f"{exc.retry_after:g}",
            "request-id": str(uuid.uuid4()),
        },
    )


def _bind(names: tuple[str, ...], parameters: dict[str, Any]) -> dict[str, Any]:
    table = {n.casefold(): n for n in names}
    bound: dict[str, Any] = {}
    for raw, value in parameters.items():
        name = table.get(str(raw).casefold())
        if name is None:
            raise unknown_parameter(str(raw))
        if name in bound:
            raise binding(f"Cannot bind parameter because parameter '{name}' is specified more than once.")
        if name in _MULTI:
            value = [value] if isinstance(value, str) else value
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise binding(f"Cannot bind parameter '{name}': expected a string or a list of strings.")
        elif name == "ResultSize" and isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if value is None:
            continue
        bound[name] = value
    return bound


def _time(name: str, value: Any) -> datetime:
    try:
        return parse_time(str(value))
    except ValueError:
        raise CmdletError(
            "Microsoft.Exchange.AdminApi.CommandInvocation.ParameterTransformationException",
            f"Cannot process argument transformation on parameter '{name}'. Cannot convert value \"{value}\" "
            'to type "System.DateTime".',
            shape="transformation",
        ) from None


def _one(value: Any) -> str:
    return str(value[0]) if isinstance(value, list) and value else str(value)


def _matches(m: Message, bound: dict[str, Any]) -> bool:
    def among(name: str, actual: str) -> bool:
        wanted = bound.get(name)
        return not wanted or actual.casefold() in {w.casefold() for w in wanted}

    if not (
        among("SenderAddress", m.sender)
        and among("RecipientAddress", m.recipient)
        and among("Status", m.status)
        and among("MessageId", m.message_id)
    ):
        return False
    if bound.get("FromIP") and str(bound["FromIP"]) != m.from_ip:
        return False
    if bound.get("ToIP") and str(bound["ToIP"]) != m.to_ip:
        return False
    if bound.get("MessageTraceId") and str(bound["MessageTraceId"]).casefold() != m.trace_id:
        return False
    subject = bound.get("Subject")
    if subject:
        how = str(bound.get("SubjectFilterType") or "Contains").casefold()
        text, s = m.subject.casefold(), str(subject).casefold()
        if how == "startswith":
            return text.startswith(s)
        if how == "endswith":
            return text.endswith(s)
        return s in text
    return True
