"""Drift reports name where each drifted field comes from and give the accept command, never export."""

from __future__ import annotations

import shlex

from reconciler.escape import markdown
from reconciler.plan import Change, Plan, Source, TenantPlan
from reconciler.reconcile.targeting import parse_target
from reconciler.render.drift import accept_command, drift_markdown, drift_text

VAR = "${vars.filter_ips} is set at exoform.yaml:14:7"
SHARED = Source(
    "connectors/common/filter-in.yaml",
    1,
    folder="connectors/common",
    fields={"sender_ip_addresses": VAR},
)


def update(name: str = "From mail filter") -> Change:
    before = {"name": name, "sender_ip_addresses": ["203.0.113.0/24"], "comment": "edited"}
    after = {"name": name, "sender_ip_addresses": ["203.0.113.0/25"], "comment": "Mail filter"}
    return Change(
        action="update",
        kind="InboundConnector",
        name=name,
        fields=["sender_ip_addresses", "comment"],
        before=before,
        after=after,
        guid="g",
        fingerprint="sha256:1",
        source=SHARED,
    )


def missing() -> Change:
    after = {"name": "To mail filter", "enabled": True}
    source = Source("connectors/common/filter-out.yaml", 1, folder="connectors/common")
    return Change("create", "OutboundConnector", "To mail filter", ["enabled"], None, after, source=source)


def plan(tenant: str = "fabrikam", *changes: Change) -> Plan:
    return Plan([TenantPlan(tenant, "local:x", changes=list(changes or [update()]))])


def test_the_issue_body_names_the_variable_or_file_behind_each_field_and_the_accept_command() -> None:
    body = drift_markdown(plan())
    assert "| Field | Files (desired) | Tenant (live) | Comes from |" in body
    assert (
        '| `sender_ip_addresses` | + <code>"203.0.113.0/25"</code> | - <code>"203.0.113.0/24"</code> | '
        "<code>${vars.filter&#95;ips} is set at exoform.yaml:14:7</code> |"
    ) in body
    assert "| <code>connectors/common/filter-in.yaml:1</code> |" in body  # a literal: the shared file
    command = "exoform accept --tenant fabrikam --target 'InboundConnector/From mail filter'"
    assert f"to keep the tenant's, <code>{command}</code> writes them where they come from." in body
    assert "export" not in body


def test_the_text_report_says_the_same() -> None:
    text = drift_text(plan())
    assert f"from:  {VAR}" in text
    assert "exoform accept --tenant fabrikam --target 'InboundConnector/From mail filter'" in text
    assert "export" not in text


def test_a_missing_connector_is_re_applied_or_declared_absent_never_exported() -> None:
    body = drift_markdown(plan("fabrikam", missing()))
    assert (
        "Missing from the tenant: <code>exoform apply</code> creates it again; or declare it absent: true "
        "(it is declared at connectors/common/filter-out.yaml:1)."
    ) in body
    assert "export" not in body and "accept" not in body


def test_the_accept_command_is_quoted_for_a_shell_and_matches_only_its_connector() -> None:
    name = "Bob's [relay] *"
    command = accept_command("o'hara corp", "InboundConnector", name)
    words = shlex.split(command)
    assert words[:4] == ["exoform", "accept", "--tenant", "o'hara corp"]
    target = parse_target(words[5])
    assert target.matches("InboundConnector", name)
    assert not target.matches("InboundConnector", "Bob's r *")
    body = drift_markdown(plan("o'hara corp", update(name)))
    assert f"<code>{markdown(command)}</code>" in body
