"""exoform accept's writer: each drifted field written back where its desired value comes from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.adopt.accept import AcceptReport, accept
from reconciler.cli import cli as main
from reconciler.desired.connectors import load_tenant
from reconciler.desired.loader import load_config
from reconciler.errors import InputError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import Kind
from reconciler.plan import Change
from reconciler.providers.registry import open_provider
from reconciler.reconcile.planner import plan_tenant
from reconciler.reconcile.targeting import parse_targets
from tests.wiring import fake_time

CONFIG = """\
# Northwind's fleet
defaults:
  provider: local
  connectors: [connectors/common]
  vars:
    filter_ips: [198.51.100.0/25]   # the EU pod
    pod: eu
tenants:
  contoso:
    state: state/contoso.json
    connectors: [connectors/common, connectors/contoso]   # its own folder last
  fabrikam:
    state: state/fabrikam.json
"""
FILTER_IN = """\
kind: InboundConnector
name: From mail filter
connector_type: Partner
sender_domains: ["*"]
sender_ip_addresses: ${vars.filter_ips}
restrict_domains_to_ip_addresses: true
ef_skip_ips: ${vars.filter_ips}
comment: Mail filter for ${tenant.name}
"""
FILTER_OUT = """\
kind: OutboundConnector
name: To mail filter
connector_type: Partner
recipient_domains: ["*"]
use_mx_record: false
smart_hosts: ["${vars.pod}.filter.example.net"]
tls_settings: DomainValidation
tls_domain: "*.filter.example.net"
"""
RELAY = """\
# Contoso's scanners, agreed with their IT in 2025
kind: InboundConnector
name: Scanner relay
connector_type: OnPremises
sender_domains: [contoso.com]   # only their own domain
sender_ip_addresses: [192.0.2.10/32]
restrict_domains_to_ip_addresses: true
comment: Scanners on floor 2
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for relative, text in {
        "exoform.yaml": CONFIG,
        "connectors/common/filter-in.yaml": FILTER_IN,
        "connectors/common/filter-out.yaml": FILTER_OUT,
        "connectors/contoso/relay.yaml": RELAY,
    }.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def live_of(repo: Path, tenant: str, changed: dict[str, dict[str, Any]]) -> LiveState:
    """The tenant's declared connectors as live ones, with the ``changed`` fields of each name."""
    desired = load_tenant(load_config(repo / "exoform.yaml"), tenant)
    return LiveState(
        tenant,
        [
            LiveConnector(
                lc.connector.KIND,
                lc.connector.name,
                f"guid-{i}",
                lc.connector.model_copy(update=changed.get(lc.connector.name, {})),
            )
            for i, lc in enumerate(desired.connectors)
        ],
    )


def changes(repo: Path, tenant: str, live: LiveState) -> list[Change]:
    config = load_config(repo / "exoform.yaml")
    desired = load_tenant(config, tenant)
    connectors = [c.connector for c in desired.connectors]
    return plan_tenant(tenant, desired.settings, connectors, live, absent=desired.absent).changes


def run(
    repo: Path, tenant: str, live: LiveState, *, dry_run: bool = False, targets: tuple[str, ...] = ()
) -> AcceptReport:
    config = load_config(repo / "exoform.yaml")
    desired = load_tenant(config, tenant)
    chosen = parse_targets(targets)
    plan = plan_tenant(
        tenant,
        desired.settings,
        [c.connector for c in desired.connectors],
        live,
        chosen,
        absent=desired.absent,
        sources=desired.sources(),
    )
    return accept(config, repo / "exoform.yaml", desired, plan, live, chosen, dry_run=dry_run)


def written(report: AcceptReport) -> list[tuple[str, str, str]]:
    return [(w.where(), w.field, w.how) for w in report.written]


NEW_IPS = ["203.0.113.0/25"]


def test_a_variable_inherited_from_defaults_is_set_on_the_tenant_only(repo: Path) -> None:
    live = live_of(
        repo, "fabrikam", {"From mail filter": {"sender_ip_addresses": NEW_IPS, "ef_skip_ips": NEW_IPS}}
    )
    report = run(repo, "fabrikam", live)
    how = "vars.filter_ips of tenant fabrikam (defaults.vars unchanged)"
    assert written(report) == [
        ("exoform.yaml:15", "sender_ip_addresses", how),
        ("exoform.yaml:15", "ef_skip_ips", how),
    ]
    text = (repo / "exoform.yaml").read_text()
    assert text == CONFIG + "    vars:\n      filter_ips: [203.0.113.0/25]\n"  # flow list, comments kept
    assert (repo / "connectors/common/filter-in.yaml").read_text() == FILTER_IN
    assert changes(repo, "fabrikam", live) == []
    contoso = live_of(repo, "contoso", {})
    assert changes(repo, "contoso", contoso) == []  # the default still holds for everyone else


def test_a_literal_in_the_tenants_own_file_is_edited_in_place_keeping_comments(repo: Path) -> None:
    live = live_of(repo, "contoso", {"Scanner relay": {"sender_ip_addresses": ["192.0.2.10", "192.0.2.11"]}})
    report = run(repo, "contoso", live)
    assert written(report) == [("connectors/contoso/relay.yaml:6", "sender_ip_addresses", "in place")]
    assert (repo / "connectors/contoso/relay.yaml").read_text() == RELAY.replace(
        "[192.0.2.10/32]", "[192.0.2.10, 192.0.2.11]"
    )
    assert changes(repo, "contoso", live) == []


def test_a_value_the_tenant_no_longer_has_is_removed_from_its_own_file(repo: Path) -> None:
    certificate = "tls_sender_certificate_name: scan.contoso.com\n"
    (repo / "connectors/contoso/relay.yaml").write_text(RELAY + certificate)
    live = live_of(repo, "contoso", {"Scanner relay": {"tls_sender_certificate_name": None}})
    report = run(repo, "contoso", live)
    how = "removed in place (the tenant has no value)"
    assert written(report) == [("connectors/contoso/relay.yaml:2", "tls_sender_certificate_name", how)]
    assert (repo / "connectors/contoso/relay.yaml").read_text() == RELAY
    assert changes(repo, "contoso", live) == []


def test_a_literal_in_a_shared_file_becomes_an_override_in_the_tenants_own_folder(repo: Path) -> None:
    live = live_of(
        repo, "contoso", {"To mail filter": {"tls_settings": "EncryptionOnly", "tls_domain": None}}
    )
    report = run(repo, "contoso", live)
    override = repo / "connectors/contoso/override-to-mail-filter.yaml"
    shared = " for connectors/common/filter-out.yaml, shared with other tenants"
    assert written(report) == [
        ("connectors/contoso/override-to-mail-filter.yaml:4", "tls_settings", f"a new Override{shared}"),
        ("connectors/contoso/override-to-mail-filter.yaml:5", "tls_domain", f"a new Override{shared}"),
    ]
    assert override.read_text() == (
        "# yaml-language-server: $schema=../../schemas/connector.schema.json\n"
        "kind: Override\n"
        "target: {kind: OutboundConnector, name: To mail filter}\n"
        "tls_settings: EncryptionOnly\n"
        "tls_domain:\n"
    )
    assert (repo / "connectors/common/filter-out.yaml").read_text() == FILTER_OUT
    assert changes(repo, "contoso", live) == []
    assert changes(repo, "fabrikam", live_of(repo, "fabrikam", {})) == []

    later = live_of(
        repo,
        "contoso",
        {"To mail filter": {"tls_settings": "EncryptionOnly", "tls_domain": None, "enabled": False}},
    )
    again = run(repo, "contoso", later)
    assert written(again) == [
        ("connectors/contoso/override-to-mail-filter.yaml:6", "enabled", f"added to the Override{shared}")
    ]
    assert sorted(p.name for p in (repo / "connectors/contoso").iterdir()) == [
        "override-to-mail-filter.yaml",
        "relay.yaml",
    ]
    assert changes(repo, "contoso", later) == []


def test_an_expression_in_a_shared_file_becomes_an_override_and_says_why(repo: Path) -> None:
    live = live_of(repo, "contoso", {"To mail filter": {"smart_hosts": ["us.filter.example.net"]}})
    report = run(repo, "contoso", live)
    (only,) = report.written
    assert only.how == "a new Override (its value comes from ${vars.pod}, which exoform cannot invert)"
    assert changes(repo, "contoso", live) == []
    assert "pod" not in (repo / "exoform.yaml").read_text().split("tenants:")[1]


def test_a_variable_that_also_fills_an_unchanged_field_is_not_changed(repo: Path) -> None:
    live = live_of(repo, "contoso", {"From mail filter": {"ef_skip_ips": NEW_IPS}})
    (only,) = run(repo, "contoso", live).written
    assert only.field == "ef_skip_ips"
    assert only.how == (
        "a new Override (${vars.filter_ips} also fills connectors/common/filter-in.yaml:5:1, whose live "
        "value did not change)"
    )
    assert (repo / "exoform.yaml").read_text() == CONFIG
    assert changes(repo, "contoso", live) == []


def test_an_expression_in_the_tenants_own_file_is_refused_located_and_nothing_written(repo: Path) -> None:
    (repo / "connectors/contoso/relay.yaml").write_text(
        RELAY.replace("Scanners on floor 2", "Scanners of ${tenant.name}")
    )
    before = {p: p.read_text() for p in repo.rglob("*.yaml")}
    live = live_of(
        repo,
        "contoso",
        {"Scanner relay": {"comment": "Scanners on floor 3", "enabled": False}},
    )
    with pytest.raises(InputError) as caught:
        run(repo, "contoso", live)
    (problem,) = caught.value.problems
    assert str(problem.location) == "connectors/contoso/relay.yaml:8:1"
    assert (
        'cannot accept the live value "Scanners on floor 3": the value uses ${tenant.name}' in problem.message
    )
    assert {p: p.read_text() for p in repo.rglob("*.yaml")} == before


def test_a_shared_literal_of_a_tenant_without_a_folder_of_its_own_is_refused(repo: Path) -> None:
    live = live_of(repo, "fabrikam", {"To mail filter": {"tls_settings": "EncryptionOnly"}})
    with pytest.raises(InputError) as caught:
        run(repo, "fabrikam", live)
    (problem,) = caught.value.problems
    assert str(problem.location) == "connectors/common/filter-out.yaml:7:1"
    assert "tenant fabrikam has no folder of its own for an override" in problem.message


def test_missing_and_undeclared_connectors_are_not_accepted_but_said_so(repo: Path) -> None:
    full = live_of(repo, "contoso", {})
    relay = next(c for c in full.connectors if c.name == "Scanner relay")
    stray = LiveConnector(
        "InboundConnector", "Stray", "guid-x", relay.connector.model_copy(update={"name": "Stray"})
    )
    live = LiveState("contoso", [c for c in full.connectors if c.name != "Scanner relay"] + [stray])
    report = run(repo, "contoso", live)
    assert report.written == []
    assert report.notes == [
        "InboundConnector 'Scanner relay' is declared at connectors/contoso/relay.yaml:2 but missing from "
        "the tenant: it cannot be accepted; re-apply it (exoform plan, exoform apply), or declare it "
        "absent: true",
        "InboundConnector 'Stray' is live but no file declares it: not accepted (adopting it is export's "
        "job: exoform export --tenant contoso --target InboundConnector/Stray, into a folder of the "
        "tenant's own)",
    ]


def test_dry_run_reports_the_same_places_and_writes_nothing(repo: Path) -> None:
    live = live_of(
        repo, "fabrikam", {"From mail filter": {"sender_ip_addresses": NEW_IPS, "ef_skip_ips": NEW_IPS}}
    )
    dry = run(repo, "fabrikam", live, dry_run=True)
    assert (repo / "exoform.yaml").read_text() == CONFIG
    assert written(dry) == written(run(repo, "fabrikam", live))


def test_a_target_limits_what_is_accepted(repo: Path) -> None:
    live = live_of(
        repo,
        "contoso",
        {"Scanner relay": {"enabled": False}, "To mail filter": {"tls_settings": "EncryptionOnly"}},
    )
    report = run(repo, "contoso", live, targets=("InboundConnector/scanner*",))
    assert [(w.name, w.field) for w in report.written] == [("Scanner relay", "enabled")]
    assert [c.name for c in changes(repo, "contoso", live)] == ["To mail filter"]


def cli(repo: Path, *args: str) -> Result:
    return CliRunner().invoke(main, [*args, "--config", str(repo / "exoform.yaml")], obj=fake_time())


def change_live(repo: Path, tenant: str, kind: Kind, name: str, **fields: Any) -> None:
    config = load_config(repo / "exoform.yaml")
    provider = open_provider(tenant, config.tenants[tenant], config)
    try:
        found = provider.read().find(kind, name)
        assert found is not None
        provider.update(found, fields)
    finally:
        provider.close()


def test_the_command_prints_each_place_and_a_refusal_is_located_and_writes_nothing(repo: Path) -> None:
    assert cli(repo, "apply", "--auto-approve", "--tenant", "contoso").exit_code == 0
    change_live(repo, "contoso", "InboundConnector", "Scanner relay", enabled=False)
    dry = cli(repo, "accept", "--tenant", "contoso", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output == (
        'would write connectors/contoso/relay.yaml:9  InboundConnector "Scanner relay" enabled: in place\n'
        "Dry run: 1 field(s) of 1 connector(s) of contoso; nothing written.\n"
    )
    (repo / "connectors/contoso/relay.yaml").write_text(RELAY.replace("floor 2", "${tenant.name}"))
    change_live(repo, "contoso", "InboundConnector", "Scanner relay", comment="Scanners on floor 3")
    refused = cli(repo, "accept", "--tenant", "contoso")
    assert refused.exit_code == 1
    assert refused.output.startswith(
        "connectors/contoso/relay.yaml:8:1: error: InboundConnector 'Scanner relay' comment: cannot accept"
    )
    assert (repo / "connectors/contoso/relay.yaml").read_text() == RELAY.replace("floor 2", "${tenant.name}")
    typo = cli(repo, "accept", "--tenant", "contoso", "--target", "InboundConnector/Scaner*", "--dry-run")
    assert 'warning: --target "InboundConnector/Scaner*" matches no connector of contoso' in typo.output
    unknown = cli(repo, "accept", "--tenant", "contosso")
    assert unknown.exit_code == 1
    assert "unknown tenant 'contosso' (did you mean 'contoso'?)" in unknown.output
