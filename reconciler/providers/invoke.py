"""The InvokeCommand client: Exchange Online's admin API, one tenant, one POST per cmdlet call.

:class:`InvokeClient` POSTs a ``CmdletInput`` body to ``{endpoint}/adminapi/beta/{tenant}/InvokeCommand``
(docs/exchange-provider.md, "How it talks to the service"), pages through ``@odata.nextLink`` (at most
:data:`MAX_PAGES`, never a page twice), follows regional redirects by hand and only within the service's
hosts (the configured endpoint's host and its subdomains: a redirect elsewhere is a hard error, nothing is
sent there), bounds every request by a total deadline and its decompressed size and every listing, all its
pages and retries, by the policy's ``max_total`` (``retry_max_seconds``),
retries reads on throttling and transient faults, caps a tenant's concurrent reads and writes, and
classifies every failure as a :class:`CallFailure` (retryable, outcome unknown, not found, refused
credentials) for the provider to act on.

Contracts:
- A listing is complete or raises: every page must arrive whole and well-formed.
- The ``http`` client may be shared with other tenants: everything that belongs to this tenant (its
  token, ``X-AnchorMailbox``) goes in each request's own headers, never into the client.
- No exception message or log line carries a token, a secret or a client assertion.
- Every protocol failure (malformed links, undecodable bodies, timeouts) is a :class:`CallFailure`,
  never another exception, so it fails the tenant's call and not the run.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
from tenacity import Retrying

from reconciler.providers.auth import ROLE_HINT, WRITE_ROLE_HINT, TokenSource, tls_failure
from reconciler.providers.base import AttemptFailure
from reconciler.providers.deadline import DEADLINE
from reconciler.providers.retry import (
    Budget,
    RetryPolicy,
    controller,
    log_retries,
    out_of_time,
    parse_retry_after,
)

# Retries are logged under the provider's name, which users filter --log-level debug output by.
log = logging.getLogger("reconciler.providers.exchange")

#: The system mailbox app-only calls are routed by (docs/exchange-provider.md, "How it talks to the service").
ANCHOR_MAILBOX = "APP:SystemMailbox{bb558c35-97f1-4cb9-8ff7-d53741dc928c}@"
MAX_REDIRECTS = 5
#: Most pages one listing may take (a million connectors at the default page size); more, or a next-page
#: link that leads back to a page already read, fails the listing instead of reading forever.
MAX_PAGES = 1000
#: Largest response body read, once decompressed (a page of 1000 connectors is a few MiB).
MAX_RESPONSE_BYTES = 64 << 20
# Headers that describe the body as sent; the body handed on is already decoded and whole.
_BODY_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
_THROTTLE_RE = re.compile(
    r"throttl|server ?busy|too many requests|temporarily unavailable|try again|concurrent requests|"
    r"MicroDelay|Backoff",
    re.IGNORECASE,
)
_TAG_RE = re.compile(r"<[^>]+>")


class CallFailure(AttemptFailure):
    """One cmdlet call failed (see :class:`~reconciler.providers.base.AttemptFailure` for the flags)."""


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
        # The code slot may be empty (the REST answer to an unknown parameter: tests/fixtures/rest/).
        if len(parts) == 3 and (parts[0].startswith("Ex") or (not parts[0] and "." in parts[1])):
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
        identity: str = "",
    ) -> None:
        self.tenant = tenant
        #: Who signs in, for refusals: the setting and its client id (``apply_auth (client id ...)``).
        self.identity = identity
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
        self,
        cmdlet: str,
        parameters: dict[str, Any],
        *,
        select: str | None = None,
        budget: Budget | None = None,
    ) -> list[dict[str, Any]]:
        """A read-only cmdlet's output objects, every page of them; raises :class:`CallFailure`.

        Pages are fetched one after the other (each page's link is only known from the previous one); a
        failed page is retried on its own by the policy, never skipped.  The whole listing, every page
        and retry, ends within ``budget`` (by default its own: ``max_total`` from now), else fails saying
        so.  ``select`` (comma-separated property names) asks the service for only those properties
        (``$select``); the next-page links the service hands out carry it on.
        """
        budget = budget or self.policy.budget(f"the {cmdlet} listing")
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        objects: list[dict[str, Any]] = []
        url: str | None = self._invoke_url + (f"?$select={select}" if select else "")
        seen: set[str] = set()
        while url is not None:
            if url in seen:
                raise CallFailure(
                    f"{cmdlet}: the service's next-page link leads back to a page already read (a cycle); "
                    "the listing cannot be completed"
                )
            if len(seen) >= MAX_PAGES:
                raise CallFailure(f"{cmdlet}: more than {MAX_PAGES} pages; the listing cannot be completed")
            seen.add(url)
            post = functools.partial(self._post, url, body, cmdlet, write=False, budget=budget)
            page, url = self._with_retries(post, budget, len(seen))
            objects.extend(page)
        return objects

    def call_once(
        self, cmdlet: str, parameters: dict[str, Any], *, write: bool, budget: Budget | None = None
    ) -> list[dict[str, Any]]:
        """One attempt of ``cmdlet`` (first page only for writes, which have no pages), ending within
        ``budget`` when given (the write it is an attempt of)."""
        body = {"CmdletInput": {"CmdletName": cmdlet, "Parameters": parameters}}
        objects, _ = self._post(self._invoke_url, body, cmdlet, write=write, budget=budget)
        return objects

    def retrying(self, budget: Budget | None = None) -> Retrying:
        """A tenacity controller with this client's policy, retrying retryable :class:`CallFailure`, until
        the end of ``budget`` (or ``max_total`` from now)."""

        return controller(
            self.policy,
            lambda e: isinstance(e, CallFailure) and e.retryable,
            log_retries(log, self.tenant),
            budget,
        )

    # -- internals ----------------------------------------------------------------------------------------

    def _with_retries(
        self, fn: Callable[[], tuple[list[dict[str, Any]], str | None]], budget: Budget, page: int
    ) -> tuple[list[dict[str, Any]], str | None]:
        retrying = self.retrying(budget)
        try:
            for attempt in retrying:
                with attempt:
                    return fn()
        except CallFailure as failure:
            if failure.retryable and out_of_time(retrying, self.policy):
                raise failure.final(f" on page {page}; {budget.ran_out()}") from None
            raise
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
        self, url: str, body: dict[str, Any], cmdlet: str, *, write: bool, budget: Budget | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One POST (plus redirects and one token refresh): the page's objects and the next page's URL;
        its requests end within ``budget`` when given."""
        refreshed = False
        redirects = 0
        original = url
        while True:
            token = self.tokens.token()
            headers = {
                "X-AnchorMailbox": self._anchor,
                "Prefer": f"odata.maxpagesize={self.page_size}",
                "X-ResponseFormat": "json",
                "X-CmdletName": cmdlet,
                "X-ClientApplication": "exoform",
                "client-request-id": str(uuid.uuid4()),
                "Accept": "application/json",
            }
            headers["Authorization"] = f"Bearer {token}"
            response = self._send(url, body, headers, cmdlet, write=write, budget=budget)
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                redirects += 1
                if redirects > MAX_REDIRECTS:
                    raise CallFailure(f"{cmdlet}: more than {MAX_REDIRECTS} redirects")
                url = self._redirect_target(url, response.headers["location"], cmdlet)
                log.debug("tenant %s: %s redirected to %s", self.tenant, cmdlet, _origin(url))
                if url.split("?")[0] != original.split("?")[0] and original.split("?")[0] == self._invoke_url:
                    self._remember_invoke_url(url)
                continue
            if status == 401 and not refreshed:
                refreshed = True
                self.tokens.invalidate(token)
                log.debug("tenant %s: %s got 401; refreshing the token once", self.tenant, cmdlet)
                continue
            return self._interpret(response, cmdlet, write=write)

    def _send(
        self,
        url: str,
        body: dict[str, Any],
        headers: dict[str, str],
        cmdlet: str,
        *,
        write: bool,
        budget: Budget | None,
    ) -> httpx.Response:
        """One request, its response read whole: within the policy's total ``deadline`` and the end of
        ``budget``, and at most :data:`MAX_RESPONSE_BYTES` once decompressed; every failure is a
        :class:`CallFailure`.  Once ``budget`` has run out nothing is sent."""
        with self._slot(write):
            if budget is not None and budget.left() <= 0:
                raise CallFailure(f"{cmdlet}: {budget.ran_out()}")
            deadline = (
                time.monotonic() + self.policy.deadline if budget is None else budget.request_deadline()
            )
            allowed = deadline - time.monotonic()
            with self._url_lock:
                self.requests += 1
            try:
                with self.http.stream(
                    "POST",
                    url,
                    json=body,
                    headers=headers,
                    timeout=self.policy.timeout,
                    extensions={DEADLINE: deadline},
                ) as streamed:
                    content = _read_capped(streamed, cmdlet)
                    return httpx.Response(
                        streamed.status_code,
                        headers=[
                            (k, v)
                            for k, v in streamed.headers.multi_items()
                            if k.lower() not in _BODY_HEADERS
                        ],
                        content=content,
                        request=streamed.request,
                    )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                tls = tls_failure(exc)
                if tls:
                    raise CallFailure(f"{cmdlet}: {_origin(url)}: {tls}") from None
                raise CallFailure(
                    f"{cmdlet}: cannot connect to {_origin(url)} ({type(exc).__name__})", retryable=True
                ) from None
            except httpx.TransportError as exc:
                # Sent, or partly sent: the service may have carried it out.
                late = time.monotonic() >= deadline
                why = f"no complete response within {allowed:.3g} s" if late else type(exc).__name__
                raise CallFailure(
                    f"{cmdlet}: connection to {_origin(url)} failed before the response arrived ({why})",
                    retryable=True,
                    unknown_outcome=True,
                ) from None
            except (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict) as exc:
                # The response could not be decoded, or the URL cannot be sent: a protocol error.
                raise CallFailure(
                    f"{cmdlet}: {_origin(url)}: the exchange failed ({type(exc).__name__})",
                    unknown_outcome=True,
                ) from None

    def _redirect_target(self, url: str, location: str, cmdlet: str) -> str:
        """Where a redirect leads, when it stays on the service's hosts; else a hard :class:`CallFailure`:
        neither the token nor the request (a write's parameters) is sent anywhere else, and an answer
        from elsewhere is never taken for the service's."""
        if _unsafe_url_text(location):
            raise CallFailure(f"{cmdlet}: the service redirected to a malformed URL; refusing it")
        target = urljoin(url, location)
        parts = urlsplit(target)
        if parts.scheme != "https":
            raise CallFailure(f"{cmdlet}: refusing a redirect to a non-https URL ({_origin(target)})")
        if not self.is_service_host(target):
            raise CallFailure(
                f"{cmdlet}: the request was redirected to {_origin(target)}, which is not a host of the "
                "configured endpoint; exoform follows redirects only within the service's hosts, so "
                "nothing was sent there (if that host is genuine, set endpoint to it)"
            )
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
            whose = f" of {self.identity}" if self.identity else ""
            hint = WRITE_ROLE_HINT if write else ROLE_HINT
            raise CallFailure(
                f"{cmdlet}: the service refused the credentials{whose} ({where}: {text}); {hint}",
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
        if admin_errors is not None and admin_errors != []:
            # Errors in any shape (a list, or one object) fail the call: an answer carrying errors is never
            # read as success, whatever 'value' holds beside them.
            first = admin_errors[0] if isinstance(admin_errors, list) else admin_errors
            message = first.get("message") if isinstance(first, dict) else first
            raise CallFailure(str(message) if message else f"{cmdlet}: the service reported an error")
        value = body.get("value")
        if value is None and write:
            value = []
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise malformed("'value' is not a list of objects")
        next_link = body.get("@odata.nextLink")
        if next_link is not None:
            if not isinstance(next_link, str) or not next_link or _unsafe_url_text(next_link):
                raise CallFailure(f"{cmdlet}: malformed response ('@odata.nextLink' is not a usable URL)")
            next_link = urljoin(str(response.request.url), next_link)
            if not self.is_service_host(next_link):
                raise CallFailure(f"{cmdlet}: the next page link points outside the service; refusing it")
        return value, next_link


def _read_capped(response: httpx.Response, cmdlet: str) -> bytes:
    """The decoded body, or a :class:`CallFailure` past :data:`MAX_RESPONSE_BYTES` (a compression bomb)."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise CallFailure(
                f"{cmdlet}: the response is larger than {MAX_RESPONSE_BYTES >> 20} MiB once decompressed; "
                "refusing it",
                unknown_outcome=True,
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _unsafe_url_text(text: str) -> bool:
    """True when a URL the service handed out holds whitespace or control characters (never valid)."""
    return any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
