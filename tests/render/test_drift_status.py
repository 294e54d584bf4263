"""Drift and status renderers: item-level list changes, colour only when asked, names shown literally."""

from __future__ import annotations

from typing import Any

from reconciler.plan import Change, Plan, TenantPlan
from reconciler.render import render_markdown, render_text
from reconciler.render.drift import drift_json, drift_markdown, drift_text
from reconciler.render.status import StatusDocument, StatusRow, status_text


def hosts_update(name: str = "To filter") -> Plan:
    before = {"name": name, "smart_hosts": ["a.example.net", "b.example.net"], "enabled": True}
    after = {"name": name, "smart_hosts": ["a.example.net", "c.example.net"], "enabled": False}
    change = Change(
        action="update",
        kind="OutboundConnector",
        name=name,
        fields=["smart_hosts", "enabled"],
        before=before,
        after=after,
        guid="g",
        fingerprint="sha256:1",
    )
    return Plan([TenantPlan("demo", "local:x", changes=[change])])


def test_drift_shows_the_items_only_in_the_files_and_only_live() -> None:
    text = drift_text(hosts_update())
    assert 'files: ["a.example.net", "c.example.net"]' in text
    assert 'only in files: "c.example.net"' in text
    assert 'only live:     "b.example.net"' in text
    (connector,) = drift_json(hosts_update())["tenants"][0]["connectors"]
    hosts = connector["fields"][0]
    assert (hosts["only_in_files"], hosts["only_live"]) == (["c.example.net"], ["b.example.net"])
    assert '| `smart_hosts` | + <code>"c.example.net"</code> | - <code>"b.example.net"</code> |' in (
        drift_markdown(hosts_update())
    )


def test_plan_markdown_shows_list_items_removed_and_added_not_whole_lists() -> None:
    md = render_markdown(hosts_update())
    assert '| `smart_hosts` | - <code>"b.example.net"</code> | + <code>"c.example.net"</code> |' in md
    assert "| `enabled` | <code>true</code> | <code>false</code> |" in md


def test_colour_only_when_asked_and_names_are_not_markup() -> None:
    plan = hosts_update("[bold]x[/bold]")
    for render in (render_text, drift_text):
        plain = render(plan)
        assert "\x1b[" not in plain and '"[bold]x[/bold]"' in plain
        assert "\x1b[" in render(plan, color=True)


def row(**kw: Any) -> dict[str, Any]:
    base = {
        "tenant": "demo",
        "kind": "OutboundConnector",
        "name": "To filter",
        "enabled": True,
        "test_mode": False,
        "validated": True,
        "last_validated": "2026-11-01T10:00:00Z",
        "last_changed": None,
        "managed": True,
        "connector_source": "Default",
    }
    return base | kw


def doc(rows: list[dict[str, Any]]) -> StatusDocument:
    """A status report of ``rows`` (every tenant read, no risks)."""
    connectors = [StatusRow(**({"validation_recipients": None} | r)) for r in rows]
    return StatusDocument(connectors=connectors, risks=[], tenants=[], errors=[])


def test_status_table_aligns_columns_without_trailing_spaces() -> None:
    text = status_text(
        doc([row(), row(kind="InboundConnector", name="Relay", test_mode=None, validated=None)])
    )
    lines = text.splitlines()
    assert lines[0].split("  ")[0] == "TENANT"
    validated = "yes (2026-11-01T10:00:00Z)"
    assert lines[1] == f"demo    outbound  To filter  yes      no         {validated}  -             managed"
    assert all(line == line.rstrip() for line in lines)
    assert status_text(doc([])).splitlines()[1] == "(no connectors)"
    assert "\x1b[" not in text and "\x1b[1m" in status_text(doc([row()]), color=True)


def test_status_shows_the_service_owned_validation_recipients() -> None:
    from reconciler.live import LiveConnector
    from reconciler.model import from_live
    from reconciler.render.status import connector_status

    obj = {
        "Name": "To filter",
        "ConnectorType": "Partner",
        "RecipientDomains": ["fabrikam.com"],
        "ValidationRecipients": ["postmaster@fabrikam.com"],
        "IsValidated": False,
        "LastValidationTimestamp": "2026-07-24T18:59:12.0000000",
    }
    live = LiveConnector("OutboundConnector", "To filter", "g", from_live("OutboundConnector", obj), obj)
    status = connector_status(live, managed=True)
    assert status["validation_recipients"] == ["postmaster@fabrikam.com"] and status["validated"] is False
    text = status_text(doc([{"tenant": "demo", **status}]))
    assert "no (2026-07-24T18:59:12.0000000) to postmaster@fabrikam.com" in text


def test_the_targeted_plan_note_never_puts_a_tenant_name_raw() -> None:
    evil = "t\n::error::pwned\x1b[2J"
    plan = hosts_update()
    plan.tenants[0].tenant, plan.tenants[0].targets = evil, ["OutboundConnector/To*"]
    for md in (render_markdown(plan), drift_markdown(plan)):
        assert "\x1b" not in md and "targeted" in md.casefold()
        assert not [line for line in md.splitlines() if line.lstrip().startswith("::")], md
        assert "<code>t&#92;n::error::pwned&#92;x1b&#91;2J</code>" in md
