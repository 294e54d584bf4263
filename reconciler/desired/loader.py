"""``exoform.yaml`` -> a validated :class:`ExoformConfig`, and the choice of tenants to work on.

Contracts:
- :func:`load_config` raises :class:`InputError` listing every problem of the file, each located (the
  YAML is read by :mod:`reconciler.yamlio`); :func:`select_tenants` raises :class:`ConfigError`.
- ``env:`` references are not resolved here (see :func:`reconciler.desired.config.resolve_secret`);
  :func:`check_env` only reports the unset ones, never a value.
- ``defaults:`` is merged into every tenant before validation (:mod:`reconciler.desired.defaults`), so each
  tenant's settings are complete and an inherited value's problem is located in ``defaults:``.
- Connector files are read by :mod:`reconciler.desired.connectors`.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from pathlib import Path

from pydantic import ValidationError

from reconciler.desired.config import ExoformConfig, resolve_value
from reconciler.desired.defaults import defaults_problems, with_defaults
from reconciler.errors import ConfigError, InputError, Location, Problem, quote
from reconciler.model import did_you_mean
from reconciler.yamlio import (
    AliasBudget,
    TooBig,
    YMap,
    YNode,
    deref,
    display_path,
    locate,
    parse_file,
    to_python,
)
from reconciler.yamlio.problems import fields_at, validation_problems


def load_config(path: Path) -> ExoformConfig:
    """``exoform.yaml``, validated; paths inside it are relative to its folder.

    Raises :class:`InputError` with every problem of the file, each located.
    """
    display = display_path(path)
    if not path.is_file():
        raise InputError([Problem(Location(display), "file not found (give another with --config PATH)")])
    documents, problems = parse_file(path, display)
    if problems:
        raise InputError(problems)
    if not documents:
        raise InputError([Problem(Location(display), "the file is empty; declare tenants: (see the README)")])
    if len(documents) > 1:
        raise InputError(
            [Problem(documents[1].loc, "exoform.yaml holds one document; remove the extra '---'")]
        )
    document = documents[0]
    root = document.root
    if root is None:
        raise InputError([Problem(document.loc, "the document is empty; declare tenants: (see the README)")])
    if not isinstance(deref(root), YMap):
        raise InputError([Problem(root.loc, "exoform.yaml must be a mapping with a tenants: key")])
    mapping = deref(root)
    assert isinstance(mapping, YMap)
    if "base_dir" in mapping.entries:
        entry = mapping.entries["base_dir"]
        hint = did_you_mean("base_dir", fields_at(ExoformConfig, []))
        raise InputError([Problem(entry.key_loc, f"unknown field 'base_dir'{hint}")])
    problems = defaults_problems(root, display)
    if problems:
        raise InputError(problems)
    root = with_defaults(root)
    try:
        data = to_python(root, AliasBudget(display))
    except TooBig as exc:
        raise InputError([exc.problem]) from None
    try:
        config = ExoformConfig.model_validate(data)
    except ValidationError as exc:
        raise InputError(validation_problems(exc, root, document.loc, ExoformConfig)) from None
    config = config.model_copy(update={"base_dir": path.resolve().parent})
    config._source = root
    return config


def config_location(config: ExoformConfig, *path: str | int) -> Location:
    """Where a setting of ``exoform.yaml`` is written (its key), or the file's start when not known."""
    root = config._source
    if isinstance(root, YNode):
        return locate(root, path, at_key=False)
    return Location("exoform.yaml")


def select_tenants(config: ExoformConfig, patterns: Sequence[str]) -> list[str]:
    """The tenants named by ``patterns`` (names or fnmatch globs), in the file's order; all when empty.

    Raises :class:`ConfigError` when a pattern matches no tenant.
    """
    names = list(config.tenants)
    if not patterns:
        return names
    chosen: set[str] = set()
    for pattern in patterns:
        matched = [n for n in names if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            hint = did_you_mean(pattern, names)
            raise ConfigError(f"no tenant matches {quote(pattern)}{hint}; tenants: {', '.join(names)}")
        chosen.update(matched)
    return [n for n in names if n in chosen]


def check_env(config: ExoformConfig, tenants: Sequence[str]) -> list[Problem]:
    """A located problem for every ``env:`` reference of ``tenants`` whose variable is unset: credentials
    of ``auth`` and ``apply_auth``, their ``client_id``, and ``ca_bundle``.

    A reference several tenants inherit from ``defaults:`` is one problem, located there and naming the
    tenants.  Values are read only to see that they exist; they never appear in a problem.
    """
    found: dict[tuple[Location, str], list[str]] = {}
    for tenant in tenants:
        settings = config.tenants[tenant]
        references: list[tuple[tuple[str, ...], str | None]] = [(("ca_bundle",), settings.ca_bundle)]
        for key in ("auth", "apply_auth"):
            auth = getattr(settings, key)
            if auth is None:
                continue
            references += [((key, "client_id"), auth.client_id), ((key, "client_secret"), auth.client_secret)]
            if auth.certificate is not None:
                references += [
                    ((key, "certificate", "pem"), auth.certificate.pem),
                    ((key, "certificate", "passphrase"), auth.certificate.passphrase),
                ]
        for path, reference in references:
            if reference is None:
                continue
            try:
                resolve_value(reference)
            except ConfigError as exc:
                loc = config_location(config, "tenants", tenant, *path)
                found.setdefault((loc, str(exc)), []).append(tenant)
    return [Problem(loc, f"{_tenants(names)}: {text}") for (loc, text), names in found.items()]


def once_per_cause(failures: Sequence[tuple[str, str]]) -> list[str]:
    """Tenants' error messages, ``(tenant, message)``, as lines to print: a missing environment variable
    that several tenants share (one inherited from ``defaults:``) once, naming the tenants; every other
    message as it is, in the order first seen."""
    groups: dict[str, list[str]] = {}
    lines: list[str | tuple[str]] = []
    for tenant, message in failures:
        cause = message.removeprefix(f"tenant {tenant}: ")
        if not _UNSET_RE.match(cause):
            lines.append(message)
            continue
        if cause not in groups:
            groups[cause] = []
            lines.append((cause,))
        groups[cause].append(tenant)
    return [line if isinstance(line, str) else f"{_tenants(groups[line[0]])}: {line[0]}" for line in lines]


_UNSET_RE = re.compile(r"environment variable \S+ is not set\b")


def _tenants(names: list[str]) -> str:
    return f"tenant {names[0]}" if len(names) == 1 else f"tenants {', '.join(names)}"
