"""A self-signed app certificate: what an app registration's certificate credential holds.  The fleet
benchmark signs in with one, and so do the tests of certificate sign-in."""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def self_signed(name: str, *, days: int = 1) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    """A new 2,048-bit RSA key and a certificate for it named ``name`` (CN), valid from a day ago for
    ``days`` days."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key, certificate(key, name, days=days)


def certificate(key: rsa.RSAPrivateKey, name: str, *, days: int = 1) -> x509.Certificate:
    """A self-signed certificate of ``key`` named ``name``, valid from a day ago for ``days`` days."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
