"""``${...}`` references resolved per tenant on the located tree (desired.variables), and through the
connector loader: located errors naming the tenant and where the value came from."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.desired.connectors import load_all
from reconciler.desired.variables import Binding, Scope, resolve
from reconciler.errors import InputError, Location
from reconciler.yamlio import AliasBudget, YScalar, parse_text, to_python


def _scope(**values: object) -> Scope:
    bindings = {f"vars.{k}": Binding(v, Location("exoform.yaml", 9, 7)) for k, v in values.items()}
    return Scope("contoso", bindings | {"tenant.name": Binding("contoso")})


def _resolved(text: str, scope: Scope) -> tuple[object, list[str]]:
    documents, problems = parse_text(textwrap.dedent(text), "f.yaml")
    assert problems == []
    root = documents[0].root
    assert root is not None
    result = resolve(root, scope)
    return to_python(result.root, AliasBudget("f.yaml")), [str(p) for p in result.problems]


def test_a_whole_reference_takes_the_variables_type_and_text_is_interpolated() -> None:
    data, problems = _resolved(
        """\
        ips: ${vars.ips}
        flag: ${vars.flag}
        count: ${ vars.count }
        text: "for ${tenant.name} at ${vars.domain}, port ${vars.count}, $${literal}"
        """,
        _scope(ips=["198.51.100.0/25"], flag=True, count=3, domain="contoso.com"),
    )
    assert problems == []
    assert data == {
        "ips": ["198.51.100.0/25"],
        "flag": True,
        "count": 3,
        "text": "for contoso at contoso.com, port 3, ${literal}",
    }


def test_undefined_unknown_and_list_in_text_are_located_errors_naming_the_tenant() -> None:
    _, problems = _resolved(
        """\
        a: ${vars.partner_ip}
        b: x ${vars.ips} y
        c: ${env.HOME}
        d: ${tenant.organization}
        e: smtp.${vars.pod.example.net
        """,
        _scope(partner_ips=["198.51.100.1"], ips=["198.51.100.1"]),
    )
    assert problems[0].startswith("f.yaml:1:4: error: undefined variable 'partner_ip' for tenant contoso")
    assert "did you mean 'partner_ips'" in problems[0]
    assert problems[1].startswith("f.yaml:2:4: error: ${vars.ips} is a list for tenant contoso")
    assert problems[2].startswith("f.yaml:3:4: error: unknown reference '${env.HOME}'")
    assert problems[4] == (
        "f.yaml:5:4: error: '${' without a closing '}': write ${vars.NAME}, or $${ for a literal ${"
    )
    assert problems[3].startswith(
        "f.yaml:4:4: error: ${tenant.organization}: tenant contoso has no organization"
    )


def test_resolving_never_changes_the_shared_tree_and_keeps_aliases() -> None:
    documents, _ = parse_text('a: &x ["${vars.v}"]\nb: *x\nc: plain\n', "f.yaml")
    root = documents[0].root
    assert root is not None
    first = resolve(root, _scope(v="one"))
    second = resolve(root, _scope(v="two"))
    assert to_python(first.root, AliasBudget("f")) == {"a": ["one"], "b": ["one"], "c": "plain"}
    assert to_python(second.root, AliasBudget("f")) == {"a": ["two"], "b": ["two"], "c": "plain"}
    assert to_python(root, AliasBudget("f"))["a"] == ["${vars.v}"]
    node = first.root.entries["c"].value  # type: ignore[attr-defined]
    assert isinstance(node, YScalar) and node is root.entries["c"].value  # type: ignore[attr-defined]


@pytest.fixture
def fleet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "filter.yaml").write_text(
        textwrap.dedent(
            """\
            kind: InboundConnector
            name: From filter
            connector_type: Partner
            sender_domains: ["*"]
            sender_ip_addresses: ${vars.filter_ips}
            restrict_domains_to_ip_addresses: ${vars.restrict}
            comment: Filter for ${tenant.name} (${tenant.organization})
            """
        )
    )
    return tmp_path


def _config(root: Path, text: str) -> Path:
    (root / "exoform.yaml").write_text(text)
    return root / "exoform.yaml"


EXCHANGE = """\
    provider: exchange
    auth: {client_id: x, federated: github}
    connectors: shared
"""


def test_each_tenant_gets_its_own_values_and_the_plan_input_is_resolved(fleet: Path) -> None:
    path = _config(
        fleet,
        "tenants:\n"
        + "".join(
            f"  {name}:\n    organization: {name}.onmicrosoft.com\n"
            f"    vars: {{filter_ips: [{ip}], restrict: true}}\n" + EXCHANGE
            for name, ip in (("contoso", "198.51.100.0/25"), ("fabrikam", "203.0.113.7"))
        ),
    )
    _, desired = load_all(path)
    got = {
        d.tenant: (c.connector.sender_ip_addresses, c.connector.comment)  # type: ignore[union-attr]
        for d in desired
        for c in d.connectors
    }
    assert got == {
        "contoso": (["198.51.100.0/25"], "Filter for contoso (contoso.onmicrosoft.com)"),
        "fabrikam": (["203.0.113.7"], "Filter for fabrikam (fabrikam.onmicrosoft.com)"),
    }


def test_a_wrong_type_is_the_literals_error_at_the_reference_naming_the_value_and_tenant(fleet: Path) -> None:
    path = _config(
        fleet,
        textwrap.dedent(
            """\
            tenants:
              contoso:
                organization: contoso.onmicrosoft.com
                vars:
                  filter_ips: 198.51.100.0/25
                  restrict: "yes"
            """
        )
        + EXCHANGE,
    )
    with pytest.raises(InputError) as caught:
        load_all(path)
    shown = [str(p) for p in caught.value.problems]
    assert shown == [
        "shared/filter.yaml:5:22: error: sender_ip_addresses: expected a list, got '198.51.100.0/25' "
        "(${vars.filter_ips} is set at exoform.yaml:5:19 for tenant contoso)",
        "shared/filter.yaml:6:35: error: restrict_domains_to_ip_addresses: expected true or false, got 'yes' "
        "(YAML 1.2 reads yes/no/on/off as text) (${vars.restrict} is set at exoform.yaml:6:17 for tenant "
        "contoso)",
    ]


def test_an_undefined_variable_fails_only_the_tenant_that_lacks_it(fleet: Path) -> None:
    path = _config(
        fleet,
        "tenants:\n  good:\n    organization: good.onmicrosoft.com\n"
        "    vars: {filter_ips: [198.51.100.0/25], restrict: true}\n"
        + EXCHANGE
        + "  broken:\n    organization: broken.onmicrosoft.com\n    vars: {filter_ips: [198.51.100.0/25]}\n"
        + EXCHANGE,
    )
    with pytest.raises(InputError) as caught:
        load_all(path)
    [problem] = caught.value.problems
    assert str(problem).startswith(
        "shared/filter.yaml:6:35: error: undefined variable 'restrict' for tenant broken"
    )


def test_unclosed_references_are_scanned_in_linear_time() -> None:
    """A connector file of ``${`` never closed (a PR controls it; validate runs in the PR workflow) is
    scanned in time linear in its length: 4x the text costs well under 16x (a quadratic scan took
    seconds at 50 KB and over a minute at 200 KB).  The reference is still reported as unclosed."""
    from bench.parsing import through_variables, times, unclosed_references

    [resolved] = through_variables(unclosed_references(4096))
    assert [p.message for p in resolved.problems] == [
        "'${' without a closing '}': write ${vars.NAME}, or $${ for a literal ${"
    ]
    small, large = times(through_variables, unclosed_references, 12 << 10)
    assert large < 10 * small + 0.05, (small, large)


def _budget_repo(root: Path, files: int, references: int, value: str) -> Path:
    (root / "c").mkdir()
    for i in range(files):
        text = f"kind: InboundConnector\nname: n{i}\nsender_domains: ['*']\ncomment: "
        (root / "c" / f"f{i}.yaml").write_text(text + "${vars.big}" * references + "\n")
    return _config(
        root, f"tenants:\n  t:\n    provider: local\n    connectors: c\n    vars: {{big: {value}}}\n"
    )


def test_expansion_past_the_per_file_budget_is_one_located_error_naming_the_limit(tmp_path: Path) -> None:
    """420 KB of references to a long variable made 818 MB (a MemoryError under a memory limit): now a
    file's references expand to at most 1 MiB, and past it one error names the file, the place and the
    limit, instead of building the text."""
    config = _budget_repo(tmp_path, 1, 200, "x" * 8000)
    with pytest.raises(InputError) as caught:
        load_all(config)
    [problem] = caught.value.problems
    assert str(problem).endswith("f0.yaml:4:10: error: " + problem.message)
    assert "expand to more than 1 MiB (1,048,576 characters) of text in " in problem.message
    assert "for tenant t" in problem.message


def test_expansion_past_the_per_tenant_budget_is_one_located_error(tmp_path: Path) -> None:
    """Each file under its own budget, together past the tenant's (8 MiB): one error, at the reference
    that crossed it."""
    config = _budget_repo(tmp_path, 10, 110, "x" * 8000)  # 880,000 characters a file
    with pytest.raises(InputError) as caught:
        load_all(config)
    [problem] = [p for p in caught.value.problems if "expand" in p.message]
    assert problem.location.path.endswith("f9.yaml")
    assert "expand to more than 8 MiB (8,388,608 characters) of text in all the files for tenant t" in (
        problem.message
    )
