"""``--target KIND/NAME``: limiting a run to some connectors, as Terraform's ``-target``.

Contracts:
- A target is ``KIND/NAME``; both parts are globs (``*``, ``?``, ``[...]``), matched case-insensitively
  (connector names are), and the kind part must match ``InboundConnector`` or ``OutboundConnector``.
  :func:`parse_targets` raises :class:`ConfigError` for anything else.
- No targets means everything: every function here is then the identity.
- :func:`select` keeps the desired connectors a target matches by name or by a ``renamed_from`` name,
  and the live connectors a target matches or that a kept connector's ``renamed_from`` names: a target
  matching either name of a rename plans the rename, never a delete.  Everything else is out of the run,
  and the ``unmanaged`` policy only sees the live connectors kept.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from reconciler.errors import ConfigError
from reconciler.live import LiveState
from reconciler.model import KINDS, Connector

_GLOB = re.compile(r"([*?\[])")


@dataclass(frozen=True)
class Target:
    """One ``--target`` as given (``text``) and its two globs."""

    text: str
    kind: str
    name: str

    def matches(self, kind: str, name: str) -> bool:
        return fnmatchcase(kind.casefold(), self.kind) and fnmatchcase(name.casefold(), self.name)


def parse_target(text: str) -> Target:
    """``KIND/NAME`` -> a :class:`Target`; :class:`ConfigError` saying what is wrong."""
    kind, slash, name = text.partition("/")
    if not slash or not kind.strip() or not name.strip():
        raise ConfigError(
            f"--target {text!r}: expected KIND/NAME, like InboundConnector/'Inbound from *' or '*/Partner*'"
        )
    target = Target(text, kind.strip().casefold(), name.strip().casefold())
    if not any(fnmatchcase(k.casefold(), target.kind) for k in KINDS):
        raise ConfigError(f"--target {text!r}: the kind matches neither {' nor '.join(KINDS)}")
    return target


def target_argument(kind: str, name: str) -> str:
    """``KIND/NAME`` as a ``--target`` argument that matches only this connector, quoted for a POSIX
    shell (the name's glob characters escaped)."""
    return shlex.quote(_GLOB.sub(r"[\1]", f"{kind}/{name}"))


def parse_targets(texts: Sequence[str]) -> tuple[Target, ...]:
    """Every ``--target`` parsed (see :func:`parse_target`)."""
    return tuple(parse_target(text) for text in texts)


def targeted(targets: Sequence[Target], kind: str, name: str) -> bool:
    """True when no target is given or one matches the connector."""
    return not targets or any(t.matches(kind, name) for t in targets)


def unmatched(targets: Sequence[Target], connectors: Iterable[tuple[str, str]]) -> list[Target]:
    """The targets that match none of ``connectors`` (``(kind, name)`` pairs): a typo plans nothing."""
    left = list(targets)
    for kind, name in connectors:
        left = [t for t in left if not t.matches(kind, name)]
        if not left:
            break
    return left


def select(
    targets: Sequence[Target], desired: Sequence[Connector], live: LiveState
) -> tuple[list[Connector], LiveState]:
    """The desired connectors and the live state within ``targets`` (see the module's contracts)."""
    if not targets:
        return list(desired), live
    chosen = [c for c in desired if any(targeted(targets, c.KIND, n) for n in (c.name, *c.renamed_from))]
    renamed = {(c.KIND, old.casefold()) for c in chosen for old in c.renamed_from}
    kept = [
        c
        for c in live.connectors
        if targeted(targets, c.kind, c.name) or (c.kind, c.name.casefold()) in renamed
    ]
    return chosen, LiveState(live.tenant, kept)
