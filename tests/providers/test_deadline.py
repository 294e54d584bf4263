"""The total request deadline: a server dripping its answer is cut off, wherever the bytes are."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from reconciler.providers.deadline import DEADLINE, DeadlineTransport


@pytest.fixture
def dripping_server() -> Iterator[str]:
    """A plain-HTTP server on 127.0.0.1 that answers one byte every 50 ms until the client hangs up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(5)
    answer = b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n" + b"x" * 100000

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.recv(65536)
            for byte in answer:
                try:
                    conn.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(0.05)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/"
    listener.close()
    thread.join(timeout=10)


def test_a_dripping_answer_ends_at_the_deadline(dripping_server: str) -> None:
    transport = DeadlineTransport(ssl.create_default_context(), httpx.Limits())
    with httpx.Client(transport=transport) as client:
        started = time.monotonic()
        with pytest.raises(httpx.ReadTimeout):
            client.get(dripping_server, timeout=5, extensions={DEADLINE: time.monotonic() + 0.5})
        assert time.monotonic() - started < 2
