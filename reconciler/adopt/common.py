"""Several live tenants -> one shared connector set plus what each tenant keeps: ``export --common DIR``.

The derivation (:func:`derive`) is pure; :func:`write_common` writes what it decided.

Contracts:
- A live connector is matched across tenants by kind and case-insensitive name.  It is **shared** (one
  document in the shared folder) when it is new to the folder and a strict majority of the selected
  tenants, and at least two, hold it; or when the shared folder declares it already.  Each selected
  tenant without it gets an Override ``absent: true`` in its own folder, which keeps it out of that
  tenant (the absent tenants never outnumber the sharing ones, and their plan stays empty); but not a
  tenant that lists the shared folder already and gets the connector from it: its plan creates it,
  before and after the export (reported as ``missing``).
- A connector stays per tenant (written by :func:`reconciler.adopt.exporter.export_connectors` into the
  tenant's own folder, with the reason in the report) when its ``connector_type`` differs between tenants
  (they are different connectors), when a tenant's value of a differing field is unset (a variable cannot
  unset a field), when a tenant's copy cannot be written back or breaks the service's rules, when the
  Hybrid Configuration Wizard made it, or when another folder of a tenant already declares it.  One
  the shared folder declares already is then left as written there (the plan shows the difference),
  never written per tenant as well.
- Of a shared connector, a field equal in every sharing tenant is a literal (left out at its default);
  a field that differs is ``${vars.NAME}``, NAME read from the connector's name and the field
  (``inbound_from_mimecast_sender_ip_addresses``), prefixed with the kind, then numbered, when taken;
  but a text that holds each tenant's name where the others hold theirs is one literal with
  ``${tenant.name}`` (``Filter for ${tenant.name}``), and one that holds each tenant's organization
  instead, one with ``${tenant.organization}``.  A literal ``${`` is written ``$${``.
  A variable's most common value (ties: the first tenant in file order) goes into ``defaults.vars`` and
  every tenant with another value sets its own in ``tenants.NAME.vars``: so every tenant, even an
  absent one, defines every variable the folder references.  The name's case is the most common one (names are
  case-insensitive: no plan change).  Fields a tenant ignores (``ignore_fields``) do not count for it.
- A field of a connector the shared folder declares already is kept as written when it gives every
  sharing tenant its live value (a reference such as ``${tenant.name}`` stays); only the others are
  derived again, a field that is ``${vars.NAME}`` keeping NAME (the tenants' values are updated).  So
  a second run over unchanged tenants writes nothing.
- Refusals come before any write: :func:`check_common` (before any tenant is read) refuses a shared
  folder that is absolute, holds ``..`` or goes through a symbolic link, fewer than two tenants, and a
  shared folder a tenant not selected lists; :func:`prepare` refuses, one line per problem, a connector
  that would be declared twice for a tenant (in the shared folder and in another of its folders), names
  of one tenant that differ only in case, and a folder to write outside the repository.
- A targeted export (``--target``, :func:`prepare`'s ``picked``) derives the picked connectors only and
  leaves every other connector, live or in the shared folder, and every other variable as it is; every
  selected tenant must list the shared folder already.
- :func:`write_common` edits ``exoform.yaml`` with ruamel round trip (comments and order kept) and
  replaces every file atomically.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from reconciler.adopt.exporter import (
    Exportable,
    ExportReport,
    document_values,
    export_connectors,
    make_yaml,
    plain_value,
    schema_reference,
    slugify,
    unwritable_values,
)
from reconciler.errors import ExoformError
from reconciler.model import FIELDS, MODELS, Kind, rule_violations
from reconciler.yamlio import display_path, write_atomic

if TYPE_CHECKING:
    from reconciler.desired.config import ExoformConfig
    from reconciler.desired.connectors import TenantDesired
    from reconciler.live import LiveState

Key = tuple[str, str]
_KIND_PREFIX: dict[str, str] = {"InboundConnector": "inbound", "OutboundConnector": "outbound"}
#: A new shared file's header names its tenants up to this many (else only how many).
_NAMED_IN_HEADER = 8
#: Longest connector part of a derived variable name (the field name follows it).
_MAX_STEM = 40


@dataclass(frozen=True)
class TenantInput:
    """What the derivation needs of one selected tenant."""

    tenant: str
    live: Sequence[Exportable]
    #: The tenant's ``ignore_fields``.
    ignore: frozenset[str] = frozenset()
    #: Connectors its folders other than the shared and its own declare: never shared, never exported.
    elsewhere: frozenset[Key] = frozenset()
    #: Resolved managed fields of each connector the shared folder declares, as this tenant loads it.
    declared: Mapping[Key, Mapping[str, Any]] = field(default_factory=dict)
    #: Whether the tenant's folders include the shared folder already.
    lists_common: bool = False
    #: The tenant's ``organization`` (what ``${tenant.organization}`` gives it), if it has one.
    organization: str | None = None


@dataclass
class SharedConnector:
    """One connector of the shared folder: its document (references in place) and who shares it."""

    kind: Kind
    name: str
    tenants: list[str]
    #: The document to write (new connectors), or the fields to set in the existing document.
    document: dict[str, Any]
    #: field -> variable name, for the fields that differ.
    variables: dict[str, str] = field(default_factory=dict)
    #: Selected tenants without it that get an Override ``absent: true``.
    absent: list[str] = field(default_factory=list)
    #: True when the shared folder declares it already (then ``document`` holds only fields to change).
    existing: bool = False
    #: Selected tenants that list the shared folder, get it from there and do not hold it: a plan
    #: creates it there (before and after this export).
    missing: list[str] = field(default_factory=list)


@dataclass
class Derivation:
    """What :func:`derive` decided."""

    shared: list[SharedConnector] = field(default_factory=list)
    #: variable -> tenant -> value (every sharing tenant's value).
    values: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: tenant -> the live connectors written into its own folder.
    own: dict[str, list[Exportable]] = field(default_factory=dict)
    #: (kind, name, why) of connectors held by two or more tenants and left per tenant.
    unshared: list[tuple[str, str, str]] = field(default_factory=list)

    def default_of(self, variable: str, order: Sequence[str]) -> Any:
        """The value ``defaults.vars`` gets: the most common one, ties to the first tenant in ``order``."""
        values = self.values[variable]
        counts = Counter(_frozen(v) for v in values.values())
        first = {t: i for i, t in enumerate(order)}
        best = max(
            values.items(), key=lambda item: (counts[_frozen(item[1])], -first.get(item[0], len(first)))
        )
        return best[1]


def _frozen(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _expressible(value: Any) -> bool:
    """Whether ``value`` can be a variable's value (exoform.yaml's ``vars``: scalars or lists of them)."""
    scalar = (str, bool, int, float)
    return isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    )


def _why_not_shared(copies: Mapping[str, Exportable], tenants: Mapping[str, TenantInput]) -> str | None:
    for tenant, c in copies.items():
        if c.connector_source.casefold() == "hybridwizard":
            return f"made by the Hybrid Configuration Wizard in {tenant}"
        if unwritable_values(c.kind, document_values(c.connector, tenants[tenant].ignore)):
            return f"{tenant}'s copy cannot be written back (see its own report)"
        if rule_violations(c.connector):
            return f"{tenant}'s copy breaks the service's rules"
    types = {c.connector.connector_type for c in copies.values()}
    if len(types) > 1:
        return "its connector_type differs between tenants: they are different connectors"
    return None


def var_stem(name: str) -> str:
    """The connector part of a variable name: lower case letters, digits and single underscores."""
    stem = slugify(name).replace("-", "_")[:_MAX_STEM].strip("_") or "connector"
    return stem if not stem[0].isdigit() else f"c_{stem}"


def derive(
    tenants: Sequence[TenantInput],
    existing: frozenset[Key] = frozenset(),
    taken: frozenset[str] = frozenset(),
    references: Mapping[tuple[Key, str], str] = MappingProxyType({}),
) -> Derivation:
    """Decide the shared set of ``tenants`` (in file order; see the module contracts).

    ``existing`` are the connectors the shared folder declares now; ``taken`` the variable names already
    set anywhere in exoform.yaml (a derived name never reuses one); ``references`` the variable a field
    of an existing document is now (:func:`whole_references`): a field derived again keeps it.
    """
    by_name = {t.tenant: t for t in tenants}
    order = [t.tenant for t in tenants]
    groups: dict[Key, dict[str, Exportable]] = {}
    for t in tenants:
        for c in t.live:
            found: Key = (c.kind, c.name.casefold())
            if found not in t.elsewhere:
                groups.setdefault(found, {})[t.tenant] = c
    result = Derivation()
    used = set(taken)
    shared_keys: set[Key] = set()
    for key in sorted(groups):
        copies = groups[key]
        is_existing = key in existing
        if not is_existing and not (len(copies) >= 2 and 2 * len(copies) > len(tenants)):
            continue
        first = next(iter(copies.values()))
        blocked = [t.tenant for t in tenants if key in t.elsewhere]
        why = (
            f"another folder of {', '.join(blocked)} declares it"
            if blocked
            else _why_not_shared(copies, by_name)
        )
        shared = None if why else _share(key, copies, by_name, is_existing, used, result, references)
        if shared is None:
            if why and (is_existing or len(copies) >= 2):
                result.unshared.append((first.kind, first.name, why))
            if is_existing and result.unshared and result.unshared[-1][:2] == (first.kind, first.name):
                kind, name, reason = result.unshared.pop()
                result.unshared.append((kind, name, f"left as the shared folder declares it: {reason}"))
            continue
        without = [t for t in order if t not in copies and key not in by_name[t].elsewhere]
        # A tenant new to the shared folder keeps its tenant as it is; one that lists the folder already
        # and lacks the connector is a rollout under way (its plan created it before this export too).
        shared.absent = [t for t in without if not (is_existing and by_name[t].lists_common)]
        shared.missing = [t for t in without if is_existing and key in by_name[t].declared]
        result.shared.append(shared)
        shared_keys.add(key)
    # A connector the shared folder declares is never written per tenant too: it would be declared twice.
    kept = shared_keys | existing
    for t in tenants:
        leave = kept | t.elsewhere
        result.own[t.tenant] = [c for c in t.live if (c.kind, c.name.casefold()) not in leave]
    return result


def _share(
    key: Key,
    copies: Mapping[str, Exportable],
    tenants: Mapping[str, TenantInput],
    is_existing: bool,
    used: set[str],
    result: Derivation,
    references: Mapping[tuple[Key, str], str],
) -> SharedConnector | None:
    """The shared connector of ``copies``, or None (with the reason recorded) when a field cannot be one."""
    kind: Kind = next(iter(copies.values())).kind
    names = Counter(c.name for c in copies.values())
    name = max(names, key=lambda n: (names[n], -list(names).index(n)))
    document: dict[str, Any] = {}
    if not is_existing:
        document = {
            "kind": kind,
            "name": name,
            "connector_type": next(iter(copies.values())).connector.connector_type,
        }
    differing: dict[str, dict[str, Any]] = {}
    for spec_name, spec in FIELDS[kind].items():
        if spec_name in ("name", "connector_type") or spec.service_owned:
            continue
        values = {
            t: c.connector.managed_fields()[spec_name]
            for t, c in copies.items()
            if spec_name not in tenants[t].ignore
        }
        if not values:
            continue
        if is_existing and all(
            key in tenants[t].declared and tenants[t].declared[key].get(spec_name) == v
            for t, v in values.items()
        ):
            continue  # the document already gives every tenant its value
        distinct = {_frozen(v) for v in values.values()}
        if len(distinct) == 1:
            value = next(iter(values.values()))
            required = MODELS[kind].model_fields[spec_name].is_required()
            if is_existing or required or value != spec.default:
                document[spec_name] = _literal(value)
            continue
        template = _tenant_template(values, {t: tenants[t].organization for t in values})
        if template is not None:
            document[spec_name] = template
            continue
        unset = [t for t, v in values.items() if not _expressible(v)]
        if unset:
            result.unshared.append(
                (
                    kind,
                    name,
                    f"{spec_name} is unset in {', '.join(unset)} and set in others: a variable cannot "
                    "unset a field",
                )
            )
            return None
        differing[spec_name] = values
        document[spec_name] = None  # keeps the field's place; the reference is filled in below
    variables: dict[str, str] = {}
    for spec_name, values in differing.items():
        variable = references.get((key, spec_name), "")
        if not variable or result.values.get(variable, values) != values:
            variable = _variable_name(kind, name, spec_name, used)
        used.add(variable)
        variables[spec_name] = variable
        document[spec_name] = f"${{vars.{variable}}}"
        result.values[variable] = dict(values)
    return SharedConnector(
        kind, name, sorted(copies, key=list(tenants).index), document, variables, existing=is_existing
    )


_WHOLE_REFERENCE = re.compile(r"\$\{\s*vars\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")


def whole_references(documents: Mapping[Key, Mapping[str, Any]]) -> dict[tuple[Key, str], str]:
    """(connector, field) -> NAME for each field of ``documents`` (plain connector documents) whose value
    is exactly ``${vars.NAME}``."""
    found: dict[tuple[Key, str], str] = {}
    for key, document in documents.items():
        for name, value in document.items():
            match = _WHOLE_REFERENCE.fullmatch(value) if isinstance(value, str) else None
            if match:
                found[(key, str(name))] = match.group(1)
    return found


def _literal(value: Any) -> Any:
    """``value`` as a literal in a connector file: ``${`` in text written ``$${`` (else it would read as a
    reference)."""
    if isinstance(value, list):
        return [_literal(v) for v in value]
    return value.replace("${", "$${") if isinstance(value, str) else value


def _tenant_template(values: Mapping[str, Any], organizations: Mapping[str, str | None]) -> str | None:
    """One text that ``${tenant.name}`` turns into every tenant's value (``Filter for ${tenant.name}``),
    else one that ``${tenant.organization}`` does, or None.  Each value must hold its tenant's name (or
    organization); the template resolves back to it exactly."""
    names = {t: t for t in values}
    orgs = {t: o for t, o in organizations.items() if o}
    for reference, of in (("${tenant.name}", names), ("${tenant.organization}", orgs)):
        if not all(isinstance(v, str) and t in of and of[t] in v for t, v in values.items()):
            continue
        templates: set[str] = {_literal(v).replace(of[t], reference) for t, v in values.items()}
        if len(templates) == 1:
            return templates.pop()
    return None


def _variable_name(kind: str, name: str, field_name: str, used: set[str]) -> str:
    """``<connector>_<field>``; with the kind in front when taken; then ``_2``, ``_3``, ... (deterministic:
    connectors are derived in (kind, name) order)."""
    plain = f"{var_stem(name)}_{field_name}"
    if plain not in used:
        return plain
    prefixed = f"{_KIND_PREFIX[kind]}_{plain}"
    candidate, n = prefixed, 2
    while candidate in used:
        candidate = f"{prefixed}_{n}"
        n += 1
    return candidate


# --------------------------------------------------------------------------------------------------------
# Where the files go


def safe_folder(base_dir: Path, relative: str, what: str) -> Path:
    """``base_dir/relative`` (absolute) when ``relative`` is a relative path that stays inside ``base_dir``
    and no part of it is a symbolic link; else :class:`ExoformError` naming ``what``."""
    raw = Path(relative)
    if raw.is_absolute() or relative.strip() == "":
        raise ExoformError(
            f"{what} {relative!r}: give a folder relative to exoform.yaml, inside the repository"
        )
    base = base_dir.resolve()
    path = base
    for part in raw.parts:
        if part in ("", "."):
            continue
        if part == "..":
            raise ExoformError(
                f"{what} {relative!r}: '..' is not allowed; give a folder inside the repository"
            )
        path = path / part
        if path.is_symlink():
            raise ExoformError(
                f"{what} {relative!r}: {display_path(path)} is a symbolic link; it is not followed"
            )
        if path.exists() and not path.is_dir():
            raise ExoformError(f"{what} {relative!r}: {display_path(path)} is not a folder")
    return path


def inside(base_dir: Path, folder: Path, what: str) -> Path:
    """``folder`` when it lies inside ``base_dir`` through no symbolic link; else :class:`ExoformError`."""
    base = base_dir.resolve()
    absolute = folder if folder.is_absolute() else base / folder
    try:
        relative = absolute.relative_to(base)
    except ValueError:
        raise ExoformError(
            f"{what} {display_path(folder)} is outside the repository (the folder of exoform.yaml): "
            "export --common writes only inside it"
        ) from None
    return safe_folder(base, relative.as_posix() or ".", what)


def check_common(config: ExoformConfig, names: Sequence[str], common: str) -> Path:
    """The shared folder ``common`` (absolute) for the selected tenants ``names``, before any tenant is
    read; :class:`ExoformError` when it is not a safe folder (:func:`safe_folder`), fewer than two tenants
    are selected, or a tenant not selected lists it (the shared set would change its connectors too)."""
    path = safe_folder(config.base_dir, common, "--common")
    if len(names) < 2:
        raise ExoformError(
            f"--common derives a shared set from two or more tenants; --tenant selects {len(names)}"
        )
    outside = [
        n
        for n, t in config.tenants.items()
        if n not in names and path in {config.path(f) for f in t.folders()}
    ]
    if outside:
        raise ExoformError(
            f"{display_path(path)} is also a connectors folder of {', '.join(outside[:5])}, which "
            "--tenant does not select: the shared set would change their connectors too; select them as well"
        )
    return path


@dataclass
class CommonExport:
    """Everything :func:`write_common` writes, decided and checked."""

    common: Path
    derivation: Derivation
    layouts: dict[str, TenantLayout]
    #: The tenants, in file order, and the fields each ignores.
    ignore: dict[str, frozenset[str]]
    #: Notes for the report: connectors the shared folder declares that no selected tenant holds.
    notes: list[str] = field(default_factory=list)
    #: False for a ``--target`` export: the tenants' other connectors were not looked at.
    whole_tenant: bool = True


def _own_folder(config: ExoformConfig, tenant: str, common: str, common_path: Path) -> tuple[str, Path]:
    """The tenant's own folder: its last folder when no other tenant uses it (and it is not the shared
    one), else ``<parent of DIR>/<tenant>``, as (written in exoform.yaml, absolute)."""
    users = {n: {config.path(f) for f in t.folders()} for n, t in config.tenants.items() if n != tenant}
    last = config.tenants[tenant].folders()[-1]
    if config.path(last) != common_path and not any(config.path(last) in u for u in users.values()):
        return last, config.path(last)
    relative = (Path(common).parent / tenant).as_posix()
    path = safe_folder(config.base_dir, relative, f"the folder of tenant {tenant}")
    taken_by = [n for n, u in users.items() if path in u]
    if path == common_path or taken_by:
        what = "the shared folder" if not taken_by else f"a folder of {taken_by[0]}"
        raise ExoformError(
            f"tenant {tenant} needs a folder of its own and {relative} is {what}: give {tenant} a folder of "
            "its own as its last connectors folder first"
        )
    return relative, path


def prepare(
    config: ExoformConfig,
    common: str,
    common_path: Path,
    tenants: Sequence[tuple[TenantDesired, LiveState]],
    picked: Callable[[str, str], bool] | None = None,
) -> CommonExport:
    """Derive the shared set of ``tenants`` (each tenant's files as loaded and its live state, in file
    order) and check it can be written; raises :class:`ExoformError` (one line per problem) when a
    connector would be declared twice for a tenant, names differ only in case, or a folder to write is
    outside the repository.

    ``picked(kind, name)`` (``--target``) limits the export to the connectors it picks: only they are
    shared, exported per tenant or declared absent, and every other connector, live or in DIR, is left as
    it is.  Every selected tenant must list DIR already (one joining it would get DIR's other connectors
    unreviewed)."""
    from reconciler.adopt.exporter import Folder

    in_common = Folder(common_path).declared if common_path.is_dir() else {}
    chosen = picked or (lambda kind, name: True)
    inputs: list[TenantInput] = []
    own: dict[str, tuple[str, Path]] = {}
    #: tenant -> (kind, casefolded name) -> where its folders other than DIR declare the connector.
    declared_at: dict[str, dict[Key, str]] = {}
    problems: list[str] = []
    for desired, live in tenants:
        tenant = desired.tenant
        own[tenant] = _own_folder(config, tenant, common, common_path)
        resolved: dict[Key, Mapping[str, Any]] = {}
        elsewhere: set[Key] = set()
        declared_at[tenant] = {}
        for lc in desired.connectors:
            key: Key = (lc.connector.kind, lc.connector.name.casefold())
            folder = config.path(lc.folder or ".")
            if folder == common_path:
                resolved[key] = lc.connector.managed_fields()
                continue
            declared_at[tenant][key] = str(lc.location)
            if folder != own[tenant][1]:
                elsewhere.add(key)
        seen: dict[Key, str] = {}
        for c in live.connectors:
            other = seen.setdefault((c.kind, c.name.casefold()), c.name)
            if other != c.name:
                problems.append(f"tenant {tenant}: {c.kind} {other!r} and {c.name!r} differ only in case")
        settings = config.tenants[tenant]
        lists_common = common_path in {config.path(f) for f in settings.folders()}
        if picked is not None and not lists_common:
            problems.append(
                f"tenant {tenant} does not list {common} yet: --target adds to a shared set its tenants "
                "list already; bring the tenant in with export --common without --target"
            )
        inputs.append(
            TenantInput(
                tenant,
                [c for c in live.connectors if chosen(c.kind, c.name)],
                frozenset(settings.ignore_fields),
                frozenset(elsewhere),
                resolved,
                lists_common,
                settings.organization,
            )
        )
    taken = frozenset(v for t in config.tenants.values() for v in t.vars)
    references = whole_references({key: document.plain for key, document in in_common.items()})
    existing = frozenset(k for k, d in in_common.items() if chosen(k[0], str(d.plain.get("name", k[1]))))
    derivation = derive(inputs, existing, taken, references)
    # A connector must not end up declared twice for a tenant: in DIR and in another of its folders.
    for s in derivation.shared:
        for tenant in s.tenants if not s.existing else []:
            if where := declared_at[tenant].get((s.kind, s.name.casefold())):
                problems.append(f"{where}: declares {s.kind} '{s.name}', which moves into the shared set")
    for item in inputs:
        for key, document in in_common.items() if not item.lists_common else []:
            if where := declared_at[item.tenant].get(key):
                problems.append(
                    f"{where}: declares {key[0]} '{document.plain.get('name')}', which "
                    f"{display_path(document.path)} declares too (tenant {item.tenant} is about to list "
                    f"{display_path(common_path)})"
                )
    layouts: dict[str, TenantLayout] = {}
    for item in inputs:
        tenant, settings = item.tenant, config.tenants[item.tenant]
        needs = bool(derivation.own[tenant]) or any(tenant in s.absent for s in derivation.shared)
        if needs or own[tenant][1].is_dir():
            try:
                inside(config.base_dir, own[tenant][1], f"the folder of tenant {tenant}")
            except ExoformError as exc:
                problems.append(str(exc))
        folders = tenant_folders(
            settings.folders(),
            [config.path(f) for f in settings.folders()],
            (common, common_path),
            own[tenant],
            needs,
        )
        layouts[tenant] = TenantLayout(own[tenant][1], folders)
    if problems:
        hint = ""
        if any(": declares " in p for p in problems):
            hint = ": remove each document named from the tenant's folder (it was exported per tenant before)"
        raise ExoformError("\n".join([*problems, f"nothing was written{hint}"]))
    held = {(c.kind, c.name.casefold()) for _, live in tenants for c in live.connectors}
    notes = [
        f"{display_path(document.path)} declares {kind} '{document.plain.get('name')}', which no selected "
        "tenant has (a plan creates it where the folder is listed)"
        for (kind, name), document in sorted(in_common.items(), key=lambda i: (str(i[1].path), i[0]))
        if (kind, name) not in held
    ]
    ignore = {item.tenant: item.ignore for item in inputs}
    return CommonExport(common_path, derivation, layouts, ignore, notes, whole_tenant=picked is None)


# --------------------------------------------------------------------------------------------------------
# Writing


@dataclass
class Written:
    """What :func:`write_common` did."""

    #: (kind, name, path, action) of each shared connector.
    shared: list[tuple[str, str, Path, str]] = field(default_factory=list)
    #: (tenant, kind, name, path) of each Override ``absent: true`` written.
    absent: list[tuple[str, str, str, Path]] = field(default_factory=list)
    #: tenant -> the report of its own folder's export.
    own: dict[str, ExportReport] = field(default_factory=dict)
    #: Lines saying what changed in exoform.yaml.
    config: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TenantLayout:
    """Where one tenant's files go, and its ``connectors`` afterwards."""

    #: The tenant's own folder (absolute): its connectors kept per tenant and its absent overrides.
    own: Path
    #: The tenant's ``connectors`` to write (relative to exoform.yaml), or None to leave it as it is.
    folders: list[str] | None


def tenant_folders(
    current: Sequence[str],
    resolved: Sequence[Path],
    common: tuple[str, Path],
    own: tuple[str, Path],
    needs_own: bool,
) -> list[str] | None:
    """The tenant's folder list with the shared folder in it (before its own folder) and its own folder
    last when it needs one; None when ``current`` is that list already.  ``common`` and ``own`` are
    (as written in exoform.yaml, absolute)."""
    folders = list(current)
    paths = list(resolved)
    if own[1] not in paths and needs_own:
        folders.append(own[0])
        paths.append(own[1])
    if common[1] not in paths:
        at = paths.index(own[1]) if own[1] in paths else len(paths)
        folders.insert(at, common[0])
    return None if folders == list(current) else folders


def _flow(items: list[Any]) -> Any:
    from ruamel.yaml.comments import CommentedSeq

    seq = CommentedSeq(items)
    seq.fa.set_flow_style()
    return seq


def write_common(config_file: Path, export: CommonExport, schema: Path) -> Written:
    """Write ``export`` (made by :func:`prepare`): the shared documents into its folder, each tenant's own
    connectors (and absent overrides) into its own folder, the variables and folder lists into
    ``config_file``.  Raises ``OSError`` when a file cannot be written."""
    derivation, common, layouts = export.derivation, export.common, export.layouts
    order = list(export.ignore)
    ignore = export.ignore
    written = Written()
    common.mkdir(parents=True, exist_ok=True)
    written.shared = _write_shared(common, derivation.shared, schema)
    for tenant in order:
        mine = derivation.own.get(tenant, [])
        place = layouts[tenant]
        if mine or place.own.is_dir():
            written.own[tenant] = export_connectors(
                mine, place.own, schema=schema, ignore=ignore[tenant], whole_tenant=export.whole_tenant
            )
    for s in derivation.shared:
        for tenant in s.absent:
            path = _write_absent(layouts[tenant].own, tenant, s, schema)
            written.absent.append((tenant, s.kind, s.name, path))
    written.config = _edit_config(config_file, derivation, order, layouts)
    return written


def _write_shared(
    folder: Path, shared: Sequence[SharedConnector], schema: Path
) -> list[tuple[str, str, Path, str]]:
    from reconciler.adopt.exporter import Folder, YamlFile, free_path, yaml_value

    existing = Folder(folder)
    yaml = make_yaml()
    header = schema_reference(schema, folder)
    done: list[tuple[str, str, Path, str]] = []
    for s in shared:
        declared = existing.declared.get((s.kind, s.name.casefold()))
        if declared is not None:
            changed = False
            for key, value in s.document.items():
                spec = FIELDS[s.kind][key]
                required = MODELS[s.kind].model_fields[key].is_required()
                if value == spec.default and not required:
                    if key in declared.data:
                        del declared.data[key]
                        changed = True
                elif key not in declared.data or plain_value(declared.data[key]) != value:
                    declared.data[key] = yaml_value(value)
                    changed = True
            if changed:
                existing.files[declared.path].dirty = True
            done.append((s.kind, s.name, declared.path, "updated" if changed else "unchanged"))
            continue
        stem = slugify(s.name)
        if any(o is not s and o.kind != s.kind and slugify(o.name) == stem for o in shared):
            stem = f"{_KIND_PREFIX[s.kind]}-{stem}"
        path, _ = free_path(folder, stem, existing)
        from ruamel.yaml.comments import CommentedMap

        data = CommentedMap((k, yaml_value(v)) for k, v in s.document.items())
        shown = ": " + ", ".join(s.tenants) if len(s.tenants) <= _NAMED_IN_HEADER else ""
        lines = [
            header,
            f"# Shared by {len(s.tenants)} tenant(s) when exported (exoform export --common){shown}.",
        ]
        if s.variables:
            lines.append(
                "# ${vars.NAME}: each tenant's value is in exoform.yaml (defaults.vars, tenants.NAME.vars)."
            )
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        write_atomic(path, "\n".join(lines) + "\n" + buffer.getvalue())
        existing.files[path] = YamlFile(path, [data], [s.document])
        existing.taken.add(path.name.casefold())
        done.append((s.kind, s.name, path, "created"))
    for file in existing.files.values():
        if file.dirty:
            buffer = io.StringIO()
            yaml.dump_all(file.documents, buffer)
            write_atomic(file.path, buffer.getvalue())
    return done


def _write_absent(folder: Path, tenant: str, s: SharedConnector, schema: Path) -> Path:
    from ruamel.yaml.comments import CommentedMap

    from reconciler.adopt.exporter import Folder, free_path

    folder.mkdir(parents=True, exist_ok=True)
    path, _ = free_path(folder, f"absent-{slugify(s.name)}", Folder(folder))
    data = CommentedMap(
        [
            ("kind", "Override"),
            ("target", CommentedMap([("kind", s.kind), ("name", s.name)])),
            ("absent", True),
        ]
    )
    lines = [
        schema_reference(schema, folder),
        f"# exoform export --common: {tenant} had no {s.kind} of this name when the shared set was made;",
        f"# this keeps the shared connector out of {tenant}. Delete this file to give it to {tenant}.",
    ]
    buffer = io.StringIO()
    make_yaml().dump(data, buffer)
    write_atomic(path, "\n".join(lines) + "\n" + buffer.getvalue())
    return path


def _edit_config(
    config_file: Path, derivation: Derivation, order: Sequence[str], layouts: Mapping[str, TenantLayout]
) -> list[str]:
    """Set the variables and folder lists in exoform.yaml (ruamel round trip); lines saying what changed."""
    from ruamel.yaml.comments import CommentedMap

    yaml = make_yaml()
    text = config_file.read_text(encoding="utf-8")
    root = yaml.load(text)
    tenants = root["tenants"]
    said: list[str] = []

    def tenant_map(name: str) -> Any:
        """The tenant's mapping, made block style (a flow one would grow past any line length)."""
        if tenants.get(name) is None:
            tenants[name] = CommentedMap()
        tenants[name].fa.set_block_style()
        return tenants[name]

    for tenant in order:
        folders = layouts[tenant].folders
        if folders is not None:
            tenant_map(tenant)["connectors"] = _flow(folders)
            said.append(f"tenants.{tenant}.connectors: [{', '.join(folders)}]")
    if derivation.values:
        if "defaults" in root and root["defaults"] is None:  # `defaults:` written empty
            root["defaults"] = CommentedMap()
        elif "defaults" not in root:
            root.insert(list(root).index("tenants"), "defaults", CommentedMap())
        defaults = root["defaults"]
        if defaults.get("vars") is None:
            defaults["vars"] = CommentedMap()
        dvars = defaults["vars"]
        for variable, values in derivation.values.items():
            if variable not in dvars:
                default = derivation.default_of(variable, order)
                dvars[variable] = _flow(list(default)) if isinstance(default, list) else default
                said.append(f"defaults.vars.{variable} (the most common value)")
            default = plain_value(dvars[variable])
            for tenant in order:
                if tenant not in values:
                    continue
                value = values[tenant]
                own = tenant_map(tenant).get("vars")
                effective = plain_value(own[variable]) if own is not None and variable in own else default
                if effective == value:
                    continue
                if own is None:
                    tenant_map(tenant)["vars"] = own = CommentedMap()
                own[variable] = _flow(list(value)) if isinstance(value, list) else value
                said.append(f"tenants.{tenant}.vars.{variable}")
    if said:
        buffer = io.StringIO()
        yaml.dump(root, buffer)
        write_atomic(config_file, buffer.getvalue())
    return said
