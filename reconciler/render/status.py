"""The ``status`` report: each live connector's health, as rows of data and as a table for a terminal,
and the result of ``status --validate`` (Validate-OutboundConnector, one result per smart host).

Contract: rows are plain data (the JSON form prints them as they are); :func:`status_text` renders them
as a table whose columns are separated by two spaces, with ``(no connectors)`` under an empty one, then
the posture risks found in the live connectors (marked live) and a failure line per tenant that could
not be read.  :func:`status_json` is the JSON form (``format_version``; schemas/status.schema.json).
A validation succeeds only when the service returned results and every one says ``Succeeded``.
Untrusted text is escaped in the text forms (:mod:`reconciler.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from reconciler.escape import safe
from reconciler.render.console import plain_table, to_text

if TYPE_CHECKING:
    from reconciler.desired.connectors import TenantDesired
    from reconciler.live import LiveConnector
    from reconciler.workflow import TenantOutcome

FORMAT_VERSION = 1
HEADERS = ("TENANT", "KIND", "NAME", "ENABLED", "TEST MODE", "VALIDATED", "LAST CHANGED", "MANAGED")


def _yes(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.casefold() == "true")


def connector_status(live: LiveConnector, managed: bool) -> dict[str, Any]:
    """One live connector's health as ``status`` shows it (read-only properties of the Get object)."""
    raw = live.raw
    outbound = live.kind == "OutboundConnector"
    last_validated = raw.get("LastValidationTimestamp") if outbound else None
    return {
        "kind": live.kind,
        "name": live.name,
        "enabled": bool(getattr(live.connector, "enabled", True)),
        "test_mode": bool(getattr(live.connector, "test_mode", False)) if outbound else None,
        "validated": _yes(raw.get("IsValidated")) if outbound else None,
        "last_validated": str(last_validated) if last_validated else None,
        # service-owned: stored by validation (docs/yaml-reference.md, "Service-owned values")
        "validation_recipients": list(getattr(live.connector, "validation_recipients", None) or [])
        if outbound
        else None,
        "last_changed": live.when_changed_utc,
        "managed": managed,
        "connector_source": live.connector_source,
    }


def _managed_keys(desired: TenantDesired | None) -> set[tuple[str, str]]:
    keys: set[tuple[str, str]] = set()
    for loaded in desired.connectors if desired is not None else ():
        c = loaded.connector
        keys.add((c.kind, c.name.casefold()))
        keys.update((c.kind, old.casefold()) for old in c.renamed_from)
    return keys


def status_rows(outcomes: Sequence[TenantOutcome], desired: Sequence[TenantDesired]) -> list[dict[str, Any]]:
    """A row per live connector of every tenant that was read, ``managed`` when a file declares it."""
    by_tenant = {d.tenant: d for d in desired}
    rows: list[dict[str, Any]] = []
    for outcome in outcomes:
        if outcome.live is None:
            continue
        managed = _managed_keys(by_tenant.get(outcome.tenant))
        for live in sorted(outcome.live.connectors, key=lambda c: (c.kind, c.name.casefold())):
            row = connector_status(live, (live.kind, live.name.casefold()) in managed)
            rows.append({"tenant": outcome.tenant, **row})
    return rows


def _flag(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _table(rows: Sequence[dict[str, Any]]) -> Table:
    table = plain_table(*HEADERS)
    for r in rows:
        validated = _flag(r["validated"])
        if r["last_validated"]:
            validated += f" ({r['last_validated']})"
        if r.get("validation_recipients"):
            validated += " to " + ", ".join(r["validation_recipients"])
        managed = "managed" if r["managed"] else "unmanaged"
        if r["connector_source"] not in ("Default", ""):
            managed += f" [{r['connector_source']}]"
        table.add_row(
            safe(r["tenant"]),
            "inbound" if r["kind"] == "InboundConnector" else "outbound",
            safe(r["name"]),
            _flag(r["enabled"]),
            _flag(r["test_mode"]),
            safe(validated),
            safe(r["last_changed"] or "-"),
            safe(managed),
        )
    return table


def live_findings(outcomes: Sequence[TenantOutcome]) -> list[dict[str, Any]]:
    """The posture findings on each read tenant's live connectors (``source: live``), with the tenant."""
    return [
        {"tenant": o.tenant, **f.to_json()}
        for o in outcomes
        if o.plan is not None
        for f in o.plan.findings
        if f.source == "live"
    ]


def status_json(
    rows: Sequence[dict[str, Any]], findings: Sequence[dict[str, Any]], outcomes: Sequence[TenantOutcome]
) -> dict[str, Any]:
    """The status report as data: connectors, live risks, every tenant's outcome and the failed ones."""
    return {
        "format_version": FORMAT_VERSION,
        "connectors": list(rows),
        "risks": list(findings),
        "tenants": [
            {"tenant": o.tenant, "status": "failed" if o.live is None else "read", "error": o.error}
            for o in outcomes
        ],
        "errors": [{"tenant": o.tenant, "error": o.error} for o in outcomes if o.live is None],
    }


def status_text(
    rows: Sequence[dict[str, Any]],
    *,
    color: bool = False,
    findings: Sequence[dict[str, Any]] = (),
    failed: Sequence[tuple[str, str]] = (),
) -> str:
    """The status table (a header and one line per connector), the live risks, and a failure line per
    tenant that could not be read (``failed``: tenant, error)."""
    items: list[Any] = [_table(rows), *([] if rows else ["(no connectors)"])]
    if findings:
        items += [Text(), Text("Risks in the live connectors:")]
        for f in findings:
            where = f' {f["kind"]} "{safe(f["name"])}"' if f["name"] else ""
            state = f"skipped ({safe(f['skipped_reason'])})" if f["skipped_reason"] else f["severity"]
            items.append(
                Text(f"  {safe(f['tenant'])}: {state} {f['rule']}{where} (live): {safe(f['message'])}")
            )
    for tenant, error in failed:
        items.append(Text(f"{safe(tenant)}: FAILED: {safe(error)}", "bold red"))
    return to_text(items, color=color)


def validation_ok(results: Sequence[dict[str, Any]]) -> bool:
    """True when there are results and every smart host's status is ``Succeeded``."""
    return bool(results) and all(str(r.get("Status", "")).casefold() == "succeeded" for r in results)


def validation_json(tenant: str, connector: str, results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The validation as data: whether it succeeded and each smart host's result."""
    shown = [
        {
            "smart_host": r.get("SmartHost"),
            "status": r.get("Status"),
            "detail": r.get("Detail") or "",
            "timestamp": r.get("Timestamp"),
        }
        for r in results
    ]
    return {"tenant": tenant, "connector": connector, "ok": validation_ok(results), "results": shown}


def validation_text(
    tenant: str, connector: str, recipients: Sequence[str], results: Sequence[dict[str, Any]]
) -> str:
    """The validation for a terminal: a line per smart host and the verdict."""
    shown = ", ".join(safe(r) for r in recipients)
    lines = [f'Validate-OutboundConnector "{safe(connector)}" in {safe(tenant)} (test mail to {shown}):']
    width = max((len(safe(str(r.get("SmartHost", "")))) for r in results), default=0)
    for r in results:
        detail = f"  {safe(str(r['Detail']))}" if r.get("Detail") else ""
        host, state = safe(str(r.get("SmartHost", ""))), safe(str(r.get("Status")))
        lines.append(f"  {host:<{width}}  {state}{detail}")
    if not results:
        lines.append("  (the service returned no result)")
    lines.append("Validation succeeded." if validation_ok(results) else "Validation failed.")
    return "\n".join(lines) + "\n"
