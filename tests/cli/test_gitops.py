"""``exoform drift``, ``tenants`` and ``status`` through the CLI, against local tenants (the emulator
in-process, state in JSON files), with real files in a temporary folder."""

from __future__ import annotations

import io
import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired.loader import load_config
from reconciler.providers.registry import open_provider
from reconciler.render.markdown import MAX_CHARS
from tests.wiring import fake_time

RELAY_IN = """\
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
smart_hosts: [smtp.filter.example.net, relay.broken.invalid]
tls_settings: CertificateValidation
"""
#: The live counterparts of the two files above, plus one connector no file declares.
SEED: dict[str, list[dict[str, Any]]] = {
    "InboundConnector": [
        {
            "Name": "Printer relay",
            "ConnectorType": "OnPremises",
            "SenderDomains": ["smtp:contoso.com;1"],
            "SenderIPAddresses": ["203.0.113.10"],
        }
    ],
    "OutboundConnector": [
        {
            "Name": "To filter",
            "ConnectorType": "Partner",
            "RecipientDomains": ["*"],
            "UseMXRecord": False,
            "SmartHosts": ["smtp.filter.example.net", "relay.broken.invalid"],
            "TlsSettings": "CertificateValidation",
        },
        {
            "Name": "Pilot (admin center)",
            "ConnectorType": "Partner",
            "ConnectorSource": "AdminUI",
            "RecipientDomains": ["fabrikam.com"],
            "UseMXRecord": True,
            "TestMode": True,
            "Enabled": False,
        },
    ],
}


class Fleet:
    """A repo with several local tenants, each seeded with :data:`SEED` and declaring the two files."""

    def __init__(self, root: Path, names: list[str], broken: tuple[str, ...] = ()) -> None:
        self.root = root
        (root / "seed.json").write_text(json.dumps(SEED))
        lines = ["tenants:"]
        for name in names:
            folder = root / "connectors" / name
            folder.mkdir(parents=True)
            (folder / "relay.yaml").write_text(RELAY_IN)
            (folder / "filter.yaml").write_text(FILTER_OUT)
            state = f"state/{name}.json"
            if name in broken:
                (root / "state").mkdir(exist_ok=True)
                (root / state).write_text('{"InboundConnector": [')  # a truncated state file
            lines += [
                f"  {name}:",
                "    provider: local",
                f"    connectors: connectors/{name}",
                f"    state: {state}",
                "    seed: seed.json",
            ]
        (root / "exoform.yaml").write_text("\n".join(lines) + "\n")

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())

    def provider(self, tenant: str) -> Any:
        config = load_config(self.root / "exoform.yaml")
        return open_provider(tenant, config.tenants[tenant], config)

    def change_live(self, tenant: str, kind: str, name: str, **fields: Any) -> str:
        """Change a connector in the tenant behind exoform's back; returns its new WhenChangedUTC."""
        provider = self.provider(tenant)
        try:
            live = provider.read().find(kind, name)
            provider.update(live, fields)
            changed = provider.read().find(kind, name)
        finally:
            provider.close()
        assert changed.when_changed_utc
        return str(changed.when_changed_utc)

    def state(self, tenant: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / "state" / f"{tenant}.json").read_text())
        return data


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return Fleet(tmp_path, ["contoso"])


# ---------------------------------------------------------------------------------------------- drift


def test_no_drift_exits_0_and_lists_unmanaged_without_counting_it(fleet: Fleet) -> None:
    result = fleet.run("drift")
    assert result.exit_code == 0, result.output
    assert "No drift: the tenant matches the files." in result.output
    assert 'Unmanaged (not drift, no file declares them): OutboundConnector "Pilot (admin center)"' in (
        result.output
    )
    assert "No drift in 1 tenant(s)." in result.output


def test_drift_exits_2_with_fields_desired_against_live_and_when_changed(fleet: Fleet) -> None:
    assert fleet.run("drift").exit_code == 0  # creates the state from the seed
    when = fleet.change_live(
        "contoso", "OutboundConnector", "To filter", tls_settings="EncryptionOnly", enabled=False
    )
    result = fleet.run("drift")
    assert result.exit_code == 2, result.output
    assert 'OutboundConnector "To filter": 2 field(s) differ' in result.output
    assert f"last changed in the tenant: {when}" in result.output
    assert re.search(
        r'tls_settings\s+files: "CertificateValidation"\n\s+live:\s+"EncryptionOnly"', result.output
    )
    assert re.search(r"enabled\s+files: true\n\s+live:\s+false", result.output)
    assert "Drift in 1 of 1 tenant(s): 1 connector(s) differ from the files." in result.output

    as_json = fleet.run("drift", "--format", "json")
    assert as_json.exit_code == 2
    report = json.loads(as_json.stdout)
    (tenant,) = report["tenants"]
    (drifted,) = tenant["connectors"]
    assert drifted["state"] == "changed"
    assert drifted["when_changed_utc"] == when
    tls = next(f for f in drifted["fields"] if f["field"] == "tls_settings")
    assert (tls["desired"], tls["live"]) == ("CertificateValidation", "EncryptionOnly")
    assert tls["origin"].endswith("connectors/contoso/filter.yaml:1"), tls  # the document that sets it
    assert tenant["unmanaged"] == [
        {
            "kind": "OutboundConnector",
            "name": "Pilot (admin center)",
            "connector_source": "AdminUI",
            "reason": "",
        }
    ]

    markdown = fleet.run("drift", "--format", "markdown")
    assert markdown.exit_code == 2
    assert markdown.stdout.startswith("<!-- exoform-drift -->\n## exoform drift\n")
    assert '| `tls_settings` | <code>"CertificateValidation"</code> | <code>"EncryptionOnly"</code> |' in (
        markdown.stdout
    )
    assert f"Last changed in the tenant: **{when}**" in markdown.stdout
    # the same drift gives the same issue body, so the nightly update of an open issue is a no-op
    assert fleet.run("drift", "--format", "markdown").stdout == markdown.stdout


def test_a_deleted_connector_is_drift(fleet: Fleet) -> None:
    assert fleet.run("drift").exit_code == 0
    provider = fleet.provider("contoso")
    try:
        provider.delete(provider.read().find("InboundConnector", "Printer relay"))
    finally:
        provider.close()
    result = fleet.run("drift", "--format", "json")
    assert result.exit_code == 2
    (drifted,) = json.loads(result.stdout)["tenants"][0]["connectors"]
    assert (drifted["kind"], drifted["name"], drifted["state"]) == (
        "InboundConnector",
        "Printer relay",
        "missing",
    )


def test_invalid_files_exit_1(fleet: Fleet) -> None:
    (fleet.root / "connectors" / "contoso" / "relay.yaml").write_text("kind: InboundConnector\nname: x\n")
    result = fleet.run("drift")
    assert result.exit_code == 1
    assert "relay.yaml:1:1" in result.output


def test_many_tenants_one_failing_the_others_still_reported(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ["cust-a", "cust-b", "cust-c", "other"], broken=("cust-b",))
    fleet.run("drift", "--tenant", "cust-c")
    fleet.change_live("cust-c", "InboundConnector", "Printer relay", comment="hand edit")
    result = fleet.run("drift", "--tenant", "cust-*", "--parallelism", "3", "--format", "json")
    assert result.exit_code == 1, result.output  # an error wins over drift
    report = json.loads(result.stdout)
    by_name = {t["tenant"]: t for t in report["tenants"]}
    assert list(by_name) == ["cust-a", "cust-b", "cust-c"]  # the glob, in the file's order
    assert by_name["cust-a"]["drift"] is False
    assert by_name["cust-c"]["drift"] is True
    assert by_name["cust-b"]["drift"] is None
    assert by_name["cust-b"]["connectors"] == []
    assert "cust-b" in by_name["cust-b"]["error"]
    assert report["errors"] == 1
    assert "1 of 3 tenant(s) failed." in result.stderr
    assert "cust-b" in result.stderr
    text = fleet.run("drift", "--tenant", "cust-a", "--tenant", "cust-c")
    assert text.exit_code == 2
    assert "Drift in 1 of 2 tenant(s): 1 connector(s) differ from the files." in text.output


def test_drift_markdown_stays_under_githubs_limit_with_a_large_drift(tmp_path: Path) -> None:
    count = 150
    domains = [f"partner-{i:03d}.example-long-domain-name.com" for i in range(20)]
    seed = {
        "OutboundConnector": [
            {
                "Name": f"Route {i:03d}",
                "ConnectorType": "Partner",
                "RecipientDomains": domains,
                "UseMXRecord": True,
            }
            for i in range(count)
        ]
    }
    (tmp_path / "seed.json").write_text(json.dumps(seed))
    folder = tmp_path / "connectors"
    folder.mkdir()
    for i in range(count):
        (folder / f"route-{i:03d}.yaml").write_text(
            textwrap.dedent(
                f"""\
                kind: OutboundConnector
                name: Route {i:03d}
                connector_type: Partner
                recipient_domains: {json.dumps([d.replace("partner", "vendor") for d in domains])}
                """
            )
        )
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  big:\n    provider: local\n    connectors: connectors\n    state: state.json\n"
        "    seed: seed.json\n"
    )
    config = ["--config", str(tmp_path / "exoform.yaml")]
    drift = CliRunner().invoke(cli, ["drift", "--format", "markdown", *config])
    assert drift.exit_code == 2, drift.output
    assert 60_000 < len(drift.stdout) <= MAX_CHARS < 65_536
    assert "Drift in <code>big</code>: 150 connector(s) differ from the files." in drift.stdout
    assert "more section(s) were cut to fit GitHub's size limit" in drift.stdout
    plan = CliRunner().invoke(cli, ["plan", "--format", "markdown", "--fail-on", "never", *config])
    assert plan.exit_code == 0, plan.output
    assert len(plan.stdout) <= MAX_CHARS
    assert "were cut to fit GitHub's comment size limit" in plan.stdout


# -------------------------------------------------------------------------------------------- tenants


def test_tenants_matrix_json_and_globs(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ["contoso", "fabrikam", "cust-1"])
    result = fleet.run("tenants", "--json")
    assert result.exit_code == 0
    matrix = json.loads(result.stdout)
    assert matrix == {"tenant": ["contoso", "fabrikam", "cust-1"]}
    assert fleet.run("tenants").stdout == "contoso\nfabrikam\ncust-1\n"
    assert json.loads(fleet.run("tenants", "--json", "--tenant", "c*").stdout) == {
        "tenant": ["contoso", "cust-1"]
    }
    unknown = fleet.run("tenants", "--tenant", "nope")
    assert unknown.exit_code == 1
    assert "no tenant matches 'nope'" in unknown.output


# --------------------------------------------------------------------------------------------- status


def test_status_shows_health_and_managed(fleet: Fleet) -> None:
    result = fleet.run("status")
    assert result.exit_code == 0, result.output
    header = result.stdout.splitlines()[0].split()
    assert header[:3] == ["TENANT", "KIND", "NAME"]
    pilot = next(line for line in result.stdout.splitlines() if "Pilot (admin center)" in line)
    assert re.search(
        r"outbound\s+Pilot \(admin center\)\s+no\s+yes\s+no\s+\S+Z?\s+unmanaged \[AdminUI\]", pilot
    )
    relay = next(line for line in result.stdout.splitlines() if "Printer relay" in line)
    assert re.search(r"inbound\s+Printer relay\s+yes\s+-\s+-\s+\S+\s+managed$", relay)

    as_json = json.loads(fleet.run("status", "--format", "json").stdout)
    rows = {r["name"]: r for r in as_json["connectors"]}
    assert rows["To filter"]["managed"] is True
    assert rows["To filter"]["validated"] is False
    assert rows["Pilot (admin center)"] | {"last_changed": None} == {
        "tenant": "contoso",
        "kind": "OutboundConnector",
        "name": "Pilot (admin center)",
        "enabled": False,
        "test_mode": True,
        "validated": False,
        "last_validated": None,
        "validation_recipients": [],
        "last_changed": None,
        "managed": False,
        "connector_source": "AdminUI",
    }
    state = fleet.state("contoso")
    live_changed = {o["Name"]: o["WhenChangedUTC"] for o in state["OutboundConnector"]}
    assert rows["Pilot (admin center)"]["last_changed"] == live_changed["Pilot (admin center)"]


def test_status_validate_shows_each_smart_host(fleet: Fleet) -> None:
    result = fleet.run(
        "status", "--tenant", "contoso", "--validate", "to FILTER", "--recipient", "postmaster@contoso.com"
    )
    assert result.exit_code == 1, result.output  # one smart host fails
    assert 'Validate-OutboundConnector "To filter" in contoso (test mail to postmaster@contoso.com):' in (
        result.output
    )
    assert re.search(r"smtp\.filter\.example\.net\s+Succeeded", result.output)
    assert re.search(r"relay\.broken\.invalid\s+Failed\s+Unable to connect", result.output)
    assert "Validation failed." in result.output
    after = json.loads(fleet.run("status", "--format", "json").stdout)
    row = next(r for r in after["connectors"] if r["name"] == "To filter")
    assert row["validated"] is False
    assert row["last_validated"]
    assert row["validation_recipients"] == ["postmaster@contoso.com"]
    # the recipients validation stored are service-owned: no drift, and no apply would wipe them
    plan = fleet.run("plan", "--tenant", "contoso", "--detailed-exitcode", "--fail-on", "never")
    assert "validation_recipients" not in plan.output, plan.output

    unknown = fleet.run(
        "status", "--tenant", "contoso", "--validate", "To filtr", "--recipient", "a@contoso.com"
    )
    assert unknown.exit_code == 1
    assert "no outbound connector 'To filtr' (did you mean 'To filter'?)" in unknown.output
    as_json = fleet.run(
        "status",
        "--tenant",
        "contoso",
        "--validate",
        "To filter",
        "--recipient",
        "a@contoso.com",
        "--format",
        "json",
    )
    assert as_json.exit_code == 1
    report = json.loads(as_json.stdout)
    assert report["ok"] is False
    assert sorted((r["smart_host"], r["status"]) for r in report["results"]) == [
        ("relay.broken.invalid", "Failed"),
        ("smtp.filter.example.net", "Succeeded"),
    ]
    no_recipient = fleet.run("status", "--tenant", "contoso", "--validate", "To filter")
    assert no_recipient.exit_code == 1
    assert "--validate needs at least one --recipient" in no_recipient.output


def test_status_validate_success_exits_0(fleet: Fleet) -> None:
    (fleet.root / "connectors" / "contoso" / "filter.yaml").write_text(
        FILTER_OUT.replace(", relay.broken.invalid", "")
    )
    applied = fleet.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    result = fleet.run(
        "status", "--tenant", "contoso", "--validate", "To filter", "--recipient", "postmaster@contoso.com"
    )
    assert result.exit_code == 0, result.output
    assert "Validation succeeded." in result.output
    row = next(
        r
        for r in json.loads(fleet.run("status", "--format", "json").stdout)["connectors"]
        if r["name"] == "To filter"
    )
    assert row["validated"] is True


def test_status_with_a_failing_tenant_exits_1_and_shows_the_others(tmp_path: Path) -> None:
    fleet = Fleet(tmp_path, ["good", "bad"], broken=("bad",))
    result = fleet.run("status")
    assert result.exit_code == 1
    assert "Printer relay" in result.stdout
    assert "1 of 2 tenant(s) failed." in result.stderr


# ------------------------------------------------------------------------------------------- progress


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_only_on_a_terminal_and_counts_failures() -> None:
    from reconciler.cli.progress import progress_callback, tenant_progress
    from reconciler.workflow import TenantOutcome

    assert progress_callback(5, stream=io.StringIO()) is None  # a pipe or a CI log: nothing drawn
    assert progress_callback(1, stream=_Terminal()) is None  # one tenant: no bar
    screen = _Terminal()
    with tenant_progress(3, stream=screen) as on_done:
        assert on_done is not None
        on_done(TenantOutcome("a"))
        on_done(TenantOutcome("b", error="tenant b: cannot read"))
        on_done(TenantOutcome("c"))
    shown = screen.getvalue()
    assert "Planning tenants" in shown
    assert "3/3" in shown
    assert "1 failed" in shown
