"""docs/ stays true: the connector field tables of docs/yaml-reference.md match the committed JSON Schema.

The schema is generated from the models (``make schema``; ``tests/test_schema.py`` keeps it current), so a
field added, renamed, re-described or given another default in ``reconciler/model.py`` fails here until the
table in the docs says the same.  On failure the expected table is printed, ready to paste.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from reconciler.model import KINDS

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "docs" / "yaml-reference.md"
HEADER = "| Field | Exchange parameter | Type | Default | Meaning |\n|---|---|---|---|---|"


def _options(prop: dict[str, Any]) -> list[dict[str, Any]]:
    """The alternatives of a property's type, nested ``anyOf`` flattened; a whole ``${...}`` reference is
    accepted for every field (docs/fleet.md) and is not part of the field's type."""
    if "anyOf" not in prop:
        return [prop]
    return [leaf for option in prop["anyOf"] if "$ref" not in option for leaf in _options(option)]


def _type(prop: dict[str, Any]) -> str:
    options = _options(prop)
    enums = [value for option in options for value in option.get("enum", [])]
    if enums:
        return ", ".join(f"`{value}`" for value in enums)
    types = {option.get("type") for option in options} - {"null"}
    return {"boolean": "true/false", "array": "list"}.get(types.pop(), "text")


def _default(name: str, prop: dict[str, Any], required: list[str]) -> str:
    if name in required:
        return "required"
    default = prop.get("default", [] if _type(prop) == "list" else None)
    if default is None or default == "":
        return "empty"
    return f"`{default}`" if isinstance(default, str) else f"`{json.dumps(default)}`"


def _meaning(prop: dict[str, Any]) -> str:
    text = str(prop["description"]).split(": ", 1)[1]
    text = text[0].upper() + text[1:]
    return text.replace("*", "\\*").replace("<", "&lt;").replace(">", "&gt;")


def _definition(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((REPO / "schemas" / "connector.schema.json").read_text())
    return dict(schema["$defs"][kind])


def expected_table(definition: dict[str, Any]) -> str:
    """The Markdown table of one kind's managed fields, from its schema definition (a document that is not
    ``absent: true`` needs the fields its ``else`` branch requires)."""
    required = definition.get("required", []) + definition.get("else", {}).get("required", [])
    rows = [
        f"| `{name}` | {prop['x-exchange-parameter']} | {_type(prop)} | "
        f"{_default(name, prop, required)} | {_meaning(prop)} |"
        for name, prop in definition["properties"].items()
        if "x-exchange-parameter" in prop
    ]
    return "\n".join([HEADER, *rows])


def documented_table(kind: str) -> str:
    """The table under ``### <kind>`` in docs/yaml-reference.md."""
    text = REFERENCE.read_text(encoding="utf-8")
    match = re.search(rf"^### {kind}\n\n((?:\|.*\n)+)", text, re.MULTILINE)
    assert match, f"docs/yaml-reference.md has no '### {kind}' section with a table"
    return match.group(1).rstrip("\n")


@pytest.mark.parametrize("kind", KINDS)
def test_field_table_matches_the_model(kind: str) -> None:
    expected = expected_table(_definition(kind))
    assert documented_table(kind) == expected, (
        f"docs/yaml-reference.md's {kind} table is out of date; it should read:\n{expected}"
    )


def test_a_changed_default_is_caught() -> None:
    """The check itself can fail: a default the docs do not show makes the tables differ."""
    definition = _definition("InboundConnector")
    definition["properties"]["require_tls"]["default"] = False
    assert documented_table("InboundConnector") != expected_table(definition)


def _layout() -> str:
    """The README's layout table (between ``### Layout`` and ``### Contributing``)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    return text.split("### Layout", 1)[1].split("### Contributing", 1)[0]


def test_the_readme_layout_names_every_part_of_the_package() -> None:
    """Every folder and top-level module of ``reconciler/`` has its place in the README's layout table, and
    so does every module of the folders that hold the architecture's layers."""
    layout = _layout()
    package = REPO / "reconciler"
    missing = [
        entry.name
        for entry in package.iterdir()
        if not entry.name.startswith("_")
        and (entry.is_dir() or entry.suffix == ".py")
        and f"reconciler/{entry.name}{'/' if entry.is_dir() else ''}" not in layout
        and f"`{entry.name}`" not in layout
    ]
    missing += [
        f"{folder}/{module.name}"
        for folder in ("desired", "reconcile", "adopt", "posture", "providers", "monitor")
        for module in (package / folder).glob("[!_]*.py")
        if f"`{module.stem}`" not in layout and f"`{module.name}`" not in layout
    ]
    assert not missing, f"README.md's layout table does not name: {', '.join(sorted(missing))}"
