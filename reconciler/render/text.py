"""Terraform-like text: ``+`` create, ``~`` update, ``-`` delete, field by field, a summary per tenant."""

from __future__ import annotations

from reconciler.plan import SYMBOLS, Action, Change, Plan, TenantPlan
from reconciler.render.values import create_fields, show

_COLORS: dict[str, str] = {
    "create": "32",
    "update": "33",
    "delete": "31",
    "warn": "1;31",
    "dim": "2",
    "bold": "1",
}


class _Styler:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, style: str) -> str:
        return f"\x1b[{_COLORS[style]}m{text}\x1b[0m" if self.color else text


def render_text(plan: Plan, *, color: bool = False) -> str:
    """The plan as terminal text; ANSI colour only when ``color`` is true."""
    st = _Styler(color)
    out: list[str] = []
    for tplan in plan.tenants:
        out.extend(_tenant(tplan, st))
        out.append("")
    if not plan.tenants:
        out.append("No tenants selected.")
    return "\n".join(out).rstrip("\n") + "\n"


def _tenant(tplan: TenantPlan, st: _Styler) -> list[str]:
    lines = [st(f"Tenant {tplan.tenant}", "bold") + st(f" ({tplan.target})", "dim")]
    if not tplan.changes:
        lines.append("  No changes. The tenant matches the configuration.")
    for change in tplan.changes:
        lines.append("")
        lines.extend(_change(change, st))
    if tplan.unmanaged:
        lines.append("")
        lines.append("  Unmanaged (no file declares them; left alone under unmanaged: report):")
        for u in tplan.unmanaged:
            source = f" [{u.connector_source}]" if u.connector_source not in ("Default", "") else ""
            lines.append(f'    ? {u.kind} "{u.name}"{source}')
    if tplan.findings:
        lines.append("")
        lines.append("  Risks:")
        for f in tplan.findings:
            where = f' {f.kind} "{f.name}"' if f.name else ""
            if f.skipped_reason:
                lines.append(st(f"    skipped {f.rule}{where}: {f.skipped_reason}", "dim"))
            else:
                sev = st(f.severity, "warn" if f.severity == "error" else "bold")
                lines.append(f"    {sev} {f.rule}{where}: {f.message}")
    if tplan.unsafe:
        lines.append("")
        for reason in tplan.unsafe_reasons:
            lines.append(st(f"  ! UNSAFE PLAN: {reason}; apply needs --force", "warn"))
    lines.append("")
    lines.append(st(f"Plan for {tplan.tenant}: {tplan.summary()}.", "bold"))
    return lines


def _change(change: Change, st: _Styler) -> list[str]:
    action: Action = change.action
    sym = st(SYMBOLS[action], action)
    title = f'  {sym} {change.kind} "{change.name}"'
    if change.previous_name:
        title += f' (renamed from "{change.previous_name}")'
    if change.reason:
        title += st(f" ({change.reason})", "dim")
    lines = [title]
    if action == "create":
        assert change.after is not None
        width = max((len(f) for f in create_fields(change)), default=0)
        for f in create_fields(change):
            lines.append(f"      {st('+', 'create')} {f:<{width}} = {show(change.after[f])}")
    elif action == "update":
        assert change.before is not None and change.after is not None
        width = max((len(f) for f in change.fields), default=0)
        for f in change.fields:
            delta = change.added_removed(f)
            if delta is not None:
                added, removed = delta
                parts = [st(f"+{show(v)}", "create") for v in added] + [
                    st(f"-{show(v)}", "delete") for v in removed
                ]
                lines.append(f"      {st('~', 'update')} {f:<{width}} {' '.join(parts)}")
            else:
                old, new = show(change.before.get(f)), show(change.after[f])
                lines.append(f"      {st('~', 'update')} {f:<{width}} {old} -> {new}")
        if change.when_changed_utc:
            lines.append(st(f"      (live connector last changed {change.when_changed_utc})", "dim"))
    return lines
