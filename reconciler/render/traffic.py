"""The ``traffic`` report: per connector, the messages message trace attributes to it, as text, JSON and
Markdown (see docs/monitoring.md).

Contract: every format names every tenant with its outcome; a tenant whose trace could not be read whole
is shown as failed or partial with its error, and its connectors' figures as ``unknown``, never as 0.
Each figure carries how it was obtained (``observed``, ``sampled``, ``estimated``, ``unknown``) and the
tenant says what it sampled.  Untrusted text (names, domains, service messages) is escaped
(:mod:`reconciler.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.text import Text

from reconciler import __version__
from reconciler.escape import markdown, safe
from reconciler.monitor.traffic import ConnectorTraffic, TenantTraffic, window_text
from reconciler.render.console import plain_table, to_text

FORMAT_VERSION = 1
HEADERS = ("TENANT", "KIND", "NAME", "MESSAGES", "HOW", "FIRST SEEN", "LAST SEEN", "TOP DOMAINS")


def _time(moment: datetime | None) -> str | None:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else None


def _short(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment is not None else "-"


def _messages(figure: ConnectorTraffic) -> str:
    if figure.messages is None:
        return f"unknown (>= {figure.observed:,})" if figure.observed else "unknown"
    return f"{'~' if figure.method in ('sampled', 'estimated') else ''}{figure.messages:,}"


def _domains(figure: ConnectorTraffic) -> str:
    return ", ".join(f"{domain} ({count})" for domain, count in figure.top_domains) or "-"


def failed(reports: Sequence[TenantTraffic]) -> bool:
    """True when any tenant's trace was not read whole (the command then exits 1)."""
    return any(r.status != "complete" for r in reports)


def traffic_json(reports: Sequence[TenantTraffic]) -> dict[str, Any]:
    """The report as data (``format_version`` 1)."""
    return {
        "format_version": FORMAT_VERSION,
        "exoform_version": __version__,
        "failed": failed(reports),
        "tenants": [
            {
                "tenant": r.tenant,
                "status": r.status,
                "error": r.error,
                "window": {"start": _time(r.start), "end": _time(r.end)},
                "summary_rows": r.rows,
                "requests": r.requests,
                "budget": r.budget,
                "sampled": r.sampled,
                "detail_candidates": r.detail_candidates,
                "sampling": r.sampling,
                "connectors": [
                    {
                        "kind": c.kind,
                        "name": c.name,
                        "messages": c.messages,
                        "method": c.method,
                        "observed": c.observed,
                        "matched_rows": c.candidates,
                        "first_seen": _time(c.first_seen),
                        "last_seen": _time(c.last_seen),
                        "domain_role": c.domain_role,
                        "top_domains": [{"domain": d, "messages": n} for d, n in c.top_domains],
                        "how": c.how,
                    }
                    for c in r.connectors
                ],
            }
            for r in reports
        ],
    }


def _heading(r: TenantTraffic) -> str:
    head = f"{r.tenant}: {window_text(r)} ({_short(r.start)} to {_short(r.end)} UTC)"
    if r.status == "complete":
        return (
            f"{head}: {r.rows:,} summary row(s), {r.requests} of {r.budget} trace request(s); "
            f"sampled {r.sampling}"
        )
    return f"{head}: {r.status.upper()}: {r.error}"


def traffic_text(reports: Sequence[TenantTraffic], *, color: bool = False) -> str:
    """A line per tenant (window, requests, what was sampled or why it failed), then the table."""
    items: list[Any] = []
    for r in reports:
        style = "" if r.status == "complete" else "bold red"
        items.append(Text(safe(_heading(r)), style))
    table = plain_table(*HEADERS)
    rows = 0
    for r in reports:
        for c in r.connectors:
            rows += 1
            table.add_row(
                safe(r.tenant),
                c.kind,
                safe(c.name),
                _messages(c),
                c.method,
                _short(c.first_seen),
                _short(c.last_seen),
                safe(_domains(c)),
            )
    items += [Text(), table] if rows else [Text("(no connectors)")]
    notes = [(r, c) for r in reports for c in r.connectors]
    if notes:
        items.append(Text())
        items += [Text(f'  {safe(r.tenant)}: {c.kind} "{safe(c.name)}": {safe(c.how)}') for r, c in notes]
    return to_text(items, color=color)


def traffic_markdown(reports: Sequence[TenantTraffic]) -> str:
    """A Markdown section per tenant: a failure banner when the trace was not read whole, the table and
    what was sampled."""
    lines = ["## Connector traffic (message trace)", ""]
    for r in reports:
        lines.append(f"### {markdown(r.tenant)}: {window_text(r)}")
        lines.append("")
        if r.status != "complete":
            lines += [
                "> [!CAUTION]",
                f"> The message trace of {markdown(r.tenant)} was not read whole ({r.status}): "
                f"{markdown(r.error or '')}. Every figure below is **unknown**, not zero.",
                "",
            ]
        else:
            lines += [
                f"{r.rows:,} summary row(s) read with {r.requests} of {r.budget} trace request(s); "
                f"sampled {markdown(r.sampling)}.",
                "",
            ]
        if r.connectors:
            lines += [
                "| Kind | Connector | Messages | How | First seen | Last seen | Top domains |",
                "|---|---|---:|---|---|---|---|",
            ]
            for c in r.connectors:
                lines.append(
                    f"| {c.kind} | {markdown(c.name)} | {_messages(c)} | {c.method} | "
                    f"{_short(c.first_seen)} | {_short(c.last_seen)} | {markdown(_domains(c))} |"
                )
            lines.append("")
            lines.append("<details><summary>How each figure was obtained</summary>")
            lines.append("")
            lines += [f"- {c.kind} {markdown(c.name)}: {markdown(c.how)}" for c in r.connectors]
            lines += ["", "</details>", ""]
    lines.append(f"<sub>exoform {markdown(__version__)}</sub>")
    return "\n".join(lines) + "\n"
