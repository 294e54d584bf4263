"""The emulator over real HTTPS on loopback: :class:`EmulatorServer`.

A ``ThreadingHTTPServer`` (one thread per connection, HTTP/1.1 keep-alive) whose connections are wrapped
in TLS with a certificate from a throw-away local CA (trustme).  The CA's PEM is written to
``server.ca_path`` for clients to trust; TLS verification never needs to be switched off.

Connection faults are real here: a reset sets ``SO_LINGER`` to 0 and closes (the peer sees a TCP RST), an
abrupt close closes the socket without a response.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import selectors
import shutil
import socket
import ssl
import struct
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from reconciler.emulator.app import Emulator
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.faults import ConnectionFault, Faults
from reconciler.emulator.store import TenantStores

log = logging.getLogger(__name__)

#: Largest request body the server reads (a request of exoform is a few kilobytes).
MAX_REQUEST_BYTES = 4 << 20
_HOP_HEADERS = {"content-length", "transfer-encoding", "connection", "keep-alive", "date", "server"}


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` is a loopback address (or ``localhost``)."""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(f"the emulator binds loopback addresses only (127.0.0.1, ::1, localhost), not '{host}'")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, owner: EmulatorServer) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.context = context
        self.owner = owner
        self.connections: set[socket.socket] = set()
        self.threads: set[threading.Thread] = set()
        self.track = threading.Lock()
        self.accepted = 0
        # serve() waits on the listening socket and on this pair: shutdown() wakes it at once, where
        # serve_forever() would only notice at its next poll (a tenth of a second for every server stopped).
        self._wake, self._waker = socket.socketpair()
        self._stopped = threading.Event()
        super().__init__(address, _Handler)

    def serve(self) -> None:
        """Accept connections (each served in its own thread) until :meth:`shutdown`."""
        try:
            with selectors.DefaultSelector() as selector:
                selector.register(self.socket, selectors.EVENT_READ)
                selector.register(self._wake, selectors.EVENT_READ)
                while not any(key.fileobj is self._wake for key, _ in selector.select()):
                    self.handle_request()  # the listening socket is readable: accepts without waiting
        finally:
            self._stopped.set()

    def shutdown(self) -> None:
        """Stop :meth:`serve` and wait until it has returned; no poll interval."""
        with contextlib.suppress(OSError):
            self._waker.send(b"x")
        self._stopped.wait()

    def server_close(self) -> None:
        super().server_close()
        self._wake.close()
        self._waker.close()

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        with self.track:
            self.accepted += 1
        # Headers and body go out in separate writes; without NODELAY, Nagle and delayed ACKs add ~40 ms.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # The TLS handshake runs in the connection's own thread (see _Handler.setup), not in the accept loop.
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), address

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("emulator connection from %s failed", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections are closed after a minute
    # Buffered writes: status line, headers and a small body leave in one TLS record and one syscall
    # (http.server flushes after each request), instead of one write per header block and body.
    wbufsize = 64 * 1024
    server: _Server

    def setup(self) -> None:
        with self.server.track:
            self.server.connections.add(self.request)
            self.server.threads.add(threading.current_thread())
        super().setup()
        self.request.do_handshake()

    def finish(self) -> None:
        with contextlib.suppress(OSError):
            super().finish()
        with self.server.track:
            self.server.connections.discard(self.request)
            self.server.threads.discard(threading.current_thread())

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("emulator: " + format, *args)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _read_body(self) -> bytes | None:
        """The request body; None when it is larger than :data:`MAX_REQUEST_BYTES` or malformed (the
        connection is then closed, the rest unread)."""
        try:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                chunks: list[bytes] = []
                total = 0
                while True:
                    size = int(self.rfile.readline(64).split(b";")[0].strip() or b"0", 16)
                    total += size
                    if total > MAX_REQUEST_BYTES:
                        return None
                    if size == 0:
                        while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                            pass
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline(64)
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            return None
        if not 0 <= length <= MAX_REQUEST_BYTES:
            return None
        return self.rfile.read(length)

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            self.close_connection = True
            self.send_error(413, f"Request body larger than {MAX_REQUEST_BYTES} bytes, or malformed")
            return
        host = self.headers.get("host") or f"{self.server.server_name}:{self.server.server_port}"
        try:
            request = httpx.Request(
                self.command,
                f"https://{host}{self.path}",
                headers=list(self.headers.items()),
                content=body,
            )
        except (httpx.InvalidURL, ValueError):
            self.send_error(400, "Bad request target or Host header")
            return
        try:
            response = self.server.owner.emulator.handle(request)
        except ConnectionFault as fault:
            self._break(fault.how)
            return
        except Exception:
            log.exception("emulator: unexpected error")
            response = httpx.Response(
                500, text="emulator internal error", headers={"content-type": "text/plain"}
            )
        content = response.content
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in _HOP_HEADERS:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(content)

    def _break(self, how: str) -> None:
        self.close_connection = True
        sock: socket.socket = self.request
        with contextlib.suppress(OSError):
            if how == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            # The file objects hold references that would defer the real close (and turn a reset into a
            # FIN sent later by socketserver): release them first.
            self.rfile.close()
            self.wfile.close()
            sock.close()


class EmulatorServer:
    """An :class:`Emulator` served over HTTPS on loopback; use as a context manager.

    ``base_url`` is ``https://127.0.0.1:PORT``, ``authority(tenant)`` the msal authority for a tenant,
    ``ca_path`` the PEM file of the CA that signed the server certificate.  ``emulator`` may be replaced
    while serving: each request goes to the one set when it arrives (the tests share one server, with an
    emulator of their own each).
    """

    def __init__(
        self,
        emulator: Emulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        stores: TenantStores | None = None,
        config: EmulatorConfig | None = None,
        faults: Faults | None = None,
    ) -> None:
        check_loopback(host)
        self.emulator = emulator or Emulator(stores=stores, config=config, faults=faults)
        self.host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.ca_path = ""

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> EmulatorServer:
        """Bind, write the CA bundle and serve in a background thread.  Returns self."""
        if self._server is not None:
            return self
        import trustme  # the emulator extra: only the HTTPS server needs a throw-away CA

        ca = trustme.CA(organization_name="exoform emulator")
        names = ["localhost", "127.0.0.1", "::1"]
        if self.host not in names:
            names.append(self.host)
        cert = ca.issue_cert(*names)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(context)
        self._tmp = tempfile.mkdtemp(prefix="exoform-emulator-")
        self.ca_path = str(Path(self._tmp) / "ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self._server = _Server((self.host, self._port), context, self)
        self._thread = threading.Thread(target=self._server.serve, name="exoform-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the threads.  Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.track:
            connections = list(server.connections)
            threads = list(server.threads)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for thread in threads:
            thread.join(timeout=5)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator server is not running")
        return int(self._server.server_address[1])

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted so far (keep-alive reuse keeps this low)."""
        return self._server.accepted if self._server is not None else 0

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{host}:{self.port}"

    def authority(self, tenant: str) -> str:
        """The msal authority URL of ``tenant`` on this server."""
        return f"{self.base_url}/{tenant}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's CA (and verifies the certificate)."""
        return ssl.create_default_context(cafile=self.ca_path)

    def client(self, **kwargs: Any) -> httpx.Client:
        """An ``httpx.Client`` on ``base_url`` that trusts the server's CA."""
        return httpx.Client(base_url=self.base_url, verify=self.ssl_context(), **kwargs)
