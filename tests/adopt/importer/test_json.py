"""ConvertTo-Json files: every shape Windows PowerShell 5.1 and PowerShell 7 write, made from the real
connector objects in tests/fixtures/live/, imports as the connectors a tenant holding them reads back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.adopt.importer import FileResult, Imported, convert, read_file
from reconciler.adopt.importer import json as json_reader
from reconciler.model import from_live
from tests.adopt.importer.shapes import FIXTURES, KINDS, SAMPLES, convert_to_json, encode, ps_object, sample


def live_view(kind: str, obj: dict[str, Any]) -> dict[str, Any]:
    """What a tenant holding ``obj`` reads back (it creates connectors without ConnectorType as Partner)."""
    return dict(from_live(kind, {"ConnectorType": "Partner", **obj}).managed_fields())


def imported(result: FileResult) -> dict[tuple[str, str], Imported]:
    assert not result.problems, result.problems
    return {(i.kind or "", i.name or ""): i for i in result.found}


def write(tmp_path: Path, data: bytes, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_the_verbatim_scubagear_report_imports_its_inbound_connector() -> None:
    path = FIXTURES / "powershell" / "scubagear-ProviderSettingsExport.connectors.json"
    result = read_file(path, "scuba.json")
    assert result.source == "json"
    found = imported(result)
    assert list(found) == [
        ("InboundConnector", "inbound connector test 1")
    ]  # [null] members are no connectors
    item = found["InboundConnector", "inbound connector test 1"]
    assert item.where == "scuba.json: $.inbound_connectors[0]"
    assert item.connector is not None
    assert item.connector.managed_fields() == live_view(
        "InboundConnector", sample(SAMPLES[0])["InboundConnector"][0]
    )
    assert item.connector.sender_domains == ["test.domain.com"]
    # Directory fields, dates, ConnectorSource and the parameters reserved for Microsoft are not reported.
    assert item.unknown == () and item.dropped == () and item.defaults == ()
    assert item.connector_source == "AdminUI"


#: (PowerShell version, enums, container, arrays, encoding)
SHAPES: list[tuple[str, str, str, str, str]] = [
    ("5.1", "numbers", "array", "plain", "utf-16"),  # Out-File in Windows PowerShell 5.1
    ("5.1", "names", "wrapper", "wrapped", "utf-8-bom"),  # a report, arrays as {"value", "Count"}
    ("5.1", "numbers", "single", "plain", "utf-8"),
    ("7", "numbers", "array", "plain", "utf-8"),  # PowerShell 7 default: enums as numbers, ISO dates
    ("7", "names", "single", "plain", "utf-8-bom"),  # -EnumsAsStrings
    ("7", "names", "wrapper", "plain", "utf-16"),
]


@pytest.mark.parametrize("name", SAMPLES)
@pytest.mark.parametrize(("version", "enums", "container", "arrays", "encoding"), SHAPES)
def test_every_powershell_shape_imports_what_the_tenant_reads_back(
    tmp_path: Path, name: str, version: str, enums: str, container: str, arrays: str, encoding: Any
) -> None:
    objects = sample(name)
    files: list[tuple[Any, list[tuple[str, dict[str, Any]]]]] = []
    shaped = {
        k: [ps_object(o, version=version, enums=enums, arrays=arrays) for o in objects[k]] for k in KINDS
    }
    if container == "wrapper":
        files.append(
            (
                {
                    "inbound_connectors": shaped["InboundConnector"],
                    "outbound_connectors": shaped["OutboundConnector"],
                },
                [(k, o) for k in KINDS for o in objects[k]],
            )
        )
    elif container == "array":
        files += [(shaped[k], [(k, o) for o in objects[k]]) for k in KINDS if objects[k]]
    else:
        files += [(s, [(k, o)]) for k in KINDS for s, o in zip(shaped[k], objects[k], strict=True)]
    for index, (value, expected) in enumerate(files):
        path = write(tmp_path, encode(convert_to_json(value, version=version), encoding), f"{index}.json")
        found = imported(read_file(path, path.name))
        assert sorted(found) == sorted((k, o["Name"]) for k, o in expected)
        for kind, obj in expected:
            item = found[kind, obj["Name"]]
            assert item.connector is not None, item.skipped
            assert item.connector.managed_fields() == live_view(kind, obj)


def test_enum_numbers_with_a_published_numbering_are_read_and_the_others_reported(tmp_path: Path) -> None:
    obj = {
        "Name": "To partner",
        "ConnectorType": 1,
        "RecipientDomains": ["fabrikam.com"],
        "TlsSettings": 4,
        "TlsDomain": "mail.fabrikam.com",
        "MtaStsMode": 1,
        "SmtpDaneMode": "Mandatory",
    }
    item = imported(read_file(write(tmp_path, json.dumps(obj).encode()), "x.json"))[
        "OutboundConnector", "To partner"
    ]
    assert item.connector is not None
    fields = item.connector.managed_fields()
    assert fields["connector_type"] == "OnPremises"
    assert fields["tls_settings"] == "DomainValidation"
    assert fields["smtp_dane_mode"] == "Mandatory"
    assert fields["mta_sts_mode"] == "Opportunistic"  # not guessed: left at its default, and said so
    assert item.dropped == (
        "MtaStsMode: the number 1 has no published numbering; export it with -EnumsAsStrings",
    )


def test_a_connector_type_number_outside_the_enum_skips_the_connector(tmp_path: Path) -> None:
    obj = {"Name": "Odd", "ConnectorType": 3, "SenderDomains": ["smtp:*;1"]}
    item = imported(read_file(write(tmp_path, json.dumps([obj]).encode()), "x.json"))[
        "InboundConnector", "Odd"
    ]
    assert item.connector is None
    assert item.skipped == "its ConnectorType cannot be read"
    assert item.dropped == ("ConnectorType: 3 is not a value of the enum",)


def test_values_cut_short_by_convertto_json_depth_are_reported_not_imported(tmp_path: Path) -> None:
    # Windows PowerShell's default -Depth 2 writes what lies deeper as its type name or as '@{...}'.
    report = {
        "inbound_connectors": [
            {
                "Name": "Filter",
                "ConnectorType": "Partner",
                "SenderDomains": "System.Object[]",
                "Comment": "@{ is only text in a text field",
            },
            "@{Enabled=True; ConnectorType=Partner; Name=Deep}",
        ]
    }
    found = read_file(write(tmp_path, json.dumps(report).encode()), "r.json").found
    cut, deep = found
    assert cut.connector is not None and cut.connector.comment == "@{ is only text in a text field"
    assert cut.dropped == (
        "SenderDomains: cut short by ConvertTo-Json (the value reads 'System.Object[]'); "
        "export again with -Depth 5",
    )
    assert deep.connector is None and deep.kind == "InboundConnector"
    assert deep.skipped == "cut short by ConvertTo-Json (it reads '@{...}'); export again with -Depth 5"


def test_unknown_properties_are_reported_and_a_missing_connector_type_is_the_default() -> None:
    result = read_file(FIXTURES / "live" / "evotec-pswindocumentation-o365.json", "evotec.json")
    item = imported(result)["InboundConnector", "Evotec Support"]
    assert item.connector is not None
    assert item.unknown == (
        "DetectSenderIPBySkippingLastIP",
        "DetectSenderIPBySkippingTheseIPs",
        "DetectSenderIPBySkippingTheseProviders",
        "DetectSenderIPRecipientList",
    )
    assert item.defaults == ("ConnectorType not given: Partner, the service's default",)


def test_the_kind_comes_from_the_properties_when_nothing_else_tells(tmp_path: Path) -> None:
    outbound = {
        "Name": "Relay",
        "ConnectorType": "Partner",
        "SmartHosts": ["relay.example.net"],
        "UseMXRecord": False,
        "RecipientDomains": ["*"],
    }
    inbound = {
        "Name": "Relay in",
        "ObjectClass": ["top", "msExchSMTPInboundConnector"],
        "ConnectorType": "Partner",
        "Enabled": True,
        "Comment": "",
        "SenderDomains": "smtp:*;1",
    }
    neither = {"Name": "Ambiguous", "ConnectorType": "Partner"}
    found = read_file(write(tmp_path, json.dumps([outbound, inbound, neither]).encode()), "x.json").found
    assert [(i.kind, i.name) for i in found] == [
        ("OutboundConnector", "Relay"),
        ("InboundConnector", "Relay in"),
        (None, "Ambiguous"),
    ]
    assert found[1].connector is not None and found[1].connector.sender_domains == ["*"]
    assert found[2].skipped is not None and "cannot tell an inbound from an outbound" in found[2].skipped


def test_invalid_json_is_one_located_problem(tmp_path: Path) -> None:
    path = write(tmp_path, b'[\n  {"Name": "A",\n   "ConnectorType": }\n]')
    result = read_file(path, "bad.json")
    assert result.found == []
    assert [str(p) for p in result.problems] == ["bad.json:3:21: error: not valid JSON: Expecting value"]


def test_utf16_without_bom_and_a_file_in_another_encoding(tmp_path: Path) -> None:
    text = json.dumps({"Name": "X", "ConnectorType": "Partner", "SenderDomains": ["smtp:*;1"]})
    found = imported(read_file(write(tmp_path, text.encode("utf-16-le"), "le.json"), "le.json"))
    assert list(found) == [("InboundConnector", "X")]
    latin = read_file(write(tmp_path, '{"Name": "Caf\xe9"}'.encode("latin-1"), "l.json"), "l.json")
    assert [p.message for p in latin.problems] == [
        "file is not UTF-8 text (byte 13); save it as UTF-8 or UTF-16"
    ]


_KEYS = st.sampled_from(
    [
        "Name",
        "Identity",
        "ConnectorType",
        "SenderDomains",
        "SmartHosts",
        "TlsSettings",
        "Comment",
        "EFSkipIPs",
        "inbound_connectors",
        "value",
        "Count",
        "ObjectClass",
        "MtaStsMode",
        "Enabled",
        "x@odata.type",
    ]
)
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.text(max_size=8)
    | st.sampled_from(["System.Object[]", "@{a=1}"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=6),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(_JSON)
def test_any_json_gives_imported_or_skipped_connectors(value: Any) -> None:
    found, problems = json_reader.read(json.dumps(value), "f.json", {})
    assert problems == []
    for item in found:
        result = convert(item)  # never an exception: imported, or skipped with a reason
        assert (result.connector is None) == (result.skipped is not None)
