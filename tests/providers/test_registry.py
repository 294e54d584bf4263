"""The provider registry: each provider's settings model, opener and target come from its entry alone."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import get_args

import pytest
from pydantic import ValidationError

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.model import OutboundConnector
from reconciler.providers.registry import PROVIDERS, ProviderName, foreign_settings, open_provider, target_of


def test_every_registered_provider_brings_its_settings_into_the_tenant_model() -> None:
    assert set(get_args(ProviderName)) == set(PROVIDERS)
    owned: dict[str, str] = {}
    for name, entry in PROVIDERS.items():
        assert issubclass(TenantConfig, entry.settings), f"{name}'s settings are not taken by TenantConfig"
        for setting in entry.settings.model_fields:
            assert setting not in owned, f"{setting} belongs to both {owned[setting]} and {name}"
            owned[setting] = name
    assert foreign_settings("local") == {k: v for k, v in owned.items() if v != "local"}


def test_a_provider_setting_is_refused_for_another_provider_by_its_entry() -> None:
    with pytest.raises(ValidationError, match="seed is a setting of provider: local"):
        TenantConfig.model_validate(
            {
                "connectors": "c",
                "provider": "exchange",
                "organization": "contoso.onmicrosoft.com",
                "auth": {"client_id": "app", "federated": "github"},
                "seed": "seed.yaml",
            }
        )


def test_a_local_plan_is_bound_to_the_state_file_the_provider_writes(tmp_path: Path) -> None:
    config = ExoformConfig.model_validate({"tenants": {"demo": {"connectors": "c"}}})
    config = config.model_copy(update={"base_dir": tmp_path})
    settings = config.tenants["demo"]
    provider = open_provider("demo", settings, config)
    try:
        provider.create(OutboundConnector(name="Only", connector_type="Partner", recipient_domains=["a.com"]))
    finally:
        provider.close()
    [written] = [p for p in (tmp_path / ".exoform").iterdir() if p.suffix == ".json"]
    assert target_of("demo", settings, config) == f"local:{written}"


def test_validating_exoform_yaml_loads_no_provider_code() -> None:
    """Settings models are light: validation imports neither msal, httpx nor the emulator."""
    code = (
        "import sys\n"
        "from reconciler.desired.config import ExoformConfig\n"
        "ExoformConfig.model_validate({'tenants': {'a': {'connectors': 'c', 'provider': 'exchange',"
        " 'organization': 'x.onmicrosoft.com', 'auth': {'client_id': 'i', 'federated': 'github'}}}})\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('msal', 'httpx', 'httpcore')"
        " or m.startswith(('reconciler.emulator', 'reconciler.providers.auth'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout
