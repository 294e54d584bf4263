"""The credential a tenant signs in with, from ``auth`` in ``exoform.yaml``: read, checked, never printed.

- a client secret (``client_secret: env:NAME``);
- a certificate: a PEM file (``certificate.path``) or PEM content from the environment
  (``certificate.pem: env:NAME``), optionally with an encrypted key (``certificate.passphrase: env:NAME``);
- workload identity federation (``federated: github``, ``azure-devops`` or ``gitlab``, :mod:`.federated`).

Secrets and files are read when the credential is asked for (:func:`msal_credential`); an unset variable or
an unreadable file is a :class:`ConfigError` naming the variable or path, never the value.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

from reconciler.desired.config import AuthSettings, ExoformConfig, resolve_secret
from reconciler.errors import ConfigError
from reconciler.providers.auth.federated import TokenShelf, ci_assertion
from reconciler.providers.retry import RetryPolicy
from reconciler.yamlio import MAX_FILE_BYTES, read_bytes

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


@dataclass(frozen=True)
class CertificateCredential:
    """A private key, parsed and checked against its certificate; ``repr`` does not show the key."""

    private_key: PrivateKeyTypes = field(repr=False)
    thumbprint_sha1: str

    def msal_credential(self) -> dict[str, Any]:
        """The msal ``client_credential`` dict: the parsed key (so msal and PyJWT do not parse the PEM
        again for every application) and the certificate's SHA-1 thumbprint (``x5t``, as Entra ID shows
        it)."""
        return {"private_key": self.private_key, "thumbprint": self.thumbprint_sha1}


class _Unusable(Exception):
    """Why a PEM cannot sign in (the message, without the source)."""


#: Parsing an RSA key checks its consistency, about 55 ms of CPU for 2,048 bits and three times that for
#: 3,072, and the tenants of a fleet mostly sign in with one application's certificate.  So each distinct
#: PEM and passphrase is parsed once per process, one parse at a time: the tenants that sign in together
#: wait for the first parse instead of repeating it.
_parsing = threading.Lock()


def load_certificate(pem: bytes, passphrase: str | None, source: str) -> CertificateCredential:
    """Parse PEM holding a private key and its certificate; :class:`ConfigError` naming ``source``."""
    with _parsing:
        try:
            return _parsed(pem, passphrase)
        except _Unusable as problem:
            raise ConfigError(f"{source}: {problem}") from None


@lru_cache(maxsize=32)
def _parsed(pem: bytes, passphrase: str | None) -> CertificateCredential:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    blocks = _pem_blocks(pem)
    keys = [b for b in blocks if b"PRIVATE KEY" in b.split(b"\n", 1)[0]]
    certs = [b for b in blocks if b.startswith(b"-----BEGIN CERTIFICATE-----")]
    if not keys:
        raise _Unusable("no private key found (expected a PEM 'PRIVATE KEY' block)")
    if not certs:
        raise _Unusable("no certificate found (expected a PEM 'CERTIFICATE' block)")
    password = passphrase.encode() if passphrase else None
    try:
        key = serialization.load_pem_private_key(keys[0], password=password)
    except TypeError:
        if password is None:
            raise _Unusable("the private key is encrypted; set certificate.passphrase") from None
        raise _Unusable("the private key is not encrypted; remove certificate.passphrase") from None
    except ValueError:
        hint = "wrong passphrase or " if password else ""
        raise _Unusable(f"cannot read the private key ({hint}not a supported key)") from None
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for block in certs:
        certificate = x509.load_pem_x509_certificate(block)
        spki = certificate.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if spki == public:
            # x5t is SHA-1
            return CertificateCredential(key, certificate.fingerprint(hashes.SHA1()).hex().upper())
    raise _Unusable("no certificate in the file matches the private key")


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


def msal_credential(
    tenant: str,
    auth: AuthSettings,
    config: ExoformConfig,
    http: httpx.Client,
    policy: RetryPolicy | None = None,
    shelf: TokenShelf | None = None,
) -> str | dict[str, Any]:
    """The msal ``client_credential`` for ``auth``; reads secrets and files now (ConfigError if missing).

    ``policy`` bounds the request a federated credential makes, and ``shelf`` (the run's) keeps its token
    for the run's other tenants (see :mod:`.federated`)."""
    try:
        return _credential(tenant, auth, config, http, policy, shelf)
    except ConfigError as exc:
        text = str(exc)
        raise ConfigError(text if text.startswith("tenant ") else f"tenant {tenant}: {text}") from None


def _credential(
    tenant: str,
    auth: AuthSettings,
    config: ExoformConfig,
    http: httpx.Client,
    policy: RetryPolicy | None,
    shelf: TokenShelf | None,
) -> str | dict[str, Any]:
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
    assert auth.federated is not None
    return {"client_assertion": ci_assertion(auth.federated, tenant, http, policy, shelf)}
