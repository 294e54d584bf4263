"""Sign-in requests over the session's client, bounded the way InvokeCommand requests are.

msal sends OpenID discovery and token requests through the ``http_client`` it is given (a
``requests``-like object); the GitHub OIDC token is fetched the same way.  :class:`SignInHttp` is that
object, over the run's ``httpx.Client`` (which verifies TLS and follows no redirects), and bounds each
request:

- **time**: a total deadline per request, the sooner of ``policy.deadline`` from its start and the end of
  the sign-in's time limit (:attr:`SignInHttp.limit`, set by the caller: ``retry_max_seconds``).  The
  transport enforces it on every socket read and write (:data:`~reconciler.providers.deadline.DEADLINE`),
  and the body is read in chunks with the policy's clock checked between them, so a server dripping
  bytes stops at the deadline (in fake time too);
- **size**: at most :data:`MAX_SIGN_IN_BYTES` of body once decompressed; reading stops there, so a
  compression bomb is never inflated past it;
- **place**: only the host it was made for (the authority's, or the GitHub token URL's), over https.  A
  request msal would send elsewhere (a discovery document naming a token endpoint on another host) is not
  sent, and a redirect is followed only within that host (at most :data:`MAX_REDIRECTS`).

Failures: :class:`SignInRefused` (permanent: too large, off the host) and :class:`TransientSignIn`
(another attempt may succeed: a timeout, a reset connection, a 408/429/5xx status).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from reconciler.providers.deadline import DEADLINE
from reconciler.providers.retry import RetryPolicy

#: Largest sign-in answer read, once decompressed.  A discovery document or a token response is a few
#: KiB; a listing page may be MiBs, so the API's cap (64 MiB) would let a token endpoint cost far more
#: memory than any honest answer needs.
MAX_SIGN_IN_BYTES = 1 << 20
MAX_REDIRECTS = 5
# Headers that describe the body as sent; the body handed on is already decoded and whole.
_BODY_HEADERS = {"content-encoding", "content-length", "transfer-encoding"}
#: Transport failures another attempt may not meet (TLS verification failures are told apart by callers).
TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def transient_status(status: int) -> bool:
    """An HTTP status that says "try again later": 408, 429, or 5xx other than 501 and 505."""
    return status in (408, 429) or (status >= 500 and status not in (501, 505))


class TransientSignIn(Exception):
    """One sign-in attempt failed in a way another attempt may not."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class SignInRefused(Exception):
    """A sign-in answer was refused for good (too large, or leading off the identity host)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def origin(url: str) -> str:
    """``scheme://host[:port]`` of ``url`` (what messages name: never a path or query)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _place(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class SignInHttp:
    """A ``requests``-shaped client (``get``/``post``) for msal, bounded as the module says.

    ``host_of`` is a URL whose scheme, host and port every request must have.  ``limit`` (a value of
    ``policy.clock``) is the end of the current sign-in, set by the caller while signing in; None leaves
    each request only its own ``policy.deadline``.  ``last_response`` is the latest response received
    (msal turns an error status into an exception or an error dict and drops the status and
    ``Retry-After``: the token source reads them here).

    msal hands a certificate-signed client assertion over as ``bytes`` in the form data; ``requests``
    encodes bytes as they are, httpx would write their ``repr``.  Form values are therefore decoded here.
    """

    def __init__(
        self, http: httpx.Client, host_of: str, policy: RetryPolicy, *, max_bytes: int = MAX_SIGN_IN_BYTES
    ) -> None:
        self.http = http
        self.policy = policy
        self.max_bytes = max_bytes
        self.limit: float | None = None
        self.last_response: httpx.Response | None = None
        self._place = _place(host_of)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        data = kwargs.get("data")
        if isinstance(data, dict):
            kwargs["data"] = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        return self.send("POST", url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.send("GET", url, **kwargs)

    def close(self) -> None:
        """msal may close its client; the client belongs to the session, so this does nothing."""

    def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """One request (and the redirects it takes within the host), read whole within the bounds."""
        clock = self.policy.clock
        deadline = clock() + self.policy.deadline
        if self.limit is not None:
            deadline = min(deadline, self.limit)
        selected = {k: v for k, v in kwargs.items() if k in ("params", "headers", "data") and v is not None}
        for _ in range(MAX_REDIRECTS + 1):
            if _place(url) != self._place:
                raise SignInRefused(
                    f"the identity provider sent exoform to {origin(url)}, which is not the host signing in "
                    f"started at ({self._place[0]}://{self._place[1]}:{self._place[2]}); nothing was sent "
                    "there (if that host is genuine, set authority to it)"
                )
            response = self._once(method, url, selected, deadline)
            self.last_response = response
            location = response.headers.get("location")
            if response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            url = urljoin(url, location)
            if response.status_code in (301, 302, 303) and method == "POST":
                method, selected = "GET", {k: v for k, v in selected.items() if k != "data"}
        raise SignInRefused(f"more than {MAX_REDIRECTS} redirects from {origin(url)}")

    def _once(self, method: str, url: str, kwargs: dict[str, Any], deadline: float) -> httpx.Response:
        clock = self.policy.clock
        left = deadline - clock()
        if left <= 0:
            raise httpx.ReadTimeout("the request's total deadline passed")
        timeout = min(self.policy.timeout, left)
        # The transport measures with the real monotonic clock: the time left, carried over to it.
        extensions = {DEADLINE: time.monotonic() + left}
        with self.http.stream(method, url, timeout=timeout, extensions=extensions, **kwargs) as streamed:
            content = b"".join(self._capped(streamed, url, deadline))
            return httpx.Response(
                streamed.status_code,
                headers=[(k, v) for k, v in streamed.headers.multi_items() if k.lower() not in _BODY_HEADERS],
                content=content,
                request=streamed.request,
            )

    def _capped(self, response: httpx.Response, url: str, deadline: float) -> Iterator[bytes]:
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise SignInRefused(
                    f"{origin(url)} answered with more than {self.max_bytes >> 10} KiB once decompressed; "
                    "refusing it"
                )
            if self.policy.clock() >= deadline:
                raise httpx.ReadTimeout("the request's total deadline passed")
            yield chunk
