"""The provider protocol: what the planner and applier know of a tenant.

A provider lists a tenant's connectors completely (or raises), and creates, updates and deletes one
connector at a time.  Planner and applier depend on this module only, never on a concrete provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from reconciler.model import Connector, Kind


@dataclass(frozen=True)
class LiveConnector:
    """A connector as read from the tenant.

    ``connector`` holds the normalized managed fields (built without enforcing the service's rules);
    ``guid`` is the service's immutable id, used as Identity for Set and Remove; ``raw`` is the Get
    object as the service returned it (read-only properties included) for status and export.
    """

    kind: Kind
    name: str
    guid: str
    connector: Connector
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def when_changed_utc(self) -> str | None:
        value = self.raw.get("WhenChangedUTC")
        return str(value) if value else None

    @property
    def connector_source(self) -> str:
        return str(self.raw.get("ConnectorSource") or "Default")


@dataclass(frozen=True)
class LiveState:
    """Every connector of one tenant, read completely."""

    tenant: str
    connectors: list[LiveConnector]

    def find(self, kind: Kind, name: str) -> LiveConnector | None:
        """The connector of ``kind`` named ``name`` (case-insensitive), if any."""
        wanted = name.casefold()
        for live in self.connectors:
            if live.kind == kind and live.name.casefold() == wanted:
                return live
        return None


class Provider(Protocol):
    """A tenant's connectors.

    Contracts:
    - :meth:`read` returns every connector of both kinds (test-mode outbound connectors included) or
      raises :class:`reconciler.errors.ReadError`; a partial result is never returned.
    - Writes raise :class:`reconciler.errors.WriteError` carrying the service's message; a write whose
      outcome was unknown is resolved by the provider (re-read) before it retries or reports.
    - Nothing a provider raises or logs contains a secret or a token.
    """

    tenant: str

    def sign_in(self) -> None:
        """Get what calls to the tenant need from elsewhere (an access token) now, or raise
        :class:`reconciler.errors.AuthError`.  Optional: the first call signs in by itself."""
        ...

    def read(self) -> LiveState: ...

    def create(self, connector: Connector, *, skip_fields: frozenset[str] = frozenset()) -> LiveConnector:
        """Create ``connector`` with every managed field but ``skip_fields`` (ignored fields)."""
        ...

    def update(self, live: LiveConnector, changes: dict[str, Any]) -> None:
        """Set the given managed fields (field name -> new normalized value; ``name`` renames)."""
        ...

    def delete(self, live: LiveConnector) -> None: ...

    def close(self) -> None: ...
