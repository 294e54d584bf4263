"""``exoform export --tenant GLOB --common DIR``: five live tenants of varied shapes become one shared set
plus per-tenant vars and folders, and every tenant then plans with no changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from tests.wiring import fake_time

FILTER_IN = "From Mail Filter"
FILTER_OUT = "To Mail Filter"


def inbound(name: str, ips: list[str], comment: str) -> dict[str, Any]:
    return {
        "Name": name,
        "ConnectorType": "Partner",
        "SenderDomains": ["smtp:*;1"],
        "SenderIPAddresses": ips,
        "RestrictDomainsToIPAddresses": True,
        "Comment": comment,
    }


def outbound(pod: str) -> dict[str, Any]:
    return {
        "Name": FILTER_OUT,
        "ConnectorType": "Partner",
        "RecipientDomains": ["*"],
        "UseMXRecord": False,
        "SmartHosts": [f"{pod}.filter.example.net"],
        "TlsSettings": "DomainValidation",
        "TlsDomain": "*.filter.example.net",
    }


#: Five customers: IPs and comments differ; litware spells the name in another case and lists contoso's IPs
#: in another order; northwind has no outbound connector; tailspin has one of its own too.
LIVE: dict[str, dict[str, list[dict[str, Any]]]] = {
    "contoso": {
        "InboundConnector": [inbound(FILTER_IN, ["198.51.100.0/25", "203.0.113.0/26"], "Filter for contoso")],
        "OutboundConnector": [outbound("eu")],
    },
    "fabrikam": {
        "InboundConnector": [inbound(FILTER_IN, ["192.0.2.0/25"], "Filter for fabrikam")],
        "OutboundConnector": [outbound("eu")],
    },
    "litware": {
        "InboundConnector": [
            inbound(FILTER_IN.lower(), ["203.0.113.0/26", "198.51.100.0/25"], "Filter for litware")
        ],
        "OutboundConnector": [outbound("us")],
    },
    "northwind": {"InboundConnector": [inbound(FILTER_IN, ["192.0.2.0/25"], "Filter for northwind")]},
    "tailspin": {
        "InboundConnector": [
            inbound(FILTER_IN, ["192.0.2.128/25"], "Tailspin legacy filter"),
            {
                "Name": "Scanner relay",
                "ConnectorType": "OnPremises",
                "SenderDomains": ["smtp:e.example;1"],
                "SenderIPAddresses": ["198.51.100.200"],
            },
        ],
        "OutboundConnector": [outbound("eu")],
    },
}

CONFIG = """\
# The fleet (kept: export edits this file in place)
defaults:
  provider: local
  connectors: [connectors/common]   # every customer shares this folder
tenants:
  contoso: {state: state/contoso.json, seed: seeds/contoso.json}
  fabrikam: {state: state/fabrikam.json, seed: seeds/fabrikam.json}
  litware: {state: state/litware.json, seed: seeds/litware.json}
  northwind: {state: state/northwind.json, seed: seeds/northwind.json}
  tailspin: {state: state/tailspin.json, seed: seeds/tailspin.json}
  lab:   # not a customer: its own folder, left alone
    state: state/lab.json
    connectors: connectors/lab
"""


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        for tenant, live in LIVE.items():
            self.write(f"seeds/{tenant}.json", json.dumps(live))
        self.write("connectors/common/README.md", "The folder every customer shares.\n")
        self.write("connectors/lab/README.md", "Lab.\n")
        self.write("exoform.yaml", CONFIG)

    def write(self, relative: str, text: str) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)

    def read(self, relative: str) -> str:
        return (self.root / relative).read_text()

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, [*args, "--config", str(self.root / "exoform.yaml")], obj=fake_time())

    def files(self) -> dict[str, str]:
        return {
            p.relative_to(self.root).as_posix(): p.read_text()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and not p.relative_to(self.root).as_posix().startswith("state/")
        }


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    return Repo(tmp_path)


SELECT = ("--tenant", "contoso", "--tenant", "fabrikam", "--tenant", "litware", "--tenant", "[nt]*")
CUSTOMERS = ["contoso", "fabrikam", "litware", "northwind", "tailspin"]


def test_five_tenants_become_one_shared_set_and_every_tenant_plans_no_changes(repo: Repo) -> None:
    result = repo.run("export", *SELECT, "--common", "connectors/common", "--parallelism", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    # What it shared, with whom, which fields became variables, and what it left per tenant.
    assert 'shared    connectors/common/from-mail-filter.yaml  InboundConnector "From Mail Filter"' in out
    assert "tenants: contoso, fabrikam, litware, northwind, tailspin" in out
    assert "tenants: contoso, fabrikam, litware, tailspin\n" in out
    assert "sender_ip_addresses: ${vars.from_mail_filter_sender_ip_addresses}" in out
    assert "comment: ${vars.from_mail_filter_comment}" in out
    assert "smart_hosts: ${vars.to_mail_filter_smart_hosts}" in out
    assert (
        "absent (Override absent: true): northwind (connectors/northwind/absent-to-mail-filter.yaml)" in out
    )
    assert (
        'created   connectors/tailspin/scanner-relay.yaml  InboundConnector "Scanner relay"  (tailspin)'
        in out
    )

    shared_in = repo.read("connectors/common/from-mail-filter.yaml")
    assert "\nname: From Mail Filter\n" in shared_in  # the most common spelling; litware's differs in case
    assert "sender_ip_addresses: ${vars.from_mail_filter_sender_ip_addresses}" in shared_in
    assert "restrict_domains_to_ip_addresses: true" in shared_in  # equal everywhere: a literal
    shared_out = repo.read("connectors/common/to-mail-filter.yaml")
    assert "tls_domain: '*.filter.example.net'" in shared_out
    assert "smart_hosts: ${vars.to_mail_filter_smart_hosts}" in shared_out
    assert "Scanner" not in shared_in + shared_out

    config = repo.read("exoform.yaml")
    assert config.startswith("# The fleet (kept: export edits this file in place)\n")
    assert "connectors: [connectors/common]   # every customer shares this folder" in config
    assert "  lab:   # not a customer: its own folder, left alone\n" in config
    # The most common value is the default; only a tenant with another value sets its own.
    assert "  vars:\n    from_mail_filter_comment: Filter for contoso\n" in config
    assert "    to_mail_filter_smart_hosts: [eu.filter.example.net]\n" in config
    assert config.count("to_mail_filter_smart_hosts") == 2  # the default, and litware's us pod
    assert "      to_mail_filter_smart_hosts: [us.filter.example.net]\n" in config
    # litware lists contoso's IPs in another order: the same value, so litware sets none.
    assert config.count("from_mail_filter_sender_ip_addresses") == 4
    # Tenants needing a folder of their own get [shared, own]; the others keep inheriting the default.
    assert "    connectors: [connectors/common, connectors/northwind]\n" in config
    assert "    connectors: [connectors/common, connectors/tailspin]\n" in config
    assert config.count("connectors: [") == 3

    validate = repo.run("validate")
    assert validate.exit_code == 0, validate.output
    for tenant in CUSTOMERS:
        plan = repo.run("plan", "--tenant", tenant, "--detailed-exitcode")
        assert plan.exit_code == 0, plan.output

    # A second run reads the same tenants and writes nothing new.
    before = repo.files()
    again = repo.run("export", *SELECT, "--common", "connectors/common")
    assert again.exit_code == 0, again.output
    assert repo.files() == before
    assert again.output.count("(unchanged)") == 2
    assert "0 setting(s) of exoform.yaml written" in again.output
