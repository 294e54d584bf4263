"""The Exchange Online provider: listings, field mapping and live connectors over :mod:`.invoke`.

:class:`ExchangeProvider` implements :class:`~reconciler.providers.base.BaseProvider` (which holds the
write protocol: retries, unknown outcomes, gone counts as done) with Exchange's cmdlets: ``Get-*``
listings joined by Guid, ``New-*``/``Set-*``/``Remove-*`` with fields mapped to parameters by the model's
field table, and ``Validate-OutboundConnector``.  ``provider: local`` is this same code over the
emulator's in-process transport (:mod:`reconciler.providers.local`).

Contracts:
- :meth:`ExchangeProvider.read` is complete or raises :class:`ReadError`: every listing must arrive whole
  and well-formed; unknown properties are ignored.
- Validation errors of the service are not retried; they reach the user as the service's own text.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import wait
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import httpx
import pydantic

from reconciler.desired.config import ExoformConfig, TenantConfig, resolve_value
from reconciler.errors import AuthError, ReadError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import FIELDS, Connector, Kind, from_live
from reconciler.providers.auth import Endpoints, TokenSource, msal_credential, resolve_endpoints
from reconciler.providers.base import BaseProvider, Capability
from reconciler.providers.invoke import CallFailure, InvokeClient
from reconciler.providers.retry import Budget, RetryPolicy, retry_policy
from reconciler.providers.session import Session

if TYPE_CHECKING:
    from reconciler.providers.trace import RequestBudget, TraceReader

_PLAIN: dict[str, Any] = {"ResultSize": "Unlimited"}
_WITH_TEST_MODE: dict[str, Any] = {"ResultSize": "Unlimited", "IncludeTestModeConnectors": True}
_LISTINGS: dict[Kind, list[dict[str, Any]]] = {
    "InboundConnector": [_PLAIN],
    # Test-mode outbound connectors are hidden from a plain listing; whether the flag returns all connectors
    # or only test-mode ones is UNCONFIRMED, so both are listed (concurrently) and joined by Guid -- until
    # the service has shown which (see Session.learn_flag_lists_all).
    "OutboundConnector": [_PLAIN, _WITH_TEST_MODE],
}

#: The properties a listing asks for (``$select``): every managed parameter of the kind, plus the identity
#: and read-only properties status, drift and export show.  The service's AD-object properties
#: (DistinguishedName, OrganizationId, ObjectCategory and the like) are three fifths of a connector's JSON
#: and nothing here reads them.
_SHOWN_PROPERTIES: dict[Kind, tuple[str, ...]] = {
    "InboundConnector": ("Name", "Guid", "ConnectorSource", "WhenChangedUTC"),
    "OutboundConnector": (
        "Name",
        "Guid",
        "ConnectorSource",
        "WhenChangedUTC",
        "IsValidated",
        "LastValidationTimestamp",
    ),
}
_SELECT: dict[Kind, tuple[str, ...]] = {
    kind: tuple(dict.fromkeys([*(spec.parameter for spec in FIELDS[kind].values()), *extra]))
    for kind, extra in _SHOWN_PROPERTIES.items()
}
#: A refused ``$select``: the OData answer names the property it does not know (docs/exchange-provider.md,
#: "Older services").
_UNKNOWN_PROPERTY_RE = re.compile(r"propert(?:y|ies)\b[^']*'(?P<name>[A-Za-z0-9_]+)'", re.IGNORECASE)


class Closable(Protocol):
    def close(self) -> None: ...


_CMDLET_VERB = {"create": "New", "update": "Set", "delete": "Remove"}


def _wire(value: Any) -> Any:
    """A normalized field value as the service takes it (lists as JSON arrays, None as null)."""
    if isinstance(value, list | tuple):
        return list(value)
    return value


class ExchangeProvider(BaseProvider):
    """The provider of one Exchange Online tenant, over ``client`` and the run's ``session``.

    ``owned`` are closed with the provider: what it opened for itself (an in-process client, or a session
    of its own when opened without one), never what the run shares.
    """

    capabilities: ClassVar[frozenset[Capability]] = frozenset({"validate_outbound", "message_trace"})

    def __init__(
        self, tenant: str, client: InvokeClient, session: Session, *, owned: tuple[Closable, ...] = ()
    ) -> None:
        super().__init__(tenant, client.policy)
        self.client = client
        self.session = session
        self._owned = owned
        self._domain_names: dict[str, str] | None = None

    # -- reading ------------------------------------------------------------------------------------------

    def sign_in(self) -> None:
        """Fetch the tenant's token (msal: the authority's metadata, then the token) unless one is cached."""
        self.client.tokens.token()

    def read(self) -> LiveState:
        """Every connector of the tenant, both kinds and test-mode ones, or :class:`ReadError`.

        The token is fetched first, then the listings run at once (inbound; outbound with test mode, and
        the plain outbound listing unless this service has shown it is not needed); once all have arrived,
        each connector is built once (an outbound connector may be in both outbound listings).
        """
        self.sign_in()  # before the concurrent listings, so they do not wait on the token in turn
        jobs = self.listings()
        plain_outbound = ("OutboundConnector", _PLAIN) in jobs
        # All listings but the last run on the session's threads, the last in this one; every one is
        # awaited before an error is raised, so no listing outlives the read.
        futures = [self.session.submit(self._list_raw, kind, params) for kind, params in jobs[:-1]]
        try:
            last = self._list_raw(*jobs[-1])
        finally:
            wait(futures)
        listings = [future.result() for future in futures] + [last]
        if plain_outbound and any(obj.get("TestMode") is False for obj in last):
            self.session.learn_flag_lists_all(self.client.api_base)
            self._log.debug("%s lists every outbound connector with the test-mode flag", self.client.api_base)
        built: dict[Kind, dict[str, LiveConnector]] = {kind: {} for kind in _LISTINGS}
        connectors: list[LiveConnector] = []
        for (kind, _), objects in zip(jobs, listings, strict=True):
            earlier = set(built[kind])  # a connector in both outbound listings is one connector
            for obj in objects:
                guid = obj.get("Guid")
                if isinstance(guid, str) and guid in earlier:
                    continue
                live = self._live(kind, obj)  # raises ReadError for a missing Guid or Name
                built[kind][live.guid] = live
                connectors.append(live)  # twice in one listing: LiveState refuses the ambiguity
        return LiveState(tenant=self.tenant, connectors=connectors)

    def listings(self) -> list[tuple[Kind, dict[str, Any]]]:
        """The listings the next :meth:`read` makes, as (kind, Get parameters); the test-mode one last."""
        jobs: list[tuple[Kind, dict[str, Any]]] = [("InboundConnector", _PLAIN)]
        if not self.session.lists_all_with_test_mode_flag(self.client.api_base):
            jobs.append(("OutboundConnector", _PLAIN))
        jobs.append(("OutboundConnector", _WITH_TEST_MODE))
        return jobs

    def _list_raw(
        self, kind: Kind, params: dict[str, Any], budget: Budget | None = None
    ) -> list[dict[str, Any]]:
        """One listing, every page, within ``budget`` (by default the listing's own).  When the service
        refuses a property of ``$select`` because it does not know it (an older or smaller service), the
        whole listing runs again without it, from the first page, and the service's ignorance is
        remembered for the session: never a partial read."""
        cmdlet = f"Get-{kind}"
        while True:
            unknown = self.session.unknown_properties(self.client.api_base)
            select = [p for p in _SELECT[kind] if p not in unknown]
            try:
                return self.client.call(cmdlet, dict(params), select=",".join(select), budget=budget)
            except CallFailure as failure:
                refused = _refused_property(failure, select)
                if refused is None:
                    raise self._read_error(cmdlet, failure) from None
                self._log.debug(
                    "tenant %s: %s does not know the property %s; listing again without it",
                    self.tenant,
                    cmdlet,
                    refused,
                )
                self.session.learn_unknown_property(self.client.api_base, refused)

    def _accepted_domain_names(self) -> dict[str, str]:
        """The tenant's accepted domains, object Name (case-folded) -> DomainName; fetched once."""
        if self._domain_names is None:
            try:
                objects = self.client.call("Get-AcceptedDomain", {"ResultSize": "Unlimited"})
            except CallFailure as failure:
                raise self._read_error("Get-AcceptedDomain", failure) from None
            names: dict[str, str] = {}
            for obj in objects:
                name, domain = obj.get("Name"), obj.get("DomainName")
                if isinstance(name, str) and isinstance(domain, str) and domain:
                    names[name.casefold()] = domain
            self._domain_names = names
        return self._domain_names

    def _with_domain_names(self, obj: dict[str, Any]) -> dict[str, Any]:
        """``obj`` with its AssociatedAcceptedDomains as domain names.  The service reads them back as the
        linked accepted domains' object names, which differ from the domain names when an admin renamed
        the accepted domain (docs/exchange-provider.md, "Read-back forms"), so they are resolved through
        Get-AcceptedDomain (asked only when a connector has any)."""
        linked = obj.get("AssociatedAcceptedDomains")
        if not isinstance(linked, list) or not linked:
            return obj
        names = self._accepted_domain_names()
        mapped = [names.get(v.strip().casefold(), v) if isinstance(v, str) else v for v in linked]
        return {**obj, "AssociatedAcceptedDomains": mapped}

    def _live(self, kind: Kind, obj: dict[str, Any]) -> LiveConnector:
        name, guid = obj.get("Name"), obj.get("Guid")
        if not isinstance(name, str) or not name:
            raise ReadError(self.tenant, f"Get-{kind} returned an object without a Name")
        if not isinstance(guid, str) or not guid:
            raise ReadError(self.tenant, f"Get-{kind} returned '{name}' without a Guid")
        if kind == "InboundConnector":
            obj = self._with_domain_names(obj)
        try:
            connector = from_live(kind, obj)
        except pydantic.ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ReadError(
                self.tenant, f"{kind} '{name}' cannot be read: {where}: {first.get('msg', 'invalid value')}"
            ) from None
        return LiveConnector(kind, name, guid, connector, obj)

    def _list(self, kind: Kind, budget: Budget) -> list[LiveConnector]:
        objects: list[dict[str, Any]] = []
        for params in _LISTINGS[kind]:
            objects.extend(self._list_raw(kind, params, budget))
        found: dict[str, LiveConnector] = {}
        for obj in objects:
            live = self._live(kind, obj)
            found.setdefault(live.guid.lower(), live)
        return list(found.values())

    def validate_outbound(self, live: LiveConnector, recipients: list[str]) -> list[dict[str, Any]]:
        """Run ``Validate-OutboundConnector`` (one result object per smart host); sends test mail."""
        params = {"Identity": live.guid, "Recipients": list(recipients)}
        try:
            return self.client.call_once("Validate-OutboundConnector", params, write=True)
        except CallFailure as failure:
            raise self._write_error("Validate-OutboundConnector", live.name, failure) from None

    def message_trace(self, budget: RequestBudget) -> TraceReader:
        """Message trace over this provider's InvokeCommand client (same auth, retries and bounds)."""
        from reconciler.providers.trace import TraceReader

        return TraceReader(self.tenant, self.client, budget)

    # -- writing ------------------------------------------------------------------------------------------

    def create(self, connector: Connector, *, skip_fields: frozenset[str] = frozenset()) -> LiveConnector:
        """``New-*Connector`` with the name, the type and the fields whose value differs from the service's
        default, but not ``skip_fields``: a parameter a smaller or older service lacks (MtaStsMode,
        SmtpDaneMode) is sent only when the file asks for a non-default value.  Set-only fields
        (``validation_recipients``) follow in a ``Set-OutboundConnector`` when not empty.
        """
        kind: Kind = connector.KIND
        specs = FIELDS[kind]
        set_only = frozenset(name for name, spec in specs.items() if spec.set_only)
        live = super().create(connector, skip_fields=skip_fields | set_only)
        set_after = {
            name: getattr(connector, name)
            for name in specs
            if name in set_only and name not in skip_fields and getattr(connector, name)
        }
        if set_after:
            self.update(live, set_after)
            updated = live.connector.model_copy(update=set_after)
            raw = dict(live.raw)
            raw.update({specs[n].parameter: _wire(v) for n, v in set_after.items()})
            live = LiveConnector(kind=kind, name=live.name, guid=live.guid, connector=updated, raw=raw)
        return live

    def _operation(self, action: Literal["create", "update", "delete"], kind: Kind) -> str:
        return f"{_CMDLET_VERB[action]}-{kind}"

    def _create_once(self, connector: Connector, fields: list[str], budget: Budget) -> LiveConnector | None:
        kind: Kind = connector.KIND
        specs = FIELDS[kind]
        params = {
            specs[name].parameter: _wire(value)
            for name in fields
            if (value := getattr(connector, name)) is not None
            and (name in ("name", "connector_type") or value != specs[name].default)
        }
        objects = self.client.call_once(f"New-{kind}", params, write=True, budget=budget)
        for obj in objects:
            if (
                isinstance(obj.get("Guid"), str)
                and str(obj.get("Name", "")).casefold() == connector.name.casefold()
            ):
                return self._live(kind, obj)
        return None

    def _update_once(self, live: LiveConnector, changes: dict[str, Any], budget: Budget) -> None:
        specs = FIELDS[live.kind]
        params: dict[str, Any] = {"Identity": live.guid}
        params.update({specs[name].parameter: _wire(value) for name, value in changes.items()})
        self.client.call_once(f"Set-{live.kind}", params, write=True, budget=budget)

    def _delete_once(self, live: LiveConnector, budget: Budget) -> None:
        params = {"Identity": live.guid, "Confirm": False}
        self.client.call_once(f"Remove-{live.kind}", params, write=True, budget=budget)

    def close(self) -> None:
        """Close what this provider opened for itself; idempotent."""
        owned, self._owned = self._owned, ()
        for thing in owned:
            thing.close()


# --- construction ----------------------------------------------------------------------------------------


def open_exchange(
    tenant: str,
    settings: TenantConfig,
    config: ExoformConfig,
    *,
    session: Session | None = None,
    policy: RetryPolicy | None = None,
    page_size: int = 1000,
    write: bool = False,
) -> ExchangeProvider:
    """The provider of a ``provider: exchange`` tenant.  No network traffic until the first call.

    It signs in with the tenant's read identity (``auth``), or with its write identity (``apply_auth``,
    when given) if ``write``; ``env:`` references of ``client_id`` and ``ca_bundle`` are resolved now
    (:class:`ConfigError` naming an unset variable).

    Its HTTP client and listing threads are ``session``'s (shared with the run's other tenants); without
    one, the provider opens a session of its own and closes it with itself.
    """
    identity, auth = settings.identity(write=write)
    if auth is None:
        raise AuthError(tenant, "the exchange provider needs auth in exoform.yaml")
    endpoints = resolve_endpoints(tenant, settings)
    client_id = resolve_value(auth.client_id)
    ca_bundle = config.path(resolve_value(settings.ca_bundle)) if settings.ca_bundle else None
    owned = session is None
    session = session or Session()
    try:
        http = session.http(ca_bundle)
    except BaseException:
        if owned:
            session.close()
        raise
    policy = policy or retry_policy(settings, session.retry)
    client = build_invoke_client(
        tenant,
        settings,
        http=http,
        session=session,
        policy=policy,
        endpoints=endpoints,
        client_id=client_id,
        credential=lambda: msal_credential(tenant, auth, config, http, policy, session.ci_tokens),
        page_size=page_size,
        identity=f"{identity} (client id {client_id})",
    )
    return ExchangeProvider(tenant, client, session, owned=(session,) if owned else ())


def build_invoke_client(
    tenant: str,
    settings: TenantConfig,
    *,
    http: httpx.Client,
    session: Session,
    policy: RetryPolicy,
    endpoints: Endpoints,
    client_id: str,
    credential: Callable[[], str | dict[str, Any]],
    page_size: int = 1000,
    identity: str = "",
) -> InvokeClient:
    """The InvokeCommand client of one tenant, for ``exchange`` and ``local`` alike: it signs in at
    ``endpoints.authority`` as ``client_id`` with ``credential`` (called when a token is needed), over
    ``http``, on ``session``'s clock and within ``policy`` (sign-in retries within the tenant's limits too),
    with the tenant's read and write concurrency."""
    tokens = TokenSource(
        tenant,
        client_id=client_id,
        credential=credential,
        authority=endpoints.authority,
        scope=endpoints.scope,
        http=http,
        clock=session.clock,
        retry=policy,
    )
    return InvokeClient(
        tenant,
        http=http,
        tokens=tokens,
        api_base=endpoints.api_base,
        tenant_segment=endpoints.tenant_segment,
        policy=policy,
        read_concurrency=settings.read_concurrency,
        write_concurrency=settings.write_concurrency,
        page_size=page_size,
        identity=identity,
    )


def _refused_property(failure: CallFailure, select: list[str]) -> str | None:
    """The property of ``select`` that a failed listing says the service does not know, if that is why
    it failed (a validation error naming it; never a throttle, an outage or refused credentials)."""
    if failure.retryable or failure.auth or failure.not_found:
        return None
    by_lower = {p.casefold(): p for p in select}
    for match in _UNKNOWN_PROPERTY_RE.finditer(failure.message):
        found = by_lower.get(match.group("name").casefold())
        if found is not None:
            return found
    return None
