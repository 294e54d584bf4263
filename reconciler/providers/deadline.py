"""A total deadline per HTTP request, on top of httpx's per-read timeout.

httpx times out each read, so a server that sends one byte at a time (inside the headers or the body)
holds a request forever.  :class:`DeadlineTransport` is an httpx transport over httpcore's connection pool
with a network backend (both public interfaces) whose every read and write is bounded by the time left
before the request's deadline: a request that carries the extension ``DEADLINE`` (an absolute
:func:`time.monotonic` value) fails with ``httpx.ReadTimeout`` (or ``WriteTimeout``) once it is past,
wherever the bytes are, response body included (it is read in the same thread as the request).  A request
without the extension has no deadline (msal's token requests keep their own timeouts).

Each thread has a connection pool of its own (:class:`_Lane`): a thread sends one request at a time, so
its pool holds a connection or two and finding one costs nothing.  One pool shared by every thread is
scanned whole on each request and on each response's close (quadratically in its idle connections,
httpcore 1.0), and at parallelism 32 that scan was the largest client CPU cost of a tenant
(``bench/fleet.py``).  Connections are still reused across tenants: a thread serves tenant after tenant.

Contract: the deadline belongs to the thread that sends the request (the protocol client is synchronous),
kept on the transport, never in module state.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing

import httpcore
import httpx

#: The request extension holding the request's deadline (a ``time.monotonic()`` value).
DEADLINE = "exoform.deadline"


class _Lane(threading.local):
    """One thread's part of the transport: the deadline of its request and its connection pool."""

    deadline: float | None = None
    pool: httpcore.ConnectionPool | None = None

    def bound(self, timeout: float | None, error: type[Exception]) -> float | None:
        """``timeout`` shortened to the time left; ``error`` when none is left."""
        if self.deadline is None:
            return timeout
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise error("the request's total deadline passed")
        return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadlines: _Lane) -> None:
        self._inner = inner
        self._deadlines = deadlines

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadlines.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadlines.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        bounded = self._deadlines.bound(timeout, httpcore.ConnectTimeout)
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, bounded), self._deadlines)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    def __init__(self, deadlines: _Lane) -> None:
        self._deadlines = deadlines

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = self._deadlines.bound(timeout, httpcore.ConnectTimeout)
        stream = super().connect_tcp(host, port, bounded, local_address, socket_options)
        return _Stream(stream, self._deadlines)


#: httpcore's failures of a request in flight, raised again as httpx's of the same name.
_HTTPCORE_ERRORS = (httpcore.NetworkError, httpcore.TimeoutException, httpcore.ProtocolError)


def _httpx_error(exc: Exception) -> type[httpx.TransportError]:
    """The httpx exception named like httpcore's ``exc`` (httpx mirrors httpcore's exception names)."""
    for cls in type(exc).__mro__:
        mapped = getattr(httpx, cls.__name__, None)
        if isinstance(mapped, type) and issubclass(mapped, httpx.TransportError):
            return mapped
    return httpx.TransportError


class _ResponseStream(httpx.SyncByteStream):
    """httpcore's response body as httpx reads it, its failures raised as httpx's."""

    def __init__(self, stream: typing.Iterable[bytes]) -> None:
        self.stream = stream

    def __iter__(self) -> typing.Iterator[bytes]:
        try:
            yield from self.stream
        except _HTTPCORE_ERRORS as exc:
            raise _httpx_error(exc)(str(exc)) from exc

    def close(self) -> None:
        closer = getattr(self.stream, "close", None)
        if callable(closer):
            closer()


class DeadlineTransport(httpx.BaseTransport):
    """An HTTP/1.1 transport (TLS verified with ``context``) honouring :data:`DEADLINE`, with a connection
    pool per thread, each within ``limits``.

    Built on public interfaces only: ``httpcore.ConnectionPool`` given the deadline-bounded network
    backend (httpcore's ``network_backend`` parameter), behind httpx's transport interface.
    """

    def __init__(self, context: ssl.SSLContext, limits: httpx.Limits) -> None:
        self._context = context
        self._limits = limits
        self._lane = _Lane()
        self._lock = threading.Lock()
        self._pools: list[httpcore.ConnectionPool] = []

    def _pool(self) -> httpcore.ConnectionPool:
        """This thread's pool, made on its first request."""
        pool = self._lane.pool
        if pool is None:
            pool = httpcore.ConnectionPool(
                ssl_context=self._context,
                max_connections=self._limits.max_connections,
                max_keepalive_connections=self._limits.max_keepalive_connections,
                keepalive_expiry=self._limits.keepalive_expiry,
                network_backend=_Backend(self._lane),
            )
            with self._lock:
                self._pools.append(pool)
            self._lane.pool = pool
        return pool

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = request.extensions.get(DEADLINE)
        self._lane.deadline = float(deadline) if isinstance(deadline, int | float) else None
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = self._pool().handle_request(core_request)
        except _HTTPCORE_ERRORS as exc:
            raise _httpx_error(exc)(str(exc)) from exc
        except httpcore.UnsupportedProtocol as exc:
            raise httpx.UnsupportedProtocol(str(exc)) from exc
        assert isinstance(response.stream, typing.Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        with self._lock:
            pools, self._pools = self._pools, []
        for pool in pools:
            pool.close()
