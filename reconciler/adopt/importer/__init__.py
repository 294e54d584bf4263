"""Connector configurations kept outside any tenant -> connector models, ready for the exporter's writer.

Three sources (one module each): ``ConvertTo-Json`` text of Get-InboundConnector / Get-OutboundConnector
output (:mod:`.json`), ``Export-Clixml`` files (:mod:`.clixml`) and
Microsoft365DSC configuration scripts (:mod:`.m365dsc`).  Each reader turns its file
into :class:`Found` objects (PascalCase properties as plain Python values, the kind when the file tells it);
:func:`convert` turns one into an :class:`Imported` connector, the same way for every source.

Contracts:
- :func:`read_file` never raises for bad input and opens files as every reader does
  (:func:`reconciler.yamlio.read_bytes`: regular files only, never blocking on a FIFO, at most
  :data:`MAX_IMPORT_BYTES`): a file that cannot be read at all (not UTF-8/UTF-16, bad
  JSON, hostile or broken XML, an unparsable DSC block) gives located :class:`~reconciler.errors.Problem`\\ s
  and no connectors; the caller writes nothing then.
- Every connector found is reported: imported, or skipped with the reason.  Properties are sorted into
  managed (become fields), service-owned or read-only (:data:`SERVICE_OWNED`: ignored silently), credentials
  and DSC settings (ignored), and unknown (ignored and reported by name).  A property whose value cannot be
  read without guessing (an enum number with no known numbering, a list cut short by ``ConvertTo-Json
  -Depth``, an unresolved DSC reference) is dropped and reported in ``dropped``: the field takes its default.
- A connector is built with :func:`reconciler.model.from_live`, the path live objects take, so an imported
  connector equals the one a tenant holding the same object reads back (the round trip docs/import.md
  promises).  ConnectorType left out is Partner, the service's default (docs/import.md).
"""

from __future__ import annotations

import codecs
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pydantic import ValidationError

from reconciler.errors import Location, Problem
from reconciler.live import READ_ONLY_PROPERTIES
from reconciler.model import FIELDS, KINDS, MODELS, PARAMETERS, Connector, Kind, from_live

Source = Literal["json", "clixml", "m365dsc"]
#: Largest file read: a PowerShell 5.1 UTF-16 export of a few thousand connectors.
MAX_IMPORT_BYTES = 64 << 20

#: Properties of Get objects that are not desired state: the ones the service sets
#: (:data:`reconciler.live.READ_ONLY_PROPERTIES`), parameters "reserved for internal Microsoft use"
#: (docs/import.md, "What is ignored"), and what PowerShell adds to objects from a remote session.
SERVICE_OWNED: frozenset[str] = READ_ONLY_PROPERTIES | frozenset(
    p.lower()
    for p in [
        "EFTestMode",
        "EFSkipMailGateway",
        "ScanAndDropRecipients",
        "RunspaceId",
        "PSComputerName",
        "PSShowComputerName",
        "PSSourceJobInstanceId",
    ]
)
#: Microsoft365DSC resource settings that are not connector properties: how DSC signs in and its own keys.
DSC_SETTINGS: frozenset[str] = frozenset(
    p.lower()
    for p in [
        "Ensure",
        "Credential",
        "GlobalAdminAccount",
        "ApplicationId",
        "TenantId",
        "CertificateThumbprint",
        "CertificatePath",
        "CertificatePassword",
        "ApplicationSecret",
        "ManagedIdentity",
        "AccessTokens",
        "DependsOn",
        "PsDscRunAsCredential",
    ]
)
#: Enum properties whose numbers (``ConvertTo-Json`` writes enums as numbers unless ``-EnumsAsStrings``)
#: have a public source: the TenantConnectorType and TlsAuthLevel enums (docs/import.md, "Enums").
ENUM_NUMBERS: dict[str, dict[int, str]] = {
    "connectortype": {1: "OnPremises", 2: "Partner"},
    "tlssettings": {1: "EncryptionOnly", 2: "CertificateValidation", 4: "DomainValidation"},
}
_ENUMS = frozenset({"connectortype", "tlssettings", "mtastsmode", "smtpdanemode"})
#: What ``ConvertTo-Json`` writes for a list nested deeper than its ``-Depth``: the value's type name.
_TRUNCATED = ("System.Object[]", "System.Collections.", "Microsoft.Exchange.Data.MultiValuedProperty", "@{")


@dataclass(frozen=True)
class EnumValue:
    """An enum as a serializer wrote it: its name, its number, or both (CLIXML keeps both)."""

    name: str | None
    number: int | None


@dataclass(frozen=True)
class Unresolved:
    """A DSC value that refers to something outside the file (``$OrganizationName``, say)."""

    reference: str


@dataclass
class Found:
    """One connector object as a reader found it.

    ``kind`` is None when the file does not say and the properties must tell; ``where`` says where it is
    in the file (``file:line:col`` or ``file: $.path``); ``skip`` is set when the reader already knows the
    object is not to be imported (DSC ``Ensure = "Absent"``).
    """

    properties: dict[str, Any]
    where: str
    kind: Kind | None = None
    skip: str | None = None
    #: Properties the reader itself dropped, with why (an unresolved reference, say).
    dropped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Imported:
    """What became of one connector found in a file.

    ``connector`` is None when it is skipped (``skipped`` says why).  ``unknown`` names the properties exoform
    does not know (ignored); ``dropped`` says which values were not imported and why; ``defaults`` which
    fields were not given and were taken at a default worth saying.
    """

    where: str
    kind: Kind | None
    name: str | None
    connector: Connector | None = None
    skipped: str | None = None
    unknown: tuple[str, ...] = ()
    dropped: tuple[str, ...] = ()
    defaults: tuple[str, ...] = ()
    #: The object's ConnectorSource (the exporter notes HybridWizard connectors).
    connector_source: str | None = None


@dataclass
class FileResult:
    """One input file: its format, the connectors found, and the problems that stopped reading it."""

    path: Path
    source: Source | None
    found: list[Imported] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def decode(data: bytes, display: str) -> tuple[str | None, Problem | None]:
    """Text of a file as PowerShell writes it: UTF-8 with or without BOM, or UTF-16 with BOM (``Out-File``,
    ``Export-Clixml`` and ``>`` in Windows PowerShell 5.1), or UTF-16 LE without BOM."""
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    elif data.startswith(codecs.BOM_UTF8):
        encoding = "utf-8-sig"
    elif len(data) >= 4 and data[1] == 0 and data[3] == 0 and data[0] != 0:
        encoding = "utf-16-le"
    else:
        encoding = "utf-8"
    try:
        return data.decode(encoding), None
    except UnicodeDecodeError as exc:
        return None, Problem(
            Location(display),
            f"file is not {'UTF-16' if encoding.startswith('utf-16') else 'UTF-8'} text (byte {exc.start}); "
            "save it as UTF-8 or UTF-16",
        )


def detect(path: Path, text: str) -> Source | None:
    """The format of ``text``: a DSC configuration script (``.ps1``), CLIXML, JSON; None when none of them."""
    head = text.lstrip("\ufeff \t\r\n")
    lowered = text.lower()
    if path.suffix.lower() in (".ps1", ".psm1"):
        return "m365dsc"
    if head.startswith("<") and not head.startswith("<#"):
        return "clixml"
    if head.startswith(("{", "[")):
        return "json"
    if "exoinboundconnector" in lowered or "exooutboundconnector" in lowered:
        return "m365dsc"
    return None


def read_file(
    path: Path, display: str, source: Source | None = None, variables: Mapping[str, str] | None = None
) -> FileResult:
    """Read one file (``source`` None: detect the format); see the module contracts.

    ``variables`` are the ``--var NAME=VALUE`` values DSC references resolve to (names case-insensitive).
    """
    from reconciler.yamlio import read_bytes

    result = FileResult(path, source)
    data, result.problems = read_bytes(path, display, MAX_IMPORT_BYTES)
    if data is None:
        return result
    text, problem = decode(data, display)
    if text is None:
        assert problem is not None
        result.problems.append(problem)
        return result
    text = text.lstrip("\ufeff")
    result.source = source or detect(path, text)
    if result.source is None:
        result.problems.append(
            Problem(
                Location(display),
                "cannot tell the format (not JSON, CLIXML or a Microsoft365DSC configuration); "
                "name it with --from json|clixml|m365dsc",
            )
        )
        return result
    reader = importlib.import_module(f"reconciler.adopt.importer.{result.source}")
    found, result.problems = reader.read(text, display, variables or {})
    if not result.problems:
        result.found = [convert(f) for f in found]
    return result


_CONNECTOR_KEYS = frozenset(p.lower() for kind in KINDS for p in PARAMETERS[kind].values()) - {
    "name",
    "comment",
    "enabled",
}


def looks_like_connector(props: Mapping[str, Any]) -> bool:
    """True for an object with a Name (or Identity) and a connector parameter besides Name, Comment and
    Enabled: what a reader takes for a connector object."""
    keys = {str(k).lower() for k in props}
    named = any(isinstance(props[k], str) for k in props if str(k).lower() in ("name", "identity"))
    return named and bool(keys & _CONNECTOR_KEYS)


def _kind_of(found: Found, props: Mapping[str, Any]) -> Kind | None:
    if found.kind is not None:
        return found.kind
    return kind_from_properties(props)


def kind_from_properties(props: Mapping[str, Any]) -> Kind | None:
    """The kind the properties show: the directory object class, else the parameters only one kind has."""
    lowered = {str(k).lower(): v for k, v in props.items()}
    marks = " ".join(str(lowered.get(k, "")) for k in ("objectclass", "objectcategory", "distinguishedname"))
    marks = marks.lower()
    inbound = "inbound-connector" in marks or "inboundconnector" in marks
    outbound = "outbound-connector" in marks or "outboundconnector" in marks
    if inbound != outbound:
        return "InboundConnector" if inbound else "OutboundConnector"
    only: dict[Kind, set[str]] = {
        kind: {p.lower() for p in PARAMETERS[kind].values()} - {p.lower() for p in PARAMETERS[other].values()}
        for kind, other in zip(KINDS, reversed(KINDS), strict=True)
    }
    hits = {kind for kind in KINDS if only[kind] & lowered.keys()}
    return hits.pop() if len(hits) == 1 else None


def _name_of(props: Mapping[str, Any]) -> str | None:
    lowered = {str(k).lower(): v for k, v in props.items()}
    for key in ("name", "identity"):
        value = lowered.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


def _read_enum(parameter: str, value: Any) -> tuple[Any, str | None]:
    """(the enum's name, None), or (None, why it cannot be read) for a number with no known numbering."""
    if isinstance(value, EnumValue):
        if value.name is not None:
            return value.name, None
        value = value.number
    if isinstance(value, bool) or not isinstance(value, int):
        return value, None
    names = ENUM_NUMBERS.get(parameter.lower())
    if names is None:
        return (
            None,
            f"{parameter}: the number {value} has no published numbering; export it with -EnumsAsStrings",
        )
    if value not in names:
        return None, f"{parameter}: {value} is not a value of the enum"
    return names[value], None


def _truncated(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(_TRUNCATED)


def convert(found: Found) -> Imported:
    """One found object -> an imported (or skipped) connector; see the module contracts."""
    props = found.properties
    name = _name_of(props)
    kind = _kind_of(found, props)
    raw_source = next((v for k, v in props.items() if str(k).lower() == "connectorsource"), None)
    shown_source = raw_source.name if isinstance(raw_source, EnumValue) else raw_source
    source = shown_source if isinstance(shown_source, str) and shown_source else None
    base = Imported(found.where, kind, name, connector_source=source)
    if found.skip:
        return replace(base, skipped=found.skip, dropped=tuple(found.dropped))
    if name is None:
        why = "it has no Name (nor Identity)"
        if any(d.lower().startswith(("name:", "identity:")) for d in found.dropped):
            why = "its name is an unresolved reference; give it with --var"
        return replace(base, skipped=why, dropped=tuple(found.dropped))
    if kind is None:
        return replace(
            base,
            skipped="cannot tell an inbound from an outbound connector (no type name and no property only "
            "one kind has)",
        )
    managed = {p.lower(): p for p in PARAMETERS[kind].values()}
    multi = {spec.parameter.lower() for spec in FIELDS[kind].values() if spec.multi}
    values: dict[str, Any] = {"Name": name}
    unknown: list[str] = []
    dropped = list(found.dropped)
    for key, given in props.items():
        value: Any = given
        lower = str(key).lower()
        if lower in ("name", "identity") or lower in SERVICE_OWNED or lower in DSC_SETTINGS or "@" in lower:
            continue
        parameter = managed.get(lower)
        if parameter is None:
            unknown.append(str(key))
            continue
        if lower in _ENUMS:
            value, problem = _read_enum(parameter, value)
            if problem:
                dropped.append(problem)
                continue
        elif isinstance(value, EnumValue):
            value = value.name
        if lower in multi and (
            _truncated(value) or (isinstance(value, list) and any(map(_truncated, value)))
        ):
            dropped.append(
                f"{parameter}: cut short by ConvertTo-Json (the value reads {str(value)[:40]!r}); "
                "export again with -Depth 5"
            )
            continue
        values[parameter] = value
    defaults: list[str] = []
    if "ConnectorType" not in values:
        if any(d.startswith("ConnectorType:") for d in dropped):
            return replace(base, skipped="its ConnectorType cannot be read", dropped=tuple(dropped))
        values["ConnectorType"] = "Partner"
        defaults.append("ConnectorType not given: Partner, the service's default")
    try:
        connector = from_live(kind, values)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "connector"
        return replace(
            base,
            skipped=f"{where}: {first['msg']}",
            unknown=tuple(unknown),
            dropped=tuple(dropped),
        )
    return replace(
        base,
        connector=connector,
        unknown=tuple(unknown),
        dropped=tuple(dropped),
        defaults=tuple(defaults),
    )


def refused_values(connector: Connector) -> list[str]:
    """Values ``connector`` holds that ``exoform validate`` refuses (from_live keeps them as read)."""
    from reconciler.adopt.exporter import document_values

    try:
        MODELS[connector.KIND].model_validate(document_values(connector), context={"skip_rules": True})
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()]
    return []
