"""The drift report: a plan read as "what differs from the files", as text, JSON data or an issue body.

Contracts:
- Drift is a change in the plan: a connector declared but missing (``missing``), one whose fields differ
  (``changed``), one the ``unmanaged: delete`` policy would delete (``unexpected``); and a posture finding
  on the live connectors (``source: live``, not skipped) at or above ``fail_on``: a risk in the tenant
  is drift even when no file is involved (both decided by :mod:`reconciler.verdicts`).  Unmanaged
  connectors under ``unmanaged: report`` are listed but are not drift, nor are the findings of message
  trace (``source: traffic``: connectors without mail of ``traffic: true`` tenants), listed apart.
- Every tenant of the plan is in every format: a failed one with its error (``drift`` null in JSON), and
  no format says "no drift" while a tenant failed.
- The JSON report is :class:`DriftDocument` dumped, its one definition (``format_version``
  :data:`FORMAT_VERSION`; schemas/drift.schema.json is generated from it).
- Each differing field shows the files' value against the live one; a list field also shows the items
  only in the files and only live (:func:`reconciler.diff.field_changes`).  Text and Markdown also show
  where the files' value comes from (:func:`field_origin`: the variable or override the change's
  ``source`` names, else the connector's file) and what to do about each connector: an update gives
  its ``exoform accept`` command (:func:`accept_command`, quoted for a shell); a missing connector is
  re-applied or declared absent; only a connector no file declares points to ``exoform export``.
- The Markdown body is deterministic (the same drift gives the same text, so a nightly update of an
  unchanged issue is a no-op) and at most :data:`reconciler.render.markdown.MAX_CHARS` characters.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.text import Text

from reconciler.diff import FieldChange
from reconciler.escape import markdown, safe
from reconciler.model import Kind
from reconciler.plan import Change, Plan, TenantPlan, TenantStatus, Unmanaged
from reconciler.posture.findings import Finding
from reconciler.reconcile.targeting import target_argument
from reconciler.render.console import to_text
from reconciler.render.failed import failed_markdown, failed_text
from reconciler.render.markdown import MAX_CHARS, finding_row, fit_blocks, risks_table
from reconciler.render.values import code, delta_cells, ident, in_order, show, targets_note
from reconciler.verdicts import drifted, has_drift, live_risks

FORMAT_VERSION: Final = 1
MARKER = "<!-- exoform-drift -->"
_STATES = {"create": "missing", "update": "changed", "delete": "unexpected"}
#: The drift symbol of each plan action: seen from the files, a connector to create is missing.
_SYMBOLS = {"create": "-", "update": "~", "delete": "+"}


def _headline(change: Change) -> str:
    if change.action == "create":
        return "declared in the files, missing from the tenant"
    if change.declared_absent:
        return f"in the tenant, {change.reason}"
    if change.action == "delete":
        return f"in the tenant, in no file ({change.reason or 'unmanaged: delete'})"
    text = f"{len(change.fields)} field(s) differ"
    if change.previous_name:
        text += f' (the files rename it from "{change.previous_name}")'
    return text


def accept_command(tenant: str, kind: str, name: str) -> str:
    """The ``exoform accept`` command of one connector, quoted for a POSIX shell (the name's glob
    characters escaped, so the target matches only this connector)."""
    return f"exoform accept --tenant {shlex.quote(tenant)} --target {target_argument(kind, name)}"


def field_origin(change: Change, field_name: str) -> str | None:
    """Where the files' value of a drifted field comes from: the variable or override its ``source``
    names, else the connector's document (``FILE:LINE``); None when the change has no source."""
    if change.source is None:
        return None
    return change.source.fields.get(field_name) or f"{change.source.file}:{change.source.line}"


def _remedy(t: TenantPlan, change: Change) -> list[tuple[str, bool]]:
    """What to do about one drifted connector: pieces of text, each a command (True) or not."""
    if change.action == "create":
        return [
            ("Missing from the tenant: ", False),
            ("exoform apply", True),
            (f" creates it again; or declare it absent: true (it is declared at {change.source})", False),
        ]
    if change.declared_absent:
        return [
            ("", False),
            ("exoform apply", True),
            (f" deletes it; to keep it, remove the absent: true at {change.source}", False),
        ]
    if change.action == "delete":
        target = target_argument(change.kind, change.name)
        export = f"exoform export --tenant {shlex.quote(t.tenant)} --target {target}"
        return [
            ("", False),
            ("exoform apply", True),
            (" deletes it; to keep it, declare it in a folder of this tenant's own (", False),
            (export, True),
            (" writes it there)", False),
        ]
    return [
        ("", False),
        ("exoform apply", True),
        (" restores the files' values; to keep the tenant's, ", False),
        (accept_command(t.tenant, change.kind, change.name), True),
        (" writes them where they come from", False),
    ]


def _counts(tenants: Sequence[TenantPlan], fail_on: str) -> str:
    """``N connector(s) differ from the files`` and ``N risk(s) in the live connectors``, those present."""
    changed = sum(len(t.changes) for t in tenants)
    risks = sum(len(live_risks(t, fail_on)) for t in tenants)
    parts = [f"{changed} connector(s) differ from the files"] if changed else []
    parts += [f"{risks} risk(s) in the live connectors"] if risks else []
    return " and ".join(parts)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _is_none(value: Any) -> bool:
    return value is None


class DriftField(_Closed):
    """A field that differs: the files' value against the live one, and where the files' value comes
    from (:func:`field_origin`; null when unknown); for a list field, also the items only in the files
    and only live (left out for other fields)."""

    field: str
    desired: Any
    live: Any
    origin: str | None
    only_in_files: list[Any] | None = Field(default=None, exclude_if=_is_none)
    only_live: list[Any] | None = Field(default=None, exclude_if=_is_none)

    @classmethod
    def of(cls, change: Change, delta: FieldChange) -> DriftField:
        items = {"only_in_files": in_order(delta.added), "only_live": in_order(delta.removed)}
        return cls(
            field=delta.field,
            desired=delta.after,
            live=delta.before,
            origin=field_origin(change, delta.field),
            **(items if delta.items else {}),
        )


class DriftConnector(_Closed):
    """A drifted connector: missing from the tenant, changed, or unexpected (``unmanaged: delete``)."""

    kind: Kind
    name: str
    state: Literal["missing", "changed", "unexpected"]
    when_changed_utc: str | None
    fields: list[DriftField]


class DriftTenant(_Closed):
    """A tenant's drift, or (``status`` ``failed``, ``drift`` null) the error that kept it unchecked."""

    tenant: str
    target: str
    targets: list[str]
    status: TenantStatus
    error: str | None
    drift: bool | None
    connectors: list[DriftConnector]
    risks: list[Finding]
    #: What message trace says (``traffic: true``: connectors without mail): shown, never drift.
    traffic: list[Finding]
    unmanaged: list[Unmanaged]


class DriftDocument(_Closed):
    """The drift report (``drift --format json``; schemas/drift.schema.json)."""

    format_version: Literal[1] = FORMAT_VERSION
    exoform_version: str
    drift: bool
    errors: int
    tenants: list[DriftTenant]


def drift_document(plan: Plan, *, fail_on: str = "error") -> DriftDocument:
    """The drift report as data: per tenant, its drifted connectors, live risks and unmanaged ones, or
    its error."""
    return DriftDocument(
        exoform_version=plan.exoform_version,
        drift=has_drift(plan, fail_on),
        errors=len(plan.failed),
        tenants=[
            DriftTenant(
                tenant=t.tenant,
                target=t.target,
                targets=t.targets,
                status=t.status,
                error=t.error,
                drift=None if t.failed else drifted(t, fail_on),
                connectors=[
                    DriftConnector(
                        kind=c.kind,
                        name=c.name,
                        state=_STATES[c.action],
                        when_changed_utc=c.when_changed_utc,
                        fields=[DriftField.of(c, d) for d in c.field_changes],
                    )
                    for c in t.changes
                ],
                risks=live_risks(t, fail_on),
                traffic=_traffic(t),
                unmanaged=t.unmanaged,
            )
            for t in plan.tenants
        ],
    )


def drift_json(plan: Plan, *, fail_on: str = "error") -> dict[str, Any]:
    """:func:`drift_document` as JSON data."""
    data: dict[str, Any] = drift_document(plan, fail_on=fail_on).model_dump(mode="json")
    return data


def _traffic(t: TenantPlan) -> list[Finding]:
    """``t``'s findings from message trace (``source: traffic``): listed, never drift."""
    return [f for f in t.findings if f.source == "traffic"]


def _field_lines(change: Change) -> list[Text]:
    deltas = change.field_changes
    width = max((len(d.field) for d in deltas), default=0)
    lines = []
    for d in deltas:
        lines.append(Text(f"      {safe(d.field):<{width}}  files: {show(d.after)}"))
        lines.append(Text(f"      {'':<{width}}  live:  {show(d.before)}"))
        if d.items:
            if d.added:
                only = ", ".join(show(v) for v in in_order(d.added))
                lines.append(Text(f"      {'':<{width}}  only in files: {only}"))
            if d.removed:
                only = ", ".join(show(v) for v in in_order(d.removed))
                lines.append(Text(f"      {'':<{width}}  only live:     {only}"))
        origin = field_origin(change, d.field)
        if origin:
            lines.append(Text(f"      {'':<{width}}  from:  {safe(origin)}", "dim"))
    return lines


def _tenant_text(t: TenantPlan, fail_on: str) -> list[Text]:
    if t.failed:
        return failed_text(t.tenant, t.error, target=t.target)
    out = [Text.assemble((f"Tenant {safe(t.tenant)}", "bold"), (f" ({safe(t.target)})", "dim"))]
    if t.targets:
        out.append(Text(f"  ! {targets_note(t.targets)}", "bold"))
    risks = live_risks(t, fail_on)
    if not t.changes and not risks:
        out.append(Text("  No drift: the tenant matches the files."))
    for c in t.changes:
        out.append(
            Text.assemble(
                "  ", (_SYMBOLS[c.action], "yellow"), f' {c.kind} "{safe(c.name)}": {safe(_headline(c))}'
            )
        )
        if c.when_changed_utc:
            out.append(Text(f"      last changed in the tenant: {safe(c.when_changed_utc)}", "dim"))
        out.extend(_field_lines(c))
        out.append(Text(f"      {safe(''.join(text for text, _ in _remedy(t, c)))}", "dim"))
    for f in risks:
        where = f' {f.kind} "{safe(f.name)}"' if f.name else ""
        out.append(
            Text.assemble(
                "  ", ("!", "bold red"), f" live risk {f.severity} {safe(f.rule)}{where}: {safe(f.message)}"
            )
        )
    for f in _traffic(t):
        where = f' {f.kind} "{safe(f.name)}"' if f.name else ""
        state = f"skipped ({safe(f.skipped_reason)})" if f.skipped_reason else f.severity
        out.append(Text(f"  ? traffic (not drift) {state} {safe(f.rule)}{where}: {safe(f.message)}"))
    if t.unmanaged:
        names = ", ".join(f'{u.kind} "{safe(u.name)}"' for u in t.unmanaged)
        out.append(Text(f"  Unmanaged (not drift, no file declares them): {names}"))
    return out


def drift_text(plan: Plan, *, color: bool = False, fail_on: str = "error") -> str:
    """The drift report for a terminal; ANSI colour only when ``color`` is true."""
    out: list[Text] = []
    for t in plan.tenants:
        out.extend(_tenant_text(t, fail_on))
        out.append(Text())
    drifted_tenants = [t for t in plan.tenants if drifted(t, fail_on)]
    checked = len(plan.tenants) - len(plan.failed)
    if drifted_tenants:
        summary = (
            f"Drift in {len(drifted_tenants)} of {len(plan.tenants)} tenant(s): "
            f"{_counts(drifted_tenants, fail_on)}."
        )
    elif plan.failed:
        summary = f"No drift in the {checked} tenant(s) that could be read."
    else:
        summary = f"No drift in {len(plan.tenants)} tenant(s)."
    if plan.failed:
        summary += f" {len(plan.failed)} of {len(plan.tenants)} tenant(s) failed: not checked."
    out.append(Text(summary))
    return to_text(out, color=color)


def _markdown_tenant(t: TenantPlan, fail_on: str) -> list[str]:
    if t.failed:
        return [failed_markdown(t.tenant, t.error, note=", not checked")]
    risks = live_risks(t, fail_on)
    blocks = [
        f"### Tenant {code(t.tenant)}\n\n{len(t.changes)} connector(s) drifted from the files"
        + (f"; {len(risks)} risk(s) in the live connectors." if risks else ".")
    ]
    for c in t.changes:
        lines = [f"#### {c.kind} {code(c.name)}: {markdown(_headline(c))}", ""]
        if c.when_changed_utc:
            lines += [f"Last changed in the tenant: **{markdown(c.when_changed_utc)}**", ""]
        deltas = c.field_changes
        if deltas and c.source is not None:
            lines += ["| Field | Files (desired) | Tenant (live) | Comes from |", "|---|---|---|---|"]
        elif deltas:
            lines += ["| Field | Files (desired) | Tenant (live) |", "|---|---|---|"]
        for d in deltas:
            live, files = delta_cells(d)
            origin = field_origin(c, d.field)
            lines.append(
                f"| {ident(d.field)} | {files} | {live} |" + (f" {code(origin)} |" if origin else "")
            )
        if deltas:
            lines.append("")
        lines.append(_markdown_remedy(_remedy(t, c)))
        blocks.append("\n".join(lines).rstrip())
    if risks:
        blocks.append(risks_table(risks))
    if _traffic(t):
        rows = [
            "#### Traffic (not drift)",
            "",
            "| Severity | Rule | Connector | Finding |",
            "|---|---|---|---|",
        ]
        blocks.append("\n".join(rows + [finding_row(f) for f in _traffic(t)]))
    if t.unmanaged:
        names = ", ".join(f"{u.kind} {code(u.name)}" for u in t.unmanaged)
        blocks.append(f"Unmanaged (not drift; no file declares them): {names}")
    return blocks


def _markdown_remedy(pieces: list[tuple[str, bool]]) -> str:
    """:func:`_remedy`'s pieces in Markdown: each command in ``<code>``, every piece escaped."""
    return "".join(code(text) if command else markdown(text) for text, command in pieces) + "."


def drift_markdown(plan: Plan, *, max_chars: int = MAX_CHARS, fail_on: str = "error") -> str:
    """The drift report as an issue body of at most ``max_chars`` characters."""
    drifted_tenants = [t for t in plan.tenants if drifted(t, fail_on)]
    head = [MARKER, "## exoform drift", ""]
    if plan.failed:
        head += [
            "> [!CAUTION]",
            f"> **{len(plan.failed)} of {len(plan.tenants)} tenant(s) could not be read**: "
            "drift in them is unknown.",
            "",
        ]
    if drifted_tenants:
        names = ", ".join(code(t.tenant) for t in drifted_tenants)
        head.append(f"Drift in {names}: {_counts(drifted_tenants, fail_on)}.")
    elif plan.failed:
        checked = len(plan.tenants) - len(plan.failed)
        head.append(f"No drift in the {checked} tenant(s) that could be read.")
    else:
        head.append(f"No drift: {len(plan.tenants)} tenant(s) match the files.")
    head += [
        f"\n> [!IMPORTANT]\n> {code(t.tenant)}: {targets_note(t.targets, markdown=True)}"
        for t in plan.tenants
        if t.targets
    ]
    text = "\n".join(head) + "\n"
    blocks = [
        b
        for t in plan.tenants
        if t.failed or drifted(t, fail_on) or t.unmanaged
        for b in _markdown_tenant(t, fail_on)
    ]
    kept, cut = fit_blocks(text, blocks, max_chars)
    if kept:
        text += "\n" + "\n\n".join(kept) + "\n"
    if cut:
        text += (
            f"\n> [!NOTE]\n> {cut} more section(s) were cut to fit GitHub's size limit; run "
            "`exoform drift --format json` for the whole report.\n"
        )
    return text
