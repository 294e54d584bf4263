"""A fleet through the CLI: one shared connector set for several local tenants with their own variables,
defaults, an override, ``--target`` on every command and ``tenants --shards``."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired.loader import load_config
from reconciler.providers.registry import open_provider
from tests.wiring import fake_time

COMMON = {
    "filter-in.yaml": """\
kind: InboundConnector
name: From mail filter
connector_type: Partner
sender_domains: ["*"]
sender_ip_addresses: ${vars.filter_ips}
restrict_domains_to_ip_addresses: true
ef_skip_ips: ${vars.filter_ips}
comment: Mail filter for ${tenant.name}
""",
    "filter-out.yaml": """\
kind: OutboundConnector
name: To mail filter
connector_type: Partner
recipient_domains: ["*"]
use_mx_record: false
smart_hosts: [smtp.filter.example.net]
tls_settings: DomainValidation
tls_domain: smtp.filter.example.net
""",
}
#: What every tenant holds before the first apply: an outbound connector made in the admin center.
SEED = {
    "OutboundConnector": [
        {"Name": "Pilot (admin center)", "ConnectorType": "Partner", "RecipientDomains": ["pilot.example"]}
    ]
}
CONFIG = """\
defaults:
  provider: local
  connectors: [connectors/common]
  seed: seed.json
  vars:
    filter_ips: [198.51.100.0/25]
tenants:
  contoso:
    state: state/contoso.json
    connectors: [connectors/common, connectors/contoso]
  fabrikam:
    state: state/fabrikam.json
    vars:
      filter_ips: [203.0.113.0/25]
"""
OVERRIDE = """\
kind: Override
target: {kind: OutboundConnector, name: To mail filter}
recipient_domains: [contoso.com, "*.contoso.com"]
"""


class Msp:
    """A service provider's repo: one shared set, two customers, one override."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for name, text in COMMON.items():
            self.write(f"connectors/common/{name}", text)
        self.write("connectors/contoso/route.yaml", OVERRIDE)
        self.write("seed.json", json.dumps(SEED))
        self.write("exoform.yaml", CONFIG)

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())

    def live(self, tenant: str) -> dict[tuple[str, str], dict[str, Any]]:
        data = json.loads((self.root / "state" / f"{tenant}.json").read_text())
        return {(k, o["Name"]): o for k in ("InboundConnector", "OutboundConnector") for o in data.get(k, [])}

    def change_live(self, tenant: str, kind: str, name: str, **fields: Any) -> None:
        config = load_config(self.root / "exoform.yaml")
        provider = open_provider(tenant, config.tenants[tenant], config)
        try:
            provider.update(provider.read().find(kind, name), fields)
        finally:
            provider.close()


@pytest.fixture
def msp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Msp:
    monkeypatch.chdir(tmp_path)
    return Msp(tmp_path)


IN = "InboundConnector/From mail filter"


def test_plan_shows_each_tenants_resolved_values(msp: Msp) -> None:
    result = msp.run("plan", "--format", "json")
    assert result.exit_code == 0, result.output
    plans = {t["tenant"]: t for t in json.loads(result.stdout)["tenants"]}
    after = {
        (tenant, c["name"]): c["after"] for tenant, t in plans.items() for c in t["changes"] if c["after"]
    }
    assert after[("contoso", "From mail filter")]["sender_ip_addresses"] == ["198.51.100.0/25"]
    assert after[("fabrikam", "From mail filter")]["sender_ip_addresses"] == ["203.0.113.0/25"]
    assert after[("fabrikam", "From mail filter")]["comment"] == "Mail filter for fabrikam"
    assert after[("contoso", "To mail filter")]["recipient_domains"] == ["*.contoso.com", "contoso.com"]
    assert after[("fabrikam", "To mail filter")]["recipient_domains"] == ["*"]
    assert all(t["targets"] == [] for t in plans.values())


def test_validate_fails_the_pull_request_naming_the_customer_a_variable_breaks(msp: Msp) -> None:
    msp.write("exoform.yaml", CONFIG.replace("[203.0.113.0/25]", "[10.1.2.0/24]"))
    result = msp.run("validate")
    assert result.exit_code == 1
    assert result.stdout.startswith("connectors/common/filter-in.yaml:7:14: error: ef_skip_ips")
    assert "(${vars.filter_ips} is set at exoform.yaml:14:7 for tenant fabrikam)" in result.stdout
    assert "contoso" not in result.stdout


def test_a_targeted_plan_says_so_in_every_format_and_leaves_the_rest_alone(msp: Msp) -> None:
    text = msp.run("plan", "--tenant", "contoso", "--target", IN)
    assert text.exit_code == 0, text.output
    assert (
        'targeted: only connectors matching "InboundConnector/From mail filter" were planned' in text.stdout
    )
    assert '+ InboundConnector "From mail filter"' in text.stdout
    assert "To mail filter" not in text.stdout and "Pilot" not in text.stdout  # unmanaged outside the target
    markdown = msp.run("plan", "--tenant", "contoso", "--target", IN, "--format", "markdown").stdout
    assert "**Targeted plan**" in markdown and "<code>InboundConnector/From mail filter</code>" in markdown
    data = json.loads(msp.run("plan", "--tenant", "contoso", "--target", IN, "--format", "json").stdout)
    [tenant] = data["tenants"]
    assert tenant["targets"] == [IN] and [c["name"] for c in tenant["changes"]] == ["From mail filter"]
    bad = msp.run("plan", "--target", "From mail filter")
    assert bad.exit_code == 1 and "expected KIND/NAME" in bad.output


def test_apply_of_a_targeted_plan_writes_only_its_targets_and_rechecks_only_them(msp: Msp) -> None:
    assert msp.run("apply", "--auto-approve").exit_code == 0  # both tenants as the files say
    msp.write("connectors/common/filter-in.yaml", COMMON["filter-in.yaml"].replace("Mail filter", "Filter"))
    msp.write(
        "connectors/common/filter-out.yaml",
        COMMON["filter-out.yaml"].replace("use_mx", "enabled: false\nuse_mx"),
    )
    out = str(msp.root / "plan.json")
    planned = msp.run("plan", "--tenant", "fabrikam", "--target", IN, "--out", out)
    assert planned.exit_code == 0, planned.output
    # Meanwhile the untargeted connector moves in the tenant: the targeted plan does not depend on it.
    msp.change_live("fabrikam", "OutboundConnector", "To mail filter", comment="edited in the portal")
    applied = msp.run("apply", out)
    assert applied.exit_code == 0, applied.output
    live = msp.live("fabrikam")
    assert live[("InboundConnector", "From mail filter")]["Comment"] == "Filter for fabrikam"
    assert live[("OutboundConnector", "To mail filter")]["Enabled"] is True  # not targeted: not applied
    refused = msp.run("apply", out, "--target", IN)
    assert refused.exit_code == 1 and "cannot be combined with a plan file" in refused.output
    direct = msp.run("apply", "--tenant", "contoso", "--target", "outbound*/*", "--auto-approve")
    assert direct.exit_code == 0, direct.output
    assert msp.live("contoso")[("OutboundConnector", "To mail filter")]["Enabled"] is False
    assert (
        msp.live("contoso")[("InboundConnector", "From mail filter")]["Comment"] == "Mail filter for contoso"
    )


def test_drift_and_status_report_only_the_targets(msp: Msp) -> None:
    assert msp.run("apply", "--auto-approve").exit_code == 0
    msp.change_live("contoso", "OutboundConnector", "To mail filter", comment="portal edit")
    assert msp.run("drift", "--tenant", "contoso").exit_code == 2
    targeted = msp.run("drift", "--tenant", "contoso", "--target", IN)
    assert targeted.exit_code == 0, targeted.output
    assert "targeted: only connectors matching" in targeted.stdout
    as_json = json.loads(msp.run("drift", "--target", IN, "--format", "json").stdout)
    assert [t["targets"] for t in as_json["tenants"]] == [[IN], [IN]]
    status = json.loads(msp.run("status", "--target", "*/*mail filter", "--format", "json").stdout)
    assert sorted({(r["tenant"], r["name"]) for r in status["connectors"]}) == [
        ("contoso", "From mail filter"),
        ("contoso", "To mail filter"),
        ("fabrikam", "From mail filter"),
        ("fabrikam", "To mail filter"),
    ]


def test_export_target_adopts_one_connector_leaving_other_files_alone(msp: Msp) -> None:
    assert msp.run("apply", "--auto-approve").exit_code == 0
    msp.write("connectors/contoso/notes.yaml", "# my notes\n")
    result = msp.run(
        "export", "--tenant", "contoso", "--target", "OutboundConnector/Pilot*", "--target", "*/Nothing"
    )
    assert result.exit_code == 0, result.output
    assert 'warning: --target "*/Nothing" matches no connector of contoso' in result.stderr
    files = sorted(p.name for p in (msp.root / "connectors" / "contoso").iterdir())
    assert files == ["notes.yaml", "pilot-admin-center.yaml", "route.yaml"]
    assert (msp.root / "connectors" / "contoso" / "route.yaml").read_text() == OVERRIDE
    assert (msp.root / "connectors" / "contoso" / "notes.yaml").read_text() == "# my notes\n"
    assert msp.run("plan", "--tenant", "contoso", "--detailed-exitcode").exit_code == 0
    # Without --target, the shared folder's connectors are not copied into the tenant's own folder.
    whole = msp.run("export", "--tenant", "contoso")
    assert whole.exit_code == 0, whole.output
    assert 'InboundConnector "From mail filter" is declared in a shared folder of contoso' in whole.output
    assert msp.run("validate").exit_code == 0


@pytest.mark.parametrize("count", [1, 5, 300])
def test_tenants_shards_cover_every_tenant_once(tmp_path: Path, count: int) -> None:
    lines = ["tenants:"] + [f"  c{i:03d}: {{connectors: c}}" for i in range(count)]
    (tmp_path / "exoform.yaml").write_text("\n".join(lines) + "\n")
    config = ["--config", str(tmp_path / "exoform.yaml")]
    result = CliRunner().invoke(cli, ["tenants", "--json", "--shards", "4", *config])
    assert result.exit_code == 0, result.output
    entries = json.loads(result.stdout)["include"]
    assert len(entries) == min(4, count)
    names = [shlex.split(e["args"])[1::2] for e in entries]
    assert sorted(n for job in names for n in job) == [f"c{i:03d}" for i in range(count)]
    per_job = CliRunner().invoke(cli, ["tenants", "--max-per-job", "100", *config])
    assert per_job.stdout.splitlines()[0].startswith(f"1-of-{-(-count // 100)}: --tenant c000")


REPO = Path(__file__).resolve().parents[2]


def test_the_demo_fleet_plans_resolved_and_posture_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from reconciler.desired.connectors import load_all
    from reconciler.posture import check

    shutil.copy(REPO / "exoform.yaml", tmp_path / "exoform.yaml")
    shutil.copytree(REPO / "connectors", tmp_path / "connectors")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["plan", "--tenant", "fleet-*", "--format", "json"])
    assert result.exit_code == 0, result.output
    plans = {t["tenant"]: t for t in json.loads(result.stdout)["tenants"]}
    assert sorted(plans) == ["fleet-contoso", "fleet-fabrikam", "fleet-tailspin"]
    hosts = {
        name: next(c["after"]["smart_hosts"] for c in t["changes"] if c["kind"] == "OutboundConnector")
        for name, t in plans.items()
    }
    assert hosts == {
        "fleet-contoso": ["eu-2.outbound.mailfilter.example.net", "eu.outbound.mailfilter.example.net"],
        "fleet-fabrikam": ["eu.outbound.mailfilter.example.net"],
        "fleet-tailspin": ["us.outbound.mailfilter.example.net"],
    }
    _, desired = load_all(Path("exoform.yaml"), ["fleet-*"])
    for tenant in desired:
        findings = check([c.connector for c in tenant.connectors], tenant.settings.skip_checks)
        assert [(f.rule, f.name) for f in findings if f.severity != "info" and not f.skipped] == []


def test_export_never_writes_into_a_folder_other_tenants_share(msp: Msp) -> None:
    result = msp.run("export", "--tenant", "fabrikam")  # its only folder is the shared one
    assert result.exit_code == 1
    assert "connectors/common is also a connectors folder of contoso" in result.output
    assert sorted(p.name for p in (msp.root / "connectors" / "common").iterdir()) == sorted(COMMON)


def test_a_target_that_matches_nothing_is_warned_about(msp: Msp) -> None:
    result = msp.run("plan", "--target", "InboundConnector/From mail filtr", "--target", IN)
    assert result.exit_code == 0, result.output
    assert 'warning: --target "InboundConnector/From mail filtr" matches no connector' in result.stderr
    assert IN not in result.stderr


DROP = """\
kind: Override
target: {kind: OutboundConnector, name: To mail filter}
absent: true
"""


def test_an_absent_override_drops_a_shared_connector_for_one_customer(msp: Msp) -> None:
    assert msp.run("plan", "--out", "plan.json").exit_code == 0
    assert msp.run("apply", "plan.json").exit_code == 0
    msp.write("connectors/contoso/route.yaml", DROP)
    plan = msp.run("plan", "--format", "json", "--out", "plan.json")
    assert plan.exit_code == 0, plan.output
    tenants = {t["tenant"]: t for t in json.loads(plan.stdout)["tenants"]}
    assert tenants["fabrikam"]["changes"] == []
    (delete,) = tenants["contoso"]["changes"]
    assert (delete["action"], delete["name"]) == ("delete", "To mail filter")
    where = "connectors/contoso/route.yaml:1"
    assert delete["reason"] == f"declared absent for this tenant by an Override in {where}"
    assert delete["source"] == {
        "file": "connectors/contoso/route.yaml",
        "line": 1,
        "column": 1,
        "folder": "connectors/contoso",
        "overrides": [f"{where}:1"],
        "fields": {},
    }
    text = CliRunner().invoke(cli, ["show", "plan.json"])
    assert (
        f'- OutboundConnector "To mail filter" (declared absent for this tenant by an Override in {where})'
        in (text.stdout)
    )
    drift = msp.run("drift", "--tenant", "contoso")
    assert f"in the tenant, declared absent for this tenant by an Override in {where}" in drift.stdout
    assert msp.run("apply", "plan.json").exit_code == 0
    assert ("OutboundConnector", "To mail filter") not in msp.live("contoso")
    assert ("OutboundConnector", "To mail filter") in msp.live("fabrikam")
    again = msp.run("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_changes_carry_the_file_folder_and_overrides_of_their_connector(msp: Msp) -> None:
    plan = msp.run("plan", "--tenant", "contoso", "--format", "json")
    changes = {c["name"]: c for c in json.loads(plan.stdout)["tenants"][0]["changes"]}
    assert changes["To mail filter"]["source"] == {
        "file": "connectors/common/filter-out.yaml",
        "line": 1,
        "column": 1,
        "folder": "connectors/common",
        "overrides": ["connectors/contoso/route.yaml:1:1"],
        "fields": {"recipient_domains": "the Override at connectors/contoso/route.yaml:3:1"},
    }
    assert changes["From mail filter"]["source"]["overrides"] == []


def test_a_stale_override_after_a_rename_suggests_the_new_name(msp: Msp) -> None:
    renamed = COMMON["filter-out.yaml"].replace(
        "name: To mail filter", "name: To mail filter v2\nrenamed_from: [To mail filter]"
    )
    msp.write("connectors/common/filter-out.yaml", renamed)
    result = msp.run("validate")
    assert result.exit_code == 1
    assert "override target OutboundConnector 'To mail filter' is not declared in an earlier folder" in (
        result.stdout
    )
    assert (
        "it was renamed to 'To mail filter v2' at connectors/common/filter-out.yaml:2:1: did you mean "
        "target: {kind: OutboundConnector, name: To mail filter v2}?" in result.stdout
    )


def test_max_tenants_changed_makes_the_run_unsafe_in_every_format_and_apply_rechecks(msp: Msp) -> None:
    msp.write("exoform.yaml", "max_tenants_changed: 1\n" + CONFIG)
    reason = "2 tenants change, more than max_tenants_changed 1"
    text = msp.run("plan", "--out", "plan.json")
    assert f"! UNSAFE PLAN: {reason}; apply needs --force" in text.stdout
    data = json.loads(msp.run("plan", "--format", "json").stdout)
    assert data["unsafe"] is True and data["unsafe_reasons"] == [reason]
    assert all(not t["unsafe"] for t in data["tenants"])
    markdown = msp.run("plan", "--format", "markdown").stdout
    assert "**Unsafe plan**" in markdown
    assert "> - 2 tenants change, more than max&#95;tenants&#95;changed 1" in markdown
    refused = msp.run("apply", "plan.json")
    assert refused.exit_code == 1
    assert f"tenant contoso: nothing was changed: the plan is unsafe under exoform.yaml now: {reason}" in (
        refused.output
    )
    assert ("InboundConnector", "From mail filter") not in msp.live("contoso")
    forced = msp.run("apply", "plan.json", "--force")
    assert forced.exit_code == 0, forced.output
    assert ("InboundConnector", "From mail filter") in msp.live("fabrikam")


def test_apply_ring_applies_one_ring_after_the_earlier_ones(msp: Msp) -> None:
    ringed = CONFIG.replace("  provider: local\n", "  provider: local\n  ring: 1\n")  # in defaults
    msp.write("exoform.yaml", ringed.replace("  contoso:\n", "  contoso:\n    ring: 0\n"))
    assert msp.run("plan", "--out", "plan.json").exit_code == 0
    early = msp.run("apply", "plan.json", "--ring", "1")
    assert early.exit_code == 1
    assert (
        "tenant fabrikam: nothing was changed: ring 1 waits for earlier rings: tenant contoso (ring 0) does "
        "not show 2 of its changes yet" in early.output
    )
    assert ("InboundConnector", "From mail filter") not in msp.live("fabrikam")
    first = msp.run("apply", "plan.json", "--ring", "0")
    assert first.exit_code == 0, first.output
    assert "Apply for contoso: 2 applied." in first.output and "fabrikam" not in first.output
    assert ("InboundConnector", "From mail filter") not in msp.live("fabrikam")
    second = msp.run("apply", "plan.json", "--ring", "1")
    assert second.exit_code == 0, second.output
    assert "Apply for fabrikam: 2 applied." in second.output and "contoso" not in second.output
    assert msp.run("apply", "plan.json", "--ring", "2").output == "No tenant of the plan is in ring 2.\n"
    assert "--ring needs a plan file" in msp.run("apply", "--ring", "0", "--auto-approve").output
