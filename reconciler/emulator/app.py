"""The emulated service as one synchronous, thread-safe object: :class:`Emulator`.

:meth:`Emulator.handle` takes an ``httpx.Request`` and returns an ``httpx.Response``; it routes by path
only (any host), so the same object serves in-process
(:class:`~reconciler.emulator.transport.EmulatorTransport`) and behind the TLS server
(:class:`~reconciler.emulator.server.EmulatorServer`).

Routes:

=======  ===============================================  ==========================================
POST     ``/adminapi/beta/{tenant}/InvokeCommand``         the cmdlets (bearer token required)
GET      ``/{tenant}/v2.0/.well-known/openid-configuration``  OpenID discovery (also without ``/v2.0``)
GET      ``/common/discovery/instance``                   msal's instance discovery
POST     ``/{tenant}/oauth2/v2.0/token``                   client-credentials tokens
GET      ``/{tenant}/discovery/v2.0/keys``                 the key that signs access tokens
GET      ``/_github/oidc/token?audience=...``             GitHub Actions OIDC stand-in
POST     ``/_azure_devops/oidctoken``                       Azure Pipelines OIDC stand-in
GET      ``/_gitlab/id_token?aud=...``                    GitLab CI ID token stand-in
GET      ``/_emulator/stats``                             request and fault counters (JSON)
=======  ===============================================  ==========================================

Faults (see :mod:`reconciler.emulator.faults`) hit InvokeCommand, and the token and OpenID discovery
routes only through rules that select them with ``on=``; the other identity routes are never faulted.
"""

from __future__ import annotations

import base64
import email.utils
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl

import httpx

from reconciler.emulator import catalogue as cat
from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.errors import CmdletError, error_code, unknown_property
from reconciler.emulator.faults import (
    CONCURRENCY_MESSAGE,
    IDENTITY_KINDS,
    ConnectionFault,
    Fault,
    Faults,
    Request,
    Stats,
)
from reconciler.emulator.identity import AuthFailure, Identity, TokenError, oauth_fault_error
from reconciler.emulator.store import MemoryStores, TenantStores
from reconciler.emulator.tenant import Result, TenantInfo, invoke
from reconciler.emulator.trace import CMDLET_NAMES as TRACE_CMDLETS
from reconciler.emulator.trace import MessageLog, MessageTrace, Throttled, load_messages, throttled_response
from reconciler.errors import InputError
from reconciler.yamlio import MAX_DEPTH, nesting_depth

JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
)
#: JSON without spaces after separators, as the service sends it.
_COMPACT = (",", ":")
_PRE_FAULTS = ("status", "throttled_200", "html", "text", "reset", "close")


class Emulator:
    """Exchange Online (the connector cmdlets) plus an Entra-ID-like token endpoint.

    ``faults`` may be replaced or changed at any time (when not given, they start from
    ``config.faults``); ``stats`` counts requests (total and per cmdlet), faults injected (per kind label)
    and tokens issued.
    """

    def __init__(
        self,
        stores: TenantStores | None = None,
        config: EmulatorConfig | None = None,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        messages: MessageLog | None = None,
    ) -> None:
        self.config = config or EmulatorConfig()
        self.stores = stores or MemoryStores()
        if faults is None:
            configured = self.config.faults
            faults = Faults(
                latency_ms=configured.latency_ms,
                jitter_ms=configured.jitter_ms,
                max_concurrent_per_tenant=configured.max_concurrent_per_tenant,
                seed=configured.seed,
                rules=[Fault.parse(spec) for spec in configured.rules],
            )
        self.faults = faults
        self.stats = Stats()
        self.identity = Identity(self.config, clock)
        if messages is None:
            seeded = self.config.messages
            messages = MessageLog(load_messages(seeded) if seeded else ())
        #: Message trace over the message log (reconciler.emulator.trace), throttled on ``clock``.
        self.trace = MessageTrace(messages, clock)
        self._in_flight: Counter[str] = Counter()
        self._lock = threading.Lock()

    # -- tenants -----------------------------------------------------------------------------------

    def tenant(self, name: str) -> TenantInfo | None:
        """The tenant a URL names (GUID, initial domain or other name), or None if the config lacks it."""
        wanted = name.strip().casefold()
        if not self.config.tenants:
            return TenantInfo.for_name(wanted)
        for configured in self.config.tenants:
            info = TenantInfo.for_name(configured.name, tuple(configured.accepted_domains))
            if configured.id is not None:
                info = TenantInfo(info.key, configured.id, info.initial_domain, info.accepted_domains)
            if wanted in {info.key, info.tenant_id, info.initial_domain}:
                return info
        return None

    def expire_tokens(self) -> None:
        """Invalidate every access token issued so far."""
        self.identity.expire_tokens()

    # -- routing -----------------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request.  Raises :class:`ConnectionFault` when a fault breaks the connection."""
        self.stats.count_request()
        parts = [p for p in request.url.path.split("/") if p]
        lower = [p.casefold() for p in parts]
        method = request.method.upper()
        if method == "POST" and len(parts) == 4 and lower[0] == "adminapi" and lower[3] == "invokecommand":
            return self._invoke_command(request, parts[2])
        if method == "GET" and lower[-2:] == [".well-known", "openid-configuration"] and len(parts) in (3, 4):
            return self._openid(request, parts[0])
        if method == "GET" and lower == ["common", "discovery", "instance"]:
            return self._instance_discovery(request)
        if method == "POST" and len(parts) >= 3 and lower[1] == "oauth2" and lower[-1] == "token":
            return self._token(request, parts[0])
        if method == "GET" and len(parts) >= 3 and lower[1] == "discovery" and lower[-1] == "keys":
            return _json(200, self.identity.jwks())
        if method == "GET" and lower == ["_github", "oidc", "token"]:
            return self._github(request)
        if method == "POST" and lower == ["_azure_devops", "oidctoken"]:
            return self._azure_devops(request)
        if method == "GET" and lower == ["_gitlab", "id_token"]:
            return _json(200, self.identity.gitlab_token(request.url.params.get("aud")))
        if method == "GET" and lower == ["_emulator", "stats"]:
            return _json(200, self.stats.snapshot())
        return httpx.Response(
            404, text=f"No route for {method} {request.url.path}", headers={"content-type": "text/plain"}
        )

    # -- identity ----------------------------------------------------------------------------------

    def _identity_fault(
        self, endpoint: str, tenant: str, info: TenantInfo | None, *, oauth: bool = True
    ) -> httpx.Response | None:
        """Count a request to the ``token``, ``discovery`` or ``github`` endpoint; the fault response of the
        first rule selecting it that fires (an OAuth error body when ``oauth``), or None (raises
        :class:`ConnectionFault` for ``reset``/``close``)."""
        self.stats.count_identity(endpoint)
        key = info.key if info is not None else tenant.casefold()
        fault = self.faults.pick(Request(key, endpoint=endpoint), IDENTITY_KINDS)
        if fault is None:
            return None
        self.stats.count_fault(f"{endpoint}:{fault.label}")
        return _fault_response(fault, oauth=oauth)

    def _openid(self, request: httpx.Request, tenant: str) -> httpx.Response:
        info = self.tenant(tenant)
        faulted = self._identity_fault("discovery", tenant, info)
        if faulted is not None:
            return faulted
        if info is None:
            return _json(
                400, TokenError(400, "invalid_tenant", 90002, f"Tenant '{tenant}' not found.").body()
            )
        return _json(200, self.identity.openid_configuration(_base(request), tenant, info))

    def _instance_discovery(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.params.get("authorization_endpoint", "")
        path_parts = [p for p in httpx.URL(endpoint).path.split("/") if p] if endpoint else []
        tenant = path_parts[0] if path_parts else "common"
        return _json(
            200,
            {
                "tenant_discovery_endpoint": (
                    f"{_base(request)}/{tenant}/v2.0/.well-known/openid-configuration"
                ),
                "api-version": "1.1",
                "metadata": [],
            },
        )

    def _token(self, request: httpx.Request, tenant: str) -> httpx.Response:
        info = self.tenant(tenant)
        faulted = self._identity_fault("token", tenant, info)
        if faulted is not None:
            return faulted
        if info is None:
            return _json(
                400, TokenError(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.").body()
            )
        form = dict(parse_qsl(request.content.decode("utf-8", "replace"), keep_blank_values=True))
        basic = request.headers.get("authorization", "")
        if basic.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
                form.setdefault("client_id", user)
                form.setdefault("client_secret", password)
            except ValueError:
                pass
        token_url = f"{_base(request)}{request.url.path}"
        try:
            body = self.identity.token(token_url, info, form)
        except TokenError as exc:
            return _json(exc.status, exc.body())
        self.stats.count_token()
        return _json(200, body, headers={"cache-control": "no-store, no-cache"})

    def _github(self, request: httpx.Request) -> httpx.Response:
        faulted = self._identity_fault("github", "", None, oauth=False)
        if faulted is not None:
            return faulted
        try:
            body = self.identity.github_token(
                request.headers.get("authorization"), request.url.params.get("audience")
            )
        except AuthFailure as exc:
            return _json(exc.status, {"message": exc.reason})
        return _json(200, body)

    def _azure_devops(self, request: httpx.Request) -> httpx.Response:
        try:
            body = self.identity.azure_devops_token(
                request.headers.get("authorization"), request.url.params.get("serviceConnectionId")
            )
        except AuthFailure as exc:
            return _json(exc.status, {"message": exc.reason})
        return _json(200, body)

    # -- InvokeCommand -----------------------------------------------------------------------------

    def _invoke_command(self, request: httpx.Request, tenant_name: str) -> httpx.Response:
        info = self.tenant(tenant_name)
        if info is None:
            return _unauthorized(f"tenant '{tenant_name}' is unknown to this emulator")
        faults = self.faults
        with self._lock:
            self._in_flight[info.key] += 1
            in_flight = self._in_flight[info.key]
        self.stats.note_in_flight(in_flight)
        try:
            cap = faults.max_concurrent_per_tenant
            if cap is not None and in_flight > cap:
                self.stats.count_fault("concurrency")
                return httpx.Response(429, text=CONCURRENCY_MESSAGE, headers={"content-type": "text/plain"})
            delay = faults.delay_seconds()
            if delay:
                time.sleep(delay)
            return self._invoke_checked(request, info, tenant_name, faults)
        finally:
            with self._lock:
                self._in_flight[info.key] -= 1

    def _invoke_checked(
        self, request: httpx.Request, info: TenantInfo, tenant_name: str, faults: Faults
    ) -> httpx.Response:
        try:
            body = json.loads(request.content or b"null")
            if nesting_depth(body) > MAX_DEPTH:
                raise ValueError("nested too deeply")
            cmdlet_input = body["CmdletInput"]
            cmdlet_name = cmdlet_input["CmdletName"]
            parameters = cmdlet_input.get("Parameters")
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            return _error(
                CmdletError(
                    "Microsoft.Exchange.Admin.OData.Core.ODataServiceException",
                    'The request body must be {"CmdletInput": {"CmdletName": ..., "Parameters": {...}}}.',
                )
            )
        folded = str(cmdlet_name).casefold()
        canonical = cat.CMDLET_NAMES.get(folded) or TRACE_CMDLETS.get(folded) or str(cmdlet_name)
        self.stats.count_cmdlet(canonical)
        offset, page = _skip(request)
        selection = Request(info.key, canonical, canonical in cat.WRITE_CMDLETS, page)

        expiry = faults.pick(selection, ("expire_tokens",))
        if expiry is not None:
            self.stats.count_fault(expiry.label)
            self.identity.expire_tokens()
        try:
            self.identity.verify(request.headers.get("authorization"), info, write=selection.write)
        except AuthFailure as exc:
            if exc.status == 403:
                return _error(
                    CmdletError(
                        "System.UnauthorizedAccessException", f"Access denied: {exc.reason}.", status=403
                    )
                )
            return _unauthorized(exc.reason)

        fault = faults.pick(selection, _PRE_FAULTS)
        if fault is not None:
            self.stats.count_fault(fault.label)
            return _fault_response(fault)

        if canonical in TRACE_CMDLETS.values():
            try:
                values, warnings = self.trace.invoke(info.key, canonical, parameters)
            except Throttled as exc:
                self.stats.count_fault("trace_throttled")
                return throttled_response(exc)
            except CmdletError as exc:
                return _error(exc)
            result = Result(values, warnings)
            return self._result_response(request, tenant_name, canonical, result, offset, page)
        store = self.stores.get(info.key)
        lacking = self.config.lacking
        try:
            _check_select(request, lacking)
            result = invoke(
                info,
                store,
                cmdlet_name,
                parameters,
                test_mode_flag=self.config.test_mode_flag,
                lacking=lacking,
            )
        except CmdletError as exc:
            return _error(exc)
        except InputError as exc:
            # Not a 5xx: a corrupt state file stays corrupt, so a client must not retry (and wait) for it.
            return _error(
                CmdletError(
                    "System.IO.InvalidDataException", f"The tenant state is unreadable: {exc}", status=400
                )
            )

        if selection.write:
            drop = faults.pick(selection, ("drop_after_write",))
            if drop is not None:
                self.stats.count_fault(drop.label)
                raise ConnectionFault("close")
        return self._result_response(request, tenant_name, canonical, result, offset, page)

    def _result_response(
        self,
        request: httpx.Request,
        tenant: str,
        cmdlet: str,
        result: Result,
        offset: int,
        page: int,
    ) -> httpx.Response:
        values = result.values
        metadata = f"{_base(request)}/adminapi/beta/{tenant}/$metadata"
        payload: dict[str, Any] = {"@odata.context": f"{metadata}#Collection(Exchange.GenericHashTable)"}
        headers = {"request-id": str(uuid.uuid4())}
        if cmdlet.startswith("Get-"):
            asked = _page_size(request, self.config.page_size)
            if asked is not None:
                headers["preference-applied"] = f"odata.maxpagesize={asked}"
            size = asked or self.config.page_size
            if offset + size < len(values):
                payload["@odata.nextLink"] = _next_link(request, offset + size, page + 1)
            values = values[offset : offset + size]
        lacking = self.config.lacking
        if lacking:
            values = [{k: v for k, v in obj.items() if k not in lacking} for obj in values]
        select = request.url.params.get("$select")
        if select:
            wanted = {s.strip().casefold() for s in select.split(",") if s.strip()}
            values = [{k: v for k, v in obj.items() if k.casefold() in wanted} for obj in values]
        payload["value"] = values
        if result.warnings and page == 1:
            payload["@adminapi.warnings"] = result.warnings
        return _json(200, payload, headers=headers)


# -- helpers ----------------------------------------------------------------------------------------------


def _check_select(request: httpx.Request, lacking: frozenset[str]) -> None:
    """Refuse a ``$select`` naming a property the played service does not have."""
    select = request.url.params.get("$select")
    if not select or not lacking:
        return
    by_lower = {name.casefold(): name for name in lacking}
    for item in select.split(","):
        if item.strip().casefold() in by_lower:
            raise unknown_property(item.strip())


def _base(request: httpx.Request) -> str:
    return f"{request.url.scheme}://{request.url.netloc.decode('ascii')}"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    all_headers = {"content-type": JSON_TYPE if status < 300 or "error" in body else "application/json"}
    all_headers.update(headers or {})
    return httpx.Response(status, content=json.dumps(body, separators=_COMPACT).encode(), headers=all_headers)


def _error(exc: CmdletError) -> httpx.Response:
    short = exc.exception_type.rsplit(".", 1)[-1]
    return _json(
        exc.status,
        exc.body(),
        headers={
            "x-exceptiontype": short,
            "x-exceptioncode": error_code(exc.exception_type),
            "request-id": str(uuid.uuid4()),
        },
    )


def _unauthorized(reason: str) -> httpx.Response:
    return httpx.Response(
        401,
        text=f"401 Unauthorized: {reason}",
        headers={
            "content-type": "text/plain",
            # RFC 6750: the error code and, as Entra-fronted services do, a human-readable description.
            "www-authenticate": (
                'Bearer client_id="00000002-0000-0ff1-ce00-000000000000", error="invalid_token", '
                f'error_description="{reason.replace(chr(34), chr(39))}"'
            ),
        },
    )


def _page_size(request: httpx.Request, default: int) -> int | None:
    """The ``odata.maxpagesize`` the client asked for in ``Prefer``, if any."""
    for header in request.headers.get_list("prefer"):
        for preference in header.split(","):
            key, _, value = preference.strip().partition("=")
            if key.strip().casefold() == "odata.maxpagesize" and value.strip().isdigit() and int(value) > 0:
                return int(value)
    return None


def _skip(request: httpx.Request) -> tuple[int, int]:
    """(offset, 1-based page number) from the ``$skiptoken`` of a nextLink; (0, 1) on a first request."""
    token = request.url.params.get("$skiptoken")
    if not token:
        return 0, 1
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        offset_text, _, page_text = text.partition(":")
        return max(0, int(offset_text)), max(1, int(page_text))
    except ValueError:
        return 0, 1


def _next_link(request: httpx.Request, offset: int, page: int) -> str:
    token = base64.urlsafe_b64encode(f"{offset}:{page}".encode()).rstrip(b"=").decode()
    params = [(k, v) for k, v in request.url.params.multi_items() if k != "$skiptoken"]
    params.append(("$skiptoken", token))
    url = httpx.URL(f"{_base(request)}{request.url.path}").copy_with(params=params)
    return str(url)


def _fault_response(fault: Fault, *, oauth: bool = False) -> httpx.Response:
    """The response a fault gives; ``oauth``: a ``status`` fault on an identity endpoint, whose body is an
    Entra-style OAuth error instead of the API's ``{"error": {"code", "message"}}``."""
    if fault.kind in ("reset", "close"):
        raise ConnectionFault(fault.kind)
    headers = {"request-id": str(uuid.uuid4())}
    if fault.retry_after is not None:
        if fault.retry_after_form == "date":
            moment = datetime.now(UTC) + timedelta(seconds=fault.retry_after + 1)
            headers["retry-after"] = email.utils.format_datetime(moment.replace(microsecond=0), usegmt=True)
        else:
            headers["retry-after"] = f"{fault.retry_after:g}"
    if fault.kind == "throttled_200":
        busy = CmdletError(
            "Microsoft.Exchange.Data.Directory.DCOverloadedException",
            fault.body or "The server is busy and the request was throttled. Please try again later.",
        )
        body = busy.body()
        body["error"]["code"] = "ServerBusy"
        return _json(200, body, headers=headers)
    if fault.kind == "html":
        html = fault.body or (
            f"<html><head><title>{fault.status} Service Unavailable</title></head><body><h1>Service "
            "Unavailable</h1><p>The service is temporarily unavailable.</p></body></html>"
        )
        return httpx.Response(fault.status, text=html, headers={**headers, "content-type": "text/html"})
    if fault.kind == "text":
        return httpx.Response(
            fault.status,
            text=fault.body or "Service Unavailable",
            headers={**headers, "content-type": "text/plain"},
        )
    if oauth:
        return _json(
            fault.status, oauth_fault_error(fault.status, fault.error, fault.body).body(), headers=headers
        )
    reasons = {
        429: ("TooManyRequests", "Too many requests. The request was throttled, please retry later."),
        500: ("InternalServerError", "An internal server error occurred."),
        502: ("BadGateway", "Bad gateway."),
        503: ("ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
        504: ("GatewayTimeout", "The gateway timed out waiting for the backend."),
    }
    code, message = reasons.get(fault.status, ("Error", "The request failed."))
    return _json(fault.status, {"error": {"code": code, "message": fault.body or message}}, headers=headers)
