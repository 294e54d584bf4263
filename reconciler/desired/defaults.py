"""``defaults:`` in ``exoform.yaml``: settings every tenant inherits, merged on the located tree.

Contracts:
- :func:`defaults_problems` validates the ``defaults:`` block on its own (every setting optional), each
  problem located in the block.
- :func:`with_defaults` returns the file's tree with each tenant's mapping completed by the defaults it
  does not set itself, key by key; ``vars`` are merged by name (the tenant's value wins).  A default that
  belongs to another provider than the tenant's (a setting of another provider's settings model, see
  :func:`reconciler.providers.registry.foreign_settings`) is not inherited.  Inherited nodes keep their
  marks, so a later error about an inherited value points at the line of ``defaults:`` that wrote it.
  The input tree is not modified.
"""

from __future__ import annotations

from pydantic import ValidationError

from reconciler.desired.config import TenantConfig, TenantDefaults
from reconciler.errors import Problem
from reconciler.providers.registry import foreign_settings
from reconciler.yamlio import AliasBudget, TooBig, YEntry, YMap, YNode, YScalar, deref, to_python
from reconciler.yamlio.problems import validation_problems

DEFAULT_PROVIDER: str = TenantConfig.model_fields["provider"].default


def _mapping(node: YNode | None) -> YMap | None:
    target = deref(node) if node is not None else None
    return target if isinstance(target, YMap) else None


def _blank(node: YNode) -> bool:
    target = deref(node)
    return isinstance(target, YScalar) and target.text == "" and target.value is None


def defaults_problems(root: YNode, display: str) -> list[Problem]:
    """Every problem of the ``defaults:`` block of ``root`` (none when there is no such block)."""
    mapping = _mapping(root)
    entry = mapping.entries.get("defaults") if mapping is not None else None
    if entry is None:
        return []
    block = entry.value
    if _blank(block):
        return []
    try:
        data = to_python(block, AliasBudget(display))
    except TooBig as exc:
        return [exc.problem]
    try:
        TenantDefaults.model_validate(data)
    except ValidationError as exc:
        return validation_problems(exc, block, entry.key_loc, TenantDefaults, prefix=("defaults",))
    return []


def _provider(tenant: YMap, defaults: YMap) -> str:
    for source in (tenant, defaults):
        entry = source.entries.get("provider")
        value = deref(entry.value) if entry is not None else None
        if isinstance(value, YScalar) and isinstance(value.value, str):
            return value.value
    return DEFAULT_PROVIDER


def _merged(tenant: YMap, defaults: YMap) -> YMap:
    provider = _provider(tenant, defaults)
    foreign = foreign_settings(provider)
    entries = {key: e for key, e in defaults.entries.items() if key not in foreign}
    entries.update(tenant.entries)
    inherited, own = _mapping(defaults.entries["vars"].value) if "vars" in defaults.entries else None, None
    if "vars" in tenant.entries:
        own = _mapping(tenant.entries["vars"].value)
    if inherited is not None and own is not None:
        vars_entry = tenant.entries["vars"]
        merged_vars = YMap(own.loc, entries={**inherited.entries, **own.entries})
        entries["vars"] = YEntry("vars", vars_entry.key_loc, merged_vars)
    return YMap(tenant.loc, tenant.anchor, entries=entries)


def with_defaults(root: YNode) -> YNode:
    """``root`` with every tenant completed by ``defaults:`` (``root`` itself when there are none)."""
    mapping = _mapping(root)
    if mapping is None or "defaults" not in mapping.entries or "tenants" not in mapping.entries:
        return root
    defaults = _mapping(mapping.entries["defaults"].value)
    tenants_entry = mapping.entries["tenants"]
    tenants = _mapping(tenants_entry.value)
    if defaults is None or tenants is None:
        return root
    merged_tenants = YMap(tenants.loc, entries={})
    for name, entry in tenants.entries.items():
        tenant = _mapping(entry.value)
        if tenant is None and _blank(entry.value):
            tenant = YMap(entry.value.loc)  # `name:` alone: a tenant made of defaults only
        value: YNode = entry.value if tenant is None else _merged(tenant, defaults)
        merged_tenants.entries[name] = YEntry(name, entry.key_loc, value)
    entries = dict(mapping.entries)
    entries["tenants"] = YEntry("tenants", tenants_entry.key_loc, merged_tenants)
    return YMap(mapping.loc, mapping.anchor, entries=entries)
