"""The posture engine: what a rule is (:class:`Rule`, made with :func:`rule`), what its check yields
(:class:`Hit`), the engine's own rule (EXO-CFG-001: a skip naming no rule), and :func:`run`, which turns
hits into findings with their skips applied.

It runs on desired state (``exoform validate`` and ``exoform plan``) and on live state (status, drift), so
checks read models defensively: a live connector may break the service's own cross-field rules (see
:func:`reconciler.model.rule_violations`) and the engine must still give findings, never an exception.

Contracts:
- :func:`run` is pure and deterministic: the same connectors and skips give the same findings, sorted by
  rule id, kind, connector name (case-insensitive), field and message.
- A rule switched off in YAML (``skip_checks`` on a connector or on the tenant) still yields its
  findings, each with ``skipped_reason`` set: the plan shows them as skipped and
  :func:`reconciler.posture.findings.fails` never counts them.  A connector's own skip wins over the
  tenant's (its reason is the one shown).
- A skip naming a rule that does not exist is itself an error finding (:data:`UNKNOWN_RULE`), which cannot
  be switched off, so a typo never silently disables nothing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from reconciler.model import Connector, SkipCheck
from reconciler.posture.findings import Finding, Severity

_DOCS = "https://learn.microsoft.com/exchange/mail-flow-best-practices/use-connectors-to-configure-mail-flow"
REF_NEW_INBOUND = "https://learn.microsoft.com/powershell/module/exchangepowershell/new-inboundconnector"
REF_NEW_OUTBOUND = "https://learn.microsoft.com/powershell/module/exchangepowershell/new-outboundconnector"
REF_PARTNER = f"{_DOCS}/set-up-connectors-for-secure-mail-flow-with-a-partner"
REF_EF = f"{_DOCS}/enhanced-filtering-for-connectors"
REF_MIXING = "https://github.com/MicrosoftDocs/OfficeDocs-Exchange/pull/1041"
REF_ROUTING = f"{_DOCS}/set-up-connectors-to-route-mail"
REF_POSTURE_DOC = "docs/posture.md"


@dataclass(frozen=True)
class Hit:
    """What a rule's check yields: the connector at fault (None: tenant-wide), the field, the message.

    ``also_skipped_by`` lists other connectors whose skip of the rule silences this hit too (a finding
    about a pair of connectors is reported once, on one of them, but either may carry the skip).
    """

    connector: Connector | None
    field: str | None
    message: str
    also_skipped_by: tuple[Connector, ...] = ()


Check = Callable[[Sequence[Connector]], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A posture rule: a stable id, a severity, a one-line title, a reference and the check itself
    (made by decorating the check with :func:`rule`, so all five stay in one place).

    ``check`` receives every connector of the tenant (both kinds) and yields a :class:`Hit` per risk.
    ``skippable`` is False only for the engine's own configuration rule.
    """

    id: str
    severity: Severity
    title: str
    reference: str
    check: Check = field(repr=False, compare=False)
    skippable: bool = True


def rule(
    rule_id: str, severity: Severity, title: str, reference: str, *, skippable: bool = True
) -> Callable[[Check], Rule]:
    """Make the decorated check a :class:`Rule`, so a rule's id, severity, title and check stay together."""

    def make(check: Check) -> Rule:
        return Rule(rule_id, severity, title, reference, check, skippable)

    return make


@rule(
    "EXO-CFG-001",
    "error",
    "A skip_checks entry names a rule that does not exist (or one that cannot be switched off)",
    REF_POSTURE_DOC,
    skippable=False,
)
def config_rule(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # EXO-CFG-001 is about skips, not connectors; :func:`run` reports it itself.
    return iter(())


UNKNOWN_RULE = config_rule.id


def _rule_key(rule_id: str) -> str:
    return rule_id.strip().upper()


def _skips_of(c: Connector) -> list[SkipCheck]:
    skips = getattr(c, "skip_checks", None)
    return list(skips) if isinstance(skips, list) else []


def _skip_reason(skips: Sequence[SkipCheck], rule_id: str) -> str | None:
    for skip in skips:
        if _rule_key(skip.rule) == rule_id:
            return skip.reason
    return None


def _unknown_skip(skip: SkipCheck, where: str, rules: Sequence[Rule]) -> str:
    key = _rule_key(skip.rule)
    rule = next((r for r in rules if r.id == key), None)
    if rule is not None and not rule.skippable:
        return f"{where} tries to switch off {rule.id}, which cannot be switched off. Fix: remove the entry."
    close = difflib.get_close_matches(key, [r.id for r in rules if r.skippable], n=1)
    hint = f" Did you mean {close[0]}?" if close else ""
    return (
        f"{where} names rule '{skip.rule}', which does not exist, so it switches nothing off.{hint} "
        f"Fix: use one of the rule ids listed in {REF_POSTURE_DOC}, or remove the entry."
    )


def _config_findings(
    connectors: Sequence[Connector], tenant_skips: Sequence[SkipCheck], rules: Sequence[Rule]
) -> list[Finding]:
    skippable = {r.id for r in rules if r.skippable}

    def known(skip: SkipCheck) -> bool:
        return _rule_key(skip.rule) in skippable

    config = config_rule
    places: list[tuple[Connector | None, Sequence[SkipCheck]]] = [(None, tenant_skips)]
    places += [(c, _skips_of(c)) for c in connectors]
    found = []
    for c, skips in places:
        where = "tenant skip_checks" if c is None else "skip_checks of this connector"
        for skip in skips:
            if not known(skip):
                found.append(
                    Finding(
                        rule=config.id,
                        severity=config.severity,
                        kind=c.kind if c is not None else None,
                        name=c.name if c is not None else None,
                        message=_unknown_skip(skip, where, rules),
                        reference=config.reference,
                        field="skip_checks",
                    )
                )
    return found


def run(
    rules: Sequence[Rule], connectors: Sequence[Connector], tenant_skips: Sequence[SkipCheck] = ()
) -> list[Finding]:
    """Every finding of ``rules`` over one tenant's connectors, skipped ones included, in a stable order
    (:func:`reconciler.posture.rules.check` runs every rule; see its contract)."""
    findings = _config_findings(connectors, tenant_skips, rules)
    for rule in rules:
        for hit in rule.check(connectors):
            reason = None
            if rule.skippable:
                if hit.connector is not None:
                    reason = _skip_reason(_skips_of(hit.connector), rule.id)
                for other in hit.also_skipped_by:
                    if reason is None:
                        other_reason = _skip_reason(_skips_of(other), rule.id)
                        if other_reason is not None:
                            reason = f"{other_reason} (skipped on '{other.name}')"
                if reason is None:
                    reason = _skip_reason(tenant_skips, rule.id)
            c = hit.connector
            findings.append(
                Finding(
                    rule=rule.id,
                    severity=rule.severity,
                    kind=c.kind if c is not None else None,
                    name=c.name if c is not None else None,
                    message=hit.message,
                    reference=rule.reference,
                    field=hit.field,
                    skipped_reason=reason,
                )
            )
    findings.sort(
        key=lambda f: (
            f.rule,
            f.kind or "",
            (f.name or "").casefold(),
            f.name or "",
            f.field or "",
            f.message,
        )
    )
    return findings
