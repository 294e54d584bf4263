"""Connection pools shared by every provider of the process that trusts the same CAs.

A plan over many tenants opens one provider per tenant.  Each with its own ``httpx.Client`` would open new
TCP connections and pay new TLS handshakes (client and server CPU) for every tenant, even when they all
talk to the same service hosts.  Here every provider still gets its own ``httpx.Client`` (its own event
hooks, default timeout and proxy mounts), but the client's transport is a :class:`PoolLease` on one
process-wide ``httpx.HTTPTransport`` of the provider's TLS context, so keep-alive connections are reused
across tenants.  Providers open at the same time get different pools (see :func:`lease`).

Contracts:
- TLS verification is that of the shared context (:func:`reconciler.providers.auth.tls_context`), which
  always verifies; providers with different trust (another ``ca_bundle``) never share a pool.
- Thread-safe: ``httpx.HTTPTransport`` (httpcore's connection pool) serves many threads at once.
- Closing a provider's client releases its lease only; the shared pool stays open for the next provider,
  idle keep-alive connections expire on their own (``KEEPALIVE_EXPIRY``), a pool nobody leased for that
  long is closed when the next lease is taken, and every pool is closed when the process exits.  A lease
  is released at most once, however often it is closed.
"""

from __future__ import annotations

import atexit
import ssl
import threading
import time
from typing import Any

import httpx

#: Idle connections are dropped after this many seconds (httpx's own default).
KEEPALIVE_EXPIRY = 5.0
#: Idle connections kept per pool (a pool serves one provider at a time: 4 reads and a token request).
MAX_KEEPALIVE = 16


class SharedPool:
    """One ``httpx.HTTPTransport`` and the number of clients currently leasing it."""

    def __init__(self, context: ssl.SSLContext) -> None:
        # No cap on connections: each tenant's InvokeClient caps its own concurrent requests, and the
        # number of tenants at once is the caller's parallelism; a cap would make tenants queue instead.
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=MAX_KEEPALIVE, keepalive_expiry=KEEPALIVE_EXPIRY
        )
        self.transport = httpx.HTTPTransport(verify=context, limits=limits)
        self.leases = 0
        #: When the last lease was released (monotonic seconds); pools idle longer are closed.
        self.idle_since = time.monotonic()


class PoolLease(httpx.BaseTransport):
    """A client's handle on a :class:`SharedPool`: forwards requests; :meth:`close` releases the lease."""

    def __init__(self, pool: SharedPool) -> None:
        self._pool = pool
        self._released = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._released:
            raise RuntimeError("the HTTP client of this provider was closed")
        return self._pool.transport.handle_request(request)

    def close(self) -> None:
        with _LOCK:
            if not self._released:
                self._released = True
                self._pool.leases -= 1
                if self._pool.leases == 0:
                    self._pool.idle_since = time.monotonic()


_LOCK = threading.Lock()
#: Per TLS context, its pools, most recently leased last.
_POOLS: dict[ssl.SSLContext, list[SharedPool]] = {}


def lease(context: ssl.SSLContext) -> PoolLease:
    """A transport on a process-wide pool of ``context``.

    Each open provider gets a pool no other open provider uses when there is one (the one released last,
    whose connections are the warmest), else a new pool.  So tenants planned one after the other reuse
    connections, while tenants planned at the same time do not share one pool: httpcore's pool walks all
    its connections under one lock on every request, which gets slow and contended when many threads
    share a pool of many connections.
    """
    with _LOCK:
        stale = _take_stale()
        pools = _POOLS.setdefault(context, [])
        free = [pool for pool in pools if pool.leases == 0]
        pool = free[-1] if free else SharedPool(context)
        if not free:
            pools.append(pool)
        pool.leases += 1
        pools.remove(pool)
        pools.append(pool)
        chosen = PoolLease(pool)
    for old in stale:
        old.transport.close()
    return chosen


def _take_stale() -> list[SharedPool]:
    """Remove (under ``_LOCK``) the pools nobody has leased for longer than their connections live: their
    connections have expired anyway, and a process that talks to many servers (a test suite) would keep
    their sockets open until exit otherwise."""
    deadline = time.monotonic() - KEEPALIVE_EXPIRY
    stale: list[SharedPool] = []
    for context, group in list(_POOLS.items()):
        keep = [pool for pool in group if pool.leases > 0 or pool.idle_since > deadline]
        stale += [pool for pool in group if pool not in keep]
        if keep:
            _POOLS[context] = keep
        else:
            del _POOLS[context]
    return stale


def close_all() -> None:
    """Close every shared pool (at exit; tests may call it).  Later leases open new pools."""
    with _LOCK:
        pools = [pool for group in _POOLS.values() for pool in group]
        _POOLS.clear()
    for pool in pools:
        pool.transport.close()


atexit.register(close_all)


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, without building urllib request/response stand-ins for a response that sets no
    cookie (``http.cookiejar`` reads only Set-Cookie and Set-Cookie2, so the outcome is the same)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers or "set-cookie2" in response.headers:
            super().extract_cookies(response)


class Client(httpx.Client):
    """``httpx.Client`` whose cookie handling costs nothing when the service sets no cookie.

    Extracting cookies from every response was an eighth of a small tenant's client CPU.  Cookies the
    service does set are kept and sent back exactly as by ``httpx.Client``.
    """

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _Cookies(kwargs.pop("cookies", None))
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: httpx._types.CookieTypes) -> None:
        self._jar = _Cookies(cookies)
