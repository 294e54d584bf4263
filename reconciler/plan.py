"""Plan data: what would change in each tenant, and the saved plan file.

Contracts:
- A :class:`Plan` is plain data; it renders to text, JSON and Markdown (``reconciler.render``) and never
  fetches or decides anything.
- ``Plan.to_json()`` is the JSON plan format and the saved plan file (``format_version`` 1).  The file
  carries a sha256 ``digest`` of its own content; :func:`read_plan` refuses a file whose digest does not
  match (edited or truncated), that another format version wrote, or that is not a plan at all, with a
  :class:`PlanError` that says which.  Plan files hold no secret and are written readable by the owner only.
- ``before``/``after`` are the connector's normalized managed fields (``None`` where the connector is
  absent); ``fields`` names the fields that change; ``fingerprint`` identifies the live object the change
  was planned against (:func:`fingerprint`), so apply can refuse a plan the world has moved past.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from reconciler import __version__
from reconciler.errors import PlanError
from reconciler.model import KINDS, Kind
from reconciler.yamlio import write_atomic

FORMAT_VERSION = 1
Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
SYMBOLS: dict[Action, str] = {"create": "+", "update": "~", "delete": "-"}


def canonical_json(data: Any) -> str:
    """JSON with sorted keys and no spaces: the form digests and fingerprints are taken over."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def fingerprint(guid: str, fields: dict[str, Any], ignored: frozenset[str] = frozenset()) -> str:
    """A short digest of a live connector's identity and managed values (ignored fields left out).

    It moves when anything exoform manages moves, and only then: a Validate-OutboundConnector run or an
    edit of an ignored field does not make a plan stale.
    """
    kept = {k: v for k, v in fields.items() if k not in ignored}
    digest = hashlib.sha256(canonical_json({"guid": guid, "fields": kept}).encode()).hexdigest()
    return f"sha256:{digest[:32]}"


@dataclass(frozen=True)
class Change:
    """One connector to create, update or delete."""

    action: Action
    kind: Kind
    name: str
    fields: list[str]
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    previous_name: str | None = None
    fingerprint: str | None = None
    guid: str | None = None
    ignored: list[str] = field(default_factory=list)
    reason: str = ""
    when_changed_utc: str | None = None

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name.casefold())

    def added_removed(self, name: str) -> tuple[list[Any], list[Any]] | None:
        """For a multi-valued field of an update, the items added and removed; else None."""
        before = (self.before or {}).get(name)
        after = (self.after or {}).get(name)
        if not isinstance(before, list) or not isinstance(after, list):
            return None
        return [v for v in after if v not in before], [v for v in before if v not in after]


@dataclass(frozen=True)
class Unmanaged:
    """A live connector that no file declares, left alone under the ``report`` policy."""

    kind: Kind
    name: str
    connector_source: str = "Default"


@dataclass(frozen=True)
class PlanFinding:
    """A posture finding as the plan carries it."""

    rule: str
    severity: str
    kind: str | None
    name: str | None
    message: str
    reference: str = ""
    skipped_reason: str | None = None
    field: str | None = None


@dataclass
class TenantPlan:
    """The plan of one tenant."""

    tenant: str
    target: str
    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    findings: list[PlanFinding] = field(default_factory=list)
    unsafe_reasons: list[str] = field(default_factory=list)
    existing_count: int = 0

    @property
    def unsafe(self) -> bool:
        return bool(self.unsafe_reasons)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        """``N to create, N to update, N to delete`` (and unmanaged count when any)."""
        text = ", ".join(f"{self.count(a)} to {a}" for a in ACTIONS)
        if self.unmanaged:
            text += f"; {len(self.unmanaged)} unmanaged"
        return text


@dataclass
class Plan:
    """A plan for one or more tenants."""

    tenants: list[TenantPlan]
    exoform_version: str = __version__
    format_version: int = FORMAT_VERSION

    @property
    def has_changes(self) -> bool:
        return any(t.changes for t in self.tenants)

    @property
    def unsafe(self) -> bool:
        return any(t.unsafe for t in self.tenants)

    def to_json(self) -> dict[str, Any]:
        """The JSON plan (without digest)."""
        return {
            "format_version": self.format_version,
            "exoform_version": self.exoform_version,
            "has_changes": self.has_changes,
            "unsafe": self.unsafe,
            "tenants": [
                {
                    "tenant": t.tenant,
                    "target": t.target,
                    "summary": {a: t.count(a) for a in ACTIONS} | {"unmanaged": len(t.unmanaged)},
                    "existing_count": t.existing_count,
                    "unsafe": t.unsafe,
                    "unsafe_reasons": t.unsafe_reasons,
                    "changes": [asdict(c) for c in t.changes],
                    "unmanaged": [asdict(u) for u in t.unmanaged],
                    "findings": [asdict(f) for f in t.findings],
                }
                for t in self.tenants
            ],
        }

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        """A plan from its JSON form; :class:`PlanError` naming what is wrong when it is not one."""
        try:
            return _plan_from_json(data)
        except PlanError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PlanError(f"not a valid exoform plan: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing key {exc}"
    return str(exc) or type(exc).__name__


def _expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PlanError(f"not a valid exoform plan: {what} should be {kind.__name__}")
    return value


def _opt_str(value: Any, what: str) -> str | None:
    return None if value is None else cast(str, _expect(value, str, what))


def _opt_dict(value: Any, what: str) -> dict[str, Any] | None:
    return None if value is None else cast(dict[str, Any], _expect(value, dict, what))


def _str_list(value: Any, what: str) -> list[str]:
    items = _expect(value, list, what)
    return [cast(str, _expect(v, str, what)) for v in items]


def _kind(value: Any) -> Kind:
    if value not in KINDS:
        raise PlanError(f"not a valid exoform plan: unknown connector kind {value!r}")
    return cast(Kind, value)


def _check_change_shape(c: dict[str, Any]) -> None:
    """A change must carry what apply needs: creates and updates their values, updates and deletes the
    live object's identity and fingerprint."""
    action, name = c["action"], c.get("name")
    after = c.get("after")
    if action in ("create", "update"):
        if not isinstance(after, dict):
            raise PlanError(f"not a valid exoform plan: the {action} of {name!r} has no 'after' values")
        missing = [f for f in c.get("fields", []) if f not in after]
        if missing:
            raise PlanError(f"not a valid exoform plan: the {action} of {name!r} lacks values for {missing}")
    if action in ("update", "delete") and not (c.get("guid") and c.get("fingerprint")):
        raise PlanError(f"not a valid exoform plan: the {action} of {name!r} has no guid or fingerprint")


def _plan_from_json(data: Any) -> Plan:
    _expect(data, dict, "the plan")
    version = data.get("format_version")
    if version != FORMAT_VERSION:
        raise PlanError(
            f"the plan was written in format version {version!r} (exoform {data.get('exoform_version')!r}); "
            f"this exoform {__version__} reads format version {FORMAT_VERSION}: make a new plan"
        )
    tenants: list[TenantPlan] = []
    for t in _expect(data["tenants"], list, "tenants"):
        _expect(t, dict, "a tenant")
        changes = []
        for c in _expect(t["changes"], list, "changes"):
            _expect(c, dict, "a change")
            action = c["action"]
            if action not in ACTIONS:
                raise PlanError(f"not a valid exoform plan: unknown action {action!r}")
            _check_change_shape(c)
            changes.append(
                Change(
                    action=action,
                    kind=_kind(c["kind"]),
                    name=_expect(c["name"], str, "name"),
                    fields=_str_list(c["fields"], "fields"),
                    before=_opt_dict(c["before"], "before"),
                    after=_opt_dict(c["after"], "after"),
                    previous_name=_opt_str(c.get("previous_name"), "previous_name"),
                    fingerprint=_opt_str(c.get("fingerprint"), "fingerprint"),
                    guid=_opt_str(c.get("guid"), "guid"),
                    ignored=_str_list(c.get("ignored", []), "ignored"),
                    reason=_expect(c.get("reason", ""), str, "reason"),
                    when_changed_utc=_opt_str(c.get("when_changed_utc"), "when_changed_utc"),
                )
            )
        tenants.append(
            TenantPlan(
                tenant=_expect(t["tenant"], str, "tenant"),
                target=_expect(t["target"], str, "target"),
                changes=changes,
                unmanaged=[
                    Unmanaged(kind=_kind(u["kind"]), name=_expect(u["name"], str, "name"))
                    for u in _expect(t.get("unmanaged", []), list, "unmanaged")
                ],
                findings=[PlanFinding(**f) for f in _expect(t.get("findings", []), list, "findings")],
                unsafe_reasons=_str_list(t.get("unsafe_reasons", []), "unsafe_reasons"),
                existing_count=_expect(t.get("existing_count", 0), int, "existing_count"),
            )
        )
    return Plan(tenants=tenants, exoform_version=str(data.get("exoform_version")), format_version=version)


def plan_digest(body: dict[str, Any]) -> str:
    """The digest a plan file carries over all of its content but the digest itself."""
    return "sha256:" + hashlib.sha256(canonical_json(body).encode()).hexdigest()


def write_plan(plan: Plan, path: Path) -> None:
    """Write the plan file (owner-readable only, atomically), with its digest."""
    body = plan.to_json()
    body["digest"] = plan_digest(body)
    write_atomic(path, json.dumps(body, indent=2, sort_keys=True) + "\n", mode=0o600)


MAX_PLAN_BYTES = 64 * 1024 * 1024


def read_plan(path: Path) -> Plan:
    """A saved plan, verified; :class:`PlanError` when it is missing, edited, truncated or foreign."""
    try:
        if path.stat().st_size > MAX_PLAN_BYTES:
            raise PlanError(f"{path}: too large to be an exoform plan")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanError(f"{path}: no such plan file") from None
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not an exoform plan (not UTF-8 text)") from None
    except OSError as exc:
        raise PlanError(f"{path}: cannot read the plan file: {exc.strerror}") from None
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise PlanError(f"{path}: not an exoform plan (invalid JSON{where}; truncated?)") from None
    if not isinstance(body, dict) or "digest" not in body:
        raise PlanError(f"{path}: not an exoform plan (no digest)")
    claimed = body.pop("digest")
    if claimed != plan_digest(body):
        raise PlanError(
            f"{path}: the plan file was edited after it was made (digest mismatch): make a new plan"
        )
    try:
        return Plan.from_json(body)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
