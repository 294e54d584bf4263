"""Tokens for the Exchange Online admin API: clouds, TLS trust, and msal client-credential flows.

Three credentials, one per tenant (``auth`` in ``exoform.yaml``):

- a client secret (``client_secret: env:NAME``);
- a certificate: a PEM file (``certificate.path``) or PEM content from the environment
  (``certificate.pem: env:NAME``), optionally with an encrypted key (``certificate.passphrase: env:NAME``);
- GitHub Actions workload identity federation (``federated: github``): the job's OIDC token, fetched from
  ``ACTIONS_ID_TOKEN_REQUEST_URL`` with audience ``api://AzureADTokenExchange``, is the client assertion.

Contracts:
- :class:`TokenSource` hands out a bearer token, cached in memory and refreshed before it expires;
  :meth:`TokenSource.invalidate` forces the next call to fetch a new one (after a 401).  Transient
  sign-in failures (connection errors, timeouts, HTTP 408/429/5xx, ``temporarily_unavailable``) are
  retried with backoff within the caller's limits (:data:`SIGN_IN_RETRY` by default); permanent ones (an
  OAuth error such as ``invalid_client``, a bad credential, an untrusted TLS certificate) fail at once.
- Every failure raises :class:`reconciler.errors.AuthError` or :class:`reconciler.errors.ConfigError` with
  a message naming the tenant and what to fix; no message or log line contains a secret, a token, a
  private key or a client assertion.
- TLS verification is always on: :func:`tls_context` trusts the system store plus an optional extra bundle.
"""

from __future__ import annotations

import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from tenacity import RetryCallState

from reconciler.desired.config import AuthSettings, ExoformConfig, TenantConfig, resolve_secret
from reconciler.errors import AuthError, ConfigError
from reconciler.providers.retry import RetryPolicy, controller, parse_retry_after
from reconciler.yamlio import MAX_FILE_BYTES, read_bytes

log = logging.getLogger(__name__)

#: The audience GitHub's OIDC token must carry for Entra ID workload identity federation.
GITHUB_AUDIENCE = "api://AzureADTokenExchange"
#: Refresh a token when less than this many seconds of its life remain.
REFRESH_MARGIN = 300.0


@dataclass(frozen=True)
class Cloud:
    """Where one Microsoft cloud serves the Exchange admin API and issues its tokens."""

    api_base: str
    scope: str
    login_host: str


#: The national clouds (docs/exchange-provider.md, "Clouds and overrides").  China is UNCONFIRMED: the
#: Admin API v2 table lists ``outlook.office365.cn`` while the legacy PowerShell endpoint and a community
#: module use ``partner.outlook.cn``; we follow the token scope the community module uses
#: (``partner.outlook.cn``) and the same host for the API, so token audience and host agree.  Override
#: with ``endpoint`` if it fails.
CLOUDS: dict[str, Cloud] = {
    "commercial": Cloud(
        "https://outlook.office365.com", "https://outlook.office365.com/.default", "login.microsoftonline.com"
    ),
    "gcc": Cloud(
        "https://outlook.office365.com", "https://outlook.office365.com/.default", "login.microsoftonline.com"
    ),
    "gcc-high": Cloud(
        "https://outlook.office365.us", "https://outlook.office365.us/.default", "login.microsoftonline.us"
    ),
    "dod": Cloud(
        "https://outlook-dod.office365.us",
        "https://outlook-dod.office365.us/.default",
        "login.microsoftonline.us",
    ),
    "china": Cloud(
        "https://partner.outlook.cn", "https://partner.outlook.cn/.default", "login.chinacloudapi.cn"
    ),
}


@dataclass(frozen=True)
class Endpoints:
    """The resolved places one tenant is reached at."""

    #: API base URL without a trailing slash; InvokeCommand is ``{api_base}/adminapi/beta/{tenant}/...``.
    api_base: str
    #: The token scope (``<resource>/.default``).
    scope: str
    #: The full authority URL handed to msal.
    authority: str
    #: The tenant path segment: the tenant id when given, else the organization's domain.
    tenant_segment: str


def resolve_endpoints(tenant: str, settings: TenantConfig) -> Endpoints:
    """The API base, scope and authority of ``settings``: the cloud's defaults, then the overrides."""
    cloud = CLOUDS[settings.cloud]
    segment = settings.tenant_id or settings.organization
    if not segment:
        raise ConfigError(f"tenant {tenant}: the exchange provider needs organization or tenant_id")
    api_base = (settings.endpoint or cloud.api_base).rstrip("/")
    authority = (settings.authority or f"https://{cloud.login_host}/{segment}").rstrip("/")
    for label, url in (("endpoint", api_base), ("authority", authority)):
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ConfigError(f"tenant {tenant}: {label} must be an https:// URL, got '{url}'")
    return Endpoints(api_base=api_base, scope=cloud.scope, authority=authority, tenant_segment=segment)


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """A new verifying TLS context: the system trust store, plus the CAs of ``ca_bundle`` when given.

    Loading the system store costs tens of milliseconds, so a :class:`~reconciler.providers.session.Session`
    builds one per trust store and run.  An unreadable bundle raises :class:`ConfigError`.
    """
    context = ssl.create_default_context()
    if ca_bundle is not None:
        data, problems = read_bytes(ca_bundle, str(ca_bundle), MAX_FILE_BYTES)  # a regular file, bounded
        if data is None:
            raise ConfigError(f"ca_bundle {ca_bundle}: {problems[0].message}")
        try:
            context.load_verify_locations(cadata=data.decode("latin-1"))
        except (ValueError, ssl.SSLError) as exc:
            raise ConfigError(f"ca_bundle {ca_bundle}: cannot load CA certificates ({exc})") from None
    return context


def tls_failure(exc: BaseException) -> str | None:
    """A clear message when ``exc`` (or its cause) is a failed certificate verification, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if isinstance(current, ssl.SSLCertVerificationError) or "CERTIFICATE_VERIFY_FAILED" in text:
            reason = getattr(current, "verify_message", "") or "certificate verify failed"
            return (
                f"the server's TLS certificate is not trusted ({reason}); if it is signed by a private CA, "
                "add that CA with ca_bundle in exoform.yaml (verification cannot be switched off)"
            )
        current = current.__cause__ or current.__context__
    return None


# --- credentials ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateCredential:
    """A private key with its certificate, parsed and checked up front."""

    private_key_pem: str
    certificate_pem: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    passphrase: str | None

    def msal_credential(self) -> dict[str, Any]:
        """The msal ``client_credential`` dict (SHA-1 thumbprint, ``x5t``, as Entra ID shows it)."""
        credential: dict[str, Any] = {"private_key": self.private_key_pem, "thumbprint": self.thumbprint_sha1}
        if self.passphrase:
            credential["passphrase"] = self.passphrase
        return credential


def load_certificate(pem: bytes, passphrase: str | None, source: str) -> CertificateCredential:
    """Parse PEM holding a private key and its certificate; :class:`ConfigError` naming ``source``."""
    blocks = _pem_blocks(pem)
    keys = [b for b in blocks if b"PRIVATE KEY" in b.split(b"\n", 1)[0]]
    certs = [b for b in blocks if b.startswith(b"-----BEGIN CERTIFICATE-----")]
    if not keys:
        raise ConfigError(f"{source}: no private key found (expected a PEM 'PRIVATE KEY' block)")
    if not certs:
        raise ConfigError(f"{source}: no certificate found (expected a PEM 'CERTIFICATE' block)")
    password = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(keys[0], password=password)
    except TypeError:
        if password is None:
            raise ConfigError(f"{source}: the private key is encrypted; set certificate.passphrase") from None
        raise ConfigError(
            f"{source}: the private key is not encrypted; remove certificate.passphrase"
        ) from None
    except ValueError:
        hint = "wrong passphrase or " if password else ""
        raise ConfigError(f"{source}: cannot read the private key ({hint}not a supported key)") from None
    certificate = None
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for block in certs:
        candidate = x509.load_pem_x509_certificate(block)
        spki = candidate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki == public:
            certificate = candidate
            break
    if certificate is None:
        raise ConfigError(f"{source}: no certificate in the file matches the private key")
    return CertificateCredential(
        private_key_pem=keys[0].decode(),
        certificate_pem=certificate.public_bytes(serialization.Encoding.PEM).decode(),
        thumbprint_sha1=certificate.fingerprint(hashes.SHA1()).hex().upper(),  # x5t is SHA-1
        thumbprint_sha256=certificate.fingerprint(hashes.SHA256()).hex().upper(),
        passphrase=passphrase,
    )


def _pem_blocks(pem: bytes) -> list[bytes]:
    blocks: list[bytes] = []
    current: list[bytes] = []
    for line in pem.replace(b"\r\n", b"\n").split(b"\n"):
        stripped = line.strip()
        if stripped.startswith(b"-----BEGIN "):
            current = [stripped]
        elif stripped.startswith(b"-----END ") and current:
            current.append(stripped)
            blocks.append(b"\n".join(current) + b"\n")
            current = []
        elif current:
            current.append(stripped)
    return blocks


class GitHubAssertion:
    """The GitHub Actions OIDC token as a client assertion, fetched on demand and reused until near expiry.

    Reads ``ACTIONS_ID_TOKEN_REQUEST_URL`` and ``ACTIONS_ID_TOKEN_REQUEST_TOKEN`` when called (GitHub sets
    them in a job with ``permissions: id-token: write``).
    """

    def __init__(self, tenant: str, http: httpx.Client, clock: Callable[[], float] = time.time) -> None:
        self._tenant = tenant
        self._http = http
        self._clock = clock
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
        try:
            response = self._http.get(
                f"{url}{separator}audience={GITHUB_AUDIENCE}", headers={"Authorization": f"bearer {bearer}"}
            )
        except httpx.HTTPError as exc:
            tls = tls_failure(exc)
            reason = f"cannot fetch the GitHub OIDC token: {tls or f'{type(exc).__name__}: {exc}'}"
            if tls is None and isinstance(exc, _TRANSIENT_ERRORS):
                raise _TransientSignIn(reason) from None
            raise AuthError(self._tenant, reason) from None
        if _transient(response.status_code):
            raise _TransientSignIn(
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


def msal_credential(
    tenant: str, auth: AuthSettings, config: ExoformConfig, http: httpx.Client
) -> str | dict[str, Any]:
    """The msal ``client_credential`` for ``auth``; reads secrets and files now (ConfigError if missing)."""
    if auth.client_secret is not None:
        return resolve_secret(auth.client_secret)
    if auth.certificate is not None:
        cert = auth.certificate
        passphrase = resolve_secret(cert.passphrase) if cert.passphrase else None
        if cert.path is not None:
            path = config.path(cert.path)
            data, problems = read_bytes(path, str(path), MAX_FILE_BYTES)
            if data is None:
                reason = problems[0].message.removeprefix("cannot read file: ")
                raise ConfigError(f"tenant {tenant}: certificate {path}: {reason}")
            pem = data
            source = f"tenant {tenant}: certificate {path}"
        else:
            assert cert.pem is not None
            pem = resolve_secret(cert.pem).replace("\\n", "\n").encode()
            source = f"tenant {tenant}: certificate from {cert.pem}"
        return load_certificate(pem, passphrase, source).msal_credential()
    return {"client_assertion": GitHubAssertion(tenant, http)}


# --- tokens --------------------------------------------------------------------------------------------

#: What a refused read asks to check (docs/exchange-provider.md, "Give the app a role").
ROLE_HINT = (
    "check that the app registration has the Office 365 Exchange Online application permission "
    "Exchange.ManageAsApp with admin consent, and that its service principal holds a role that reads "
    "connectors: Global Reader, an Exchange role group with 'View-Only Configuration', or a writing role"
)
#: What a refused write asks to check.
WRITE_ROLE_HINT = (
    "changing connectors needs the Exchange Administrator role on the app's service principal (or an "
    "Exchange role group with the 'Remote and Accepted Domains' role), and Exchange.ManageAsApp with "
    "admin consent"
)


class MsalHttp:
    """An ``httpx.Client`` shaped the way msal calls its ``http_client`` (``requests``-like ``post``/``get``).

    msal hands a certificate-signed client assertion over as ``bytes`` in the form data; ``requests``
    encodes bytes as they are, httpx would write their ``repr``.  Form values are therefore decoded here.

    ``last_response`` is the latest response received (msal turns an error status into an exception or an
    error dict and drops the status and ``Retry-After``; :class:`TokenSource` reads them here to tell a
    transient failure from a permanent one).  While ``deadline`` (a ``time.monotonic()`` value) is set, no
    request waits longer than the time left until it, so a hung connection cannot outlast the sign-in's
    time limit.
    """

    def __init__(self, http: httpx.Client) -> None:
        self.http = http
        self.last_response: httpx.Response | None = None
        self.deadline: float | None = None

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        data = kwargs.pop("data", None)
        if isinstance(data, dict):
            data = {k: v.decode() if isinstance(v, bytes) else v for k, v in data.items()}
        self.last_response = self.http.post(url, data=data, **self._kwargs(kwargs))
        return self.last_response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        self.last_response = self.http.get(url, **self._kwargs(kwargs))
        return self.last_response

    def _kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        selected = _httpx_kwargs(kwargs)
        if self.deadline is not None:
            left = max(0.5, self.deadline - time.monotonic())
            configured = self.http.timeout.read
            if configured is None or configured > left:
                selected["timeout"] = left
        return selected

    def close(self) -> None:
        """msal may close its client; the client belongs to the session, so this does nothing."""


def _httpx_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k in ("params", "headers", "timeout") and v is not None}


#: Sign-in limits when the caller gives none: 4 attempts within 30 s, backoff from 0.5 s doubling up to 8 s
#: (jittered), ``Retry-After`` honoured up to 10 s.  Providers pass the tenant's own policy instead.
SIGN_IN_RETRY = RetryPolicy(
    max_attempts=4, base_delay=0.5, max_delay=8.0, max_total=30.0, retry_after_cap=10.0
)


#: Transport failures another attempt may not meet (TLS verification failures are excluded by the caller).
_TRANSIENT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _transient(status: int) -> bool:
    """An HTTP status that says "try again later": 408, 429, or 5xx other than 501 and 505."""
    return status in (408, 429) or (status >= 500 and status not in (501, 505))


#: OAuth error codes that say "try again later" whatever the status that carried them.
TRANSIENT_OAUTH_ERRORS = frozenset({"temporarily_unavailable", "server_error"})


class _TransientSignIn(Exception):
    """One sign-in attempt failed in a way another attempt may not.  Internal to :class:`TokenSource`."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TokenSource:
    """Bearer tokens for one tenant from msal's client-credentials flow, cached and refreshed early.

    Thread-safe.  The msal application is built on first use (building it fetches the authority's
    OpenID metadata), with ``http`` as its HTTP client so it shares the TLS trust of the API calls.

    Retries: a failed attempt is retried when the failure is transient -- a connection reset, refused or
    closed, a timeout, HTTP 408, 429 or 5xx (other than 501/505) from the metadata GET or the token POST,
    or an OAuth ``temporarily_unavailable`` / ``server_error`` -- as long as ``retry`` allows: at most
    ``retry.max_attempts`` attempts, and no wait that would end more than ``retry.max_total`` seconds after
    the first attempt started (no request outlives that point either).  Between attempts it waits what the
    service's ``Retry-After`` says (up to ``retry.retry_after_cap``), else ``retry.backoff(attempt)``.  Each
    retry is logged at debug level with the reason (statuses, OAuth error codes and descriptions, never a
    secret, token or assertion).  Anything else fails at once: an OAuth error such as ``invalid_client``,
    ``unauthorized_client`` or ``invalid_request``, any other 4xx, a credential that cannot be read, an
    untrusted TLS certificate.  Giving up raises :class:`AuthError` naming the tenant, the last failure and
    the number of attempts.

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
        self._http = MsalHttp(http)
        self._clock = clock
        self.retry = retry or SIGN_IN_RETRY
        self._lock = threading.Lock()
        self._app: msal.ConfidentialClientApplication | None = None
        self._cache = msal.TokenCache()
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
        for entry in list(self._cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            self._cache.remove_at(entry)

    def _fetch(self) -> None:
        limits = self.retry
        started = time.monotonic()

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

        retrying = controller(
            limits, lambda e: isinstance(e, _TransientSignIn), before_sleep, last_attempt_at_deadline=False
        )
        self._http.deadline = started + limits.max_total
        try:
            for attempt in retrying:
                with attempt:
                    result = self._attempt()
        except _TransientSignIn as failure:
            attempts = int(retrying.statistics.get("attempt_number", 1))
            raise AuthError(
                self.tenant,
                f"signing in failed: {failure.reason}; gave up after {attempts} "
                f"attempt{'s' if attempts != 1 else ''} in {time.monotonic() - started:.1f} s "
                f"(limits: {limits.max_attempts} attempts, {limits.max_total:g} s)",
            ) from None
        finally:
            self._http.deadline = None
        self.fetches += 1
        self._token = str(result["access_token"])
        lifetime = float(result.get("expires_in", 3600))
        margin = min(REFRESH_MARGIN, lifetime / 10)
        self._refresh_at = self._clock() + lifetime - margin
        log.debug("tenant %s: fetched a token valid for %.0f s", self.tenant, lifetime)

    def _attempt(self) -> dict[str, Any]:
        """One sign-in: the token response, :class:`_TransientSignIn`, or :class:`AuthError` (permanent)."""
        self._http_cache.clear()  # msal's cached 429/5xx would answer this attempt without a request
        self._http.last_response = None
        try:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._credential(),
                    authority=self._authority,
                    http_client=self._http,
                    http_cache=self._http_cache,
                    token_cache=self._cache,
                    instance_discovery=False,
                )
            self._forget_access_tokens()  # our own cache decides when to refresh
            result = self._app.acquire_token_for_client(scopes=[self._scope])
        except (AuthError, ConfigError, _TransientSignIn):
            raise
        except httpx.HTTPError as exc:
            tls = tls_failure(exc)
            reason = f"cannot reach the authority {self._authority}: {tls or f'{type(exc).__name__}: {exc}'}"
            if tls is None and isinstance(exc, _TRANSIENT_ERRORS):
                raise _TransientSignIn(reason) from None
            raise AuthError(self.tenant, reason) from None
        except Exception as exc:  # msal raises ValueError and friends for bad metadata, authority or status
            tls = tls_failure(exc)
            transient = None if tls else self._transient_status()
            if transient is not None:
                raise transient from None
            reason = tls or _first_line(str(exc))
            raise AuthError(self.tenant, f"token request to {self._authority} failed: {reason}") from None
        if isinstance(result, dict) and "access_token" in result:
            return result
        error = str(result.get("error", "unknown_error")) if isinstance(result, dict) else "unknown_error"
        description = (
            _first_line(str(result.get("error_description", ""))) if isinstance(result, dict) else ""
        )
        transient = self._transient_status(error)
        if transient is not None:
            raise transient
        hint = ""
        if error in ("invalid_client", "unauthorized_client"):
            hint = "; check client_id and the credential (secret, certificate or federated credential)"
        raise AuthError(self.tenant, f"token request failed: {error}: {description}{hint}")

    def _transient_status(self, error: str | None = None) -> _TransientSignIn | None:
        """A :class:`_TransientSignIn` when the last response (or the OAuth ``error`` it carried) says to try
        again later, else None."""
        response = self._http.last_response
        status = response.status_code if response is not None else None
        if not ((status is not None and _transient(status)) or error in TRANSIENT_OAUTH_ERRORS):
            return None
        if response is None:
            return _TransientSignIn(f"the token endpoint answered {error}")
        path = response.request.url.path
        where = "OpenID discovery" if path.endswith("openid-configuration") else "the token endpoint"
        detail = _oauth_error(response)
        return _TransientSignIn(
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
