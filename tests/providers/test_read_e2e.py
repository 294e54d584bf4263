"""Reading a tenant end to end over TLS: paging, test-mode connectors, and every fault of the emulator.

A read is complete or it is an error: no fault may make a connector look absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.emulator.config import EmulatorConfig
from reconciler.emulator.faults import Faults
from reconciler.errors import ReadError
from tests.providers.conftest import FAST, Rig
from tests.providers.fake import FakeClock, in_fake_time


def _seed(inbound: int, outbound: int, test_mode: int = 0) -> dict[str, Any]:
    return {
        "InboundConnector": [
            {"Name": f"In {i:03}", "ConnectorType": "Partner", "SenderDomains": [f"in{i}.example.com"]}
            for i in range(inbound)
        ],
        "OutboundConnector": [
            {
                "Name": f"Out {i:03}",
                "ConnectorType": "Partner",
                "RecipientDomains": [f"out{i}.example.com"],
                "TestMode": i < test_mode,
            }
            for i in range(outbound)
        ],
    }


def _names(provider_state: Any) -> list[str]:
    return sorted(c.name for c in provider_state.connectors)


ALL_NAMES = sorted([f"In {i:03}" for i in range(7)] + [f"Out {i:03}" for i in range(5)])


@pytest.fixture
def seeded(make_rig: Callable[..., Rig]) -> Rig:
    """7 inbound and 5 outbound connectors, 2 of them in test mode."""
    return make_rig(seed=_seed(7, 5, test_mode=2))


def test_paging_and_test_mode_connectors(seeded: Rig) -> None:
    state = seeded.provider(page_size=2).read()
    assert _names(state) == ALL_NAMES
    test_mode = sorted(c.name for c in state.connectors if getattr(c.connector, "test_mode", False))
    assert test_mode == ["Out 000", "Out 001"]
    cmdlets = seeded.cmdlets()
    assert cmdlets["Get-InboundConnector"] == 4  # 7 objects in pages of 2
    assert cmdlets["Get-OutboundConnector"] == 2 + 3  # plain listing (3 objects) + with test mode (5)
    for live in state.connectors:
        assert live.guid and live.raw["Guid"] == live.guid


def test_once_the_flagged_listing_shows_every_connector_the_plain_one_is_skipped(seeded: Rig) -> None:
    """The first read lists outbound connectors twice; the flagged listing then held a connector not in
    test mode, so later reads of the same service in the same session (any tenant, any provider) list
    them once."""
    first = seeded.provider().read()
    assert seeded.cmdlets()["Get-OutboundConnector"] == 2
    for _ in range(2):
        again = seeded.provider().read()
        assert _names(again) == _names(first) == ALL_NAMES
        assert sorted(c.name for c in again.connectors if getattr(c.connector, "test_mode", False)) == [
            "Out 000",
            "Out 001",
        ]
    assert seeded.cmdlets()["Get-OutboundConnector"] == 2 + 1 + 1


def test_a_service_listing_only_test_mode_connectors_is_always_read_with_both(
    make_rig: Callable[..., Rig],
) -> None:
    rig = make_rig(seed=_seed(7, 5, test_mode=2), config=EmulatorConfig(test_mode_flag="only"))
    for _ in range(3):
        assert _names(rig.provider().read()) == ALL_NAMES
    assert rig.cmdlets()["Get-OutboundConnector"] == 3 * 2


def test_listings_ask_only_for_the_properties_exoform_uses(seeded: Rig) -> None:
    """``$select`` keeps the AD-object properties (three fifths of a connector's JSON) off the wire, on
    every page, while status and drift still get what they show."""
    state = seeded.provider(page_size=2).read()
    for live in state.connectors:
        assert "DistinguishedName" not in live.raw and "OrganizationId" not in live.raw
        assert live.when_changed_utc and live.connector_source == "Default"
        if live.kind == "OutboundConnector":
            assert "IsValidated" in live.raw and "LastValidationTimestamp" in live.raw


def test_sender_domains_read_back_normalized(seeded: Rig) -> None:
    live = seeded.provider().read().find("InboundConnector", "in 000")
    assert live is not None
    assert live.raw["SenderDomains"] == ["smtp:in0.example.com;1"]
    assert live.connector.managed_fields()["sender_domains"] == ["in0.example.com"]


def test_one_wave_of_requests(seeded: Rig) -> None:
    """Token, then the three listings at once: the read costs about one round trip of latency."""
    seeded.server.emulator.faults.latency_ms = 300
    provider = seeded.provider()
    provider.client.tokens.token()
    started = time.monotonic()
    provider.read()
    elapsed = time.monotonic() - started
    assert seeded.server.emulator.stats.snapshot()["max_in_flight"] == 3
    assert elapsed < 0.6, f"read took {elapsed:.2f} s for one 0.3 s round trip"


@pytest.mark.parametrize(
    "spec",
    [
        "429:count=2,retry_after=0.2",
        "429:count=1,retry_after=1,retry_after_form=date",
        "500:count=2",
        "502:count=1",
        "503:count=2",
        "504:count=1",
        "throttled_200:count=2",
        "html:count=2",
        "text:count=1,status=503,body=You have reached the maximum number of concurrent requests per tenant. "
        "Please wait and try again",
        "text:count=1,status=400,body=Server busy. Please try again later",
        "reset:count=2",
        "close:count=2",
        "500:page=2,count=1",
        "reset:page=3,count=1",
    ],
)
def test_transient_faults_are_retried_to_a_complete_read(seeded: Rig, spec: str) -> None:
    rule = seeded.server.emulator.faults.add(spec)
    state = seeded.provider(page_size=2, policy=in_fake_time(FAST, FakeClock())).read()
    assert _names(state) == ALL_NAMES
    assert rule.fired >= 1


def test_retry_after_is_honoured(seeded: Rig) -> None:
    seeded.server.emulator.faults.add("429:count=1,retry_after=1")
    clock = FakeClock()
    provider = seeded.provider(policy=in_fake_time(FAST, clock))
    assert _names(provider.read()) == ALL_NAMES
    assert clock.slept == [1.0]  # the wait the service asked for, no more, no less


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("500:page=2", r"Get-(In|Out)boundConnector.*HTTP 500"),
        ("503", "HTTP 503"),
        ("throttled_200", "throttled"),
        ("html:status=200", r"malformed response \(not JSON\)"),
        ("reset", "connection to https://127.0.0.1:.* failed before the response arrived"),
    ],
)
def test_persistent_faults_fail_the_whole_read(seeded: Rig, spec: str, expected: str) -> None:
    seeded.server.emulator.faults.add(spec)
    with pytest.raises(ReadError, match=expected) as caught:
        seeded.provider(page_size=2).read()
    assert str(caught.value).startswith("tenant contoso: cannot read the connectors")


def test_retries_are_bounded(seeded: Rig) -> None:
    seeded.server.emulator.faults.add("503:cmdlet=Get-InboundConnector")
    with pytest.raises(ReadError, match="gave up after retries"):
        seeded.provider().read()
    assert seeded.cmdlets()["Get-InboundConnector"] == 5  # FAST.max_attempts


def test_validation_error_on_read_is_not_retried(seeded: Rig) -> None:
    provider = seeded.provider()
    provider.read()
    before = seeded.cmdlets().get("Get-InboundConnector", 0)
    seeded.server.emulator.faults.add("400:cmdlet=Get-InboundConnector")
    with pytest.raises(ReadError, match="Get-InboundConnector"):
        provider.read()
    assert seeded.cmdlets()["Get-InboundConnector"] == before + 1


def test_concurrency_is_capped_per_tenant(make_rig: Callable[..., Rig]) -> None:
    faults = Faults(latency_ms=50, max_concurrent_per_tenant=1)
    rig = make_rig(seed=_seed(7, 5, test_mode=2), faults=faults)
    assert _names(rig.provider(read_concurrency=1).read()) == ALL_NAMES
    stats = rig.server.emulator.stats.snapshot()
    assert stats["max_in_flight"] == 1
    assert "concurrency" not in stats["faults"]


def test_concurrency_limit_message_is_retried(make_rig: Callable[..., Rig]) -> None:
    faults = Faults(latency_ms=50, max_concurrent_per_tenant=2)
    rig = make_rig(seed=_seed(7, 5, test_mode=2), faults=faults)
    assert _names(rig.provider(read_concurrency=3).read()) == ALL_NAMES
    assert rig.server.emulator.stats.snapshot()["faults"].get("concurrency", 0) >= 1


def test_an_unreadable_connector_fails_the_read_and_is_named(make_rig: Callable[..., Rig]) -> None:
    seed = _seed(1, 0)
    seed["InboundConnector"][0]["RequireTls"] = "sometimes"
    rig = make_rig(seed=seed)
    with pytest.raises(ReadError, match=r"InboundConnector 'In 000' cannot be read: require_tls"):
        rig.provider().read()


# -- an older or smaller service, and read-back forms (issue 13) -------------------------------------------


def test_older_service_select_refusal_is_retried_without_the_property_and_logged(
    make_rig: Callable[..., Rig], caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    rig = make_rig(config=EmulatorConfig(service="older"), seed=_seed(2, 3, test_mode=1))
    caplog.set_level(logging.DEBUG, logger="reconciler.providers.exchange")
    state = rig.provider(page_size=2).read()
    assert _names(state) == sorted(["In 000", "In 001", "Out 000", "Out 001", "Out 002"])  # complete
    for live in state.connectors:
        if live.kind == "OutboundConnector":
            assert live.connector.mta_sts_mode == "Opportunistic"  # not returned: the service default
    logged = [r.getMessage() for r in caplog.records if "does not know the property" in r.getMessage()]
    assert any("MtaStsMode" in m for m in logged) and any("SmtpDaneMode" in m for m in logged)
    refused = rig.cmdlets()["Get-OutboundConnector"]
    rig.provider().read()  # the session remembers: no refused listing again
    outbound_listings = 1 if rig.session.lists_all_with_test_mode_flag(rig.server.base_url) else 2
    assert rig.cmdlets()["Get-OutboundConnector"] - refused == outbound_listings


def test_a_refusal_naming_no_selected_property_is_a_read_error_not_a_retry(rig: Rig) -> None:
    rig.server.emulator.faults.add("400:count=1,cmdlet=Get-InboundConnector,body=No property named 'Bogus'.")
    with pytest.raises(ReadError, match="Bogus"):
        rig.provider().read()


def test_associated_accepted_domains_compare_through_get_accepted_domain(
    make_rig: Callable[..., Rig],
) -> None:
    seed = {
        "AcceptedDomain": [{"Name": "Contoso main", "DomainName": "contoso.com"}],
        "InboundConnector": [
            {
                "Name": "Partner",
                "ConnectorType": "Partner",
                "SenderDomains": ["fabrikam.com"],
                "AssociatedAcceptedDomains": ["Contoso main"],  # as the service reads the link back
            }
        ],
    }
    rig = make_rig(seed=seed)
    provider = rig.provider()
    live = provider.read().find("InboundConnector", "Partner")
    assert live is not None and live.connector.associated_accepted_domains == ["contoso.com"]
    assert rig.cmdlets()["Get-AcceptedDomain"] == 1
    # a write by domain name reads back as the object name, and still compares equal
    provider.update(live, {"associated_accepted_domains": ["contoso.com"], "comment": "x"})
    assert rig.stored("InboundConnector")[0]["AssociatedAcceptedDomains"] == ["Contoso main"]
    again = provider.read().find("InboundConnector", "Partner")
    assert again is not None and again.connector.associated_accepted_domains == ["contoso.com"]


def test_no_accepted_domain_listing_when_no_connector_links_one(seeded: Rig) -> None:
    seeded.provider().read()
    assert "Get-AcceptedDomain" not in seeded.cmdlets()
