"""Fleet-scale plans: changes shared by many tenants shown once, a size budget that never cuts failures."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from reconciler.cli import cli
from reconciler.plan import Change, Plan, TenantPlan, Unmanaged
from reconciler.render import Options, render
from reconciler.render.markdown import MAX_CHARS, render_markdown
from reconciler.render.sarif import FINGERPRINT
from reconciler.render.text import render_text

RELAY = {
    "name": "Printer relay",
    "connector_type": "OnPremises",
    "sender_ip_addresses": ["203.0.113.10"],
    "comment": "printers of the branch offices",
    "require_tls": False,
}


def relay() -> Change:
    return Change("create", "InboundConnector", "Printer relay", list(RELAY), None, dict(RELAY))


def update(name: str, field: str, before: object, after: object) -> Change:
    return Change(
        "update",
        "OutboundConnector",
        name,
        [field],
        {"name": name, field: before},
        {"name": name, field: after},
        guid="g",
        fingerprint="sha256:1",
    )


def shared(i: int) -> list[Change]:
    """Three shared changes: a create and an update identical everywhere, an update of a list field whose
    added item is the tenant's own (``${vars.filter_host}``)."""
    return [
        relay(),
        update("To filter", "tls_settings", "EncryptionOnly", "DomainValidation"),
        update("From filter", "smart_hosts", ["a.example.net"], ["a.example.net", f"h{i}.example.net"]),
    ]


def fleet(n: int, *, changed: int | None = None, names: list[str] | None = None) -> Plan:
    names = names or [f"tenant-{i:04d}" for i in range(n)]
    return Plan(
        [
            TenantPlan(name, "local:x", changes=shared(i) if changed is None or i < changed else [])
            for i, name in enumerate(names)
        ]
    )


def test_a_connector_added_to_40_tenants_is_one_block_naming_them() -> None:
    plan = Plan([TenantPlan(f"customer-{i:02d}", "local:x", changes=[relay()]) for i in range(40)])
    md = render_markdown(plan)
    assert md.count("<details><summary>+ create InboundConnector") == 1
    assert md.count('<code>"Printer relay"</code>') == 1
    first = ", ".join(f"<code>customer-{i:02d}</code>" for i in range(3))
    assert f"· 40 tenant(s): {first} and 37 more</summary>" in md
    assert "Tenants (40): " + ", ".join(f"<code>customer-{i:02d}</code>" for i in range(40)) in md
    assert "### Tenant" not in md
    assert "| planned | 1 | 0 | 0 | 0 | 0 | yes |" in md and md.count("| planned |") == 1


def test_tenants_without_changes_are_one_row() -> None:
    md = render_markdown(fleet(40, changed=2))
    (row,) = [line for line in md.splitlines() if "| planned | 0 | 0 | 0 |" in line]
    assert "<code>tenant-0002</code>, <code>tenant-0003</code>, <code>tenant-0004</code> and 35 more" in row


def test_per_tenant_values_are_listed_under_one_block() -> None:
    md = render_markdown(fleet(5))
    assert md.count("~ update OutboundConnector <code>From filter</code>") == 1
    assert "| `smart_hosts` | *5 values, per tenant below* |" in md
    assert '| <code>tenant-0003</code> | | + <code>"h3.example.net"</code> |' in md


def test_identical_values_in_a_varying_field_share_a_row() -> None:
    plan = Plan(
        [
            TenantPlan(t, "local:x", changes=[update("To filter", "smart_hosts", ["a"], [host])])
            for t, host in (("x", "one"), ("y", "two"), ("z", "one"))
        ]
    )
    md = render_markdown(plan)
    assert '| <code>x</code>, <code>z</code> | - <code>"a"</code> | + <code>"one"</code> |' in md


def test_a_thousand_tenants_fit_one_comment_and_say_what_was_left_out() -> None:
    md = render_markdown(fleet(1000, changed=950))
    assert len(md) <= MAX_CHARS < 65_536
    for name in ("Printer relay", "To filter", "From filter"):
        assert md.count(f"<code>{name}</code></summary>") == 0  # the summary carries the tenants
        assert f"<code>{name}</code> · 950 tenant(s)" in md
    assert "were cut to fit GitHub's comment size limit" in md
    assert re.search(r"the names of \d+ tenant\(s\) without changes", md)
    assert re.search(r"\d+ per-tenant value\(s\)", md)
    assert "`exoform show plan.json --group`" in md


@pytest.mark.parametrize("tenants", [3, 200, 1000])
def test_a_failed_tenant_and_an_unsafe_reason_survive_the_cut(tenants: int) -> None:
    plan = fleet(tenants)
    plan.tenants[-1] = TenantPlan.failed_with("zz-broken", "local:x", "sign-in refused:\nAADSTS7000215")
    plan.tenants[-2].unsafe_reasons.append("3 changes exceed max_changes 2")
    for limit in (MAX_CHARS, 4_000):
        md = render_markdown(plan, max_chars=limit)
        assert len(md) <= limit
        assert "> - <code>zz-broken</code>: sign-in refused:<br>AADSTS7000215" in md
        assert f"> - <code>{plan.tenants[-2].tenant}</code>: 3 changes exceed max&#95;changes 2" in md
        assert "| <code>zz-broken</code> | **failed** |" in md


def test_hostile_tenant_names_are_escaped_in_groups() -> None:
    hostile = ["a`b", "evil\n::error::pwned", "::error::x", "<img src=x>", "c|d"]
    plan = fleet(5, names=hostile)
    plan.tenants.append(TenantPlan("::warning::idle", "local:x"))
    md = render_markdown(plan)
    assert not [line for line in md.splitlines() if line.lstrip().startswith("::")]
    assert "<img" not in md and "a`b" not in md and "c|d" not in md
    assert "<code>a&#96;b</code>, <code>evil&#92;n::error::pwned</code>, <code>&#92;x3a:error::x</code>" in md
    assert "<code>c&#124;d</code>" in md and "<code>&#92;x3a:warning::idle</code>" in md
    text = render_text(plan, group=True)
    assert not [line for line in text.splitlines() if line.lstrip().startswith("::")]
    assert "a`b, evil\\n::error::pwned, \\x3a:error::x" in text


def test_grouped_text_shows_each_shared_change_once_with_its_tenants() -> None:
    plan = fleet(4, changed=3)
    text = render(("plan"), "text", plan, Options(group=True))
    assert text.count('+ InboundConnector "Printer relay"') == 1
    assert "tenants (3): tenant-0000, tenant-0001, tenant-0002" in text
    assert 'tenant-0001: +"h1.example.net"' in text
    assert "No changes (1): tenant-0003" in text
    assert "Plan for tenant-0000, tenant-0001, tenant-0002: 1 to create, 2 to update, 0 to delete." in text
    assert render_text(plan).count('+ InboundConnector "Printer relay"') == 3  # ungrouped by default


def test_grouped_text_puts_failures_and_unsafe_reasons_first() -> None:
    plan = fleet(3)
    plan.tenants[2] = TenantPlan.failed_with("broken", "local:x", "boom")
    plan.tenants[1].unsafe_reasons.append("too many")
    plan.tenants[0].unmanaged.append(Unmanaged("InboundConnector", "Portal made"))
    text = render_text(plan, group=True)
    assert text.index("! FAILED: boom") < text.index("! UNSAFE PLAN (tenant-0001): too many")
    assert text.index("UNSAFE PLAN") < text.index('+ InboundConnector "Printer relay"')
    assert '? InboundConnector "Portal made" (tenant-0000)' in text
    assert text.rstrip().endswith("1 of 3 tenant(s) failed: the plan is incomplete.")


def _fleet_repo(root: Path, tenants: list[str]) -> list[str]:
    """exoform.yaml with local tenants sharing one connector folder (a connector with risks)."""
    (root / "shared").mkdir()
    (root / "shared" / "relay.yaml").write_text(
        "kind: InboundConnector\nname: Printer relay\nconnector_type: Partner\n"
        'sender_domains: ["*"]\nrequire_tls: false\n'
    )
    lines = ["tenants:"]
    for t in tenants:
        lines += [f"  {t}:", "    provider: local", "    connectors: shared", f"    state: {t}.json"]
    (root / "exoform.yaml").write_text("\n".join(lines) + "\n")
    return ["--config", str(root / "exoform.yaml")]


def test_plan_and_show_group_the_text_and_sarif_names_each_tenant(tmp_path: Path) -> None:
    config = _fleet_repo(tmp_path, ["contoso", "fabrikam", "tailspin"])
    runner = CliRunner()
    out = str(tmp_path / "plan.json")
    grouped = runner.invoke(cli, ["plan", "--group", "--fail-on", "never", "--out", out, *config])
    assert grouped.exit_code == 0, grouped.output
    assert grouped.stdout.count('+ InboundConnector "Printer relay"') == 1
    assert "tenants (3): contoso, fabrikam, tailspin" in grouped.stdout
    shown = runner.invoke(cli, ["show", out, "--group"])
    assert shown.exit_code == 0 and shown.stdout == grouped.stdout
    refused = runner.invoke(cli, ["plan", "--group", "--format", "json", *config])
    assert refused.exit_code != 0 and "--group applies to text" in refused.output
    sarif = runner.invoke(cli, ["plan", "--format", "sarif", "--fail-on", "never", *config])
    results = [r for r in json.loads(sarif.stdout)["runs"][0]["results"] if "properties" in r]
    assert {r["properties"]["tenant"] for r in results} == {"contoso", "fabrikam", "tailspin"}
    assert len({r["partialFingerprints"][FINGERPRINT] for r in results}) == len(results)


def test_failures_too_long_for_one_comment_are_truncated_at_a_line_and_say_so() -> None:
    plan = Plan([TenantPlan.failed_with(f"t{i}", "local:x", "x" * 200) for i in range(400)])
    md = render_markdown(plan, max_chars=20_000)
    assert len(md) <= 20_000
    assert "**This comment is truncated**: the failures and unsafe reasons above are incomplete" in md
    assert "> - <code>t0</code>: " + "x" * 200 in md


def test_repairs_are_grouped_apart_from_the_files_changes_under_their_own_heading() -> None:
    """``plan --base``: the same update is the PR's in one tenant and a repair in two others."""
    tls = update("To filter", "tls_settings", "EncryptionOnly", "DomainValidation")
    plan = Plan(
        [
            TenantPlan("a", "local:x", changes=[replace(tls, cause="files")]),
            TenantPlan("b", "local:x", changes=[replace(tls, cause="repair", when_changed_utc="2026-11-30")]),
            TenantPlan("c", "local:x", changes=[replace(tls, cause="repair", when_changed_utc="2026-12-01")]),
        ]
    )
    md = render_markdown(plan)
    changes, repairs = md.split("### Changes", 1)[1].split("### Repairs of changes made outside exoform", 1)
    assert "1 tenant(s): <code>a</code>" in changes
    assert "2 tenant(s): <code>b</code>, <code>c</code>" in repairs
    assert "Live connectors last changed between 2026-11-30 and 2026-12-01." in repairs
    grouped = render_text(plan, group=True)
    assert grouped.count('~ OutboundConnector "To filter"') == 2
    assert (
        '~ OutboundConnector "To filter" (repair: changed outside exoform)\n      tenants (2): b, c'
        in grouped
    )
    # Without --base nothing is marked: one group, one heading.
    unmarked = render_markdown(Plan([TenantPlan(t, "local:x", changes=[tls]) for t in "abc"]))
    assert "Repairs" not in unmarked and unmarked.count("<summary>~ update") == 1
