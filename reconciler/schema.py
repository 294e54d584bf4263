"""JSON Schemas of the YAML files, generated from the pydantic models.

``connector.schema.json`` describes one connector document (either kind, chosen by ``kind``, or an
``Override``); every connector field also accepts a whole ``${...}`` reference (docs/fleet.md);
``exoform.schema.json`` describes ``exoform.yaml``.  Each connector field's description starts with the
Exchange parameter it sets, which is also given as ``x-exchange-parameter``.

``plan.schema.json``, ``drift.schema.json`` and ``status.schema.json`` describe the JSON that ``plan
--format json`` (and the plan file), ``drift --format json`` and ``status --format json`` print, for the
tools that read them; tests validate real output against them.  Each names its ``format_version``: a
change a reader could misread bumps it.

Contract: the output is deterministic (same models, same bytes), so a test can compare the committed files
with freshly generated ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from reconciler.desired.config import ExoformConfig
from reconciler.desired.overrides import OVERRIDE_KIND, Override
from reconciler.model import KINDS, InboundConnector, OutboundConnector
from reconciler.yamlio import write_atomic

SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"
CONNECTOR_FILE = "connector.schema.json"
CONFIG_FILE = "exoform.schema.json"
PLAN_FILE = "plan.schema.json"
DRIFT_FILE = "drift.schema.json"
STATUS_FILE = "status.schema.json"


def connector_schema() -> dict[str, Any]:
    """The schema of one connector document: InboundConnector or OutboundConnector, by ``kind``."""
    union = Annotated[InboundConnector | OutboundConnector, Field(discriminator="kind")]
    schema: dict[str, Any] = TypeAdapter(union).json_schema(mode="validation")
    for kind in KINDS:
        definition = schema["$defs"][kind]
        # ``kind`` has a default in the model (so code can build one without it) but a file must say it.
        definition["required"] = ["kind", *[r for r in definition.get("required", []) if r != "kind"]]
        definition["properties"] = {
            name: prop if name == "kind" else _or_reference(prop)
            for name, prop in definition["properties"].items()
        }
    override = Override.model_json_schema(mode="validation", ref_template="#/$defs/{model}")
    schema["$defs"].update(override.pop("$defs", {}))
    override["properties"]["kind"] = {"const": OVERRIDE_KIND, "description": "Override."}
    schema["$defs"][OVERRIDE_KIND] = override
    schema["$defs"][REFERENCE] = {
        "type": "string",
        "pattern": r"^\$\{\s*(vars\.[A-Za-z_][A-Za-z0-9_]*|tenant\.(name|organization))\s*\}$",
        "description": "A reference resolved per tenant: ${vars.NAME}, ${tenant.name} or "
        "${tenant.organization} (docs/fleet.md).",
    }
    schema["oneOf"].append({"$ref": f"#/$defs/{OVERRIDE_KIND}"})
    schema["discriminator"]["mapping"][OVERRIDE_KIND] = f"#/$defs/{OVERRIDE_KIND}"
    return {
        "$schema": SCHEMA_DRAFT,
        "title": "exoform connector",
        "description": "One Exchange Online connector. Fields are the snake_case of the Exchange "
        "parameter; a field left out means its documented default.",
        **schema,
    }


#: The ``$defs`` entry of a ``${...}`` reference, which every connector field also accepts.
REFERENCE = "Reference"
_KEPT = ("title", "description", "default", "x-exchange-parameter")


def _or_reference(prop: dict[str, Any]) -> dict[str, Any]:
    """``prop``'s schema, or a whole ``${...}`` reference (a variable of any type fills the field)."""
    outer = {key: prop[key] for key in _KEPT if key in prop}
    inner = {key: value for key, value in prop.items() if key not in _KEPT}
    choices = inner.pop("anyOf") if list(inner) == ["anyOf"] else [inner]
    return outer | {"anyOf": [*choices, {"$ref": f"#/$defs/{REFERENCE}"}]}


def config_schema() -> dict[str, Any]:
    """The schema of ``exoform.yaml``."""
    schema = ExoformConfig.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DRAFT,
        **schema,
    }


def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    """A closed object: every property required but ``optional``, no other property."""
    return {
        "type": "object",
        "properties": properties,
        "required": [p for p in properties if p not in optional],
        "additionalProperties": False,
    }


_STR: dict[str, Any] = {"type": "string"}
_INT: dict[str, Any] = {"type": "integer", "minimum": 0}
_BOOL: dict[str, Any] = {"type": "boolean"}
_NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
_NULLABLE_BOOL: dict[str, Any] = {"type": ["boolean", "null"]}
_KIND: dict[str, Any] = {"enum": list(KINDS)}
_STRINGS: dict[str, Any] = {"type": "array", "items": _STR}


def _finding(**extra: dict[str, Any]) -> dict[str, Any]:
    return _object(
        {
            **extra,
            "rule": _STR,
            "severity": {"enum": ["error", "warning", "info"]},
            "kind": {"enum": [*KINDS, None]},
            "name": _NULLABLE_STR,
            "message": _STR,
            "reference": _STR,
            "field": _NULLABLE_STR,
            "skipped_reason": _NULLABLE_STR,
            "source": {"enum": ["files", "live"]},
        }
    )


_UNMANAGED = _object({"kind": _KIND, "name": _STR, "connector_source": _STR})
_SOURCE = _object(
    {"file": _STR, "line": _INT, "column": _INT, "folder": _NULLABLE_STR, "overrides": _STRINGS}
)
_TENANT_STATUS: dict[str, Any] = {"enum": ["planned", "failed"]}


def _report(title: str, description: str, version: int, properties: dict[str, Any]) -> dict[str, Any]:
    schema = _object({"format_version": {"const": version}, **properties})
    return {"$schema": SCHEMA_DRAFT, "title": title, "description": description, **schema}


def plan_schema() -> dict[str, Any]:
    """The schema of the JSON plan (``plan --format json`` and the plan file, which adds ``digest``)."""
    from reconciler.plan import ACTIONS, FORMAT_VERSION

    field_change = {
        "oneOf": [
            _object({"field": _STR, "added": {"type": "array"}, "removed": {"type": "array"}}),
            _object({"field": _STR, "before": {}, "after": {}}),
        ]
    }
    change = _object(
        {
            "action": {"enum": list(ACTIONS)},
            "kind": _KIND,
            "name": _STR,
            "previous_name": _NULLABLE_STR,
            "fields": _STRINGS,
            "before": {"type": ["object", "null"]},
            "after": {"type": ["object", "null"]},
            "fingerprint": _NULLABLE_STR,
            "guid": _NULLABLE_STR,
            "ignored": _STRINGS,
            "reason": _STR,
            "when_changed_utc": _NULLABLE_STR,
            "field_changes": {"type": "array", "items": field_change},
            "source": {"oneOf": [{"type": "null"}, _SOURCE]},
        }
    )
    tenant = _object(
        {
            "tenant": _STR,
            "target": _STR,
            "status": _TENANT_STATUS,
            "error": _NULLABLE_STR,
            "summary": _object({"create": _INT, "update": _INT, "delete": _INT, "unmanaged": _INT}),
            "existing_count": _INT,
            "unsafe": _BOOL,
            "unsafe_reasons": _STRINGS,
            "changes": {"type": "array", "items": change},
            "unmanaged": {"type": "array", "items": _object({**_UNMANAGED["properties"], "reason": _STR})},
            "findings": {"type": "array", "items": _finding()},
            "targets": _STRINGS,
        }
    )
    schema = _report(
        "exoform plan",
        "The JSON plan: every selected tenant with its outcome (planned, or failed with its error), "
        "changes, unmanaged connectors and posture findings. A plan file adds its digest.",
        FORMAT_VERSION,
        {
            "exoform_version": _STR,
            "has_changes": _BOOL,
            "unsafe": _BOOL,
            "failed": _INT,
            "tenants": {"type": "array", "items": tenant},
            "unsafe_reasons": _STRINGS,
            "digest": _STR,
        },
    )
    schema["required"].remove("digest")
    return schema


def drift_schema() -> dict[str, Any]:
    """The schema of ``drift --format json``."""
    from reconciler.render.drift import FORMAT_VERSION

    field = _object(
        {
            "field": _STR,
            "desired": {},
            "live": {},
            "only_in_files": {"type": "array"},
            "only_live": {"type": "array"},
        },
        optional=("only_in_files", "only_live"),
    )
    connector = _object(
        {
            "kind": _KIND,
            "name": _STR,
            "state": {"enum": ["missing", "changed", "unexpected"]},
            "when_changed_utc": _NULLABLE_STR,
            "fields": {"type": "array", "items": field},
        }
    )
    tenant = _object(
        {
            "tenant": _STR,
            "target": _STR,
            "status": _TENANT_STATUS,
            "error": _NULLABLE_STR,
            "drift": _NULLABLE_BOOL,
            "connectors": {"type": "array", "items": connector},
            "risks": {"type": "array", "items": _finding()},
            "unmanaged": {"type": "array", "items": _UNMANAGED},
            "targets": _STRINGS,
        },
        optional=("targets",),
    )
    return _report(
        "exoform drift",
        "The drift report: per tenant, the connectors that differ from the files, the posture risks in "
        "its live connectors that count as drift, its unmanaged connectors, or the error that stopped it.",
        FORMAT_VERSION,
        {
            "exoform_version": _STR,
            "drift": _BOOL,
            "errors": _INT,
            "tenants": {"type": "array", "items": tenant},
        },
    )


def status_schema() -> dict[str, Any]:
    """The schema of ``status --format json``."""
    from reconciler.render.status import FORMAT_VERSION

    row = _object(
        {
            "tenant": _STR,
            "kind": _KIND,
            "name": _STR,
            "enabled": _BOOL,
            "test_mode": _NULLABLE_BOOL,
            "validated": _NULLABLE_BOOL,
            "last_validated": _NULLABLE_STR,
            "validation_recipients": {"type": ["array", "null"], "items": _STR},
            "last_changed": _NULLABLE_STR,
            "managed": _BOOL,
            "connector_source": _STR,
        }
    )
    tenant = _object({"tenant": _STR, "status": {"enum": ["read", "failed"]}, "error": _NULLABLE_STR})
    return _report(
        "exoform status",
        "Connector health per tenant, the posture risks in the live connectors, and each tenant's outcome.",
        FORMAT_VERSION,
        {
            "connectors": {"type": "array", "items": row},
            "risks": {"type": "array", "items": _finding(tenant=_STR)},
            "tenants": {"type": "array", "items": tenant},
            "errors": {"type": "array", "items": _object({"tenant": _STR, "error": _NULLABLE_STR})},
        },
    )


def rendered() -> dict[str, str]:
    """File name -> exact file content of every schema."""
    schemas = {
        CONNECTOR_FILE: connector_schema(),
        CONFIG_FILE: config_schema(),
        PLAN_FILE: plan_schema(),
        DRIFT_FILE: drift_schema(),
        STATUS_FILE: status_schema(),
    }
    return {name: json.dumps(schema, indent=2, ensure_ascii=False) + "\n" for name, schema in schemas.items()}


def write_schemas(out: Path) -> list[Path]:
    """Write every schema into ``out`` (created if needed); returns the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in rendered().items():
        path = out / name
        write_atomic(path, text)
        written.append(path)
    return written


def stale_files(out: Path) -> list[Path]:
    """The schema files in ``out`` that are missing or differ from what the models generate."""
    stale = []
    for name, text in rendered().items():
        path = out / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale
