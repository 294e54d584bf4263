"""Connection pools shared by every provider of the process that trusts the same CAs.

A plan over many tenants opens one provider per tenant.  Each with its own ``httpx.Client`` would open new
TCP connections and pay new TLS handshakes (client and server CPU) for every tenant, even when they all
talk to the same service hosts.  Here every provider still gets its own ``httpx.Client`` (its own event
hooks, default timeout and proxy mounts), but the client's transport is a :class:`PoolLease` on one
process-wide ``httpx.HTTPTransport`` per TLS context, so keep-alive connections are reused across tenants.

Contracts:
- TLS verification is that of the shared context (:func:`reconciler.providers.auth.tls_context`), which
  always verifies; providers with different trust (another ``ca_bundle``) never share a pool.
- Thread-safe: ``httpx.HTTPTransport`` (httpcore's connection pool) serves many threads at once.
- Closing a provider's client releases its lease only; the shared pool stays open for the next provider,
  idle keep-alive connections expire on their own (``KEEPALIVE_EXPIRY``), and every pool is closed when
  the process exits.  A lease is released at most once, however often it is closed.
"""

from __future__ import annotations

import atexit
import ssl
import threading

import httpx

#: Idle connections are dropped after this many seconds (httpx's own default).
KEEPALIVE_EXPIRY = 5.0
#: Idle connections kept per pool: enough for the default 8 tenants at once with 4 reads each.
MAX_KEEPALIVE = 64


class SharedPool:
    """One ``httpx.HTTPTransport`` and the number of clients currently leasing it."""

    def __init__(self, context: ssl.SSLContext) -> None:
        # No cap on connections: each tenant's InvokeClient caps its own concurrent requests, and the
        # number of tenants at once is the caller's parallelism; a shared cap would make tenants queue
        # behind each other (and time out) instead.
        limits = httpx.Limits(
            max_connections=None, max_keepalive_connections=MAX_KEEPALIVE, keepalive_expiry=KEEPALIVE_EXPIRY
        )
        self.transport = httpx.HTTPTransport(verify=context, limits=limits)
        self.leases = 0


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


_LOCK = threading.Lock()
_POOLS: dict[ssl.SSLContext, SharedPool] = {}


def lease(context: ssl.SSLContext) -> PoolLease:
    """A transport on the process-wide pool of ``context`` (created on first use)."""
    with _LOCK:
        pool = _POOLS.get(context)
        if pool is None:
            pool = _POOLS[context] = SharedPool(context)
        pool.leases += 1
        return PoolLease(pool)


def close_all() -> None:
    """Close every shared pool (at exit; tests may call it).  Later leases open new pools."""
    with _LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.transport.close()


atexit.register(close_all)
