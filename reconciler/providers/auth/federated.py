"""Workload identity federation for CI: the job's OIDC token is the client assertion msal sends.

GitHub Actions (``federated: github``): the token is fetched from ``ACTIONS_ID_TOKEN_REQUEST_URL`` with
the audience Entra ID expects, through a :class:`~.transport.SignInHttp` bound to that URL's host (its
deadline, size cap, no redirect elsewhere).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

import httpx
import jwt

from reconciler.errors import AuthError
from reconciler.providers.auth.transport import (
    TRANSIENT_ERRORS,
    SignInHttp,
    SignInRefused,
    TransientSignIn,
    transient_status,
)
from reconciler.providers.auth.trust import tls_failure
from reconciler.providers.retry import RetryPolicy, parse_retry_after

#: The audience GitHub's OIDC token must carry for Entra ID workload identity federation.
GITHUB_AUDIENCE = "api://AzureADTokenExchange"


class GitHubAssertion:
    """The GitHub Actions OIDC token as a client assertion, fetched on demand and reused until near expiry.

    Reads ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` when called (GitHub sets
    them in a job with ``permissions: id-token: write``).  ``policy`` bounds the request (its deadline and
    clock); the sign-in's own retries decide whether a failure is tried again.
    """

    def __init__(
        self,
        tenant: str,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
    ) -> None:
        self._tenant = tenant
        self._http = http
        self._clock = clock
        self._policy = policy or RetryPolicy(deadline=30.0, timeout=30.0)
        self._lock = threading.Lock()
        self._value: str | None = None
        self._expires_at = 0.0

    def __call__(self) -> str:
        with self._lock:
            if self._value is None or self._clock() >= self._expires_at - 60:
                self._value, self._expires_at = self._fetch()
            return self._value

    def _fetch(self) -> tuple[str, float]:
        url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        bearer = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not bearer:
            raise AuthError(
                self._tenant,
                "federated: github needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; "
                "run inside a GitHub Actions job with 'permissions: id-token: write'",
            )
        separator = "&" if "?" in url else "?"
        http = SignInHttp(self._http, url, self._policy)
        try:
            response = http.get(
                f"{url}{separator}audience={GITHUB_AUDIENCE}", headers={"Authorization": f"bearer {bearer}"}
            )
        except SignInRefused as exc:
            raise AuthError(self._tenant, f"cannot fetch the GitHub OIDC token: {exc.reason}") from None
        except httpx.HTTPError as exc:
            tls = tls_failure(exc)
            reason = f"cannot fetch the GitHub OIDC token: {tls or f'{type(exc).__name__}: {exc}'}"
            if tls is None and isinstance(exc, TRANSIENT_ERRORS):
                raise TransientSignIn(reason) from None
            raise AuthError(self._tenant, reason) from None
        if transient_status(response.status_code):
            raise TransientSignIn(
                f"the GitHub OIDC token endpoint answered HTTP {response.status_code}",
                parse_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code != 200:
            raise AuthError(
                self._tenant,
                f"the GitHub OIDC token endpoint answered HTTP {response.status_code}; "
                "does the job have 'permissions: id-token: write'?",
            )
        try:
            value = response.json()["value"]
            assert isinstance(value, str) and value
        except (ValueError, KeyError, TypeError, AssertionError):
            raise AuthError(self._tenant, "the GitHub OIDC token endpoint sent no token ('value')") from None
        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            expires_at = float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            expires_at = self._clock() + 300  # not a readable JWT: let Entra ID judge it, refetch soon
        return value, expires_at
