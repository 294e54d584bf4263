"""``exoform import`` end to end: files PowerShell and Microsoft365DSC write -> connector YAML, and the
round trip: each sample's objects seeded into a local tenant, imported from the file, then ``plan`` shows
no changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.model import from_live, rule_violations
from tests.adopt.importer.shapes import (
    FIXTURES,
    KINDS,
    SAMPLES,
    convert_to_json,
    encode,
    export_clixml,
    ps_object,
    sample,
)
from tests.adopt.importer.test_m365dsc import APPLIED, EXAMPLES


class Repo:
    """A user's repo with one local tenant ``t`` (the emulator in-process) seeded with ``seed``."""

    def __init__(self, root: Path, seed: dict[str, list[dict[str, Any]]]) -> None:
        self.root = root
        self.dir = root / "connectors"
        (root / "seed.json").write_text(json.dumps(seed))
        (root / "exoform.yaml").write_text(
            "tenants:\n  t:\n    provider: local\n    connectors: connectors\n"
            "    state: state.json\n    seed: seed.json\n"
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")])

    def import_(self, *args: str | Path) -> Result:
        return self.run("import", *(str(a) for a in args), "--tenant", "t")

    def assert_no_changes(self) -> None:
        plan = self.run("plan", "--detailed-exitcode", "--fail-on", "never")
        assert plan.exit_code == 0, plan.output
        assert "0 to create, 0 to update, 0 to delete." in plan.output


def valid_objects(name: str) -> dict[str, list[dict[str, Any]]]:
    """The sample's objects that pass the service's rules.  Evotec's inbound connector has no ConnectorType
    in its transcript; taken as Partner it breaks a rule, and a file that breaks one does not plan (it is
    checked on its own below)."""
    objects = sample(name)
    return {
        kind: [
            o
            for o in objects[kind]
            if not rule_violations(from_live(kind, {"ConnectorType": "Partner", **o}))
        ]
        for kind in KINDS
    }


def write_shape(root: Path, objects: dict[str, list[dict[str, Any]]], shape: str) -> Path:
    pairs = [(kind, obj) for kind in KINDS for obj in objects[kind]]
    if shape == "clixml":
        path = root / "connectors.xml"
        path.write_bytes(encode(export_clixml(pairs), "utf-16"))
        return path
    version, enums, encoding = {
        "ps51-json": ("5.1", "numbers", "utf-16"),
        "ps7-json": ("7", "names", "utf-8"),
    }[shape]
    report = {
        "inbound_connectors": [
            ps_object(o, version=version, enums=enums) for o in objects["InboundConnector"]
        ],
        "outbound_connectors": [
            ps_object(o, version=version, enums=enums) for o in objects["OutboundConnector"]
        ],
    }
    path = root / "connectors.json"
    path.write_bytes(encode(convert_to_json(report, version=version), encoding))
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("shape", ["ps51-json", "ps7-json", "clixml"])
@pytest.mark.parametrize("name", SAMPLES)
def test_round_trip_each_sample_then_plan_shows_no_changes(tmp_path: Path, name: str, shape: str) -> None:
    objects = valid_objects(name)
    repo = Repo(tmp_path, objects)
    result = repo.import_(write_shape(tmp_path, objects, shape))
    assert result.exit_code == 0, result.output
    count = sum(len(v) for v in objects.values())
    assert f"Imported {count} connector(s) from 1 file(s)" in result.output
    validate = repo.run("validate")
    assert validate.exit_code == 0, validate.output
    repo.assert_no_changes()


def test_round_trip_of_the_verbatim_scubagear_report(in_tmp: Path) -> None:
    repo = Repo(in_tmp, sample("scubagear-sample-provider-export"))
    result = repo.import_(FIXTURES / "powershell" / "scubagear-ProviderSettingsExport.connectors.json")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        'created   connectors/inbound-connector-test-1.yaml  InboundConnector "inbound connector test 1"'
    )
    assert (repo.dir / "inbound-connector-test-1.yaml").read_text().splitlines() == [
        "# yaml-language-server: $schema=../schemas/connector.schema.json",
        "kind: InboundConnector",
        "name: inbound connector test 1",
        "connector_type: Partner",
        "sender_domains:",
        "  - test.domain.com",
    ]
    repo.assert_no_changes()


def test_round_trip_of_the_microsoft365dsc_examples_and_update_in_place(in_tmp: Path) -> None:
    created = ["EXOInboundConnector.1-Create.ps1", "EXOOutboundConnector.1-Create.ps1"]
    seed: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for example in created:
        kind, obj = APPLIED[example]
        seed[kind].append(obj)
    repo = Repo(in_tmp, seed)
    for example in (*created, "EXOInboundConnector.2-Update.ps1", "EXOInboundConnector.3-Remove.ps1"):
        shutil.copy(EXAMPLES / example, in_tmp / example)
    result = repo.import_(*created)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "created   connectors/integration-inbound-connector.yaml  "
        'InboundConnector "Integration Inbound Connector"',
        "          from: EXOInboundConnector.1-Create.ps1:26:9",
        "created   connectors/contoso-outbound-connector.yaml  "
        'OutboundConnector "Contoso Outbound Connector"',
        "          from: EXOOutboundConnector.1-Create.ps1:18:9",
        "Imported 2 connector(s) from 2 file(s) into connectors: 2 created; 0 skipped.",
    ]
    repo.assert_no_changes()

    # The user annotates a file; the next configuration updates it in place, the comment kept.
    path = repo.dir / "integration-inbound-connector.yaml"
    path.write_text(path.read_text().replace("connector_type: Partner", "connector_type: Partner  # keep"))
    update = repo.import_("EXOInboundConnector.2-Update.ps1", "EXOInboundConnector.3-Remove.ps1")
    assert update.exit_code == 0, update.output
    assert "updated   connectors/integration-inbound-connector.yaml" in update.output
    # The outbound file declares a connector this import does not hold: that is no news for an import.
    assert "does not have" not in update.output
    assert 'skipped   InboundConnector "Integration Inbound Connector"' in update.output
    assert '          why: Ensure = "Absent": the configuration removes this connector' in update.output
    text = path.read_text()
    assert "connector_type: Partner  # keep" in text and "enabled: false" in text
    plan = repo.run("plan", "--fail-on", "never")
    assert '~ InboundConnector "Integration Inbound Connector"' in plan.output
    assert "Plan for t: 0 to create, 1 to update, 0 to delete." in plan.output


def test_report_lists_unknown_dropped_defaults_and_rule_problems(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    shutil.copy(FIXTURES / "live" / "evotec-pswindocumentation-o365.json", in_tmp / "evotec.json")
    result = repo.import_("evotec.json")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index('created   connectors/evotec-support.yaml  InboundConnector "Evotec Support"')
    assert lines[start + 1 : start + 5] == [
        "          from: evotec.json: $.InboundConnector[0]",
        "          ignored, not connector settings exoform knows: DetectSenderIPBySkippingLastIP, "
        "DetectSenderIPBySkippingTheseIPs, DetectSenderIPBySkippingTheseProviders, "
        "DetectSenderIPRecipientList",
        "          default: ConnectorType not given: Partner, the service's default",
        "          note: breaks the service's rules: "
        "cloud_services_mail_enabled needs connector_type OnPremises",
    ]
    assert "warning: 1 connector(s) were not imported whole or break the service's rules" in result.output
    assert repo.run("validate").exit_code == 1  # the file says what is wrong until the user fixes it


def test_the_same_connector_twice_is_imported_once(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    obj = {"Name": "Relay", "ConnectorType": "Partner", "SenderDomains": ["smtp:*;1"], "RequireTls": True}
    (in_tmp / "a.json").write_text(json.dumps(obj))
    (in_tmp / "b.json").write_text(json.dumps({**obj, "Name": "relay", "Enabled": False}))
    result = repo.import_("a.json", "b.json")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[2:5] == [
        'skipped   InboundConnector "relay"',
        "          from: b.json: $",
        "          why: the same connector is imported from a.json: $",
    ]
    assert [p.name for p in repo.dir.iterdir()] == ["relay.yaml"]


def test_an_unreadable_file_stops_the_import_with_nothing_written(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    (in_tmp / "good.json").write_text(
        json.dumps({"Name": "A", "ConnectorType": "Partner", "SenderDomains": "*"})
    )
    (in_tmp / "evil.xml").write_text(
        '<!DOCTYPE Objs [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<Objs><Obj><Props><S N="Name">&x;</S></Props></Obj></Objs>'
    )
    (in_tmp / "cfg.ps1").write_text('EXOInboundConnector "x"\n{\n    Identity = Get-Name\n}\n')
    result = repo.import_("good.json", "evil.xml", "cfg.ps1")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "evil.xml:1:1: error: refused: the file declares a DTD or entities, which Export-Clixml never writes "
        "(entity expansion and external entities are a known attack); nothing was read from it",
        "cfg.ps1:3:16: error: cannot read 'Get-Name' as a value without running PowerShell "
        "(expected a string, $true/$false, a number, @(...) or a $variable)",
        "error: 2 of 3 file(s) could not be read; nothing was written",
    ]
    assert not repo.dir.exists()


def test_dsc_references_take_var_values(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    (in_tmp / "cfg.ps1").write_text(
        "EXOOutboundConnector 'x'\n{\n"
        '    Identity = "To $OrganizationName"\n'
        "    RecipientDomains = $ConfigurationData.NonNodeData.PartnerDomain\n"
        "    ConnectorType = 'Partner'\n}\n"
    )
    missing = repo.import_("cfg.ps1")
    assert missing.exit_code == 1  # nothing could be imported
    assert "why: its name is an unresolved reference; give it with --var" in missing.output
    given = repo.import_(
        "cfg.ps1",
        "--var",
        "OrganizationName=Contoso",
        "--var",
        "$ConfigurationData.NonNodeData.PartnerDomain=fabrikam.com",
    )
    assert given.exit_code == 0, given.output
    text = (repo.dir / "to-contoso.yaml").read_text()
    assert "name: To Contoso\n" in text and "  - fabrikam.com\n" in text
    bad = repo.import_("cfg.ps1", "--var", "novalue")
    assert bad.exit_code == 1
    assert "error: --var novalue: expected NAME=VALUE" in bad.output


def test_untrusted_text_is_escaped_before_the_terminal(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    obj = {"Name": "Evil\x1b[2J\x9b31m", "ConnectorType": "Partner", "SenderDomains": ["*"], "Odd\x07Key": 1}
    (in_tmp / "x.json").write_text(json.dumps(obj))
    result = repo.import_("x.json")
    assert result.exit_code == 1, result.output  # the service refuses control characters in a name
    assert "\x1b" not in result.output and "\x9b" not in result.output and "\x07" not in result.output
    assert 'InboundConnector "Evil\\x1b[2J\\x9b31m"' in result.output
    assert "ignored, not connector settings exoform knows: Odd\\x07Key" in result.output


def test_import_is_listed_and_an_unknown_tenant_is_named(in_tmp: Path) -> None:
    assert "import" in CliRunner().invoke(cli, ["--help"]).output
    repo = Repo(in_tmp, {})
    (in_tmp / "x.json").write_text("{}")
    result = repo.run("import", "x.json", "--tenant", "tt")
    assert result.exit_code == 1
    assert "error: unknown tenant 'tt' (did you mean 't'?)" in result.output


def test_a_value_no_file_can_hold_is_not_written_and_is_reported(in_tmp: Path) -> None:
    """As export does: a connector whose value validate refuses is skipped with the field and value named,
    never written into a file that fails validate; nothing imported is a failure."""
    repo = Repo(in_tmp, {})
    obj = {
        "Name": "Filter",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:*;1"],
        "EFSkipIPs": ["10.0.0.1"],
    }
    (in_tmp / "x.json").write_text(json.dumps(obj))
    result = repo.import_("x.json")
    assert result.exit_code == 1, result.output
    assert 'skipped   -  InboundConnector "Filter"' in result.output
    assert "note: ef_skip_ips: '10.0.0.1' cannot be written back: '10.0.0.1' is a private" in result.output
    assert (
        "Imported 0 connector(s) from 1 file(s) into connectors: nothing written; 1 skipped." in result.output
    )
    assert not (repo.dir / "filter.yaml").exists()


def test_microsoft365dsc_test_mocks_import_and_the_valid_one_round_trips(in_tmp: Path) -> None:
    mocks = json.loads((FIXTURES / "m365dsc" / "test-mocks.json").read_text())
    valid = mocks["InboundConnector"][0]
    repo = Repo(in_tmp, {"InboundConnector": [{"Name": valid["Identity"], **valid}]})
    shutil.copy(FIXTURES / "m365dsc" / "test-mocks.json", in_tmp / "mocks.json")
    result = repo.import_("mocks.json")
    assert result.exit_code == 0, result.output
    out = result.output
    assert 'created   connectors/testinboundconnector.yaml  InboundConnector "TestInboundConnector"' in out
    assert "note: created by the Hybrid Configuration Wizard (ConnectorSource HybridWizard)" in out
    assert "why: the same connector is imported from mocks.json: $.InboundConnector[0]" in out
    assert (
        "note: breaks the service's rules: tls_domain is only allowed with tls_settings DomainValidation"
        in out
    )
    # The synthetic outbound mock breaks a rule; without it the tenant's inbound connector plans clean.
    (repo.dir / "testoutboundconnector.yaml").unlink()
    repo.assert_no_changes()


def test_nothing_written_whole_and_valid_is_a_failure(in_tmp: Path) -> None:
    """Lists cut short by ConvertTo-Json's default depth: the connector is written with what could be read,
    but nothing valid came of the import, so it exits 1 (a CI step running it must fail)."""
    repo = Repo(in_tmp, {})
    obj = {
        "Name": "Filter",
        "ConnectorType": "Partner",
        "SenderDomains": "System.Object[]",
        "RequireTls": True,
    }
    (in_tmp / "x.json").write_text(json.dumps(obj))
    result = repo.import_("x.json")
    assert result.exit_code == 1, result.output
    assert "not imported: SenderDomains: cut short by ConvertTo-Json" in result.output
    assert "error: no connector was imported whole and valid; fix the files above" in result.output


def test_a_connector_given_where_a_file_is_expected_points_to_export(in_tmp: Path) -> None:
    repo = Repo(in_tmp, {})
    result = repo.import_("InboundConnector/From partner")
    assert result.exit_code == 1
    assert (
        "error: InboundConnector/From partner is not a file but a connector of a tenant: import reads files "
        "that PowerShell or Microsoft365DSC wrote; to write a tenant's connector as a file, run exoform "
        "export --tenant t --target 'InboundConnector/From partner'"
    ) in result.output


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_blocking(in_tmp: Path) -> None:
    import os

    repo = Repo(in_tmp, {})
    os.mkfifo(in_tmp / "pipe.json")
    result = repo.import_("pipe.json")
    assert result.exit_code == 1
    assert (
        "pipe.json:1:1: error: cannot read file: it is a named pipe (FIFO), not a regular file"
        in result.output
    )
