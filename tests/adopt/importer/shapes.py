"""The files PowerShell writes for Get-InboundConnector / Get-OutboundConnector output, made from the real
connector objects in tests/fixtures/live/ (tests/fixtures/README.md, "Generated PowerShell shapes", names
what each shape imitates and the public sources for it).

Nothing here runs PowerShell: each function writes the text a PowerShell version would, from the
PascalCase Get objects as a tenant returns them.
"""

from __future__ import annotations

import codecs
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from xml.sax.saxutils import escape, quoteattr

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
#: The real connector objects: tests/fixtures/live/<name>.json.
SAMPLES = ("scubagear-sample-provider-export", "graph2otel-m7kni-admin-api", "evotec-pswindocumentation-o365")
KINDS = ("InboundConnector", "OutboundConnector")
DATES = frozenset(
    {"WhenChanged", "WhenCreated", "WhenChangedUTC", "WhenCreatedUTC", "LastValidationTimestamp"}
)
#: Enum numbers: TenantConnectorType and TlsAuthLevel as published; the others are placeholders (no public
#: numbering), which the importer must report instead of guessing.
ENUMS: dict[str, dict[str, int]] = {
    "ConnectorType": {"OnPremises": 1, "Partner": 2},
    "TlsSettings": {"EncryptionOnly": 1, "CertificateValidation": 2, "DomainValidation": 4},
    "MtaStsMode": {"Opportunistic": 7, "None": 8},
    "SmtpDaneMode": {"Opportunistic": 7, "Mandatory": 8, "None": 9},
    "ConnectorSource": {"Default": 7, "HybridWizard": 8, "Migrated": 9, "AdminUI": 10},
    "ObjectState": {"Unchanged": 7},
}
ENUM_TYPES = {
    "ConnectorType": "Microsoft.Exchange.Data.TenantConnectorType",
    "TlsSettings": "Microsoft.Exchange.Data.TlsAuthLevel",
    "MtaStsMode": "Microsoft.Exchange.Data.MtaStsMode",
    "SmtpDaneMode": "Microsoft.Exchange.Data.SmtpDaneMode",
    "ConnectorSource": "Microsoft.Exchange.Data.TenantConnectorSource",
    "ObjectState": "Microsoft.Exchange.Data.ObjectState",
}
CLASSES = {
    "InboundConnector": "Microsoft.Exchange.Data.Directory.SystemConfiguration.TenantInboundConnector",
    "OutboundConnector": "Microsoft.Exchange.Data.Directory.SystemConfiguration.TenantOutboundConnector",
}


def sample(name: str) -> dict[str, list[dict[str, Any]]]:
    """The Get objects of one sample: ``{"InboundConnector": [...], "OutboundConnector": [...]}``."""
    data = json.loads((FIXTURES / "live" / f"{name}.json").read_text(encoding="utf-8"))
    return {kind: list(data.get(kind) or []) for kind in KINDS}


def _when(value: str) -> datetime:
    match = re.fullmatch(r"/Date\((\d+)\)/", value)
    if match:
        return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC)
    return datetime.fromisoformat(value[:26].rstrip("Z") + ("+00:00" if value.endswith("Z") else ""))


def _ms(value: str) -> int:
    when = _when(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


def _enum(key: str, value: Any, enums: str) -> Any:
    if enums == "numbers" and key in ENUMS and isinstance(value, str) and value in ENUMS[key]:
        return ENUMS[key][value]
    return value


def ps_object(obj: dict[str, Any], *, version: str, enums: str, arrays: str = "plain") -> dict[str, Any]:
    """A Get object as ConvertTo-Json sees it in ``version`` 5.1 or 7: dates as the version writes them
    (``/Date(ms)/`` marks a 5.1 date until :func:`convert_to_json` escapes it), enums as numbers or names,
    and with ``arrays="wrapped"`` Windows PowerShell's ``{"value": [...], "Count": n}`` arrays."""
    out: dict[str, Any] = {}
    for key, value in obj.items():
        if key in DATES and isinstance(value, str):
            value = f"/Date({_ms(value)})/" if version == "5.1" else _when(value).isoformat()
        value = _enum(key, value, enums)
        if arrays == "wrapped" and isinstance(value, list):
            value = {"value": value, "Count": len(value)}
        out[key] = value
    return out


def convert_to_json(value: Any, *, version: str) -> str:
    """ConvertTo-Json text: Windows PowerShell 5.1 indents by 4 and writes ``":  "`` and ``\\/`` in dates;
    PowerShell 7 indents by 2."""
    if version == "5.1":
        text = json.dumps(value, indent=4, separators=(",", ":  "), ensure_ascii=False)
        return re.sub(r'"/Date\((\d+)\)/"', r'"\\/Date(\1)\\/"', text)
    return json.dumps(value, indent=2, ensure_ascii=False)


Encoding = Literal["utf-8", "utf-8-bom", "utf-16"]


def encode(text: str, encoding: Encoding) -> bytes:
    """The bytes ``Out-File``/``Set-Content``/``Export-Clixml`` write: UTF-8, UTF-8 with BOM, or UTF-16 LE
    with BOM (Windows PowerShell 5.1's ``Out-File`` and ``>``)."""
    if encoding == "utf-16":
        return codecs.BOM_UTF16_LE + text.replace("\n", "\r\n").encode("utf-16-le")
    if encoding == "utf-8-bom":
        return codecs.BOM_UTF8 + text.encode("utf-8")
    return text.encode("utf-8")


def _clixml_string(text: str) -> str:
    """A string as CLIXML writes it: XML-escaped, characters XML cannot hold as ``_xHHHH_``."""
    encoded = "".join(
        f"_x{ord(ch):04X}_" if (ord(ch) < 0x20 and ch not in "\t\n") or ch == "\r" else ch for ch in text
    )
    return escape(encoded)


class _Clixml:
    def __init__(self) -> None:
        self.ref = 0
        self.types: dict[tuple[str, ...], int] = {}
        self.lines: list[str] = []

    def next_ref(self) -> int:
        self.ref += 1
        return self.ref - 1

    def tn(self, types: tuple[str, ...]) -> str:
        if types in self.types:
            return f'<TNRef RefId="{self.types[types]}" />'
        ref = self.types[types] = len(self.types)
        return f'<TN RefId="{ref}">' + "".join(f"<T>{t}</T>" for t in types) + "</TN>"

    def value(self, key: str, value: Any, name: str | None) -> str:
        n = "" if name is None else f" N={quoteattr(name)}"
        if value is None:
            return f"<Nil{n} />"
        if isinstance(value, bool):
            return f"<B{n}>{str(value).lower()}</B>"
        if isinstance(value, int):
            return f"<I32{n}>{value}</I32>"
        if isinstance(value, list):
            types = (f"Deserialized.Microsoft.Exchange.Data.MultiValuedProperty`1[[{key}]]", "System.Object")
            items = "".join(self.value(key, item, None) for item in value)
            return f'<Obj{n} RefId="{self.next_ref()}">{self.tn(types)}<LST>{items}</LST></Obj>'
        if key in ENUMS and value in ENUMS[key]:
            types = (ENUM_TYPES[key], "System.Enum", "System.ValueType", "System.Object")
            return (
                f'<Obj{n} RefId="{self.next_ref()}">{self.tn(types)}'
                f"<ToString>{_clixml_string(value)}</ToString>"
                f"<I32>{ENUMS[key][value]}</I32></Obj>"
            )
        if key in DATES:
            return f"<DT{n}>{_when(value).isoformat()}</DT>"
        return f"<S{n}>{_clixml_string(str(value))}</S>"


def export_clixml(objects: list[tuple[str, dict[str, Any]]]) -> str:
    """Export-Clixml text of (kind, Get object) pairs: deserialized objects with type names (the first
    object of a type spells them, later ones point back with ``<TNRef>``), enums as ``<Obj>`` with their
    name and number, multi-valued properties as ``<Obj><LST>``, nulls as ``<Nil />``, dates as ``<DT>``,
    ``Id`` as a ``<Ref>`` to ``Identity`` (the same object) and PowerShell's remoting note properties in
    ``<MS>``."""
    out = _Clixml()
    body = []
    for kind, obj in objects:
        types = (
            f"Deserialized.{CLASSES[kind]}",
            "Deserialized.Microsoft.Exchange.Data.Directory.ADConfigurationObject",
            "Deserialized.System.Object",
        )
        ref = out.next_ref()
        props = []
        identity_ref = None
        for key, value in obj.items():
            if key == "Identity" and isinstance(value, str):
                identity_ref = out.next_ref()
                id_types = (
                    "Deserialized.Microsoft.Exchange.Data.Directory.ADObjectId",
                    "Deserialized.System.Object",
                )
                props.append(
                    f'<Obj N="Identity" RefId="{identity_ref}">{out.tn(id_types)}'
                    f"<ToString>{_clixml_string(value)}</ToString>"
                    f'<Props><S N="Name">{_clixml_string(value)}</S>'
                    "</Props></Obj>"
                )
            elif key == "Id" and identity_ref is not None:
                props.append(f'<Ref N="Id" RefId="{identity_ref}" />')
            else:
                props.append(out.value(key, value, key))
        body.append(
            f'<Obj RefId="{ref}">{out.tn(types)}'
            f"<ToString>{_clixml_string(str(obj.get('Name', '')))}</ToString>"
            f"<Props>{''.join(props)}</Props>"
            '<MS><S N="PSComputerName">outlook.office365.com</S>'
            '<G N="RunspaceId">6f1c3c8e-2f49-4a4c-9b65-6a8e2d1f0c11</G>'
            '<B N="PSShowComputerName">false</B></MS></Obj>'
        )
    return (
        '<Objs Version="1.1.0.1" xmlns="http://schemas.microsoft.com/powershell/2004/04">'
        + "".join(body)
        + "</Objs>"
    )
