"""Normalization: equal things compare equal, each function is idempotent, bad values say why."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciler import normalize


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("Contoso.COM", "contoso.com"),
        ("contoso.com.", "contoso.com"),
        ("  contoso.com ", "contoso.com"),
        ("*.Contoso.com", "*.contoso.com"),
        ("mail-1.contoso.com", "mail-1.contoso.com"),
    ],
)
def test_domain_canonical_form(raw: str, canon: str) -> None:
    assert normalize.canon_domain(raw) == canon
    assert normalize.canon_domain(canon) == canon


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("a.*.contoso.com", "wildcard is only allowed as a leading"),
        ("contoso*.com", "wildcard is only allowed as a leading"),
        ("*", "'*' (all domains) is not allowed here"),
        ("-bad.contoso.com", "not a valid domain name"),
        ("con toso.com", "not a valid domain name"),
        ("", "not a valid domain name"),
    ],
)
def test_domain_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        normalize.canon_domain(raw)


def test_star_only_where_allowed() -> None:
    assert normalize.canon_domain("*", allow_star=True) == "*"


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("smtp:contoso.com;1", "contoso.com"),
        ("SMTP:Contoso.com;1", "contoso.com"),
        ("smtp:*;1", "*"),
        ("smtp:*.contoso.com;1", "*.contoso.com"),
        ("smtp:contoso.com", "contoso.com"),
        ("contoso.com", "contoso.com"),
        ("*", "*"),
    ],
)
def test_sender_domain_reads_the_wire_form(raw: str, canon: str) -> None:
    assert normalize.canon_sender_domain(raw) == canon
    assert normalize.canon_sender_domain(f"smtp:{canon};1") == canon


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("192.0.2.1", "192.0.2.1"),
        ("192.0.2.1/32", "192.0.2.1"),
        ("192.0.2.17/24", "192.0.2.0/24"),
        (" 198.51.100.0/25 ", "198.51.100.0/25"),
    ],
)
def test_ipv4_or_cidr(raw: str, canon: str) -> None:
    assert normalize.canon_ipv4_or_cidr(raw, min_prefix=24) == canon
    assert normalize.canon_ipv4_or_cidr(canon, min_prefix=24) == canon


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("10.0.0.0/8", "mask must be /24 to /32"),
        ("192.0.2.0/23", "mask must be /24 to /32"),
        ("2001:db8::1", "only IPv4"),
        ("192.0.2.300", "not an IPv4 address"),
        ("mail.contoso.com", "not an IPv4 address"),
    ],
)
def test_ipv4_or_cidr_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize.canon_ipv4_or_cidr(raw, min_prefix=24)


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("192.0.2.1 - 192.0.2.20", "192.0.2.1-192.0.2.20"),
        ("192.0.2.5", "192.0.2.5"),
        ("192.0.2.0/32", "192.0.2.0"),
        ("203.0.113.0/24", "203.0.113.0/24"),
    ],
)
def test_ip_range(raw: str, canon: str) -> None:
    assert normalize.canon_ip_range(raw) == canon
    assert normalize.canon_ip_range(canon) == canon


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("192.0.2.20-192.0.2.1", "ends before it starts"),
        ("192.0.2.1-x", "not a valid IP range"),
    ],
)
def test_ip_range_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize.canon_ip_range(raw)


@pytest.mark.parametrize(
    ("entry", "private"),
    [("10.1.2.3", True), ("172.16.0.0/12", True), ("192.168.0.1-192.168.0.9", True), ("192.0.2.1", False)],
)
def test_private_ranges(entry: str, private: bool) -> None:
    assert normalize.is_private(entry) is private


@pytest.mark.parametrize(
    ("raw", "canon"),
    [
        ("Mail.Contoso.com", "mail.contoso.com"),
        ("mail.contoso.com.", "mail.contoso.com"),
        ("192.0.2.25", "192.0.2.25"),
        ("192.0.2.0/25", "192.0.2.0/25"),
        ("192.0.2.25/32", "192.0.2.25"),
    ],
)
def test_smart_host(raw: str, canon: str) -> None:
    assert normalize.canon_smart_host(raw) == canon
    assert normalize.canon_smart_host(canon) == canon


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("mail.contoso.com:587", "cannot carry a port"),
        ("[192.0.2.1]:25", "cannot carry a port"),
        ("*.contoso.com", "cannot be a wildcard"),
    ],
)
def test_smart_host_rejects(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalize.canon_smart_host(raw)


def test_email() -> None:
    assert normalize.canon_email(" Alex@Contoso.COM ") == "alex@contoso.com"
    with pytest.raises(ValueError, match="not an email address"):
        normalize.canon_email("alex")
    with pytest.raises(ValueError, match="not a valid domain"):
        normalize.canon_email("alex@bad_domain")


def test_order_and_duplicates_never_count() -> None:
    assert normalize.canon_set(["b", "a", "b"]) == ["a", "b"]
    assert normalize.canon_set(normalize.canon_set(["b", "a"])) == ["a", "b"]


_label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@given(st.lists(_label, min_size=1, max_size=4), st.booleans(), st.booleans())
def test_domain_idempotent(labels: list[str], upper: bool, star: bool) -> None:
    text = ".".join(labels)
    text = ("*." if star else "") + (text.upper() if upper else text)
    once = normalize.canon_domain(text)
    assert normalize.canon_domain(once) == once
    assert once == once.lower()


@given(st.ip_addresses(v=4), st.integers(min_value=24, max_value=32))
def test_cidr_idempotent(address: object, prefix: int) -> None:
    once = normalize.canon_ipv4_or_cidr(f"{address}/{prefix}", min_prefix=24)
    assert normalize.canon_ipv4_or_cidr(once, min_prefix=24) == once
    assert not once.endswith("/32")
