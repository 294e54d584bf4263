"""``${...}`` references in connector files, resolved for one tenant on the located YAML tree.

A reference is ``${vars.NAME}`` (the tenant's ``vars``, merged with ``defaults.vars``), ``${tenant.name}``
or ``${tenant.organization}``; ``$${`` writes a literal ``${``.  See docs/fleet.md.

Contracts:
- :func:`resolve` never modifies its input (a parsed file is shared by every tenant that uses it): it
  returns a new tree where it changed something, sharing every unchanged node.
- A scalar that is exactly one reference takes the variable's value and type (a list variable becomes a
  list); a reference inside other text is replaced by the variable's text (a list there is an error).
  Every new node carries the reference's mark, so a later validation error is located at the reference.
- An unknown or undefined reference is a :class:`Problem` at the reference naming the tenant.
  ``origins`` maps each place a substituted value is reported at (the value, and the top-level key
  holding it) to a note saying where the value came from and for which tenant.
- Scanning is linear in the text (an unclosed ``${`` ends the search for references: no later ``}``
  can close anything), and substitution is bounded by an :class:`ExpansionBudget`: at most
  :data:`MAX_EXPANDED_BYTES_PER_FILE` substituted characters per file and
  :data:`MAX_EXPANDED_BYTES_PER_TENANT` per tenant; past either, one problem at the reference that
  crossed it names the file and the limit, and that file resolves no further.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Location, Problem
from reconciler.model import did_you_mean
from reconciler.yamlio import YAlias, YEntry, YMap, YNode, YScalar, YSeq

_OPEN = re.compile(r"\$\$\{|\$\{")
#: Most characters ``${...}`` substitution may add to one file's values, and to one tenant's (all files).
MAX_EXPANDED_BYTES_PER_FILE = 1 << 20
MAX_EXPANDED_BYTES_PER_TENANT = 8 << 20


class ExpansionBudget:
    """Characters substituted so far for one tenant, in total and per file (see the module contracts).

    One budget serves every file of one tenant's load; :func:`resolve` without one uses a fresh budget.
    """

    def __init__(
        self, per_file: int = MAX_EXPANDED_BYTES_PER_FILE, per_tenant: int = MAX_EXPANDED_BYTES_PER_TENANT
    ) -> None:
        self.per_file = per_file
        self.per_tenant = per_tenant
        self.tenant_used = 0
        self.file_used: dict[str, int] = {}
        #: Files whose budget ran out (resolving them again reports nothing new).
        self.exhausted: set[str] = set()

    def spend(self, loc: Location, size: int, tenant: str) -> Problem | None:
        """Count ``size`` substituted characters at ``loc``; a problem when a limit is crossed."""
        used = self.file_used.get(loc.path, 0) + size
        self.file_used[loc.path] = used
        self.tenant_used += size
        if used > self.per_file:
            where, limit = f"in {loc.path}", self.per_file
        elif self.tenant_used > self.per_tenant:
            where, limit = "in all the files", self.per_tenant
        else:
            return None
        self.exhausted.add(loc.path)
        return Problem(
            loc,
            f"${{...}} references expand to more than {_size(limit)} of text {where} for tenant {tenant} "
            "(the limit on substituted text keeps a file from growing out of all proportion): reference a "
            "variable fewer times, or shorten it",
        )


def _size(limit: int) -> str:
    return f"{limit >> 20} MiB ({limit:,} characters)" if limit % (1 << 20) == 0 else f"{limit:,} characters"


class _OverBudget(Exception):
    """The expansion budget ran out; the problem is recorded."""


def _pieces(text: str) -> tuple[list[tuple[str, str | None]], str]:
    """``text`` as (literal before, reference) pairs, the reference None for ``$${``, and the literal
    tail.  Linear: after a ``${`` that no ``}`` closes, the rest is literal (so is reported as unclosed)."""
    pieces: list[tuple[str, str | None]] = []
    position = 0
    while (match := _OPEN.search(text, position)) is not None:
        if match.group() == "$${":
            pieces.append((text[position : match.start()], None))
            position = match.end()
            continue
        close = text.find("}", match.end())
        if close < 0:
            break
        pieces.append((text[position : match.start()], text[match.end() : close]))
        position = close + 1
    return pieces, text[position:]


@dataclass(frozen=True)
class Binding:
    """A variable's value and where it is set (None for values exoform supplies, like the tenant name)."""

    value: Any
    where: Location | None = None


@dataclass(frozen=True)
class Scope:
    """What references resolve to for one tenant: ``vars.NAME``, ``tenant.name``, ``tenant.organization``."""

    tenant: str
    bindings: dict[str, Binding]


@dataclass
class Resolved:
    """A resolved tree, the problems found, and the origin notes of substituted values."""

    root: YNode
    problems: list[Problem] = field(default_factory=list)
    origins: dict[Location, str] = field(default_factory=dict)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar_node(loc: Location, value: Any) -> YScalar:
    return YScalar(loc, value=value, text=_text(value))


class _Resolver:
    def __init__(self, scope: Scope, budget: ExpansionBudget) -> None:
        self.scope = scope
        self.budget = budget
        self.problems: list[Problem] = []
        self.origins: dict[Location, str] = {}
        self.notes: list[str] = []
        self.memo: dict[int, YNode] = {}

    def lookup(self, reference: str, loc: Location) -> Binding | None:
        binding = self.scope.bindings.get(reference)
        if binding is not None:
            return binding
        tenant = self.scope.tenant
        if reference.startswith("vars."):
            name = reference.removeprefix("vars.")
            known = [k.removeprefix("vars.") for k in self.scope.bindings if k.startswith("vars.")]
            message = (
                f"undefined variable '{name}' for tenant {tenant}{did_you_mean(name, known)}: define it in "
                f"exoform.yaml under tenants.{tenant}.vars or defaults.vars"
            )
        elif reference == "tenant.organization":
            message = (
                f"${{tenant.organization}}: tenant {tenant} has no organization (set organization: in "
                "exoform.yaml; provider: exchange tenants have one)"
            )
        else:
            message = (
                f"unknown reference '${{{reference}}}': use ${{vars.NAME}}, ${{tenant.name}} or "
                "${tenant.organization} (write $${ for a literal ${)"
            )
        self.problems.append(Problem(loc, message))
        return None

    def note(self, reference: str, binding: Binding) -> None:
        if binding.where is not None:
            self.notes.append(f"${{{reference}}} is set at {binding.where} for tenant {self.scope.tenant}")
        else:
            self.notes.append(f"${{{reference}}} is {_text(binding.value)!r} for tenant {self.scope.tenant}")

    def spend(self, loc: Location, value: Any) -> None:
        size = sum(len(_text(v)) + 1 for v in value) if isinstance(value, list) else len(_text(value))
        problem = self.budget.spend(loc, size, self.scope.tenant)
        if problem is not None:
            self.problems.append(problem)
            raise _OverBudget

    def scalar(self, node: YScalar) -> YNode:
        text = node.value
        if not isinstance(text, str) or "${" not in text:
            return node
        pieces, tail = _pieces(text)
        if len(pieces) == 1 and pieces[0][0] == "" and pieces[0][1] is not None and tail == "":
            reference = pieces[0][1].strip()
            binding = self.lookup(reference, node.loc)
            if binding is None:
                return node
            self.spend(node.loc, binding.value)
            self.note(reference, binding)
            if isinstance(binding.value, list):
                return YSeq(node.loc, items=[_scalar_node(node.loc, v) for v in binding.value])
            return _scalar_node(node.loc, binding.value)
        parts: list[str] = []
        for literal, raw in pieces:
            self.literal(literal, node.loc)
            parts.append(literal)
            if raw is None:
                parts.append("${")
                continue
            reference = raw.strip()
            binding = self.lookup(reference, node.loc)
            if binding is None:
                continue
            if isinstance(binding.value, list):
                self.problems.append(
                    Problem(
                        node.loc,
                        f"${{{reference}}} is a list for tenant {self.scope.tenant}; a list cannot be part "
                        "of text: write the reference alone as the whole value of a list field",
                    )
                )
                continue
            self.spend(node.loc, binding.value)
            self.note(reference, binding)
            parts.append(_text(binding.value))
        self.literal(tail, node.loc)
        parts.append(tail)
        value = "".join(parts)
        return YScalar(node.loc, node.anchor, value=value, text=value)

    def literal(self, text: str, loc: Location) -> None:
        """A problem when plain text between references holds a ``${`` that no ``}`` closes."""
        if "${" in text:
            self.problems.append(
                Problem(loc, "'${' without a closing '}': write ${vars.NAME}, or $${ for a literal ${")
            )

    def node(self, node: YNode) -> YNode:
        result: YNode
        if isinstance(node, YAlias):
            target = self.memo.get(id(node.target))
            if target is None:
                target = self.node(node.target)
            result = node if target is node.target else YAlias(node.loc, node.anchor, target=target)
        elif isinstance(node, YScalar):
            result = self.scalar(node)
        elif isinstance(node, YSeq):
            items = [self.node(item) for item in node.items]
            changed = any(new is not old for new, old in zip(items, node.items, strict=True))
            result = YSeq(node.loc, node.anchor, items=items) if changed else node
        elif isinstance(node, YMap):
            entries = {key: self.entry(entry) for key, entry in node.entries.items()}
            changed = any(entries[key] is not entry for key, entry in node.entries.items())
            result = YMap(node.loc, node.anchor, entries=entries) if changed else node
        else:
            result = node
        if node.anchor:
            self.memo[id(node)] = result
        return result

    def entry(self, entry: YEntry) -> YEntry:
        before = len(self.notes)
        value = self.node(entry.value)
        if value is entry.value:
            return entry
        notes = self.notes[before:]
        if notes:
            note = "; ".join(dict.fromkeys(notes))
            self.origins.setdefault(entry.key_loc, note)
            self.origins.setdefault(value.loc, note)
        return YEntry(entry.key, entry.key_loc, value)


def resolve(root: YNode, scope: Scope, budget: ExpansionBudget | None = None) -> Resolved:
    """``root`` with every reference resolved for ``scope``'s tenant (see the module's contracts).

    ``budget`` is shared by every document of one tenant's load; a file whose budget already ran out is
    returned unresolved, with no further problem (the first was reported to the same load)."""
    budget = budget if budget is not None else ExpansionBudget()
    resolver = _Resolver(scope, budget)
    if root.loc.path in budget.exhausted or budget.tenant_used > budget.per_tenant:
        return Resolved(root)
    try:
        new_root = resolver.node(root)
    except _OverBudget:
        return Resolved(root, resolver.problems, resolver.origins)
    return Resolved(new_root, resolver.problems, resolver.origins)


def explained(problems: list[Problem], origins: dict[Location, str]) -> list[Problem]:
    """``problems`` with the origin note appended to each one located at a substituted value."""
    return [
        Problem(p.location, f"{p.message} ({origins[p.location]})", p.severity)
        if p.location in origins
        else p
        for p in problems
    ]


@dataclass(frozen=True)
class ValueOrigin:
    """How a value written in a file (before resolution) gets its value for a tenant: literally (no
    reference), from exactly one variable (``${vars.NAME}`` as the whole value: ``variable`` is NAME), or
    from an expression exoform cannot invert (a reference inside text or list items, ``${tenant...}``)."""

    #: Every reference the value uses, in order (``vars.filter_ips``, ``tenant.name``).
    references: tuple[str, ...] = ()
    variable: str | None = None

    @property
    def literal(self) -> bool:
        return not self.references


def value_origin(node: YNode) -> ValueOrigin:
    """Where the unresolved value ``node`` (a field's value as the file writes it) gets its value."""
    found: list[str] = []

    def walk(item: YNode) -> None:
        if isinstance(item, YAlias):
            walk(item.target)
        elif isinstance(item, YScalar) and isinstance(item.value, str) and "${" in item.value:
            pieces, _ = _pieces(item.value)
            found.extend(raw.strip() for _, raw in pieces if raw is not None)
        elif isinstance(item, YSeq):
            for child in item.items:
                walk(child)
        elif isinstance(item, YMap):
            for entry in item.entries.values():
                walk(entry.value)

    walk(node)
    target = node.target if isinstance(node, YAlias) else node
    if isinstance(target, YScalar) and isinstance(target.value, str):
        pieces, tail = _pieces(target.value)
        if len(pieces) == 1 and pieces[0][0] == "" and pieces[0][1] is not None and tail == "":
            reference = pieces[0][1].strip()
            if reference.startswith("vars."):
                return ValueOrigin(tuple(found), reference.removeprefix("vars."))
    return ValueOrigin(tuple(found))


def field_origins(
    fields: dict[str, Location], document: Location, origins: dict[Location, str], tenant: str
) -> dict[str, str]:
    """Where each field of a resolved connector gets its value when its own document does not write it
    literally, for a plan's change to carry: the references it uses (``${vars.NAME} is set at
    exoform.yaml:LINE:COL``), or the override that sets it (``the Override at FILE:LINE:COL``).

    ``fields`` are the connector's top-level keys and where each is written (an overridden key is in the
    override's file), ``document`` where the connector's document starts, ``origins`` the tenant's notes
    of :class:`Resolved` (keyed by where each substituted key is written)."""
    found: dict[str, str] = {}
    for name, loc in fields.items():
        note = origins.get(loc)
        if note is not None:
            found[name] = note.replace(f" for tenant {tenant}", "")
        elif loc.path != document.path:
            found[name] = f"the Override at {loc}"
    return found
