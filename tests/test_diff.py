"""diff: which fields change (plain inequality) and how (items added and removed, or before and after)."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from reconciler.diff import FieldChange, changed_fields, field_changes
from reconciler.plan import Change


def domains(count: int) -> list[str]:
    return [f"d{i:02d}.contoso.com" for i in range(count)]


def as_json(before: dict[str, Any], after: dict[str, Any], field: str) -> Any:
    """How ``field`` changes from ``before`` to ``after`` as the JSON plan carries it: an update dumped by
    the plan's own definition."""
    change = Change("update", "OutboundConnector", "x", [field], before, after)
    (only,) = TypeAdapter(Change).dump_python(change, mode="json", by_alias=True)["field_changes"]
    return only


def test_one_item_changed_in_a_60_item_list_is_one_added_and_one_removed() -> None:
    before = {"recipient_domains": domains(60)}
    after = {"recipient_domains": [d if d != "d07.contoso.com" else "new.contoso.com" for d in domains(60)]}
    (delta,) = field_changes(before, after, ["recipient_domains"])
    assert delta.items
    assert delta.added == ("new.contoso.com",)
    assert delta.removed == ("d07.contoso.com",)
    assert as_json(before, after, "recipient_domains") == {
        "field": "recipient_domains",
        "added": ["new.contoso.com"],
        "removed": ["d07.contoso.com"],
    }


def test_a_list_replaced_item_for_item_shows_every_item_added_and_removed() -> None:
    (delta,) = field_changes(
        {"smart_hosts": ["a.net", "b.net"]}, {"smart_hosts": ["c.net", "d.net"]}, ["smart_hosts"]
    )
    assert (delta.added, delta.removed) == (("c.net", "d.net"), ("a.net", "b.net"))
    (emptied,) = field_changes({"smart_hosts": ["a.net", "b.net"]}, {"smart_hosts": []}, ["smart_hosts"])
    assert (emptied.added, emptied.removed) == ((), ("a.net", "b.net"))


def test_scalars_and_absent_values_show_before_and_after() -> None:
    before = {"tls_settings": "EncryptionOnly", "enabled": True}
    after = {"tls_settings": "CertificateValidation", "enabled": False, "tls_domain": "mail.contoso.com"}
    changes = field_changes(before, after, ["tls_settings", "enabled", "tls_domain"])
    assert changes == [
        FieldChange("tls_settings", "EncryptionOnly", "CertificateValidation"),
        FieldChange("enabled", True, False),
        FieldChange("tls_domain", None, "mail.contoso.com"),
    ]
    assert as_json(before, after, "tls_domain") == {
        "field": "tls_domain",
        "before": None,
        "after": "mail.contoso.com",
    }


def test_unchanged_fields_are_not_reported() -> None:
    same = {"name": "To partner", "recipient_domains": domains(3), "enabled": True}
    assert changed_fields(same, dict(same)) == []
    assert field_changes(same, dict(same), list(same)) == []
    moved = dict(same, enabled=False)
    assert [d.field for d in field_changes(same, moved, list(same))] == ["enabled"]


def test_changed_fields_in_desired_order_without_ignored_ones() -> None:
    desired = {"name": "x", "comment": "new", "enabled": False, "tls_domain": "a"}
    live = {"name": "x", "comment": "old", "enabled": True, "tls_domain": "b"}
    assert changed_fields(desired, live) == ["comment", "enabled", "tls_domain"]
    assert changed_fields(desired, live, frozenset({"comment", "tls_domain"})) == ["enabled"]


def test_a_name_differing_only_in_case_is_not_a_change() -> None:
    assert changed_fields({"name": "To Partner"}, {"name": "to partner"}) == []
    assert changed_fields({"name": "To Partner 2"}, {"name": "to partner"}) == ["name"]
