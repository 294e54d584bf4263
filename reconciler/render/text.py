"""Terraform-like text: ``+`` create, ``~`` update, ``-`` delete, field by field, a summary per tenant.

Contracts: every selected tenant is shown: a planned one with its changes, a failed one with a failure
line and its error (never "no changes"); the last line counts failed tenants.  A delete lists every
setting of the connector it removes.  Risks show their severity, live ones marked ``(live)``.  Untrusted
text is escaped (:mod:`reconciler.escape`).

Grouped (``group``, ``exoform plan --group``): the same plan for a fleet, each change once with every
tenant it applies to (:mod:`reconciler.render.grouping`): failed tenants first, then the unsafe reasons,
the changes (a field whose value differs per tenant lists each value with its tenants), the unmanaged
connectors and risks once each with their tenants, a summary line per group of tenants with the same
counts, and the tenants without changes on one line.  Tenant lists are never shortened here.

Causes (``plan --base``): a repair of a change made outside exoform is tagged ``(repair: changed outside
exoform)``, a change of the files that also reverts such a change ``(files + repair: ...)``; a change of
the files alone is not tagged.
"""

from __future__ import annotations

from rich.text import Text

from reconciler.diff import FieldChange
from reconciler.escape import safe
from reconciler.plan import SYMBOLS, Cause, Change, Plan, TenantPlan
from reconciler.render import grouping
from reconciler.render.console import to_text
from reconciler.render.failed import failed_text
from reconciler.render.grouping import ChangeGroup
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


def render_text(plan: Plan, *, color: bool = False, banner: str | None = None, group: bool = False) -> str:
    """The plan as terminal text; ANSI colour only when ``color`` is true; ``banner`` (text exoform
    composed, escaped) first; ``group``: each change once with its tenants (see the module contract)."""
    out: list[Text] = [_styled((f"! {safe(banner)}", "warn")), Text()] if banner else []
    if plan.base is not None:
        where = f"{safe(plan.base.ref)} (commit {safe(plan.base.commit[:12])})"
        out += [_styled((f"Changes and repairs told apart against the files at {where}.", "dim")), Text()]
    if group:
        out.extend(_grouped(plan))
    else:
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


#: The tag of a change by its cause (``plan --base``); a change of the files alone has none.
CAUSE_TAGS: dict[Cause | None, str] = {
    "repair": " (repair: changed outside exoform)",
    "both": " (files + repair: also changed outside exoform)",
}


def _title(c: Change | ChangeGroup) -> Text:
    """The headline of a change, or of a group of equal changes: action, kind, name, rename, reason, cause."""
    title = _styled("  ", (SYMBOLS[c.action], c.action), f' {c.kind} "{safe(c.name)}"')
    if c.previous_name:
        title.append(f' (renamed from "{safe(c.previous_name)}")')
    if c.reason:
        title.append(f" ({safe(c.reason)})", STYLES["dim"])
    if c.cause in CAUSE_TAGS:
        title.append(CAUSE_TAGS[c.cause], STYLES["bold"])
    return title


def _change(change: Change) -> list[Text]:
    lines = [_title(change)]
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


def _names(names: list[str]) -> str:
    return ", ".join(safe(n) for n in names)


def _grouped(plan: Plan) -> list[Text]:
    out: list[Text] = []
    for t in plan.failed:
        out += [*failed_text(t.tenant, t.error, target=t.target), Text()]
    for reason, names in grouping.unsafe_groups(plan.tenants).items():
        out.append(_styled((f"! UNSAFE PLAN ({_names(names)}): {safe(reason)}; apply needs --force", "warn")))
    for patterns, names in grouping.targets_groups(plan.tenants).items():
        out.append(_styled((f"! {_names(names)}: {targets_note(list(patterns))}", "warn")))
    for g in grouping.change_groups(plan.tenants):
        if out and out[-1].plain:
            out.append(Text())
        out.extend(_group(g))
    unmanaged = grouping.unmanaged_groups(plan.tenants)
    if unmanaged:
        out += [Text(), Text("Unmanaged (no file declares them; left alone under unmanaged: report):")]
        for u, names in unmanaged.items():
            out.append(Text(f'    ? {u.kind} "{safe(u.name)}" ({_names(names)})'))
    findings = grouping.finding_groups(plan.tenants)
    if findings:
        out += [Text(), Text("Risks:")]
        for f, names in findings.items():
            where = f' {f.kind} "{safe(f.name)}"' if f.name else ""
            if f.source == "live":
                where += " (live)"
            who = f" ({_names(names)})"
            if f.skipped_reason:
                out.append(
                    _styled((f"    skipped {safe(f.rule)}{where}: {safe(f.skipped_reason)}{who}", "dim"))
                )
            else:
                severity = (f.severity, "warn" if f.severity == "error" else "bold")
                out.append(_styled("    ", severity, f" {safe(f.rule)}{where}: {safe(f.message)}{who}"))
    out.append(Text())
    unchanged: list[str] = []
    by_name = {t.tenant: t for t in plan.tenants}
    for row, names in grouping.row_groups(plan).items():
        if row.failed:
            continue
        if not row.changes and not row.unmanaged:
            unchanged += names
            continue
        out.append(_styled((f"Plan for {_names(names)}: {by_name[names[0]].summary()}.", "bold")))
    if unchanged:
        out.append(Text(f"No changes ({len(unchanged)}): {_names(unchanged)}"))
    return out


def _group(g: ChangeGroup) -> list[Text]:
    lines = [_title(g), _styled((f"      tenants ({len(g.tenants)}): {_names(g.tenants)}", "dim"))]
    width = max((len(f.field) for f in g.fields), default=0)
    symbol = {"create": "+", "update": "~", "delete": "-"}[g.action]
    for fv in g.fields:
        head = _styled("      ", (symbol, g.action), f" {safe(fv.field):<{width}}")
        if fv.common:
            lines.append(head + _value(g.action, fv.values[0][0]))
            continue
        lines.append(head + Text(f" differs per tenant ({len(fv.values)} values):"))
        for fc, names in fv.values:
            lines.append(Text(f"          {_names(names)}:") + _value(g.action, fc))
    if len(g.changed_utc) == 1:
        lines.append(_styled((f"      (live connector last changed {safe(g.changed_utc[0])})", "dim")))
    elif g.changed_utc:
        first, last = safe(g.changed_utc[0]), safe(g.changed_utc[-1])
        lines.append(_styled((f"      (live connectors last changed between {first} and {last})", "dim")))
    return lines


def _value(action: str, fc: FieldChange) -> Text:
    """One field's change after its name: ``= value`` (create, delete), items added and removed, or
    ``before -> after``."""
    if action == "create":
        return Text(f" = {show(fc.after)}")
    if action == "delete":
        return Text(f" = {show(fc.before)}")
    line = Text()
    if fc.items:
        for value in in_order(fc.added):
            line.append_text(_styled(" ", (f"+{show(value)}", "create")))
        for value in in_order(fc.removed):
            line.append_text(_styled(" ", (f"-{show(value)}", "delete")))
    else:
        line.append(f" {show(fc.before)} -> {show(fc.after)}")
    return line
