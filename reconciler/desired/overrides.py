"""Override documents: a later folder of a tenant changes some fields of a connector an earlier one declares.

```yaml
kind: Override
target: {kind: InboundConnector, name: Inbound from Mimecast}
sender_ip_addresses: [203.0.113.0/24]
```

Contracts:
- :class:`Override` is the document's shape (for the JSON Schema and for checking ``target``); its other
  keys are connector fields, validated when the override is merged into its target.
- :func:`merge` returns the target's tree with the override's fields in place of the target's (new nodes,
  inputs untouched), so every field keeps the mark of the file that wrote it.
- ``name`` cannot be overridden (a rename belongs in the connector's own file, ``renamed_from``).
- ``absent: true`` (and no connector field) drops the target for this tenant: the plan deletes it if it
  is live, as for a connector document with ``absent: true``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from reconciler.model import MAX_NAME_LENGTH, Kind
from reconciler.yamlio import YMap

OVERRIDE_KIND = "Override"
#: Keys of an override document that are about the override, not fields of the target.
OWN_KEYS = ("kind", "target", "absent")


class OverrideTarget(BaseModel):
    """The connector an override changes: declared in an earlier folder of the same tenant."""

    model_config = ConfigDict(extra="forbid", strict=True)

    kind: Kind = Field(description="InboundConnector or OutboundConnector.")
    name: str = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, description="The connector's name (case-insensitive)."
    )


class Override(BaseModel):
    """Some fields of a connector declared in an earlier folder, set for this tenant only."""

    model_config = ConfigDict(
        extra="allow",
        strict=True,
        json_schema_extra={"description": "Other keys are fields of the target, set to these values."},
    )

    kind: str = Field(pattern="^Override$", description="Override.")
    target: OverrideTarget = Field(description="The connector to change.")
    absent: bool = Field(
        default=False,
        description="true: this tenant must not have the target (the plan deletes it if it is live); "
        "the override then sets no field.",
    )


def merge(target: YMap, override: YMap) -> YMap:
    """``target`` with the fields ``override`` sets (its own keys, :data:`OWN_KEYS`, left out)."""
    entries = dict(target.entries)
    entries.update({key: entry for key, entry in override.entries.items() if key not in OWN_KEYS})
    return YMap(target.loc, target.anchor, entries=entries)
