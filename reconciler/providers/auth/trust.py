"""TLS trust for every request exoform sends: the system store plus an optional CA bundle, never off.

:func:`tls_context` builds a verifying context; :func:`tls_failure` turns a failed verification, wherever
it sits in an exception's chain, into a message that says what to do.
"""

from __future__ import annotations

import ssl
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.yamlio import MAX_FILE_BYTES, read_bytes


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
