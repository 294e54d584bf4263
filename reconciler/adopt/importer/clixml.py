"""``Export-Clixml`` files (PowerShell's serialization, CLIXML) -> found connector objects.

The file is ``<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">`` holding
one ``<Obj>`` per exported object: its type names (``<TN>``, or ``<TNRef>`` to an earlier list), its
``<ToString>``, and its properties in ``<Props>`` (adapted) and ``<MS>`` (note properties), each element
named by its ``N`` attribute.  Values are primitives (``<S>``, ``<B>``, ``<I32>``, ``<DT>``, ``<G>``,
``<Nil/>``, ...), collections (an ``<Obj>`` holding ``<LST>``, ``<IE>``, ``<STK>``, ``<QUE>`` or ``<DCT>``),
enums (an ``<Obj>`` with ``System.Enum`` among its types, a ``<ToString>`` name and an ``<I32>`` number),
other objects (read by their ``<ToString>``), or ``<Ref RefId>`` to an object already serialized.
Strings encode characters XML cannot hold as ``_xHHHH_``.  docs/import.md names the sources.

Contracts:
- Parsed with defusedxml with DTDs, entities and external references forbidden: a file that declares any
  (billion laughs, external entities) is refused with one located problem and nothing is read from it.
  ``Export-Clixml`` never writes a DTD.
- ``<Ref>`` back-references are expanded against a budget of :data:`MAX_EXPANDED_NODES` values per file:
  past it the file gives one located problem naming the object and the limit, and no connectors.
- A top-level object is a connector when it looks like one
  (:func:`~reconciler.adopt.importer.looks_like_connector`); its kind comes from its type names
  (``...TenantInboundConnector``) when they name one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from reconciler.adopt.importer import EnumValue, Found, looks_like_connector
from reconciler.errors import Location, Problem
from reconciler.model import Kind

#: Objects nested deeper than this are not read (a serialization never nests connectors this deep).
MAX_DEPTH = 64
#: Most values the connectors of one file expand to, counting every ``<Ref>`` as the object it repeats
#: (a connector holds a few hundred; nested back-references multiply, like a YAML alias bomb).
MAX_EXPANDED_NODES = 100_000
_ESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_INTEGERS = frozenset({"I16", "I32", "I64", "U16", "U32", "U64", "By", "SB"})
_FLOATS = frozenset({"Db", "Sg", "D"})
_TEXTS = frozenset({"DT", "G", "URI", "Version", "TS", "XD", "SBK", "BA"})
_LISTS = frozenset({"LST", "IE", "STK", "QUE"})


@dataclass
class _Object:
    """A serialized object that is neither a collection nor an enum."""

    types: list[str]
    to_string: str | None
    props: dict[str, Any]


class _TooDeep(Exception):
    pass


class _TooMany(Exception):
    pass


def _key(value: Any) -> str:
    """A dictionary key as text; a collection or object by its kind only (its text could be huge)."""
    if isinstance(value, list | dict):
        return f"<{type(value).__name__}>"
    if isinstance(value, _Object):
        return value.to_string or "<object>"
    return str(value)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


class _Reader:
    def __init__(self) -> None:
        self.refs: dict[str, Any] = {}
        self.type_names: dict[str, list[str]] = {}

    def value(self, el: Element, depth: int) -> Any:
        tag, text = _local(el.tag), el.text or ""
        if tag == "Nil" or tag == "SS":
            return None
        if tag == "S":
            return _unescape(text)
        if tag == "B":
            return text.strip().lower() == "true"
        if tag == "C":
            return chr(int(text))
        if tag in _INTEGERS:
            return int(text)
        if tag in _FLOATS:
            return float(text)
        if tag in _TEXTS:
            return _unescape(text)
        if tag == "Ref":
            return self.refs.get(el.get("RefId", ""))
        if tag == "Obj":
            return self.obj(el, depth + 1)
        return None

    def _types(self, el: Element) -> list[str]:
        for child in el:
            tag = _local(child.tag)
            if tag == "TN":
                names = [_unescape(t.text or "") for t in child if _local(t.tag) == "T"]
                self.type_names[child.get("RefId", "")] = names
                return names
            if tag == "TNRef":
                return self.type_names.get(child.get("RefId", ""), [])
        return []

    def obj(self, el: Element, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise _TooDeep
        types = self._types(el)
        to_string: str | None = None
        number: int | None = None
        props: dict[str, Any] = {}
        result: Any = None
        for child in el:
            tag = _local(child.tag)
            if tag == "ToString":
                to_string = _unescape(child.text or "")
            elif tag in _LISTS:
                result = [self.value(item, depth) for item in child]
            elif tag == "DCT":
                result = {
                    _key(self.value(en[0], depth)): self.value(en[1], depth) for en in child if len(en) == 2
                }
            elif tag in ("Props", "MS"):
                for prop in child:
                    if prop.get("N") is not None:
                        props[_unescape(prop.get("N", ""))] = self.value(prop, depth)
            elif tag in _INTEGERS:
                number = int(child.text or "0")
        if result is None:
            if any(t.endswith("System.Enum") for t in types) or (number is not None and not props):
                result = EnumValue(to_string, number)
            elif props:
                result = _Object(types, to_string, props)
            else:
                result = to_string
        ref = el.get("RefId")
        if ref is not None:
            self.refs[ref] = result
        return result


class _Flattener:
    """Property values as the shared conversion reads them: lists of plain values, objects by their text;
    every value counts against :data:`MAX_EXPANDED_NODES` (a shared ``<Ref>`` counts each time)."""

    def __init__(self) -> None:
        self.used = 0

    def flat(self, value: Any) -> Any:
        self.used += 1
        if self.used > MAX_EXPANDED_NODES:
            raise _TooMany
        if isinstance(value, list):
            return [self.flat(v) for v in value]
        if isinstance(value, _Object):
            return value.to_string
        if isinstance(value, EnumValue) and value.name is not None and value.number is None:
            return value.name
        return value


def _kind(types: list[str]) -> Kind | None:
    text = " ".join(types).lower()
    inbound, outbound = "inboundconnector" in text, "outboundconnector" in text
    if inbound != outbound:
        return "InboundConnector" if inbound else "OutboundConnector"
    return None


def _refused_at(text: str, display: str) -> Location:
    index = min((i for i in (text.find("<!DOCTYPE"), text.find("<!ENTITY")) if i >= 0), default=0)
    line = text.count("\n", 0, index) + 1
    return Location(display, line, index - (text.rfind("\n", 0, index) + 1) + 1)


def read(text: str, display: str, variables: Mapping[str, str]) -> tuple[list[Found], list[Problem]]:
    """Every connector object in a CLIXML document (``variables`` is unused)."""
    try:
        root = fromstring(text, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        return [], [
            Problem(
                _refused_at(text, display),
                "refused: the file declares a DTD or entities, which Export-Clixml never writes "
                "(entity expansion and external entities are a known attack); nothing was read from it",
            )
        ]
    except ParseError as exc:
        line, column = exc.position
        message = re.sub(r": line \d+, column \d+$", "", str(exc))
        return [], [Problem(Location(display, line, column + 1), f"not valid XML: {message}")]
    if _local(root.tag) != "Objs":
        return [], [
            Problem(
                Location(display), f"not a CLIXML file: the root element is <{_local(root.tag)}>, not <Objs>"
            )
        ]
    reader = _Reader()
    flattener = _Flattener()
    found: list[Found] = []
    index = 0
    try:
        for index, el in enumerate(root):
            if _local(el.tag) != "Obj":
                continue
            value = reader.obj(el, 0)
            if not isinstance(value, _Object):
                continue
            props = {k: flattener.flat(v) for k, v in value.props.items()}
            if looks_like_connector(props):
                found.append(Found(props, f"{display}: object {index + 1}", _kind(value.types)))
    except _TooMany:
        return [], [
            Problem(
                Location(display),
                f"object {index + 1}: <Ref> back-references expand to more than {MAX_EXPANDED_NODES:,} "
                "values (the limit per file; Export-Clixml of connectors needs a few hundred): nothing was "
                "read from the file",
            )
        ]
    except _TooDeep:
        return [], [Problem(Location(display), f"objects nested deeper than {MAX_DEPTH} levels")]
    except (ValueError, IndexError, OverflowError) as exc:
        return [], [Problem(Location(display), f"not a valid CLIXML value: {exc}")]
    return found, []
