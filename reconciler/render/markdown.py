"""Markdown for a pull-request comment.

Contract: the result starts with :data:`MARKER` (so CI updates one comment in place), carries a summary
table per tenant, a warning banner when anything is deleted or the plan is unsafe, each change in a
``<details>`` block with a field table (a list field shows the items removed and added), the posture
risks, and never exceeds :data:`MAX_CHARS`: when the details do not fit they are cut, the summary is
kept, and the comment says what was cut.
"""

from __future__ import annotations

from reconciler.plan import SYMBOLS, Change, Plan, TenantPlan
from reconciler.render.values import cell, code, create_fields, delta_cells, html

MARKER = "<!-- exoform-plan -->"
#: GitHub refuses comments over 65,536 characters; stay below with room for the truncation note.
MAX_CHARS = 65_000
_SEVERITY_ICON = {"error": "🛑", "warning": "⚠️", "info": "💡"}


def _summary(plan: Plan) -> list[str]:
    lines = [MARKER, "## exoform plan", ""]
    deletes = sum(t.count("delete") for t in plan.tenants)
    if plan.unsafe:
        lines += ["> [!CAUTION]", "> **Unsafe plan**: apply will refuse it without `--force`.", ""]
        for t in plan.tenants:
            lines += [f"> - `{t.tenant}`: {r}" for r in t.unsafe_reasons]
        lines.append("")
    targeted = [t for t in plan.tenants if t.targets]
    if targeted:
        lines += [
            "> [!IMPORTANT]",
            "> **Targeted plan** (`--target`): only the matching connectors were planned; other connectors "
            "were not compared.",
            ">",
        ]
        lines += [f"> - `{t.tenant}`: {', '.join(code(p) for p in t.targets)}" for t in targeted]
        lines.append("")
    if deletes:
        lines += ["> [!WARNING]", f"> **{deletes} connector(s) will be deleted.** Mail flow may change.", ""]
    lines += [
        "| Tenant | Create | Update | Delete | Unmanaged | Risks | Safe |",
        "|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for t in plan.tenants:
        risks = sum(1 for f in t.findings if not f.skipped_reason)
        lines.append(
            f"| `{t.tenant}` | {t.count('create')} | {t.count('update')} | {t.count('delete')} "
            f"| {len(t.unmanaged)} | {risks} | {'no' if t.unsafe else 'yes'} |"
        )
    if not plan.has_changes:
        lines += ["", "No changes. Every tenant matches the configuration."]
    return lines


def _change_block(change: Change) -> str:
    title = f"{SYMBOLS[change.action]} {change.action} {change.kind} <code>{html(change.name)}</code>"
    if change.previous_name:
        title += f" (renamed from <code>{html(change.previous_name)}</code>)"
    rows = ["| Field | Before | After |", "|---|---|---|"]
    if change.action == "create":
        assert change.after is not None
        rows += [f"| `{f}` | | {cell(change.after[f])} |" for f in create_fields(change)]
    elif change.action == "update":
        for delta in change.field_changes:
            before, after = delta_cells(delta)
            rows.append(f"| `{delta.field}` | {before} | {after} |")
    else:
        rows = [f"Deleted: {change.reason}" if change.reason else "Deleted."]
    note = f"\n\nLive connector last changed {change.when_changed_utc}." if change.when_changed_utc else ""
    return f"<details><summary>{title}</summary>\n\n" + "\n".join(rows) + note + "\n\n</details>"


def _tenant_blocks(t: TenantPlan) -> list[str]:
    blocks = [f"### Tenant `{t.tenant}`\n\n{t.summary()}."]
    blocks += [_change_block(c) for c in t.changes]
    if t.unmanaged:
        names = ", ".join(f"{u.kind} <code>{html(u.name)}</code>" for u in t.unmanaged)
        blocks.append(f"**Unmanaged** (no file declares them; left alone): {names}")
    if t.findings:
        rows = ["#### Risks", "", "| | Rule | Connector | Finding |", "|---|---|---|---|"]
        for f in t.findings:
            who = f"{f.kind} <code>{html(f.name)}</code>" if f.name else "tenant"
            message = f"skipped: {f.skipped_reason}" if f.skipped_reason else f.message
            icon = "⏭️" if f.skipped_reason else _SEVERITY_ICON.get(f.severity, "")
            rows.append(f"| {icon} | `{f.rule}` | {who} | {message.replace('|', '&#124;')} |")
        blocks.append("\n".join(rows))
    return blocks


def fit_blocks(head: str, blocks: list[str], limit: int, *, reserve: int = 300) -> tuple[list[str], int]:
    """The leading ``blocks`` that fit after ``head`` within ``limit`` characters (joined by blank lines,
    ``reserve`` left for a truncation note), and how many were cut."""
    kept: list[str] = []
    used = len(head)
    for block in blocks:
        if used + len(block) + 2 + reserve > limit:
            break
        kept.append(block)
        used += len(block) + 2
    return kept, len(blocks) - len(kept)


def render_markdown(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    """The plan as a PR comment of at most ``max_chars`` characters."""
    head = "\n".join(_summary(plan)) + "\n"
    body, cut = fit_blocks(head, [b for t in plan.tenants for b in _tenant_blocks(t)], max_chars)
    text = head + "\n" + "\n\n".join(body)
    if cut:
        text += (
            f"\n\n> [!NOTE]\n> {cut} more section(s) were cut to fit GitHub's comment size limit; "
            "the summary above is complete. See the plan artifact (JSON) for every change."
        )
    text += "\n"
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\n"
