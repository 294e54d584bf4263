"""Connector files -> validated, normalized connectors, each located at its file, line and column.

Contracts:
- :func:`load_tenant` and :func:`load_all` read every file of every selected tenant and raise one
  :class:`InputError` listing every problem found (each located), never a traceback-worthy exception for
  bad input; an unknown tenant is a :class:`ConfigError`.
- A file that holds no document at all (empty, or only comments) declares nothing and is accepted; an
  empty document inside a file (``---`` followed by nothing, or ``~``) is an error.
- A tenant's connectors come from each of its folders in order (a folder shared by many tenants is parsed
  once per load, :class:`ParsedFiles`); ``${...}`` references are resolved per tenant on the located tree
  (:mod:`reconciler.desired.variables`) and ``kind: Override`` documents merged into a connector of an earlier
  folder (:mod:`reconciler.desired.overrides`) before validation, so every problem stays located where it is
  written; a problem at a substituted value says where the value came from and for which tenant.
- The service's client-side rules (:func:`reconciler.model.rule_violations`) are checked here, so each
  violation is located at the key it is about; names and renames are checked across a tenant's files
  (:func:`cross_check`).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.loader import config_location, load_config, select_tenants
from reconciler.desired.overrides import OVERRIDE_KIND, OWN_KEYS, Override, merge
from reconciler.desired.variables import (
    Binding,
    ExpansionBudget,
    Scope,
    explained,
    field_origins,
    resolve,
)
from reconciler.errors import ConfigError, InputError, Location, Problem, quote
from reconciler.model import (
    KINDS,
    MAX_NAME_LENGTH,
    MODELS,
    Connector,
    Kind,
    check_printable_name,
    did_you_mean,
    rule_violations,
)
from reconciler.plan import Source
from reconciler.yamlio import (
    AliasBudget,
    TooBig,
    YDocument,
    YMap,
    YScalar,
    YSeq,
    bounded,
    deref,
    display_path,
    parse_file,
    to_python,
)
from reconciler.yamlio.problems import validation_problems

#: File name suffixes of connector files.
YAML_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedConnector:
    """A validated, normalized connector and where it is written."""

    connector: Connector
    #: Where the document starts (its first key).
    location: Location
    #: Top-level key -> where that key is written.
    field_locations: dict[str, Location]
    #: The tenant folder (as exoform.yaml names it) the document is in.
    folder: str | None = None
    #: Where each ``kind: Override`` merged into it starts.
    overrides: tuple[Location, ...] = ()

    def location_of(self, field_name: str) -> Location:
        """Where ``field_name`` is written, or the document's start when the file leaves it out."""
        return self.field_locations.get(field_name, self.location)

    def source(self) -> Source:
        """Where the connector is declared, as a plan's change carries it."""
        return _source(self.location, self.folder, self.overrides)


@dataclass(frozen=True)
class AbsentConnector:
    """A connector the files say must not exist: a connector document with ``absent: true``, or a
    ``kind: Override`` with ``absent: true`` dropping a connector of an earlier folder for one tenant
    (``overrides`` then holds that override's place, which is also ``location``)."""

    kind: Kind
    name: str
    #: Where ``absent: true`` is written (the document's first key).
    location: Location
    folder: str | None = None
    overrides: tuple[Location, ...] = ()

    def source(self) -> Source:
        """Where the connector is declared absent, as the plan's delete carries it."""
        return _source(self.location, self.folder, self.overrides)


def _source(location: Location, folder: str | None, overrides: Sequence[Location]) -> Source:
    return Source(location.path, location.line, location.column, folder, [str(o) for o in overrides])


@dataclass(frozen=True)
class TenantDesired:
    """Everything one tenant's connector files declare."""

    tenant: str
    settings: TenantConfig
    connectors: list[LoadedConnector]
    #: Where a substituted value came from, by the places it is reported at (see
    #: :func:`reconciler.desired.variables.explained`).
    origins: dict[Location, str] = field(default_factory=dict)
    #: The connectors the files say must not exist (``absent: true``).
    absent: list[AbsentConnector] = field(default_factory=list)

    def sources(self) -> dict[tuple[str, str], Source]:
        """Where each declared connector is written, by kind and case-folded name, with where each of its
        fields that the document does not write literally gets its value (:func:`field_origins`)."""
        return {
            (c.connector.kind, c.connector.name.casefold()): dataclasses.replace(
                c.source(), fields=field_origins(c.field_locations, c.location, self.origins, self.tenant)
            )
            for c in self.connectors
        }


def find_connector_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` file under ``folder``, recursively, sorted by path, and a located problem
    for every subfolder that cannot be listed or is a symbolic link, and for every file that is a symbolic
    link (refused unread, wherever it leads: its content never reaches a message).

    Files and folders whose name starts with a dot are skipped.  Linked subfolders are not followed (a link
    may lead outside the repository or back into itself) and are errors rather than skipped: connectors
    in a folder that was not read would look undeclared, and ``unmanaged: delete`` would delete them.
    """
    found: list[Path] = []
    problems: list[Problem] = []

    def unlistable(exc: OSError) -> None:
        where = Path(exc.filename) if exc.filename else folder
        problems.append(
            Problem(
                Location(display_path(where)),
                f"cannot list this folder ({exc.strerror or type(exc).__name__}); its connectors would "
                "look undeclared: fix its permissions or move it out of the connectors folder",
            )
        )

    for dirpath, dirnames, filenames in os.walk(folder, onerror=unlistable):
        kept = []
        for name in sorted(d for d in dirnames if not d.startswith(".")):
            sub = Path(dirpath) / name
            if sub.is_symlink():
                problems.append(
                    Problem(
                        Location(display_path(sub)),
                        "is a symbolic link to a folder; exoform does not follow linked folders (its "
                        "connectors would look undeclared): put the files in the folder itself",
                    )
                )
            else:
                kept.append(name)
        dirnames[:] = kept
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(YAML_SUFFIXES):
                path = Path(dirpath) / name
                if path.is_symlink():
                    problems.append(
                        Problem(
                            Location(display_path(path)),
                            "is a symbolic link; exoform reads only regular connector files and does not "
                            "open a link (it could lead to any file): put the file itself here",
                        )
                    )
                else:
                    found.append(path)
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix()), problems


def connector_files(folder: Path) -> list[Path]:
    """:func:`find_connector_files`, raising :class:`InputError` with its problems when there are any."""
    found, problems = find_connector_files(folder)
    if problems:
        raise InputError(problems)
    return found


def load_connector_documents(
    path: Path, root: Path | None = None
) -> tuple[list[LoadedConnector], list[Problem]]:
    """The connectors of one file and every problem found in it; with ``root`` (the folder of exoform.yaml)
    a file linked from outside it is refused unread."""
    display = display_path(path)
    documents, problems = parse_file(path, display, root=root)
    budget = AliasBudget(display)
    loaded: list[LoadedConnector] = []
    for document in documents:
        connector, found = _load_document(document, budget)
        problems += found
        if isinstance(connector, LoadedConnector):
            loaded.append(connector)
    return loaded, bounded(problems)


def _load_document(
    document: YDocument, budget: AliasBudget
) -> tuple[LoadedConnector | AbsentConnector | None, list[Problem]]:
    root = document.root
    target = deref(root) if root is not None else None
    if root is None or (isinstance(target, YScalar) and target.value is None):
        return None, [
            Problem(
                document.loc,
                "empty document: each document between '---' lines declares one connector; remove the "
                "extra '---'",
            )
        ]
    if not isinstance(target, YMap):
        found = f"the text {target.text!r}" if isinstance(target, YScalar) else "a list"
        return None, [
            Problem(
                root.loc,
                f"a connector document must be a mapping (kind: ..., name: ...), not {found}",
            )
        ]
    mapping = target
    doc_loc = root.loc
    kind_entry = mapping.entries.get("kind")
    if kind_entry is None:
        return None, [Problem(doc_loc, f"missing 'kind': set kind: {' or kind: '.join(KINDS)}")]
    kind_node = deref(kind_entry.value)
    kind = kind_node.value if isinstance(kind_node, YScalar) else None
    if kind not in KINDS:
        shown = repr(kind_node.text) if isinstance(kind_node, YScalar) else "a list or mapping"
        hint = did_you_mean(kind, [*KINDS, OVERRIDE_KIND]) if isinstance(kind, str) else ""
        return None, [Problem(kind_entry.value.loc, f"unknown kind {shown}{hint}; use {' or '.join(KINDS)}")]
    absent_entry = mapping.entries.get("absent")
    if absent_entry is not None:
        absent = deref(absent_entry.value)
        if not (isinstance(absent, YScalar) and isinstance(absent.value, bool)):
            return None, [Problem(absent_entry.value.loc, "absent must be true or false")]
        if absent.value:
            return _absent_document(kind, mapping, doc_loc)
    model = MODELS[kind]
    try:
        data = to_python(root, budget)
    except TooBig as exc:
        return None, [exc.problem]
    try:
        connector = model.model_validate(data, context={"skip_rules": True})
    except ValidationError as exc:
        return None, validation_problems(exc, root, doc_loc, model)
    field_locations = {key: entry.key_loc for key, entry in mapping.entries.items()}
    loaded = LoadedConnector(connector, doc_loc, field_locations)
    problems = [
        Problem(loaded.location_of(field_name), message) for field_name, message in rule_violations(connector)
    ]
    return (None if problems else loaded), problems


def _absent_document(
    kind: Kind, mapping: YMap, doc_loc: Location
) -> tuple[AbsentConnector | None, list[Problem]]:
    """A connector document with ``absent: true``: only its name is read (the rest may stay, unread, so
    a connector is deleted by adding one line to its file)."""
    entry = mapping.entries.get("name")
    if entry is None:
        return None, [Problem(doc_loc, "missing 'name': absent: true needs the name of the connector")]
    node = deref(entry.value)
    name = node.value if isinstance(node, YScalar) else None
    if not isinstance(name, str) or not 1 <= len(name) <= MAX_NAME_LENGTH:
        return None, [Problem(entry.value.loc, f"name must be text of 1 to {MAX_NAME_LENGTH} characters")]
    try:
        check_printable_name(name)
    except ValueError as exc:
        return None, [Problem(entry.value.loc, str(exc))]
    return AbsentConnector(kind, name, doc_loc), []


def absent_conflicts(
    connectors: Sequence[LoadedConnector], absent: Sequence[AbsentConnector]
) -> list[Problem]:
    """A connector both declared (by name or ``renamed_from``) and declared absent, or declared absent
    twice, for one tenant: reported where ``absent`` is written."""
    declared: dict[tuple[str, str], Location] = {}
    for loaded in connectors:
        c = loaded.connector
        declared[(c.kind, c.name.casefold())] = loaded.location_of("name")
        for old in c.renamed_from:
            declared.setdefault((c.kind, old.casefold()), loaded.location_of("renamed_from"))
    problems: list[Problem] = []
    for gone in absent:
        key = (gone.kind, gone.name.casefold())
        other = declared.get(key)
        if other is not None:
            problems.append(
                Problem(
                    gone.location,
                    f"{gone.kind} {quote(gone.name)} is declared absent here and declared at {other}: remove "
                    "one (to drop a connector of a shared folder for one tenant, use a kind: Override with "
                    "absent: true in the tenant's own folder)",
                )
            )
        else:
            declared[key] = gone.location
    return problems


def cross_check(connectors: Sequence[LoadedConnector]) -> list[Problem]:
    """Problems between the connectors of one tenant: duplicate names and conflicting renames.

    Names are unique across both kinds: the service keeps inbound and outbound connectors in one
    directory container (docs/yaml-reference.md, "Connector files"), so an inbound and an outbound
    connector of one name are reported at both places.
    """
    problems: list[Problem] = []
    declared: dict[tuple[str, str], LoadedConnector] = {}
    by_name: dict[str, LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        key = (c.kind, c.name.casefold())
        first = declared.get(key)
        other = by_name.get(c.name.casefold())
        if first is not None:
            problems.append(
                Problem(
                    loaded.location_of("name"),
                    f"duplicate {c.kind} name {quote(c.name)} (names are case-insensitive): also declared at "
                    f"{first.location_of('name')}",
                )
            )
            continue
        declared[key] = loaded
        if other is not None and other.connector.kind != c.kind:
            for here, there in ((other, loaded), (loaded, other)):
                problems.append(
                    Problem(
                        here.location_of("name"),
                        f"{here.connector.kind} '{here.connector.name}' has the name of the "
                        f"{there.connector.kind} at {there.location_of('name')}: inbound and outbound "
                        "connectors share one namespace (names are case-insensitive); rename one",
                    )
                )
        else:
            by_name.setdefault(c.name.casefold(), loaded)
    claimed: dict[tuple[str, str], LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        where = loaded.location_of("renamed_from")
        for old in c.renamed_from:
            key = (c.kind, old.casefold())
            if old.casefold() == c.name.casefold():
                problems.append(Problem(where, f"{quote(c.name)} lists its own name in renamed_from"))
                continue
            other = declared.get(key)
            if other is not None:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from {quote(old)}: a {c.kind} of that name is also declared at "
                        f"{other.location_of('name')}; remove the rename or that connector",
                    )
                )
                continue
            previous = claimed.get(key)
            if previous is not None and previous is not loaded:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from {quote(old)}: {quote(previous.connector.name)} at {previous.location} "
                        "is also renamed from it",
                    )
                )
                continue
            claimed[key] = loaded
    return problems


class ParsedFiles:
    """Connector files parsed once per load: a folder shared by many tenants is read and parsed once, then
    resolved per tenant (the parsed trees are never modified)."""

    def __init__(self) -> None:
        self._parsed: dict[Path, tuple[str, list[YDocument], list[Problem]]] = {}

    def get(self, path: Path, root: Path | None = None) -> tuple[str, list[YDocument], list[Problem]]:
        """``(display path, documents, problems)`` of the file at ``path``; with ``root`` (the folder of
        exoform.yaml) a file linked from outside it is refused unread."""
        parsed = self._parsed.get(path)
        if parsed is None:
            display = display_path(path)
            documents, problems = parse_file(path, display, root=root)
            parsed = self._parsed[path] = (display, documents, problems)
        return parsed


def tenant_scope(config: ExoformConfig, tenant: str) -> Scope:
    """What ``${...}`` references resolve to for ``tenant``, each variable with where it is set."""
    settings = config.tenants[tenant]
    bindings = {
        f"vars.{name}": Binding(value, config_location(config, "tenants", tenant, "vars", name))
        for name, value in settings.vars.items()
    }
    bindings["tenant.name"] = Binding(tenant)
    if settings.organization:
        bindings["tenant.organization"] = Binding(settings.organization)
    return Scope(tenant, bindings)


@dataclass(frozen=True)
class _Document:
    """A resolved document of one of a tenant's folders (``folder``: its index in the tenant's list)."""

    folder: int
    document: YDocument
    display: str
    #: Where each override merged into the document starts.
    overrides: tuple[Location, ...] = ()


def _kind_of(document: YDocument) -> str | None:
    target = deref(document.root) if document.root is not None else None
    entry = target.entries.get("kind") if isinstance(target, YMap) else None
    value = deref(entry.value) if entry is not None else None
    return value.value if isinstance(value, YScalar) and isinstance(value.value, str) else None


def _identity(document: YDocument) -> tuple[str, str] | None:
    """``(kind, casefolded name)`` of a connector document, when both are plain text."""
    target = deref(document.root) if document.root is not None else None
    entry = target.entries.get("name") if isinstance(target, YMap) else None
    value = deref(entry.value) if entry is not None else None
    kind = _kind_of(document)
    if kind is None or not isinstance(value, YScalar) or not isinstance(value.value, str):
        return None
    return kind, value.value.casefold()


def _apply_overrides(
    declared: list[_Document], overrides: Sequence[_Document], tenant: str, folders: Sequence[str]
) -> tuple[list[_Document], list[AbsentConnector], list[Problem]]:
    """``declared`` with each override merged into its target (declared in an earlier folder), and the
    targets an ``absent: true`` override drops, as absent connectors."""
    problems: list[Problem] = []
    merged: list[_Document | None] = list(declared)
    dropped: dict[int, AbsentConnector] = {}
    position: dict[tuple[str, str], int] = {}
    for i, item in enumerate(declared):
        identity = _identity(item.document)
        if identity is not None:
            position.setdefault(identity, i)
    for item in overrides:
        root = item.document.root
        mapping = deref(root) if root is not None else None
        assert root is not None and isinstance(mapping, YMap)
        own = YMap(mapping.loc, entries={k: e for k, e in mapping.entries.items() if k in OWN_KEYS})
        try:
            spec = Override.model_validate(to_python(own, AliasBudget(item.display)))
        except ValidationError as exc:
            problems += validation_problems(exc, own, item.document.loc, Override)
            continue
        except TooBig as exc:
            problems.append(exc.problem)
            continue
        if "name" in mapping.entries:
            problems.append(
                Problem(
                    mapping.entries["name"].key_loc,
                    "an override cannot change name: rename the connector in its own file (renamed_from)",
                )
            )
            continue
        found = position.get((spec.target.kind, spec.target.name.casefold()))
        target_loc = mapping.entries["target"].key_loc
        if found is not None and found in dropped:
            problems.append(
                Problem(
                    target_loc,
                    f"tenant {tenant}: override target {spec.target.kind} '{spec.target.name}' is dropped "
                    f"by the override at {dropped[found].location} (absent: true)",
                )
            )
            continue
        base = merged[found] if found is not None else None
        if base is None or base.folder >= item.folder:
            where = ""
            if base is not None:
                where = f" (it is declared in {folders[base.folder]}, not before this folder)"
            else:
                where = _renamed_hint(declared, spec.target.kind, spec.target.name)
            problems.append(
                Problem(
                    target_loc,
                    f"tenant {tenant}: override target {spec.target.kind} '{spec.target.name}' is not "
                    f"declared in an earlier folder of the tenant{where}; folders: {', '.join(folders)}",
                )
            )
            continue
        assert found is not None
        here = root.loc
        if spec.absent:
            fields = [key for key in mapping.entries if key not in OWN_KEYS]
            if fields:
                problems.append(
                    Problem(
                        mapping.entries[fields[0]].key_loc,
                        "an override with absent: true drops its target for this tenant and sets no "
                        f"field; remove {', '.join(fields)}",
                    )
                )
                continue
            dropped[found] = AbsentConnector(
                spec.target.kind, spec.target.name, here, folders[item.folder], (here,)
            )
            merged[found] = None
            continue
        base_map = deref(base.document.root) if base.document.root is not None else None
        assert isinstance(base_map, YMap)
        document = YDocument(base.document.loc, merge(base_map, mapping))
        merged[found] = _Document(base.folder, document, base.display, (*base.overrides, here))
    return [d for d in merged if d is not None], list(dropped.values()), problems


def _renamed_hint(declared: Sequence[_Document], kind: str, name: str) -> str:
    """`` (it was renamed to 'NEW' at FILE:LINE:COL: did you mean ...?)`` when a declared connector of
    ``kind`` lists ``name`` in its ``renamed_from`` (an override left behind by a rename); else ``""``."""
    for item in declared:
        target = deref(item.document.root) if item.document.root is not None else None
        if not isinstance(target, YMap) or _kind_of(item.document) != kind:
            continue
        entry, name_entry = target.entries.get("renamed_from"), target.entries.get("name")
        olds = deref(entry.value) if entry is not None else None
        new = deref(name_entry.value) if name_entry is not None else None
        if not isinstance(new, YScalar) or not isinstance(new.value, str) or name_entry is None:
            continue
        items = olds.items if isinstance(olds, YSeq) else [olds]
        if any(
            isinstance(old, YScalar) and str(old.value).casefold() == name.casefold()
            for old in (deref(i) if i is not None else None for i in items)
        ):
            return (
                f" (it was renamed to '{new.value}' at {name_entry.key_loc}: did you mean "
                f"target: {{kind: {kind}, name: {new.value}}}?)"
            )
    return ""


def load_tenant(config: ExoformConfig, tenant: str, files: ParsedFiles | None = None) -> TenantDesired:
    """Every connector of ``tenant`` from all of its folders, references resolved, overrides merged,
    validated; raises :class:`InputError` with every problem found.

    ``files`` shares parsed files between the tenants of one load (see :class:`ParsedFiles`).
    """
    if tenant not in config.tenants:
        raise ConfigError(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    settings = config.tenants[tenant]
    files = files if files is not None else ParsedFiles()
    scope = tenant_scope(config, tenant)
    folders = settings.folders()
    problems: list[Problem] = []
    origins: dict[Location, str] = {}
    declared: list[_Document] = []
    overrides: list[_Document] = []
    expansion = ExpansionBudget()
    for index, relative in enumerate(folders):
        folder = config.path(relative)
        if not folder.is_dir():
            at: tuple[int, ...] = () if isinstance(settings.connectors, str) else (index,)
            loc = config_location(config, "tenants", tenant, "connectors", *at)
            what = "is not a folder" if folder.exists() else "does not exist"
            problems.append(Problem(loc, f"tenant {tenant}: connectors folder {display_path(folder)} {what}"))
            continue
        paths, found = find_connector_files(folder)
        problems += found
        for path in paths:
            display, documents, found = files.get(path, config.base_dir)
            problems += found
            for document in documents:
                if document.root is not None:
                    resolved = resolve(document.root, scope, expansion)
                    origins.update(resolved.origins)
                    if resolved.problems:
                        problems += resolved.problems
                        continue
                    document = YDocument(document.loc, resolved.root)
                item = _Document(index, document, display)
                (overrides if _kind_of(document) == OVERRIDE_KIND else declared).append(item)
    declared, absent, found = _apply_overrides(declared, overrides, tenant, folders)
    problems += found
    connectors: list[LoadedConnector] = []
    budgets: dict[str, AliasBudget] = {}
    for item in declared:
        budget = budgets.setdefault(item.display, AliasBudget(item.display))
        loaded, found = _load_document(item.document, budget)
        problems += found
        if isinstance(loaded, LoadedConnector):
            connectors.append(
                dataclasses.replace(loaded, folder=folders[item.folder], overrides=item.overrides)
            )
        elif loaded is not None:
            absent.append(dataclasses.replace(loaded, folder=folders[item.folder]))
    problems += cross_check(connectors)
    problems += absent_conflicts(connectors, absent)
    if problems:
        raise InputError(bounded(explained(problems, origins)))
    return TenantDesired(tenant, settings, connectors, origins, absent)


def load_tenants(config: ExoformConfig, names: Sequence[str]) -> tuple[list[TenantDesired], list[Problem]]:
    """The connectors of each tenant of ``names`` that loads cleanly, and every problem of the others
    (a problem of a file shared by many tenants is listed once)."""
    files = ParsedFiles()
    desired: list[TenantDesired] = []
    problems: dict[Problem, None] = {}
    for name in names:
        try:
            desired.append(load_tenant(config, name, files))
        except InputError as exc:
            problems.update(dict.fromkeys(exc.problems))
    return desired, list(problems)


def load_all(
    config_path: Path, tenants: Sequence[str] | None = None
) -> tuple[ExoformConfig, list[TenantDesired]]:
    """``exoform.yaml`` and the connectors of the selected tenants (all when None or empty).

    Every file of every selected tenant is read before one :class:`InputError` lists every problem.
    ``tenants`` are names or globs (see :func:`select_tenants`, which raises :class:`ConfigError`).
    """
    config = load_config(config_path)
    desired, problems = load_tenants(config, select_tenants(config, list(tenants or [])))
    if problems:
        raise InputError(problems)
    return config, desired
