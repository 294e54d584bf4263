"""``exoform export``: live connectors -> YAML files, and the round-trip guarantee.

The tenants are local ones (the emulator in-process, state in a JSON file) seeded with realistic
connectors; each test goes through the CLI with real files in a temporary folder.
"""

from __future__ import annotations

import json
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reconciler.adopt.exporter import document_values, export_connectors, make_yaml, slugify
from reconciler.cli import cli
from reconciler.desired.connectors import load_connector_documents, load_tenant
from reconciler.desired.loader import load_config
from reconciler.live import LiveConnector
from reconciler.model import from_live
from tests.wiring import fake_time

#: Get-*Connector objects as tenants hold them: admin-center connectors (ConnectorSource AdminUI), the
#: hybrid wizard's pair, a test-mode outbound connector, a transport-rule-scoped signature service, an
#: inbound and an outbound connector whose names give one file name.  Every one passes the service's rules.
INBOUND: list[dict[str, Any]] = [
    {
        "Name": "Proofpoint Essentials inbound",
        "ConnectorType": "Partner",
        "ConnectorSource": "AdminUI",
        "Comment": "Created in the admin center: mail from Proofpoint only",
        "SenderDomains": ["smtp:*;1"],
        "SenderIPAddresses": ["67.231.152.0/24", "67.231.153.0/24", "148.163.128.0/24"],
        "RestrictDomainsToIPAddresses": True,
        "EFSkipLastIP": True,
        "RequireTls": True,
    },
    {
        "Name": "Inbound from 4f1a8c2e-1b2d-4c3e-9f00-1234567890ab",
        "ConnectorType": "OnPremises",
        "ConnectorSource": "HybridWizard",
        "Comment": "",
        "SenderDomains": ["smtp:*;1"],
        "TlsSenderCertificateName": "mail.contoso.com",
        "CloudServicesMailEnabled": True,
        "RequireTls": True,
    },
    {
        "Name": "Barracuda inbound",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:*;1"],
        "SenderIPAddresses": ["209.222.80.0/24", "209.222.81.0/24"],
        "RestrictDomainsToIPAddresses": True,
        "EFSkipLastIP": True,
        "Enabled": False,
        "AssociatedAcceptedDomains": ["contoso.com"],
    },
    {
        "Name": "Proofpoint",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:fabrikam.com;1", "smtp:*.contoso.com;1"],
        "TrustedOrganizations": ["fabrikam.onmicrosoft.com"],
        "ClientHostNames": ["mx.fabrikam.com"],
    },
]

OUTBOUND: list[dict[str, Any]] = [
    {
        "Name": "Outbound to 4f1a8c2e-1b2d-4c3e-9f00-1234567890ab",
        "ConnectorType": "OnPremises",
        "ConnectorSource": "HybridWizard",
        "RecipientDomains": ["contoso.com", "fabrikam.com"],
        "SmartHosts": ["mail.contoso.com"],
        "UseMXRecord": False,
        "TlsSettings": "DomainValidation",
        "TlsDomain": "mail.contoso.com",
        "CloudServicesMailEnabled": True,
    },
    {
        "Name": "Mimecast outbound (pilot)",
        "ConnectorType": "Partner",
        "ConnectorSource": "AdminUI",
        "RecipientDomains": ["*"],
        "SmartHosts": ["eu-smtp-o365-outbound-1.mimecast.com", "eu-smtp-o365-outbound-2.mimecast.com"],
        "UseMXRecord": False,
        "TlsSettings": "CertificateValidation",
        "TestMode": True,
        "Comment": 'Pilot: "test mode" until the cut-over\nthen enable',
    },
    {
        "Name": "Exclaimer signatures",
        "ConnectorType": "OnPremises",
        "IsTransportRuleScoped": True,
        "SmartHosts": ["smtp.eu1.exclaimer.net"],
        "UseMXRecord": False,
        "TlsSettings": "DomainValidation",
        "TlsDomain": "smtp.eu1.exclaimer.net",
        "CloudServicesMailEnabled": True,
        "SmtpDaneMode": "None",
        "MtaStsMode": "None",
        "ValidationRecipients": ["postmaster@contoso.com"],
    },
    {
        # one directory container holds both kinds, so no tenant has an outbound "Proofpoint" too; a
        # name of the same slug still needs kind-prefixed file names
        "Name": "Proofpoint!",
        "ConnectorType": "Partner",
        "RecipientDomains": ["*"],
        "SmartHosts": ["outbound-us1.ppe-hosted.com"],
        "UseMXRecord": False,
        "TlsSettings": "CertificateValidation",
    },
]


class Repo:
    """A user's repo with one local tenant ``t`` seeded with the connectors above."""

    def __init__(self, root: Path, seed: dict[str, list[dict[str, Any]]] | None = None) -> None:
        self.root = root
        self.dir = root / "connectors"
        (root / "seed.json").write_text(
            json.dumps(seed or {"InboundConnector": INBOUND, "OutboundConnector": OUTBOUND})
        )
        (root / "exoform.yaml").write_text(
            "tenants:\n  t:\n    provider: local\n    connectors: connectors\n"
            "    state: state.json\n    seed: seed.json\n"
        )

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())

    def export(self) -> Result:
        result = self.run("export", "--tenant", "t")
        assert result.exit_code == 0, result.output
        return result

    def assert_no_changes(self) -> None:
        plan = self.run("plan", "--detailed-exitcode", "--fail-on", "never")
        assert plan.exit_code == 0, plan.output
        assert "0 to create, 0 to update, 0 to delete." in plan.output

    def write(self, name: str, text: str) -> Path:
        self.dir.mkdir(exist_ok=True)
        path = self.dir / name
        path.write_text(textwrap.dedent(text))
        return path


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_export_then_plan_shows_no_changes(repo: Repo) -> None:
    result = repo.export()
    assert "Exported 8 connector(s) of t" in result.output
    assert "8 created" in result.output
    repo.assert_no_changes()
    drift = repo.run("drift")
    assert drift.exit_code == 0, drift.output


def test_file_names_header_and_only_non_default_fields(repo: Repo) -> None:
    repo.export()
    names = sorted(p.name for p in repo.dir.iterdir())
    assert names == [
        "barracuda-inbound.yaml",
        "exclaimer-signatures.yaml",
        "inbound-from-4f1a8c2e-1b2d-4c3e-9f00-1234567890ab.yaml",
        "inbound-proofpoint.yaml",  # an inbound "Proofpoint" and an outbound "Proofpoint!": kind-prefixed
        "mimecast-outbound-pilot.yaml",
        "outbound-proofpoint.yaml",
        "outbound-to-4f1a8c2e-1b2d-4c3e-9f00-1234567890ab.yaml",
        "proofpoint-essentials-inbound.yaml",
    ]
    text = (repo.dir / "barracuda-inbound.yaml").read_text()
    assert text.splitlines()[0] == "# yaml-language-server: $schema=../schemas/connector.schema.json"
    assert text.splitlines()[1:] == [
        "kind: InboundConnector",
        "name: Barracuda inbound",
        "connector_type: Partner",
        "enabled: false",
        "sender_domains:",
        "  - '*'",
        "sender_ip_addresses:",
        "  - 209.222.80.0/24",
        "  - 209.222.81.0/24",
        "associated_accepted_domains:",
        "  - contoso.com",
        "ef_skip_last_ip: true",
        "restrict_domains_to_ip_addresses: true",
    ]
    pilot = (repo.dir / "mimecast-outbound-pilot.yaml").read_text()
    assert "test_mode: true" in pilot
    hybrid = (repo.dir / "outbound-to-4f1a8c2e-1b2d-4c3e-9f00-1234567890ab.yaml").read_text()
    assert "Hybrid Configuration Wizard" in hybrid.splitlines()[1]


def test_export_twice_changes_nothing(repo: Repo) -> None:
    repo.export()
    before = {p.name: p.read_text() for p in repo.dir.iterdir()}
    again = repo.export()
    assert "8 unchanged" in again.output
    assert {p.name: p.read_text() for p in repo.dir.iterdir()} == before


def test_in_place_update_keeps_comments_order_and_other_documents(repo: Repo) -> None:
    path = repo.write(
        "routing.yaml",
        """\
        # Outbound routing, owned by the mail team.
        kind: OutboundConnector
        name: proofpoint!          # lower case on purpose
        connector_type: Partner
        use_mx_record: false
        # the relay we send through
        smart_hosts:
          - old-relay.example.net
        recipient_domains: ["*"]
        tls_settings: EncryptionOnly   # weak, fixed in the tenant already
        skip_checks:
          - rule: EXO-OUT-002
            reason: kept for the audit trail
        ---
        # A connector the tenant does not have yet.
        kind: InboundConnector
        name: Future partner
        connector_type: Partner
        sender_domains: [partner.example.org]
        """,
    )
    result = repo.export()
    assert "updated" in result.output and "routing.yaml" in result.output
    assert "declares InboundConnector 'Future partner', which the tenant does not have" in result.output
    text = path.read_text()
    assert text.startswith("# Outbound routing, owned by the mail team.\nkind: OutboundConnector\n")
    assert "name: Proofpoint!          # lower case on purpose" in text
    assert "# the relay we send through\nsmart_hosts:\n  - outbound-us1.ppe-hosted.com\n" in text
    assert "tls_settings: CertificateValidation # weak, fixed in the tenant already" in text
    assert "reason: kept for the audit trail" in text
    assert "# A connector the tenant does not have yet.\nkind: InboundConnector\nname: Future partner" in text
    keys = [line.split(":")[0] for line in text.split("---")[0].splitlines() if line and line[0].isalpha()]
    assert keys == [
        "kind",
        "name",
        "connector_type",
        "use_mx_record",
        "smart_hosts",
        "recipient_domains",
        "tls_settings",
        "skip_checks",
    ]
    assert not (repo.dir / "outbound-proofpoint.yaml").exists()
    plan = repo.run("plan", "--detailed-exitcode", "--fail-on", "never")
    assert plan.exit_code == 2, plan.output  # only the connector the tenant does not have
    assert "Plan for t: 1 to create, 0 to update, 0 to delete." in plan.output
    # A targeted export writes only the connectors it names: the files' other connectors are neither
    # "missing from the tenant" nor touched.
    targeted = repo.run("export", "--tenant", "t", "--target", "OutboundConnector/Proofpoint*")
    assert targeted.exit_code == 0, targeted.output
    assert "does not have" not in targeted.output


def test_a_file_declaring_another_connector_is_never_overwritten(repo: Repo) -> None:
    theirs = """\
        kind: OutboundConnector
        name: Something else
        connector_type: Partner
        recipient_domains: [example.org]
        """
    taken = repo.write("outbound-proofpoint.yaml", theirs)
    broken = repo.write("barracuda-inbound.yaml", "kind: [unclosed\n")
    result = repo.export()
    assert taken.read_text() == textwrap.dedent(theirs)
    assert broken.read_text() == "kind: [unclosed\n"
    assert (
        "outbound-proofpoint.yaml declares OutboundConnector 'Something else'; "
        "wrote outbound-proofpoint-2.yaml" in result.output
    )
    assert "barracuda-inbound.yaml cannot be read as YAML; wrote barracuda-inbound-2.yaml" in result.output
    assert "name: Proofpoint" in (repo.dir / "outbound-proofpoint-2.yaml").read_text()
    assert "name: Barracuda inbound" in (repo.dir / "barracuda-inbound-2.yaml").read_text()


def test_a_file_the_loader_refuses_is_left_untouched_with_the_located_reason(repo: Repo) -> None:
    """Existing files are read as validate reads them: one it refuses (here a duplicate key, or a tag
    that would build an object) is never rewritten, and the report says where the problem is."""
    duplicate = "kind: OutboundConnector\nname: Proofpoint\nname: Proofpoint\n"
    dup = repo.write("dup.yaml", duplicate)
    tagged = repo.write("tagged.yaml", "kind: !!python/name:os.system InboundConnector\n")
    result = repo.export()
    assert dup.read_text() == duplicate
    assert tagged.read_text() == "kind: !!python/name:os.system InboundConnector\n"
    output = " ".join(result.output.split())
    assert (
        "dup.yaml: left untouched, it cannot be read as YAML "
        "(line 3, column 1: duplicate key 'name' (first at line 2, column 1))" in output
    )
    assert "tagged.yaml: left untouched, it cannot be read as YAML (line 1, column 7: YAML tag" in output
    assert "name: Proofpoint" in (repo.dir / "outbound-proofpoint.yaml").read_text()


def test_a_connector_breaking_the_rules_is_exported_with_a_comment(tmp_path: Path) -> None:
    broken = {
        "Name": "Half-configured relay",
        "Guid": "0b0b0b0b-0000-4000-8000-000000000001",
        "ConnectorType": "Partner",
        "RecipientDomains": ["*"],
        "UseMXRecord": False,
        "SmartHosts": [],
    }
    live = LiveConnector(
        kind="OutboundConnector",
        name=broken["Name"],
        guid=broken["Guid"],
        connector=from_live("OutboundConnector", broken),
        raw=broken,
    )
    folder = tmp_path / "connectors"
    report = export_connectors([live], folder, schema=tmp_path / "schemas" / "connector.schema.json")
    assert not report.round_trip
    (item,) = report.connectors
    assert item.action == "created"
    assert item.notes == (
        "breaks the service's rules: use_mx_record false needs at least one entry in smart_hosts",
    )
    text = (folder / "half-configured-relay.yaml").read_text()
    assert "use_mx_record: false  # exoform export: breaks the service's rules: use_mx_record false" in text
    assert "exoform validate and plan reject this file until it is fixed" in text
    loaded, problems = load_connector_documents(folder / "half-configured-relay.yaml")
    assert loaded == []
    assert [(p.location.line, p.message) for p in problems] == [
        (9, "use_mx_record false needs at least one entry in smart_hosts")
    ]


def test_document_values_round_trip_every_seeded_connector() -> None:
    for kind, objects in (("InboundConnector", INBOUND), ("OutboundConnector", OUTBOUND)):
        for obj in objects:
            connector = from_live(kind, obj)  # type: ignore[arg-type]
            doc = document_values(connector)
            assert list(doc)[:3] == ["kind", "name", "connector_type"]
            again = type(connector).model_validate(doc)
            owned = again.unset_service_owned()  # never exported: service-owned, not managed
            kept = {k: v for k, v in connector.managed_fields().items() if k not in owned}
            assert {k: v for k, v in again.managed_fields().items() if k not in owned} == kept


def test_slugify() -> None:
    assert slugify("Inbound from Contoso (on-premises)") == "inbound-from-contoso-on-premises"
    assert slugify("Relay: ünïcode ✉ 2") == "relay-n-code-2"
    assert slugify("!!!") == "connector"


def test_export_unknown_tenant_and_unreadable_tenant(repo: Repo) -> None:
    unknown = repo.run("export", "--tenant", "tt")
    assert unknown.exit_code == 1
    assert "unknown tenant 'tt' (did you mean 't'?)" in unknown.output
    (repo.root / "seed.json").write_text("{not json")
    broken = repo.run("export", "--tenant", "t")
    assert broken.exit_code == 1
    assert "seed.json" in broken.output
    assert not repo.dir.exists() or not any(repo.dir.iterdir())


def test_loaded_round_trip_uses_the_tenant_loader(repo: Repo) -> None:
    repo.export()
    config = load_config(repo.root / "exoform.yaml")
    desired = load_tenant(config, "t")
    assert len(desired.connectors) == 8


def test_names_that_slugify_alike_and_a_pending_rename(tmp_path: Path) -> None:
    seed = {
        "InboundConnector": [
            {"Name": "From Partner", "ConnectorType": "Partner", "SenderDomains": ["smtp:a.example.com;1"]},
            {"Name": "from-partner", "ConnectorType": "Partner", "SenderDomains": ["smtp:b.example.com;1"]},
            {"Name": "Old relay", "ConnectorType": "Partner", "SenderDomains": ["smtp:c.example.com;1"]},
        ]
    }
    repo = Repo(tmp_path, seed)
    renamed = repo.write(
        "relay.yaml",
        """\
        kind: InboundConnector
        name: New relay
        renamed_from: [Old relay]
        connector_type: Partner
        sender_domains: [c.example.com]
        """,
    )
    before = renamed.read_text()
    result = repo.export()
    assert (
        "from-partner.yaml declares InboundConnector 'From Partner'; wrote from-partner-2.yaml"
        in result.output
    )
    assert "skipped" in result.output and "renames this connector (renamed_from)" in result.output
    assert renamed.read_text() == before
    assert sorted(p.name for p in repo.dir.iterdir()) == [
        "from-partner-2.yaml",
        "from-partner.yaml",
        "relay.yaml",
    ]
    plan = repo.run("plan", "--detailed-exitcode", "--fail-on", "never")
    assert plan.exit_code == 2  # only the pending rename
    assert 'renamed from "Old relay"' in plan.output
    assert "Plan for t: 0 to create, 1 to update, 0 to delete." in plan.output


_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from("\n\t\r\x85\u2028\"'#:-*&!%@`|>"),
    max_size=80,
)


def _name_ok(s: str) -> bool:
    # The service refuses control characters in names (so does validate): a live name never holds one.
    printable = not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in s)
    return printable and len(s.strip()) > 0 and len(s) <= 64 and s == s.strip()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_TEXT.filter(_name_ok), comment=_TEXT)
@example(name="0\u20280", comment="")  # a line separator in the name must not be read back as a space
@example(name="0", comment="a\x85b")  # a NEL was written single-quoted and read back as a space
def test_any_name_and_comment_survive_the_round_trip(tmp_path: Path, name: str, comment: str) -> None:
    obj = {"Name": name, "Guid": "0b0b0b0b-0000-4000-8000-000000000002", "ConnectorType": "Partner"}
    obj |= {"RecipientDomains": ["*"], "Comment": comment}
    live = LiveConnector("OutboundConnector", name, obj["Guid"], from_live("OutboundConnector", obj), obj)
    folder = tmp_path / f"case-{abs(hash((name, comment)))}"
    report = export_connectors([live], folder, schema=tmp_path / "connector.schema.json")
    (item,) = report.connectors
    assert item.path is not None
    loaded, problems = load_connector_documents(item.path)
    assert problems == []
    assert loaded[0].connector.managed_fields() == live.connector.managed_fields()


def test_make_yaml_round_trips_comments_and_quotes() -> None:
    text = "# head\nkind: InboundConnector  # why\nsender_domains:\n  - '*'\n"
    yaml = make_yaml()
    data = yaml.load(text)
    out = StringIO()
    yaml.dump(data, out)
    assert out.getvalue() == text


# -- whatever exoform reads, it can export, validate and plan with zero changes (issue 13) --------------

READ_BACK_FORMS: dict[str, list[dict[str, Any]]] = {
    "InboundConnector": [
        {
            "Name": "Filter in",
            "ConnectorType": "Partner",
            "SenderDomains": ["smtp:*;1"],
            "SenderIPAddresses": ["198.51.100.1-198.51.100.30"],
            "RestrictDomainsToIPAddresses": True,
            "EFSkipIPs": ["2001:db8::25", "198.51.100.0/27"],
            "RequireTls": True,
        },
        {
            "Name": "App by certificate",
            "ConnectorType": "OnPremises",
            "SenderDomains": ["smtp:*;1"],
            "TlsSenderCertificateName": "<I>CN=R3, O=Let's Encrypt, C=US<S>CN=mail.contoso.com",
            "RequireTls": True,
        },
    ],
    "OutboundConnector": [
        {
            "Name": "Relay by IP",
            "ConnectorType": "Partner",
            "RecipientDomains": ["fabrikam.com"],
            "UseMXRecord": False,
            "SmartHosts": ["[192.0.2.25]", "[2001:db8::25]", "relay_1.fabrikam.com"],
            "TlsSettings": "CertificateValidation",
            # written by the admin center's validation: service-owned
            "ValidationRecipients": ["postmaster@fabrikam.com"],
            "IsValidated": True,
            "LastValidationTimestamp": "2026-07-24T18:59:12.0000000",
        }
    ],
}


def test_read_back_forms_export_validate_and_plan_with_zero_changes(tmp_path: Path) -> None:
    repo = Repo(tmp_path, READ_BACK_FORMS)
    result = repo.export()
    assert "3 created" in result.output and "warning" not in result.output
    text = (repo.dir / "relay-by-ip.yaml").read_text()
    assert "validation_recipients" not in text  # service-owned: never exported
    assert "- 192.0.2.25\n" in text and "- 2001:db8::25\n" in text and "- relay_1.fabrikam.com\n" in text
    validate = repo.run("validate")
    assert validate.exit_code == 0, validate.output
    repo.assert_no_changes()


def test_a_value_no_file_can_hold_is_not_exported_and_the_report_says_which(tmp_path: Path) -> None:
    odd = {
        "Name": "Legacy filter",
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:*;1"],
        "EFSkipIPs": ["10.1.2.3", "203.0.113.9"],  # a private address an older service let in
    }
    repo = Repo(tmp_path, {"InboundConnector": [odd], "OutboundConnector": []})
    result = repo.export()
    assert 'skipped   -  InboundConnector "Legacy filter"' in result.output
    assert "note: ef_skip_ips: '10.1.2.3' cannot be written back: '10.1.2.3' is a private" in result.output
    assert "warning: some connectors break the service's rules or were skipped" in result.output
    assert not repo.dir.exists() or list(repo.dir.iterdir()) == []


def _outbound_live(name: str, guid: str) -> LiveConnector:
    obj = {"Name": name, "Guid": guid, "ConnectorType": "Partner", "RecipientDomains": ["*"]}
    return LiveConnector("OutboundConnector", name, guid, from_live("OutboundConnector", obj), obj)


@pytest.mark.parametrize(
    ("name", "file"),
    [("CON", "con-connector.yaml"), ("nul.", "nul-connector.yaml"), ("Lpt1 ", "lpt1-connector.yaml")],
)
def test_export_never_writes_a_name_windows_reserves(tmp_path: Path, name: str, file: str) -> None:
    report = export_connectors(
        [_outbound_live(name, "0b0b0b0b-0000-4000-8000-000000000003")], tmp_path, schema=tmp_path / "s.json"
    )
    (item,) = report.connectors
    assert item.path == tmp_path / file


def test_export_refuses_connectors_whose_names_differ_only_in_case(tmp_path: Path) -> None:
    from reconciler.errors import ExoformError

    live = [
        _outbound_live("Relay", "0b0b0b0b-0000-4000-8000-000000000004"),
        _outbound_live("RELAY", "0b0b0b0b-0000-4000-8000-000000000005"),
    ]
    with pytest.raises(ExoformError, match="'Relay' and OutboundConnector 'RELAY' differ only in case"):
        export_connectors(live, tmp_path / "out", schema=tmp_path / "s.json")
    assert not (tmp_path / "out").exists()


def test_export_gives_connectors_whose_slugs_collide_files_of_their_own(tmp_path: Path) -> None:
    live = [
        _outbound_live("Relay A", "0b0b0b0b-0000-4000-8000-000000000006"),
        _outbound_live("relay-a", "0b0b0b0b-0000-4000-8000-000000000007"),
    ]
    report = export_connectors(live, tmp_path, schema=tmp_path / "s.json")
    assert sorted(p.name for p in tmp_path.glob("*.yaml")) == ["relay-a-2.yaml", "relay-a.yaml"]
    assert len({item.path for item in report.connectors}) == 2


def test_a_blank_sender_domain_is_exported_validates_and_plans_no_changes(tmp_path: Path) -> None:
    """The service stores an empty SenderDomains entry as ``smtp:;1`` (a real tenant, a vendor's
    template): export writes it as ``""``, which validates, plans no change, and applies as the blank."""
    blank = {"Name": "Vendor template", "ConnectorType": "Partner", "SenderDomains": ["smtp:;1"]}
    repo = Repo(tmp_path, {"InboundConnector": [blank], "OutboundConnector": []})
    result = repo.export()
    assert "1 created" in result.output and "warning" not in result.output
    text = (repo.dir / "vendor-template.yaml").read_text()
    assert "sender_domains:\n  - ''\n" in text
    validate = repo.run("validate")
    assert validate.exit_code == 0, validate.output
    repo.assert_no_changes()
    # Applied to a tenant that does not have it, the file creates the same blank entry.
    (tmp_path / "state.json").unlink()
    (tmp_path / "seed.json").write_text(json.dumps({"InboundConnector": [], "OutboundConnector": []}))
    applied = repo.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    state = json.loads((tmp_path / "state.json").read_text())
    assert "smtp:;1" in json.dumps(state)
    repo.assert_no_changes()
