"""An httpx transport that hands requests to an :class:`~reconciler.emulator.app.Emulator` in-process.

No socket is opened: ``httpx.Client(transport=EmulatorTransport(emulator), base_url="https://local.exoform.invalid")``
talks to the emulator through the same protocol code as a real tenant (msal can use that client as its
``http_client``).  Connection faults become the exceptions httpx raises for them on a real socket:
a reset is ``httpx.ReadError``, a close without response is ``httpx.RemoteProtocolError``.
"""

from __future__ import annotations

import httpx

from reconciler.emulator.app import Emulator
from reconciler.emulator.faults import ConnectionFault


class EmulatorTransport(httpx.BaseTransport):
    """Serve every request of an httpx client from ``emulator``."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        try:
            response = self.emulator.handle(request)
        except ConnectionFault as fault:
            if fault.how == "reset":
                raise httpx.ReadError("[Errno 104] Connection reset by peer", request=request) from None
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from None
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            content=response.content,
            request=request,
        )
