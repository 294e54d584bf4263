"""What a provider read of a tenant: every connector, complete and unambiguous.

The data layer between providers and everything that reads their results (planner, renderers, exporter,
status): none of those imports a provider to know what a live connector is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import ReadError
from reconciler.model import Connector, Kind

#: The properties of a Get object that the service sets, lower-cased: never desired state, never diffed
#: nor written (the directory object's own fields, its times, ConnectorSource and validation results).
#: The one list on the client side (the emulator keeps its own: it implements the service).
READ_ONLY_PROPERTIES: frozenset[str] = frozenset(
    p.lower()
    for p in [
        "Identity",
        "Id",
        "Guid",
        "ExchangeObjectId",
        "DistinguishedName",
        "ObjectCategory",
        "ObjectClass",
        "ObjectState",
        "OrganizationId",
        "OrganizationalUnitRoot",
        "OrganizationalUnitRootInternal",
        "OriginatingServer",
        "NameHashGuid",
        "ExchangeVersion",
        "IsValid",
        "WhenChanged",
        "WhenCreated",
        "WhenChangedUTC",
        "WhenCreatedUTC",
        "AdminDisplayName",
        "ConnectorSource",
        "IsValidated",
        "LastValidationTimestamp",
        "LinkForModifiedConnector",
    ]
)


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
    """Every connector of one tenant, read completely and unambiguously.

    Contract: building one raises :class:`ReadError` when two connectors share a Guid, or when two
    connectors of one kind have names that differ only in case (the service refuses such a name:
    tests/fixtures/EVIDENCE.md, section f).  Such a state is never guessed at: which one a change meant, or
    which one to delete, cannot be known.  An inbound and an outbound connector of one name are told apart
    by their kind.
    """

    tenant: str
    connectors: list[LiveConnector]

    def __post_init__(self) -> None:
        seen: dict[tuple[str, str], LiveConnector] = {}
        problems: list[str] = []
        for live in self.connectors:
            for key, what in (
                (("guid", live.guid.lower()), "the Guid"),
                ((live.kind, live.name.casefold()), "a name"),
            ):
                first = seen.setdefault(key, live)
                if first is not live:
                    # repr: the names come from the service and may hold control characters
                    problems.append(f"{first.kind} {first.name!r} and {live.kind} {live.name!r} share {what}")
        if problems:
            raise ReadError(
                self.tenant,
                "the service listed connectors that cannot be told apart: "
                + "; ".join(problems)
                + "; nothing is planned or applied for this tenant until the service lists them apart",
            )

    def find(self, kind: Kind, name: str) -> LiveConnector | None:
        """The connector of ``kind`` named ``name`` (case-insensitive), if any."""
        wanted = name.casefold()
        for live in self.connectors:
            if live.kind == kind and live.name.casefold() == wanted:
                return live
        return None
