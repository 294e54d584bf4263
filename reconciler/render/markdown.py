"""Markdown for a pull-request comment.

Contract: the result starts with :data:`MARKER` (so CI updates one comment in place); a failure banner
when any tenant could not be planned (and then never "no changes"); a caution box holding every unsafe
reason; a warning banner when anything is deleted; a summary table with a row per tenant, failed ones
included; each change in a ``<details>`` block with a field table (a list field shows the items removed
and added, in value order; a delete every setting of the connector it removes); the posture risks with
their severity as a word, live ones marked; and a footer naming the exoform version and the commit the
plan was made from.  It never exceeds :data:`MAX_CHARS`: when the details do not fit they are cut, the
summary and the footer are kept, and the comment says what was cut.  Every untrusted text is escaped
(:mod:`reconciler.escape`).
"""

from __future__ import annotations

from reconciler.escape import markdown
from reconciler.plan import SYMBOLS, Change, Plan, TenantPlan
from reconciler.posture.findings import Finding
from reconciler.render.failed import failed_markdown, quoted
from reconciler.render.values import cell, code, create_fields, delete_fields, delta_cells, ident

MARKER = "<!-- exoform-plan -->"
#: GitHub refuses comments over 65,536 characters; stay below with room for the truncation note.
MAX_CHARS = 65_000
_SEVERITY_ICON = {"error": "🛑", "warning": "⚠️", "info": "💡"}


def _summary(plan: Plan, banner: str | None) -> list[str]:
    lines = [MARKER, "## exoform plan", ""]
    if banner:
        lines += ["> [!WARNING]", f"> **{markdown(banner)}**", ""]
    failed = plan.failed
    if failed:
        lines += [
            "> [!CAUTION]",
            f"> **{len(failed)} of {len(plan.tenants)} tenant(s) could not be planned.** "
            "This plan says nothing about them: fix the error and plan again.",
        ]
        lines += [f"> - {code(t.tenant)}: {quoted(t.error)}" for t in failed]
        lines.append("")
    targeted = [t for t in plan.tenants if t.targets]
    if targeted:
        lines += [
            "> [!IMPORTANT]",
            "> **Targeted plan** (`--target`): only the matching connectors were planned; other connectors "
            "were not compared.",
            ">",
        ]
        lines += [f"> - {code(t.tenant)}: {', '.join(code(p) for p in t.targets)}" for t in targeted]
        lines.append("")
    if plan.unsafe:
        lines += ["> [!CAUTION]", "> **Unsafe plan**: apply will refuse it without `--force`."]
        lines += [f"> - {markdown(r)}" for r in plan.unsafe_reasons]
        for t in plan.tenants:
            lines += [f"> - {code(t.tenant)}: {markdown(r)}" for r in t.unsafe_reasons]
        lines.append("")
    deletes = sum(t.count("delete") for t in plan.tenants)
    if deletes:
        lines += ["> [!WARNING]", f"> **{deletes} connector(s) will be deleted.** Mail flow may change.", ""]
    lines += [
        "| Tenant | Status | Create | Update | Delete | Unmanaged | Risks | Safe |",
        "|---|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for t in plan.tenants:
        if t.failed:
            lines.append(f"| {code(t.tenant)} | **failed** | | | | | | |")
            continue
        risks = sum(1 for f in t.findings if not f.skipped)
        lines.append(
            f"| {code(t.tenant)} | planned | {t.count('create')} | {t.count('update')} | {t.count('delete')} "
            f"| {len(t.unmanaged)} | {risks} | {'no' if t.unsafe else 'yes'} |"
        )
    if not plan.tenants:
        lines += ["", "No tenants selected."]
    elif failed:
        planned = len(plan.tenants) - len(failed)
        lines += ["", f"{len(failed)} tenant(s) failed, {planned} planned."]
    elif not plan.has_changes:
        lines += ["", "No changes. Every tenant matches the configuration."]
    return lines


def _field_rows(change: Change) -> list[str]:
    rows = ["| Field | Before | After |", "|---|---|---|"]
    if change.action == "create":
        assert change.after is not None
        rows += [f"| {ident(f)} | | {cell(change.after[f])} |" for f in create_fields(change)]
    elif change.action == "update":
        for delta in change.field_changes:
            before, after = delta_cells(delta)
            rows.append(f"| {ident(delta.field)} | {before} | {after} |")
    else:
        removed = change.before or {}
        rows += [f"| {ident(f)} | {cell(removed[f])} | |" for f in delete_fields(change)]
    return rows


def _change_block(change: Change) -> str:
    title = f"{SYMBOLS[change.action]} {change.action} {change.kind} {code(change.name)}"
    if change.previous_name:
        title += f" (renamed from {code(change.previous_name)})"
    rows = _field_rows(change)
    if change.action == "delete":
        rows = [f"Deleted: {markdown(change.reason)}" if change.reason else "Deleted.", "", *rows]
    note = (
        f"\n\nLive connector last changed {markdown(change.when_changed_utc)}."
        if change.when_changed_utc
        else ""
    )
    return f"<details><summary>{title}</summary>\n\n" + "\n".join(rows) + note + "\n\n</details>"


def finding_row(f: Finding) -> str:
    """A risk as a row of ``| Severity | Rule | Connector | Finding |``: the severity as a word, a live
    finding marked ``(live)``, a skipped one with its reason."""
    who = f"{f.kind} {code(f.name)}" if f.name else "tenant"
    if f.source == "live":
        who += " (live)"
    if f.skipped_reason:
        severity, message = f"⏭️ skipped ({f.severity})", f"skipped: {markdown(f.skipped_reason)}"
    else:
        severity, message = f"{_SEVERITY_ICON.get(f.severity, '')} {f.severity}", markdown(f.message)
    return f"| {severity} | {ident(f.rule)} | {who} | {message} |"


def risks_table(findings: list[Finding]) -> str:
    """The risks as a Markdown table under a ``#### Risks`` heading."""
    rows = ["#### Risks", "", "| Severity | Rule | Connector | Finding |", "|---|---|---|---|"]
    return "\n".join(rows + [finding_row(f) for f in findings])


def _tenant_blocks(t: TenantPlan) -> list[str]:
    if t.failed:
        return [failed_markdown(t.tenant, t.error)]
    blocks = [f"### Tenant {code(t.tenant)}\n\n{t.summary()}."]
    blocks += [_change_block(c) for c in t.changes]
    if t.unmanaged:
        names = ", ".join(
            f"{u.kind} {code(u.name)}" + (f" ({markdown(u.reason)})" if u.reason else "") for u in t.unmanaged
        )
        blocks.append(f"**Unmanaged** (no file declares them; left alone): {names}")
    if t.findings:
        blocks.append(risks_table(t.findings))
    return blocks


def footer(version: str, commit: str | None) -> str:
    """The comment's last line: the exoform version and the commit the plan was made from."""
    made = f"exoform {markdown(version)}"
    if commit:
        made += f" · commit {markdown(commit)}"
    return f"---\n<sub>{made}</sub>"


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


def render_markdown(
    plan: Plan, *, max_chars: int = MAX_CHARS, commit: str | None = None, banner: str | None = None
) -> str:
    """The plan as a PR comment of at most ``max_chars`` characters; ``commit`` is the commit the plan
    was made from (the CLI passes ``GITHUB_SHA``), named in the footer with the plan's exoform version;
    ``banner`` a warning box first."""
    head = "\n".join(_summary(plan, banner)) + "\n"
    tail = "\n\n" + footer(plan.exoform_version, commit) + "\n"
    blocks = [b for t in plan.tenants for b in _tenant_blocks(t)]
    body, cut = fit_blocks(head, blocks, max_chars - len(tail))
    text = head + "\n" + "\n\n".join(body)
    if cut:
        text += (
            f"\n\n> [!NOTE]\n> {cut} more section(s) were cut to fit GitHub's comment size limit; "
            "the summary above is complete. See the plan artifact (JSON) for every change."
        )
    text = text.rstrip("\n") + tail
    return text if len(text) <= max_chars else text[: max_chars - len(tail)] + tail
