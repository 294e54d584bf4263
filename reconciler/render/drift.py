"""The drift report: a plan read as "what differs from the files", as text, JSON data or an issue body.

Contracts:
- Drift is a change in the plan: a connector declared but missing (``missing``), one whose fields differ
  (``changed``), one the ``unmanaged: delete`` policy would delete (``unexpected``).  Unmanaged connectors
  under ``unmanaged: report`` are listed but are not drift.
- Each differing field shows the files' value against the live one; a list field also shows the items
  only in the files and only live (:func:`reconciler.diff.field_changes`).
- The Markdown body is deterministic (the same drift gives the same text, so a nightly update of an
  unchanged issue is a no-op) and at most :data:`reconciler.render.markdown.MAX_CHARS` characters.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.text import Text

from reconciler.diff import FieldChange
from reconciler.plan import Change, Plan, TenantPlan
from reconciler.render.console import to_text
from reconciler.render.markdown import MAX_CHARS, fit_blocks
from reconciler.render.values import delta_cells, html, show, targets_note

if TYPE_CHECKING:
    from reconciler.workflow import TenantOutcome

MARKER = "<!-- exoform-drift -->"
_STATES = {"create": "missing", "update": "changed", "delete": "unexpected"}
#: The drift symbol of each plan action: seen from the files, a connector to create is missing.
_SYMBOLS = {"create": "-", "update": "~", "delete": "+"}


def _headline(change: Change) -> str:
    if change.action == "create":
        return "declared in the files, missing from the tenant"
    if change.action == "delete":
        return f"in the tenant, in no file ({change.reason or 'unmanaged: delete'})"
    text = f"{len(change.fields)} field(s) differ"
    if change.previous_name:
        text += f" (the files rename it from {change.previous_name!r})"
    return text


def _field_json(delta: FieldChange) -> dict[str, Any]:
    data = {"field": delta.field, "desired": delta.after, "live": delta.before}
    if delta.items:
        data |= {"only_in_files": list(delta.added), "only_live": list(delta.removed)}
    return data


def drift_json(plan: Plan, outcomes: list[TenantOutcome]) -> dict[str, Any]:
    """The drift report as data: per tenant, its drifted connectors, unmanaged ones, or its error."""
    by_tenant = {t.tenant: t for t in plan.tenants}
    tenants: list[dict[str, Any]] = []
    for outcome in outcomes:
        tplan = by_tenant.get(outcome.tenant)
        if tplan is None:
            tenants.append(
                {
                    "tenant": outcome.tenant,
                    "error": outcome.error,
                    "drift": None,
                    "connectors": [],
                    "unmanaged": [],
                }
            )
            continue
        tenants.append(
            {
                "tenant": tplan.tenant,
                "target": tplan.target,
                "targets": tplan.targets,
                "error": None,
                "drift": bool(tplan.changes),
                "connectors": [
                    {
                        "kind": c.kind,
                        "name": c.name,
                        "state": _STATES[c.action],
                        "when_changed_utc": c.when_changed_utc,
                        "fields": [_field_json(d) for d in c.field_changes],
                    }
                    for c in tplan.changes
                ],
                "unmanaged": [
                    {"kind": u.kind, "name": u.name, "connector_source": u.connector_source}
                    for u in tplan.unmanaged
                ],
            }
        )
    return {"drift": plan.has_changes, "errors": sum(1 for o in outcomes if o.error), "tenants": tenants}


def _field_lines(deltas: Sequence[FieldChange]) -> list[Text]:
    width = max((len(d.field) for d in deltas), default=0)
    lines = []
    for d in deltas:
        lines.append(Text(f"      {d.field:<{width}}  files: {show(d.after)}"))
        lines.append(Text(f"      {'':<{width}}  live:  {show(d.before)}"))
        if d.items:
            if d.added:
                only = ", ".join(show(v) for v in d.added)
                lines.append(Text(f"      {'':<{width}}  only in files: {only}"))
            if d.removed:
                only = ", ".join(show(v) for v in d.removed)
                lines.append(Text(f"      {'':<{width}}  only live:     {only}"))
    return lines


def drift_text(plan: Plan, *, color: bool = False) -> str:
    """The drift report for a terminal; ANSI colour only when ``color`` is true."""
    out: list[Text] = []
    for t in plan.tenants:
        out.append(Text.assemble((f"Tenant {t.tenant}", "bold"), (f" ({t.target})", "dim")))
        if t.targets:
            out.append(Text(f"  ! {targets_note(t.targets)}", "bold"))
        if not t.changes:
            out.append(Text("  No drift: the tenant matches the files."))
        for c in t.changes:
            out.append(
                Text.assemble("  ", (_SYMBOLS[c.action], "yellow"), f' {c.kind} "{c.name}": {_headline(c)}')
            )
            if c.when_changed_utc:
                out.append(Text(f"      last changed in the tenant: {c.when_changed_utc}", "dim"))
            out.extend(_field_lines(c.field_changes))
        if t.unmanaged:
            names = ", ".join(f'{u.kind} "{u.name}"' for u in t.unmanaged)
            out.append(Text(f"  Unmanaged (not drift, no file declares them): {names}"))
        out.append(Text())
    total = sum(len(t.changes) for t in plan.tenants)
    tenants = sum(1 for t in plan.tenants if t.changes)
    out.append(
        Text(
            f"Drift: {total} connector(s) in {tenants} of {len(plan.tenants)} tenant(s)."
            if total
            else f"No drift in {len(plan.tenants)} tenant(s)."
        )
    )
    return to_text(out, color=color)


def _markdown_tenant(t: TenantPlan) -> list[str]:
    blocks = [f"### Tenant `{t.tenant}`\n\n{len(t.changes)} connector(s) drifted from the files."]
    for c in t.changes:
        lines = [f"#### {c.kind} <code>{html(c.name)}</code>: {_headline(c)}", ""]
        if c.when_changed_utc:
            lines += [f"Last changed in the tenant: **{c.when_changed_utc}**", ""]
        deltas = c.field_changes
        if deltas:
            lines += ["| Field | Files (desired) | Tenant (live) |", "|---|---|---|"]
            for d in deltas:
                live, files = delta_cells(d)
                lines.append(f"| `{d.field}` | {files} | {live} |")
        blocks.append("\n".join(lines).rstrip())
    if t.unmanaged:
        names = ", ".join(f"{u.kind} <code>{html(u.name)}</code>" for u in t.unmanaged)
        blocks.append(f"Unmanaged (not drift; no file declares them): {names}")
    return blocks


def drift_markdown(plan: Plan, *, max_chars: int = MAX_CHARS) -> str:
    """The drift report as an issue body of at most ``max_chars`` characters."""
    drifted = [t for t in plan.tenants if t.changes]
    names = ", ".join(f"`{t.tenant}`" for t in drifted)
    head = [MARKER, "## exoform drift", ""]
    if drifted:
        head += [
            f"{sum(len(t.changes) for t in drifted)} connector(s) in {names} differ from the files.",
            "",
            "Restore the files' state with `exoform plan` and `exoform apply`, or accept the tenant's "
            "state into the files with `exoform export --tenant NAME` and a pull request.",
        ]
    else:
        head.append(f"No drift: {len(plan.tenants)} tenant(s) match the files.")
    head += [
        f"\n> [!IMPORTANT]\n> `{t.tenant}`: {targets_note(t.targets, markdown=True)}"
        for t in plan.tenants
        if t.targets
    ]
    text = "\n".join(head) + "\n"
    blocks = [b for t in plan.tenants if t.changes or t.unmanaged for b in _markdown_tenant(t)]
    kept, cut = fit_blocks(text, blocks, max_chars)
    if kept:
        text += "\n" + "\n\n".join(kept) + "\n"
    if cut:
        text += (
            f"\n> [!NOTE]\n> {cut} more section(s) were cut to fit GitHub's size limit; run "
            "`exoform drift --format json` for the whole report.\n"
        )
    return text
