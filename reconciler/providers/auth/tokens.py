"""Bearer tokens for the Exchange Online admin API: msal's client-credentials flow, retried and bounded.

Contracts:
- :class:`TokenSource` hands out a bearer token, cached in memory and refreshed before it expires;
  :meth:`TokenSource.invalidate` forces the next call to fetch a new one (after a 401).  Transient
  sign-in failures (connection errors, timeouts, HTTP 408/429/5xx, ``temporarily_unavailable``) are
  retried with backoff within the caller's limits (:data:`SIGN_IN_RETRY` by default); permanent ones (an
  OAuth error such as ``invalid_client``, a bad credential, an untrusted TLS certificate, an answer too
  large or leading off the identity host) fail at once.
- Every request msal sends goes through :class:`~.transport.SignInHttp`: the deadline, the size cap and
  the identity host of the API's requests.
- Every failure raises :class:`reconciler.errors.AuthError` or :class:`reconciler.errors.ConfigError` with
  a message naming the tenant and what to fix (:mod:`.hints`); no message or log line contains a secret,
  a token, a private key or a client assertion.
- msal is imported when a tenant first signs in, not when this module is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import httpx
from tenacity import RetryCallState

from reconciler.errors import AuthError, ConfigError
from reconciler.providers.auth.hints import sign_in_hint
from reconciler.providers.auth.transport import (
    TRANSIENT_ERRORS,
    SignInHttp,
    SignInRefused,
    TransientSignIn,
    origin,
    transient_status,
)
from reconciler.providers.auth.trust import tls_failure
from reconciler.providers.retry import RetryPolicy, controller, parse_retry_after

if TYPE_CHECKING:
    import msal

# One logger for signing in, whichever module logs (docs name it: README, docs/exchange-provider.md).
log = logging.getLogger("reconciler.providers.auth")

#: Refresh a token when less than this many seconds of its life remain.
REFRESH_MARGIN = 300.0

#: Sign-in limits when the caller gives none: 4 attempts within 30 s, backoff from 0.5 s doubling up to 8 s
#: (jittered), ``Retry-After`` honoured up to 10 s, each request at most 30 s.  Providers pass the tenant's
#: own policy instead.
SIGN_IN_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.5, max_delay=8.0, max_total=30.0, retry_after_cap=10.0, deadline=30.0
)

#: OAuth error codes that say "try again later" whatever the status that carried them.
TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class TokenSource:
    """Bearer tokens for one tenant from msal's client-credentials flow, cached and refreshed early.

    Thread-safe.  The msal application is built on first use (building it fetches the authority's
    OpenID metadata), with a :class:`~.transport.SignInHttp` over ``http`` as its HTTP client, so it shares
    the TLS trust and the bounds of the API calls; every request must stay on the authority's host.

    Retries: a failed attempt is retried when the failure is transient -- a connection reset, refused or
    closed, a timeout, HTTP 408, 429 or 5xx (other than 501/505) from the metadata GET or the token POST,
    or an OAuth ``temporarily_unavailable`` / ``server_error`` -- as long as ``retry`` allows: at most
    ``retry.max_attempts`` attempts, and no wait that would end more than ``retry.max_total`` seconds after
    the first attempt started (no request outlives that point either, and none takes longer than
    ``retry.deadline``; both measured with ``retry.clock``).  Between attempts it waits what the
    service's ``Retry-After`` says (up to ``retry.retry_after_cap``), else ``retry.backoff(attempt)``.  Each
    retry is logged at debug level with the reason (statuses, OAuth error codes and descriptions, never a
    secret, token or assertion).  Anything else fails at once: an OAuth error such as ``invalid_client``,
    ``unauthorized_client`` or ``invalid_request``, any other 4xx, a credential that cannot be read, an
    untrusted TLS certificate, an answer larger than the cap or leading off the host.  Giving up raises
    :class:`AuthError` naming the tenant, the last failure and the number of attempts.

    How a retry reaches the network again: msal wraps its HTTP client in a throttling cache that, for
    about the ``Retry-After`` of a 429/5xx token response (5 s when none is sent), hands the cached
    failure back to the next identical token request without sending it, and keeps a 400 for 60 s.  A
    retry inside that window would fail without asking Entra ID.  So the application gets an
    ``http_cache`` dict of ours, and every attempt starts by emptying it: the retry is a real request,
    while msal's own throttling is replaced by ours (we wait for the ``Retry-After`` the service sent,
    capped, rather than a default the service did not ask for).  Emptying it also drops msal's cached
    discovery document, which costs nothing: the application keeps the endpoints it already resolved, and
    an application whose discovery failed is built anew (a new discovery GET) by the next attempt.
    """

    def __init__(
        self,
        tenant: str,
        *,
        client_id: str,
        credential: Callable[[], str | dict[str, Any]],
        authority: str,
        scope: str,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.tenant = tenant
        self._client_id = client_id
        self._credential = credential
        self._authority = authority
        self._scope = scope
        self._clock = clock
        self.retry = retry or SIGN_IN_RETRY
        self._http = SignInHttp(http, authority, self.retry)
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._cache: msal.TokenCache | None = None
        self._http_cache: dict[str, Any] = {}
        self._token: str | None = None
        self._refresh_at = 0.0
        #: How many tokens were fetched from the identity provider (for tests and benchmarks).
        self.fetches = 0

    def token(self) -> str:
        """A valid bearer token; fetches one when none is cached or the cached one is about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._refresh_at:
                self._fetch()
            assert self._token is not None
            return self._token

    def invalidate(self, token: str) -> None:
        """Forget ``token`` (the service refused it); the next :meth:`token` fetches a new one."""
        with self._lock:
            if self._token == token:
                self._token = None
            self._forget_access_tokens()

    def _forget_access_tokens(self) -> None:
        if self._cache is None:
            return
        kind = type(self._cache).CredentialType.ACCESS_TOKEN
        for entry in list(self._cache.search(kind)):
            self._cache.remove_at(entry)

    def _fetch(self) -> None:
        limits = self.retry
        started = limits.clock()

        def before_sleep(state: RetryCallState) -> None:
            failure = state.outcome.exception() if state.outcome else None
            log.debug(
                "tenant %s: sign-in attempt %d of %d failed (%s); retrying in %.2f s",
                self.tenant,
                state.attempt_number,
                limits.max_attempts,
                getattr(failure, "reason", failure),
                state.upcoming_sleep,
            )

        retrying = controller(limits, lambda e: isinstance(e, TransientSignIn), before_sleep)
        self._http.limit = started + limits.max_total
        try:
            for attempt in retrying:
                with attempt:
                    result = self._attempt()
        except TransientSignIn as failure:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise AuthError(
                self.tenant,
                f"signing in failed: {failure.reason}; gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} in {limits.clock() - started:.1f} s "
                f"(limits: {limits.max_attempts} attempts, {limits.max_total:g} s)",
            ) from None
        finally:
            self._http.limit = None
        self.fetches += 1
        self._token = str(result["access_token"])
        lifetime = float(result.get("expires_in", 3600))
        margin = min(REFRESH_MARGIN, lifetime / 10)
        self._refresh_at = self._clock() + lifetime - margin
        log.debug("tenant %s: fetched a token valid for %.0f s", self.tenant, lifetime)

    def _application(self) -> msal.ConfidentialClientApplication:
        """The msal application, built on first use (msal is imported here, not at module load)."""
        if self._app is None:
            import msal

            self._cache = self._cache or msal.TokenCache()
            self._app = msal.ConfidentialClientApplication(
                self._client_id,
                client_credential=self._credential(),
                authority=self._authority,
                http_client=self._http,
                http_cache=self._http_cache,
                token_cache=self._cache,
                instance_discovery=False,
            )
        return self._app

    def _attempt(self) -> dict[str, Any]:
        """One sign-in: the token response, :class:`TransientSignIn`, or :class:`AuthError` (permanent)."""
        self._http_cache.clear()  # msal's cached 429/5xx would answer this attempt without a request
        self._http.last_response = None
        try:
            app = self._application()
            self._forget_access_tokens()  # our own cache decides when to refresh
            result = app.acquire_token_for_client(scopes=[self._scope])
        except (AuthError, ConfigError, TransientSignIn):
            raise
        except SignInRefused as exc:
            raise AuthError(self.tenant, f"signing in failed: {exc.reason}") from None
        except httpx.TimeoutException as exc:
            raise TransientSignIn(
                f"{self._where()} sent no complete answer in time ({type(exc).__name__}; each request may "
                f"take {self.retry.deadline:g} s, signing in {self.retry.max_total:g} s)"
            ) from None
        except httpx.HTTPError as exc:
            tls = tls_failure(exc)
            reason = f"cannot reach the authority {self._authority}: {tls or f'{type(exc).__name__}: {exc}'}"
            if tls is None and isinstance(exc, TRANSIENT_ERRORS):
                raise TransientSignIn(reason) from None
            raise AuthError(self.tenant, reason) from None
        except Exception as exc:  # msal raises ValueError and friends for bad metadata, authority or status
            tls = tls_failure(exc)
            transient = None if tls else self._transient_status()
            if transient is not None:
                raise transient from None
            body = self._error_body()
            if body is not None:  # an OAuth error answer msal did not hand back as a dict (discovery)
                raise AuthError(self.tenant, self._refusal(body)) from None
            reason = tls or _first_line(str(exc))
            raise AuthError(self.tenant, f"token request to {self._authority} failed: {reason}") from None
        if isinstance(result, dict) and "access_token" in result:
            return result
        body = result if isinstance(result, dict) else {}
        transient = self._transient_status(str(body.get("error", "unknown_error")))
        if transient is not None:
            raise transient
        raise AuthError(self.tenant, self._refusal(body))

    def _refusal(self, body: dict[str, Any]) -> str:
        """``token request failed: error: description; what to do`` for an OAuth error answer."""
        error = str(body.get("error", "unknown_error"))
        description = _first_line(str(body.get("error_description", ""))).rstrip(".")
        hint = sign_in_hint(body, authority=self._authority, client_id=self._client_id)
        return f"token request failed: {error}: {description}{hint}"

    def _where(self) -> str:
        response = self._http.last_response
        if response is not None and response.request.url.path.endswith("openid-configuration"):
            return f"OpenID discovery at {origin(str(response.request.url))}"
        return f"the identity provider at {origin(self._authority)}"

    def _error_body(self) -> dict[str, Any] | None:
        """The last response's OAuth error body (a 4xx with ``error``), else None."""
        response = self._http.last_response
        if response is None or not 400 <= response.status_code < 500:
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        return body if isinstance(body, dict) and isinstance(body.get("error"), str) else None

    def _transient_status(self, error: str | None = None) -> TransientSignIn | None:
        """A :class:`TransientSignIn` when the last response (or the OAuth ``error`` it carried) says to try
        again later, else None."""
        response = self._http.last_response
        status = response.status_code if response is not None else None
        if not ((status is not None and transient_status(status)) or error in TRANSIENT_OAUTH_ERRORS):
            return None
        if response is None:
            return TransientSignIn(f"the token endpoint answered {error}")
        path = response.request.url.path
        where = "OpenID discovery" if path.endswith("openid-configuration") else "the token endpoint"
        detail = _oauth_error(response)
        return TransientSignIn(
            f"{where} {response.request.url.copy_with(query=None)} answered HTTP {status}{detail}",
            parse_retry_after(response.headers.get("retry-after")),
        )


def _oauth_error(response: httpx.Response) -> str:
    """`` (error: description)`` from an OAuth JSON error body, else empty (HTML and text bodies are not
    quoted: they say nothing the status does not)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""
    description = _first_line(str(body.get("error_description", "")))
    return f" ({body['error']}: {description})" if description else f" ({body['error']})"


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""
