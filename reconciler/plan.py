"""Plan data: what would change in each tenant, and the saved plan file.

Contracts:
- A :class:`Plan` is plain data; it renders to text, JSON and Markdown (``reconciler.render``) and never
  fetches or decides anything.
- ``Plan.to_json()`` is the JSON plan format and the saved plan file (``format_version`` 1): the
  dataclasses dumped by :func:`plan_adapter`, their one definition (derived values are computed fields,
  ignored on reading; schemas/plan.schema.json is generated from it).  The file
  carries a ``digest`` of its own content: with a key (``EXOFORM_PLAN_KEY``, :func:`plan_key`) an
  integrity check, ``hmac-sha256:...``, that only a holder of the key can make; without one a plain
  ``sha256:...`` checksum, which catches accidents (an edit, a truncation) but which anyone can recompute.
  :func:`read_plan` refuses a file whose digest does not match, a checksum when a key is given (or an HMAC
  when none is), a file another format version wrote, or one that is not a plan at all, with a
  :class:`PlanError` that says which.  Plan files hold no secret and are written readable by the owner only;
  they are read as :func:`reconciler.yamlio.read_bytes` reads every file (regular files only, a size
  limit), with a nesting depth limit.  A change naming a field its kind does not have is refused with
  the JSON path of the entry.  :func:`read_plan_to_show` reads a keyed plan without the key, unverified.
- ``before``/``after`` are the connector's normalized managed fields (``None`` where the connector is
  absent); ``fields`` names the fields that change; ``fingerprint`` identifies the live object the change
  was planned against (:func:`fingerprint`), so apply can refuse a plan the world has moved past.
- ``base`` names the git revision (as given, and its commit) that ``plan --base`` marked each change's
  ``cause`` against; ``null`` without ``--base`` (and in plan files written before it existed).
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
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, computed_field

from reconciler import __version__
from reconciler.diff import FieldChange, field_changes
from reconciler.errors import PlanError
from reconciler.model import FIELDS, Kind
from reconciler.posture.findings import Finding
from reconciler.yamlio import nesting_depth, read_bytes, write_atomic

FORMAT_VERSION = 1
Action = Literal["create", "update", "delete"]
ACTIONS: tuple[Action, ...] = ("create", "update", "delete")
SYMBOLS: dict[Action, str] = {"create": "+", "update": "~", "delete": "-"}
TenantStatus = Literal["planned", "failed"]
#: Why a change is in the plan (``exoform plan --base REF``): the files changed between the base and now
#: (``files``), the live object differs from what the base's files declared, changed outside exoform
#: (``repair``), or both at once (see :mod:`reconciler.reconcile.cause`).
Cause = Literal["files", "repair", "both"]


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


class ItemsDelta(BaseModel):
    """How a list field changes: the items added and removed."""

    model_config = ConfigDict(extra="forbid")

    field: str
    added: list[Any]
    removed: list[Any]


class ValueDelta(BaseModel):
    """How any other field changes: its value before and after."""

    model_config = ConfigDict(extra="forbid")

    field: str
    before: Any
    after: Any


class Counts(BaseModel):
    """A tenant's changes by action, and its unmanaged connectors."""

    create: int
    update: int
    delete: int
    unmanaged: int


@dataclass(frozen=True)
class Source:
    """Where a planned change's connector is declared: ``file:line:column`` of its document (of the
    ``absent: true`` that deletes it), the tenant folder it comes from, and each ``kind: Override`` merged
    into it (or dropping it) as ``file:line:column``.  ``fields`` says, for each field whose value the
    document does not write literally, where the value comes from (``${vars.NAME} is set at
    exoform.yaml:LINE:COL``, ``the Override at FILE:LINE:COL``); every other field is the document's."""

    file: str
    line: int
    column: int = 1
    folder: str | None = None
    overrides: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class Change:
    """One connector to create, update or delete.

    ``source`` says where the files declare the connector (None for a delete of a connector no file
    declares, under ``unmanaged: delete``); a delete with a ``source`` is one the files declare
    (``absent: true``), allowed under every ``unmanaged`` policy.  ``cause`` says whether the change comes
    from the files, repairs a change made outside exoform, or both (None: planned without ``--base``, or
    the tenant's files did not load at the base); apply ignores it.
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
    cause: Cause | None = None

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

    @computed_field(alias="field_changes")  # type: ignore[prop-decorator]
    @property
    def field_deltas(self) -> list[ItemsDelta | ValueDelta]:
        """``field_changes`` as the JSON plan carries it (derived: ignored when a plan file is read)."""
        return [
            ItemsDelta(field=fc.field, added=list(fc.added), removed=list(fc.removed))
            if fc.items
            else ValueDelta(field=fc.field, before=fc.before, after=fc.after)
            for fc in self.field_changes
        ]


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

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unsafe(self) -> bool:
        return bool(self.unsafe_reasons)

    @computed_field(alias="summary")  # type: ignore[prop-decorator]
    @property
    def counts(self) -> Counts:
        """``summary`` in the JSON plan: the changes by action, and the unmanaged connectors."""
        return Counts(
            create=self.count("create"),
            update=self.count("update"),
            delete=self.count("delete"),
            unmanaged=len(self.unmanaged),
        )

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action == action)

    def summary(self) -> str:
        """``N to create, N to update, N to delete`` (and unmanaged count when any)."""
        text = ", ".join(f"{self.count(a)} to {a}" for a in ACTIONS)
        if self.unmanaged:
            text += f"; {len(self.unmanaged)} unmanaged"
        return text


@dataclass(frozen=True)
class Base:
    """The git revision ``plan --base`` told the changes' causes by: as given, and the commit it named."""

    ref: str
    commit: str


@dataclass
class Plan:
    """A plan for one or more tenants."""

    tenants: list[TenantPlan]
    exoform_version: str = __version__
    format_version: int = FORMAT_VERSION
    #: Why the run as a whole is unsafe (``max_tenants_changed``); each tenant's own are on the tenant.
    unsafe_reasons: list[str] = field(default_factory=list)
    #: The revision each change's ``cause`` is against (``plan --base``); None without it.
    base: Base | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def has_changes(self) -> bool:
        return any(t.changes for t in self.tenants)

    @property
    def failed(self) -> list[TenantPlan]:
        """The tenants that could not be planned."""
        return [t for t in self.tenants if t.failed]

    @computed_field(alias="failed")  # type: ignore[prop-decorator]
    @property
    def failed_count(self) -> int:
        """``failed`` in the JSON plan: how many tenants could not be planned."""
        return len(self.failed)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def unsafe(self) -> bool:
        return bool(self.unsafe_reasons) or any(t.unsafe for t in self.tenants)

    def to_json(self) -> dict[str, Any]:
        """The JSON plan (without digest): the dataclasses as :func:`plan_adapter` dumps them."""
        data: dict[str, Any] = plan_adapter().dump_python(self, mode="json", by_alias=True)
        return data

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
            plan = plan_adapter().validate_json(json.dumps(data), strict=True)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = ".".join(str(part) for part in error["loc"]) or "the plan"
            raise PlanError(f"not a valid exoform plan: {where}: {error['msg']}") from None
        except (RecursionError, ValueError) as exc:
            raise PlanError(f"not a valid exoform plan: {exc}") from None
        for t, tplan in enumerate(plan.tenants):
            if tplan.failed:
                raise PlanError(
                    f"not a valid exoform plan: tenant {tplan.tenant!r} failed to plan, so the plan says "
                    "nothing about it: make a new plan"
                )
            for c, change in enumerate(tplan.changes):
                _check_change_shape(change, f"tenants.{t}.changes.{c}")
        return plan


@cache
def plan_adapter() -> TypeAdapter[Plan]:
    """The one definition of the JSON plan: the dataclasses above, their derived values marked as
    computed fields.  It dumps the JSON plan, reads plan files and generates ``schemas/plan.schema.json``
    (:mod:`reconciler.schema`)."""
    return TypeAdapter(Plan)


def _check_change_shape(change: Change, where: str) -> None:
    """A change must name only fields of its kind (``where``, its JSON path, locates one that does not)
    and carry what apply needs: creates and updates their values, updates and deletes the live object's
    identity and fingerprint."""
    action, name = change.action, change.name
    known = FIELDS[change.kind]
    named = [(f"fields.{i}", f) for i, f in enumerate(change.fields)]
    named += [(f"{side}.{f}", f) for side in ("before", "after") for f in getattr(change, side) or {}]
    for path, unknown in named:
        if unknown not in known:
            raise PlanError(
                f"not a valid exoform plan: {where}.{path}: {json.dumps(unknown)} is not a field of "
                f"{change.kind}"
            )
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


def _verify_digest(path: Path, body: dict[str, Any], key: bytes | None, *, unkeyed_ok: bool) -> bool:
    """Check the digest ``body`` carries; False (unchecked) for an HMAC without ``key`` when
    ``unkeyed_ok``, else :class:`PlanError` for anything but a match."""
    claimed = body.pop("digest")
    if not isinstance(claimed, str):
        claimed = ""  # matches nothing: reported as a mismatch below
    if key is not None and not claimed.startswith(HMAC_PREFIX):
        raise PlanError(
            f"{path}: the plan carries only a checksum, not an integrity check made with "
            f"{PLAN_KEY_VARIABLE}, which is set: make the plan with the same {PLAN_KEY_VARIABLE}"
        )
    if key is None and claimed.startswith(HMAC_PREFIX):
        if unkeyed_ok:
            return False
        raise PlanError(
            f"{path}: the plan carries an integrity check made with {PLAN_KEY_VARIABLE}, which is not "
            f"set here: set it to the key the plan was made with"
        )
    if not hmac.compare_digest(claimed.encode(), plan_digest(body, key).encode()):
        why = "integrity check mismatch: edited, or made with another key" if key else "checksum mismatch"
        raise PlanError(f"{path}: the plan file was edited after it was made ({why}): make a new plan")
    return True


#: What ``show`` says over a keyed plan it could not verify (no key set).
UNVERIFIED = (
    f"integrity not verified: the plan carries an integrity check made with {PLAN_KEY_VARIABLE}, which is "
    f"not set here; set it to verify the plan"
)


def read_plan(path: Path, key: bytes | None = None) -> Plan:
    """A saved plan, verified (its HMAC with ``key``, else its checksum); :class:`PlanError` when it is
    missing, edited, truncated, foreign, or not checked the way ``key`` asks."""
    plan, _ = _read(path, key, unkeyed_ok=False)
    return plan


def read_plan_to_show(path: Path, key: bytes | None = None) -> tuple[Plan, bool]:
    """A saved plan to show, and whether its digest was verified: as :func:`read_plan`, except that a
    plan made with a key reads without one, unverified (``show`` says so: :data:`UNVERIFIED`)."""
    return _read(path, key, unkeyed_ok=True)


def _read(path: Path, key: bytes | None, *, unkeyed_ok: bool) -> tuple[Plan, bool]:
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
    verified = _verify_digest(path, body, key, unkeyed_ok=unkeyed_ok)
    try:
        return Plan.from_json(body), verified
    except PlanError as exc:
        raise PlanError(f"{path}: {exc}") from None
