"""`exoform validate` end to end: every kind of bad input gives a located, one-line error and exit 1."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from reconciler.cli import cli
from reconciler.yamlio import MAX_FILE_BYTES

REPO = Path(__file__).resolve().parents[2]

CONFIG = """\
tenants:
  prod:
    connectors: conn
"""

GOOD_IN = """\
kind: InboundConnector
name: Inbound from Fabrikam
connector_type: Partner
sender_domains: [fabrikam.com]
"""

GOOD_OUT = """\
kind: OutboundConnector
name: Outbound to Fabrikam
connector_type: Partner
recipient_domains: [fabrikam.com]
tls_settings: CertificateValidation
"""

Run = Callable[..., Result]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Write ``files`` (path -> text or bytes) under a fresh project and run ``exoform validate *args``."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)

    def go(files: dict[str, str | bytes], *args: str, config: str = CONFIG) -> Result:
        (tmp_path / "exoform.yaml").write_text(config, encoding="utf-8")
        (tmp_path / "conn").mkdir(exist_ok=True)
        for name, content in files.items():
            path = tmp_path / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return CliRunner().invoke(cli, ["validate", *args], catch_exceptions=False)

    return go


def error_lines(result: Result) -> list[str]:
    return [line for line in result.stdout.splitlines() if ": error: " in line]


def assert_only_error(result: Result, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert error_lines(result) == [expected], result.output
    assert "Traceback" not in result.output


def test_valid_files_pass_with_a_summary(run: Run) -> None:
    result = run(
        {"conn/in.yaml": GOOD_IN, "conn/sub/out.yml": GOOD_OUT, "conn/empty.yaml": "# nothing yet\n"}
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "2 connector(s) in 1 tenant(s) valid"


def test_the_shipped_demo_is_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    result = CliRunner().invoke(cli, ["validate"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.strip().splitlines()[-1] == "14 connector(s) in 4 tenant(s) valid"
    )  # the demo and the demo fleet
    assert "warning" not in result.stdout  # the examples follow the posture checks' best practice


def test_invalid_yaml_syntax(run: Run) -> None:
    result = run({"conn/a.yaml": "kind: InboundConnector\nname: x\n  connector_type: Partner\n"})
    assert_only_error(result, "conn/a.yaml:3:17: error: invalid YAML: mapping values are not allowed here")


def test_unclosed_flow_sequence(run: Run) -> None:
    result = run({"conn/a.yaml": "kind: InboundConnector\nname: [a\nconnector_type: Partner\n"})
    assert_only_error(
        result,
        "conn/a.yaml:3:15: error: invalid YAML: expected ',' or ']', but got ':' "
        "(while parsing a flow sequence)",
    )


def test_duplicate_keys_name_both_places(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "comment: one\ncomment: two\n"})
    assert_only_error(result, "conn/a.yaml:6:1: error: duplicate key 'comment' (first at line 5, column 1)")


def test_unknown_field_suggests_the_right_one(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "requre_tls: true\n"})
    assert_only_error(
        result, "conn/a.yaml:5:1: error: unknown field 'requre_tls' (did you mean 'require_tls'?)"
    )


def test_unknown_nested_field(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "skip_checks:\n  - rule: X\n    reason: y\n    reson: z\n"})
    assert_only_error(
        result,
        "conn/a.yaml:8:5: error: unknown field 'reson' in skip_checks[0] (did you mean 'reason'?)",
    )


def test_wrong_type_points_at_the_value(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "require_tls: yes\n"})
    assert_only_error(
        result,
        "conn/a.yaml:5:14: error: require_tls: expected true or false, got 'yes' "
        "(YAML 1.2 reads yes/no/on/off as text)",
    )


def test_wrong_type_list(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN.replace("[fabrikam.com]", "fabrikam.com")})
    assert_only_error(result, "conn/a.yaml:4:17: error: sender_domains: expected a list, got 'fabrikam.com'")


def test_bad_enum_value(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN.replace("Partner", "Partnr")})
    assert_only_error(
        result,
        "conn/a.yaml:3:17: error: connector_type: expected 'Partner' or 'OnPremises', got 'Partnr' "
        "(did you mean 'Partner'?)",
    )


def test_bad_list_entry_points_at_the_entry(run: Run) -> None:
    text = GOOD_IN + "sender_ip_addresses:\n  - 192.0.2.1\n  - 10.0.0.0/8\n"
    result = run({"conn/a.yaml": text})
    assert_only_error(
        result,
        "conn/a.yaml:7:5: error: sender_ip_addresses[1]: '10.0.0.0/8': the CIDR mask must be /24 to /32",
    )


def test_missing_required_field_points_at_the_document(run: Run) -> None:
    result = run({"conn/a.yaml": "# header\nkind: InboundConnector\nname: x\nconnector_type: Partner\n"})
    assert_only_error(result, "conn/a.yaml:2:1: error: missing required field 'sender_domains'")


def test_cross_field_violation_points_at_the_key(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "treat_messages_as_internal: true\n"})
    assert_only_error(
        result, "conn/a.yaml:5:1: error: treat_messages_as_internal needs connector_type OnPremises"
    )


def test_cross_field_violation_of_a_missing_field_points_at_the_document(run: Run) -> None:
    text = "---\nkind: OutboundConnector\nname: Out\nconnector_type: Partner\n"
    result = run({"conn/a.yaml": text})
    assert_only_error(
        result,
        "conn/a.yaml:2:1: error: set recipient_domains or all_accepted_domains, "
        "or is_transport_rule_scoped: true",
    )


def test_ignore_fields_suggests(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "ignore_fields: [comment, enabeld]\n"})
    assert_only_error(
        result,
        "conn/a.yaml:5:26: error: ignore_fields: 'enabeld' is not a field of InboundConnector "
        "(did you mean 'enabled'?)",
    )


def test_duplicate_names_across_files_case_insensitive(run: Run) -> None:
    other = GOOD_IN.replace("Inbound from Fabrikam", "INBOUND FROM FABRIKAM")
    result = run({"conn/a.yaml": GOOD_IN, "conn/b.yaml": other, "conn/c.yaml": GOOD_OUT})
    assert_only_error(
        result,
        "conn/b.yaml:2:1: error: duplicate InboundConnector name 'INBOUND FROM FABRIKAM' "
        "(names are case-insensitive): also declared at conn/a.yaml:2:1",
    )


def test_same_name_in_both_kinds_is_an_error_at_both_places(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN, "conn/b.yaml": GOOD_OUT.replace("Outbound to", "Inbound from")})
    assert result.exit_code == 1
    assert (
        "conn/a.yaml:2:1: error: InboundConnector 'Inbound from Fabrikam' has the name of the "
        "OutboundConnector at conn/b.yaml:2:1" in result.output
    )
    assert (
        "conn/b.yaml:2:1: error: OutboundConnector 'Inbound from Fabrikam' has the name of the "
        "InboundConnector at conn/a.yaml:2:1" in result.output
    )


def test_rename_whose_old_name_is_declared(run: Run) -> None:
    renamed = (
        GOOD_IN.replace("Inbound from Fabrikam", "Fabrikam inbound")
        + "renamed_from: [inbound from fabrikam]\n"
    )
    result = run({"conn/a.yaml": GOOD_IN, "conn/b.yaml": renamed})
    assert_only_error(
        result,
        "conn/b.yaml:5:1: error: renamed_from 'inbound from fabrikam': a InboundConnector of that name is "
        "also declared at conn/a.yaml:2:1; remove the rename or that connector",
    )


def test_missing_kind_and_unknown_kind(run: Run) -> None:
    result = run({"conn/a.yaml": "name: x\n---\nkind: inbound\nname: y\n"})
    assert result.exit_code == 1
    assert error_lines(result) == [
        "conn/a.yaml:1:1: error: missing 'kind': set kind: InboundConnector or kind: OutboundConnector",
        "conn/a.yaml:3:7: error: unknown kind 'inbound' (did you mean 'InboundConnector'?); "
        "use InboundConnector or OutboundConnector",
    ]


def test_not_utf8(run: Run) -> None:
    result = run({"conn/a.yaml": b"kind: InboundConnector\nname: caf\xe9\n"})
    assert_only_error(result, "conn/a.yaml:2:10: error: file is not UTF-8 text (byte 0xe9); save it as UTF-8")


def test_control_character(run: Run) -> None:
    result = run({"conn/a.yaml": "kind: InboundConnector\nname: a\x07\n"})
    assert_only_error(result, "conn/a.yaml:2:8: error: invalid YAML: control character U+0007 is not allowed")


def test_empty_document_is_an_error_but_an_empty_file_is_not(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN + "---\n---\n" + GOOD_OUT, "conn/b.yaml": "", "conn/c.yml": "# x\n"})
    assert_only_error(
        result,
        "conn/a.yaml:5:1: error: empty document: each document between '---' lines declares one "
        "connector; remove the extra '---'",
    )


def test_document_that_is_not_a_mapping(run: Run) -> None:
    result = run({"conn/a.yaml": "- kind: InboundConnector\n---\njust text\n"})
    assert result.exit_code == 1
    assert error_lines(result) == [
        "conn/a.yaml:1:1: error: a connector document must be a mapping (kind: ..., name: ...), not a list",
        "conn/a.yaml:3:1: error: a connector document must be a mapping (kind: ..., name: ...), "
        "not the text 'just text'",
    ]


def test_billion_laughs_is_bounded(run: Run) -> None:
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 9):
        refs = ", ".join([f"*l{level - 1}"] * 9)
        lines.append(f"l{level}: &l{level} [{refs}]")
    text = GOOD_IN + "comment: x\n" + "\n".join(lines) + "\n"
    result = run({"conn/a.yaml": text})
    assert_only_error(
        result,
        "conn/a.yaml:10:10: error: aliases expand to more than 10000 values in this file (an alias bomb?); "
        "write the values out",
    )


def test_modest_aliases_are_fine(run: Run) -> None:
    text = GOOD_IN.replace("[fabrikam.com]", "&d [fabrikam.com]") + "associated_accepted_domains: *d\n"
    result = run({"conn/a.yaml": text})
    assert result.exit_code == 0, result.output


def test_absurdly_large_file(run: Run) -> None:
    big = GOOD_IN + "comment: " + "x" * MAX_FILE_BYTES + "\n"
    result = run({"conn/a.yaml": big})
    size = len(big.encode())
    assert_only_error(result, f"conn/a.yaml:1:1: error: file is {size} bytes; the limit is 1048576 (1 MiB)")


def test_deep_nesting(run: Run) -> None:
    result = run({"conn/a.yaml": "kind: InboundConnector\nname: " + "[" * 100 + "]" * 100 + "\n"})
    assert_only_error(
        result,
        "conn/a.yaml:2:38: error: nesting is deeper than 32 levels; a connector needs 3 "
        "(the rest of the file was not read)",
    )


def test_deep_unclosed_flow_nesting_is_refused_without_reading_on(run: Run) -> None:
    # ruamel's scanner slows down with every open flow level: reading 50,000 of them took minutes.
    result = run({"conn/a.yaml": "kind: InboundConnector\nname: x\ncomment: " + "[" * 50_000 + "\n"})
    assert_only_error(
        result,
        "conn/a.yaml:3:41: error: nesting is deeper than 32 levels; a connector needs 3 "
        "(the rest of the file was not read)",
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "!!python/object/apply:os.system [echo hi]\n",
            "conn/a.yaml:1:1: error: YAML tag '!!python/object/apply:os.system' is not allowed: "
            "exoform reads plain YAML (mappings, lists, text, numbers)",
        ),
        (
            GOOD_IN + "comment: !secret x\n",
            "conn/a.yaml:5:10: error: YAML tag '!secret' is not allowed: exoform reads plain YAML "
            "(mappings, lists, text, numbers)",
        ),
    ],
)
def test_tags_are_rejected(run: Run, text: str, expected: str) -> None:
    assert_only_error(run({"conn/a.yaml": text}), expected)


def test_explicit_core_tags_are_allowed(run: Run) -> None:
    result = run({"conn/a.yaml": GOOD_IN.replace("name: Inbound from Fabrikam", "name: !!str 2024")})
    assert result.exit_code == 0, result.output


def test_merge_keys_are_rejected(run: Run) -> None:
    result = run({"conn/a.yaml": "base: &b {enabled: true}\n<<: *b\n" + GOOD_IN})
    assert result.exit_code == 1
    assert error_lines(result) == [
        "conn/a.yaml:2:1: error: merge keys (<<) are not supported; write the fields out in each document"
    ]


def test_every_problem_of_every_file_is_reported(run: Run) -> None:
    result = run(
        {
            "conn/a.yaml": GOOD_IN + "enabled: 1\n---\n" + GOOD_OUT + "smtp_dane_mode: Sometimes\n",
            "conn/z/b.yaml": "kind: InboundConnector\nname: [\n",
        }
    )
    assert result.exit_code == 1
    lines = error_lines(result)
    assert [line.split(": error:")[0] for line in lines] == [
        "conn/a.yaml:5:10",
        "conn/a.yaml:12:17",
        "conn/z/b.yaml:3:1",
    ]
    assert result.stdout.strip().splitlines()[-1] == "3 problem(s) found (3 error(s))"


def test_github_actions_annotations(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = run({"conn/a.yaml": GOOD_IN + "requre_tls: true\n"})
    assert result.exit_code == 1
    assert (
        "::error file=conn/a.yaml,line=5,col=1::unknown field 'requre_tls' (did you mean 'require_tls'?)"
        in result.stdout.splitlines()
    )


def test_config_problems_are_located(run: Run) -> None:
    config = (
        "tenants:\n  prod:\n    connectors: conn\n    unmanaged: purge\n    max_deletes: -1\n    colud: gcc\n"
    )
    result = run({}, config=config)
    assert result.exit_code == 1
    assert error_lines(result) == [
        "exoform.yaml:4:16: error: tenants.prod.unmanaged: expected 'report', 'ignore' or 'delete', "
        "got 'purge'",
        "exoform.yaml:5:18: error: tenants.prod.max_deletes: Input should be greater than or equal to 0",
        "exoform.yaml:6:5: error: unknown field 'colud' in tenants.prod (did you mean 'cloud'?)",
    ]


def test_config_secret_written_in_the_file_is_refused(run: Run) -> None:
    config = (
        "tenants:\n  prod:\n    connectors: conn\n    provider: exchange\n"
        "    organization: contoso.onmicrosoft.com\n"
        "    auth:\n      client_id: abc\n      client_secret: hunter2\n"
    )
    result = run({}, config=config)
    assert result.exit_code == 1
    assert error_lines(result) == [
        "exoform.yaml:8:22: error: tenants.prod.auth.client_secret: a secret is never written in "
        "exoform.yaml: use env:NAME to read it from the environment"
    ]
    assert "hunter2" not in result.output


def test_missing_connectors_folder(run: Run) -> None:
    result = run({}, config="tenants:\n  prod:\n    connectors: nowhere\n")
    assert_only_error(
        result, "exoform.yaml:3:17: error: tenant prod: connectors folder nowhere does not exist"
    )


def test_missing_config_file(run: Run) -> None:
    result = run({}, "--config", "other.yaml")
    assert_only_error(result, "other.yaml:1:1: error: file not found (give another with --config PATH)")


def test_check_env_reports_unset_variables_without_values(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    config = (
        "tenants:\n  prod:\n    connectors: conn\n    provider: exchange\n    tenant_id: t\n"
        "    auth:\n      client_id: abc\n      client_secret: env:EXOFORM_TEST_SECRET\n"
    )
    monkeypatch.delenv("EXOFORM_TEST_SECRET", raising=False)
    assert run({"conn/a.yaml": GOOD_IN}, config=config).exit_code == 0  # not needed, not checked
    result = run({"conn/a.yaml": GOOD_IN}, "--check-env", config=config)
    assert_only_error(
        result,
        "exoform.yaml:8:22: error: tenant prod: environment variable EXOFORM_TEST_SECRET is not set "
        "(referenced as env:EXOFORM_TEST_SECRET)",
    )
    monkeypatch.setenv("EXOFORM_TEST_SECRET", "s3cr3t-value")
    result = run({"conn/a.yaml": GOOD_IN}, "--check-env", config=config)
    assert result.exit_code == 0, result.output
    assert "s3cr3t-value" not in result.output


def test_tenant_selection(run: Run) -> None:
    config = (
        "tenants:\n  prod-eu:\n    connectors: conn\n  prod-us:\n    connectors: conn\n"
        "  lab:\n    connectors: bad\n"
    )
    result = run({"conn/a.yaml": GOOD_IN}, "--tenant", "prod-*", config=config)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().splitlines()[-1] == "2 connector(s) in 2 tenant(s) valid"
    result = run({"conn/a.yaml": GOOD_IN}, "--tenant", "prdo-eu", config=config)
    assert result.exit_code == 1
    assert "error: no tenant matches 'prdo-eu' (did you mean 'prod-eu'?)" in result.stderr


def test_path_outside_cwd_is_shown_as_given(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "project"
    shutil.copytree(REPO / "connectors" / "demo", project / "connectors" / "demo")
    (project / "exoform.yaml").write_text("tenants:\n  demo:\n    connectors: connectors/demo\n")
    (project / "connectors" / "demo" / "bad.yaml").write_text("kind: Nope\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(cli, ["validate", "--config", str(project / "exoform.yaml")])
    assert result.exit_code == 1
    expected = os.path.join(str(project.resolve()), "connectors", "demo", "bad.yaml") + ":1:7: error:"
    assert error_lines(result)[0].startswith(expected), result.output


def test_empty_tenant_points_at_its_name(run: Run) -> None:
    result = run({}, config="tenants:\n  prod:\n")
    assert_only_error(result, "exoform.yaml:2:3: error: tenants.prod: expected a mapping (key: value pairs)")


def test_config_that_is_not_a_mapping(run: Run) -> None:
    result = run({}, config="- prod\n")
    assert_only_error(result, "exoform.yaml:1:1: error: exoform.yaml must be a mapping with a tenants: key")


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "      client_secret: 98765432\n",
            "exoform.yaml:7:22: error: tenants.prod.auth.client_secret: expected text",
        ),
        (
            "      federated: s3cr3t\n",
            "exoform.yaml:7:18: error: tenants.prod.auth.federated: "
            "expected 'github', 'azure-devops' or 'gitlab'",
        ),
    ],
)
def test_values_under_auth_are_never_echoed(run: Run, line: str, expected: str) -> None:
    config = (
        "tenants:\n  prod:\n    connectors: conn\n    tenant_id: t\n    auth:\n      client_id: a\n" + line
    )
    result = run({}, config=config)
    assert_only_error(result, expected)
    assert "98765432" not in result.output and "s3cr3t" not in result.output


def test_huge_values_are_clipped_in_messages(run: Run) -> None:
    digits = "9" * 5000
    text = "kind: InboundConnector\nname: x\nconnector_type: Partner\nsender_domains: [a.com]\n"
    text += f"enabled: {digits}\n"
    result = run({"conn/a.yaml": text})
    (line,) = error_lines(result)
    assert len(line) < 250, line
    assert line.startswith("conn/a.yaml:5:10: error: '9999") and "(5,000 characters)" in line
