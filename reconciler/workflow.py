"""Plan and apply across tenants: load, read, plan, check, apply -- one tenant's failure never stops another.

Every command that reaches a tenant runs through here: plan and drift (:func:`plan_tenants`), apply
(:func:`apply_plan`), export (:func:`read_tenant`) and ``status --validate`` (:func:`validate_outbound`).

Contracts:
- A run's providers share one :class:`~reconciler.providers.session.Session` (HTTP clients, listing
  threads, what was learned of each service), made by ``new_session`` when the call starts and closed
  when it returns: this module is the one place a run's session is opened and closed.  Tests pass a
  ``new_session`` whose session has a fake clock and sleep, so retries wait no real time.
- Tenants are planned concurrently (``parallelism``); each outcome holds a plan or the error that
  stopped that tenant (a failed read is an error, never an empty tenant).
- :func:`plan_of` makes one :class:`~reconciler.plan.Plan` of every outcome: a failed tenant is in it,
  with its error, never left out.
- Posture rules run on the files and on the live connectors; a live finding says so (``source: live``)
  and one the files give too is not repeated (see docs/posture.md).
- A ``traffic: true`` tenant's message trace is read once, through the provider its connectors were read
  with, and only when there is something to say (:func:`traffic_findings`); its findings are
  ``source: traffic`` and a failed read is one of them ("unknown"), never the tenant's error.
- :func:`apply_plan` applies only tenants the plan names, refusing any whose target (cloud, endpoint and
  organization; or the local state file) is no longer the one the plan was made against, and checks each
  tenant's plan again under the current ``exoform.yaml`` (:func:`reconciler.reconcile.applier.apply_tenant`),
  and the whole plan against ``max_tenants_changed`` (unless forced).  With a ``ring`` it applies only
  that ring's tenants, and none of them while a tenant of an earlier ring lacks the plan's changes.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import TenantDesired
from reconciler.desired.revision import BaseDesired
from reconciler.errors import ConfigError, ExoformError, PlanError
from reconciler.live import LiveConnector, LiveState
from reconciler.model import Kind, SkipCheck
from reconciler.plan import Base, Plan, TenantPlan
from reconciler.posture.findings import Finding
from reconciler.providers.base import BaseProvider
from reconciler.providers.session import Session
from reconciler.reconcile.applier import ApplyReport, ChangeResult, apply_tenant, pending_changes
from reconciler.reconcile.cause import mark_at_base
from reconciler.reconcile.planner import plan_tenant, target_of
from reconciler.reconcile.policy import fleet_unsafe_reasons, ring_split
from reconciler.reconcile.targeting import Target, select, targeted

#: ``opener(tenant, settings, config)``: a tenant's provider (tests pass their own).
Opener = Callable[[str, TenantConfig, ExoformConfig], BaseProvider]
#: Makes a run's session: :class:`Session` itself, or (in tests) one in fake time.
SessionFactory = Callable[[], Session]


@dataclass
class TenantOutcome:
    """One tenant's plan, or the error that stopped it (with its live state, for status and export)."""

    tenant: str
    plan: TenantPlan | None = None
    live: LiveState | None = None
    error: str | None = None
    target: str = ""
    #: Why the plan's changes are not marked against ``plan --base`` (its files at the base do not load).
    base_problem: str | None = None

    def tenant_plan(self) -> TenantPlan:
        """The tenant's plan, or a failed one carrying the error."""
        if self.plan is not None:
            return self.plan
        return TenantPlan.failed_with(self.tenant, self.target, self.error or "the tenant was not planned")


def plan_of(
    outcomes: Sequence[TenantOutcome], max_tenants_changed: int | None = None, base: Base | None = None
) -> Plan:
    """The plan of every outcome, in order: planned tenants and failed ones (with their error), unsafe as a
    whole when it changes more than ``max_tenants_changed`` tenants (None: no limit); ``base``: the
    revision the changes' causes were marked against (``plan --base``)."""
    plan = Plan([o.tenant_plan() for o in outcomes], base=base)
    plan.unsafe_reasons = fleet_unsafe_reasons(plan, max_tenants_changed)
    return plan


@contextmanager
def _opening(opener: Opener | None, new_session: SessionFactory, *, write: bool = False) -> Iterator[Opener]:
    """``opener``, else the registry's on a session of ``new_session`` open for the ``with`` block, with
    the tenants' write identities when ``write``."""
    if opener is not None:
        yield opener
        return
    from reconciler.providers.registry import open_provider

    with new_session() as run:

        def open_(tenant: str, settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
            return open_provider(tenant, settings, config, session=run, write=write)

        yield open_


def posture_findings(desired: TenantDesired, live: LiveState | None = None) -> list[Finding]:
    """The posture findings of a tenant's connector files and, given ``live``, of its live connectors.

    A live connector that a file declares takes that file's ``skip_checks``.  A live finding equal to a
    files finding (same rule, connector, field and message: the live values are the files') is left out;
    the others are marked ``source: live``, after the files' findings.  The files are also checked
    together with the live connectors no file declares (nor declares absent): what only that
    combination finds (a create whose sender IPs overlap an unmanaged connector's) is a files finding.
    """
    from reconciler import posture

    skips = desired.settings.skip_checks
    files = posture.check([c.connector for c in desired.connectors], skips)
    if live is None:
        return files
    declared = {}
    for loaded in desired.connectors:
        c = loaded.connector
        for name in (c.name, *c.renamed_from):
            declared[(c.kind, name.casefold())] = c
    gone = {(a.kind, a.name.casefold()) for a in desired.absent}
    known = declared.keys() | gone
    others = [lc.connector for lc in live.connectors if (lc.kind, lc.name.casefold()) not in known]
    if others:
        alone = {_same(f) for f in files} | {_same(f) for f in posture.check(others, skips)}
        both = posture.check([c.connector for c in desired.connectors] + others, skips)
        files += [f for f in both if _same(f) not in alone]
    connectors = []
    for lc in live.connectors:
        mine = declared.get((lc.kind, lc.name.casefold()))
        skips = list(mine.skip_checks) if mine is not None else []
        connectors.append(lc.connector.model_copy(update={"skip_checks": skips}))
    seen = {_same(f) for f in files}
    found = posture.check(connectors, desired.settings.skip_checks)
    return files + [replace(f, source="live") for f in found if _same(f) not in seen]


def _same(f: Finding) -> tuple[str, str | None, str, str | None, str]:
    return (f.rule, f.kind, (f.name or "").casefold(), f.field, f.message)


def _signed_in(
    config: ExoformConfig, desired: TenantDesired, opener: Opener
) -> tuple[BaseProvider | None, str | None]:
    """(the tenant's open, signed-in provider, None), or (None, the error that stopped it)."""
    try:
        provider = opener(desired.tenant, desired.settings, config)
    except ExoformError as exc:
        return None, str(exc)
    try:
        provider.sign_in()
    except ExoformError as exc:
        provider.close()
        return None, str(exc)
    except BaseException:
        provider.close()
        raise
    return provider, None


def _target(config: ExoformConfig, desired: TenantDesired) -> str:
    """The tenant's target (:func:`target_of`), or its provider and name when its settings cannot be
    resolved: that tenant then fails with the reason when its provider is opened, never the whole run."""
    try:
        return target_of(desired.tenant, desired.settings, config)
    except ExoformError:
        return f"{desired.settings.provider}:{desired.tenant}"


def _read_and_plan(
    config: ExoformConfig, desired: TenantDesired, provider: BaseProvider, scope: RunScope
) -> TenantOutcome:
    """Read the tenant through ``provider`` (closed afterwards) and plan it, with its traffic findings
    when it sets ``traffic: true`` (:func:`traffic_findings`); errors go into the outcome."""
    outcome = TenantOutcome(desired.tenant, target=_target(config, desired))
    try:
        live = provider.read()
        connectors = [c.connector for c in desired.connectors]
        if scope.keep_live:  # before planning: status shows a tenant whose plan is refused
            outcome.live = select(scope.targets, connectors, live)[1]
        outcome.plan = plan_tenant(
            desired.tenant,
            desired.settings,
            connectors,
            live,
            scope.targets,
            target=outcome.target,
            absent=desired.absent,
            sources=desired.sources(),
        )
        outcome.plan.findings = [
            f
            for f in posture_findings(desired, live)
            if f.kind is None or f.name is None or targeted(scope.targets, f.kind, f.name)
        ]
        if scope.base is not None:  # the same read, planned again at the base
            outcome.base_problem = mark_at_base(scope.base, outcome.plan, live, scope.targets)
        if desired.settings.traffic:
            outcome.plan.findings += traffic_findings(desired, outcome.plan, live, provider, scope)
    except ExoformError as exc:
        outcome.error = str(exc)
    finally:
        provider.close()
    return outcome


def traffic_findings(
    desired: TenantDesired, plan: TenantPlan, live: LiveState, provider: BaseProvider, scope: RunScope
) -> list[Finding]:
    """The usage findings of a ``traffic: true`` tenant (:mod:`reconciler.posture.usage`), from one
    message trace read through ``provider`` (within :data:`~reconciler.monitor.traffic.DEFAULT_BUDGET`
    requests): one per change of ``plan`` that cuts mail off and, with ``scope.unused``, one per targeted
    connector without traffic.  No request is sent when there is nothing to say (no such change, and not
    ``scope.unused``).  Never raises for the trace: a read that fails is an "unknown" finding."""
    from datetime import UTC, datetime

    from reconciler.monitor.traffic import DEFAULT_BUDGET, TenantTraffic, measure, parse_since
    from reconciler.posture.usage import cut_off, live_name, review_findings, unused_findings
    from reconciler.providers.trace import RequestBudget

    cutting = [c for c in plan.changes if cut_off(c) is not None]
    chosen = [c for c in live.connectors if targeted(scope.targets, c.kind, c.name)]
    if not scope.unused:
        wanted = {(c.kind, live_name(c).casefold()) for c in cutting}
        chosen = [c for c in chosen if (c.kind, c.name.casefold()) in wanted]
    if not chosen:
        return []
    end = datetime.now(UTC)
    start = end - parse_since(desired.settings.traffic_window)
    if "message_trace" not in provider.capabilities:
        report = TenantTraffic(
            tenant=desired.tenant,
            start=start,
            end=end,
            status="failed",
            error=f"tenant {desired.tenant}: its provider cannot read message trace",
        )
    else:
        reader = provider.message_trace(RequestBudget(DEFAULT_BUDGET))
        report = measure(desired.tenant, live, reader, start=start, end=end, connectors=chosen)
    skips: dict[tuple[Kind, str], Sequence[SkipCheck]] = {}
    for loaded in desired.connectors:
        c = loaded.connector
        for name in (c.name, *c.renamed_from):
            skips[(c.kind, name.casefold())] = c.skip_checks
    tenant_skips = desired.settings.skip_checks
    found = review_findings(cutting, report, skips, tenant_skips)
    if scope.unused:
        # A change's finding already speaks for its connector; a disabled connector carries no mail anyway.
        covered = {(c.kind, live_name(c).casefold()) for c in cutting}
        covered |= {(c.kind, c.name.casefold()) for c in chosen if c.connector.enabled is False}
        found += unused_findings(report, skips, tenant_skips, covered)
    return found


@dataclass(frozen=True)
class RunScope:
    """What a run covers and keeps: the ``--target`` patterns (none: every connector), and whether each
    outcome keeps the live state it was planned against (status and export need it; a plan does not, so
    a 1,000-tenant plan holds only the plans); with a ``base`` (``plan --base``), each change is marked
    with its cause (:mod:`reconciler.reconcile.cause`) from the same read of the tenant; ``unused``: whether
    ``traffic: true`` tenants list their connectors without traffic (a plan reads traffic only for the
    changes that cut mail off)."""

    targets: tuple[Target, ...] = ()
    keep_live: bool = True
    base: BaseDesired | None = None
    #: List the connectors without traffic of ``traffic: true`` tenants (status and drift).
    unused: bool = False


def plan_tenants(
    config: ExoformConfig,
    desired: Sequence[TenantDesired],
    *,
    parallelism: int = 8,
    opener: Opener | None = None,
    new_session: SessionFactory = Session,
    on_done: Callable[[TenantOutcome], None] | None = None,
    scope: RunScope = RunScope(),
) -> list[TenantOutcome]:
    """Plan every tenant of ``desired`` concurrently; outcomes in ``desired``'s order, each within
    ``scope`` (see :class:`RunScope`).

    At most ``parallelism`` tenants are read at once.  Signing in (opening the provider and fetching its
    token: round trips to the identity provider, not to the tenant) runs up to ``parallelism`` tenants
    ahead of the reads, so a tenant's sign-in overlaps other tenants' reads instead of delaying its own;
    at most ``2 * parallelism`` providers are open at any time.
    """
    with _opening(opener, new_session) as open_:
        return _plan_all(config, desired, max(1, parallelism), open_, on_done, scope)


def _plan_all(
    config: ExoformConfig,
    desired: Sequence[TenantDesired],
    width: int,
    open_: Opener,
    on_done: Callable[[TenantOutcome], None] | None,
    scope: RunScope,
) -> list[TenantOutcome]:
    open_slots = threading.BoundedSemaphore(2 * width)

    def sign_in(d: TenantDesired) -> tuple[BaseProvider | None, str | None]:
        open_slots.acquire()
        try:
            provider, error = _signed_in(config, d, open_)
        except BaseException:
            open_slots.release()
            raise
        if provider is None:
            open_slots.release()
        return provider, error

    def run(d: TenantDesired, signed: Future[tuple[BaseProvider | None, str | None]]) -> TenantOutcome:
        provider, error = signed.result()
        if provider is None:
            outcome = TenantOutcome(d.tenant, error=error, target=_target(config, d))
        else:
            try:
                outcome = _read_and_plan(config, d, provider, scope)
            finally:
                open_slots.release()
        if on_done is not None:
            on_done(outcome)
        return outcome

    # Both pools take tenants in order, so the reader waiting for a tenant's sign-in never waits behind a
    # later tenant's: a sign-in blocked on open_slots only waits for reads of earlier tenants to finish.
    with (
        ThreadPoolExecutor(max_workers=width, thread_name_prefix="exo-sign-in") as signers,
        ThreadPoolExecutor(max_workers=width, thread_name_prefix="exo-plan") as readers,
    ):
        signed = [signers.submit(sign_in, d) for d in desired]
        futures = [readers.submit(run, d, s) for d, s in zip(desired, signed, strict=True)]
        return [f.result() for f in futures]


@dataclass
class TenantApply:
    """One tenant's apply: its report, or the error that stopped it before any write."""

    tenant: str
    report: ApplyReport | None = None
    error: str | None = None


def apply_plan(
    config: ExoformConfig,
    plan: Plan,
    *,
    force: bool = False,
    parallelism: int = 8,
    opener: Opener | None = None,
    new_session: SessionFactory = Session,
    on_result: Callable[[str, ChangeResult], None] | None = None,
    ring: int | None = None,
) -> list[TenantApply]:
    """Apply each tenant of ``plan`` (see :mod:`.reconcile.applier`), signed in with each tenant's write
    identity (``apply_auth``, else ``auth``); planning never uses it.  With ``ring``, only the tenants of
    that ring (their ``ring`` in ``exoform.yaml`` now) are applied, and each is refused while a tenant of
    an earlier ring does not show the plan's changes yet."""
    with _opening(opener, new_session, write=True) as open_:
        refusal = "" if force else "; ".join(fleet_unsafe_reasons(plan, config.max_tenants_changed))
        if refusal:
            refusal = (
                f"the plan is unsafe under exoform.yaml now: {refusal}; review it and apply with --force"
            )
        tenants = plan.tenants
        if ring is not None:
            tenants, earlier = ring_split(plan, {n: t.ring for n, t in config.tenants.items()}, ring)
            waiting = _not_yet_applied(config, earlier, open_, max(1, parallelism))
            if waiting and not refusal:
                refusal = f"ring {ring} waits for earlier rings: " + "; ".join(waiting)
        return _apply_all(config, tenants, force, max(1, parallelism), open_, on_result, refusal)


def _not_yet_applied(
    config: ExoformConfig, earlier: Sequence[tuple[int, TenantPlan]], open_: Opener, width: int
) -> list[str]:
    """For each earlier-ring tenant that does not show its planned changes yet (or cannot be read), why."""

    def check(item: tuple[int, TenantPlan]) -> str | None:
        ring, tplan = item
        label = f"tenant {tplan.tenant} (ring {ring})"
        try:
            provider = open_(tplan.tenant, config.tenants[tplan.tenant], config)
            try:
                pending = pending_changes(tplan, provider.read())
            finally:
                provider.close()
        except ExoformError as exc:
            return f"{label} could not be read: {exc}"
        if not pending:
            return None
        shown = ", ".join(pending)
        return f"{label} does not show {len(pending)} of its changes yet ({shown}): apply ring {ring} first"

    with ThreadPoolExecutor(max_workers=width) as pool:
        return [why for why in pool.map(check, earlier) if why]


def _apply_all(
    config: ExoformConfig,
    tenants: Sequence[TenantPlan],
    force: bool,
    width: int,
    open_: Opener,
    on_result: Callable[[str, ChangeResult], None] | None,
    refusal: str = "",
) -> list[TenantApply]:
    def run(tplan: TenantPlan) -> TenantApply:
        result = TenantApply(tplan.tenant)
        settings = config.tenants.get(tplan.tenant)
        if settings is None:
            result.error = (
                f"tenant {tplan.tenant}: the plan names a tenant that exoform.yaml does not declare"
            )
            return result
        if tplan.failed:
            result.error = f"tenant {tplan.tenant}: it was not planned ({tplan.error}); make a new plan"
            return result
        if not tplan.changes:
            result.report = ApplyReport(tplan.tenant)
            return result
        if refusal:
            result.error = f"tenant {tplan.tenant}: nothing was changed: {refusal}"
            return result
        try:
            target = target_of(tplan.tenant, settings, config)
            if target != tplan.target:
                raise PlanError(
                    f"tenant {tplan.tenant}: the plan was made against {tplan.target!r}, but the tenant is "
                    f"now {target!r}; make a new plan"
                )
            provider = open_(tplan.tenant, settings, config)
            try:
                result.report = apply_tenant(
                    tplan,
                    provider,
                    settings,
                    force=force,
                    write_concurrency=settings.write_concurrency,
                    on_result=(lambda r: on_result(tplan.tenant, r)) if on_result else None,
                )
            finally:
                provider.close()
        except ExoformError as exc:
            result.error = str(exc)
        return result

    with ThreadPoolExecutor(max_workers=width) as pool:
        return list(pool.map(run, tenants))


def read_tenant(
    config: ExoformConfig, tenant: str, *, opener: Opener | None = None, new_session: SessionFactory = Session
) -> LiveState:
    """The live connectors of ``tenant`` (a tenant of ``config``), read with its read identity; raises the
    :class:`ExoformError` that stopped the read."""
    with _opening(opener, new_session) as open_:
        provider = open_(tenant, config.tenants[tenant], config)
        try:
            return provider.read()
        finally:
            provider.close()


def validate_outbound(
    config: ExoformConfig,
    tenant: str,
    name: str,
    recipients: list[str],
    *,
    opener: Opener | None = None,
    new_session: SessionFactory = Session,
) -> tuple[LiveConnector, list[dict[str, Any]]]:
    """Run Validate-OutboundConnector on ``tenant``'s outbound connector ``name`` (case-insensitive), sending
    test mail to ``recipients``: the live connector and one result per smart host.

    It sends mail, so it is a write: the tenant's write identity signs in.  Raises :class:`ConfigError`
    when the tenant's provider cannot validate or has no such connector (with a "did you mean" hint), and
    the provider's error when the read or the validation fails.
    """
    from reconciler.model import did_you_mean

    with _opening(opener, new_session, write=True) as open_:
        provider = open_(tenant, config.tenants[tenant], config)
        try:
            if "validate_outbound" not in provider.capabilities:
                raise ConfigError(f"tenant {tenant}: its provider cannot run Validate-OutboundConnector")
            state = provider.read()
            live = state.find("OutboundConnector", name)
            if live is None:
                outbound = [c.name for c in state.connectors if c.kind == "OutboundConnector"]
                raise ConfigError(
                    f"tenant {tenant} has no outbound connector '{name}'{did_you_mean(name, outbound)}"
                )
            return live, provider.validate_outbound(live, recipients)
        finally:
            provider.close()
