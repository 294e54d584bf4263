"""Terraform-like text: ``+`` create, ``~`` update, ``-`` delete, field by field, a summary per tenant.

Contracts: every selected tenant is shown: a planned one with its changes, a failed one with a failure
line and its error (never "no changes"); the last line counts failed tenants.  A delete lists every
setting of the connector it removes.  Risks show their severity, live ones marked ``(live)``.  Untrusted
text is escaped (:mod:`reconciler.escape`).
"""

from __future__ import annotations

from rich.text import Text

from reconciler.escape import safe
from reconciler.plan import SYMBOLS, Change, Plan, TenantPlan
from reconciler.render.console import to_text
from reconciler.render.failed import failed_text
from reconciler.render.values import create_fields, delete_fields, in_order, show, targets_note

#: The rich style of each part of a plan.
STYLES: dict[str, str] = {
    "create": "green",
    "update": "yellow",
    "delete": "red",
    "warn": "bold red",
    "dim": "dim",
    "bold": "bold",
}


def _styled(*parts: str | tuple[str, str]) -> Text:
    """A line from plain parts and ``(text, style name)`` parts."""
    return Text.assemble(*(p if isinstance(p, str) else (p[0], STYLES[p[1]]) for p in parts))


def render_text(plan: Plan, *, color: bool = False, banner: str | None = None) -> str:
    """The plan as terminal text; ANSI colour only when ``color`` is true; ``banner`` (text exoform
    composed, escaped) first."""
    out: list[Text] = [_styled((f"! {safe(banner)}", "warn")), Text()] if banner else []
    for tplan in plan.tenants:
        out.extend(_tenant(tplan))
        out.append(Text())
    if not plan.tenants:
        out.append(Text("No tenants selected."))
    while out and not out[-1].plain:
        out.pop()
    for reason in plan.unsafe_reasons:
        out += [Text(), _styled((f"! UNSAFE PLAN: {safe(reason)}; apply needs --force", "warn"))]
    if plan.failed:
        summary = f"{len(plan.failed)} of {len(plan.tenants)} tenant(s) failed: the plan is incomplete."
        out += [Text(), _styled((summary, "warn"))]
    return to_text(out, color=color)


def _tenant(tplan: TenantPlan) -> list[Text]:
    if tplan.failed:
        note = f"Plan for {safe(tplan.tenant)}: failed, not planned."
        return failed_text(tplan.tenant, tplan.error, target=tplan.target, note=note)
    lines = [_styled((f"Tenant {safe(tplan.tenant)}", "bold"), (f" ({safe(tplan.target)})", "dim"))]
    if tplan.targets:
        lines.append(_styled((f"  ! {targets_note(tplan.targets)}", "warn")))
    if not tplan.changes:
        lines.append(Text("  No changes. The tenant matches the configuration."))
    for change in tplan.changes:
        lines.append(Text())
        lines.extend(_change(change))
    if tplan.unmanaged:
        lines.append(Text())
        lines.append(Text("  Unmanaged (no file declares them; left alone):"))
        for u in tplan.unmanaged:
            source = f" [{u.connector_source}]" if u.connector_source not in ("Default", "") else ""
            reason = f" ({u.reason})" if u.reason else ""
            lines.append(Text(f'    ? {u.kind} "{safe(u.name)}"{safe(source)}{safe(reason)}'))
    if tplan.findings:
        lines.append(Text())
        lines.append(Text("  Risks:"))
        for f in tplan.findings:
            where = f' {f.kind} "{safe(f.name)}"' if f.name else ""
            if f.source == "live":
                where += " (live)"
            if f.skipped_reason:
                lines.append(_styled((f"    skipped {safe(f.rule)}{where}: {safe(f.skipped_reason)}", "dim")))
            else:
                severity = (f.severity, "warn" if f.severity == "error" else "bold")
                lines.append(_styled("    ", severity, f" {safe(f.rule)}{where}: {safe(f.message)}"))
    if tplan.unsafe:
        lines.append(Text())
        for reason in tplan.unsafe_reasons:
            lines.append(_styled((f"  ! UNSAFE PLAN: {safe(reason)}; apply needs --force", "warn")))
    lines.append(Text())
    lines.append(_styled((f"Plan for {safe(tplan.tenant)}: {tplan.summary()}.", "bold")))
    return lines


def _change(change: Change) -> list[Text]:
    title = _styled("  ", (SYMBOLS[change.action], change.action), f' {change.kind} "{safe(change.name)}"')
    if change.previous_name:
        title.append(f' (renamed from "{safe(change.previous_name)}")')
    if change.reason:
        title.append(f" ({safe(change.reason)})", STYLES["dim"])
    lines = [title]
    if change.action == "create":
        assert change.after is not None
        width = max((len(f) for f in create_fields(change)), default=0)
        for f in create_fields(change):
            lines.append(_styled("      ", ("+", "create"), f" {safe(f):<{width}} = {show(change.after[f])}"))
    elif change.action == "update":
        width = max((len(f) for f in change.fields), default=0)
        for delta in change.field_changes:
            line = _styled("      ", ("~", "update"), f" {safe(delta.field):<{width}}")
            if delta.items:
                for value in in_order(delta.added):
                    line.append_text(_styled(" ", (f"+{show(value)}", "create")))
                for value in in_order(delta.removed):
                    line.append_text(_styled(" ", (f"-{show(value)}", "delete")))
            else:
                line.append(f" {show(delta.before)} -> {show(delta.after)}")
            lines.append(line)
    else:
        before = change.before or {}
        width = max((len(f) for f in delete_fields(change)), default=0)
        for f in delete_fields(change):
            lines.append(_styled("      ", ("-", "delete"), f" {safe(f):<{width}} = {show(before[f])}"))
    if change.action != "create" and change.when_changed_utc:
        lines.append(_styled((f"      (live connector last changed {safe(change.when_changed_utc)})", "dim")))
    return lines
