"""Traffic per connector from message trace: which connectors carry mail, how much, since when.

:func:`measure` reads one tenant's message trace (through a :class:`TraceSource`: the provider's
:class:`~reconciler.providers.trace.TraceReader`, or a fake in tests) and attributes messages to its
connectors:

1. Every summary row of the window is read (``Get-MessageTraceV2``, 10-day queries continued past full
   results).  A summary row names no connector, so rows are grouped as *candidates*: per inbound connector
   the rows whose ``FromIP`` is in its ``sender_ip_addresses``; per outbound connector the rows whose
   recipient domain is in its ``recipient_domains``; and two pools, the rows from other IPs (inbound
   connectors known by certificate show up there) and the rows to other external domains (connectors that
   transport rules route to).
2. Detail events (``Get-MessageTraceDetailV2``, one request per message and recipient) name the connector
   that carried a message: ``S:InboundConnectorData=Name=<name>`` on RECEIVE,
   ``S:Microsoft.Exchange.Hygiene.TenantOutboundConnectorCustomData=Name=<name>`` on SEND.  The budget left
   after the summary is spread over the groups, evenly spaced in time within each group.
3. Each connector's figure says how it was obtained (:data:`Method`): ``observed`` (every candidate row's
   detail events read: an exact count), ``sampled`` (extrapolated from the detail events of a sample),
   ``estimated`` (summary rows matched by IP or domain, no detail events) or ``unknown``.

Contract: a failed or partial read (the summary could not be read whole: refused, throttled past the
retries, the budget spent before the last row; or a detail read failed) makes every connector of the
tenant ``unknown``, never "no traffic"; what was observed before the failure is kept as a lower bound.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import CancelledError, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from reconciler.errors import ExoformError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import Kind
from reconciler.providers.trace import RETENTION, BudgetExhausted, parse_wire_time

if TYPE_CHECKING:
    from reconciler.providers.base import BaseProvider
    from reconciler.reconcile.targeting import Target

INBOUND_KEY = "S:InboundConnectorData=Name="
OUTBOUND_KEY = "S:Microsoft.Exchange.Hygiene.TenantOutboundConnectorCustomData=Name="
#: Message trace query requests one run may send per tenant by default: under the service's 100 in a
#: running 5 minutes, with room for another tool (or a second run) in the same window.
DEFAULT_BUDGET = 60
#: Detail reads in flight at once (each is one request; the client's read_concurrency caps them too).
DETAIL_CONCURRENCY = 4
TOP_DOMAINS = 5

Method = Literal["observed", "sampled", "estimated", "unknown"]
Status = Literal["complete", "partial", "failed"]
#: id(summary row) -> the connectors its detail events named
Through = dict[int, set[tuple[Kind, str]]]


class TraceBudget(Protocol):
    limit: int
    used: int

    @property
    def left(self) -> int: ...


class TraceSource(Protocol):
    """What :func:`measure` reads message trace through (:class:`~reconciler.providers.trace.TraceReader`);
    :meth:`detail` is called from several threads at once."""

    @property
    def budget(self) -> TraceBudget: ...

    def summary(self, start: datetime, end: datetime) -> list[dict[str, Any]]: ...

    def detail(self, trace_id: str, recipient: str) -> list[dict[str, Any]]: ...

    def accepted_domains(self) -> list[str]: ...


@dataclass(frozen=True)
class ConnectorTraffic:
    """One connector's traffic in the window.

    ``messages`` is the best figure (None when ``method`` is ``unknown``); ``observed`` the messages whose
    detail events named the connector (a lower bound whatever the method); ``candidates`` the summary rows
    of the connector's own group (matched by IP or domain).  ``first_seen`` / ``last_seen`` and
    ``top_domains`` (sender domains for inbound, recipient domains for outbound) come from the observed
    messages, or from the matched rows when nothing was observed.  ``how`` says in words how the figure
    was obtained.
    """

    kind: Kind
    name: str
    method: Method
    messages: int | None
    observed: int
    candidates: int
    first_seen: datetime | None
    last_seen: datetime | None
    top_domains: tuple[tuple[str, int], ...]
    how: str

    @property
    def domain_role(self) -> str:
        return "sender" if self.kind == "InboundConnector" else "recipient"


@dataclass(frozen=True)
class TenantTraffic:
    """One tenant's traffic report: the window, the outcome of the read and each connector's figure.

    ``status``: ``complete`` (every summary row read, every detail read made answered), ``partial`` (the
    budget ran out before the summary was whole, or a detail read failed) or ``failed`` (nothing usable;
    ``error`` says why).  ``requests`` message trace requests were sent of a ``budget``; ``sampled`` detail
    reads were made of ``detail_candidates`` candidate rows; ``sampling`` says what was sampled.
    """

    tenant: str
    start: datetime
    end: datetime
    status: Status
    connectors: tuple[ConnectorTraffic, ...] = ()
    error: str | None = None
    rows: int = 0
    requests: int = 0
    budget: int = 0
    sampled: int = 0
    detail_candidates: int = 0
    sampling: str = ""
    notes: tuple[str, ...] = ()

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600

    def find(self, kind: Kind, name: str) -> ConnectorTraffic | None:
        wanted = name.casefold()
        return next((c for c in self.connectors if c.kind == kind and c.name.casefold() == wanted), None)


# -- the window ------------------------------------------------------------------------------------------

_SINCE = re.compile(r"^\s*(\d+)\s*([dhm])\s*$", re.IGNORECASE)


def parse_since(text: str) -> timedelta:
    """``2d``, ``48h``, ``90m``: a window ending now; ValueError when malformed or longer than the 90 days
    message trace keeps."""
    match = _SINCE.match(text)
    if not match:
        raise ValueError(f"'{text}' is not a duration such as 2d, 48h or 30m")
    amount, unit = int(match.group(1)), match.group(2).lower()
    span = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "m": timedelta(minutes=amount)}[unit]
    if span <= timedelta(0):
        raise ValueError(f"'{text}' is not a positive duration")
    if span > RETENTION:
        raise ValueError(f"'{text}' is longer than the {RETENTION.days} days message trace keeps")
    return span


# -- measuring ---------------------------------------------------------------------------------------------


@dataclass
class _Group:
    """Candidate rows: a connector's own (``owner``) or a pool (``owner`` None) of one direction."""

    direction: Kind
    owner: str | None
    rows: list[dict[str, Any]]
    sampled: list[dict[str, Any]] = field(default_factory=list)
    hits: Counter[tuple[Kind, str]] = field(default_factory=Counter)


def measure(
    tenant: str,
    live: LiveState,
    source: TraceSource,
    *,
    start: datetime,
    end: datetime,
    connectors: Sequence[LiveConnector] | None = None,
) -> TenantTraffic:
    """The traffic of ``connectors`` (default: every connector of ``live``) between ``start`` and ``end``.

    Never raises for a trace that cannot be read: the report is ``failed`` or ``partial`` and its connectors
    ``unknown`` (see the module contract).
    """
    chosen = list(live.connectors if connectors is None else connectors)
    base = dict(tenant=tenant, start=start, end=end, budget=source.budget.limit)
    try:
        rows = source.summary(start, end)
        accepted = {d.casefold() for d in source.accepted_domains()}
    except BudgetExhausted as exc:
        return _unknown(chosen, base, source, "partial", f"the summary could not be read whole: {exc}")
    except ExoformError as exc:
        return _unknown(chosen, base, source, "failed", str(exc))

    # Only the directions measured are sampled: a figure reads the groups of its own direction only, so
    # the budget of a review of one inbound connector is not spent on outbound mail.
    directions = {c.kind for c in chosen}
    groups = [g for g in _groups(live.connectors, rows, accepted) if g.direction in directions]
    candidates = len({id(row) for g in groups for row in g.rows})
    through: Through = {}
    failure = _sample(groups, source, through)
    details = {id(row) for g in groups for row in g.sampled}
    sampled = len(details)
    fully = all(len(g.sampled) == len(g.rows) for g in groups)
    sampling = (
        "nothing: no message in the window"
        if not rows
        else f"detail events of all {sampled:,} candidate message(s)"
        if fully
        else f"detail events of {sampled:,} of {candidates:,} candidate message(s), evenly spaced in time "
        f"within each of {len(groups)} group(s) (the request budget of {source.budget.limit} allowed no more)"
    )
    if failure is not None:
        return _unknown(
            chosen,
            base,
            source,
            "partial",
            failure,
            rows=len(rows),
            observed=(groups, through),
            sampled=sampled,
        )
    figures = tuple(_figure(c, groups, through) for c in chosen)
    return TenantTraffic(
        **base,  # type: ignore[arg-type]
        status="complete",
        connectors=figures,
        rows=len(rows),
        requests=source.budget.used,
        sampled=sampled,
        detail_candidates=candidates,
        sampling=sampling,
    )


def _unknown(
    chosen: Sequence[LiveConnector],
    base: dict[str, Any],
    source: TraceSource,
    status: Status,
    error: str,
    *,
    rows: int = 0,
    observed: tuple[Sequence[_Group], Through] = ((), {}),
    sampled: int = 0,
) -> TenantTraffic:
    figures = []
    for c in chosen:
        seen = _observed_rows(c, *observed)
        figures.append(
            ConnectorTraffic(
                kind=c.kind,
                name=c.name,
                method="unknown",
                messages=None,
                observed=len(seen),
                candidates=0,
                first_seen=_first(seen),
                last_seen=_last(seen),
                top_domains=_top(seen, c.kind),
                how=f"unknown: {error}" + (f" (at least {len(seen)} observed before that)" if seen else ""),
            )
        )
    return TenantTraffic(
        status=status,
        connectors=tuple(figures),
        error=error,
        rows=rows,
        requests=source.budget.used,
        sampled=sampled,
        **base,
    )


def _groups(
    connectors: Iterable[LiveConnector], rows: list[dict[str, Any]], accepted: set[str]
) -> list[_Group]:
    """The candidate groups of ``rows``, empty ones left out.  Per direction they partition the rows: a row
    belongs to the first connector (in listing order) whose IPs (inbound) or recipient domains (outbound)
    match it, else to that direction's pool (inbound: any FromIP; outbound: a domain not accepted)."""
    inbound = [c for c in connectors if c.kind == "InboundConnector"]
    outbound = [c for c in connectors if c.kind == "OutboundConnector"]
    networks = {c.name: _networks(getattr(c.connector, "sender_ip_addresses", [])) for c in inbound}
    scopes = {c.name: list(getattr(c.connector, "recipient_domains", [])) for c in outbound}
    groups: dict[tuple[Kind, str | None], _Group] = {}

    def add(kind: Kind, owner: str | None, row: dict[str, Any]) -> None:
        groups.setdefault((kind, owner), _Group(kind, owner, [])).rows.append(row)

    for row in rows:
        ip = _ip(row.get("FromIP"))
        if ip is not None:
            owner = next((name for name, nets in networks.items() if any(_in(ip, n) for n in nets)), None)
            add("InboundConnector", owner, row)
        domain = _domain(row.get("RecipientAddress"))
        if domain:
            owner = next((name for name, scope in scopes.items() if _domain_in(domain, scope)), None)
            if owner is not None or domain not in accepted:
                add("OutboundConnector", owner, row)
    return list(groups.values())


def _sample(groups: list[_Group], source: TraceSource, through: Through) -> str | None:
    """Read detail events of rows chosen from each group in turn while the budget lasts, up to
    :data:`DETAIL_CONCURRENCY` at once; the error of the first detail read that failed, if one did (a
    budget that runs out is not a failure: it ends the sampling)."""
    plan: list[list[dict[str, Any]]] = [[] for _ in groups]
    left = source.budget.left
    wanted = {id(row) for g in groups for row in g.rows}
    unique_budget = min(left, len(wanted))
    chosen: set[int] = set()
    # How many rows each group gets: in turn, one at a time, until the budget or the rows run out.
    quota = [0] * len(groups)
    progress = True
    while len(chosen) < unique_budget and progress:
        progress = False
        for index, group in enumerate(groups):
            if len(chosen) >= unique_budget or quota[index] >= len(group.rows):
                continue
            quota[index] += 1
            progress = True
            pick = _spread(group.rows, quota[index])
            plan[index] = pick
            chosen = {id(r) for p in plan for r in p}
    unique = {id(row): row for rows in plan for row in rows}
    results: dict[int, list[dict[str, Any]]] = {}
    failure: str | None = None
    with ThreadPoolExecutor(max_workers=DETAIL_CONCURRENCY, thread_name_prefix="exo-trace") as pool:
        futures = {
            key: pool.submit(
                source.detail, str(row.get("MessageTraceId", "")), str(row.get("RecipientAddress", ""))
            )
            for key, row in unique.items()
        }
        for key, future in futures.items():
            try:
                results[key] = future.result()
            except BudgetExhausted:
                continue
            except ExoformError as exc:
                if failure is None:  # the first failure: the reads not started yet are not sent
                    failure = str(exc)
                    for pending in futures.values():
                        pending.cancel()
            except CancelledError:
                continue
    if failure is not None:
        return failure
    for group, rows in zip(groups, plan, strict=True):
        for row in rows:
            if id(row) not in results:
                continue
            group.sampled.append(row)
            for named in _named(results[id(row)]):
                group.hits[named] += 1
                through.setdefault(id(row), set()).add(named)
    return None


def _spread(rows: list[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """``count`` rows of ``rows`` evenly spaced (rows are newest first)."""
    if count >= len(rows):
        return list(rows)
    step = len(rows) / count
    return [rows[int(i * step)] for i in range(count)]


def _named(events: list[dict[str, Any]]) -> set[tuple[Kind, str]]:
    """The connectors detail events name, by the data keys the service writes."""
    found: set[tuple[Kind, str]] = set()
    for event in events:
        data = str(event.get("Data") or "")
        for key, kind in ((INBOUND_KEY, "InboundConnector"), (OUTBOUND_KEY, "OutboundConnector")):
            at = data.find(key)
            if at >= 0:
                value = data[at + len(key) :]
                name = re.split(r"[;<>\"']", value, maxsplit=1)[0].strip()
                if name:
                    found.add((kind, name))  # type: ignore[arg-type]
    return found


def _figure(c: LiveConnector, groups: list[_Group], through: Through) -> ConnectorTraffic:
    key = (c.kind, c.name.casefold())
    own = next((g for g in groups if g.direction == c.kind and g.owner == c.name), None)
    pool = next((g for g in groups if g.direction == c.kind and g.owner is None), None)
    observed = _observed_rows(c, groups, through)
    estimate = 0.0
    exact = True
    for g in groups:
        if g.direction != c.kind:  # the groups of one direction partition its rows; the other's overlap them
            continue
        hits = sum(n for (kind, name), n in g.hits.items() if (kind, name.casefold()) == key)
        if g.sampled:
            estimate += hits * len(g.rows) / len(g.sampled)
        exact = exact and len(g.sampled) == len(g.rows)
    criterion = "FromIP in sender_ip_addresses" if c.kind == "InboundConnector" else "recipient domain"
    matched = len(own.rows) if own else 0
    if exact:
        method: Method = "observed"
        messages: int | None = len(observed)
        how = (
            f"observed: named in the detail events of {len(observed)} message(s); every candidate read"
            if observed
            else "observed: not named in the detail events of any message in the window (all read)"
        )
    elif own is None and pool is None and not observed:
        method, messages = "sampled", 0
        how = (
            f"sampled: no summary row matches it by {criterion} and no other row it could have carried; "
            "not named in any detail read"
        )
    elif own is not None and not own.sampled:
        method, messages = "estimated", round(estimate) + matched
        how = f"estimated: {matched:,} summary row(s) with {criterion}, no detail events read for them"
    elif not own and pool is not None and not pool.sampled:
        method, messages = "unknown", None
        how = (
            f"unknown: no summary row matches it by {criterion} and none of the {len(pool.rows)} other "
            "row(s) it could have carried had its detail events read"
        )
    else:
        method, messages = "sampled", round(estimate)
        read = (len(own.sampled) if own else 0) + (len(pool.sampled) if pool else 0)
        total = (len(own.rows) if own else 0) + (len(pool.rows) if pool else 0)
        how = (
            f"sampled: named in {len(observed):,} of {read:,} detail read(s) of {total:,} candidate row(s); "
            f"extrapolated to {messages:,}"
        )
    basis = observed if observed else (own.rows if own and method == "estimated" else [])
    return ConnectorTraffic(
        kind=c.kind,
        name=c.name,
        method=method,
        messages=messages,
        observed=len(observed),
        candidates=matched,
        first_seen=_first(basis),
        last_seen=_last(basis),
        top_domains=_top(basis, c.kind),
        how=how,
    )


def _observed_rows(c: LiveConnector, groups: Sequence[_Group], through: Through) -> list[dict[str, Any]]:
    """The sampled rows whose detail events named ``c``."""
    key = (c.kind, c.name.casefold())
    seen: dict[int, dict[str, Any]] = {}
    for g in groups:
        for row in g.sampled:
            if any((kind, name.casefold()) == key for kind, name in through.get(id(row), ())):
                seen[id(row)] = row
    return list(seen.values())


def _first(rows: Sequence[dict[str, Any]]) -> datetime | None:
    times = [t for r in rows if (t := parse_wire_time(r.get("Received"))) is not None]
    return min(times) if times else None


def _last(rows: Sequence[dict[str, Any]]) -> datetime | None:
    times = [t for r in rows if (t := parse_wire_time(r.get("Received"))) is not None]
    return max(times) if times else None


def _top(rows: Sequence[dict[str, Any]], kind: Kind) -> tuple[tuple[str, int], ...]:
    field_name = "SenderAddress" if kind == "InboundConnector" else "RecipientAddress"
    counts = Counter(d for r in rows if (d := _domain(r.get(field_name))))
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:TOP_DOMAINS])


def _domain(address: Any) -> str:
    if not isinstance(address, str) or "@" not in address:
        return ""
    return address.rsplit("@", 1)[1].strip().casefold()


def _domain_in(domain: str, scope: Sequence[str]) -> bool:
    for entry in scope:
        entry = entry.casefold()
        if entry == "*" or entry == domain:
            return True
        if entry.startswith("*.") and domain.endswith(entry[1:]):
            return True
    return False


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPRange = tuple[ipaddress.IPv4Address | ipaddress.IPv6Address, ipaddress.IPv4Address | ipaddress.IPv6Address]


def _networks(entries: Iterable[str]) -> list[IPNetwork | IPRange]:
    nets: list[IPNetwork | IPRange] = []
    for entry in entries:
        try:
            if "-" in entry:
                low, high = entry.split("-", 1)
                nets.append((ipaddress.ip_address(low.strip()), ipaddress.ip_address(high.strip())))
            else:
                nets.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            continue
    return nets


def _ip(text: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _in(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, net: IPNetwork | IPRange) -> bool:
    if isinstance(net, tuple):
        low, high = net
        return ip.version == low.version and low <= ip <= high  # type: ignore[operator]
    return ip in net


# -- the planner-side finding ------------------------------------------------------------------------------


def in_use_summary(report: TenantTraffic, kind: Kind, name: str) -> str:
    """What a review should say about a change to connector ``kind``/``name``: "in use: 1,234 messages in
    the last 48 h, last at ...", "no traffic in the last 48 h", or "traffic unknown: ...".  Pure: it reads
    only ``report``.  A failed or partial read never says "no traffic"."""
    window = window_text(report)
    figure = report.find(kind, name)
    if figure is None:
        return f"traffic unknown: the connector was not measured ({window})"
    if figure.method == "unknown" or figure.messages is None:
        if figure.observed:
            return (
                f"in use: at least {figure.observed:,} message(s) {window}, last at "
                f"{_when(figure.last_seen)} (the trace read was incomplete: {figure.how})"
            )
        return f"traffic unknown {window}: {figure.how.removeprefix('unknown: ')}"
    if figure.messages == 0:  # ``how`` starts with the method ("observed: ...", "sampled: ...")
        return f"no traffic {window} ({figure.how})"
    approx = "" if figure.method == "observed" else "about "
    return (
        f"in use: {approx}{figure.messages:,} message(s) {window}, last at {_when(figure.last_seen)} "
        f"({figure.method})"
    )


def window_text(report: TenantTraffic) -> str:
    """``in the last 48 h`` / ``in the last 7 days`` (whole hours)."""
    hours = round(report.hours)
    if hours > 48 and hours % 24 == 0:
        return f"in the last {hours // 24} days"
    return f"in the last {hours} h"


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC") if moment is not None else "an unknown time"


# -- one tenant, through its provider ----------------------------------------------------------------------


def tenant_traffic(
    provider: BaseProvider,
    *,
    start: datetime,
    end: datetime,
    budget: int = DEFAULT_BUDGET,
    targets: Sequence[Target] = (),
) -> TenantTraffic:
    """Read the tenant's connectors and its message trace through ``provider`` (not closed here) and
    measure the connectors ``targets`` select (all without targets).  Never raises an
    :class:`~reconciler.errors.ExoformError`: a tenant that cannot be read is a ``failed`` report."""
    from reconciler.providers.trace import RequestBudget
    from reconciler.reconcile.targeting import targeted

    tenant = provider.tenant
    if "message_trace" not in provider.capabilities:
        error = f"tenant {tenant}: its provider cannot read message trace"
        return TenantTraffic(tenant=tenant, start=start, end=end, status="failed", error=error, budget=budget)
    try:
        live = provider.read()
    except ExoformError as exc:
        return TenantTraffic(
            tenant=tenant, start=start, end=end, status="failed", error=str(exc), budget=budget
        )
    chosen = [c for c in live.connectors if targeted(tuple(targets), c.kind, c.name)]
    reader = provider.message_trace(RequestBudget(budget))
    return measure(tenant, live, reader, start=start, end=end, connectors=chosen)
