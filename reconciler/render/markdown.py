"""Markdown for a pull-request comment, grouped for fleets.

Contract: the result starts with :data:`MARKER` (so CI updates one comment in place); then what is never
cut: a failure box naming every tenant that could not be planned with its error (and then never "no
changes"), a caution box holding every unsafe reason with its tenants, a warning banner when anything is
deleted; then a summary table whose rows group the tenants with the same counts (tenants without changes
are one row, never a section each).  Each change is shown ONCE with the tenants it applies to
(:mod:`reconciler.render.grouping`): a ``<details>`` block with a field table (a list field shows the items
removed and added, in value order; a delete every setting of the connector it removes); a field whose
value differs per tenant (``${vars.NAME}``) says so and lists each value with its tenants.  Then the risks
(severity as a word, live ones marked) and the unmanaged connectors, each once with its tenants; a footer
names the exoform version and the commit the plan was made from.  Tenant lists are collapsed after a few
names ("a, b, c and 37 more"), the full list in a ``<details>``.

With ``plan --base`` the changes of the files come under "Changes" and the repairs of changes made
outside exoform under their own heading, :data:`REPAIRS`, after them; a change of the files that also
reverts a change made outside exoform (cause ``both``) stays under "Changes", its title marked
"also changed outside exoform".  Changes not marked (no ``--base``) are all under "Changes".

It never exceeds ``max_chars`` (default :data:`MAX_CHARS`): when the whole does not fit, the least
important parts go first: the full names of tenants without changes, then every full tenant list and the
per-tenant values past the first few, then whole sections from the end (unmanaged, risks, the last
changes).  The failures, unsafe reasons and the summary are never cut, and the comment then says what was
left out and where the full plan is.  Every untrusted text is escaped (:mod:`reconciler.escape`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.diff import FieldChange
from reconciler.escape import markdown
from reconciler.plan import SYMBOLS, Base, Plan, Unmanaged
from reconciler.posture.findings import Finding
from reconciler.render import grouping
from reconciler.render.failed import quoted
from reconciler.render.grouping import ChangeGroup, Row
from reconciler.render.values import cell, code, delta_cells, ident

MARKER = "<!-- exoform-plan -->"
#: GitHub refuses comments over 65,536 characters; stay below with room for the truncation note.
MAX_CHARS = 65_000
#: Names shown of a collapsed tenant list ("a, b, c and 37 more").
FEW = 3
#: Per-tenant values of a field kept when the comment is too long for all of them.
FEW_VALUES = 10
_SEVERITY_ICON = {"error": "🛑", "warning": "⚠️", "info": "💡"}
#: The heading of the repairs (``plan --base``).
REPAIRS = "Repairs of changes made outside exoform"


@dataclass(frozen=True)
class _Level:
    """How much detail: full names of unchanged tenants, full tenant lists, per-tenant values kept."""

    unchanged_names: bool = True
    names: bool = True
    values: int | None = None


#: The detail levels tried in turn, from everything to the least that is still useful: the least
#: important detail goes first (see the module contract).
_LEVELS = (
    _Level(),
    _Level(unchanged_names=False),
    *(_Level(unchanged_names=False, values=n) for n in (200, 50)),
    *(_Level(unchanged_names=False, names=False, values=n) for n in (None, 200, 50, FEW_VALUES)),
)
_LEAST = _LEVELS[-1]


@dataclass
class _Cuts:
    """What a level left out, for the note."""

    unchanged: int = 0
    names: int = 0
    values: int = 0
    sections: list[str] = field(default_factory=list)

    def add(self, other: _Cuts) -> None:
        self.unchanged += other.unchanged
        self.names += other.names
        self.values += other.values

    def note(self) -> str:
        parts = []
        if self.unchanged:
            parts.append(f"the names of {self.unchanged} tenant(s) without changes")
        if self.names:
            parts.append(f"{self.names} more tenant name(s) of collapsed lists")
        if self.values:
            parts.append(f"{self.values} per-tenant value(s)")
        if self.sections:
            shown = self.sections[:10]
            more = len(self.sections) - len(shown)
            parts.append(
                f"{len(self.sections)} section(s) at the end: "
                + "; ".join(shown)
                + (f" and {more} more" if more else "")
            )
        if not parts:
            return ""
        return (
            "> [!NOTE]\n> Some details were cut to fit GitHub's comment size limit: "
            + "; ".join(parts)
            + ".\n> The failures, unsafe reasons and the summary above are complete. The full plan is "
            "the plan file (the `exoform-plan` artifact in CI): `exoform show plan.json --group`."
        )


def names_all(names: list[str]) -> str:
    """Every name, in ``<code>``, comma-separated."""
    return ", ".join(code(n) for n in names)


def names_collapsed(names: list[str]) -> str:
    """The first :data:`FEW` names and ``and N more`` (every name when only one more would be hidden)."""
    if len(names) <= FEW + 1:
        return names_all(names)
    return f"{names_all(names[:FEW])} and {len(names) - FEW} more"


def _names(names: list[str], full: bool, cuts: _Cuts, *, unchanged: bool = False) -> str:
    """A tenant list for one line or cell: collapsed, with the full list in a ``<details>`` when ``full``
    (else the hidden names are counted in ``cuts``)."""
    if len(names) <= FEW + 1:
        return names_all(names)
    if full:
        return f"<details><summary>{names_collapsed(names)}</summary>{names_all(names)}</details>"
    if unchanged:
        cuts.unchanged += len(names) - FEW
    else:
        cuts.names += len(names) - FEW
    return names_collapsed(names)


def _head(plan: Plan, banner: str | None, level: _Level, cuts: _Cuts) -> list[str]:
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
    targeted = grouping.targets_groups(plan.tenants)
    if targeted:
        lines += [
            "> [!IMPORTANT]",
            "> **Targeted plan** (`--target`): only the matching connectors were planned; other connectors "
            "were not compared.",
            ">",
        ]
        lines += [
            f"> - {_names(names, level.names, cuts)}: {', '.join(code(p) for p in patterns)}"
            for patterns, names in targeted.items()
        ]
        lines.append("")
    if plan.unsafe:
        lines += ["> [!CAUTION]", "> **Unsafe plan**: apply will refuse it without `--force`."]
        lines += [f"> - {markdown(r)}" for r in plan.unsafe_reasons]
        lines += [
            f"> - {names_all(names)}: {markdown(r)}"
            for r, names in grouping.unsafe_groups(plan.tenants).items()
        ]
        lines.append("")
    deletes = sum(t.count("delete") for t in plan.tenants)
    if deletes:
        lines += ["> [!WARNING]", f"> **{deletes} connector(s) will be deleted.** Mail flow may change.", ""]
    if plan.base is not None:
        lines += [f"Changes and repairs told apart against the files at {_revision(plan.base)}.", ""]
    return lines


def _revision(base: Base) -> str:
    return f"{code(base.ref)} (commit {code(base.commit[:12])})"


def _table(plan: Plan, level: _Level, cuts: _Cuts) -> list[str]:
    lines = [
        "| Tenants | Status | Create | Update | Delete | Unmanaged | Risks | Safe |",
        "|---|---|---:|---:|---:|---:|---:|:---:|",
    ]
    for row, names in grouping.row_groups(plan).items():
        unchanged = not row.failed and not row.changes
        full = level.unchanged_names if unchanged else level.names
        who = _names(names, full, cuts, unchanged=unchanged)
        lines.append(_row(who, row))
    failed = plan.failed
    if not plan.tenants:
        lines += ["", "No tenants selected."]
    elif failed:
        planned = len(plan.tenants) - len(failed)
        lines += ["", f"{len(failed)} tenant(s) failed, {planned} planned."]
    elif not plan.has_changes:
        lines += ["", "No changes. Every tenant matches the configuration."]
    return lines


def _row(who: str, row: Row) -> str:
    if row.failed:
        return f"| {who} | **failed** | | | | | | |"
    return (
        f"| {who} | planned | {row.create} | {row.update} | {row.delete} | {row.unmanaged} | {row.risks} "
        f"| {'no' if row.unsafe else 'yes'} |"
    )


def _cells(action: str, fc: FieldChange) -> tuple[str, str]:
    if action == "create":
        return "", cell(fc.after)
    if action == "delete":
        return cell(fc.before), ""
    return delta_cells(fc)


def _table_row(*cells: str) -> str:
    return "|" + "|".join(f" {c} " if c else " " for c in cells) + "|"


def _title(g: ChangeGroup) -> str:
    title = f"{SYMBOLS[g.action]} {g.action} {g.kind} {code(g.name)}"
    if g.previous_name:
        title += f" (renamed from {code(g.previous_name)})"
    return title


def _group_block(g: ChangeGroup, multi: bool, level: _Level, cuts: _Cuts) -> str:
    title = _title(g)
    body: list[str] = []
    if g.cause == "both":
        title += " · ⚠️ also changed outside exoform"
        body += [
            "The files change it, and the live connector was also changed outside exoform since the "
            "base: applying replaces that change.",
            "",
        ]
    elif g.cause == "repair":
        body += [
            "Changed outside exoform: the live tenant differs from what the base's files declare (the "
            "connector was edited, deleted or created there); applying reverts that.",
            "",
        ]
    if multi:
        title += f" · {len(g.tenants)} tenant(s): {names_collapsed(g.tenants)}"
        if len(g.tenants) > FEW + 1:
            if level.names:
                body += [f"Tenants ({len(g.tenants)}): {names_all(g.tenants)}", ""]
            else:
                cuts.names += len(g.tenants) - FEW
    if g.action == "delete":
        body += [f"Deleted: {markdown(g.reason)}" if g.reason else "Deleted.", ""]
    body += ["| Field | Before | After |", "|---|---|---|"]
    for fv in g.fields:
        if fv.common:
            before, after = _cells(g.action, fv.values[0][0])
        else:
            before = after = f"*{len(fv.values)} values, per tenant below*"
        body.append(_table_row(ident(fv.field), before, after))
    for fv in g.varying:
        body += ["", f"Per tenant, {ident(fv.field)}:", "", "| Tenants | Before | After |", "|---|---|---|"]
        values = fv.values
        if level.values is not None and len(values) > level.values:
            cuts.values += sum(len(names) for _, names in values[level.values :])
            values = values[: level.values]
        for fc, names in values:
            before, after = _cells(g.action, fc)
            body.append(_table_row(_names(names, level.names, cuts), before, after))
        if len(values) < len(fv.values):
            hidden = sum(len(names) for _, names in fv.values[len(values) :])
            body.append(f"| *{hidden} more tenant(s): see the full plan* | | |")
    if len(g.changed_utc) == 1:
        body += ["", f"Live connector last changed {markdown(g.changed_utc[0])}."]
    elif g.changed_utc:
        first, last = markdown(g.changed_utc[0]), markdown(g.changed_utc[-1])
        body += ["", f"Live connectors last changed between {first} and {last}."]
    return f"<details><summary>{title}</summary>\n\n" + "\n".join(body) + "\n\n</details>"


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


def _risks_block(groups: dict[Finding, list[str]], multi: bool, level: _Level, cuts: _Cuts) -> str:
    if not multi:
        return risks_table(list(groups))
    rows = ["#### Risks", "", "| Severity | Rule | Connector | Finding | Tenants |", "|---|---|---|---|---|"]
    rows += [f"{finding_row(f)} {_names(names, level.names, cuts)} |" for f, names in groups.items()]
    return "\n".join(rows)


def _reason(u: Unmanaged) -> str:
    return f" ({markdown(u.reason)})" if u.reason else ""


def _unmanaged_block(plan: Plan, multi: bool, level: _Level, cuts: _Cuts) -> str:
    groups = grouping.unmanaged_groups(plan.tenants)
    if not multi:
        names = ", ".join(f"{u.kind} {code(u.name)}{_reason(u)}" for u in groups)
        return f"**Unmanaged** (no file declares them; left alone): {names}"
    lines = ["#### Unmanaged", "", "No file declares them; left alone.", ""]
    lines += [
        f"- {u.kind} {code(u.name)}{_reason(u)}: {_names(names, level.names, cuts)}"
        for u, names in groups.items()
    ]
    return "\n".join(lines)


@dataclass
class _Section:
    """A cuttable part of the comment, how the note names it when cut, and what it left out itself."""

    label: str
    text: str
    cuts: _Cuts


def _sections(plan: Plan, groups: list[ChangeGroup], level: _Level) -> list[_Section]:
    """The cuttable sections, most important first: the changes (``groups``), the risks, the unmanaged
    connectors."""
    multi = len(plan.tenants) > 1
    sections = []
    files = [g for g in groups if g.cause != "repair"]
    repairs = [g for g in groups if g.cause == "repair"]
    for heading, part in (("Changes", files), (REPAIRS, repairs)):
        for n, g in enumerate(part):
            cuts = _Cuts()
            block = (f"### {heading}\n\n" if n == 0 else "") + _group_block(g, multi, level, cuts)
            what = "repair" if g.cause == "repair" else g.action
            sections.append(
                _Section(f"{what} {g.kind} {code(g.name)} ({len(g.tenants)} tenant(s))", block, cuts)
            )
    findings = grouping.finding_groups(plan.tenants)
    if findings:
        cuts = _Cuts()
        sections.append(_Section("the risks", _risks_block(findings, multi, level, cuts), cuts))
    if any(t.unmanaged for t in plan.tenants):
        cuts = _Cuts()
        sections.append(
            _Section("the unmanaged connectors", _unmanaged_block(plan, multi, level, cuts), cuts)
        )
    return sections


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


#: Room kept for the note when sections are cut.
_NOTE_RESERVE = 2_000


def render_markdown(
    plan: Plan, *, max_chars: int = MAX_CHARS, commit: str | None = None, banner: str | None = None
) -> str:
    """The plan as a PR comment of at most ``max_chars`` characters; ``commit`` is the commit the plan
    was made from (the CLI passes ``GITHUB_SHA``), named in the footer with the plan's exoform version;
    ``banner`` a warning box first."""
    tail = "\n\n" + footer(plan.exoform_version, commit) + "\n"
    groups = grouping.change_groups(plan.tenants)
    for level in _LEVELS:
        cuts = _Cuts()
        head = "\n".join(_head(plan, banner, level, cuts) + _table(plan, level, cuts)) + "\n"
        sections = _sections(plan, groups, level)
        for section in sections:
            cuts.add(section.cuts)
        note = cuts.note()
        text = head + "\n" + "\n\n".join(s.text for s in sections) + ("\n\n" + note if note else "")
        text = text.rstrip("\n") + tail
        if len(text) <= max_chars:
            return text
    # Whole sections from the end; the note counts what the kept ones left out.
    kept, _ = fit_blocks(head, [s.text for s in sections], max_chars - len(tail), reserve=_NOTE_RESERVE)
    cuts = _Cuts()
    _head(plan, banner, _LEAST, cuts)
    _table(plan, _LEAST, cuts)
    for section in sections[: len(kept)]:
        cuts.add(section.cuts)
    cuts.sections = [s.label for s in sections[len(kept) :]]
    text = (head + "\n" + "\n\n".join(kept)).rstrip("\n") + "\n\n" + cuts.note() + tail
    if len(text) <= max_chars:
        return text
    return _truncated(text, max_chars, tail)


def _truncated(text: str, max_chars: int, tail: str) -> str:
    """The last resort when the parts never cut do not fit on their own (hundreds of failed tenants with
    long errors): whole lines up to the limit, then a note naming where the rest is."""
    note = (
        "\n\n> [!CAUTION]\n> **This comment is truncated**: the failures and unsafe reasons above are "
        "incomplete. The full plan: `exoform plan` (or `exoform show plan.json`)."
    )
    room = max_chars - len(tail) - len(note)
    cut = text.rfind("\n", 0, room)
    return text[: max(cut, 0)] + note + tail
