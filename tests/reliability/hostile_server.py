"""A small hostile HTTPS server in front of the emulator: it passes requests on and misbehaves on purpose.

:class:`HostileServer` listens on 127.0.0.1 with a certificate of its own CA (``bundle`` trusts it and the
emulator's), forwards every InvokeCommand request to the emulator and tampers with the answer as ``mode``
says.  It is a real server on a real socket, so exoform's HTTP stack meets the misbehaviour as it would
meet it from the network.  Its threads are daemons and :meth:`stop` ends them; a dripping answer stops as
soon as the client hangs up.

Modes (``None``: a faithful proxy):

- ``next_self``: every listing page's ``@odata.nextLink`` is the page's own URL.
- ``next_cycle``: page 1 links to page 2, and page 2 back to page 1.
- ``next_nul`` / ``next_space``: the next link holds a NUL byte / a space.
- ``redirect_offhost``: every call is redirected (307) to the same server under another host name
  (``localhost``), where an unauthenticated answer says "no objects"; ``redirect_writes_offhost`` only
  redirects New/Set/Remove.  ``offhost_hits`` records what reached the other host.
- ``drip``: the whole answer (status line, headers, body) is sent one byte at a time.
- ``gzip_bomb``: a gzip body that decompresses to 80 MiB of valid JSON.
- ``duplicate_guid``: a listing holds its first connector twice; ``case_twin``: a listing holds, besides its
  first connector, one more whose name differs only in case (with a Guid of its own).
- ``errors_object``: a listing answers ``{"@adminapi.errors": {...}, "value": []}``, errors as one object
  instead of a list (read as "no connectors", a plan would create every declared one).

Sign-in modes (:attr:`HostileServer.sign_in_mode`; a tenant whose ``authority`` is :meth:`authority`
signs in through the server, which passes discovery and token requests on to the emulator's identity
endpoint and puts its own address into the discovery document):

- ``token_drip`` / ``discovery_drip``: the answer is sent one byte every 3 s (:data:`SLOW_DRIP`);
- ``token_gzip_bomb`` / ``discovery_gzip_bomb``: a gzip body of 1 GiB of zeros (about 1 MB on the wire);
- ``token_redirect_offhost`` / ``discovery_redirect_offhost``: a 307 to the same server as ``localhost``;
- ``discovery_offhost_token_endpoint``: the discovery document names a token endpoint on ``localhost``.
"""

from __future__ import annotations

import gzip
import json
import ssl
import struct
import threading
import time
import uuid
import zlib
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import trustme

from reconciler.emulator.server import EmulatorServer

MODES = (
    "next_self",
    "next_cycle",
    "next_nul",
    "next_space",
    "redirect_offhost",
    "redirect_writes_offhost",
    "drip",
    "gzip_bomb",
    "duplicate_guid",
    "case_twin",
    "errors_object",
)
_WRITE_VERBS = ("new-", "set-", "remove-")
SIGN_IN_MODES = (
    "token_drip",
    "token_gzip_bomb",
    "token_redirect_offhost",
    "discovery_drip",
    "discovery_gzip_bomb",
    "discovery_redirect_offhost",
    "discovery_offhost_token_endpoint",
)
#: Seconds between two bytes of a dripping sign-in answer.
SLOW_DRIP = 3.0


@cache
def zeros_gzip(size: int = 1 << 30, block: int = 1 << 20) -> bytes:
    """A valid gzip file of ``size`` zero bytes, built without holding them: one compressed block of zeros
    (fully flushed, so every copy is the same bytes) repeated, then the trailer (CRC-32 and length)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(block)
    one = compressor.compress(zeros) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(size // block):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = compressor.flush(zlib.Z_FINISH) + struct.pack("<II", crc, size & 0xFFFFFFFF)
    return header + one * (size // block) + trailer


@cache
def _bomb() -> bytes:
    """gzip of a valid, empty listing padded with 80 MiB of spaces (about 80 KB compressed)."""
    return gzip.compress(b'{"value": []' + b" " * (80 << 20) + b"}", compresslevel=1)


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up on a hostile answer is what the tests want


class HostileServer:
    """See the module docstring.  ``with HostileServer(emulator_server, folder) as hostile: ...``"""

    def __init__(self, upstream: EmulatorServer, folder: Path) -> None:
        self.upstream = upstream
        self.mode: str | None = None
        #: How sign-in requests (discovery, token) are answered; None: passed on faithfully.
        self.sign_in_mode: str | None = None
        #: (path, carried a token, body bytes) of every request that reached the "other host".
        self.offhost_hits: list[tuple[str, bool, int]] = []
        ca = trustme.CA()
        self.bundle = folder / "hostile-cas.pem"
        self.bundle.write_bytes(Path(upstream.ca_path).read_bytes() + ca.cert_pem.bytes())
        self._forward = httpx.Client(verify=upstream.ssl_context(), timeout=30)
        hostile = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                hostile.handle(self, body)

            def do_GET(self) -> None:
                hostile.handle(self, b"")

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
        self.server = _Quiet(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        # stop() waits for serve_forever's next poll: a short one (its default is half a second)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()
        _bomb()  # made now, so serving it takes no time
        zeros_gzip()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def authority(self, tenant: str) -> str:
        """The authority a tenant signs in at through this server."""
        return f"{self.base_url}/{tenant}"

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._forward.close()

    # -- the misbehaviour ---------------------------------------------------------------------------------

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        path = handler.path
        cmdlet = handler.headers.get("x-cmdletname", "")
        is_write = cmdlet.lower().startswith(_WRITE_VERBS)
        if path.startswith("/offhost/"):
            token = handler.headers.get("authorization", "").startswith("Bearer ")
            self.offhost_hits.append((path, token, len(body)))
            self._send(handler, 200, {"content-type": "application/json"}, b'{"value": []}')
            return
        if "/oauth2/" in path or "/.well-known/" in path or path.startswith("/common/discovery"):
            self._sign_in(handler, body)
            return
        mode = self.mode
        if mode == "redirect_offhost" or (mode == "redirect_writes_offhost" and is_write):
            location = f"https://localhost:{self.port}/offhost{path}"
            self._send(handler, 307, {"location": location}, b"")
            return
        clean = path.replace("&hop=2", "").replace("?hop=2&", "?").replace("?hop=2", "")
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        upstream = self._forward.post(self.upstream.base_url + clean, content=body, headers=headers)
        content = upstream.content
        listing = cmdlet.lower().startswith("get-") and upstream.is_success
        if mode and mode.startswith("next_") and listing:
            content = self._tamper_next(mode, path, json.loads(content))
        if mode in ("duplicate_guid", "case_twin") and listing:
            page = json.loads(content)
            if page.get("value"):
                twin = dict(page["value"][0])
                if mode == "case_twin":
                    twin["Name"] = str(twin["Name"]).swapcase()
                    twin["Guid"] = str(uuid.uuid4())
                page["value"].append(twin)
            content = json.dumps(page).encode()
        if mode == "errors_object" and listing:
            errors = {"message": "hostile: errors as an object"}
            content = json.dumps({"@adminapi.errors": errors, "value": []}).encode()
        out = {"content-type": upstream.headers.get("content-type", "application/json")}
        if mode == "gzip_bomb" and upstream.is_success and not is_write:
            out["content-encoding"] = "gzip"
            content = _bomb()
        if mode == "drip":
            self._drip(handler, upstream.status_code, out, content)
            return
        self._send(handler, upstream.status_code, out, content)

    def _sign_in(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        """A discovery or token request: passed on to the emulator, then tampered with as ``sign_in_mode``
        says when it selects this endpoint."""
        path = handler.path
        endpoint = "token" if "/oauth2/" in path else "discovery"
        mode = self.sign_in_mode or ""
        selected = mode.startswith(endpoint + "_")
        if selected and mode.endswith("_redirect_offhost"):
            self._send(handler, 307, {"location": f"https://localhost:{self.port}/offhost{path}"}, b"")
            return
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in ("host", "content-length")}
        url = self.upstream.base_url + path
        if handler.command == "GET":
            upstream = self._forward.get(url, headers=headers)
        else:
            upstream = self._forward.post(url, content=body, headers=headers)
        # The discovery document names the emulator's address; this server's goes in its place.
        here = f"https://localhost:{self.port}/offhost" if mode == "discovery_offhost_token_endpoint" else ""
        content = upstream.content.replace(self.upstream.base_url.encode(), self.base_url.encode())
        if here and endpoint == "discovery":
            document = json.loads(content)
            document["token_endpoint"] = here + urlsplit(document["token_endpoint"]).path
            content = json.dumps(document).encode()
        out = {"content-type": upstream.headers.get("content-type", "application/json")}
        if selected and mode.endswith("_gzip_bomb"):
            out["content-encoding"] = "gzip"
            self._send(handler, 200, out, zeros_gzip())
        elif selected and mode.endswith("_drip"):
            self._drip(handler, upstream.status_code, out, content, interval=SLOW_DRIP)
        else:
            self._send(handler, upstream.status_code, out, content)

    def _tamper_next(self, mode: str, path: str, page: dict[str, Any]) -> bytes:
        here = self.base_url + path
        if mode == "next_self":
            page["@odata.nextLink"] = here
        elif mode == "next_cycle":
            if "hop=2" in path:
                page["@odata.nextLink"] = here.replace("&hop=2", "").replace("?hop=2", "")
            else:
                page["@odata.nextLink"] = here + ("&" if "?" in here else "?") + "hop=2"
        elif mode == "next_nul":
            page["@odata.nextLink"] = here + "&x=\x00"
        else:
            page["@odata.nextLink"] = here + "&x=a b"
        return json.dumps(page).encode()

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str], content: bytes) -> None:
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("content-length", str(len(content)))
        handler.end_headers()
        handler.wfile.write(content)

    @staticmethod
    def _drip(
        handler: BaseHTTPRequestHandler,
        status: int,
        headers: dict[str, str],
        content: bytes,
        interval: float = 0.01,
    ) -> None:
        head = f"HTTP/1.1 {status} OK\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        raw = (head + f"content-length: {len(content)}\r\n\r\n").encode() + content
        handler.close_connection = True
        try:
            for index in range(len(raw)):
                handler.wfile.write(raw[index : index + 1])
                handler.wfile.flush()
                time.sleep(interval)
        except OSError:
            pass  # the client hung up: what a deadline does
