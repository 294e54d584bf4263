"""Switchable faults and the counters that make them observable.

A :class:`Faults` object holds run-wide settings (added latency, a per-tenant concurrency cap, the seed of
the random choices) and a list of :class:`Fault` rules.  Each rule has a *kind* (what goes wrong) and a
*selection* (which requests it hits).  Rules are checked in order for every request to the endpoints they
select; the first that fires decides the response.

A rule selects InvokeCommand unless ``on`` says otherwise: ``on=token`` (the OAuth token endpoint,
``POST /{tenant}/oauth2/v2.0/token``), ``on=discovery`` (OpenID discovery,
``GET /{tenant}[/v2.0]/.well-known/openid-configuration``), ``on=identity`` (both), ``on=github`` (the
GitHub Actions OIDC stand-in, ``GET /_github/oidc/token``), ``on=invoke`` (the default), or several joined
with ``|``.  So identity requests are faulted only by rules that name them, and
never delayed; a rule without ``on`` behaves as it always did.  On identity endpoints only ``status``,
``html``, ``text``, ``reset`` and ``close`` apply, and ``cmdlet`` / ``writes`` / ``page`` cannot be given
(they describe InvokeCommand requests).  A ``status`` fault there answers with an Entra-style OAuth error
body (``error``, ``error_description`` with an AADSTS code): ``temporarily_unavailable`` for 429, 503 and
504, ``server_error`` for other 5xx, ``invalid_request`` for 4xx, or the code given as ``error=``.
Injections on identity endpoints are counted as ``token:<label>`` / ``discovery:<label>`` /
``github:<label>``.

Kinds:

``status``          an HTTP error status with a JSON error body (``429`` adds ``Retry-After``)
``throttled_200``   HTTP 200 whose body is an error saying the server is busy / the request was throttled
``html``, ``text``  an error status with an HTML or a plain-text body
``reset``           TCP reset (socket server) / ``httpx.ReadError`` (in-process)
``close``           connection closed without a response / ``httpx.RemoteProtocolError``
``drop_after_write``  the cmdlet runs (the write happens), then the connection closes without a response
``expire_tokens``   every access token issued so far becomes invalid (the request then gets 401)

Selection: ``after`` lets the first N matching requests through, ``count`` fires at most N times,
``fraction`` fires on that share of matching requests (seeded, so runs repeat), ``cmdlets`` / ``writes_only``
/ ``page`` / ``tenants`` narrow the requests that match, ``on`` chooses the endpoints (above).

Spec strings (CLI ``--fault`` and config files): ``KIND[:key=value,...]`` where KIND is a status number
(``429``, ``500``, ``503``...) or a kind name, e.g. ``429:count=3,retry_after=2,retry_after_form=date``,
``503:fraction=0.2``, ``reset:cmdlet=New-InboundConnector``, ``500:page=2``, ``drop_after_write:count=1``,
``expire_tokens:after=5,count=1``, ``text:status=503,body=Server busy``, ``503:on=token,count=2``,
``429:on=token,retry_after=1,count=1``, ``reset:on=discovery,count=1``, ``html:on=identity,status=500``,
``400:on=token,error=invalid_request``.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

KINDS = ("status", "throttled_200", "html", "text", "reset", "close", "drop_after_write", "expire_tokens")
#: The endpoints a rule can select with ``on=`` (``identity`` is shorthand for token and discovery;
#: ``github`` is the GitHub Actions OIDC stand-in).
ENDPOINTS = ("invoke", "token", "discovery", "github")
#: The kinds that make sense on the identity endpoints (the others are about cmdlets and access tokens).
IDENTITY_KINDS = ("status", "html", "text", "reset", "close")
CONCURRENCY_MESSAGE = (
    "You have reached the maximum number of concurrent requests per tenant. Please wait and try again"
)


class ConnectionFault(Exception):
    """Raised by :meth:`Emulator.handle` when the connection must break instead of answering.

    ``how`` is ``reset`` (TCP RST) or ``close`` (close without a response).
    """

    def __init__(self, how: str) -> None:
        self.how = how
        super().__init__(how)


@dataclass
class Fault:
    """One fault rule (see the module docstring)."""

    kind: str
    status: int = 503
    retry_after: float | None = None
    retry_after_form: str = "seconds"  # or "date" (an HTTP-date)
    body: str | None = None
    count: int | None = None
    after: int = 0
    fraction: float | None = None
    cmdlets: frozenset[str] = frozenset()
    writes_only: bool = False
    page: int | None = None
    tenants: frozenset[str] = frozenset()
    on: frozenset[str] = frozenset({"invoke"})
    error: str | None = None
    seen: int = field(default=0, compare=False)
    fired: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(
                f"unknown fault kind '{self.kind}' (expected a status number or one of {', '.join(KINDS)})"
            )
        if self.retry_after_form not in ("seconds", "date"):
            raise ValueError("retry_after_form must be 'seconds' or 'date'")
        if self.fraction is not None and not 0.0 <= self.fraction <= 1.0:
            raise ValueError("fraction must be between 0 and 1")
        if self.kind == "status" and self.status == 429 and self.retry_after is None:
            self.retry_after = 1.0
        self.cmdlets = frozenset(c.casefold() for c in self.cmdlets)
        self.tenants = frozenset(t.casefold() for t in self.tenants)
        on = {e.strip().casefold() for e in self.on if e.strip()}
        if "identity" in on:
            on = (on - {"identity"}) | {"token", "discovery"}
        unknown = sorted(on - set(ENDPOINTS))
        if unknown or not on:
            raise ValueError(
                f"on= names unknown endpoint(s) {', '.join(unknown) or '(none)'} "
                f"(expected {', '.join(ENDPOINTS)} or identity, joined with |)"
            )
        self.on = frozenset(on)
        if self.on - {"invoke"}:
            if self.kind not in IDENTITY_KINDS:
                raise ValueError(
                    f"fault kind '{self.kind}' applies to InvokeCommand only; on=token, discovery or github "
                    f"takes {', '.join(IDENTITY_KINDS)}"
                )
            if self.cmdlets or self.writes_only or self.page is not None:
                raise ValueError(
                    "cmdlet=, writes= and page= select InvokeCommand requests, not token, discovery or github"
                )

    @property
    def label(self) -> str:
        """The name under which injections are counted: the status for ``status``, else the kind."""
        return str(self.status) if self.kind == "status" else self.kind

    @classmethod
    def parse(cls, spec: str) -> Fault:
        """A rule from a spec string ``KIND[:key=value,...]``; ValueError naming the problem if invalid."""
        head, _, rest = spec.strip().partition(":")
        options: dict[str, Any] = {}
        if head.isdigit():
            options["kind"], options["status"] = "status", int(head)
        else:
            options["kind"] = head.strip().lower()
        for item in filter(None, (part.strip() for part in rest.split(","))):
            key, sep, value = item.partition("=")
            key = key.strip().lower()
            if not sep:
                raise ValueError(f"fault option '{item}' must be key=value")
            value = value.strip()
            try:
                if key in ("status", "count", "after", "page"):
                    options[key] = int(value)
                elif key in ("retry_after", "fraction"):
                    options[key] = float(value)
                elif key in ("retry_after_form", "body", "error"):
                    options[key] = value
                elif key == "on":
                    options["on"] = frozenset(v for v in value.split("|") if v)
                elif key in ("cmdlet", "cmdlets"):
                    options["cmdlets"] = frozenset(v for v in value.split("|") if v)
                elif key in ("tenant", "tenants"):
                    options["tenants"] = frozenset(v for v in value.split("|") if v)
                elif key in ("writes", "writes_only"):
                    options["writes_only"] = value.lower() in ("1", "true", "yes")
                else:
                    raise ValueError(f"unknown fault option '{key}'")
            except ValueError as exc:
                raise ValueError(f"fault '{spec}': {exc}") from None
        try:
            return cls(**options)
        except ValueError as exc:
            raise ValueError(f"fault '{spec}': {exc}") from None


@dataclass
class Request:
    """What fault selection looks at in a request: ``endpoint`` is ``invoke``, ``token`` or ``discovery``
    (identity requests have no cmdlet, are no write and are page 1)."""

    tenant: str
    cmdlet: str = ""
    write: bool = False
    page: int = 1
    endpoint: str = "invoke"


@dataclass
class Faults:
    """The faults in force.  Mutable between (and during) requests; :meth:`pick` is thread-safe."""

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    max_concurrent_per_tenant: int | None = None
    seed: int = 0
    rules: list[Fault] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

    def add(self, fault: Fault | str) -> Fault:
        """Append a rule (a :class:`Fault` or a spec string) and return it."""
        rule = Fault.parse(fault) if isinstance(fault, str) else fault
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        """Remove every rule, the latency and the concurrency cap."""
        with self._lock:
            self.rules.clear()
            self.latency_ms = self.jitter_ms = 0.0
            self.max_concurrent_per_tenant = None

    def delay_seconds(self) -> float:
        with self._lock:
            jitter = self._rng.uniform(0.0, self.jitter_ms) if self.jitter_ms > 0 else 0.0
        return max(0.0, self.latency_ms + jitter) / 1000.0

    def pick(self, request: Request, kinds: tuple[str, ...]) -> Fault | None:
        """The first rule of one of ``kinds`` that fires for ``request`` (its counters advance)."""
        with self._lock:
            for rule in self.rules:
                if rule.kind not in kinds or not _matches(rule, request):
                    continue
                rule.seen += 1
                if rule.seen <= rule.after:
                    continue
                if rule.count is not None and rule.fired >= rule.count:
                    continue
                if rule.fraction is not None and self._rng.random() >= rule.fraction:
                    continue
                rule.fired += 1
                return rule
        return None


def _matches(rule: Fault, request: Request) -> bool:
    if request.endpoint not in rule.on:
        return False
    if rule.cmdlets and request.cmdlet.casefold() not in rule.cmdlets:
        return False
    if rule.tenants and request.tenant.casefold() not in rule.tenants:
        return False
    if rule.writes_only and not request.write:
        return False
    return rule.page is None or rule.page == request.page


class Stats:
    """Counts of requests served and faults injected.  Thread-safe; read with :meth:`snapshot`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests = 0
        self.cmdlets: Counter[str] = Counter()
        self.faults: Counter[str] = Counter()
        self.identity: Counter[str] = Counter()
        self.tokens_issued = 0
        self.max_in_flight = 0

    def count_request(self) -> None:
        with self._lock:
            self.requests += 1

    def count_cmdlet(self, cmdlet: str) -> None:
        with self._lock:
            self.cmdlets[cmdlet] += 1

    def count_fault(self, label: str) -> None:
        with self._lock:
            self.faults[label] += 1

    def count_identity(self, endpoint: str) -> None:
        """One request reached the ``token``, ``discovery`` or ``github`` endpoint (answered, faulted or
        refused)."""
        with self._lock:
            self.identity[endpoint] += 1

    def count_token(self) -> None:
        with self._lock:
            self.tokens_issued += 1

    def note_in_flight(self, in_flight: int) -> None:
        with self._lock:
            self.max_in_flight = max(self.max_in_flight, in_flight)

    def snapshot(self) -> dict[str, Any]:
        """``{"requests", "cmdlets": {name: n}, "faults": {label: n}, "identity": {endpoint: n},
        "tokens_issued", "max_in_flight"}``; ``identity`` counts token, discovery and github requests,
        including the faulted and refused ones."""
        with self._lock:
            return {
                "requests": self.requests,
                "cmdlets": dict(self.cmdlets),
                "faults": dict(self.faults),
                "identity": dict(self.identity),
                "tokens_issued": self.tokens_issued,
                "max_in_flight": self.max_in_flight,
            }

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.cmdlets.clear()
            self.faults.clear()
            self.identity.clear()
            self.tokens_issued = 0
            self.max_in_flight = 0
