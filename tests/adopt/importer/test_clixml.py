"""Export-Clixml files: the real connector objects serialized the way Export-Clixml writes them import as
the tenant reads them back; hostile XML is refused before anything is read."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.adopt.importer import clixml, convert, read_file
from tests.adopt.importer.shapes import KINDS, SAMPLES, encode, export_clixml, sample
from tests.adopt.importer.test_json import imported, live_view

NS = 'xmlns="http://schemas.microsoft.com/powershell/2004/04"'


def write(tmp_path: Path, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / "export.xml"
    path.write_bytes(encode(text, encoding))
    return path


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8"])  # Windows PowerShell 5.1, PowerShell 7
@pytest.mark.parametrize("name", SAMPLES)
def test_export_clixml_of_each_sample_imports_what_the_tenant_reads_back(
    tmp_path: Path, name: str, encoding: str
) -> None:
    objects = [(kind, obj) for kind in KINDS for obj in sample(name)[kind]]
    result = read_file(write(tmp_path, export_clixml(objects), encoding), "export.xml")
    assert result.source == "clixml"
    found = imported(result)
    assert sorted(found) == sorted((k, o["Name"]) for k, o in objects)
    for kind, obj in objects:
        item = found[kind, obj["Name"]]
        assert item.connector is not None, item.skipped
        assert item.connector.managed_fields() == live_view(kind, obj)
        # Remoting's note properties (PSComputerName, RunspaceId) and the <Ref>'d Id are not reported.
        assert not {"PSComputerName", "RunspaceId", "PSShowComputerName", "Id"} & set(item.unknown)
        # The enums carry name and number: the name is read, nothing is dropped.
        assert item.dropped == ()


def test_refs_enum_numbers_and_escaped_characters(tmp_path: Path) -> None:
    text = f"""<Objs Version="1.1.0.1" {NS}>
  <Obj RefId="0">
    <TN RefId="0">
      <T>Deserialized.Microsoft.Exchange.Data.Directory.SystemConfiguration.TenantInboundConnector</T>
    </TN>
    <Props>
      <S N="Name">First</S>
      <Obj N="ConnectorType" RefId="1"><TN RefId="1"><T>System.Enum</T></TN><I32>1</I32></Obj>
      <Obj N="SenderDomains" RefId="2"><TNRef RefId="0" /><LST><S>smtp:contoso.com;1</S></LST></Obj>
      <Obj N="SenderIPAddresses" RefId="3"><LST><S>203.0.113.7</S></LST></Obj>
      <S N="Comment">line one_x000A_line two</S>
    </Props>
  </Obj>
  <Obj RefId="4">
    <TNRef RefId="0" />
    <Props>
      <S N="Name">Second</S>
      <Ref N="ConnectorType" RefId="1" />
      <Ref N="SenderDomains" RefId="2" />
      <Ref N="SenderIPAddresses" RefId="3" />
      <Nil N="TlsSenderCertificateName" />
    </Props>
  </Obj>
</Objs>"""
    found = imported(read_file(write(tmp_path, text), "x.xml"))
    first, second = found["InboundConnector", "First"], found["InboundConnector", "Second"]
    assert first.connector is not None and second.connector is not None
    assert first.connector.comment == "line one\nline two"
    for item in (first, second):
        fields = item.connector.managed_fields()
        assert fields["connector_type"] == "OnPremises"
        assert fields["sender_domains"] == ["contoso.com"]
        assert fields["sender_ip_addresses"] == ["203.0.113.7"]


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE Objs [
  <!ENTITY lol "lol">
  <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<Objs Version="1.1.0.1" {ns}><Obj RefId="0"><Props><S N="Name">&lol3;</S>
<S N="ConnectorType">Partner</S><S N="Comment">x</S>
<Obj N="SenderDomains"><LST><S>*</S></LST></Obj></Props></Obj></Objs>"""
EXTERNAL = """<?xml version="1.0"?>
<!DOCTYPE Objs [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Objs Version="1.1.0.1" {ns}><Obj RefId="0"><Props><S N="Name">leak</S><S N="Comment">&secret;</S>
<S N="ConnectorType">Partner</S><Obj N="SenderDomains"><LST><S>*</S></LST></Obj></Props></Obj></Objs>"""


@pytest.mark.parametrize("hostile", [BILLION_LAUGHS, EXTERNAL], ids=["billion-laughs", "external-entity"])
def test_hostile_xml_is_refused_with_a_located_error(tmp_path: Path, hostile: str) -> None:
    result = read_file(write(tmp_path, hostile.format(ns=NS)), "evil.xml")
    assert result.found == []
    assert [str(p) for p in result.problems] == [
        "evil.xml:2:1: error: refused: the file declares a DTD or entities, which Export-Clixml never writes "
        "(entity expansion and external entities are a known attack); nothing was read from it"
    ]


def test_broken_xml_and_other_xml_are_located_problems(tmp_path: Path) -> None:
    broken = read_file(write(tmp_path, f"<Objs {NS}>\n  <Obj><S N='Name'>x</Obj>\n</Objs>"), "b.xml")
    assert [str(p) for p in broken.problems] == ["b.xml:2:23: error: not valid XML: mismatched tag"]
    other = read_file(write(tmp_path, "<html><body/></html>"), "o.xml")
    assert [p.message for p in other.problems] == [
        "not a CLIXML file: the root element is <html>, not <Objs>"
    ]


_XML = st.sampled_from(
    [
        "<Obj>",
        "</Obj>",
        "<Props>",
        "</Props>",
        '<S N="Name">',
        "</S>",
        "<LST>",
        "</LST>",
        '<Ref RefId="0"/>',
        '<Obj RefId="0">',
        "<TN RefId='0'><T>System.Enum</T></TN>",
        '<TNRef RefId="9"/>',
        "<I32>",
        "</I32>",
        "<C>99999999999</C>",
        "<C>x</C>",
        "<B>",
        "</B>",
        "<Nil/>",
        "<DCT><En><S>k</S></En></DCT>",
        "_x0000_",
        "7",
        '<S N="ConnectorType">Partner</S>',
        '<Obj N="SenderDomains"><LST><S>*</S></LST></Obj>',
        "<ToString>",
        "</ToString>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_XML, max_size=30))
def test_any_clixml_gives_connectors_or_located_problems(pieces: list[str]) -> None:
    text = f'<Objs Version="1.1.0.1" {NS}>' + "".join(pieces) + "</Objs>"
    found, problems = clixml.read(text, "f.xml", {})
    assert not (found and problems)
    for item in found:
        convert(item)  # every found object converts: imported or skipped, never an exception


def test_nested_back_references_stop_at_the_expansion_budget(tmp_path: Path) -> None:
    """A 2 KB file of nested <Ref>s, each level ten times the last, took 26 s and 2.1 GB: its expansion
    stops at the budget with one problem naming the file, the object and the limit; nothing is read."""
    from bench.parsing import clixml_references

    text = clixml_references(2048)
    assert len(text) < 4096
    result = read_file(write(tmp_path, text), "export.xml")
    assert result.found == []
    [problem] = result.problems
    assert str(problem).startswith("export.xml:1:1: error: object ")
    assert f"expand to more than {clixml.MAX_EXPANDED_NODES:,} values (the limit per file" in problem.message


def test_back_references_within_the_budget_are_read() -> None:
    """A shared list referenced by several connectors is read for each of them."""
    text = f"""<Objs Version="1.1.0.1" {NS}>
  <Obj RefId="0"><Props><S N="Name">A</S>
    <Obj N="SenderDomains" RefId="1"><LST><S>smtp:a.com;1</S><S>smtp:b.com;1</S></LST></Obj>
    <S N="ConnectorType">Partner</S></Props></Obj>
  <Obj RefId="2"><Props><S N="Name">B</S><Ref N="SenderDomains" RefId="1" />
    <S N="ConnectorType">Partner</S></Props></Obj>
</Objs>"""
    found, problems = clixml.read(text, "x.xml", {})
    assert problems == []
    assert [f.properties["SenderDomains"] for f in found] == [["smtp:a.com;1", "smtp:b.com;1"]] * 2
