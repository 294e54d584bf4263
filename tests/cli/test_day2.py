"""Day 2 of a 40-tenant fleet (issue 22, docs/fleet.md "Day 2, end to end"), through the CLI in process.

A pull request adds one shared connector (one grouped block in the PR comment), a later one drops it for
one customer (an Override with ``absent: true``), the reviewed plan is applied ring by ring, a change
made in the admin center shows as drift naming the variable behind it, the drift is accepted into the
customer's ``vars``, and then no tenant has any change.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired.loader import load_config
from reconciler.model import Kind
from reconciler.providers.registry import open_provider
from tests.wiring import fake_time

CUSTOMERS = [f"customer-{i:02}" for i in range(1, 39)]
TENANTS = ["northwind-lab", "contoso", *CUSTOMERS]
CONFIG = """\
# Northwind: one mail filter in front of every customer
defaults:
  provider: local
  connectors: [connectors/common]
  ring: 1                       # customers after our own lab tenant
  vars:
    filter_ips: [198.51.100.0/25]   # the EU pod
tenants:
  northwind-lab:
    ring: 0
  contoso:
    connectors: [connectors/common, connectors/customers/contoso]
    max_deletes: 1
""" + "".join(f"  {name}: {{}}\n" for name in CUSTOMERS)
FILTER_IN = """\
kind: InboundConnector
name: Inbound from Northwind Mail Filter
connector_type: Partner
sender_domains: ["*"]
sender_ip_addresses: ${vars.filter_ips}   # the customer's pod
restrict_domains_to_ip_addresses: true
ef_skip_ips: ${vars.filter_ips}
"""
FILTER_OUT = """\
kind: OutboundConnector
name: Outbound to Northwind Mail Filter
connector_type: Partner
recipient_domains: ["*"]
use_mx_record: false
smart_hosts: [eu.outbound.mailfilter.example.net]
tls_settings: DomainValidation
tls_domain: "*.mailfilter.example.net"
"""
PRINTER = """\
kind: InboundConnector
name: Printer relay
connector_type: OnPremises
sender_domains: ["*"]
sender_ip_addresses: [192.0.2.25]
restrict_domains_to_ip_addresses: true
"""
NO_PRINTER = """\
# Contoso prints through its own gateway
kind: Override
target: {kind: InboundConnector, name: Printer relay}
absent: true
"""
IN = "Inbound from Northwind Mail Filter"


class Fleet:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.write("exoform.yaml", CONFIG)
        self.write("connectors/common/mail-filter-in.yaml", FILTER_IN)
        self.write("connectors/common/mail-filter-out.yaml", FILTER_OUT)
        self.write("connectors/customers/contoso/README.md", "Contoso's exceptions\n")

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())

    def show(self, plan: str = "plan.json") -> Result:
        return CliRunner().invoke(cli, ["show", plan], obj=fake_time())

    def live(self, tenant: str) -> dict[tuple[str, str], dict[str, Any]]:
        data = json.loads((self.root / ".exoform" / f"{tenant}.json").read_text())
        return {(k, o["Name"]): o for k in ("InboundConnector", "OutboundConnector") for o in data.get(k, [])}

    def change_live(self, tenant: str, kind: Kind, name: str, **fields: Any) -> None:
        """What an admin does in the admin center: a change no file asked for."""
        config = load_config(self.root / "exoform.yaml")
        provider = open_provider(tenant, config.tenants[tenant], config)
        try:
            found = provider.read().find(kind, name)
            assert found is not None
            provider.update(found, fields)
        finally:
            provider.close()


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Fleet:
    monkeypatch.chdir(tmp_path)
    fleet = Fleet(tmp_path)
    day1 = fleet.run("apply", "--auto-approve", "--parallelism", "16")
    assert day1.exit_code == 0, day1.output
    return fleet


def ok(result: Result, code: int = 0) -> str:
    assert result.exit_code == code, result.output
    return result.output


def test_day_2_of_a_40_tenant_fleet(fleet: Fleet) -> None:
    # 1. A pull request adds one shared connector: the PR comment shows it once, for all 40 tenants.
    fleet.write("connectors/common/printer-relay.yaml", PRINTER)
    comment = ok(fleet.run("plan", "--format", "markdown", "--parallelism", "16"))
    assert comment.count("InboundConnector <code>Printer relay</code>") == 1, comment
    assert "+ create InboundConnector <code>Printer relay</code> · 40 tenant(s)" in comment
    assert len(comment) < 6_000

    # 2. Merged: the reviewed plan is applied ring by ring, our lab tenant first.
    ok(fleet.run("plan", "--out", "plan.json", "--parallelism", "16"))
    early = fleet.run("apply", "plan.json", "--ring", "1")
    assert early.exit_code == 1
    assert "ring 1 waits for earlier rings: tenant northwind-lab (ring 0)" in early.output
    assert ("InboundConnector", "Printer relay") not in fleet.live("contoso")
    assert "Apply for northwind-lab: 1 applied." in ok(fleet.run("apply", "plan.json", "--ring", "0"))
    ring1 = ok(fleet.run("apply", "plan.json", "--ring", "1", "--parallelism", "16"))
    assert ring1.count(": 1 applied.") == 39 and "northwind-lab" not in ring1
    assert all(("InboundConnector", "Printer relay") in fleet.live(t) for t in TENANTS)

    # 3. A later pull request drops the printer relay for Contoso only: one reviewed delete.
    fleet.write("connectors/customers/contoso/no-printer.yaml", NO_PRINTER)
    plan = json.loads(ok(fleet.run("plan", "--format", "json", "--parallelism", "16")))
    changed = {t["tenant"]: t["changes"] for t in plan["tenants"] if t["changes"]}
    assert list(changed) == ["contoso"]
    (delete,) = changed["contoso"]
    assert (delete["action"], delete["name"]) == ("delete", "Printer relay")
    assert delete["reason"] == (
        "declared absent for this tenant by an Override in connectors/customers/contoso/no-printer.yaml:2"
    )
    ok(fleet.run("plan", "--tenant", "contoso", "--out", "contoso.json"))
    ok(fleet.run("apply", "contoso.json"))
    assert ("InboundConnector", "Printer relay") not in fleet.live("contoso")

    # 4. Customer 07 moved to the US pod in the admin center: the nightly drift shows it, naming the
    #    variable behind the fields and the command that accepts it.
    us = ["203.0.113.0/25"]
    fleet.change_live("customer-07", "InboundConnector", IN, sender_ip_addresses=us, ef_skip_ips=us)
    drift = fleet.run("drift", "--format", "markdown", "--parallelism", "16")
    body = ok(drift, 2)
    assert "Drift in <code>customer-07</code>:" in body
    assert "<code>${vars.filter&#95;ips} is set at exoform.yaml:7:5</code>" in body
    accept = f"exoform accept --tenant customer-07 --target 'InboundConnector/{IN}'"
    assert f"<code>{accept}</code>" in body
    assert "exoform export" not in body

    # 5. It was intended: accept it.  The customer's vars change; the default stays for everyone else.
    dry = ok(fleet.run("accept", "--tenant", "customer-07", "--dry-run"))
    assert "would write exoform.yaml:" in dry
    assert fleet.root.joinpath("exoform.yaml").read_text().endswith("  customer-38: {}\n")
    accepted = ok(fleet.run("accept", "--tenant", "customer-07"))
    line = re.search(r"wrote exoform\.yaml:(\d+)  InboundConnector .* sender_ip_addresses", accepted)
    assert line is not None, accepted
    config = fleet.root.joinpath("exoform.yaml").read_text().splitlines()
    assert config[int(line.group(1)) - 1].strip() == "filter_ips: [203.0.113.0/25]"
    assert "    filter_ips: [198.51.100.0/25]   # the EU pod" in config  # the default, comment kept

    # 6. No changes anywhere: every tenant matches the files.
    ok(fleet.run("plan", "--detailed-exitcode", "--parallelism", "16"))
    ok(fleet.run("drift", "--parallelism", "16"))
