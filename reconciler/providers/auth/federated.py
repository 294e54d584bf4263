"""Workload identity federation for CI: the job's OIDC token is the client assertion msal sends.

- GitHub Actions (``federated: github``): the token is fetched from ``ACTIONS_ID_TOKEN_REQUEST_URL`` with
  the audience Entra ID expects.
- Azure Pipelines (``federated: azure-devops``): the token of a service connection (workload identity
  federation) is fetched with ``POST $SYSTEM_OIDCREQUESTURI?api-version=7.1&serviceConnectionId=ID``,
  authorized by the job's ``System.AccessToken`` (``SYSTEM_ACCESSTOKEN``, mapped into the step's
  environment); the connection's id is ``EXOFORM_SERVICE_CONNECTION_ID``.  Its issuer is
  ``https://vstoken.dev.azure.com/{organization id}`` and its subject ``sc://ORG/PROJECT/CONNECTION``.
- GitLab CI (``federated: gitlab``): GitLab puts the job's ID token in the variable its ``id_tokens:``
  entry names; exoform reads ``EXOFORM_ID_TOKEN`` (``aud: api://AzureADTokenExchange``).  Its issuer is
  the GitLab instance's URL and its subject ``project_path:GROUP/PROJECT:ref_type:TYPE:ref:NAME``.

A fetched token goes through a :class:`~.transport.SignInHttp` bound to the token URL's host (its
deadline, size cap, no redirect elsewhere) and is reused until a minute before it expires, by every
tenant of the run that asks for the same token (a :class:`TokenShelf` of the run's session): a job
signing in to 256 tenants asks its CI for the token once, not 256 times.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

import httpx

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

#: The audience a CI OIDC token must carry for Entra ID workload identity federation.
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
FEDERATION_AUDIENCE = GITHUB_AUDIENCE

#: Every CI system ``federated:`` names.
FederatedCI = Literal["github", "azure-devops", "gitlab"]
#: The variable a GitLab job's ``id_tokens:`` entry fills (the templates of ``exoform init --ci gitlab``).
GITLAB_TOKEN_VARIABLE = "EXOFORM_ID_TOKEN"
#: The id of the Azure DevOps service connection whose federated token a job asks for.
AZURE_DEVOPS_CONNECTION_VARIABLE = "EXOFORM_SERVICE_CONNECTION_ID"
AZURE_DEVOPS_API_VERSION = "7.1"


class TokenShelf:
    """CI tokens by what was asked for them (the CI system, the URL, the job's credential, the service
    connection): each valid until a minute before it expires.  Thread-safe; one per run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str | None, ...], tuple[str, float]] = {}

    def get(self, key: tuple[str | None, ...], now: float) -> str | None:
        """The token kept for ``key``, or None when there is none or it expires within a minute."""
        with self._lock:
            kept = self._tokens.get(key)
        return kept[0] if kept is not None and now < kept[1] - 60 else None

    def put(self, key: tuple[str | None, ...], token: str, expires_at: float) -> None:
        with self._lock:
            self._tokens[key] = (token, expires_at)


class _CachedAssertion:
    """A CI token as a client assertion, fetched on demand and kept on ``shelf`` (the run's; one of its
    own by default) until a minute before it expires.

    ``policy`` bounds the request (its deadline and clock); the sign-in's own retries decide whether a
    failure is tried again.  A failure is never kept: the next call asks again."""

    #: How the CI system is named in errors.
    what = "the CI OIDC token"

    def __init__(
        self,
        tenant: str,
        http: httpx.Client,
        clock: Callable[[], float] = time.time,
        policy: RetryPolicy | None = None,
        shelf: TokenShelf | None = None,
    ) -> None:
        self._tenant = tenant
        self._http = http
        self._clock = clock
        self._policy = policy or RetryPolicy(deadline=30.0, timeout=30.0)
        self._shelf = shelf or TokenShelf()
        self._lock = threading.Lock()

    def __call__(self) -> str:
        key = (type(self).__name__, *self._asked())
        with self._lock:
            value = self._shelf.get(key, self._clock())
            if value is None:
                value = self._fetch()
                self._shelf.put(key, value, self._expiry(value))
            return value

    def _asked(self) -> tuple[str | None, ...]:
        """What the token is asked with (read from the job's environment): the same for the same token."""
        raise NotImplementedError

    def _fetch(self) -> str:
        raise NotImplementedError

    def _expiry(self, value: str) -> float:
        import jwt  # only a federated sign-in reads a JWT: every other run starts without PyJWT

        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            return float(claims["exp"])
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return self._clock() + 300  # not a readable JWT: let Entra ID judge it, refetch soon

    def _request(self, method: str, url: str, field: str, hint: str, **kwargs: Any) -> str:
        """``field`` of the JSON that ``url`` answers, or AuthError / TransientSignIn saying why not."""
        http = SignInHttp(self._http, url, self._policy)
        try:
            response = http.send(method, url, **kwargs)
        except SignInRefused as exc:
            raise AuthError(self._tenant, f"cannot fetch {self.what}: {exc.reason}") from None
        except httpx.HTTPError as exc:
            tls = tls_failure(exc)
            reason = f"cannot fetch {self.what}: {tls or f'{type(exc).__name__}: {exc}'}"
            if tls is None and isinstance(exc, TRANSIENT_ERRORS):
                raise TransientSignIn(reason) from None
            raise AuthError(self._tenant, reason) from None
        if transient_status(response.status_code):
            raise TransientSignIn(
                f"{self.what} endpoint answered HTTP {response.status_code}",
                parse_retry_after(response.headers.get("retry-after")),
            )
        if response.status_code != 200:
            raise AuthError(
                self._tenant, f"{self.what} endpoint answered HTTP {response.status_code}; {hint}"
            )
        try:
            value = response.json()[field]
            assert isinstance(value, str) and value
        except (ValueError, KeyError, TypeError, AssertionError):
            raise AuthError(self._tenant, f"{self.what} endpoint sent no token ({field!r})") from None
        return value


class GitHubAssertion(_CachedAssertion):
    """The GitHub Actions OIDC token (``federated: github``): ``ACTIONS_ID_TOKEN_REQUEST_URL`` and
    ``ACTIONS_ID_TOKEN_REQUEST_TOKEN``, read when called (GitHub sets them in a job with ``permissions:
    id-token: write``)."""

    what = "the GitHub OIDC token"

    def _asked(self) -> tuple[str | None, ...]:
        return os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL"), os.environ.get(
            "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
        )

    def _fetch(self) -> str:
        url = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_URL")
        bearer = os.environ.get("ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        if not url or not bearer:
            raise AuthError(
                self._tenant,
                "federated: github needs ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN; "
                "run inside a GitHub Actions job with 'permissions: id-token: write'",
            )
        separator = "&" if "?" in url else "?"
        return self._request(
            "GET",
            f"{url}{separator}audience={GITHUB_AUDIENCE}",
            "value",
            "does the job have 'permissions: id-token: write'?",
            headers={"Authorization": f"bearer {bearer}"},
        )


class AzureDevOpsAssertion(_CachedAssertion):
    """The federated token of an Azure DevOps service connection (``federated: azure-devops``), asked of
    ``SYSTEM_OIDCREQUESTURI`` with ``SYSTEM_ACCESSTOKEN`` for ``EXOFORM_SERVICE_CONNECTION_ID``."""

    what = "the Azure DevOps OIDC token"

    def _asked(self) -> tuple[str | None, ...]:
        return tuple(
            os.environ.get(name)
            for name in ("SYSTEM_OIDCREQUESTURI", "SYSTEM_ACCESSTOKEN", AZURE_DEVOPS_CONNECTION_VARIABLE)
        )

    def _fetch(self) -> str:
        url = os.environ.get("SYSTEM_OIDCREQUESTURI")
        bearer = os.environ.get("SYSTEM_ACCESSTOKEN")
        connection = os.environ.get(AZURE_DEVOPS_CONNECTION_VARIABLE)
        missing = [
            name
            for name, value in (
                ("SYSTEM_OIDCREQUESTURI", url),
                ("SYSTEM_ACCESSTOKEN", bearer),
                (AZURE_DEVOPS_CONNECTION_VARIABLE, connection),
            )
            if not value
        ]
        if missing or url is None or connection is None:
            raise AuthError(
                self._tenant,
                f"federated: azure-devops needs {', '.join(missing)}; run inside an Azure Pipelines job "
                "that maps SYSTEM_ACCESSTOKEN: $(System.AccessToken) into the step's env and sets "
                f"{AZURE_DEVOPS_CONNECTION_VARIABLE} to the service connection's id",
            )
        return self._request(
            "POST",
            url.rstrip("/"),
            "oidcToken",
            "is the pipeline allowed to use the service connection, and is its id right?",
            params={"api-version": AZURE_DEVOPS_API_VERSION, "serviceConnectionId": connection},
            headers={
                "Authorization": f"Bearer {bearer}",
                "Content-Type": "application/json",
                "X-TFS-FedAuthRedirect": "Suppress",  # an error, never a redirect to a sign-in page
            },
        )


class GitLabAssertion(_CachedAssertion):
    """The GitLab CI ID token (``federated: gitlab``) from ``EXOFORM_ID_TOKEN``: GitLab issues it when
    the job starts, so there is nothing to fetch; an expired one is refused here, naming the job."""

    what = "the GitLab ID token"

    def _asked(self) -> tuple[str | None, ...]:
        return (os.environ.get(GITLAB_TOKEN_VARIABLE),)

    def _fetch(self) -> str:
        value = os.environ.get(GITLAB_TOKEN_VARIABLE)
        if not value:
            raise AuthError(
                self._tenant,
                f"federated: gitlab needs {GITLAB_TOKEN_VARIABLE}; give the job 'id_tokens: "
                f"{GITLAB_TOKEN_VARIABLE}: {{aud: {FEDERATION_AUDIENCE}}}'",
            )
        if self._expiry(value) <= self._clock():
            raise AuthError(
                self._tenant,
                f"{GITLAB_TOKEN_VARIABLE} has expired: GitLab issues it when the job starts; run fewer "
                "tenants per job or raise the job's timeout",
            )
        return value


def ci_assertion(
    ci: FederatedCI,
    tenant: str,
    http: httpx.Client,
    policy: RetryPolicy | None = None,
    shelf: TokenShelf | None = None,
) -> _CachedAssertion:
    """The client assertion of ``federated: CI``, its token kept on ``shelf`` (the run's)."""
    kinds: dict[str, type[_CachedAssertion]] = {
        "github": GitHubAssertion,
        "azure-devops": AzureDevOpsAssertion,
        "gitlab": GitLabAssertion,
    }
    return kinds[ci](tenant, http, policy=policy, shelf=shelf)
