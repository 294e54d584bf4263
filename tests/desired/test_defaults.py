"""``defaults:`` in exoform.yaml: inherited key by key, vars merged by name, problems located in the block."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.config import ExoformConfig
from reconciler.desired.loader import config_location, load_config
from reconciler.errors import InputError


def _load(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> ExoformConfig:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exoform.yaml").write_text(text)
    return load_config(Path("exoform.yaml"))


FLEET = """\
defaults:
  provider: exchange
  auth: {client_id: 11111111-1111-1111-1111-111111111111, federated: github}
  connectors: [connectors/common]
  unmanaged: ignore
  max_deletes: 0
  vars: {region: eu, filter_ips: [198.51.100.0/25]}
tenants:
  contoso:
    organization: contoso.onmicrosoft.com
    connectors: [connectors/common, connectors/contoso]
    vars: {region: us}
  fabrikam:
    organization: fabrikam.onmicrosoft.com
    max_deletes: 2
  lab:
    provider: local
    state: lab.json
"""


def test_tenants_inherit_defaults_key_by_key_and_vars_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _load(tmp_path, monkeypatch, FLEET)
    contoso, fabrikam, lab = (config.tenants[n] for n in ("contoso", "fabrikam", "lab"))
    assert contoso.provider == fabrikam.provider == "exchange"
    assert contoso.auth is not None and contoso.auth.federated == "github"
    assert contoso.folders() == ["connectors/common", "connectors/contoso"]
    assert fabrikam.folders() == ["connectors/common"]
    assert (contoso.max_deletes, fabrikam.max_deletes) == (0, 2)
    assert contoso.vars == {"region": "us", "filter_ips": ["198.51.100.0/25"]}
    assert fabrikam.vars == {"region": "eu", "filter_ips": ["198.51.100.0/25"]}
    # A default of another provider (auth) is not inherited by a local tenant; the others are.
    assert lab.provider == "local" and lab.auth is None and lab.unmanaged == "ignore"
    # An inherited value is located where defaults: writes it.
    assert str(config_location(config, "tenants", "fabrikam", "vars", "region")) == "exoform.yaml:7:18"


def test_a_bad_default_is_reported_once_in_the_defaults_block(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = FLEET.replace("max_deletes: 0", "max_deletes: many")
    text = text.replace("unmanaged: ignore", "unmanagd: ignore")
    with pytest.raises(InputError) as caught:
        _load(tmp_path, monkeypatch, text)
    assert sorted(str(p) for p in caught.value.problems) == [
        "exoform.yaml:5:3: error: unknown field 'unmanagd' in defaults (did you mean 'unmanaged'?)",
        "exoform.yaml:6:16: error: defaults.max_deletes: expected a whole number, got 'many'",
    ]


def test_a_tenant_made_of_defaults_is_complete_and_its_errors_name_the_tenant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = "defaults:\n  provider: exchange\n  connectors: c\ntenants:\n  bare:\n"
    with pytest.raises(InputError) as caught:
        _load(tmp_path, monkeypatch, text)
    [problem] = caught.value.problems
    assert "tenants.bare" in str(problem) and "organization or tenant_id" in str(problem)
