"""An Entra-ID-like identity endpoint, enough for msal's confidential-client flow, and the token checks.

- ``/{tenant}/v2.0/.well-known/openid-configuration`` (OpenID discovery) and ``/common/discovery/instance``.
- ``/{tenant}/oauth2/v2.0/token``: client credentials with a client secret, with a certificate-signed
  client assertion (signature checked against the app's registered certificate, audience = this token
  endpoint, expiry), or with a federated assertion (GitHub OIDC style: a registered issuer, subject and
  audience ``api://AzureADTokenExchange``).
- ``/_github/oidc/token``: a GitHub Actions OIDC stand-in whose issuer is trusted for federation;
  ``/_azure_devops/oidctoken`` (Azure Pipelines' ``SYSTEM_OIDCREQUESTURI``: a service connection's token,
  issuer ``https://vstoken.dev.azure.com/{org id}``, subject ``sc://ORG/PROJECT/CONNECTION``) and
  ``/_gitlab/id_token`` (a GitLab CI ID token: issuer the instance, subject ``project_path:...``), whose
  issuers are trusted the same way.

Issued access tokens are JWTs with ``aud`` (the resource), ``tid``, ``appid``, ``roles`` and ``exp``,
signed with HS256 and a random secret of the emulator; :meth:`Identity.verify` checks them for the API (a
client never checks an access token's signature: it is opaque to it).  Client assertions are verified
with the client's RSA/EC keys, as Entra ID does.  :meth:`expire_tokens` invalidates every token issued so
far (the "token expiry mid-run" fault).

Error bodies follow Entra ID's shape (``error``, ``error_description`` starting with the ``AADSTS`` code,
``error_codes``, ``timestamp``, ``trace_id``, ``correlation_id``, ``error_uri``), with the codes Entra ID
sends for the same cause: 700016 (no such app in the directory), 7000229 (a multi-tenant app without a
service principal in this tenant: not consented), 7000215 (wrong secret), 7000222 (expired secret),
700027 (a certificate the app does not know), 90002 (no such tenant), 7002xx (federated credentials).
They never echo a secret or an assertion.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from reconciler.emulator.config import (
    EXCHANGE_ADMINISTRATOR,
    FEDERATION_AUDIENCE,
    GITHUB_ISSUER,
    GLOBAL_READER,
    MANAGE_AS_APP,
    OPEN_SECRET,
    AppConfig,
    EmulatorConfig,
)
from reconciler.emulator.tenant import TenantInfo

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: audiences the InvokeCommand endpoint accepts (the Exchange Online resource in each cloud)
API_AUDIENCES = frozenset(
    {
        "https://outlook.office365.com",
        "https://outlook.office.com",
        "https://outlook.office365.us",
        "https://outlook-dod.office365.us",
        "https://partner.outlook.cn",
        "https://outlook.office365.cn",
        "00000002-0000-0ff1-ce00-000000000000",
    }
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class TokenError(Exception):
    """The token endpoint refuses: ``status`` and an Entra-style body."""

    status: int
    error: str
    code: int
    description: str

    def body(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "error_description": f"AADSTS{self.code}: {self.description}",
            "error_codes": [self.code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
            "error_uri": f"https://login.microsoftonline.com/error?code={self.code}",
        }


def oauth_fault_error(status: int, error: str | None = None, description: str | None = None) -> TokenError:
    """The OAuth error an injected ``status`` fault on the token or discovery endpoint answers with.

    Without ``error``: ``temporarily_unavailable`` for 429, 503 and 504 (what Entra ID sends when it sheds
    load), ``server_error`` for other 5xx, ``invalid_request`` for anything else.  ``description`` replaces
    the default text (the ``AADSTS`` code stays in front, as Entra ID writes it).
    """
    if status in (429, 503, 504):
        default, code, text = (
            "temporarily_unavailable",
            90055 if status == 429 else 90006,
            "There are too many incoming requests. Please try again later."
            if status == 429
            else "The service is temporarily unavailable. Please try again later.",
        )
    elif status >= 500:
        default, code, text = "server_error", 90006, "An internal server error occurred. Please try again."
    else:
        default, code, text = "invalid_request", 900144, "The request is not valid."
    return TokenError(status, error or default, code, description or text)


@dataclass(frozen=True)
class AuthFailure(Exception):
    """The API refuses a request's token: 401 (no or bad token) or 403 (no Exchange.ManageAsApp role)."""

    status: int
    reason: str


class Identity:
    """Issues and verifies tokens.  Thread-safe."""

    def __init__(self, config: EmulatorConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        #: Wall-clock seconds that issued access tokens are dated and checked by (tests inject a fake).
        self.clock = clock
        #: The access-token signing secret (HS256): fresh for each emulator, known to no client.
        self._token_secret = secrets.token_bytes(32)
        #: The key id in issued tokens' headers and in the published key set.
        self._kid = secrets.token_hex(8)
        self._lock = threading.Lock()
        #: RSA keys by purpose ("published", "github"), made on first use: generating one takes a tenth of
        #: a second, and most emulators never need one.
        self._rsa_keys: dict[str, rsa.RSAPrivateKey] = {}
        self._generation = 0

    def _rsa_key(self, purpose: str) -> rsa.RSAPrivateKey:
        with self._lock:
            key = self._rsa_keys.get(purpose)
            if key is None:
                key = self._rsa_keys[purpose] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return key

    # -- discovery ---------------------------------------------------------------------------------

    def openid_configuration(self, base: str, tenant: str, info: TenantInfo) -> dict[str, Any]:
        root = f"{base}/{tenant}"
        return {
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{base}/{info.tenant_id}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "roles"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "exoform.emulator",
        }

    def jwks(self) -> dict[str, Any]:
        numbers = self._rsa_key("published").public_key().public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self._kid,
                    "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                    "e": _b64(numbers.e.to_bytes(3, "big")),
                }
            ]
        }

    # -- token endpoint ----------------------------------------------------------------------------

    def token(self, token_url: str, info: TenantInfo, form: dict[str, str]) -> dict[str, Any]:
        """Answer a token request (form fields of the POST); raises :class:`TokenError`."""
        if form.get("grant_type") != "client_credentials":
            raise TokenError(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type (the emulator "
                "supports client_credentials only).",
            )
        client_id = form.get("client_id", "")
        if not client_id:
            raise TokenError(
                400, "invalid_request", 900144, "The request body must contain the parameter: 'client_id'."
            )
        resource = self._resource(form.get("scope", ""))
        app = self.config.app(client_id)
        if app is None and not self.config.open:
            raise TokenError(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{info.initial_domain}'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may have sent "
                "your authentication request to the wrong tenant.",
            )
        if app is not None and app.tenants is not None and not _consented(app, info):
            raise TokenError(
                400,
                "invalid_client",
                7000229,
                f"The client application {client_id} is missing service principal in the tenant "
                f"{info.tenant_id}.",
            )
        if "client_secret" in form:
            self._check_secret(app, client_id, form["client_secret"])
        elif form.get("client_assertion_type") == ASSERTION_TYPE and form.get("client_assertion"):
            self._check_assertion(app, client_id, form["client_assertion"], token_url)
        else:
            raise TokenError(
                401,
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        roles = list(app.roles) if app is not None else [MANAGE_AS_APP]
        directory_role = GLOBAL_READER if app is not None and app.read_only else EXCHANGE_ADMINISTRATOR
        return self._issue(client_id, resource, info, roles, directory_role)

    @staticmethod
    def _resource(scope: str) -> str:
        scopes = [s for s in scope.split() if s]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            raise TokenError(
                400,
                "invalid_scope",
                1002012,
                "The provided value for scope is not valid. Client credential flows must have a scope value "
                "with /.default suffixed to the resource identifier (application ID URI).",
            )
        return scopes[0][: -len("/.default")]

    def _check_secret(self, app: AppConfig | None, client_id: str, secret: str) -> None:
        expected = app.client_secret if app is not None else OPEN_SECRET
        if expected is None or not _same(secret, expected):
            raise TokenError(
                401,
                "invalid_client",
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is the client "
                "secret value, not the client secret ID.",
            )
        if app is not None and app.secret_expired:
            raise TokenError(
                401,
                "invalid_client",
                7000222,
                f"The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal "
                "to create new keys for your app.",
            )

    def _check_assertion(self, app: AppConfig | None, client_id: str, assertion: str, token_url: str) -> None:
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError(
                400, "invalid_client", 50027, "The client assertion is not a valid JWT."
            ) from None
        issuer = str(claims.get("iss", ""))
        if issuer.casefold() == client_id.casefold():
            self._check_certificate_assertion(app, client_id, assertion, header, token_url)
        else:
            self._check_federated_assertion(app, assertion, issuer)

    def _check_certificate_assertion(
        self, app: AppConfig | None, client_id: str, assertion: str, header: dict[str, Any], token_url: str
    ) -> None:
        certificates = [
            x509.load_pem_x509_certificate(pem) for pem in (app.certificate_pems() if app else [])
        ]
        # base64url thumbprints, compared without padding (msal sends it, RFC 7515 omits it)
        wanted_sha1 = str(header["x5t"]).rstrip("=") if "x5t" in header else None
        wanted_sha256 = str(header["x5t#S256"]).rstrip("=") if "x5t#S256" in header else None
        candidates = [
            cert
            for cert in certificates
            if (wanted_sha1 is None and wanted_sha256 is None)
            or _b64(cert.fingerprint(hashes.SHA1())) == wanted_sha1
            or _b64(cert.fingerprint(hashes.SHA256())) == wanted_sha256
        ]
        if not candidates:
            raise TokenError(
                401,
                "invalid_client",
                700027,
                "Client assertion contains an invalid signature. [Reason - The key was not found.]",
            )
        audiences = [token_url, token_url + "/"]
        last: Exception | None = None
        for cert in candidates:
            try:
                claims = jwt.decode(
                    assertion,
                    key=cert.public_key(),  # type: ignore[arg-type]
                    algorithms=["RS256", "PS256", "ES256"],
                    audience=audiences,
                    options={"require": ["exp", "aud", "iss", "sub"]},
                    leeway=5,
                )
            except jwt.ExpiredSignatureError:
                raise TokenError(
                    401, "invalid_client", 700024, "Client assertion is not within its valid time range."
                ) from None
            except jwt.InvalidAudienceError:
                raise TokenError(
                    401,
                    "invalid_client",
                    700212,
                    f"No matching federated identity record found for presented assertion audience; the "
                    f"audience must be '{token_url}'.",
                ) from None
            except jwt.PyJWTError as exc:
                last = exc
                continue
            if str(claims.get("sub", "")).casefold() != client_id.casefold():
                raise TokenError(
                    401, "invalid_client", 700023, "Client assertion subject must be the client id."
                )
            return
        raise TokenError(
            401,
            "invalid_client",
            700027,
            f"Client assertion contains an invalid signature. [Reason - {type(last).__name__}]",
        )

    def _federated_key(self, issuer: str) -> PublicKeyTypes | None:
        if issuer == GITHUB_ISSUER:
            return self._rsa_key("github").public_key()
        if issuer == self.config.azure_devops.issuer:
            return self._rsa_key("azure-devops").public_key()
        if issuer == self.config.gitlab.issuer:
            return self._rsa_key("gitlab").public_key()
        pem = self.config.federated_issuers.get(issuer)
        if pem is None:
            return None
        data = pem.encode()
        if b"CERTIFICATE" in data:
            return x509.load_pem_x509_certificate(data).public_key()
        return serialization.load_pem_public_key(data)

    def _check_federated_assertion(self, app: AppConfig | None, assertion: str, issuer: str) -> None:
        key = self._federated_key(issuer)
        if key is None:
            raise TokenError(
                400,
                "invalid_request",
                700211,
                f"No matching federated identity record found for presented assertion issuer '{issuer}'.",
            )
        credentials = [c for c in (app.federated if app else ()) if c.issuer == issuer]
        audiences = sorted({c.audience for c in credentials} or {FEDERATION_AUDIENCE})
        try:
            claims = jwt.decode(
                assertion,
                key=key,  # type: ignore[arg-type]
                algorithms=["RS256", "ES256", "PS256"],
                audience=audiences,
                options={"require": ["exp", "aud", "iss", "sub"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise TokenError(
                400, "invalid_client", 700024, "Client assertion is not within its valid time range."
            ) from None
        except jwt.InvalidAudienceError:
            raise TokenError(
                400,
                "invalid_request",
                700212,
                f"No matching federated identity record found for presented assertion audience; expected "
                f"one of {', '.join(audiences)}.",
            ) from None
        except jwt.PyJWTError as exc:
            raise TokenError(
                401,
                "invalid_client",
                700027,
                f"Client assertion failed signature validation. [Reason - {type(exc).__name__}]",
            ) from None
        subject = str(claims.get("sub", ""))
        if app is not None and not any(c.subject == subject for c in credentials):
            raise TokenError(
                400,
                "invalid_request",
                700213,
                f"No matching federated identity record found for presented assertion subject '{subject}'.",
            )

    def _issue(
        self,
        client_id: str,
        resource: str,
        info: TenantInfo,
        roles: list[str],
        directory_role: str = EXCHANGE_ADMINISTRATOR,
    ) -> dict[str, Any]:
        now = int(self.clock())
        lifetime = self.config.token_lifetime_seconds
        with self._lock:
            generation = self._generation
        object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{info.tenant_id}/{client_id.casefold()}"))
        claims = {
            "aud": resource,
            "iss": f"https://sts.windows.net/{info.tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": client_id,
            "appidacr": "1",
            "idtyp": "app",
            "oid": object_id,
            "sub": object_id,
            "tid": info.tenant_id,
            "roles": roles,
            "wids": [directory_role],
            "ver": "1.0",
            "xms_emu_gen": generation,
        }
        token = jwt.encode(claims, self._token_secret, algorithm="HS256", headers={"kid": self._kid})
        return {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }

    # -- API side ----------------------------------------------------------------------------------

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far (later ones are valid)."""
        with self._lock:
            self._generation += 1

    def verify(self, authorization: str | None, info: TenantInfo, *, write: bool = False) -> dict[str, Any]:
        """The claims of a request's bearer token, or :class:`AuthFailure` (403 for a ``write`` by an app
        whose role only reads)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise AuthFailure(401, "no bearer token")
        token = authorization[len("bearer ") :].strip()
        # The token's dates are checked against this emulator's clock, not PyJWT's (the real time).
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=self._token_secret,
                algorithms=["HS256"],
                options={
                    "require": ["exp", "aud", "tid"],
                    "verify_aud": False,
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.PyJWTError:
            raise AuthFailure(401, "the access token is invalid") from None
        now = self.clock()
        if not isinstance(claims["exp"], int | float) or claims["exp"] <= now:
            raise AuthFailure(401, "the access token has expired")
        if not isinstance(claims.get("nbf", 0), int | float) or claims.get("nbf", 0) > now:
            raise AuthFailure(401, "the access token is invalid")
        if str(claims["aud"]).rstrip("/") not in API_AUDIENCES:
            raise AuthFailure(401, "the access token's audience is not Exchange Online")
        with self._lock:
            generation = self._generation
        if claims.get("xms_emu_gen") != generation:
            raise AuthFailure(401, "the access token has expired")
        if claims["tid"] != info.tenant_id:
            raise AuthFailure(401, "the access token was issued for another tenant")
        if MANAGE_AS_APP not in (claims.get("roles") or []):
            raise AuthFailure(403, f"the app lacks the {MANAGE_AS_APP} permission")
        if write and EXCHANGE_ADMINISTRATOR not in (claims.get("wids") or [EXCHANGE_ADMINISTRATOR]):
            raise AuthFailure(403, "the app's role (Global Reader) does not allow changing connectors")
        return claims

    # -- GitHub Actions OIDC stand-in --------------------------------------------------------------

    def github_token(self, authorization: str | None, audience: str | None) -> dict[str, Any]:
        """``{"value": <JWT>}`` as GitHub's ACTIONS_ID_TOKEN_REQUEST_URL answers; AuthFailure if refused."""
        expected = self.config.github.request_token
        if not authorization or not _same(
            authorization.removeprefix("Bearer ").removeprefix("bearer "), expected
        ):
            raise AuthFailure(401, "bad ACTIONS_ID_TOKEN_REQUEST_TOKEN")
        now = int(time.time())
        github = self.config.github
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": github.subject,
            "aud": audience or f"https://github.com/{github.repository.split('/')[0]}",
            "iss": GITHUB_ISSUER,
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "repository": github.repository,
            "ref": "refs/heads/main",
            "event_name": "push",
        }
        return {
            "count": 1,
            "value": jwt.encode(
                claims, self._rsa_key("github"), algorithm="RS256", headers={"kid": "github"}
            ),
        }

    # -- Azure Pipelines and GitLab CI stand-ins ---------------------------------------------------

    def azure_devops_token(self, authorization: str | None, connection: str | None) -> dict[str, Any]:
        """``{"oidcToken": <JWT>}`` as Azure DevOps' oidctoken call answers for service connection
        ``connection``; AuthFailure (401 bad System.AccessToken, 404 unknown connection) if refused."""
        ado = self.config.azure_devops
        if not authorization or not _same(
            authorization.removeprefix("Bearer ").removeprefix("bearer "), ado.access_token
        ):
            raise AuthFailure(401, "bad System.AccessToken")
        subject = ado.connections.get(connection or "")
        if subject is None:
            raise AuthFailure(404, "no such service connection, or the pipeline may not use it")
        now = int(time.time())
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": subject,
            "aud": FEDERATION_AUDIENCE,
            "iss": ado.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 600,
        }
        token = jwt.encode(claims, self._rsa_key("azure-devops"), algorithm="RS256", headers={"kid": "ado"})
        return {"oidcToken": token}

    def gitlab_token(self, audience: str | None) -> dict[str, Any]:
        """``{"value": <JWT>}``: the ID token GitLab would put in a job's ``id_tokens:`` variable."""
        gitlab = self.config.gitlab
        now = int(time.time())
        namespace, _, project = gitlab.project_path.rpartition("/")
        claims = {
            "jti": str(uuid.uuid4()),
            "sub": gitlab.subject,
            "aud": audience or gitlab.issuer,
            "iss": gitlab.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + 3600,
            "namespace_path": namespace,
            "project_path": gitlab.project_path,
            "ref": gitlab.subject.rpartition(":ref:")[2] or "main",
            "ref_type": "branch",
            "user_login": project or "gitlab",
        }
        return {
            "value": jwt.encode(claims, self._rsa_key("gitlab"), algorithm="RS256", headers={"kid": "gl"})
        }


def _consented(app: AppConfig, info: TenantInfo) -> bool:
    names = {t.casefold() for t in app.tenants or ()}
    return bool(names & {info.key, info.tenant_id, info.initial_domain})


def _same(given: str, expected: str) -> bool:
    import hmac

    return hmac.compare_digest(given.encode(), expected.encode())
