"""Sender IP rules (EXO-IP-*): the addresses of inbound connectors, across connectors (ranges two
connectors share) and on their own (private addresses that never match).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from reconciler.model import Connector
from reconciler.posture.engine import REF_NEW_INBOUND, REF_PARTNER, Hit, rule
from reconciler.posture.facts import inbound_of, is_partner, is_private_entry, listed, networks


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    entry: str
    index: int


@rule(
    "EXO-IP-001",
    "warning",
    "Sender IP ranges overlap between enabled inbound connectors of the same type",
    REF_PARTNER,
)
def ip_overlap(connectors: Sequence[Connector]) -> Iterator[Hit]:
    # Names are unique per kind in a tenant; the dump only breaks ties in invalid input, for determinism.
    inbound = sorted(
        (c for c in inbound_of(connectors) if c.enabled),
        key=lambda c: (c.name.casefold(), c.name, c.model_dump_json()),
    )
    spans: list[_Span] = []
    for index, c in enumerate(inbound):
        for entry in c.sender_ip_addresses:
            for net in networks(entry):
                spans.append(_Span(int(net.network_address), int(net.broadcast_address), entry, index))
    spans.sort(key=lambda s: (s.start, s.end, s.index, s.entry))
    pairs: dict[tuple[int, int], set[tuple[str, str]]] = {}
    open_spans: list[_Span] = []
    # Sweep by start address: every span still open when a new one starts overlaps it.
    for span in spans:
        open_spans = [s for s in open_spans if s.end >= span.start]
        for other in open_spans:
            # An OnPremises and a Partner connector for the same IPs coexist by design (docs/posture.md).
            same_type = is_partner(inbound[other.index]) == is_partner(inbound[span.index])
            if other.index == span.index or not same_type:
                continue
            low, high = sorted((other, span), key=lambda s: s.index)
            pairs.setdefault((low.index, high.index), set()).add((low.entry, high.entry))
        open_spans.append(span)
    for (i, j), entries in sorted(pairs.items()):
        first, second = inbound[i], inbound[j]
        overlaps = [mine if mine == theirs else f"{mine} and {theirs}" for theirs, mine in sorted(entries)]
        yield Hit(
            second,
            "sender_ip_addresses",
            f"sender IPs of this connector overlap those of inbound connector '{first.name}' "
            f"({listed(overlaps)}): mail from those addresses may be matched to either connector, so one "
            "connector's restrictions (or an OnPremises connector's trust) apply to the other's senders. "
            "Fix: give each connector only the IPs of its own sender, or merge them into one connector.",
            also_skipped_by=(first,),
        )


@rule(
    "EXO-IP-002",
    "warning",
    "Private or loopback address in sender_ip_addresses",
    REF_NEW_INBOUND,
)
def private_ip(connectors: Sequence[Connector]) -> Iterator[Hit]:
    for c in inbound_of(connectors):
        private = [e for e in c.sender_ip_addresses if is_private_entry(e)]
        if not private:
            continue
        yield Hit(
            c,
            "sender_ip_addresses",
            f"sender IPs {listed(private)} are private or loopback addresses (RFC 1918, 127/8): Exchange "
            "Online sees the public address your mail leaves from, so these never match, and the "
            "connector does not restrict or identify what you meant it to. Fix: list the public IPs of "
            "the sending servers (after NAT).",
        )
