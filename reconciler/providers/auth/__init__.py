"""Signing in to Exchange Online, one concern a module:

- :mod:`.clouds`: where a tenant is reached (the clouds, :func:`resolve_endpoints`);
- :mod:`.trust`: TLS trust (:func:`tls_context`, :func:`tls_failure`);
- :mod:`.credentials`: the secret, certificate or federated credential of ``auth`` (:func:`msal_credential`);
- :mod:`.federated`: CI workload identity federation (the CI's OIDC token, one per run: :class:`TokenShelf`);
- :mod:`.transport`: sign-in requests bounded like the API's (deadline, size cap, identity host only);
- :mod:`.tokens`: msal's client-credentials flow, retried and cached (:class:`TokenSource`);
- :mod:`.hints`: what to do about a refusal (AADSTS codes, Exchange roles).

Importing this package does not import msal (a tenant imports it when it first signs in).  Everything
logs under ``reconciler.providers.auth``.
"""

from reconciler.providers.auth.clouds import CLOUDS, Cloud, Endpoints, resolve_endpoints
from reconciler.providers.auth.credentials import CertificateCredential, load_certificate, msal_credential
from reconciler.providers.auth.federated import TokenShelf
from reconciler.providers.auth.hints import ROLE_HINT, WRITE_ROLE_HINT
from reconciler.providers.auth.tokens import SIGN_IN_RETRY, TokenSource
from reconciler.providers.auth.trust import tls_context, tls_failure

__all__ = [
    "CLOUDS",
    "ROLE_HINT",
    "SIGN_IN_RETRY",
    "WRITE_ROLE_HINT",
    "CertificateCredential",
    "Cloud",
    "Endpoints",
    "TokenShelf",
    "TokenSource",
    "load_certificate",
    "msal_credential",
    "resolve_endpoints",
    "tls_context",
    "tls_failure",
]
