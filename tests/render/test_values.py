"""Values in plans: JSON text in value order (IP ranges numerically), deletes show every setting."""

from __future__ import annotations

from reconciler.plan import Change
from reconciler.render.values import delete_fields, in_order, show


def test_ip_entries_sort_numerically_and_other_items_as_text() -> None:
    entries = ["203.0.113.10", "203.0.113.9", "10.0.0.0/8", "203.0.113.1-203.0.113.5", "198.51.100.7"]
    assert in_order(entries) == [
        "10.0.0.0/8",
        "198.51.100.7",
        "203.0.113.1-203.0.113.5",
        "203.0.113.9",
        "203.0.113.10",
    ]
    assert in_order(["b.com", "*", "A.com"]) == ["*", "A.com", "b.com"]
    assert show(["203.0.113.10", "203.0.113.9"]) == '["203.0.113.9", "203.0.113.10"]'
    assert show("x\n\x85y") == '"x\\n\\x85y"'


def test_a_delete_lists_identity_and_every_value_that_is_not_the_default() -> None:
    before = {
        "name": "P",
        "connector_type": "Partner",
        "comment": "",
        "sender_domains": ["*"],
        "enabled": True,
    }
    change = Change("delete", "InboundConnector", "P", [], before, None, guid="g", fingerprint="f")
    assert delete_fields(change) == ["name", "connector_type", "sender_domains"]
