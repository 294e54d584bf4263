"""Regional redirects: followed by hand, the bearer token only ever sent to the service's own hosts."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme

from reconciler.errors import ReadError
from tests.providers.conftest import Rig


class FrontDoor:
    """A TLS server on 127.0.0.1 that answers every POST with a 302 to ``target`` + the same path."""

    def __init__(self, ca: trustme.CA, target: str) -> None:
        self.target = target
        self.hits: list[bool] = []  # per request: did it carry a bearer token?
        door = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                door.hits.append(self.headers.get("authorization", "").startswith("Bearer "))
                self.send_response(302)
                self.send_header("Location", door.target + self.path)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(context)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        # stop() waits for serve_forever's next poll: a short one (its default is half a second)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def front_door(rig: Rig, tmp_path: Path) -> Iterator[Callable[[str], tuple[FrontDoor, str]]]:
    """``front_door(target)``: a redirecting server and a CA bundle trusting it and the emulator."""
    ca = trustme.CA()
    bundle = tmp_path / "cas.pem"
    bundle.write_bytes(Path(rig.server.ca_path).read_bytes() + ca.cert_pem.bytes())
    doors: list[FrontDoor] = []

    def make(target: str) -> tuple[FrontDoor, str]:
        door = FrontDoor(ca, target)
        doors.append(door)
        return door, str(bundle)

    yield make
    for door in doors:
        door.stop()


def test_redirect_within_the_service_keeps_the_token_and_is_remembered(
    rig: Rig, front_door: Callable[[str], tuple[FrontDoor, str]]
) -> None:
    door, bundle = front_door(rig.server.base_url)  # same host, another port: a "regional" server
    provider = rig.provider(endpoint=door.base_url, ca_bundle=bundle)
    assert provider.read().connectors == []
    first = len(door.hits)
    assert 1 <= first <= 3 and all(door.hits)  # the token went to the service's own host only
    provider.read()
    assert len(door.hits) == first  # later calls go straight to the regional host


def test_redirect_to_a_foreign_host_is_a_hard_error_and_nothing_is_sent_there(
    rig: Rig, front_door: Callable[[str], tuple[FrontDoor, str]]
) -> None:
    port = rig.server.base_url.rsplit(":", 1)[1]
    door, bundle = front_door(f"https://localhost:{port}")  # the emulator, but under another host name
    provider = rig.provider(endpoint=door.base_url, ca_bundle=bundle)
    with pytest.raises(ReadError, match=r"redirected to https://localhost:\d+, which is not a host of the"):
        provider.read()
    assert rig.cmdlets() == {}  # neither the token nor the request reached the other host
