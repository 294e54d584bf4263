"""Plan data: what would change in each tenant, and the saved plan file.

Contracts:
- A :class:`Plan` is plain data; it renders to text, JSON and Markdown (``reconciler.render``) and never
  fetches or decides anything.
- ``Plan.to_json()`` is the JSON plan format and the saved plan file (``format_version`` 1).  The file
  carries a ``digest`` of its own content: with a key (``EXOFORM_PLAN_KEY``, :func:`plan_key`) an
  integrity check, ``hmac-sha256:...``, that only a holder of the key can make; without one a plain
  ``sha256:...`` checksum, which catches accidents (an edit, a truncation) but which anyone can recompute.
  :func:`read_plan` refuses a file whose digest does not match, a checksum when a key is given (or an HMAC
  when none is), a file another format version wrote, or one that is not a plan at all, with a
  :class:`PlanError` that says which.  Plan files hold no secret and are written readable by the owner only;
  they are read as :func:`reconciler.yamlio.read_bytes` reads every file (regular files only, a size
  limit), with a nesting depth limit.
- ``before``/``after`` are the connector's normalized managed fields (``None`` where the connector is
  absent); ``fields`` names the fields that change; ``fingerprint`` identifies the live object the change
  was planned against (:func:`fingerprint`), so apply can refuse a plan the world has moved past.
- ``targets`` (per tenant) lists the ``--target`` patterns a targeted plan was limited to; empty otherwise.
  ``field_changes`` (updates only) says how each field changes (:func:`reconciler.diff.field_changes`);
  it is derived from ``before``/``after`` and ignored when a plan file is read.
- The plan file is read by pydantic, strictly (no value coerced), into the same dataclasses.
- Every selected tenant is in the plan with its ``status``: ``planned``, or ``failed`` with its ``error``
  (a tenant that could not be signed in to, read or planned).  A plan with a failed tenant renders but is
  never saved; :meth:`Plan.from_json` refuses one.  ``status`` defaults to ``planned``, so plan files
  written before it existed (which never held a failed tenant) read the same: ``format_version`` stays 1.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import TypeAdapter, ValidationError

from reconciler import __version__
from reconciler.diff import FieldChange, field_changes
from reconciler.errors import PlanError
from reconciler.model import Kind
from reconciler.posture.findings import Finding
from reconciler.yamlio import nesting_depth, read_bytes, write_atomic

FORMAT_VERSION = 1
Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
SYMBOLS: dict[Action, str] = {"create": "+", "update": "~", "delete": "-"}
TenantStatus = Literal["planned", "failed"]


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
class Source:
    """Where a planned change's connector is declared: ``file:line:column`` of its document (of the
    ``absent: true`` that deletes it), the tenant folder it comes from, and each ``kind: Override`` merged
    into it (or dropping it) as ``file:line:column``."""

    file: str
    line: int
    column: int = 1
    folder: str | None = None
    overrides: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Change:
    """One connector to create, update or delete.

    ``source`` says where the files declare the connector (None for a delete of a connector no file
    declares, under ``unmanaged: delete``); a delete with a ``source`` is one the files declare
    (``absent: true``), allowed under every ``unmanaged`` policy.
    """

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
    source: Source | None = None

    @property
    def declared_absent(self) -> bool:
        """True for a delete the files ask for (``absent: true``), not one of the ``unmanaged`` policy."""
        return self.action == "delete" and self.source is not None

    @property
    def key(self) -> tuple[Kind, str]:
        return (self.kind, self.name.casefold())

    @cached_property
    def field_changes(self) -> tuple[FieldChange, ...]:
        """How each field of an update changes (items added and removed, or before and after); empty for
        a create or a delete."""
        if self.action != "update":
            return ()
        return tuple(field_changes(self.before, self.after, self.fields))

    def to_json(self) -> dict[str, Any]:
        """The change as the JSON plan carries it; ``field_changes`` is derived and ignored on reading."""
        return asdict(self) | {"field_changes": [fc.to_json() for fc in self.field_changes]}


@dataclass(frozen=True)
class Unmanaged:
    """A live connector that no file declares, left alone: under the ``report`` policy, or (``reason``
    says why) kept under ``unmanaged: delete`` because it is protected."""

    kind: Kind
    name: str
    connector_source: str = "Default"
    reason: str = ""


@dataclass
class TenantPlan:
    """The plan of one tenant, or (``status`` ``failed``) the error that kept it from being planned.

    A failed tenant has no changes, unmanaged connectors or findings: it is never "no changes".
    """

    tenant: str
    target: str
    changes: list[Change] = field(default_factory=list)
    unmanaged: list[Unmanaged] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    unsafe_reasons: list[str] = field(default_factory=list)
    existing_count: int = 0
    #: The ``--target`` patterns the plan was limited to (empty: every connector).
    targets: list[str] = field(default_factory=list)
    status: TenantStatus = "planned"
    error: str | None = None

    @classmethod
    def failed_with(cls, tenant: str, target: str, error: str) -> TenantPlan:
        """The plan of a tenant that could not be signed in to, read or planned."""
        return cls(tenant, target, status="failed", error=error)

    @property
    def failed(self) -> bool:
        return self.status == "failed"

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
    #: Why the run as a whole is unsafe (``max_tenants_changed``); each tenant's own are on the tenant.
    unsafe_reasons: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return any(t.changes for t in self.tenants)

    @property
    def failed(self) -> list[TenantPlan]:
        """The tenants that could not be planned."""
        return [t for t in self.tenants if t.failed]

    @property
    def unsafe(self) -> bool:
        return bool(self.unsafe_reasons) or any(t.unsafe for t in self.tenants)

    def to_json(self) -> dict[str, Any]:
        """The JSON plan (without digest)."""
        return {
            "format_version": self.format_version,
            "exoform_version": self.exoform_version,
            "has_changes": self.has_changes,
            "unsafe": self.unsafe,
            "failed": len(self.failed),
            "tenants": [
                {
                    "tenant": t.tenant,
                    "target": t.target,
                    "status": t.status,
                    "error": t.error,
                    "summary": {a: t.count(a) for a in ACTIONS} | {"unmanaged": len(t.unmanaged)},
                    "existing_count": t.existing_count,
                    "targets": t.targets,
                    "unsafe": t.unsafe,
                    "unsafe_reasons": t.unsafe_reasons,
                    "changes": [c.to_json() for c in t.changes],
                    "unmanaged": [asdict(u) for u in t.unmanaged],
                    "findings": [f.to_json() for f in t.findings],
                }
                for t in self.tenants
            ],
            "unsafe_reasons": self.unsafe_reasons,
        }

    @classmethod
    def from_json(cls, data: Any) -> Plan:
        """A plan from its JSON form; :class:`PlanError` naming what is wrong when it is not one."""
        if not isinstance(data, dict):
            raise PlanError("not a valid exoform plan: the plan should be an object")
        version, writer = data.get("format_version"), data.get("exoform_version")
        if version != FORMAT_VERSION:
            raise PlanError(
                f"the plan was written in format version {version!r} (exoform {writer!r}); "
                f"this exoform {__version__} reads format version {FORMAT_VERSION}: make a new plan"
            )
        try:
            # Strict JSON validation: the plan file's objects become the dataclasses, no value is coerced.
            plan = TypeAdapter(Plan).validate_json(json.dumps(data), strict=True)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "the plan"
            raise PlanError(f"not a valid exoform plan: {where}: {error['msg']}") from None
        except (RecursionError, ValueError) as exc:
            raise PlanError(f"not a valid exoform plan: {exc}") from None
        for tplan in plan.tenants:
            if tplan.failed:
                raise PlanError(
                    f"not a valid exoform plan: tenant {tplan.tenant!r} failed to plan, so the plan says "
                    "nothing about it: make a new plan"
                )
            for change in tplan.changes:
                _check_change_shape(change)
        return plan


def _check_change_shape(change: Change) -> None:
    """A change must carry what apply needs: creates and updates their values, updates and deletes the
    live object's identity and fingerprint."""
    action, name = change.action, change.name
    if action in ("create", "update"):
        if change.after is None:
            raise PlanError(f"not a valid exoform plan: the {action} of {name!r} has no 'after' values")
        missing = [f for f in change.fields if f not in change.after]
        if missing:
            raise PlanError(f"not a valid exoform plan: the {action} of {name!r} lacks values for {missing}")
    if action in ("update", "delete") and not (change.guid and change.fingerprint):
        raise PlanError(f"not a valid exoform plan: the {action} of {name!r} has no guid or fingerprint")


#: The environment variable holding the key of the plan files' integrity check.
PLAN_KEY_VARIABLE = "EXOFORM_PLAN_KEY"
CHECKSUM_PREFIX = "sha256:"
HMAC_PREFIX = "hmac-sha256:"


def plan_key() -> bytes | None:
    """The key of plan integrity checks, from ``EXOFORM_PLAN_KEY``; None when it is unset or empty."""
    value = os.environ.get(PLAN_KEY_VARIABLE)
    return value.encode("utf-8") if value else None


def plan_digest(body: dict[str, Any], key: bytes | None = None) -> str:
    """The digest a plan file carries over all of its content but the digest itself: an HMAC-SHA256 with
    ``key``, else a SHA-256 checksum."""
    data = canonical_json(body).encode()
    if key is not None:
        return HMAC_PREFIX + hmac.new(key, data, hashlib.sha256).hexdigest()
    return CHECKSUM_PREFIX + hashlib.sha256(data).hexdigest()


def write_plan(plan: Plan, path: Path, key: bytes | None = None) -> None:
    """Write the plan file (owner-readable only, atomically), with its digest (an HMAC with ``key``)."""
    body = plan.to_json()
    body["digest"] = plan_digest(body, key)
    write_atomic(path, json.dumps(body, indent=2, sort_keys=True) + "\n", mode=0o600)


MAX_PLAN_BYTES = 64 * 1024 * 1024
#: Deepest nesting of a plan file: a plan needs 6 levels (tenants, changes, after, a list value).
MAX_PLAN_DEPTH = 16


def _verify_digest(path: Path, body: dict[str, Any], key: bytes | None) -> None:
    claimed = body.pop("digest")
    if not isinstance(claimed, str):
        claimed = ""  # matches nothing: reported as a mismatch below
    if key is not None and not claimed.startswith(HMAC_PREFIX):
        raise PlanError(
            f"{path}: the plan carries only a checksum, not an integrity check made with "
            f"{PLAN_KEY_VARIABLE}, which is set: make the plan with the same {PLAN_KEY_VARIABLE}"
        )
    if key is None and claimed.startswith(HMAC_PREFIX):
        raise PlanError(
            f"{path}: the plan carries an integrity check made with {PLAN_KEY_VARIABLE}, which is not "
            f"set here: set it to the key the plan was made with"
        )
    if not hmac.compare_digest(claimed.encode(), plan_digest(body, key).encode()):
        why = "integrity check mismatch: edited, or made with another key" if key else "checksum mismatch"
        raise PlanError(f"{path}: the plan file was edited after it was made ({why}): make a new plan")


def read_plan(path: Path, key: bytes | None = None) -> Plan:
    """A saved plan, verified (its HMAC with ``key``, else its checksum); :class:`PlanError` when it is
    missing, edited, truncated, foreign, or not checked the way ``key`` asks."""
    if not path.exists() and not path.is_symlink():
        raise PlanError(f"{path}: no such plan file")
    data, problems = read_bytes(path, str(path), MAX_PLAN_BYTES)
    if data is None:
        message = problems[0].message if problems else "cannot read the plan file"
        raise PlanError(f"{path}: {message.replace('cannot read file', 'cannot read the plan file')}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise PlanError(f"{path}: not an exoform plan (not UTF-8 text)") from None
    try:
        body = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise PlanError(f"{path}: not an exoform plan (invalid JSON{where}; truncated?)") from None
    if nesting_depth(body) > MAX_PLAN_DEPTH:
        raise PlanError(f"{path}: not an exoform plan (nested deeper than {MAX_PLAN_DEPTH} levels)")
    if not isinstance(body, dict) or "digest" not in body:
        raise PlanError(f"{path}: not an exoform plan (no digest)")
    _verify_digest(path, body, key)
    try:
        return Plan.from_json(body)
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
