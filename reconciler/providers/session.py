"""One run's client side: HTTP clients, TLS trust, listing threads, what was learned of each service.

A :class:`Session` is opened once per run (``with Session() as session:``) by the workflow or the CLI and
handed to every provider it opens; closing it closes what it owns.  Nothing here outlives the session, so
two sessions (two runs, two tests) never see each other's clients, threads or knowledge.

Contracts:
- One ``httpx.Client`` per trust store (``ca_bundle``), shared by every tenant that trusts the same CAs, so
  keep-alive connections are reused across tenants (each thread keeps its own: the next tenant a thread
  serves reuses them).  Its requests honour a total deadline when they carry one
  (:mod:`reconciler.providers.deadline`).  It always verifies TLS, never follows redirects (the
  protocol client follows them itself) and keeps no cookies: the InvokeCommand protocol needs none, and a
  shared jar would send one tenant's cookies with another tenant's requests.  Everything that belongs to a
  tenant (its token, ``X-AnchorMailbox``) travels in that request's own headers.
- Clients with different trust never share a connection.
- ``clock`` and ``sleep`` are what retries and token lifetimes are measured and waited with; tests inject
  a fake pair so no test waits for real time.
- Thread-safe.
"""

from __future__ import annotations

import http.cookiejar
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from reconciler.providers.auth import TokenShelf, tls_context
from reconciler.providers.deadline import DeadlineTransport
from reconciler.providers.retry import RetryPolicy

T = TypeVar("T")

#: Listings in flight at once across all tenants of a session (3 per tenant read; more wait their turn).
MAX_READER_THREADS = 64


def _no_cookies() -> http.cookiejar.CookieJar:
    """A jar whose policy accepts no cookie from any domain."""
    return http.cookiejar.CookieJar(policy=http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


class Session:
    """The shared, closable resources of one run (see the module contract)."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        reader_threads: int = MAX_READER_THREADS,
    ) -> None:
        self.clock = clock
        self.sleep = sleep
        #: Default retry limits measured and waited with this session's clock and sleep.
        self.retry = RetryPolicy(clock=clock, sleep=sleep)
        self._reader_threads = reader_threads
        self._lock = threading.Lock()
        self._clients: dict[str | None, httpx.Client] = {}
        self._readers: ThreadPoolExecutor | None = None
        self._flag_lists_all: set[str] = set()
        self._unknown_properties: dict[str, set[str]] = {}
        #: The CI tokens of ``federated:`` sign-ins, shared by the run's tenants.
        self.ci_tokens = TokenShelf()
        self._closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def http(self, ca_bundle: Path | None = None) -> httpx.Client:
        """The session's client for the system trust store plus ``ca_bundle``; :class:`ConfigError` when the
        bundle cannot be loaded.  Callers must not close it (the session does)."""
        key = str(ca_bundle.resolve()) if ca_bundle is not None else None
        with self._lock:
            if self._closed:
                raise RuntimeError("the session is closed")
            client = self._clients.get(key)
            if client is None:
                client = _client(tls_context(ca_bundle))
                self._clients[key] = client
            return client

    def submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        """Run ``fn(*args)`` on the session's listing threads (started on demand, idle ones reused)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the session is closed")
            if self._readers is None:
                self._readers = ThreadPoolExecutor(
                    max_workers=self._reader_threads, thread_name_prefix="exo-read"
                )
            return self._readers.submit(fn, *args)

    def lists_all_with_test_mode_flag(self, service: str) -> bool:
        """Whether ``service`` (an API base URL) was seen listing a connector that is not in test mode in
        its ``-IncludeTestModeConnectors`` listing (see :meth:`learn_flag_lists_all`)."""
        with self._lock:
            return service in self._flag_lists_all

    def learn_flag_lists_all(self, service: str) -> None:
        """Remember that ``service``'s ``-IncludeTestModeConnectors:$true`` listing holds every outbound
        connector.  Of the flag's two readings (every connector, or only test-mode ones) only the first
        allows a connector that is not in test mode there, so from then on that listing alone is complete.
        Learned from evidence only, never assumed."""
        with self._lock:
            self._flag_lists_all.add(service)

    def unknown_properties(self, service: str) -> frozenset[str]:
        """The properties ``service`` refused in a listing's ``$select`` (:meth:`learn_unknown_property`)."""
        with self._lock:
            return frozenset(self._unknown_properties.get(service, ()))

    def learn_unknown_property(self, service: str, name: str) -> None:
        """Remember that ``service`` (an API base URL) does not know the property ``name`` (an older or
        smaller service), so later listings leave it out of ``$select``."""
        with self._lock:
            self._unknown_properties.setdefault(service, set()).add(name)

    def close(self) -> None:
        """Close every client and stop the listing threads (waiting for listings in flight).  Idempotent."""
        with self._lock:
            self._closed = True
            clients = list(self._clients.values())
            self._clients.clear()
            readers, self._readers = self._readers, None
        if readers is not None:
            readers.shutdown(wait=True)
        for client in clients:
            client.close()


#: Keep-alive connections one thread keeps (its pool's, :mod:`.deadline`): a thread sends one request at a
#: time, to the identity host or the service's (a redirect may add a regional host).
KEEPALIVE_PER_THREAD = 4


def _client(context: ssl.SSLContext) -> httpx.Client:
    # No cap on connections: each tenant's protocol client caps its own concurrent requests, and the
    # number of tenants at once is the caller's parallelism; a cap would make tenants queue instead.
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=KEEPALIVE_PER_THREAD)
    transport = DeadlineTransport(context, limits)
    return httpx.Client(transport=transport, follow_redirects=False, cookies=_no_cookies())
