"""Checking documents against JSON Schemas: the published ones in ``schemas/`` and SARIF 2.1.0.

Each schema is checked against its metaschema once per test process and its validator reused:
``jsonschema.validate`` checks the schema again on every call, which costs 100 times the validation.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema.protocols import Validator
from jsonschema.validators import validator_for

REPO = Path(__file__).resolve().parents[1]
SCHEMAS = REPO / "schemas"
SARIF = REPO / "tests" / "fixtures" / "schemas" / "sarif-schema-2.1.0.json"


@cache
def validator(path: Path) -> Validator:
    """The validator of the schema at ``path`` (its draft from ``$schema``), the schema checked first."""
    schema = json.loads(path.read_text())
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check(document: Any, schema: str | Path) -> None:
    """Raise ``jsonschema.ValidationError`` unless ``document`` matches ``schema`` (a file name in
    ``schemas/``, or a path)."""
    validator(SCHEMAS / schema if isinstance(schema, str) else schema).validate(document)
