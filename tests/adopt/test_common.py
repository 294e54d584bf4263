"""The derivation of a shared set from several tenants' live connectors (reconciler.adopt.common)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.adopt.common import TenantInput, derive, safe_folder, tenant_folders, whole_references
from reconciler.adopt.exporter import Adopted
from reconciler.errors import ExoformError
from reconciler.model import MODELS


def conn(kind: str, name: str, **fields: Any) -> Adopted:
    base: dict[str, Any] = {"name": name, "connector_type": "Partner"}
    if kind == "InboundConnector":
        base["sender_domains"] = ["*"]
    else:
        base.update(recipient_domains=["*"], use_mx_record=False, smart_hosts=["eu.filter.example.net"])
    base.update(fields)
    return Adopted(MODELS[kind].model_validate(base))  # type: ignore[index]


def inp(tenant: str, *live: Adopted, **kw: Any) -> TenantInput:
    return TenantInput(tenant, list(live), **kw)


IN, OUT = "InboundConnector", "OutboundConnector"


def test_a_connector_most_tenants_hold_is_shared_and_the_others_get_absent_overrides() -> None:
    tenants = [
        inp("a", conn(IN, "Filter"), conn(OUT, "Few")),
        inp("b", conn(IN, "Filter"), conn(OUT, "Few")),
        inp("c", conn(IN, "Filter")),
        inp("d", conn(IN, "Filter")),
        inp("e"),
    ]
    result = derive(tenants)
    [shared] = result.shared
    assert (shared.name, shared.tenants, shared.absent) == ("Filter", ["a", "b", "c", "d"], ["e"])
    # Two of five: sharing would give three tenants an absent override; it stays with its two tenants.
    assert [c.name for c in result.own["a"]] == ["Few"]
    assert result.own["c"] == [] and result.own["e"] == []


def test_differing_fields_become_variables_equal_ones_literals() -> None:
    tenants = [
        inp("a", conn(IN, "Filter", sender_ip_addresses=["192.0.2.0/25", "198.51.100.0/24"], enabled=False)),
        inp("b", conn(IN, "filter", sender_ip_addresses=["198.51.100.0/24", "192.0.2.0/25"], enabled=False)),
        inp("c", conn(IN, "FILTER", sender_ip_addresses=["203.0.113.0/24"], enabled=False)),
    ]
    result = derive(tenants)
    [shared] = result.shared
    assert shared.document == {
        "kind": IN,
        "name": "Filter",  # the first of equally common spellings
        "connector_type": "Partner",
        "enabled": False,
        "sender_domains": ["*"],
        "sender_ip_addresses": "${vars.filter_sender_ip_addresses}",
    }
    assert result.values == {
        "filter_sender_ip_addresses": {
            "a": ["192.0.2.0/25", "198.51.100.0/24"],
            "b": ["192.0.2.0/25", "198.51.100.0/24"],
            "c": ["203.0.113.0/24"],
        }
    }
    assert result.default_of("filter_sender_ip_addresses", ["a", "b", "c"]) == [
        "192.0.2.0/25",
        "198.51.100.0/24",
    ]
    assert result.default_of("filter_sender_ip_addresses", ["c", "a", "b"]) == [
        "192.0.2.0/25",
        "198.51.100.0/24",
    ]


def test_a_text_holding_each_tenants_name_is_one_literal_and_a_literal_dollar_brace_is_escaped() -> None:
    tenants = [
        inp("contoso", conn(IN, "Filter", comment="Filter for contoso ${x}")),
        inp("fabrikam", conn(IN, "Filter", comment="Filter for fabrikam ${x}")),
    ]
    [shared] = derive(tenants).shared
    assert shared.document["comment"] == "Filter for ${tenant.name} $${x}"
    assert shared.variables == {}


def _customers(*names: str, comment: str = "Filter for {org}") -> list[TenantInput]:
    """Tenants named ``name`` whose organization is ``ORG.onmicrosoft.com`` (``name=ORG``, else the name
    itself), each holding the filter with ``comment`` (``{org}``: its organization)."""
    tenants = []
    for name in names:
        tenant, _, org = name.partition("=")
        organization = f"{org or tenant}.onmicrosoft.com"
        tenants.append(
            inp(
                tenant,
                conn(IN, "Filter", comment=comment.format(org=organization)),
                organization=organization,
            )
        )
    return tenants


def test_a_text_holding_each_tenants_organization_is_one_literal_with_tenant_organization() -> None:
    """An MSP names its tenants its own way: a comment holding each customer's organization is still one
    literal; a tenant with no organization makes it a variable."""
    tenants = _customers("cust-01=contoso", "cust-02=fabrikam")
    [shared] = derive(tenants).shared
    assert shared.document["comment"] == "Filter for ${tenant.organization}"
    assert shared.variables == {}
    # the name wins where both would do (it needs no organization)
    [named] = derive(_customers("contoso", "fabrikam", comment="for {org}")).shared
    assert named.document["comment"] == "for ${tenant.name}.onmicrosoft.com"
    tenants[1] = inp("cust-02", conn(IN, "Filter", comment="Filter for fabrikam.onmicrosoft.com"))
    [shared] = derive(tenants).shared
    assert shared.document["comment"] == "${vars.filter_comment}"


def test_variable_names_avoid_taken_ones_then_take_the_kind_then_a_number() -> None:
    tenants = [
        inp("a", conn(IN, "Filter", comment="one"), conn(OUT, "Filter", comment="one")),
        inp("b", conn(IN, "Filter", comment="two"), conn(OUT, "Filter", comment="two")),
    ]
    result = derive(tenants, taken=frozenset({"filter_comment", "outbound_filter_comment"}))
    names = {s.kind: s.variables["comment"] for s in result.shared}
    assert names == {IN: "inbound_filter_comment", OUT: "outbound_filter_comment_2"}
    assert derive(tenants).shared[0].variables == {"comment": "filter_comment"}
    # Deterministic: the same input gives the same names.
    again = derive(tenants, taken=frozenset({"filter_comment", "outbound_filter_comment"}))
    assert {s.kind: s.variables["comment"] for s in again.shared} == names


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        (
            conn(OUT, "Relay", tls_settings="DomainValidation", tls_domain="x.example.net"),
            conn(OUT, "Relay"),
            "tls_settings is unset in b and set in others: a variable cannot unset a field",
        ),
        (
            conn(IN, "Relay"),
            conn(IN, "Relay", connector_type="OnPremises", sender_ip_addresses=["192.0.2.1"]),
            "its connector_type differs",
        ),
    ],
)
def test_a_connector_that_cannot_be_one_document_stays_per_tenant_with_the_reason(
    a: Adopted, b: Adopted, why: str
) -> None:
    result = derive([inp("a", a), inp("b", b)])
    assert result.shared == []
    [(kind, name, reason)] = result.unshared
    assert (kind, name) == (a.kind, "Relay") and why in reason
    assert result.own == {"a": [a], "b": [b]}


def test_another_folder_declaring_it_keeps_it_out_of_the_shared_set() -> None:
    tenants = [
        inp("a", conn(IN, "Filter")),
        inp("b", conn(IN, "Filter"), elsewhere=frozenset({(IN, "filter")})),
        inp("c", conn(IN, "Filter")),
    ]
    result = derive(tenants)
    assert result.shared == []
    assert result.unshared == [(IN, "Filter", "another folder of b declares it")]
    assert result.own["b"] == []  # b's other folder has it: not exported again


def test_ignored_fields_do_not_count_for_the_tenant_that_ignores_them() -> None:
    tenants = [
        inp("a", conn(IN, "Filter", comment="x")),
        inp("b", conn(IN, "Filter", comment="portal edit"), ignore=frozenset({"comment"})),
    ]
    [shared] = derive(tenants).shared
    assert shared.document["comment"] == "x" and shared.variables == {}


def test_a_declared_shared_connector_keeps_the_fields_that_already_give_each_tenant_its_value() -> None:
    a, b = (
        conn(IN, "Filter", comment="Filter for a"),
        conn(IN, "Filter", comment="Filter for b", enabled=False),
    )
    declared_a = {(IN, "filter"): dict(conn(IN, "Filter", comment="Filter for a").connector.managed_fields())}
    declared_b = {(IN, "filter"): dict(conn(IN, "Filter", comment="Filter for b").connector.managed_fields())}
    tenants = [
        inp("a", a, declared=declared_a, lists_common=True),
        inp("b", b, declared=declared_b, lists_common=True),
        inp("c", declared={(IN, "filter"): {}}, lists_common=True),  # a rollout under way
        inp("d"),  # new to the shared folder
    ]
    [shared] = derive(tenants, existing=frozenset({(IN, "filter")})).shared
    # comment resolves right already (a ${tenant.name} template, say): kept; enabled differs: a variable.
    assert shared.existing
    assert shared.document == {"enabled": "${vars.filter_enabled}"}
    assert (shared.absent, shared.missing) == (["d"], ["c"])


def test_the_shared_folder_goes_before_the_tenants_own_and_an_unchanged_list_is_left_alone(
    tmp_path: Path,
) -> None:
    common, own = ("connectors/common", tmp_path / "common"), ("connectors/a", tmp_path / "a")
    assert tenant_folders(["connectors/a"], [own[1]], common, own, True) == [
        "connectors/common",
        "connectors/a",
    ]
    assert tenant_folders(["connectors/common"], [common[1]], common, own, False) is None
    assert tenant_folders(["connectors/common"], [common[1]], common, own, True) == [
        "connectors/common",
        "connectors/a",
    ]
    base = [tmp_path / "base"]
    assert tenant_folders(["base"], base, common, own, True) == ["base", "connectors/common", "connectors/a"]


@pytest.mark.parametrize(
    ("relative", "why"),
    [
        ("/tmp/common", "relative to exoform.yaml"),
        ("../common", "'..' is not allowed"),
        ("link/common", "symbolic"),
    ],
)
def test_the_shared_folder_stays_inside_the_repository(tmp_path: Path, relative: str, why: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(ExoformError, match=why):
        safe_folder(tmp_path, relative, "--common")
    assert (
        safe_folder(tmp_path, "connectors/common", "--common") == tmp_path.resolve() / "connectors" / "common"
    )


def test_a_field_derived_again_keeps_the_variable_the_shared_file_names() -> None:
    key = (IN, "filter")
    references = whole_references({key: {"name": "Filter", "sender_ip_addresses": "${vars.filter_ips}"}})
    assert references == {(key, "sender_ip_addresses"): "filter_ips"}
    tenants = [
        inp("a", conn(IN, "Filter", sender_ip_addresses=["192.0.2.0/26"], ef_skip_ips=["192.0.2.0/26"])),
        inp("b", conn(IN, "Filter", sender_ip_addresses=["192.0.2.64/26"], ef_skip_ips=["192.0.2.64/26"])),
    ]
    references[(key, "ef_skip_ips")] = "filter_ips"  # one variable for two fields, as docs/fleet.md does
    result = derive(
        tenants, existing=frozenset({key}), taken=frozenset({"filter_ips"}), references=references
    )
    [shared] = result.shared
    assert shared.variables == {"sender_ip_addresses": "filter_ips", "ef_skip_ips": "filter_ips"}
    assert result.values == {"filter_ips": {"a": ["192.0.2.0/26"], "b": ["192.0.2.64/26"]}}
    # Two fields naming one variable whose values now differ: the second gets a name of its own.
    tenants[1] = inp(
        "b", conn(IN, "Filter", sender_ip_addresses=["192.0.2.64/26"], ef_skip_ips=["192.0.2.128/26"])
    )
    [shared] = derive(
        tenants, existing=frozenset({key}), taken=frozenset({"filter_ips"}), references=references
    ).shared
    assert shared.variables == {"sender_ip_addresses": "filter_ips", "ef_skip_ips": "filter_ef_skip_ips"}
