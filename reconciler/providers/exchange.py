"""The Exchange Online provider: connectors over the admin API's ``InvokeCommand`` REST endpoint.

:class:`InvokeClient` speaks the protocol (reference section 4): one POST per cmdlet call to
``{endpoint}/adminapi/beta/{tenant}/InvokeCommand`` with a ``CmdletInput`` body, paging through
``@odata.nextLink``, regional redirects followed by hand, retries for throttling and transient faults,
and per-tenant caps on concurrent reads and writes.  :class:`ExchangeProvider` builds the provider
protocol of :mod:`reconciler.providers.base` on top of it.  ``provider: local`` is this same code over the
emulator's in-process transport (:mod:`reconciler.providers.local`).

Contracts:
- :meth:`ExchangeProvider.read` is complete or raises :class:`ReadError`: every page of every listing
  must arrive whole and well-formed; unknown properties are ignored.
- A write whose outcome is unknown (timeout, connection lost after sending, a dropped or garbled
  response, a 5xx) is resolved by re-reading the tenant before any retry: a create never runs twice, a
  delete of an object that is gone counts as done.
- Validation errors of the service are not retried; they reach the user as the service's own text.
- No exception message or log line carries a token, a secret or a client assertion.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import pydantic
from tenacity import RetryCallState, Retrying

from reconciler.config import ExoformConfig, TenantConfig
from reconciler.errors import AuthError, ExoformError, ReadError, WriteError
from reconciler.model import FIELDS, Connector, Kind, from_live
from reconciler.providers import pool
from reconciler.providers.auth import ROLE_HINT, TokenSource, msal_credential, resolve_endpoints, tls_context
from reconciler.providers.auth import tls_failure as _tls_failure
from reconciler.providers.base import LiveConnector, LiveState
from reconciler.providers.retry import RetryPolicy, controller, parse_retry_after, retry_policy

log = logging.getLogger(__name__)

#: The system mailbox app-only calls are routed by (reference section 4.1).
ANCHOR_MAILBOX = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
MAX_REDIRECTS = 5
_THROTTLE_RE = re.compile(
    r"throttl|server ?busy|too many requests|temporarily unavailable|try again|concurrent requests|"
    r"MicroDelay|Backoff",
    re.IGNORECASE,
)
_TAG_RE = re.compile(r"<[^>]+>")


class CallFailure(Exception):
    """One cmdlet call failed.  Internal: the provider turns it into a ReadError/WriteError/AuthError.

    ``retryable``: trying again may succeed.  ``unknown_outcome``: the request may have been carried out
    (only matters for writes).  ``not_found``: the service says the object does not exist.
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


def service_error(response: httpx.Response) -> tuple[str, str, str]:
    """(code, exception type, text) from an error response; the ``ExNNNNNN|type|text`` triple when sent.

    Falls back to ``error.innererror.internalexception.message``, then ``error.message``, then the body's
    text with HTML tags removed.
    """
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error") or body.get("@odata.error")
        if isinstance(error, dict):
            return _error_triple(error)
        if isinstance(error, str) and error:
            return "", "", error
    text = " ".join(_TAG_RE.sub(" ", response.text).split())
    return "", "", text[:300] or f"HTTP {response.status_code} with an empty body"


_AUTH_PARAM_RE = re.compile(r'([A-Za-z_][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,;]+))')
_EXPIRED_RE = re.compile(r"\bexpired?\b|\blifetime validation failed\b", re.IGNORECASE)


def auth_params(header: str) -> dict[str, str]:
    """The ``name=value`` parameters of a ``WWW-Authenticate`` or ``x-ms-diagnostics`` header, names in
    lower case (quoted values unquoted); a parameter named twice keeps its first value."""
    params: dict[str, str] = {}
    for match in _AUTH_PARAM_RE.finditer(header):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        params.setdefault(match.group(1).lower(), value.replace('\\"', '"'))
    return params


def token_expired_reason(response: httpx.Response, text: str) -> str | None:
    """The service's own words when a 401 says the bearer token was refused because it expired, else None.

    Looked for, in order: the ``error_description`` of ``WWW-Authenticate`` (RFC 6750; sent with
    ``error="invalid_token"``), the ``reason`` of Exchange's ``x-ms-diagnostics`` header, then the body's
    text (``text``).  A refusal that does not mention expiry (a missing role, another tenant's token) gives
    None, so its message keeps the permission hint.
    """
    challenge = auth_params(response.headers.get("www-authenticate", ""))
    diagnostics = auth_params(response.headers.get("x-ms-diagnostics", ""))
    for said in (challenge.get("error_description", ""), diagnostics.get("reason", ""), text):
        if said and _EXPIRED_RE.search(said):
            error = challenge.get("error") or diagnostics.get("error_category")
            return f"{error}: {said}" if error and error not in said else said
    return None


def _error_triple(error: dict[str, Any]) -> tuple[str, str, str]:
    details = error.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        message = str(details[0].get("message") or "")
        parts = message.split("|", 2)
        if len(parts) == 3 and parts[0].startswith("Ex"):
            return parts[0], parts[1], parts[2]
        if message:
            return "", "", message
    inner = error.get("innererror")
    if isinstance(inner, dict):
        internal = inner.get("internalexception")
        if isinstance(internal, dict) and internal.get("message"):
            return "", str(internal.get("type") or ""), str(internal["message"])
    return str(error.get("code") or ""), "", str(error.get("message") or "error without a message")


class InvokeClient:
    """The InvokeCommand protocol for one tenant.  Thread-safe.

    ``http`` must verify TLS and must not follow redirects (they are followed here, so the bearer token
    goes only to the service's own hosts: the configured endpoint's host and its subdomains).
    """

    def __init__(
        self,
        tenant: str,
        *,
        http: httpx.Client,
        tokens: TokenSource,
        api_base: str,
        tenant_segment: str,
        policy: RetryPolicy | None = None,
        read_concurrency: int = 4,
        write_concurrency: int = 1,
        page_size: int = 1000,
    ) -> None:
        self.tenant = tenant
        self.http = http
        self.tokens = tokens
        self.policy = policy or RetryPolicy()
        self.page_size = page_size
        #: The service's base URL (what the provider learns about the service is kept per base URL).
        self.api_base = api_base.rstrip("/")
        self._service_host = (urlsplit(api_base).hostname or "").lower()
        self._invoke_url = f"{api_base}/adminapi/beta/{tenant_segment}/InvokeCommand"
        self._anchor = ANCHOR_MAILBOX + tenant_segment
        self._read_slots = threading.BoundedSemaphore(read_concurrency)
        self._write_slots = threading.BoundedSemaphore(write_concurrency)
        self._url_lock = threading.Lock()
        #: HTTP requests sent to the API (token requests not counted), for tests and benchmarks.
        self.requests = 0

    # -- public -------------------------------------------------------------------------------------------

    def call(
        self, cmdlet: str, parameters: dict[str, Any], *, select: str | None = None
    ) -> list[dict[str, Any]]:
        """A read-only cmdlet's output objects, every page of them; raises :class:`CallFailure`.

        Pages are fetched one after the other (each page's link is only known from the previous one); a
        failed page is retried on its own by the policy, never skipped.  ``select`` (comma-separated
        property names) asks the service for only those properties (``$select``); the next-page links
        the service hands out carry it on.
        """
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        objects: list[dict[str, Any]] = []
        url: str | None = self._invoke_url + (f"?$select={select}" if select else "")
        while url is not None:
            page, url = self._with_retries(functools.partial(self._post, url, body, cmdlet, write=False))
            objects.extend(page)
        return objects

    def call_once(self, cmdlet: str, parameters: dict[str, Any], *, write: bool) -> list[dict[str, Any]]:
        """One attempt of ``cmdlet`` (first page only for writes, which have no pages)."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        objects, _ = self._post(self._invoke_url, body, cmdlet, write=write)
        return objects

    def retrying(self) -> Retrying:
        """A tenacity controller with this client's policy, retrying retryable :class:`CallFailure`."""

        def before_sleep(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.debug(
                "tenant %s: attempt %d failed (%s); retrying in %.2f s",
                self.tenant,
                state.attempt_number,
                exc,
                state.upcoming_sleep,
            )

        return controller(
            self.policy,
            lambda e: isinstance(e, CallFailure) and e.retryable,
            before_sleep,
            last_attempt_at_deadline=True,
        )

    # -- internals ----------------------------------------------------------------------------------------

    def _with_retries(
        self, fn: Callable[[], tuple[list[dict[str, Any]], str | None]]
    ) -> tuple[list[dict[str, Any]], str | None]:
        for attempt in self.retrying():
            with attempt:
                return fn()
        raise AssertionError("unreachable: tenacity reraises")  # pragma: no cover

    @contextmanager
    def _slot(self, write: bool) -> Iterator[None]:
        slots = self._write_slots if write else self._read_slots
        with slots:
            yield

    def is_service_host(self, url: str) -> bool:
        """True for the configured endpoint's host and its subdomains (where the token may go)."""
        host = (urlsplit(url).hostname or "").lower()
        return urlsplit(url).scheme == "https" and (
            host == self._service_host or host.endswith("." + self._service_host)
        )

    def _post(
        self, url: str, body: dict[str, Any], cmdlet: str, *, write: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One POST (plus redirects and one token refresh): the page's objects and the next page's URL."""
        refreshed = False
        redirects = 0
        original = url
        while True:
            with_token = self.is_service_host(url)
            token = self.tokens.token() if with_token else None
            headers = {
                "X-AnchorMailbox": self._anchor,
                "Prefer": f"odata.maxpagesize={self.page_size}",
                "X-ResponseFormat": "json",
                "X-CmdletName": cmdlet,
                "X-ClientApplication": "exoform",
                "client-request-id": str(uuid.uuid4()),
                "Accept": "application/json",
            }
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            response = self._send(url, body, headers, cmdlet, write=write)
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise CallFailure(f"{cmdlet}: more than {MAX_REDIRECTS} redirects")
                url = self._redirect_target(url, response.headers["location"])
                log.debug("tenant %s: %s redirected to %s", self.tenant, cmdlet, _origin(url))
                if url.split("?")[0] != original.split("?")[0] and original.split("?")[0] == self._invoke_url:
                    self._remember_invoke_url(url)
                continue
            if status in (401, 403) and token is None:
                raise CallFailure(
                    f"{cmdlet}: the request was redirected to {_origin(url)}, which is not a host of the "
                    "configured endpoint, so the token was not sent there; if that host is genuine, set "
                    "endpoint to it",
                    auth=True,
                )
            if status == 401 and token is not None and not refreshed:
                refreshed = True
                self.tokens.invalidate(token)
                log.debug("tenant %s: %s got 401; refreshing the token once", self.tenant, cmdlet)
                continue
            return self._interpret(response, cmdlet, write=write)

    def _send(
        self, url: str, body: dict[str, Any], headers: dict[str, str], cmdlet: str, *, write: bool
    ) -> httpx.Response:
        with self._slot(write):
            with self._url_lock:
                self.requests += 1
            try:
                return self.http.post(_parsed(url), json=body, headers=headers, timeout=self.policy.timeout)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                tls = _tls_failure(exc)
                if tls:
                    raise CallFailure(f"{cmdlet}: {_origin(url)}: {tls}") from None
                raise CallFailure(
                    f"{cmdlet}: cannot connect to {_origin(url)} ({type(exc).__name__})", retryable=True
                ) from None
            except httpx.TransportError as exc:
                # Sent, or partly sent: the service may have carried it out.
                raise CallFailure(
                    f"{cmdlet}: connection to {_origin(url)} failed before the response arrived "
                    f"({type(exc).__name__})",
                    retryable=True,
                    unknown_outcome=True,
                ) from None

    def _redirect_target(self, url: str, location: str) -> str:
        target = urljoin(url, location)
        parts = urlsplit(target)
        if parts.scheme != "https":
            raise CallFailure(f"refusing a redirect to a non-https URL ({_origin(target)})")
        if parts.port == 446 and self.is_service_host(target):
            # The front door names its internal port; the public one is 443 (as the module does).
            netloc = parts.hostname or ""
            target = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        return target

    def _remember_invoke_url(self, url: str) -> None:
        if self.is_service_host(url) and urlsplit(url).path.lower().endswith("/invokecommand"):
            with self._url_lock:
                self._invoke_url = url.split("?")[0]

    def _interpret(
        self, response: httpx.Response, cmdlet: str, *, write: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        status = response.status_code
        if 200 <= status < 300:
            return self._page(response, cmdlet, write=write)
        code, exc_type, text = service_error(response)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        throttled = bool(_THROTTLE_RE.search(text)) or bool(_THROTTLE_RE.search(exc_type))
        where = f"HTTP {status}"
        if status == 401 and (expired := token_expired_reason(response, text)) is not None:
            # Only after the one refresh in _post: a token fetched a moment ago was refused as expired too.
            raise CallFailure(
                f"{cmdlet}: the service refused the access token as expired ({where}: {expired}), even one "
                "fetched just before; check that this machine's clock is correct (a clock that runs ahead "
                "or behind makes new tokens look expired) and try again",
                auth=True,
                code=code,
                exception_type=exc_type,
            )
        if status in (401, 403):
            raise CallFailure(
                f"{cmdlet}: the service refused the credentials ({where}: {text}); {ROLE_HINT}",
                auth=True,
                code=code,
                exception_type=exc_type,
            )
        if status == 429 or throttled:
            raise CallFailure(
                f"{cmdlet}: throttled by the service ({where}: {text})",
                retryable=True,
                retry_after=retry_after,
                code=code,
                exception_type=exc_type,
            )
        if status == 404 or exc_type.endswith("ManagementObjectNotFoundException"):
            raise CallFailure(text, not_found=True, code=code, exception_type=exc_type)
        if status in (408,) or status >= 500:
            raise CallFailure(
                f"{cmdlet}: the service failed ({where}: {text})",
                retryable=True,
                unknown_outcome=True,
                retry_after=retry_after,
                code=code,
                exception_type=exc_type,
            )
        if 300 <= status < 400:
            raise CallFailure(f"{cmdlet}: unexpected {where} without a usable Location")
        raise CallFailure(text, code=code, exception_type=exc_type)

    def _page(
        self, response: httpx.Response, cmdlet: str, *, write: bool
    ) -> tuple[list[dict[str, Any]], str | None]:
        def malformed(why: str) -> CallFailure:
            return CallFailure(f"{cmdlet}: malformed response ({why})", retryable=True, unknown_outcome=True)

        try:
            body = json.loads(response.content)
        except ValueError:
            raise malformed("not JSON") from None
        if not isinstance(body, dict):
            raise malformed("not a JSON object")
        error = body.get("error") or body.get("@odata.error")
        if error:
            code, exc_type, text = _error_triple(error) if isinstance(error, dict) else ("", "", str(error))
            if _THROTTLE_RE.search(text) or _THROTTLE_RE.search(exc_type):
                retry_after = parse_retry_after(response.headers.get("retry-after"))
                raise CallFailure(
                    f"{cmdlet}: throttled by the service ({text})", retryable=True, retry_after=retry_after
                )
            raise CallFailure(text, code=code, exception_type=exc_type)
        admin_errors = body.get("@adminapi.errors")
        if isinstance(admin_errors, list) and admin_errors:
            first = admin_errors[0]
            text = str(first.get("message") if isinstance(first, dict) else first)
            raise CallFailure(text)
        value = body.get("value")
        if value is None and write:
            value = []
        if not isinstance(value, list) or not set(map(type, value)) <= {dict}:  # (C-speed for big pages)
            raise malformed("'value' is not a list of objects")
        next_link = body.get("@odata.nextLink")
        if next_link is not None:
            if not isinstance(next_link, str) or not next_link:
                raise malformed("'@odata.nextLink' is not a URL")
            next_link = urljoin(str(response.request.url), next_link)
            if not self.is_service_host(next_link):
                raise CallFailure(f"{cmdlet}: the next page link points outside the service; refusing it")
        return value, next_link


@functools.lru_cache(maxsize=256)
def _parsed(url: str) -> httpx.URL:
    """``url`` parsed once (httpx validates a URL character by character on every request otherwise)."""
    return httpx.URL(url)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


# --- the provider ----------------------------------------------------------------------------------------

_PLAIN: dict[str, Any] = {"ResultSize": "Unlimited"}
_WITH_TEST_MODE: dict[str, Any] = {"ResultSize": "Unlimited", "IncludeTestModeConnectors": True}
_LISTINGS: dict[Kind, list[dict[str, Any]]] = {
    "InboundConnector": [_PLAIN],
    # Test-mode outbound connectors are hidden from a plain listing; whether the flag returns all connectors
    # or only test-mode ones is UNCONFIRMED, so both are listed (concurrently) and joined by Guid -- until
    # the service has shown which (see _FLAG_LISTS_ALL).
    "OutboundConnector": [_PLAIN, _WITH_TEST_MODE],
}

#: Services (endpoint base URLs) whose ``-IncludeTestModeConnectors:$true`` listing was seen to hold a
#: connector that is not in test mode.  Of the two readings of that flag (every connector, or only the
#: test-mode ones) only "every connector" allows that, so from then on that listing alone is complete and
#: the plain outbound listing is skipped.  Learned per process, never assumed: a service that lists only
#: test-mode connectors never gives the evidence and keeps being read with both listings.
_FLAG_LISTS_ALL: set[str] = set()
_FLAG_LOCK = threading.Lock()


#: The properties a listing asks for (``$select``): every managed parameter of the kind, plus the identity
#: and read-only properties status, drift and export show.  The service's AD-object properties
#: (DistinguishedName, OrganizationId, ObjectCategory and the like) are three fifths of a connector's JSON
#: and nothing here reads them.
_SHOWN_PROPERTIES: dict[Kind, tuple[str, ...]] = {
    "InboundConnector": ("Name", "Guid", "ConnectorSource", "WhenChangedUTC"),
    "OutboundConnector": (
        "Name",
        "Guid",
        "ConnectorSource",
        "WhenChangedUTC",
        "IsValidated",
        "LastValidationTimestamp",
    ),
}
_SELECT: dict[Kind, str] = {
    kind: ",".join(dict.fromkeys([*(spec.parameter for spec in FIELDS[kind].values()), *extra]))
    for kind, extra in _SHOWN_PROPERTIES.items()
}


_READERS: ThreadPoolExecutor | None = None
_READERS_LOCK = threading.Lock()
#: Listings in flight at once across all tenants of the process (3 per tenant read; more wait their turn).
MAX_READER_THREADS = 64


def _readers() -> ThreadPoolExecutor:
    """The process-wide threads that run listings (started on demand, idle ones reused)."""
    global _READERS
    with _READERS_LOCK:
        if _READERS is None:
            _READERS = ThreadPoolExecutor(max_workers=MAX_READER_THREADS, thread_name_prefix="exo-read")
        return _READERS


def _wire(value: Any) -> Any:
    """A normalized field value as the service takes it (lists as JSON arrays, None as null)."""
    if isinstance(value, list | tuple):
        return list(value)
    return value


class ExchangeProvider:
    """The :class:`reconciler.providers.base.Provider` of one Exchange Online tenant."""

    def __init__(self, tenant: str, client: InvokeClient, *, owns_http: bool = True) -> None:
        self.tenant = tenant
        self.client = client
        self._owns_http = owns_http

    # -- reading ------------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Fetch the tenant's token (msal: the authority's metadata, then the token) unless one is cached."""
        self.client.tokens.token()

    def read(self) -> LiveState:
        """Every connector of the tenant, both kinds and test-mode ones, or :class:`ReadError`.

        The token is fetched first, then the listings run at once (inbound; outbound with test mode, and
        the plain outbound listing unless this service has shown it is not needed); once all have arrived,
        each connector is built once (an outbound connector may be in both outbound listings).
        """
        self.sign_in()  # before the concurrent wave, so it does not wait on the token in turn
        jobs = self.listings()
        plain_outbound = ("OutboundConnector", _PLAIN) in jobs
        # All listings but the last run on the shared reader threads (starting threads per read costs more
        # CPU than a small tenant's whole read), the last in this thread; every one is awaited before an
        # error is raised, so no listing outlives the read.  The models are built here afterwards: the
        # listings arrive together, and building them in several threads at once only adds switching.
        futures = [_readers().submit(self._list_raw, kind, params) for kind, params in jobs[:-1]]
        try:
            last = self._list_raw(*jobs[-1])
        finally:
            wait(futures)
        listings = [future.result() for future in futures] + [last]
        if plain_outbound and any(obj.get("TestMode") is False for obj in last):
            with _FLAG_LOCK:
                _FLAG_LISTS_ALL.add(self.client.api_base)
            log.debug("%s lists every outbound connector with the test-mode flag", self.client.api_base)
        built: dict[Kind, dict[str, LiveConnector]] = {kind: {} for kind in _LISTINGS}
        for (kind, _), objects in zip(jobs, listings, strict=True):
            by_guid = built[kind]
            for obj in objects:
                guid = obj.get("Guid")
                if type(guid) is str and guid in by_guid:
                    continue  # listed twice: in both outbound listings
                live = self._live(kind, obj)  # raises ReadError for a missing Guid or Name
                by_guid[live.guid] = live
        connectors = [live for group in built.values() for live in group.values()]
        return LiveState(tenant=self.tenant, connectors=connectors)

    def listings(self) -> list[tuple[Kind, dict[str, Any]]]:
        """The listings the next :meth:`read` makes, as (kind, Get parameters); the test-mode one last."""
        with _FLAG_LOCK:
            flag_lists_all = self.client.api_base in _FLAG_LISTS_ALL
        jobs: list[tuple[Kind, dict[str, Any]]] = [("InboundConnector", _PLAIN)]
        if not flag_lists_all:
            jobs.append(("OutboundConnector", _PLAIN))
        jobs.append(("OutboundConnector", _WITH_TEST_MODE))
        return jobs

    def _list_raw(self, kind: Kind, params: dict[str, Any]) -> list[dict[str, Any]]:
        cmdlet = f"Get-{kind}"
        try:
            return self.client.call(cmdlet, dict(params), select=_SELECT[kind])
        except CallFailure as failure:
            raise self._read_error(cmdlet, failure) from None

    def _read_error(self, cmdlet: str, failure: CallFailure) -> ExoformError:
        if failure.auth:
            return AuthError(self.tenant, failure.message)
        message = failure.message if failure.message.startswith(cmdlet) else f"{cmdlet}: {failure.message}"
        if failure.retryable:
            message += f" (gave up after retries; limits: {self.client.policy.max_attempts} attempts)"
        return ReadError(self.tenant, f"cannot read the connectors: {message}")

    def _live(self, kind: Kind, obj: dict[str, Any]) -> LiveConnector:
        name, guid = obj.get("Name"), obj.get("Guid")
        if not isinstance(name, str) or not name:
            raise ReadError(self.tenant, f"Get-{kind} returned an object without a Name")
        if not isinstance(guid, str) or not guid:
            raise ReadError(self.tenant, f"Get-{kind} returned '{name}' without a Guid")
        try:
            connector = from_live(kind, obj)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ReadError(
                self.tenant, f"{kind} '{name}' cannot be read: {where}: {first.get('msg', 'invalid value')}"
            ) from None
        return LiveConnector(kind, name, guid, connector, obj)

    def _list(self, kind: Kind) -> list[LiveConnector]:
        """Every connector of ``kind`` (used to resolve writes of unknown outcome)."""
        objects: list[dict[str, Any]] = []
        for params in _LISTINGS[kind]:
            objects.extend(self._list_raw(kind, params))
        found: dict[str, LiveConnector] = {}
        for obj in objects:
            live = self._live(kind, obj)
            found.setdefault(live.guid.lower(), live)
        return list(found.values())

    def accepted_domains(self) -> list[str]:
        """The tenant's accepted domains (``Get-AcceptedDomain``), lower case, sorted."""
        try:
            objects = self.client.call("Get-AcceptedDomain", {"ResultSize": "Unlimited"})
        except CallFailure as failure:
            raise self._read_error("Get-AcceptedDomain", failure) from None
        domains = {str(o.get("DomainName") or o.get("Name") or "").lower() for o in objects}
        return sorted(d for d in domains if d)

    def validate_outbound(self, live: LiveConnector, recipients: list[str]) -> list[dict[str, Any]]:
        """Run ``Validate-OutboundConnector`` (one result object per smart host); sends test mail."""
        params = {"Identity": live.guid, "Recipients": list(recipients)}
        try:
            return self.client.call_once("Validate-OutboundConnector", params, write=True)
        except CallFailure as failure:
            raise self._write_error("Validate-OutboundConnector", live.name, failure) from None

    # -- writing ------------------------------------------------------------------------------------------

    def create(self, connector: Connector, *, skip_fields: frozenset[str] = frozenset()) -> LiveConnector:
        """``New-*Connector`` with every managed field (defaults included) but ``skip_fields``.

        ``None`` optional values are left out of New (the service's own default is empty).  Set-only fields
        (``validation_recipients``) follow in a ``Set-OutboundConnector`` when not empty.
        """
        kind: Kind = connector.KIND
        specs = FIELDS[kind]
        params: dict[str, Any] = {}
        sent: list[str] = []
        for name, spec in specs.items():
            if name in skip_fields or spec.set_only:
                continue
            value = getattr(connector, name)
            sent.append(name)
            if value is None:
                continue
            params[spec.parameter] = _wire(value)
        cmdlet = f"New-{kind}"
        created: list[LiveConnector] = []

        def applied() -> bool:
            match = self._find(kind, name=connector.name)
            if match is None:
                return False
            differs = [f for f in sent if not _same(f, getattr(match.connector, f), getattr(connector, f))]
            if differs:
                raise WriteError(
                    self.tenant,
                    cmdlet,
                    connector.name,
                    "the first attempt's outcome was unknown and the connector now exists with other values "
                    f"({', '.join(differs)}); run plan again",
                )
            created.append(match)
            return True

        objects = self._write(cmdlet, connector.name, params, applied)
        live = created[0] if created else self._created(kind, connector.name, objects)
        set_after = {
            name: getattr(connector, name)
            for name, spec in specs.items()
            if spec.set_only and name not in skip_fields and getattr(connector, name)
        }
        if set_after:
            self.update(live, set_after)
            updated = live.connector.model_copy(update=set_after)
            raw = dict(live.raw)
            raw.update({specs[n].parameter: _wire(v) for n, v in set_after.items()})
            live = LiveConnector(kind=kind, name=live.name, guid=live.guid, connector=updated, raw=raw)
        return live

    def _created(self, kind: Kind, name: str, objects: list[dict[str, Any]]) -> LiveConnector:
        for obj in objects:
            if isinstance(obj.get("Guid"), str) and str(obj.get("Name", "")).casefold() == name.casefold():
                return self._live(kind, obj)
        # New answered without the object: find it by name.
        try:
            match = self._find(kind, name=name)
        except ReadError as exc:
            raise WriteError(
                self.tenant, f"New-{kind}", name, f"created, but cannot be read back: {exc}"
            ) from None
        if match is None:
            raise WriteError(
                self.tenant,
                f"New-{kind}",
                name,
                "the service reported success but the connector is not there",
            )
        return match

    def update(self, live: LiveConnector, changes: dict[str, Any]) -> None:
        """``Set-*Connector`` by Guid with only ``changes`` (multi-valued fields as full lists)."""
        kind = live.kind
        specs = FIELDS[kind]
        cmdlet = f"Set-{kind}"
        params: dict[str, Any] = {"Identity": live.guid}
        for name, value in changes.items():
            spec = specs.get(name)
            if spec is None:
                raise WriteError(self.tenant, cmdlet, live.name, f"'{name}' is not a field of {kind}")
            if spec.create_only:
                raise WriteError(
                    self.tenant,
                    cmdlet,
                    live.name,
                    f"{name} ({spec.parameter}) can only be set when the connector is created; "
                    "delete and re-create the connector to change it",
                )
            params[spec.parameter] = _wire(value)
        if len(params) == 1:
            return

        def applied() -> bool:
            match = self._find(kind, guid=live.guid)
            if match is None:
                raise WriteError(self.tenant, cmdlet, live.name, "the connector no longer exists")
            return all(_same(n, getattr(match.connector, n), v) for n, v in changes.items())

        self._write(cmdlet, live.name, params, applied)

    def delete(self, live: LiveConnector) -> None:
        """``Remove-*Connector`` by Guid with Confirm false; gone after an unknown outcome counts as done."""
        cmdlet = f"Remove-{live.kind}"

        def applied() -> bool:
            return self._find(live.kind, guid=live.guid) is None

        self._write(cmdlet, live.name, {"Identity": live.guid, "Confirm": False}, applied, gone_is_done=True)

    def close(self) -> None:
        if self._owns_http:
            self.client.http.close()

    # -- write machinery ----------------------------------------------------------------------------------

    def _find(self, kind: Kind, *, name: str | None = None, guid: str | None = None) -> LiveConnector | None:
        for live in self._list(kind):
            if guid is not None and live.guid.lower() == guid.lower():
                return live
            if name is not None and live.name.casefold() == name.casefold():
                return live
        return None

    def _write(
        self,
        cmdlet: str,
        connector: str,
        params: dict[str, Any],
        applied: Callable[[], bool],
        *,
        gone_is_done: bool = False,
    ) -> list[dict[str, Any]]:
        """Run a write with retries; an unknown outcome is resolved by ``applied()`` before trying again."""
        uncertain = False

        def resolve() -> bool:
            try:
                return applied()
            except ReadError as exc:
                raise WriteError(
                    self.tenant,
                    cmdlet,
                    connector,
                    f"the outcome is unknown and the connector could not be re-read ({exc}); "
                    "run plan again before retrying",
                ) from None

        try:
            for attempt in self.client.retrying():
                with attempt:
                    if uncertain:
                        if resolve():
                            log.debug("tenant %s: %s '%s' had been applied", self.tenant, cmdlet, connector)
                            return []
                        uncertain = False
                    try:
                        return self.client.call_once(cmdlet, params, write=True)
                    except CallFailure as failure:
                        if failure.not_found and gone_is_done and attempt.retry_state.attempt_number > 1:
                            return []
                        uncertain = failure.unknown_outcome
                        raise
        except CallFailure as failure:
            if uncertain and resolve():
                return []
            raise self._write_error(cmdlet, connector, failure) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _write_error(self, cmdlet: str, connector: str, failure: CallFailure) -> ExoformError:
        if failure.auth:
            return AuthError(self.tenant, f"{cmdlet} '{connector}': {failure.message}")
        message = failure.message
        if failure.unknown_outcome:
            message += "; the outcome is unknown: run plan again to see the tenant as it is"
        elif failure.retryable:
            message += " (gave up after retries)"
        return WriteError(
            self.tenant,
            cmdlet,
            connector,
            message,
            code=failure.code,
            exception_type=failure.exception_type,
            retryable=failure.retryable,
        )


def _same(field: str, live_value: Any, wanted: Any) -> bool:
    if field == "name" and isinstance(live_value, str) and isinstance(wanted, str):
        return live_value.casefold() == wanted.casefold()
    return bool(live_value == wanted)


# --- construction ----------------------------------------------------------------------------------------


def open_exchange(
    tenant: str,
    settings: TenantConfig,
    config: ExoformConfig,
    *,
    policy: RetryPolicy | None = None,
    page_size: int = 1000,
) -> ExchangeProvider:
    """The provider of a ``provider: exchange`` tenant.  No network traffic until the first call."""
    if settings.auth is None:
        raise AuthError(tenant, "the exchange provider needs auth in exoform.yaml")
    endpoints = resolve_endpoints(tenant, settings)
    context = tls_context(config.path(settings.ca_bundle) if settings.ca_bundle else None)
    policy = policy or retry_policy(settings)
    # The client is this provider's own; its connections come from the pool shared by every provider
    # that trusts the same CAs (see reconciler.providers.pool), and close() releases only the lease.
    http = pool.Client(
        transport=pool.lease(context), verify=context, follow_redirects=False, timeout=policy.timeout
    )
    auth = settings.auth
    tokens = TokenSource(
        tenant,
        client_id=auth.client_id,
        credential=lambda: msal_credential(tenant, auth, config, http),
        authority=endpoints.authority,
        scope=endpoints.scope,
        http=http,
        retry=policy,  # sign-in retries within the tenant's limits too
    )
    client = InvokeClient(
        tenant,
        http=http,
        tokens=tokens,
        api_base=endpoints.api_base,
        tenant_segment=endpoints.tenant_segment,
        policy=policy,
        read_concurrency=settings.read_concurrency,
        write_concurrency=settings.write_concurrency,
        page_size=page_size,
    )
    return ExchangeProvider(tenant, client)
