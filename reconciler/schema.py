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
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue

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


class _Emitted(GenerateJsonSchema):
    """The schema of what a report emits (pydantic's serialization mode): every field is always there
    (but one left out when empty, ``exclude_if``) and no other field is."""

    def field_is_required(self, field: Any, total: bool) -> bool:
        return "serialization_exclude_if" not in field

    def dataclass_args_schema(self, schema: Any) -> JsonSchemaValue:
        return super().dataclass_args_schema(schema) | {"additionalProperties": False}

    def model_fields_schema(self, schema: Any) -> JsonSchemaValue:
        return super().model_fields_schema(schema) | {"additionalProperties": False}


def _report(title: str, description: str, adapter: TypeAdapter[Any]) -> dict[str, Any]:
    schema = adapter.json_schema(mode="serialization", schema_generator=_Emitted)
    return {"$schema": SCHEMA_DRAFT, **schema, "title": title, "description": description}


def plan_schema() -> dict[str, Any]:
    """The schema of the JSON plan (``plan --format json`` and the plan file, which adds ``digest``)."""
    from reconciler.plan import FORMAT_VERSION, plan_adapter

    schema = _report(
        "exoform plan",
        "The JSON plan: every selected tenant with its outcome (planned, or failed with its error), "
        "changes, unmanaged connectors and posture findings. A plan file adds its digest.",
        plan_adapter(),
    )
    schema["properties"]["format_version"] = {"const": FORMAT_VERSION}
    schema["properties"]["digest"] = {"type": "string", "description": "The plan file's digest."}
    return schema


def drift_schema() -> dict[str, Any]:
    """The schema of ``drift --format json``."""
    from reconciler.render.drift import DriftDocument

    return _report(
        "exoform drift",
        "The drift report: per tenant, the connectors that differ from the files, the posture risks in "
        "its live connectors that count as drift, its unmanaged connectors, or the error that stopped it.",
        TypeAdapter(DriftDocument),
    )


def status_schema() -> dict[str, Any]:
    """The schema of ``status --format json``."""
    from reconciler.render.status import StatusDocument

    return _report(
        "exoform status",
        "Connector health per tenant, the posture risks in the live connectors, and each tenant's outcome.",
        TypeAdapter(StatusDocument),
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
