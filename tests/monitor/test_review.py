"""Review with traffic (issue 25): ``traffic: true`` tenants' plans say whether a change cuts off mail, and
status and drift list connectors without mail, over the emulator in this process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.connectors import load_all
from reconciler.emulator.app import Emulator
from reconciler.emulator.store import MemoryStores
from reconciler.emulator.trace import MessageLog
from reconciler.plan import Plan, TenantPlan
from reconciler.posture.findings import Finding
from reconciler.providers.base import BaseProvider
from reconciler.providers.exchange import ExchangeProvider
from reconciler.verdicts import drift_exit, plan_exit
from reconciler.workflow import RunScope, plan_tenants
from tests.monitor.conftest import SEED, seed_traffic

DELETE_FILTER = "kind: InboundConnector\nname: From Mail Filter\nabsent: true\n"
SCANNER_OFF = (
    "kind: InboundConnector\nname: From Scanner\nconnector_type: OnPremises\nsender_domains: ['*']\n"
    "sender_ip_addresses: [203.0.113.10]\nenabled: false\n"
)
PARTNER_NARROWED = (
    "kind: OutboundConnector\nname: To Partner\nconnector_type: Partner\n"
    "recipient_domains: [other.example]\nuse_mx_record: false\nsmart_hosts: [relay.fabrikam.com]\n"
)


#: What ``plan`` asks; status and drift add ``unused=True``.
PLAN = RunScope(keep_live=False)


def _emulator(**seed: int) -> Emulator:
    """The three connectors of tests/monitor/conftest.py with traffic seeded up to now (real time: the
    plan's window ends when it runs)."""
    log = MessageLog()
    seed_traffic(log, now=datetime.now(UTC), **seed)
    return Emulator(stores=MemoryStores(SEED), messages=log)


def _trace_requests(emulator: Emulator) -> int:
    cmdlets = emulator.stats.snapshot()["cmdlets"]
    return int(cmdlets.get("Get-MessageTraceV2", 0)) + int(cmdlets.get("Get-MessageTraceDetailV2", 0))


def _plan(
    root: Path,
    emulator: Emulator,
    in_process: Callable[..., ExchangeProvider],
    files: dict[str, str],
    *,
    settings: str = "    traffic: true\n",
    scope: RunScope = PLAN,
    page_size: int = 1000,
) -> TenantPlan:
    folder = root / "connectors"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    (root / "exoform.yaml").write_text(
        f"tenants:\n  contoso:\n    connectors: connectors\n    max_deletes: 3\n{settings}"
    )

    def opener(tenant: str, tenant_settings: TenantConfig, config: ExoformConfig) -> BaseProvider:
        return in_process(emulator, page_size=page_size)

    config, desired = load_all(root / "exoform.yaml")
    (outcome,) = plan_tenants(config, desired, opener=opener, scope=scope)
    assert outcome.plan is not None, outcome.error
    return outcome.plan


def _usage(plan: TenantPlan) -> list[Finding]:
    return [f for f in plan.findings if f.rule.startswith("EXO-USE-")]


def test_deleting_a_used_connector_says_it_is_in_use_and_never_fails_the_plan(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    plan = _plan(tmp_path, emulator, in_process, {"filter.yaml": DELETE_FILTER})
    (finding,) = _usage(plan)
    assert (finding.rule, finding.severity, finding.source) == ("EXO-USE-001", "warning", "traffic")
    assert (finding.kind, finding.name) == ("InboundConnector", "From Mail Filter")
    assert "deletes it" in finding.message
    assert "in use: 40 message(s) in the last 48 h, last at" in finding.message
    # An observation of mail flow, not a verdict on the files: no threshold fails the plan on it.
    assert plan_exit(Plan([plan]), "info", detailed=False) == 0


def test_a_disable_and_a_narrowing_are_reviewed_and_an_unused_one_says_no_traffic(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    plan = _plan(
        tmp_path, emulator, in_process, {"scanner.yaml": SCANNER_OFF, "partner.yaml": PARTNER_NARROWED}
    )
    found = {f.name: f for f in _usage(plan)}
    assert set(found) == {"From Scanner", "To Partner"}
    scanner, partner = found["From Scanner"], found["To Partner"]
    assert scanner.severity == "info" and "disables it" in scanner.message
    assert "no traffic in the last 48 h" in scanner.message
    assert partner.severity == "warning" and "removes recipient_domains fabrikam.com" in partner.message
    assert "in use: 7 message(s)" in partner.message


def test_a_tenant_without_traffic_true_sends_no_trace_request(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    plan = _plan(tmp_path, emulator, in_process, {"filter.yaml": DELETE_FILTER}, settings="")
    assert not _usage(plan) and [c.action for c in plan.changes] == ["delete"]
    assert _trace_requests(emulator) == 0


def test_a_plan_without_a_change_that_cuts_mail_off_sends_no_trace_request(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    widened = PARTNER_NARROWED.replace("[other.example]", "[fabrikam.com, other.example]")
    plan = _plan(tmp_path, emulator, in_process, {"partner.yaml": widened})
    assert [c.action for c in plan.changes] == ["update"] and not _usage(plan)
    assert _trace_requests(emulator) == 0


@pytest.mark.parametrize(
    "fault", ["429:cmdlet=Get-MessageTraceV2,retry_after=600", "500:cmdlet=Get-MessageTraceDetailV2"]
)
def test_a_throttled_or_failed_trace_is_unknown_never_unused(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider], fault: str
) -> None:
    emulator = _emulator()
    emulator.faults.add(fault)
    plan = _plan(
        tmp_path,
        emulator,
        in_process,
        {"filter.yaml": DELETE_FILTER, "scanner.yaml": SCANNER_OFF},
        scope=RunScope(keep_live=False, unused=True),
    )
    assert plan.status == "planned" and len(plan.changes) == 2
    usage = _usage(plan)
    assert usage and all("no traffic" not in f.message for f in usage)
    reviewed = {f.name: f.message for f in usage if f.rule == "EXO-USE-001"}
    assert set(reviewed) == {"From Mail Filter", "From Scanner"}
    assert all("unknown" in m or "at least" in m for m in reviewed.values())
    (tenant_wide,) = [f for f in usage if f.rule == "EXO-USE-002"]
    assert tenant_wide.name is None and "no connector is said to be unused" in tenant_wide.message


def test_a_refused_trace_names_the_message_trace_role(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    emulator.faults.add("403:cmdlet=Get-MessageTraceV2")
    plan = _plan(tmp_path, emulator, in_process, {"filter.yaml": DELETE_FILTER})
    (finding,) = _usage(plan)
    assert "unknown" in finding.message
    assert "View-Only Organization Management" in finding.message
    assert "Message Tracking" in finding.message
    # The connector-reading hint (View-Only Configuration) does not run message trace: not suggested.
    assert "View-Only Configuration" not in finding.message


def test_unused_connectors_are_listed_within_the_request_budget_and_are_never_drift(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator(filtered=300, partner=60)
    files = {
        "filter.yaml": (
            "kind: InboundConnector\nname: From Mail Filter\nconnector_type: Partner\nsender_domains: ['*']\n"
            "sender_ip_addresses: [198.51.100.0/24]\nrestrict_domains_to_ip_addresses: true\n"
        ),
        "scanner.yaml": SCANNER_OFF.replace("enabled: false\n", ""),
        "partner.yaml": PARTNER_NARROWED.replace("other.example", "fabrikam.com"),
    }
    plan = _plan(
        tmp_path,
        emulator,
        in_process,
        files,
        scope=RunScope(keep_live=False, unused=True),
        page_size=50,
    )
    assert not plan.changes
    (unused,) = _usage(plan)
    assert (unused.rule, unused.severity, unused.name) == ("EXO-USE-002", "info", "From Scanner")
    assert "attack surface" in unused.message
    assert 0 < _trace_requests(emulator) <= 60
    assert drift_exit(Plan([plan]), "info") == 0


def test_a_skip_check_silences_the_finding_with_its_reason(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    skip = "    skip_checks: [{rule: EXO-USE-001, reason: migrated to the new filter}]\n"
    plan = _plan(
        tmp_path, emulator, in_process, {"filter.yaml": DELETE_FILTER}, settings="    traffic: true\n" + skip
    )
    assert not [f for f in plan.findings if f.rule == "EXO-CFG-001"]
    (finding,) = _usage(plan)
    assert finding.skipped_reason == "migrated to the new filter"


@pytest.mark.parametrize(
    ("window", "said"),
    [("120d", "longer than the 90 days message trace keeps"), ("2x", "not a duration such as 2d")],
)
def test_a_bad_traffic_window_is_a_located_error(tmp_path: Path, window: str, said: str) -> None:
    from reconciler.desired.loader import load_config
    from reconciler.errors import InputError

    (tmp_path / "c").mkdir()
    (tmp_path / "exoform.yaml").write_text(
        f"defaults:\n  traffic: true\ntenants:\n  a:\n    connectors: c\n    traffic_window: {window}\n"
    )
    with pytest.raises(InputError) as raised:
        load_config(tmp_path / "exoform.yaml")
    assert f"exoform.yaml:6:21: error: tenants.a.traffic_window: '{window}' is" in str(raised.value)
    assert said in str(raised.value)


def test_a_review_reads_the_detail_events_of_the_changed_connectors_direction_only(
    tmp_path: Path, in_process: Callable[..., ExchangeProvider]
) -> None:
    emulator = _emulator()
    _plan(tmp_path, emulator, in_process, {"filter.yaml": DELETE_FILTER})
    cmdlets = emulator.stats.snapshot()["cmdlets"]
    # One summary query; a detail read per inbound candidate: 40 through the filter and 5 from the
    # internet (the 7 outbound messages to the partner are not read).
    assert (cmdlets.get("Get-MessageTraceV2"), cmdlets.get("Get-MessageTraceDetailV2")) == (1, 45)
