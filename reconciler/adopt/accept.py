"""Accepting drift: a tenant's live values written back where its desired values come from.

Contracts:
- Only updates are accepted: for each field of a planned update (but ``name``: a rename is the files'
  own), the live value is written where the desired value comes from, decided per field:

  * a value that is exactly ``${vars.NAME}`` sets ``NAME`` in the tenant's ``vars`` in ``exoform.yaml``
    (on the tenant, also when the tenant inherits it from ``defaults:``, whose value never changes),
    provided every use of ``NAME`` in the tenant's files is a field accepted with that same value;
  * a literal (or a field the files leave out) in a file only this tenant reads is edited in place;
  * a literal in a shared file (a folder another tenant reads too), an expression exoform cannot invert
    (a reference inside text or list items, ``${tenant...}``) in a shared file, or a variable that also
    fills other fields there, becomes a field of a ``kind: Override`` for the connector in the tenant's
    own (last) folder: an existing override of it there is extended, else a new file is written.  A
    shared file is never edited.
  * In the tenant's own files a reference is never replaced by a literal: such a field is a located
    :class:`~reconciler.errors.Problem`, and nothing at all is written.  So is a field that needs an
    override when the tenant has no folder of its own.
- A connector declared but missing live, one declared absent but live, and one live that no file
  declares are not accepted; each is a note saying what to do instead.
- Files are edited with the export's ruamel round-trip writer (:mod:`reconciler.adopt.exporter`):
  comments, key order and other documents are kept, a flow list stays a flow list, and every file is
  replaced atomically.  After writing, the tenant is loaded and planned again against the live state
  already read: if an accepted connector still has a change, every file is restored and an
  :class:`~reconciler.errors.ExoformError` says what is left (a safety net: it should never happen).
"""

from __future__ import annotations

import io
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.adopt.exporter import (
    Folder,
    free_path,
    make_yaml,
    read_file,
    schema_path,
    schema_reference,
    slugify,
    yaml_value,
)
from reconciler.desired.config import ExoformConfig
from reconciler.desired.connectors import LoadedConnector, ParsedFiles, TenantDesired, find_connector_files
from reconciler.desired.overrides import OVERRIDE_KIND
from reconciler.desired.variables import ValueOrigin, value_origin
from reconciler.errors import ExoformError, Location, Problem, quote
from reconciler.live import LiveState
from reconciler.model import FIELDS, Kind
from reconciler.plan import Change, TenantPlan
from reconciler.reconcile.targeting import Target, target_argument, targeted
from reconciler.yamlio import YEntry, YMap, deref, display_path, write_atomic


@dataclass(frozen=True)
class Written:
    """One field written back: the file and line it is at after the write, the connector, and how."""

    path: Path
    line: int
    kind: Kind
    name: str
    field: str
    #: ``in place``, ``vars.NAME of TENANT``, ``Override`` (with why, when it is not the file's own).
    how: str

    def where(self) -> str:
        return f"{display_path(self.path)}:{self.line}"


@dataclass
class AcceptReport:
    """What accepting a tenant's drift wrote (or would write), and what it left alone and why."""

    tenant: str
    written: list[Written] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Field:
    """One drifted field to accept: its connector, the live value, and where the files write it."""

    change: Change
    loaded: LoadedConnector
    field: str
    value: Any
    #: Where the key is written (None: the files leave it out), and its unresolved value's origin.
    key: Location | None
    origin: ValueOrigin


@dataclass
class _Edits:
    """The edits decided: in-place fields by file, tenant variables, override fields by connector."""

    in_place: dict[Path, list[tuple[int, _Field]]] = field(default_factory=dict)
    variables: dict[str, tuple[Any, list[_Field]]] = field(default_factory=dict)
    overrides: dict[tuple[Kind, str], list[tuple[_Field, str]]] = field(default_factory=dict)


class _Repo:
    """The tenant's files as the loader reads them (unresolved), and which of them other tenants read."""

    def __init__(self, config: ExoformConfig, tenant: str) -> None:
        self.config = config
        self.tenant = tenant
        self.parsed = ParsedFiles()
        folders = config.tenants[tenant].folders()
        self.folders = [config.path(f) for f in folders]
        self.others = {
            config.path(f)
            for name, other in config.tenants.items()
            if name != tenant
            for f in other.folders()
        }
        own = self.folders[-1]
        self.own = None if any(own.is_relative_to(o) or o.is_relative_to(own) for o in self.others) else own

    def shared(self, path: Path) -> bool:
        return any(path.resolve().is_relative_to(o) for o in self.others)

    def files(self) -> list[Path]:
        return [path for folder in self.folders for path in find_connector_files(folder)[0]]

    def entries(self, path: Path) -> list[tuple[int, YEntry]]:
        """Every top-level entry of every document of ``path``, with the document's index."""
        _, documents, _ = self.parsed.get(path, self.config.base_dir)
        found = []
        for index, document in enumerate(documents):
            root = deref(document.root) if document.root is not None else None
            if isinstance(root, YMap):
                found += [(index, entry) for entry in root.entries.values()]
        return found

    def document_index(self, loc: Location) -> int:
        """The index in its file of the document that starts at, or writes a key at, ``loc``."""
        _, documents, _ = self.parsed.get(Path(loc.path).resolve(), self.config.base_dir)
        for index, document in enumerate(documents):
            root = document.root
            if root is not None and root.loc == loc:
                return index
            target = deref(root) if root is not None else None
            if isinstance(target, YMap) and any(e.key_loc == loc for e in target.entries.values()):
                return index
        raise ExoformError(f"{loc}: the document exoform loaded is no longer there; run accept again")


def _fields(desired: TenantDesired, plan: TenantPlan, repo: _Repo, report: AcceptReport) -> list[_Field]:
    """The drifted fields of ``plan``'s updates, and a note for every change that cannot be accepted."""
    by_key = {(c.connector.kind, c.connector.name.casefold()): c for c in desired.connectors}
    found: list[_Field] = []
    for change in plan.changes:
        what = f"{change.kind} {quote(change.name)}"
        if change.action == "create":
            report.notes.append(
                f"{what} is declared at {change.source} but missing from the tenant: it cannot be accepted; "
                "re-apply it (exoform plan, exoform apply), or declare it absent: true"
            )
            continue
        if change.action == "delete":
            if change.declared_absent:
                report.notes.append(
                    f"{what} is live but declared absent at {change.source}: not accepted; remove that "
                    "absent: true to keep it"
                )
            else:
                report.notes.append(_undeclared(what, plan.tenant, change.kind, change.name))
            continue
        loaded = by_key[change.key]
        assert change.before is not None
        for name in change.fields:
            if name == "name":
                report.notes.append(
                    f"{what}: the files rename it from {quote(change.previous_name or '')}: the rename is "
                    "not accepted (apply it, or remove renamed_from)"
                )
                continue
            key = loaded.field_locations.get(name)
            origin = ValueOrigin()
            if key is not None:
                entries = repo.entries(Path(key.path).resolve())
                entry = next((e for _, e in entries if e.key_loc == key), None)
                origin = value_origin(entry.value) if entry is not None else origin
            found.append(_Field(change, loaded, name, change.before[name], key, origin))
    for u in plan.unmanaged:
        report.notes.append(_undeclared(f"{u.kind} {quote(u.name)}", plan.tenant, u.kind, u.name))
    return found


def _undeclared(what: str, tenant: str, kind: str, name: str) -> str:
    command = f"exoform export --tenant {shlex.quote(tenant)} --target {target_argument(kind, name)}"
    return (
        f"{what} is live but no file declares it: not accepted (adopting it is export's job: {command}, "
        "into a folder of the tenant's own)"
    )


def _uses(repo: _Repo) -> dict[str, set[Location]]:
    """Every key of the tenant's files whose value uses ``${vars.NAME}``, by NAME."""
    uses: dict[str, set[Location]] = {}
    for path in repo.files():
        for _, entry in repo.entries(path):
            for reference in value_origin(entry.value).references:
                if reference.startswith("vars."):
                    uses.setdefault(reference.removeprefix("vars."), set()).add(entry.key_loc)
    return uses


def _decide(fields: Sequence[_Field], repo: _Repo) -> tuple[_Edits, list[Problem]]:
    edits = _Edits()
    problems: list[Problem] = []

    def literal(f: _Field, why: str) -> None:
        """``f`` written as a literal: in place in a file of the tenant's own, else in an override."""
        site = f.key or f.loaded.location
        path = Path(site.path).resolve()
        what = f"{f.change.kind} {quote(f.change.name)} {f.field}"
        if not repo.shared(path):
            if f.origin.literal:
                edits.in_place.setdefault(path, []).append((repo.document_index(site), f))
            else:
                written = "uses " + ", ".join(f"${{{r}}}" for r in f.origin.references)
                problems.append(
                    Problem(
                        site,
                        f"{what}: cannot accept the live value {_shown(f.value)}: the value {written}, which "
                        f"exoform cannot write it into{why}; edit this file by hand",
                    )
                )
        elif repo.own is None:
            problems.append(
                Problem(
                    site,
                    f"{what}: cannot accept the live value: {display_path(path)} is shared with other "
                    f"tenants and tenant {repo.tenant} has no folder of its own for an override: add one as "
                    f"its last connectors folder (connectors: [..., connectors/{repo.tenant}]) and run "
                    "accept again",
                )
            )
        else:
            edits.overrides.setdefault(f.change.key, []).append((f, why))

    pending: dict[str, list[_Field]] = {}
    for f in fields:
        if f.origin.variable is not None and f.value is not None:  # a variable cannot be null
            pending.setdefault(f.origin.variable, []).append(f)
        elif f.origin.literal:
            literal(f, "")
        else:
            shown = ", ".join(f"${{{r}}}" for r in f.origin.references)
            literal(f, f" (its value comes from {shown}, which exoform cannot invert)")
    uses = _uses(repo) if pending else {}
    for name, items in pending.items():
        values = {json.dumps(f.value, sort_keys=True) for f in items}
        others = uses.get(name, set()) - {f.key for f in items}
        if len(values) == 1 and not others:
            edits.variables[name] = (items[0].value, items)
            continue
        if others:
            where = ", ".join(sorted(str(loc) for loc in others))
            why = f" (${{vars.{name}}} also fills {where}, whose live value did not change)"
        else:
            why = f" (${{vars.{name}}} fills fields whose live values now differ)"
        for f in items:
            literal(f, why)
    return edits, problems


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _styled(value: Any, old: Any) -> Any:
    """``value`` for ruamel, a list in flow style when the value it replaces was one."""
    from ruamel.yaml.comments import CommentedSeq

    new = yaml_value(value)
    if isinstance(new, list) and isinstance(old, CommentedSeq) and old.fa.flow_style():
        seq = CommentedSeq(new)
        seq.fa.set_flow_style()
        return seq
    return new


@dataclass
class _Out:
    """A file to write: its documents (ruamel), its text before (None: a new file) and after."""

    path: Path
    documents: list[Any]
    before: str | None
    header: str = ""
    text: str = ""


def _open(path: Path, files: dict[Path, _Out]) -> _Out:
    out = files.get(path)
    if out is None:
        read = read_file(path, make_yaml())
        if isinstance(read, str):
            raise ExoformError(f"{display_path(path)}: cannot edit it: {read}")
        out = files[path] = _Out(path, read.documents, path.read_text(encoding="utf-8"))
    return out


def _set(data: Any, name: str, value: Any) -> None:
    if value is None:
        data.pop(name, None)
    else:
        data[name] = _styled(value, data.get(name))


def _apply(
    edits: _Edits, repo: _Repo, config_path: Path
) -> tuple[dict[Path, _Out], list[tuple[Path, int | None, list[str], _Field, str]]]:
    """The files' new documents; and for each field written, the file, document index (None: exoform.yaml's
    vars), the key path inside that document, the field and how it was written."""
    from ruamel.yaml.comments import CommentedMap

    files: dict[Path, _Out] = {}
    placed: list[tuple[Path, int | None, list[str], _Field, str]] = []
    for path, edited in edits.in_place.items():
        out = _open(path, files)
        for index, f in edited:
            _set(out.documents[index], f.field, f.value)
            if f.value is None:  # the key is gone: the tenant has no value, as the default
                placed.append((path, index, [], f, "removed in place (the tenant has no value)"))
            else:
                placed.append((path, index, [f.field], f, "in place"))
    if edits.variables:
        config = _open(config_path, files)
        root = config.documents[0]
        tenant = root["tenants"].get(repo.tenant)
        if tenant is None:
            tenant = root["tenants"][repo.tenant] = CommentedMap()
        if tenant.get("vars") is None:
            tenant["vars"] = CommentedMap()
        defaults = (root.get("defaults") or {}).get("vars") or {}
        for name, (value, items) in sorted(edits.variables.items()):
            old = tenant["vars"].get(name, defaults.get(name))
            tenant["vars"][name] = _styled(value, old)
            how = f"vars.{name} of tenant {repo.tenant}"
            if name in defaults:
                how += " (defaults.vars unchanged)"
            for f in items:
                placed.append((config_path, None, ["tenants", repo.tenant, "vars", name], f, how))
    if edits.overrides:
        assert repo.own is not None
        placed += _overrides(edits, repo.own, repo.config.base_dir, files)
    return files, placed


def _overrides(
    edits: _Edits, own: Path, base_dir: Path, files: dict[Path, _Out]
) -> list[tuple[Path, int | None, list[str], _Field, str]]:
    from ruamel.yaml.comments import CommentedMap

    placed: list[tuple[Path, int | None, list[str], _Field, str]] = []
    existing: dict[tuple[str, str], tuple[Path, int]] = {}
    own.mkdir(parents=True, exist_ok=True)
    folder = Folder(own)
    for path, read in sorted(folder.files.items()):
        for index, plain in enumerate(read.plain):
            target = plain.get("target") if isinstance(plain, dict) else None
            if (
                isinstance(plain, dict)
                and plain.get("kind") == OVERRIDE_KIND
                and not plain.get("absent")
                and isinstance(target, dict)
                and isinstance(target.get("name"), str)
            ):
                existing.setdefault((str(target.get("kind")), target["name"].casefold()), (path, index))
    for (kind, name), items in edits.overrides.items():
        at = existing.get((kind, name))
        if at is not None:
            path, index = at
            document = _open(path, files).documents[index]
            how = "added to the Override"
        else:
            first = items[0][0].change
            target = CommentedMap([("kind", kind), ("name", first.name)])
            target.fa.set_flow_style()
            document = CommentedMap([("kind", OVERRIDE_KIND), ("target", target)])
            path, _ = free_path(own, f"override-{slugify(first.name)}", folder)
            folder.taken.add(path.name.casefold())
            header = schema_reference(schema_path(base_dir), own)
            files[path] = _Out(path, [document], None, header=header)
            index = 0
            how = "a new Override"
        order = list(FIELDS[kind])
        for f, why in sorted(items, key=lambda item: order.index(item[0].field)):
            document[f.field] = _styled(f.value, document.get(f.field))
            source = f.key or f.loaded.location
            shared = why or f" for {source.path}, shared with other tenants"
            placed.append((path, index, [f.field], f, f"{how}{shared}"))
    return placed


def _render(out: _Out) -> str:
    buffer = io.StringIO()
    make_yaml().dump_all(out.documents, buffer)
    return (out.header + "\n" if out.header else "") + buffer.getvalue()


def _line(text: str, index: int | None, keys: list[str]) -> int:
    """The 1-based line of the key at ``keys`` in document ``index`` (None: the first) of ``text``; of
    the document's first key when ``keys`` is empty."""
    documents = list(make_yaml().load_all(text))
    data = documents[index or 0]
    if not keys:  # the document itself
        start: int = data.lc.line
        return start + 1
    for key in keys[:-1]:
        data = data[key]
    line: int = data.lc.key(keys[-1])[0]
    return line + 1


def accept(
    config: ExoformConfig,
    config_path: Path,
    desired: TenantDesired,
    plan: TenantPlan,
    live: LiveState,
    targets: Sequence[Target] = (),
    *,
    dry_run: bool = False,
) -> AcceptReport:
    """Write ``live``'s values of every field ``plan`` (``desired`` against ``live``) would change back
    into the files (see the module contracts); with ``dry_run`` nothing is written, and the report says
    what would be.  Raises :class:`~reconciler.errors.InputError` (nothing written) with a located
    problem for each field it cannot accept, :class:`ExoformError` when a file cannot be edited or the
    result does not plan clean (every file restored)."""
    from reconciler.errors import InputError

    report = AcceptReport(plan.tenant)
    repo = _Repo(config, desired.tenant)
    fields = _fields(desired, plan, repo, report)
    edits, problems = _decide(fields, repo)
    if problems:
        raise InputError(problems)
    if not fields:
        return report
    files, placed = _apply(edits, repo, config_path)
    for out in files.values():
        out.text = _render(out)
    for path, index, keys, f, how in placed:
        line = _line(files[path].text, index, keys)
        report.written.append(Written(path, line, f.change.kind, f.change.name, f.field, how))
    if dry_run:
        return report
    try:
        for out in files.values():
            write_atomic(out.path, out.text)
        _verify(config_path, desired.tenant, live, targets, {f.change.key for f in fields})
    except BaseException:
        for out in files.values():
            if out.before is None:
                out.path.unlink(missing_ok=True)
            else:
                write_atomic(out.path, out.before)
        raise
    return report


def _verify(
    config_path: Path, tenant: str, live: LiveState, targets: Sequence[Target], keys: set[tuple[Kind, str]]
) -> None:
    """Plan ``tenant`` again from the files as written: an accepted connector must have no change left."""
    from reconciler.desired.connectors import load_tenant
    from reconciler.desired.loader import load_config
    from reconciler.reconcile.planner import plan_tenant

    config = load_config(config_path)
    desired = load_tenant(config, tenant)
    again = plan_tenant(
        tenant,
        desired.settings,
        [c.connector for c in desired.connectors],
        live,
        targets,
        absent=desired.absent,
    )
    left = [c for c in again.changes if c.key in keys and targeted(targets, c.kind, c.name)]
    if left:
        names = ", ".join(f"{c.kind} {quote(c.name)} ({', '.join(c.fields)})" for c in left)
        raise ExoformError(
            f"tenant {tenant}: after writing, the files still differ from the tenant for {names}; "
            "every file was restored (please report this)"
        )


__all__ = ["AcceptReport", "Written", "accept"]
