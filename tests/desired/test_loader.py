"""exoform.yaml: loading, tenant selection and env: references."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.desired.loader import check_env, load_config, select_tenants
from reconciler.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]


def test_select_tenants() -> None:
    config = ExoformConfig(tenants={n: TenantConfig(connectors="c") for n in ("prod-eu", "prod-us", "lab")})
    assert select_tenants(config, []) == ["prod-eu", "prod-us", "lab"]
    assert select_tenants(config, ["lab", "prod-*"]) == ["prod-eu", "prod-us", "lab"]
    assert select_tenants(config, ["prod-us"]) == ["prod-us"]
    with pytest.raises(ConfigError, match=r"no tenant matches 'lba' \(did you mean 'lab'\?\)"):
        select_tenants(config, ["lba"])
    with pytest.raises(ConfigError, match="no tenant matches 'dev-\\*'"):
        select_tenants(config, ["dev-*"])


def test_env_references_are_not_resolved_at_load(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "exoform.yaml").write_text(
        "tenants:\n  prod:\n    connectors: conn/prod\n    provider: exchange\n    tenant_id: t\n"
        "    auth:\n      client_id: c\n      certificate:\n        pem: env:EXO_TEST_PEM\n"
        "        passphrase: env:EXO_TEST_PASS\n"
    )
    monkeypatch.delenv("EXO_TEST_PEM", raising=False)
    monkeypatch.setenv("EXO_TEST_PASS", "p")
    config = load_config(project / "exoform.yaml")
    auth = config.tenants["prod"].auth
    assert auth is not None and auth.certificate is not None
    assert auth.certificate.pem == "env:EXO_TEST_PEM"
    assert [str(p) for p in check_env(config, ["prod"])] == [
        "exoform.yaml:9:14: error: tenant prod: environment variable EXO_TEST_PEM is not set "
        "(referenced as env:EXO_TEST_PEM)"
    ]


def test_check_env_covers_client_ids_ca_bundle_and_apply_auth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n"
        "  prod:\n"
        "    connectors: c\n"
        "    provider: exchange\n"
        "    organization: contoso.onmicrosoft.com\n"
        "    ca_bundle: env:EXO_T_CA\n"
        "    auth: {client_id: env:EXO_T_READ, federated: github}\n"
        "    apply_auth: {client_id: env:EXO_T_WRITE, client_secret: env:EXO_T_SECRET}\n"
    )
    for name in ("EXO_T_CA", "EXO_T_READ", "EXO_T_WRITE", "EXO_T_SECRET"):
        monkeypatch.delenv(name, raising=False)
    config = load_config(tmp_path / "exoform.yaml")
    monkeypatch.setenv("EXO_T_SECRET", "s3cret-value")
    problems = [str(p) for p in check_env(config, ["prod"])]
    assert [p.split(" is not set")[0].rsplit(" ", 1)[1] for p in problems] == [
        "EXO_T_CA",
        "EXO_T_READ",
        "EXO_T_WRITE",
    ]
    assert all("s3cret-value" not in p for p in problems)


def test_demo_config_names_the_local_demo_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    config = load_config(Path("exoform.yaml"))
    demo = config.tenants["demo"]
    assert demo.provider == "local"
    assert demo.connectors == "connectors/demo"
    assert demo.state == ".exoform/demo-state.json"
    assert demo.seed == "connectors/demo-seed.json"


INHERITED = """\
defaults:
  provider: exchange
  authority: https://login.exoform.invalid/common
  auth: {client_id: app, client_secret: env:EXO_T_SHARED}
tenants:
  a: {connectors: c, organization: a.onmicrosoft.com}
  b: {connectors: c, organization: b.onmicrosoft.com}
  c:
    connectors: c
    organization: c.onmicrosoft.com
    auth: {client_id: app2, client_secret: env:EXO_T_OWN}
"""


def test_a_missing_inherited_variable_is_one_problem_naming_the_tenants(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "exoform.yaml").write_text(INHERITED)
    monkeypatch.delenv("EXO_T_SHARED", raising=False)
    monkeypatch.delenv("EXO_T_OWN", raising=False)
    monkeypatch.chdir(tmp_path)
    config = load_config(Path("exoform.yaml"))
    assert [str(p) for p in check_env(config, ["a", "b", "c"])] == [
        "exoform.yaml:4:41: error: tenants a, b: environment variable EXO_T_SHARED is not set "
        "(referenced as env:EXO_T_SHARED)",
        "exoform.yaml:11:44: error: tenant c: environment variable EXO_T_OWN is not set "
        "(referenced as env:EXO_T_OWN)",
    ]


def test_sign_in_errors_name_a_shared_missing_variable_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``exoform plan``: the tenants that inherit an unset variable fail with one line naming them."""
    from click.testing import CliRunner

    from reconciler.cli import cli

    (tmp_path / "exoform.yaml").write_text(INHERITED)
    (tmp_path / "c").mkdir()
    monkeypatch.delenv("EXO_T_SHARED", raising=False)
    monkeypatch.setenv("EXO_T_OWN", "x")
    monkeypatch.setenv("EXO_T_SHARED_UNUSED", "x")
    result = CliRunner().invoke(
        cli, ["plan", "--tenant", "a", "--tenant", "b", "--config", str(tmp_path / "exoform.yaml")]
    )
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: tenants a, b: environment variable EXO_T_SHARED is not set (referenced as env:EXO_T_SHARED)"
    ], result.output
    assert result.exit_code != 0
