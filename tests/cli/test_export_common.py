"""``exoform export --tenant GLOB --common DIR``: five live tenants of varied shapes become one shared set
plus per-tenant vars and folders, and every tenant then plans with no changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.desired.loader import load_config
from reconciler.model import InboundConnector
from reconciler.providers.registry import open_provider
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

    def change_live(self, tenant: str, kind: str, name: str, **fields: Any) -> None:
        """Change a live connector the way the admin center would (through the tenant's provider)."""
        config = load_config(self.root / "exoform.yaml")
        provider = open_provider(tenant, config.tenants[tenant], config)
        try:
            found = provider.read().find(kind, name)
            assert found is not None
            provider.update(found, fields)
        finally:
            provider.close()

    def add_live(self, tenant: str, **fields: Any) -> None:
        """Create an inbound connector the way the admin center would."""
        config = load_config(self.root / "exoform.yaml")
        provider = open_provider(tenant, config.tenants[tenant], config)
        try:
            provider.create(InboundConnector.model_validate(fields))
        finally:
            provider.close()

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


def test_a_tenant_that_cannot_be_read_stops_the_export_with_nothing_written(repo: Repo) -> None:
    repo.write("state/fabrikam.json", "{not json")
    before = repo.files()
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 1
    assert "error: tenant fabrikam: the local state cannot be used:" in result.stderr
    assert "1 of 5 tenant(s) failed." in result.stderr
    assert "nothing was written: export --common needs every selected tenant" in result.stderr
    assert repo.files() == before


@pytest.mark.parametrize(
    ("common", "why"),
    [
        ("/tmp/common", "give a folder relative to exoform.yaml"),
        ("../common", "'..' is not allowed"),
        ("linked/common", "is a symbolic link; it is not followed"),
        ("connectors/lab", "is also a connectors folder of lab, which --tenant does not select"),
    ],
)
def test_the_shared_folder_is_checked_before_anything_is_read_or_written(
    repo: Repo, tmp_path: Path, common: str, why: str
) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    (repo.root / "linked").symlink_to(outside)
    before = repo.files()
    result = repo.run("export", *SELECT, "--common", common)
    assert result.exit_code == 1
    assert why in result.stderr
    assert repo.files() == before
    assert list(outside.iterdir()) == []
    assert not (repo.root / "state").exists()  # no tenant was read


def test_connectors_exported_per_tenant_before_must_leave_the_tenants_folders_first(repo: Repo) -> None:
    repo.write(
        "exoform.yaml",
        CONFIG.replace(
            "connectors: [connectors/common]", "connectors: [connectors/common]\n  max_deletes: 0"
        ),
    )
    config = repo.read("exoform.yaml").replace(
        "contoso: {state: state/contoso.json, seed: seeds/contoso.json}",
        "contoso: {state: state/contoso.json, seed: seeds/contoso.json, connectors: [connectors/contoso]}",
    )
    repo.write("exoform.yaml", config)
    repo.write("connectors/contoso/README.md", "Contoso.\n")
    assert repo.run("export", "--tenant", "contoso").exit_code == 0  # the per-tenant export of before
    before = repo.files()
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 1
    assert (
        "error: connectors/contoso/from-mail-filter.yaml:2:1: declares InboundConnector 'From Mail Filter', "
        "which moves into the shared set"
    ) in result.stderr
    assert "nothing was written" in result.stderr
    assert repo.files() == before


def test_a_hand_edited_shared_file_is_kept_where_it_already_gives_each_tenant_its_value(repo: Repo) -> None:
    assert repo.run("export", *SELECT, "--common", "connectors/common").exit_code == 0
    path = "connectors/common/to-mail-filter.yaml"
    edited = repo.read(path).replace(
        "use_mx_record: false", "use_mx_record: false   # deliver through the filter, never by MX"
    )
    repo.write(path, edited)
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 0, result.output
    assert repo.read(path) == edited
    # A tenant whose live value changed: only that field of the shared file is derived again.
    repo.change_live("tailspin", "OutboundConnector", FILTER_OUT, enabled=False)
    # A variable's value changed: the variable keeps its name, the tenant's value is updated.
    repo.change_live("fabrikam", "InboundConnector", FILTER_IN, sender_ip_addresses=["192.0.2.0/26"])
    shared_in = repo.read("connectors/common/from-mail-filter.yaml")
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 0, result.output
    text = repo.read(path)
    assert "use_mx_record: false   # deliver through the filter, never by MX\n" in text
    assert "enabled: ${vars.to_mail_filter_enabled}\n" in text
    assert repo.read("connectors/common/from-mail-filter.yaml") == shared_in
    config = repo.read("exoform.yaml")
    assert "      from_mail_filter_sender_ip_addresses: [192.0.2.0/26]\n" in config
    assert "192.0.2.0/25" in config  # northwind's, unchanged
    assert "sender_ip_addresses_2" not in config and "inbound_from" not in config
    for tenant in CUSTOMERS:
        assert repo.run("plan", "--tenant", tenant, "--detailed-exitcode").exit_code == 0
    # A change no shared document can hold (breaking the service's rules) leaves the file as it is,
    # reported, and writes no second copy into the tenants' folders.
    state = repo.read("state/tailspin.json")
    assert '"UseMXRecord": false' in state  # the service no longer allows this; an older one did
    repo.write("state/tailspin.json", state.replace('"UseMXRecord": false', '"UseMXRecord": true'))
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 0, result.output
    assert (
        'per tenant OutboundConnector "To Mail Filter": not shared: left as the shared folder declares it: '
        "tailspin's copy breaks the service's rules"
    ) in result.output
    assert repo.read(path) == text
    assert not (repo.root / "connectors" / "contoso").exists()
    assert sorted(p.name for p in (repo.root / "connectors" / "tailspin").iterdir()) == ["scanner-relay.yaml"]


def test_tenants_with_folders_of_their_own_get_the_shared_folder_first(repo: Repo) -> None:
    lines = ["# provider: local (the default) for every tenant", "tenants:"]
    for tenant in CUSTOMERS:
        lines.append(f"  {tenant}:")
        lines.append(f"    state: state/{tenant}.json")
        lines.append(f"    seed: seeds/{tenant}.json")
        lines.append(f"    connectors: connectors/{tenant}   # {tenant}'s own")
        repo.write(f"connectors/{tenant}/README.md", f"{tenant}\n")
    repo.write("exoform.yaml", "\n".join(lines) + "\n")
    result = repo.run("export", "--tenant", "*", "--common", "shared/mail-filter")
    assert result.exit_code == 0, result.output
    config = repo.read("exoform.yaml")
    for tenant in CUSTOMERS:
        [line] = [x for x in config.splitlines() if f"connectors/{tenant}" in x]
        assert line.startswith(f"    connectors: [shared/mail-filter, connectors/{tenant}]")
        assert line.endswith(f"# {tenant}'s own")  # the comment is kept
    # No defaults: block before: one is made, before the tenants, for the variables' common values.
    assert config.startswith("# provider: local (the default) for every tenant\ndefaults:\n  vars:\n")
    assert (repo.root / "shared" / "mail-filter" / "from-mail-filter.yaml").is_file()
    assert (repo.root / "connectors" / "northwind" / "absent-to-mail-filter.yaml").is_file()
    assert repo.run("validate").exit_code == 0
    assert repo.run("plan", "--detailed-exitcode").exit_code == 0


def test_export_common_needs_two_tenants_and_plain_export_one(repo: Repo) -> None:
    one = repo.run("export", "--tenant", "contoso", "--common", "connectors/common")
    assert one.exit_code == 1
    assert "--common derives a shared set from two or more tenants; --tenant selects 1" in one.stderr
    two = repo.run("export", "--tenant", "contoso", "--tenant", "fabrikam")
    assert two.exit_code == 1
    assert "give one --tenant, or --common DIR to export several into a shared set" in two.stderr
    out = repo.run("export", *SELECT, "--common", "connectors/common", "--out", "x")
    assert out.exit_code == 1 and "--out does not apply" in out.stderr


def test_a_targeted_shared_export_adds_one_connector_and_leaves_every_other_as_it_is(repo: Repo) -> None:
    """Day 2: a relay three of five customers got in the admin center joins the shared set alone; a
    customer's drift on another shared connector is not folded into the files on the way."""
    assert repo.run("export", *SELECT, "--common", "connectors/common").exit_code == 0
    relay = {"name": "Printer relay", "connector_type": "OnPremises", "sender_domains": ["*"]}
    for tenant, ip in (("contoso", "203.0.113.7"), ("fabrikam", "203.0.113.8"), ("litware", "203.0.113.9")):
        repo.add_live(tenant, **relay, sender_ip_addresses=[ip])
    repo.change_live("tailspin", "OutboundConnector", FILTER_OUT, enabled=False)  # drift, not to adopt
    before = repo.files()

    result = repo.run(
        "export", *SELECT, "--common", "connectors/common", "--target", "InboundConnector/printer*"
    )
    assert result.exit_code == 0, result.output
    after = repo.files()
    changed = {path for path in after if before.get(path) != after[path]}
    assert changed == {
        "connectors/common/printer-relay.yaml",
        "connectors/northwind/absent-printer-relay.yaml",
        "connectors/tailspin/absent-printer-relay.yaml",
        "exoform.yaml",
    }, changed
    assert (
        "sender_ip_addresses: ${vars.printer_relay_sender_ip_addresses}"
        in after["connectors/common/printer-relay.yaml"]
    )
    assert "enabled" not in after["connectors/common/to-mail-filter.yaml"]  # tailspin's drift left alone
    plan = repo.run("plan", "--detailed-exitcode", "--tenant", "contoso", "--tenant", "northwind")
    assert plan.exit_code == 0, plan.output  # the relay declared where it is, absent where it is not

    stray = repo.run("export", *SELECT, "--common", "connectors/common", "--target", "*/nothing-like-it")
    assert (
        stray.exit_code == 0 and 'warning: --target "*/nothing-like-it" matches no connector' in stray.stderr
    )
    assert repo.files() == after

    joining = repo.run(
        "export", *SELECT, "--tenant", "lab", "--common", "connectors/common", "--target", "*/x"
    )
    assert joining.exit_code == 1
    assert "tenant lab does not list connectors/common yet: --target adds to a shared set" in joining.stderr
    assert repo.files() == after


def test_a_value_no_file_can_hold_keeps_the_connector_per_tenant_and_is_reported(repo: Repo) -> None:
    live = json.loads(repo.read("seeds/contoso.json"))
    live["InboundConnector"][0]["EFSkipIPs"] = ["10.1.2.0/24"]  # private: an older service let it in
    repo.write("seeds/contoso.json", json.dumps(live))
    result = repo.run("export", *SELECT, "--common", "connectors/common")
    assert result.exit_code == 0, result.output
    assert (
        'per tenant InboundConnector "From Mail Filter": not shared: contoso\'s copy cannot be written back'
    ) in result.output
    assert 'skipped   -  InboundConnector "From Mail Filter"  (contoso)' in result.output
    assert "ef_skip_ips: '10.1.2.0/24' cannot be written back" in result.output
    assert "warning: some connectors break the service's rules or were skipped" in result.stderr
    assert not (repo.root / "connectors" / "common" / "from-mail-filter.yaml").exists()
    assert (repo.root / "connectors" / "fabrikam" / "from-mail-filter.yaml").is_file()
    for tenant in ["fabrikam", "litware", "northwind", "tailspin"]:
        assert repo.run("plan", "--tenant", tenant, "--detailed-exitcode").exit_code == 0


def test_a_tenant_joining_the_shared_set_must_not_declare_its_connectors_twice(repo: Repo) -> None:
    lines = ["tenants:"]
    for tenant in CUSTOMERS:
        lines += [f"  {tenant}:", f"    state: state/{tenant}.json", f"    seed: seeds/{tenant}.json"]
        lines.append(f"    connectors: connectors/{tenant}")
        repo.write(f"connectors/{tenant}/README.md", f"{tenant}\n")
    repo.write("exoform.yaml", "\n".join(lines) + "\n")
    assert repo.run("export", "--tenant", "contoso").exit_code == 0
    others = ("--tenant", "[flnt]*", "--common", "connectors/common")
    assert repo.run("export", *others).exit_code == 0
    before = repo.files()
    result = repo.run("export", "--tenant", "*", "--common", "connectors/common")
    assert result.exit_code == 1
    assert (
        "error: connectors/contoso/from-mail-filter.yaml:2:1: declares InboundConnector 'From Mail Filter', "
        "which connectors/common/from-mail-filter.yaml declares too (tenant contoso is about to list "
        "connectors/common)"
    ) in result.stderr
    assert repo.files() == before
