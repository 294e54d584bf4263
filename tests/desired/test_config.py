"""exoform.yaml's model: defaults, provider settings, credentials as env: references only, policy bounds."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from reconciler.desired.config import (
    AuthSettings,
    CertificateAuth,
    ExoformConfig,
    TenantConfig,
    resolve_secret,
)
from reconciler.errors import ConfigError, quote

EXCHANGE: dict[str, Any] = {
    "connectors": "c",
    "provider": "exchange",
    "organization": "contoso.onmicrosoft.com",
    "auth": {"client_id": "app", "federated": "github"},
}


def test_defaults() -> None:
    tenant = TenantConfig(connectors="c")
    assert tenant.provider == "local"
    assert tenant.cloud == "commercial"
    assert tenant.unmanaged == "report"
    assert tenant.max_deletes == 1
    assert tenant.max_change_fraction == 0.3
    assert tenant.protect == [] and tenant.ignore_fields == []


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (EXCHANGE, None),
        ({**EXCHANGE, "organization": None, "tenant_id": "9f2c"}, None),
        ({**EXCHANGE, "organization": None}, "needs organization or tenant_id"),
        ({**EXCHANGE, "auth": None}, "needs auth"),
        ({**EXCHANGE, "cloud": "gcc-high"}, None),
        ({**EXCHANGE, "cloud": "azure"}, "Input should be 'commercial', 'gcc', 'gcc-high', 'dod' or 'china'"),
        ({**EXCHANGE, "auth": {"client_id": "a", "client_secret": "env:S"}}, None),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "client_secret": "plain-text"}},
            "a secret is never written",
        ),
        ({**EXCHANGE, "auth": {"client_id": "a", "client_secret": "env:"}}, "a secret is never written"),
        ({**EXCHANGE, "auth": {"client_id": "a"}}, "exactly one of client_secret, certificate or federated"),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "client_secret": "env:S", "federated": "github"}},
            "exactly one of client_secret, certificate or federated",
        ),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "federated": "jenkins"}},
            "Input should be 'github', 'azure-devops' or 'gitlab'",
        ),
        ({**EXCHANGE, "auth": {"client_id": "a", "certificate": {"path": "k.pem"}}}, None),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "certificate": {"pem": "env:P", "passphrase": "env:Q"}}},
            None,
        ),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "certificate": {"path": "k.pem", "pem": "env:P"}}},
            "exactly one of path or pem",
        ),
        (
            {**EXCHANGE, "auth": {"client_id": "a", "certificate": {"path": "k.pem", "passphrase": "pw"}}},
            "a secret is never written",
        ),
        ({"connectors": "c", "unmanaged": "delete"}, None),
        ({"connectors": "c", "unmanaged": "purge"}, "Input should be 'report', 'ignore' or 'delete'"),
        ({"connectors": "c", "max_deletes": 0}, None),
        ({"connectors": "c", "max_deletes": -1}, "greater than or equal to 0"),
        ({"connectors": "c", "max_change_fraction": 1.0}, None),
        ({"connectors": "c", "max_change_fraction": 1.5}, "less than or equal to 1"),
        ({"connectors": "c", "ignore_fields": ["comment", "ef_users"]}, None),
        (
            {"connectors": "c", "ignore_fields": ["coment"]},
            "'coment' is not a connector field (did you mean 'comment'?)",
        ),
        ({"connectors": "c", "ignore_fields": ["name"]}, "identifies the connector"),
        ({"connectors": "c", "skip_checks": [{"rule": "EXO-IN-001", "reason": "lab"}]}, None),
        ({"connectors": "c", "skip_checks": [{"rule": "EXO-IN-001", "reason": ""}]}, "at least 1 character"),
        ({"connectors": "c", "read_concurrency": 17}, "less than or equal to 16"),
        ({"connectors": "c", "sedd": "x"}, "Extra inputs are not permitted"),
        ({"connectors": "c", "seed": "s.json"}, None),
        ({**EXCHANGE, "cloud": "dod", "endpoint": "https://x.example", "ca_bundle": "ca.pem"}, None),
        (
            {"connectors": "c", "cloud": "gcc"},
            "cloud is a setting of provider: exchange; this tenant's provider is local",
        ),
        (
            {"connectors": "c", "provider": "local", "auth": {"client_id": "a", "federated": "github"}},
            "auth is a setting of provider: exchange; this tenant's provider is local",
        ),
        ({**EXCHANGE, "apply_auth": {"client_id": "env:EXO_WRITE_ID", "federated": "github"}}, None),
        ({**EXCHANGE, "auth": {"client_id": "env:EXO_READ_ID", "federated": "github"}}, None),
        ({**EXCHANGE, "ca_bundle": "env:EXO_CA"}, None),
        ({**EXCHANGE, "ca_bundle": "env:1BAD"}, "env: must be followed by an environment variable name"),
        (
            {**EXCHANGE, "auth": {"client_id": "env:", "federated": "github"}},
            "use env:NAME to read it from the environment",
        ),
        (
            {"connectors": "c", "apply_auth": {"client_id": "a", "federated": "github"}},
            "apply_auth is a setting of provider: exchange; this tenant's provider is local",
        ),
        (
            {**EXCHANGE, "state": "s.json"},
            "state is a setting of provider: local; this tenant's provider is exchange",
        ),
    ],
)
def test_tenant_settings(settings: dict[str, Any], message: str | None) -> None:
    if message is None:
        TenantConfig.model_validate(settings)
        return
    with pytest.raises(ValidationError, match=re.escape(message)):
        TenantConfig.model_validate(settings)


def test_needs_a_tenant() -> None:
    with pytest.raises(ValidationError, match="at least 1 item"):
        ExoformConfig.model_validate({"tenants": {}})


def test_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    config = ExoformConfig(tenants={"t": TenantConfig(connectors="c")}, base_dir=tmp_path)
    assert config.path("c/x") == (tmp_path / "c" / "x").resolve()


def test_resolve_secret_names_the_variable_never_a_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXO_TEST_SET", "value-123")
    assert resolve_secret("env:EXO_TEST_SET") == "value-123"
    monkeypatch.setenv("EXO_TEST_EMPTY", "")
    for name in ("EXO_TEST_UNSET", "EXO_TEST_EMPTY"):
        monkeypatch.delenv("EXO_TEST_UNSET", raising=False)
        with pytest.raises(ConfigError, match=f"environment variable {name} is not set"):
            resolve_secret(f"env:{name}")


def test_models_are_importable_by_name() -> None:
    assert AuthSettings.model_fields["client_id"].is_required()
    assert CertificateAuth.model_fields["pem"].default is None


def test_another_providers_setting_is_refused_at_its_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from reconciler.cli import cli

    (tmp_path / "conn").mkdir()
    monkeypatch.chdir(tmp_path)
    config = "tenants:\n  lab:\n    connectors: conn\n    unmanaged: {}\n    cloud: gcc\n    tenant_id: t\n"

    def errors(unmanaged: str) -> list[str]:
        (tmp_path / "exoform.yaml").write_text(config.format(unmanaged))
        result = CliRunner().invoke(cli, ["validate", "--config", "exoform.yaml"])
        assert result.exit_code == 1
        return [line for line in result.output.splitlines() if ": error: " in line]

    # The tenant's own settings are checked first ...
    assert errors("purge") == [
        "exoform.yaml:4:16: error: tenants.lab.unmanaged: expected 'report', 'ignore' or 'delete', "
        "got 'purge'",
    ]
    # ... then each setting of another provider is refused where it is written.
    assert errors("delete") == [
        "exoform.yaml:5:12: error: tenants.lab.cloud: cloud is a setting of provider: exchange; "
        "this tenant's provider is local",
        "exoform.yaml:6:16: error: tenants.lab.tenant_id: tenant_id is a setting of provider: exchange; "
        "this tenant's provider is local",
    ]


@pytest.mark.parametrize("after", ["Sup3r~Secret.Value", "9LIVES", "has space", "a-b", "x\ny"])
def test_an_env_reference_that_is_not_a_variable_name_is_refused_unechoed(after: str) -> None:
    """``client_secret: env:<the secret itself>`` is refused, and the text after env: is never shown."""
    for auth in (
        {"client_id": "a", "client_secret": f"env:{after}"},
        {"client_id": "a", "certificate": {"path": "k.pem", "passphrase": f"env:{after}"}},
    ):
        with pytest.raises(ValidationError) as caught:
            ExoformConfig.model_validate({"tenants": {"t": {**EXCHANGE, "auth": auth}}})
        (error,) = caught.value.errors(include_input=False)
        assert "environment variable name" in error["msg"] and after not in error["msg"]


def test_apply_auth_is_the_write_identity_and_auth_the_fallback() -> None:
    read_only = TenantConfig.model_validate(EXCHANGE)
    assert read_only.identity(write=True) == ("auth", read_only.auth)
    split = TenantConfig.model_validate({**EXCHANGE, "apply_auth": {"client_id": "w", "federated": "github"}})
    assert split.identity(write=False) == ("auth", split.auth)
    name, auth = split.identity(write=True)
    assert name == "apply_auth" and auth is not None and auth.client_id == "w"


def test_tenant_names_follow_one_rule_refused_at_their_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name that a workflow would split, glob, read as an option or use to leave its folder is refused
    where it is written; the worst names the rule allows load."""
    from click.testing import CliRunner

    from reconciler.cli import cli

    (tmp_path / "conn").mkdir()
    monkeypatch.chdir(tmp_path)
    allowed = ["_x", "a.b", "a_b-1", "A..b", "9", "x" * 64]
    refused = ["-x", ".hidden", "..", "a b", "a*", "a/b", "a[1]", "ä", "x" * 65, "$(id)"]
    lines = [f"  {name!r}: {{connectors: conn}}" for name in allowed + refused]
    (tmp_path / "exoform.yaml").write_text("tenants:\n" + "\n".join(lines).replace("'", '"') + "\n")
    result = CliRunner().invoke(cli, ["validate", "--config", "exoform.yaml"])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    rule = "use letters, digits, '.', '_' and '-' (at most 64), not starting with '-' or '.'"
    assert errors == [
        f"exoform.yaml:{len(allowed) + 2 + i}:3: error: tenants: tenant name {quote(name)}: {rule}"
        for i, name in enumerate(refused)
    ]
    with pytest.raises(ValidationError, match="tenant name '-x'"):
        ExoformConfig.model_validate({"tenants": {"-x": {"connectors": "conn"}}})
    for name in allowed:
        assert list(ExoformConfig.model_validate({"tenants": {name: {"connectors": "c"}}}).tenants) == [name]
