"""Connector files -> validated, normalized connectors, each located at its file, line and column.

Contracts:
- :func:`load_tenant` and :func:`load_all` read every file of every selected tenant and raise one
  :class:`InputError` listing every problem found (each located), never a traceback-worthy exception for
  bad input; an unknown tenant is a :class:`ConfigError`.
- A file that holds no document at all (empty, or only comments) declares nothing and is accepted; an
  empty document inside a file (``---`` followed by nothing, or ``~``) is an error.
- The service's client-side rules (:func:`reconciler.model.rule_violations`) are checked here, so each
  violation is located at the key it is about; names and renames are checked across a tenant's files
  (:func:`cross_check`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from reconciler.config import ExoformConfig, TenantConfig
from reconciler.errors import ConfigError, InputError, Location, Problem
from reconciler.loader import config_location, load_config, select_tenants
from reconciler.model import KINDS, MODELS, Connector, did_you_mean, rule_violations
from reconciler.yamlio import (
    AliasBudget,
    TooBig,
    YDocument,
    YMap,
    YScalar,
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

    def location_of(self, field_name: str) -> Location:
        """Where ``field_name`` is written, or the document's start when the file leaves it out."""
        return self.field_locations.get(field_name, self.location)


@dataclass(frozen=True)
class TenantDesired:
    """Everything one tenant's connector files declare."""

    tenant: str
    settings: TenantConfig
    connectors: list[LoadedConnector]


def find_connector_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` file under ``folder``, recursively, sorted by path, and a located problem
    for every subfolder that cannot be listed or is a symbolic link.

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
                found.append(Path(dirpath) / name)
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
        if connector is not None:
            loaded.append(connector)
    return loaded, problems


def _load_document(document: YDocument, budget: AliasBudget) -> tuple[LoadedConnector | None, list[Problem]]:
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
        hint = did_you_mean(kind, KINDS) if isinstance(kind, str) else ""
        return None, [Problem(kind_entry.value.loc, f"unknown kind {shown}{hint}; use {' or '.join(KINDS)}")]
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


def cross_check(connectors: Sequence[LoadedConnector]) -> list[Problem]:
    """Problems between the connectors of one tenant: duplicate names and conflicting renames."""
    problems: list[Problem] = []
    declared: dict[tuple[str, str], LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        key = (c.kind, c.name.casefold())
        first = declared.get(key)
        if first is not None:
            problems.append(
                Problem(
                    loaded.location_of("name"),
                    f"duplicate {c.kind} name '{c.name}' (names are case-insensitive): also declared at "
                    f"{first.location_of('name')}",
                )
            )
        else:
            declared[key] = loaded
    claimed: dict[tuple[str, str], LoadedConnector] = {}
    for loaded in connectors:
        c = loaded.connector
        where = loaded.location_of("renamed_from")
        for old in c.renamed_from:
            key = (c.kind, old.casefold())
            if old.casefold() == c.name.casefold():
                problems.append(Problem(where, f"'{c.name}' lists its own name in renamed_from"))
                continue
            other = declared.get(key)
            if other is not None:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from '{old}': a {c.kind} of that name is also declared at "
                        f"{other.location_of('name')}; remove the rename or that connector",
                    )
                )
                continue
            previous = claimed.get(key)
            if previous is not None and previous is not loaded:
                problems.append(
                    Problem(
                        where,
                        f"renamed_from '{old}': '{previous.connector.name}' at {previous.location} is also "
                        "renamed from it",
                    )
                )
                continue
            claimed[key] = loaded
    return problems


def load_tenant(config: ExoformConfig, tenant: str) -> TenantDesired:
    """Every connector of ``tenant``, validated; raises :class:`InputError` with every problem found."""
    if tenant not in config.tenants:
        raise ConfigError(f"unknown tenant '{tenant}'{did_you_mean(tenant, list(config.tenants))}")
    settings = config.tenants[tenant]
    folder = config.path(settings.connectors)
    if not folder.is_dir():
        loc = config_location(config, "tenants", tenant, "connectors")
        what = "is not a folder" if folder.exists() else "does not exist"
        raise InputError([Problem(loc, f"tenant {tenant}: connectors folder {display_path(folder)} {what}")])
    connectors: list[LoadedConnector] = []
    files, problems = find_connector_files(folder)
    for path in files:
        loaded, found = load_connector_documents(path, config.base_dir)
        connectors += loaded
        problems += found
    problems += cross_check(connectors)
    if problems:
        raise InputError(problems)
    return TenantDesired(tenant, settings, connectors)


def load_all(
    config_path: Path, tenants: Sequence[str] | None = None
) -> tuple[ExoformConfig, list[TenantDesired]]:
    """``exoform.yaml`` and the connectors of the selected tenants (all when None or empty).

    Every file of every selected tenant is read before one :class:`InputError` lists every problem.
    ``tenants`` are names or globs (see :func:`select_tenants`, which raises :class:`ConfigError`).
    """
    config = load_config(config_path)
    desired: list[TenantDesired] = []
    problems: list[Problem] = []
    for name in select_tenants(config, list(tenants or [])):
        try:
            desired.append(load_tenant(config, name))
        except InputError as exc:
            problems += exc.problems
    if problems:
        raise InputError(problems)
    return config, desired
