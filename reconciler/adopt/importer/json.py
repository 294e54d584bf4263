"""``ConvertTo-Json`` output of Get-InboundConnector / Get-OutboundConnector -> found connector objects.

Shapes read (docs/import.md, "PowerShell JSON"): Windows PowerShell 5.1 and PowerShell 7 layouts; one
object or an array of them; connectors under any key of a wrapper object (a security-baseline report's
``inbound_connectors``, exoform's own seed/state files, a REST response's ``value``), the kind taken from
the key when it names one; Windows PowerShell's ``{"value": [...], "Count": n}`` form of arrays; dates as
``\\/Date(ms)\\/`` or ISO text and enums as numbers or names (both handled by the shared conversion).

Contract: a connector object is a JSON object with a ``Name`` (or ``Identity``) and at least one connector
parameter other than Name, Comment and Enabled; anything else is walked into (to a depth of
:data:`MAX_DEPTH`) or ignored.  Invalid JSON is one located problem.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.adopt.importer import Found, looks_like_connector
from reconciler.errors import Location, Problem
from reconciler.model import Kind

#: How deep wrapper objects are searched for connectors.
MAX_DEPTH = 8


def read(text: str, display: str, variables: Mapping[str, str]) -> tuple[list[Found], list[Problem]]:
    """Every connector object in ``text`` (``variables`` is unused: JSON holds values only)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [Problem(Location(display, exc.lineno, exc.colno), f"not valid JSON: {exc.msg}")]
    except RecursionError:
        return [], [Problem(Location(display), "not valid JSON: nested too deeply")]
    found: list[Found] = []
    _walk(data, "$", None, found, display, 0)
    return found, []


def _array(value: Any) -> Any:
    """Windows PowerShell writes some arrays as ``{"value": [...], "Count": n}``: the array."""
    if isinstance(value, dict) and {k.lower() for k in value} == {"value", "count"}:
        inner = next(v for k, v in value.items() if k.lower() == "value")
        if isinstance(inner, list):
            return inner
    return value


def _plain(value: Any) -> Any:
    value = _array(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _hint(key: str, inherited: Kind | None) -> Kind | None:
    lowered = key.lower()
    if "inbound" in lowered and "outbound" not in lowered:
        return "InboundConnector"
    if "outbound" in lowered and "inbound" not in lowered:
        return "OutboundConnector"
    return inherited


def _walk(value: Any, path: str, kind: Kind | None, found: list[Found], display: str, depth: int) -> None:
    value = _array(value)
    if depth > MAX_DEPTH:
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _walk(item, f"{path}[{index}]", kind, found, display, depth + 1)
        return
    if isinstance(value, str) and kind is not None and value.startswith("@{"):
        found.append(
            Found(
                {},
                f"{display}: {path}",
                kind,
                skip="cut short by ConvertTo-Json (it reads '@{...}'); export again with -Depth 5",
            )
        )
        return
    if not isinstance(value, dict):
        return
    if looks_like_connector(value):
        props = {str(k): _plain(v) for k, v in value.items()}
        found.append(Found(props, f"{display}: {path}", kind))
        return
    for key, item in value.items():
        shown = f"{path}.{key}" if str(key).isidentifier() else f"{path}[{json.dumps(str(key))}]"
        _walk(item, shown, _hint(str(key), kind), found, display, depth + 1)
