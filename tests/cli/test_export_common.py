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


#: Five customers: IPs and comments differ; c spells the name in another case and lists a's IPs in
#: another order; d has no outbound connector; e has one of its own too.
LIVE: dict[str, dict[str, list[dict[str, Any]]]] = {
    "a": {
        "InboundConnector": [inbound(FILTER_IN, ["198.51.100.0/25", "203.0.113.0/26"], "Filter for a")],
        "OutboundConnector": [outbound("eu")],
    },
    "b": {
        "InboundConnector": [inbound(FILTER_IN, ["192.0.2.0/25"], "Filter for b")],
        "OutboundConnector": [outbound("eu")],
    },
    "c": {
        "InboundConnector": [inbound(FILTER_IN.lower(), ["203.0.113.0/26", "198.51.100.0/25"], "Filter for c")],
        "OutboundConnector": [outbound("us")],
    },
    "d": {"InboundConnector": [inbound(FILTER_IN, ["192.0.2.0/25"], "Filter for d")]},
    "e": {
        "InboundConnector": [
            inbound(FILTER_IN, ["192.0.2.128/25"], "Filter for e"),
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
  a: {state: state/a.json, seed: seeds/a.json}
  b: {state: state/b.json, seed: seeds/b.json}
  c: {state: state/c.json, seed: seeds/c.json}
  d: {state: state/d.json, seed: seeds/d.json}
  e: {state: state/e.json, seed: seeds/e.json}
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


def test_five_tenants_become_one_shared_set_and_every_tenant_plans_no_changes(repo: Repo) -> None:
    result = repo.run("export", "--tenant", "[a-e]", "--common", "connectors/common", "--parallelism", "3")
    assert result.exit_code == 0, result.output
    out = result.output
    # What it shared, with whom, and which fields became variables.
    assert 'shared    connectors/common/from-mail-filter.yaml  InboundConnector "From Mail Filter"' in out
    assert "tenants: a, b, c, d, e" in out
    assert "sender_ip_addresses: ${vars.from_mail_filter_sender_ip_addresses}" in out
    assert "comment: ${vars.from_mail_filter_comment}" in out
    assert "smart_hosts: ${vars.to_mail_filter_smart_hosts}" in out
    assert "absent (Override absent: true): d (connectors/d/absent-to-mail-filter.yaml)" in out
    assert 'created   connectors/e/scanner-relay.yaml  InboundConnector "Scanner relay"  (e)' in out

    shared_in = repo.read("connectors/common/from-mail-filter.yaml")
    assert "name: From Mail Filter\n" in shared_in  # the most common spelling; c's differs only in case
    assert "sender_ip_addresses: ${vars.from_mail_filter_sender_ip_addresses}" in shared_in
    assert "restrict_domains_to_ip_addresses: true" in shared_in  # equal everywhere: a literal
    shared_out = repo.read("connectors/common/to-mail-filter.yaml")
    assert "tls_domain: '*.filter.example.net'" in shared_out
    assert "smart_hosts: ${vars.to_mail_filter_smart_hosts}" in shared_out

    config = repo.read("exoform.yaml")
    assert config.startswith("# The fleet (kept: export edits this file in place)\n")
    assert "connectors: [connectors/common]   # every customer shares this folder" in config
    # The most common value is the default; a tenant with another sets its own.
    assert "to_mail_filter_smart_hosts: [eu.filter.example.net]" in config
    assert "vars: {to_mail_filter_smart_hosts: [us.filter.example.net]" in config or (
        "to_mail_filter_smart_hosts: [us.filter.example.net]" in config
    )
    # Tenants needing a folder of their own get [shared, own]; the others keep inheriting the default.
    assert "connectors: [connectors/common, connectors/d]" in config
    assert "connectors: [connectors/common, connectors/e]" in config
    assert "connectors: [connectors/common, connectors/a]" not in config
    assert "connectors: connectors/lab" in config  # a tenant not selected is left alone

    assert repo.run("validate").exit_code == 0, repo.run("validate").output
    for tenant in "abcde":
        plan = repo.run("plan", "--tenant", tenant, "--detailed-exitcode")
        assert plan.exit_code == 0, plan.output
        assert "No changes" in plan.output or "no changes" in plan.output, plan.output

    # A second run writes nothing new.
    before = repo.files()
    again = repo.run("export", "--tenant", "[a-e]", "--common", "connectors/common")
    assert again.exit_code == 0, again.output
    assert repo.files() == before
    assert "(unchanged)" in again.output
    assert "0 setting(s) of exoform.yaml written" in again.output
