"""Scenario tests of `exoform plan` and `exoform apply` through the CLI against the local provider.

Each test writes a repo (exoform.yaml + connector files) in a temporary folder; the tenant is the
emulator, in-process, with its state in a JSON file, exactly as a user's `provider: local` tenant.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired.config import ExoformConfig
from reconciler.desired.loader import load_config
from reconciler.providers.registry import open_provider
from tests.wiring import fake_time


class Repo:
    """A user's repo: exoform.yaml with one local tenant `t`, and its connector folder."""

    def __init__(self, root: Path, **policy: Any) -> None:
        self.root = root
        self.dir = root / "connectors"
        self.dir.mkdir(parents=True)
        self.state = root / "state.json"
        lines = [
            "tenants:",
            "  t:",
            "    provider: local",
            "    connectors: connectors",
            "    state: state.json",
        ]
        lines += [f"    {k}: {json.dumps(v)}" for k, v in policy.items()]
        (root / "exoform.yaml").write_text("\n".join(lines) + "\n")

    def write(self, name: str, text: str) -> None:
        (self.dir / name).write_text(textwrap.dedent(text))

    def remove(self, name: str) -> None:
        (self.dir / name).unlink()

    def run(self, *args: str, input: str | None = None) -> Result:
        config = ["--config", str(self.root / "exoform.yaml")]
        return CliRunner().invoke(cli, [*args, *config], input=input, obj=fake_time())

    def live(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The tenant's connectors as the emulator stores them, by (kind, name)."""
        data = json.loads(self.state.read_text())
        return {(k, o["Name"]): o for k in ("InboundConnector", "OutboundConnector") for o in data.get(k, [])}

    def provider(self) -> Any:
        config: ExoformConfig = load_config(self.root / "exoform.yaml")
        return open_provider("t", config.tenants["t"], config)

    def plan_and_apply(self) -> Result:
        plan = self.run("plan", "--out", str(self.root / "plan.json"))
        assert plan.exit_code == 0, plan.output
        return self.run("apply", str(self.root / "plan.json"))


RELAY = """\
    kind: InboundConnector
    name: Printer relay
    connector_type: OnPremises
    sender_domains: [contoso.com]
    sender_ip_addresses: [203.0.113.10]
"""
FILTER_OUT = """\
    kind: OutboundConnector
    name: To filter
    connector_type: Partner
    recipient_domains: ["*"]
    use_mx_record: false
    smart_hosts: [smtp.filter.example.net]
    tls_settings: CertificateValidation
"""


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    return Repo(tmp_path)


def test_create_then_apply_then_no_changes(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    repo.write("out.yaml", FILTER_OUT)
    first = repo.run("plan", "--detailed-exitcode", "--out", str(repo.root / "plan.json"))
    assert first.exit_code == 2, first.output
    assert '+ InboundConnector "Printer relay"' in first.output
    assert "Plan for t: 2 to create, 0 to update, 0 to delete." in first.output
    applied = repo.run("apply", str(repo.root / "plan.json"))
    assert applied.exit_code == 0, applied.output
    assert 't: created InboundConnector "Printer relay"' in applied.output
    assert "Apply for t: 2 applied." in applied.output
    live = repo.live()
    assert live[("InboundConnector", "Printer relay")]["SenderIPAddresses"] == ["203.0.113.10"]
    assert live[("OutboundConnector", "To filter")]["TlsSettings"] == "CertificateValidation"
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes" in again.output


def test_update_of_every_field_type_converges(repo: Repo) -> None:
    repo.write("out.yaml", FILTER_OUT)
    assert repo.plan_and_apply().exit_code == 0
    repo.write(
        "out.yaml",
        """\
        kind: OutboundConnector
        name: To filter
        connector_type: Partner
        comment: now with a comment          # string
        enabled: false                       # bool
        recipient_domains: ["fabrikam.com", "*.fabrikam.com"]   # list
        use_mx_record: false
        smart_hosts: [smtp.filter.example.net, 192.0.2.25]
        tls_settings: DomainValidation       # enum
        tls_domain: smtp.filter.example.net  # optional string
        smtp_dane_mode: Mandatory
        """,
    )
    plan = repo.run("plan")
    assert plan.exit_code == 0, plan.output
    for text in (
        "comment",
        "enabled",
        "true -> false",
        '+"192.0.2.25"',
        '-"*"',
        '"CertificateValidation" -> "DomainValidation"',
        "tls_domain",
        'null -> "smtp.filter.example.net"',
    ):
        assert text in plan.output, text
    assert repo.plan_and_apply().exit_code == 0
    obj = repo.live()[("OutboundConnector", "To filter")]
    assert obj["Enabled"] is False and obj["TlsDomain"] == "smtp.filter.example.net"
    assert sorted(obj["RecipientDomains"]) == ["*.fabrikam.com", "fabrikam.com"]
    assert obj["SmtpDaneMode"] == "Mandatory"
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_rename_keeps_the_connector(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    assert repo.plan_and_apply().exit_code == 0
    guid = repo.live()[("InboundConnector", "Printer relay")]["Guid"]
    repo.write(
        "relay.yaml",
        RELAY.replace("name: Printer relay", "name: Device relay\n    renamed_from: [Printer relay]"),
    )
    plan = repo.run("plan")
    assert '~ InboundConnector "Device relay" (renamed from "Printer relay")' in plan.output
    assert "0 to create, 1 to update, 0 to delete" in plan.output
    assert repo.plan_and_apply().exit_code == 0
    live = repo.live()
    assert ("InboundConnector", "Printer relay") not in live
    assert live[("InboundConnector", "Device relay")]["Guid"] == guid


@pytest.mark.parametrize("target", ["InboundConnector/Printer relay", "InboundConnector/Device relay"])
def test_a_targeted_rename_under_unmanaged_delete_never_deletes(tmp_path: Path, target: str) -> None:
    repo = Repo(tmp_path, unmanaged="delete")
    repo.write("relay.yaml", RELAY)
    assert repo.plan_and_apply().exit_code == 0
    guid = repo.live()[("InboundConnector", "Printer relay")]["Guid"]
    repo.write(
        "relay.yaml",
        RELAY.replace("name: Printer relay", "name: Device relay\n    renamed_from: [Printer relay]"),
    )
    path = str(repo.root / "plan.json")
    plan = repo.run("plan", "--target", target, "--out", path)
    assert plan.exit_code == 0, plan.output
    assert '~ InboundConnector "Device relay" (renamed from "Printer relay")' in plan.output
    assert "0 to create, 1 to update, 0 to delete" in plan.output
    assert repo.run("apply", path).exit_code == 0
    assert repo.live()[("InboundConnector", "Device relay")]["Guid"] == guid


@pytest.mark.parametrize("policy", ["report", "ignore"])
def test_absent_deletes_a_connector_under_any_policy_as_a_reviewed_change(
    tmp_path: Path, policy: str
) -> None:
    repo = Repo(tmp_path, unmanaged=policy)
    repo.write("relay.yaml", RELAY)
    repo.write("out.yaml", FILTER_OUT)
    assert repo.plan_and_apply().exit_code == 0
    repo.write("relay.yaml", RELAY + "    absent: true\n")
    plan = repo.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 2, plan.output
    assert '- InboundConnector "Printer relay" (declared absent in ' in plan.output
    assert "connectors/relay.yaml:1)" in plan.output
    assert "0 to create, 0 to update, 1 to delete" in plan.output
    applied = repo.plan_and_apply()
    assert applied.exit_code == 0, applied.output
    assert 't: deleted InboundConnector "Printer relay"' in applied.output
    assert ("InboundConnector", "Printer relay") not in repo.live()
    again = repo.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output  # absent and not live: nothing to do


def test_absent_takes_only_a_boolean(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY + "    absent: yes please\n")
    result = repo.run("validate")
    assert result.exit_code == 1
    assert "relay.yaml:6:9: error: absent must be true or false" in result.output


def test_a_create_overlapping_a_live_unmanaged_connectors_ips_gets_the_overlap_warning(
    tmp_path: Path,
) -> None:
    seed = {
        "InboundConnector": [
            {
                "Name": "Old relay",
                "ConnectorType": "OnPremises",
                "SenderDomains": ["smtp:contoso.com;1"],
                "SenderIPAddresses": ["203.0.113.0/28"],
            }
        ]
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    repo = Repo(tmp_path, seed="seed.json")
    repo.write("relay.yaml", RELAY)
    plan = repo.run("plan")
    assert plan.exit_code == 0, plan.output
    assert "warning EXO-IP-001" in plan.output
    assert "overlap those of inbound connector 'Old relay' (203.0.113.10 and 203.0.113.0/28)" in plan.output
    assert "(live)" not in plan.output
    repo.write("relay.yaml", RELAY.replace("203.0.113.10", "198.51.100.10"))
    assert "EXO-IP-001" not in repo.run("plan").output


def test_export_and_import_never_write_absent(tmp_path: Path) -> None:
    seed = {
        "InboundConnector": [
            {
                "Name": "Printer relay",
                "ConnectorType": "OnPremises",
                "SenderDomains": ["smtp:contoso.com;1"],
                "SenderIPAddresses": ["203.0.113.10"],
            }
        ],
        "OutboundConnector": [{"Name": "Out", "ConnectorType": "Partner", "RecipientDomains": ["*"]}],
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    repo = Repo(tmp_path, seed="seed.json")
    exported = repo.run("export", "--tenant", "t")
    assert exported.exit_code == 0, exported.output
    imported = repo.run(
        "import", str(tmp_path / "seed.json"), "--tenant", "t", "--out", str(tmp_path / "imp")
    )
    assert imported.exit_code == 0, imported.output
    written = [*repo.dir.glob("*.yaml"), *(tmp_path / "imp").glob("*.yaml")]
    assert len(written) == 4
    assert all("absent" not in path.read_text() for path in written)


@pytest.mark.parametrize("policy", ["report", "ignore", "delete"])
def test_removed_file_under_each_unmanaged_policy(tmp_path: Path, policy: str) -> None:
    repo = Repo(tmp_path, unmanaged=policy)
    repo.write("relay.yaml", RELAY)
    assert repo.plan_and_apply().exit_code == 0
    repo.remove("relay.yaml")
    plan = repo.run("plan", "--detailed-exitcode")
    if policy == "report":
        assert plan.exit_code == 0 and '? InboundConnector "Printer relay"' in plan.output
    elif policy == "ignore":
        assert plan.exit_code == 0 and "Printer relay" not in plan.output
    else:
        assert plan.exit_code == 2 and '- InboundConnector "Printer relay"' in plan.output
    assert repo.plan_and_apply().exit_code == 0
    assert (("InboundConnector", "Printer relay") in repo.live()) == (policy != "delete")


def test_a_protected_connector_no_file_declares_is_kept_and_an_absent_one_refused(tmp_path: Path) -> None:
    repo = Repo(tmp_path, unmanaged="delete", protect=["printer*"])
    repo.write("relay.yaml", RELAY)
    repo.write("out.yaml", FILTER_OUT)
    assert repo.plan_and_apply().exit_code == 0
    repo.remove("relay.yaml")
    repo.remove("out.yaml")
    plan = repo.run("plan")
    assert plan.exit_code == 0, plan.output
    assert '- OutboundConnector "To filter"' in plan.output
    assert (
        '? InboundConnector "Printer relay" (kept under unmanaged: delete: protected (protect in'
        in plan.output
    )
    assert repo.plan_and_apply().exit_code == 0
    assert ("InboundConnector", "Printer relay") in repo.live()
    repo.write("relay.yaml", RELAY + "    absent: true\n")
    refused = repo.run("plan")
    assert refused.exit_code == 1
    assert "'Printer relay' is protected (protect in exoform.yaml) but the plan deletes it" in refused.output
    assert "connectors/relay.yaml:1 or remove it from protect" in refused.output
    assert ("InboundConnector", "Printer relay") in repo.live()


HYBRID_SEED = {
    "InboundConnector": [
        {
            "Name": "Inbound from 4f1c1e2a-7d0b-4a53-9a4e-2b8f3c6d9e10",
            "ConnectorSource": "HybridWizard",
            "ConnectorType": "OnPremises",
            "SenderDomains": ["smtp:*;1"],
            "TlsSenderCertificateName": "mail.contoso.com",
            "CloudServicesMailEnabled": True,
        }
    ],
    "OutboundConnector": [
        {
            "Name": "Outbound to 4f1c1e2a-7d0b-4a53-9a4e-2b8f3c6d9e10",
            "ConnectorSource": "HybridWizard",
            "ConnectorType": "OnPremises",
            "RecipientDomains": ["contoso.com"],
            "UseMXRecord": False,
            "SmartHosts": ["mail.contoso.com"],
            "TlsSettings": "DomainValidation",
            "TlsDomain": "mail.contoso.com",
            "CloudServicesMailEnabled": True,
        }
    ],
}


@pytest.mark.parametrize("opt_out", [False, True])
def test_hybrid_wizard_connectors_are_protected_unless_the_tenant_opts_out(
    tmp_path: Path, opt_out: bool
) -> None:
    (tmp_path / "seed.json").write_text(json.dumps(HYBRID_SEED))
    policy: dict[str, Any] = {"unmanaged": "delete", "max_deletes": 2, "seed": "seed.json"}
    if opt_out:
        policy["protect_hybrid_wizard"] = False
    repo = Repo(tmp_path, **policy)
    plan = repo.run("plan")
    if opt_out:
        assert plan.exit_code == 0, plan.output
        assert '- InboundConnector "Inbound from 4f1c1e2a' in plan.output
        assert '- OutboundConnector "Outbound to 4f1c1e2a' in plan.output
    else:  # kept, listed with the reason; the tenant plans (and applies) normally
        assert plan.exit_code == 0, plan.output
        assert "0 to delete" in plan.output and "2 unmanaged" in plan.output
        assert plan.output.count("(kept under unmanaged: delete: protected (made by the Hybrid") == 2
        repo.write("relay.yaml", RELAY)
        assert repo.plan_and_apply().exit_code == 0
        assert len(repo.live()) == 3


def test_hybrid_wizard_connector_cannot_be_renamed_away(tmp_path: Path) -> None:
    (tmp_path / "seed.json").write_text(json.dumps({"InboundConnector": HYBRID_SEED["InboundConnector"]}))
    repo = Repo(tmp_path, seed="seed.json")
    repo.write(
        "hybrid.yaml",
        """\
        kind: InboundConnector
        name: On-premises inbound
        renamed_from: [Inbound from 4f1c1e2a-7d0b-4a53-9a4e-2b8f3c6d9e10]
        connector_type: OnPremises
        sender_domains: ["*"]
        tls_sender_certificate_name: mail.contoso.com
        cloud_services_mail_enabled: true
        """,
    )
    plan = repo.run("plan")
    assert plan.exit_code == 1
    assert "renames it away to 'On-premises inbound'" in plan.output


FILTER_BY_IP = """\
    kind: InboundConnector
    name: Inbound from Barracuda
    connector_type: Partner
    sender_domains: ["*"]
    sender_ip_addresses: [209.222.80.0/24, 209.222.81.0/24]
    ef_skip_last_ip: true
"""


def test_filter_identified_by_ip_as_the_admin_center_makes_it_plans_without_error(repo: Repo) -> None:
    # The admin center's "identify the partner by the sending server's IP address", as Barracuda and
    # Proofpoint have customers set it up: not a posture error (docs/posture.md).
    repo.write("filter.yaml", FILTER_BY_IP)
    validate = repo.run("validate")
    assert validate.exit_code == 0, validate.output
    assert repo.plan_and_apply().exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_adopting_a_tenant_with_a_filter_identified_by_ip_plans_clean(tmp_path: Path) -> None:
    # A tenant whose filter connector was made in the admin center: export, then the first plan.
    seed = {
        "InboundConnector": [
            {
                "Name": "Inbound from Proofpoint",
                "ConnectorSource": "AdminUI",
                "ConnectorType": "Partner",
                "SenderDomains": ["smtp:*;1"],
                "SenderIPAddresses": ["67.231.152.0/24", "148.163.128.0/24"],
                "RestrictDomainsToIPAddresses": False,
                "RequireTls": True,
                "EFSkipLastIP": True,
            }
        ]
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    repo = Repo(tmp_path, seed="seed.json")
    exported = repo.run("export", "--tenant", "t")
    assert exported.exit_code == 0, exported.output
    plan = repo.run("plan", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output
    assert "EXO-IN-002" not in plan.output and "EXO-IN-006" not in plan.output


def test_unsafe_plan_is_refused_without_force(tmp_path: Path) -> None:
    repo = Repo(tmp_path, unmanaged="delete", max_deletes=0)
    repo.write("relay.yaml", RELAY)
    assert repo.plan_and_apply().exit_code == 0
    repo.remove("relay.yaml")
    plan = repo.run("plan", "--out", str(tmp_path / "plan.json"))
    assert "UNSAFE PLAN: 1 deletes exceed max_deletes 0" in plan.output
    refused = repo.run("apply", str(tmp_path / "plan.json"))
    assert refused.exit_code == 1 and "the plan is unsafe" in refused.output
    assert ("InboundConnector", "Printer relay") in repo.live()
    forced = repo.run("apply", str(tmp_path / "plan.json"), "--force")
    assert forced.exit_code == 0, forced.output
    assert ("InboundConnector", "Printer relay") not in repo.live()


def test_stale_plan_is_refused_whole(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    repo.write("out.yaml", FILTER_OUT)
    assert repo.plan_and_apply().exit_code == 0
    repo.write("relay.yaml", RELAY + "    comment: from git\n")
    repo.write("out.yaml", FILTER_OUT + "    comment: from git\n")
    assert repo.run("plan", "--out", str(repo.root / "plan.json")).exit_code == 0
    provider = repo.provider()  # an admin edits the connector in the portal meanwhile
    live = provider.read().find("OutboundConnector", "To filter")
    provider.update(live, {"enabled": False})
    provider.close()
    refused = repo.run("apply", str(repo.root / "plan.json"))
    assert refused.exit_code == 1
    assert "OutboundConnector 'To filter' changed since the plan was made" in refused.output
    assert "nothing was changed" in refused.output
    assert repo.live()[("InboundConnector", "Printer relay")]["Comment"] == ""


def test_tampered_plan_file_is_refused(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    assert repo.run("plan", "--out", str(repo.root / "plan.json")).exit_code == 0
    path = repo.root / "plan.json"
    path.write_text(path.read_text().replace("203.0.113.10", "0.0.0.0/0"))
    refused = repo.run("apply", str(path))
    assert refused.exit_code == 1 and "edited after it was made" in refused.output
    assert not repo.state.exists() or repo.live() == {}


def test_create_that_now_exists_is_refused(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    assert repo.run("plan", "--out", str(repo.root / "plan.json")).exit_code == 0
    other = Repo(repo.root / "other")
    other.state = repo.state
    (other.root / "exoform.yaml").write_text(
        (repo.root / "exoform.yaml").read_text().replace("state.json", "../state.json")
    )
    other.write("relay.yaml", RELAY)
    assert other.run("apply", "--auto-approve").exit_code == 0  # someone else created it meanwhile
    refused = repo.run("apply", str(repo.root / "plan.json"))
    assert refused.exit_code == 1 and "InboundConnector 'Printer relay' now exists" in refused.output


def test_partial_failure_reports_and_converges(repo: Repo) -> None:
    repo.write("a.yaml", RELAY.replace("Printer relay", "A relay"))
    # The service rejects this one: its associated domain is not an accepted domain of the tenant.
    repo.write(
        "b.yaml",
        RELAY.replace("Printer relay", "B relay") + "    associated_accepted_domains: [not-ours.example]\n",
    )
    repo.write("c.yaml", RELAY.replace("Printer relay", "C relay"))
    result = repo.plan_and_apply()
    assert result.exit_code == 1
    assert 't: created InboundConnector "A relay"' in result.output
    assert 'FAILED create InboundConnector "B relay"' in result.output
    assert 'not attempted: create InboundConnector "C relay"' in result.output
    assert "1 applied, 1 failed, 1 not attempted" in result.output
    assert set(repo.live()) == {("InboundConnector", "A relay")}
    repo.write("b.yaml", RELAY.replace("Printer relay", "B relay"))
    remainder = repo.run("plan")
    assert "Plan for t: 2 to create, 0 to update, 0 to delete." in remainder.output
    assert repo.plan_and_apply().exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_apply_without_plan_file_needs_approval(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    no_tty = repo.run("apply")
    assert no_tty.exit_code == 1 and "--auto-approve" in no_tty.output
    assert not repo.state.exists() or repo.live() == {}
    approved = repo.run("apply", "--auto-approve")
    assert approved.exit_code == 0 and "Apply for t: 1 applied." in approved.output


def test_json_and_markdown_formats(repo: Repo) -> None:
    repo.write("relay.yaml", RELAY)
    data = json.loads(repo.run("plan", "--format", "json").stdout)
    change = data["tenants"][0]["changes"][0]
    assert change["action"] == "create" and change["name"] == "Printer relay"
    assert change["after"]["sender_ip_addresses"] == ["203.0.113.10"]
    md = repo.run("plan", "--format", "markdown").stdout
    assert md.startswith("<!-- exoform-plan -->") and "| <code>t</code> | planned | 1 | 0 | 0 |" in md


def test_edited_update_values_are_validated_again_before_writing(repo: Repo) -> None:
    from reconciler.plan import plan_digest

    repo.write("out.yaml", FILTER_OUT)
    assert repo.plan_and_apply().exit_code == 0
    repo.write("out.yaml", FILTER_OUT + "    comment: reviewed\n")
    path = repo.root / "plan.json"
    assert repo.run("plan", "--out", str(path)).exit_code == 0
    body = json.loads(path.read_text())
    del body["digest"]
    change = body["tenants"][0]["changes"][0]
    change["after"]["tls_settings"] = "DomainValidation"  # without tls_domain: the service's rules refuse it
    change["fields"].append("tls_settings")
    body["digest"] = plan_digest(body)  # someone who knows the format re-signs it
    path.write_text(json.dumps(body))
    result = repo.run("apply", str(path))
    assert result.exit_code == 1
    assert "tls_settings DomainValidation needs tls_domain" in result.output
    assert repo.live()[("OutboundConnector", "To filter")]["TlsSettings"] == "CertificateValidation"


def test_a_plan_made_under_a_loosened_config_is_checked_under_the_current_one(tmp_path: Path) -> None:
    """A branch loosened exoform.yaml (same tenant name) and planned two deletes of protected connectors;
    applied under the config of main (protect, max_deletes: 0), nothing is deleted, even with --force."""
    strict = Repo(tmp_path, unmanaged="delete", protect=["Hybrid*"], max_deletes=0)
    strict.write("a.yaml", RELAY.replace("Printer relay", "Hybrid A"))
    strict.write("b.yaml", RELAY.replace("Printer relay", "Hybrid B").replace("203.0.113.10", "203.0.113.11"))
    assert strict.plan_and_apply().exit_code == 0
    config = tmp_path / "exoform.yaml"
    main = config.read_text()
    config.write_text(main.replace('["Hybrid*"]', "[]").replace("max_deletes: 0", "max_deletes: 5"))
    strict.remove("a.yaml")
    strict.remove("b.yaml")
    plan = tmp_path / "plan.json"
    assert strict.run("plan", "--out", str(plan)).exit_code == 0
    config.write_text(main)
    for extra in ([], ["--force"]):
        result = strict.run("apply", str(plan), *extra)
        assert result.exit_code == 1, result.output
        assert "'Hybrid A' is protected" in result.output and "'Hybrid B' is protected" in result.output
    assert {name for _, name in strict.live()} == {"Hybrid A", "Hybrid B"}


def test_a_plan_made_against_another_state_file_is_refused(tmp_path: Path) -> None:
    """A create-only plan made against one emulated tenant is never applied to another: here the same
    exoform.yaml (``state: state.json``) in another checkout, whose state file is another file."""
    first = Repo(tmp_path / "one")
    first.write("relay.yaml", RELAY)
    plan = tmp_path / "plan.json"
    assert first.run("plan", "--out", str(plan)).exit_code == 0
    second = Repo(tmp_path / "two")
    second.write("relay.yaml", RELAY)
    result = second.run("apply", str(plan))
    assert result.exit_code == 1
    assert "the plan was made against" in result.output and "make a new plan" in result.output
    assert not second.state.exists() and not first.live()


def test_with_exoform_plan_key_a_re_checksummed_plan_is_refused(
    repo: Repo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.plan import plan_digest

    monkeypatch.setenv("EXOFORM_PLAN_KEY", "a repository secret")
    repo.write("relay.yaml", RELAY)
    path = repo.root / "plan.json"
    assert repo.run("plan", "--out", str(path)).exit_code == 0
    body = json.loads(path.read_text())
    assert body.pop("digest").startswith("hmac-sha256:")
    body["tenants"][0]["changes"][0]["after"]["sender_ip_addresses"] = ["0.0.0.0/1"]
    body["digest"] = plan_digest(body)
    path.write_text(json.dumps(body))
    result = repo.run("apply", str(path))
    assert result.exit_code == 1 and "carries only a checksum" in result.output
    assert not repo.state.exists() or not repo.live()
    assert repo.plan_and_apply().exit_code == 0  # a plan made with the key applies
    assert ("InboundConnector", "Printer relay") in repo.live()
