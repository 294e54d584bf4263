"""TLS trust for every request exoform sends: the system store plus an optional CA bundle, never off.

:func:`tls_context` builds a verifying context; :func:`tls_failure` turns a failed verification, wherever
it sits in an exception's chain, into a message that says what to do.
"""

from __future__ import annotations

import functools
import ssl
from pathlib import Path

from reconciler.errors import ConfigError
from reconciler.yamlio import MAX_FILE_BYTES, read_bytes


def tls_context(ca_bundle: Path | None = None) -> ssl.SSLContext:
    """A verifying TLS context: the system trust store, plus the CAs of ``ca_bundle`` when given.

    The same trust (no bundle, or a bundle of the same bytes at the same path) gives the same context for
    the life of the process: loading the system store costs tens of milliseconds, and a context is safe to
    share between clients and threads.  The bundle is read on every call, so an edited bundle gives a new
    context.  An unreadable bundle raises :class:`ConfigError`.
    """
    if ca_bundle is None:
        return _context(None, None)
    data, problems = read_bytes(ca_bundle, str(ca_bundle), MAX_FILE_BYTES)  # a regular file, bounded
    if data is None:
        raise ConfigError(f"ca_bundle {ca_bundle}: {problems[0].message}")
    return _context(str(ca_bundle), data.decode("latin-1"))


@functools.lru_cache(maxsize=16)
def _context(ca_bundle: str | None, cadata: str | None) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if cadata is not None:
        try:
            context.load_verify_locations(cadata=cadata)
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
