"""Live connectors -> YAML files: how a user adopts a tenant that already has connectors.

Contracts:
- Round trip: for every live connector that passes the service's client-side rules, the exported document
  loads (:mod:`..desired.connectors`) into a model whose managed fields equal the live ones, so a plan made
  right after an export shows no change.  A document holds ``kind``, ``name``, ``connector_type`` and
  every other managed field whose value differs from its default (``FIELDS[kind][field].default``).
- New files are named after the connector (:func:`slugify`), prefixed with the kind when an inbound and an
  outbound connector's names give one file name, and start with the schema header line
  ``# yaml-language-server: $schema=<relative path>``.
- A connector already declared by a document in the folder (same kind and name, case-insensitive) is
  updated in place in that document: ruamel round-trip keeps the user's comments, key order and other
  documents; only the values that differ from the live ones are rewritten.  Keys exoform does not diff
  (``renamed_from``, ``ignore_fields``, ``skip_checks``) and fields the tenant or the document ignores
  are left as written.
- Existing files are read by the one YAML reader (:mod:`reconciler.yamlio`: its limits, its located
  problems); a file it refuses is left untouched.  Documents are edited and written with ruamel's
  round-trip mode, and every file is replaced atomically (:func:`reconciler.yamlio.write_atomic`).
- A file is never overwritten when it declares another connector, cannot be parsed, or is not a
  connector file: the export picks the next free name (``name-2.yaml``) and says so in the report.
- A live connector holding a value no connector file can express (a form the service returned that exoform
  refuses to write, see :func:`unwritable_values`) is not written: the report names each such field and
  value, and says the round trip does not hold.  Service-owned fields (``validation_recipients``) are never
  written unless the document already sets them.
- A live connector that breaks the service's rules (:func:`reconciler.model.rule_violations`) is still
  exported, with a YAML comment naming each problem; ``exoform validate`` rejects that file until it is
  fixed, so the round trip does not hold for it (the report says so).
- Nothing here prints; the report lists what happened to every connector and file.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import ValidationError

from reconciler.desired.connectors import connector_files
from reconciler.errors import ExoformError
from reconciler.model import FIELDS, KINDS, MODELS, Connector, Kind, rule_violations
from reconciler.yamlio import (
    AliasBudget,
    TooBig,
    display_path,
    parse_text,
    read_text,
    to_python,
    write_atomic,
)

if TYPE_CHECKING:
    from ruamel.yaml import YAML

Action = Literal["created", "updated", "unchanged", "skipped"]
#: The first line of every connector file exoform writes: it points an editor at the connector schema.
SCHEMA_HEADER = "# yaml-language-server: $schema="


class Exportable(Protocol):
    """What the writer needs of a connector: its model and its ConnectorSource (for the wizard's note).
    A live connector (:class:`reconciler.live.LiveConnector`) is one; so is :class:`Adopted`."""

    @property
    def kind(self) -> Kind: ...

    @property
    def name(self) -> str: ...

    @property
    def connector(self) -> Connector: ...

    @property
    def connector_source(self) -> str: ...


@dataclass(frozen=True)
class Adopted:
    """A connector found outside any tenant (``exoform import``): a model and the ConnectorSource its file
    gave, and nothing a tenant would have (no Guid, no Get object)."""

    connector: Connector
    connector_source: str = "Default"

    @property
    def kind(self) -> Kind:
        return self.connector.KIND

    @property
    def name(self) -> str:
        return self.connector.name


def schema_path(base_dir: Path) -> Path:
    """Where the connector JSON Schema lives in a repository (``exoform schema`` writes it there): the path
    the header line of every written file points at, relative to the file."""
    from reconciler.schema import CONNECTOR_FILE

    return base_dir / "schemas" / CONNECTOR_FILE


_KIND_PREFIX: dict[Kind, str] = {"InboundConnector": "inbound", "OutboundConnector": "outbound"}
_IDENTITY = ("kind", "name", "connector_type")


@dataclass(frozen=True)
class ExportedConnector:
    """What the export did with one live connector.

    ``notes`` are things the user should read (a file name that was taken, rules the connector breaks).
    """

    kind: Kind
    name: str
    path: Path | None
    action: Action
    notes: tuple[str, ...] = ()


@dataclass
class ExportReport:
    """The outcome of one export: one entry per live connector, plus folder-level notes."""

    connectors: list[ExportedConnector] = field(default_factory=list)
    #: Files that could not be read as YAML (left untouched) and declared connectors that are not live.
    notes: list[str] = field(default_factory=list)

    def count(self, action: Action) -> int:
        return sum(1 for c in self.connectors if c.action == action)

    @property
    def round_trip(self) -> bool:
        """True when a plan right after this export should show no change for any exported connector."""
        return all(c.action != "skipped" and not _breaks_rules(c) for c in self.connectors)


def _breaks_rules(c: ExportedConnector) -> bool:
    return any(n.startswith("breaks the service's rules") for n in c.notes)


def make_yaml() -> YAML:
    """The ruamel round-trip instance the export edits and writes documents with (it keeps comments,
    key order and quoting; files are read and checked by :mod:`reconciler.yamlio` first)."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    yaml.preserve_quotes = True
    yaml.allow_duplicate_keys = False
    return yaml


#: Names Windows reserves for devices, with any extension: a repository holding ``con.yaml`` cannot be
#: checked out there.
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))]
)


def slugify(name: str) -> str:
    """A file-name stem from a connector name: lower case ASCII letters, digits and single dashes, never a
    name Windows reserves (``con`` becomes ``con-connector``; no trailing dots or spaces can occur)."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.casefold()).strip("-")
    if slug in _WINDOWS_RESERVED:
        return f"{slug}-connector"
    return slug or "connector"


def document_values(connector: Connector, ignore: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The YAML document of ``connector``: identity, then every non-default managed field in model order.

    Fields in ``ignore`` are left out unless the model requires them.
    """
    kind = connector.KIND
    specs = FIELDS[kind]
    values = connector.managed_fields()
    doc: dict[str, Any] = {
        "kind": kind,
        "name": yaml_value(values["name"]),
        "connector_type": values["connector_type"],
    }
    for name, spec in specs.items():
        if name in doc or spec.service_owned:
            continue
        required = MODELS[kind].model_fields[name].is_required()
        if name in ignore and not required:
            continue
        value = values[name]
        if required or value != spec.default:
            doc[name] = yaml_value(value)
    return doc


def yaml_value(value: Any) -> Any:
    """``value`` ready for ruamel: lists copied, and text holding line separators or control characters
    double-quoted, so YAML escapes them instead of reading them back as line breaks."""
    if isinstance(value, list):
        return [yaml_value(v) for v in value]
    if isinstance(value, str) and any(
        ch in "\x85\u2028\u2029" or (not ch.isprintable() and ch not in "\n\t") for ch in value
    ):
        from ruamel.yaml.scalarstring import DoubleQuotedScalarString

        return DoubleQuotedScalarString(value)
    return value


def schema_reference(schema: Path, folder: Path) -> str:
    """The header line that points an editor at ``schema`` from a file in ``folder``."""
    relative = os.path.relpath(schema.resolve(), folder.resolve())
    return SCHEMA_HEADER + Path(relative).as_posix()


@dataclass
class _Document:
    """One document of an existing file."""

    path: Path
    index: int
    data: Any  # ruamel CommentedMap, edited in place
    #: The document as plain data, as the loader reads it.
    plain: Any


@dataclass
class YamlFile:
    path: Path
    #: ruamel CommentedMaps (what is written back) and the same documents as plain data.
    documents: list[Any]
    plain: list[Any]
    dirty: bool = False


class Folder:
    """The connector files already in the export folder: checked and read by the one YAML reader, and
    loaded with ruamel round-trip for editing."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[Path, YamlFile] = {}
        self.declared: dict[tuple[str, str], _Document] = {}
        self.renamed: dict[tuple[str, str], _Document] = {}
        self.unreadable: dict[Path, str] = {}
        self.taken: set[str] = set()
        if not folder.is_dir():
            return
        yaml = make_yaml()
        for path in connector_files(folder):
            self.taken.add(path.name.casefold())
            read = read_file(path, yaml)
            if isinstance(read, str):
                self.unreadable[path] = read
                continue
            self.files[path] = read
            for index, (data, values) in enumerate(zip(read.documents, read.plain, strict=True)):
                kind, name = _identity(values)
                if kind is None or name is None:
                    continue
                document = _Document(path, index, data, values)
                self.declared.setdefault((kind, name.casefold()), document)
                for old in values.get("renamed_from") or []:
                    if isinstance(old, str):
                        self.renamed.setdefault((kind, old.casefold()), document)

    def declares(self, path: Path) -> list[tuple[str, str]]:
        """The connectors a file declares (kind, name), or [] when it is not a readable file."""
        known = self.files.get(path)
        if known is None:
            return []
        found = []
        for data in known.plain:
            kind, name = _identity(data)
            if kind is not None and name is not None:
                found.append((kind, name))
        return found


def read_file(path: Path, yaml: YAML) -> YamlFile | str:
    """The file's documents, or why it is left alone: the first problem the YAML reader finds in it."""
    display = display_path(path)
    text, problems = read_text(path, display)
    if text is not None:
        documents, problems = parse_text(text, display)
        budget = AliasBudget(display)
        try:
            plain = [None if d.root is None else to_python(d.root, budget) for d in documents]
        except TooBig as exc:
            problems.append(exc.problem)
        if not problems:
            return YamlFile(path, list(yaml.load_all(text)), plain)
    where = problems[0].location
    return f"line {where.line}, column {where.column}: {problems[0].message}"


def _identity(data: Any) -> tuple[str | None, str | None]:
    if not isinstance(data, dict):
        return None, None
    kind, name = data.get("kind"), data.get("name")
    if kind not in KINDS or not isinstance(name, str):
        return None, None
    return str(kind), name


def _violation_notes(connector: Connector) -> list[tuple[str, str]]:
    return [(f, f"breaks the service's rules: {message}") for f, message in rule_violations(connector)]


def unwritable_values(kind: Kind, document: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, why) for each value of an export ``document`` that a connector file cannot hold: a form
    the service returned that exoform refuses to write back (a private EFSkipIPs entry, a /16 sender
    range an older service let in).  Such a document is not written: it would fail ``validate``."""
    try:
        MODELS[kind].model_validate(document, context={"skip_rules": True})
    except ValidationError as exc:
        found: list[tuple[str, str]] = []
        for error in exc.errors():
            loc = error.get("loc", ())
            field_name = str(loc[0]) if loc else "?"
            value = document.get(field_name)
            if len(loc) > 1 and isinstance(value, list) and isinstance(loc[1], int) and loc[1] < len(value):
                value = value[loc[1]]
            message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
            found.append((field_name, f"{field_name}: {value!r} cannot be written back: {message}"))
        return found
    return []


def _source_note(live: Exportable) -> str | None:
    if live.connector_source.casefold() == "hybridwizard":
        return (
            "created by the Hybrid Configuration Wizard (ConnectorSource HybridWizard): running the wizard "
            "again rewrites it"
        )
    return None


def plain_value(value: Any) -> Any:
    if isinstance(value, list):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    return value


def _current_values(kind: Kind, plain: dict[str, Any]) -> dict[str, Any] | None:
    """The normalized managed fields a document declares now, or None when it does not validate."""
    try:
        model = MODELS[kind].model_validate(plain, context={"skip_rules": True})
    except ValidationError:
        return None
    return dict(model.managed_fields())


def _update_document(document: _Document, live: Exportable, ignore: frozenset[str]) -> bool:
    """Make ``document`` declare ``live``'s values, editing its CommentedMap; True when anything changed.

    A key the document leaves out stands for the default, so it is added only when the live value is not
    the default; a key whose value already means the live value (perhaps spelled differently) is kept.
    """
    kind = live.kind
    data = document.data
    doc_ignored = {f for f in (document.plain.get("ignore_fields") or []) if isinstance(f, str)}
    skip = (set(ignore) | doc_ignored) - {"name", "connector_type"}
    current = _current_values(kind, document.plain)
    have = live.connector.managed_fields()
    changed = False
    for name, spec in FIELDS[kind].items():
        required = MODELS[kind].model_fields[name].is_required()
        if (name in skip and not required) or (spec.service_owned and name not in data):
            continue
        target = have[name]
        if name not in data:
            if target == spec.default and not required:
                continue
        elif current is not None and current.get(name) == target:
            continue
        if target is None:
            if name in data:
                del data[name]
                changed = True
            continue
        new_value = yaml_value(target)
        if name in data and plain_value(data[name]) == target:
            continue
        data[name] = new_value
        changed = True
    return changed


def _add_comment(data: Any, key: str, text: str) -> None:
    """An end-of-line comment on ``key`` unless the key already carries one (user comments win)."""
    if key not in data:
        key = "name"
    existing = data.ca.items.get(key)
    if existing and any(existing):
        return
    data.yaml_add_eol_comment(text, key)


def export_connectors(
    live: Sequence[Exportable],
    folder: Path,
    *,
    schema: Path,
    ignore: frozenset[str] = frozenset(),
    whole_tenant: bool = True,
) -> ExportReport:
    """Write every connector of ``live`` (live connectors of a tenant, or :class:`Adopted` ones) into
    ``folder`` (created if missing); see the module contracts.

    ``schema`` is the connector JSON Schema the header line points at; ``ignore`` are the tenant's ignored
    fields.  ``whole_tenant`` False says ``live`` is a selection (``exoform import``): a connector declared
    in the folder and missing from it is then not reported.  Raises ``OSError`` when the folder or a file
    cannot be written, and :class:`ExoformError` (nothing written) when two connectors of one kind have
    names that differ only in case: their files would collide on a case-insensitive file system, and the
    tenant could not tell them apart.
    """
    seen: dict[tuple[Kind, str], Exportable] = {}
    for c in live:
        first = seen.setdefault((c.kind, c.name.casefold()), c)
        if first is not c:
            raise ExoformError(
                f"{first.kind} {first.name!r} and {c.kind} {c.name!r} differ only in case; nothing was "
                "exported (their files would collide)"
            )
    folder.mkdir(parents=True, exist_ok=True)
    existing = Folder(folder)
    report = ExportReport()
    for path, why in sorted(existing.unreadable.items()):
        report.notes.append(f"{display_path(path)}: left untouched, it cannot be read as YAML ({why})")
    ordered = sorted(live, key=lambda c: (c.kind, c.name.casefold()))
    slug_kinds: dict[str, set[Kind]] = {}
    for c in ordered:
        slug_kinds.setdefault(slugify(c.name), set()).add(c.kind)
    yaml = make_yaml()
    header = schema_reference(schema, folder)
    live_keys = {(c.kind, c.name.casefold()) for c in ordered}

    for c in ordered:
        wanted = document_values(c.connector, ignore)
        notes = [text for _, text in _violation_notes(c.connector)]
        source = _source_note(c)
        if source:
            notes.append(source)
        key = (c.kind, c.name.casefold())
        declared = existing.declared.get(key)
        unwritable = unwritable_values(c.kind, wanted)
        if unwritable:
            report.connectors.append(
                ExportedConnector(
                    c.kind,
                    c.name,
                    declared.path if declared is not None else None,
                    "skipped",
                    (
                        "not exported: a connector file cannot express what the tenant holds",
                        *(text for _, text in unwritable),
                        *notes,
                    ),
                )
            )
            continue
        if declared is None and key in existing.renamed:
            other = existing.renamed[key]
            report.connectors.append(
                ExportedConnector(
                    c.kind,
                    c.name,
                    other.path,
                    "skipped",
                    (
                        f"{display_path(other.path)} renames this connector (renamed_from); not exported, "
                        "the next apply renames it",
                        *notes,
                    ),
                )
            )
            continue
        if declared is not None:
            changed = _update_document(declared, c, ignore)
            if changed:
                for f, text in _violation_notes(c.connector):
                    _add_comment(declared.data, f, f"exoform export: {text}")
                existing.files[declared.path].dirty = True
            action: Action = "updated" if changed else "unchanged"
            report.connectors.append(ExportedConnector(c.kind, c.name, declared.path, action, tuple(notes)))
            continue
        stem = slugify(c.name)
        if len(slug_kinds[stem]) > 1:
            stem = f"{_KIND_PREFIX[c.kind]}-{stem}"
        path, taken_note = free_path(folder, stem, existing)
        if taken_note:
            notes.insert(0, taken_note)
        existing.files[path] = YamlFile(path, [_write_new(path, yaml, header, c, wanted)], [wanted])
        existing.taken.add(path.name.casefold())
        report.connectors.append(ExportedConnector(c.kind, c.name, path, "created", tuple(notes)))

    for file in existing.files.values():
        if file.dirty:
            buffer = io.StringIO()
            yaml.dump_all(file.documents, buffer)
            write_atomic(file.path, buffer.getvalue())
    for (kind, _), document in sorted(existing.declared.items(), key=lambda i: (str(i[1].path), i[0])):
        if whole_tenant and (kind, _) not in live_keys:
            report.notes.append(
                f"{display_path(document.path)}: declares {kind} '{document.plain.get('name')}', which the "
                "tenant does not have (a plan will create it)"
            )
    return report


def free_path(folder: Path, stem: str, existing: Folder) -> tuple[Path, str | None]:
    """``<stem>.yaml``, or the first ``<stem>-N.yaml`` not taken, with a note saying why."""
    first = folder / f"{stem}.yaml"
    if first.name.casefold() not in existing.taken and not first.exists():
        return first, None
    n = 2
    while True:
        candidate = folder / f"{stem}-{n}.yaml"
        if candidate.name.casefold() not in existing.taken and not candidate.exists():
            break
        n += 1
    if first in existing.unreadable:
        why = "cannot be read as YAML"
    else:
        others = existing.declares(first)
        why = (
            "declares " + ", ".join(f"{k} '{n}'" for k, n in others) if others else "is not a connector file"
        )
    return candidate, f"{display_path(first)} {why}; wrote {candidate.name} instead"


def _write_new(path: Path, yaml: Any, header: str, live: Exportable, wanted: dict[str, Any]) -> Any:
    """Write a new file for ``live``; returns the document written."""
    from ruamel.yaml.comments import CommentedMap

    data = CommentedMap()
    for key, value in wanted.items():
        data[key] = value
    lines = [header]
    source = _source_note(live)
    if source:
        lines.append(f"# Note: {source}.")
    violations = _violation_notes(live.connector)
    if violations:
        lines.append("# exoform export: as read from the tenant, this connector breaks the service's rules;")
        lines.append("# exoform validate and plan reject this file until it is fixed.")
        for f, text in violations:
            _add_comment(data, f, f"exoform export: {text}")
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    write_atomic(path, "\n".join(lines) + "\n" + buffer.getvalue())
    return data
