"""Renderers: text symbols and colour, JSON shape, Markdown marker, banners and the size limit."""

from __future__ import annotations

import json

from reconciler.plan import Change, Plan, TenantPlan, Unmanaged
from reconciler.posture.findings import Finding
from reconciler.render import render, render_markdown, render_text
from reconciler.render.markdown import MARKER


def change(action: str, name: str, **kw: object) -> Change:
    before = {"name": name, "connector_type": "Partner", "recipient_domains": ["a.com"], "comment": ""}
    after = dict(before, comment="new", recipient_domains=["a.com", "b.com"])
    args: dict[str, object] = {
        "create": {"fields": list(after), "before": None, "after": after},
        "update": {"fields": ["comment", "recipient_domains"], "before": before, "after": after},
        "delete": {"fields": [], "before": before, "after": None, "reason": "no file declares it"},
    }[action]
    return Change(action=action, kind="OutboundConnector", name=name, **(args | kw))  # type: ignore[arg-type]


def plan_with(*changes: Change, unsafe: list[str] | None = None) -> Plan:
    tplan = TenantPlan(
        tenant="demo",
        target="local:x",
        changes=list(changes),
        unmanaged=[Unmanaged("InboundConnector", "Portal made")],
        findings=[Finding("EXO-OUT-001", "warning", "OutboundConnector", "b", "TLS is not validated")],
        unsafe_reasons=unsafe or [],
    )
    return Plan([tplan])


def test_text_shows_symbols_fields_and_summary() -> None:
    text = render_text(plan_with(change("create", "a"), change("update", "b"), change("delete", "c")))
    assert '+ OutboundConnector "a"' in text
    assert '~ OutboundConnector "b"' in text
    assert '- OutboundConnector "c"' in text
    assert 'comment           "" -> "new"' in text
    assert 'recipient_domains +"b.com"' in text
    assert '? InboundConnector "Portal made"' in text
    assert "warning EXO-OUT-001" in text
    assert "Plan for demo: 1 to create, 1 to update, 1 to delete; 1 unmanaged." in text
    assert "\x1b[" not in text
    assert "\x1b[32m+\x1b[0m" in render_text(plan_with(change("create", "a")), color=True)


def test_text_marks_unsafe_plans() -> None:
    text = render_text(plan_with(change("delete", "c"), unsafe=["2 deletes exceed max_deletes 1"]))
    assert "! UNSAFE PLAN: 2 deletes exceed max_deletes 1; apply needs --force" in text


def test_json_has_the_documented_shape() -> None:
    data = json.loads(render("plan", "json", plan_with(change("update", "b", fingerprint="sha256:1"))))
    assert {"format_version", "exoform_version", "tenants"} <= set(data)
    t = data["tenants"][0]
    assert t["tenant"] == "demo" and t["unmanaged"] == [
        {"kind": "InboundConnector", "name": "Portal made", "connector_source": "Default", "reason": ""}
    ]
    c = t["changes"][0]
    assert c["action"] == "update" and c["previous_name"] is None and c["fingerprint"] == "sha256:1"
    assert c["fields"] == ["comment", "recipient_domains"]
    assert t["findings"][0]["rule"] == "EXO-OUT-001"


def test_markdown_has_marker_table_details_and_delete_banner() -> None:
    md = render_markdown(plan_with(change("update", "b"), change("delete", "c")))
    assert md.startswith(MARKER)
    assert "| <code>demo</code> | planned | 0 | 1 | 1 | 1 | 1 | yes |" in md
    assert "> [!WARNING]" in md and "1 connector(s) will be deleted" in md
    assert "<details><summary>~ update OutboundConnector <code>b</code></summary>" in md
    assert '| `comment` | <code>""</code> | <code>"new"</code> |' in md
    assert "#### Risks" in md


def test_markdown_unsafe_banner() -> None:
    md = render_markdown(plan_with(change("update", "b"), unsafe=["too many"]))
    assert "**Unsafe plan**" in md and "> - <code>demo</code>: too many" in md


def test_markdown_stays_under_the_limit_and_says_what_was_cut() -> None:
    big = [
        Change(
            action="create",
            kind="OutboundConnector",
            name=f"c{i}",
            fields=["comment"],
            before=None,
            after={"name": f"c{i}", "connector_type": "Partner", "comment": "y" * 400},
        )
        for i in range(600)
    ]
    md = render_markdown(plan_with(*big))
    assert len(md) <= 65_000
    assert "| <code>demo</code> | planned | 600 | 0 | 0 |" in md
    assert "were cut to fit GitHub's comment size limit" in md
    assert "section(s) at the end: create OutboundConnector <code>c" in md


def test_markdown_escapes_table_breaking_values() -> None:
    c = Change(
        action="update",
        kind="OutboundConnector",
        name="b",
        fields=["comment"],
        before={"comment": "a|b"},
        after={"comment": "<script>|"},
    )
    md = render_markdown(plan_with(c))
    assert "&lt;script&gt;&#124;" in md


def test_markdown_escapes_connector_names() -> None:
    md = render_markdown(plan_with(change("delete", "<img src=x>")))
    assert "<code>&lt;img src=x&gt;</code>" in md and "<img" not in md
