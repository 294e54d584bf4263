"""The ``status`` report: each live connector's health, as rows of data and as a table for a terminal,
and the result of ``status --validate`` (Validate-OutboundConnector, one result per smart host).

Contract: rows are plain data (the JSON form prints them as they are); :func:`status_text` renders them
as a table whose columns are separated by two spaces, with ``(no connectors)`` under an empty one, then
the posture risks found in the live connectors (marked live), what message trace says of them (marked
traffic: connectors without mail, for ``traffic: true`` tenants) and a failure line per tenant that could
not be read.  :class:`StatusDocument` is the report's one definition: the JSON form is it dumped, and
schemas/status.schema.json is generated from it.  Whether a validation succeeded is
:func:`reconciler.verdicts.validation_ok`'s to say.
Untrusted text is escaped in the text forms (:mod:`reconciler.escape`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict
from rich.table import Table
from rich.text import Text

from reconciler.escape import safe
from reconciler.model import Kind
from reconciler.posture.findings import Finding
from reconciler.render.console import plain_table, to_text
from reconciler.render.failed import failed_text
from reconciler.verdicts import validation_ok

if TYPE_CHECKING:
    from reconciler.desired.connectors import TenantDesired
    from reconciler.live import LiveConnector
    from reconciler.workflow import TenantOutcome

FORMAT_VERSION: Final = 1


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StatusRow(_Closed):
    """One live connector's health (read-only properties of the Get object)."""

    tenant: str
    kind: Kind
    name: str
    enabled: bool
    test_mode: bool | None
    validated: bool | None
    last_validated: str | None
    validation_recipients: list[str] | None
    last_changed: str | None
    managed: bool
    connector_source: str


@dataclass(frozen=True, kw_only=True)
class TenantFinding(Finding):
    """A posture finding on a tenant's live connectors, with the tenant."""

    tenant: str


class StatusTenant(_Closed):
    """A tenant's outcome: read, or failed with its error."""

    tenant: str
    status: Literal["read", "failed"]
    error: str | None


class StatusError(_Closed):
    """A tenant that could not be read, and why."""

    tenant: str
    error: str | None


class StatusDocument(_Closed):
    """The status report (``status --format json``; schemas/status.schema.json): connectors, live risks,
    every tenant's outcome and the failed ones."""

    format_version: Literal[1] = FORMAT_VERSION
    connectors: list[StatusRow]
    risks: list[TenantFinding]
    tenants: list[StatusTenant]
    errors: list[StatusError]


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


def status_rows(outcomes: Sequence[TenantOutcome], desired: Sequence[TenantDesired]) -> list[StatusRow]:
    """A row per live connector of every tenant that was read, ``managed`` when a file declares it."""
    by_tenant = {d.tenant: d for d in desired}
    rows: list[StatusRow] = []
    for outcome in outcomes:
        if outcome.live is None:
            continue
        managed = _managed_keys(by_tenant.get(outcome.tenant))
        for live in sorted(outcome.live.connectors, key=lambda c: (c.kind, c.name.casefold())):
            row = connector_status(live, (live.kind, live.name.casefold()) in managed)
            rows.append(StatusRow(tenant=outcome.tenant, **row))
    return rows


def _flag(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "no")


def _table(rows: Sequence[StatusRow]) -> Table:
    table = plain_table(*HEADERS)
    for r in rows:
        validated = _flag(r.validated)
        if r.last_validated:
            validated += f" ({r.last_validated})"
        if r.validation_recipients:
            validated += " to " + ", ".join(r.validation_recipients)
        managed = "managed" if r.managed else "unmanaged"
        if r.connector_source not in ("Default", ""):
            managed += f" [{r.connector_source}]"
        table.add_row(
            safe(r.tenant),
            "inbound" if r.kind == "InboundConnector" else "outbound",
            safe(r.name),
            _flag(r.enabled),
            _flag(r.test_mode),
            safe(validated),
            safe(r.last_changed or "-"),
            safe(managed),
        )
    return table


def status_document(outcomes: Sequence[TenantOutcome], desired: Sequence[TenantDesired]) -> StatusDocument:
    """The status report of ``outcomes``: a row per live connector, the findings on each read tenant's
    live connectors (``source: live``) and their traffic (``source: traffic``), and every tenant's
    outcome."""
    return StatusDocument(
        connectors=status_rows(outcomes, desired),
        risks=[
            TenantFinding(tenant=o.tenant, **asdict(f))
            for o in outcomes
            if o.plan is not None
            for f in o.plan.findings
            if f.source in ("live", "traffic")
        ],
        tenants=[
            StatusTenant(tenant=o.tenant, status="failed" if o.live is None else "read", error=o.error)
            for o in outcomes
        ],
        errors=[StatusError(tenant=o.tenant, error=o.error) for o in outcomes if o.live is None],
    )


def status_text(doc: StatusDocument, *, color: bool = False) -> str:
    """The status table (a header and one line per connector), the live risks, and a failure line per
    tenant that could not be read."""
    items: list[Any] = [_table(doc.connectors), *([] if doc.connectors else ["(no connectors)"])]
    if doc.risks:
        items += [Text(), Text("Risks in the live connectors:")]
        for f in doc.risks:
            where = f' {f.kind} "{safe(f.name)}"' if f.name else ""
            state = f"skipped ({safe(f.skipped_reason)})" if f.skipped_reason else f.severity
            items.append(
                Text(f"  {safe(f.tenant)}: {state} {safe(f.rule)}{where} ({f.source}): {safe(f.message)}")
            )
    for failed in doc.errors:
        items.extend(failed_text(failed.tenant, failed.error))
    return to_text(items, color=color)


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
