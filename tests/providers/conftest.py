"""Shared fixtures of the provider tests: app certificates (generated once per session)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from bench.certificate import certificate
from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.emulator.config import OPEN_SECRET
from reconciler.emulator.server import EmulatorServer
from reconciler.emulator.store import MemoryStores
from reconciler.providers.exchange import ExchangeProvider, open_exchange
from reconciler.providers.retry import RetryPolicy
from reconciler.providers.session import Session


@pytest.fixture(scope="session")
def pem_files() -> dict[str, bytes]:
    """PEM blobs: ``key``, ``cert``, ``plain`` (key + cert), ``encrypted`` (passphrase ``s3cret``),
    ``mismatch`` (a key with another key's certificate)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = certificate(key, "exoform-test", days=30).public_bytes(serialization.Encoding.PEM)
    other_cert = certificate(other, "someone-else", days=30).public_bytes(serialization.Encoding.PEM)
    plain_key = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    encrypted_key = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"s3cret"),
    )
    return {
        "key": plain_key,
        "cert": cert,
        "plain": plain_key + cert,
        "encrypted": encrypted_key + cert,
        "mismatch": plain_key + other_cert,
    }


# --- an exchange provider wired to an emulator server over TLS ----------------------------------------------

TENANT = "contoso.onmicrosoft.com"
#: Small waits so fault scenarios stay fast; Retry-After is honoured up to 3 s.
FAST = RetryPolicy(
    max_attempts=5, base_delay=0.01, max_delay=0.05, max_total=15, retry_after_cap=3, timeout=10
)


@dataclass
class Rig:
    """An emulator server, the exoform settings that point a tenant at it, and the run's session (every
    provider the rig opens shares it, as the tenants of one run do)."""

    server: EmulatorServer
    base_dir: Path
    monkeypatch: pytest.MonkeyPatch
    session: Session

    def settings(
        self, auth: dict[str, Any] | None = None, **extra: Any
    ) -> tuple[TenantConfig, ExoformConfig]:
        """``exoform.yaml`` for one exchange tenant at the emulator (client secret by default)."""
        if auth is None:
            self.monkeypatch.setenv("EXO_SECRET", OPEN_SECRET)
            auth = {"client_id": "exoform-tests", "client_secret": "env:EXO_SECRET"}
        values: dict[str, Any] = {
            "connectors": "connectors",
            "provider": "exchange",
            "organization": TENANT,
            "auth": auth,
            "endpoint": self.server.base_url,
            "authority": self.server.authority(TENANT),
            "ca_bundle": self.server.ca_path,
        }
        values.update(extra)
        values = {k: v for k, v in values.items() if v is not None}
        config = ExoformConfig.model_validate({"tenants": {"contoso": values}})
        config = config.model_copy(update={"base_dir": self.base_dir})
        return config.tenants["contoso"], config

    def provider(
        self,
        auth: dict[str, Any] | None = None,
        *,
        page_size: int = 1000,
        policy: RetryPolicy = FAST,
        **extra: Any,
    ) -> ExchangeProvider:
        settings, config = self.settings(auth, **extra)
        provider = open_exchange(
            "contoso", settings, config, session=self.session, policy=policy, page_size=page_size
        )
        self._opened.append(provider)
        return provider

    def stored(self, kind: str) -> list[dict[str, Any]]:
        """The emulator's objects of ``kind`` (the truth, read behind the provider's back)."""
        return list(self.server.emulator.stores.get(TENANT).read()[kind])

    def names(self, kind: str) -> list[str]:
        return sorted(str(o["Name"]) for o in self.stored(kind))

    def cmdlets(self) -> dict[str, int]:
        return dict(self.server.emulator.stats.snapshot()["cmdlets"])

    def __post_init__(self) -> None:
        self._opened: list[ExchangeProvider] = []

    def close(self) -> None:
        for provider in self._opened:
            provider.close()


@pytest.fixture
def make_rig(
    make_emulator_server: Callable[..., EmulatorServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Rig]]:
    """``make_rig(config=..., faults=..., seed=...)``: a server (EmulatorServer's arguments) and settings."""
    rigs: list[Rig] = []

    def make(*, seed: dict[str, Any] | None = None, **kwargs: Any) -> Rig:
        kwargs.setdefault("stores", MemoryStores(seed))
        rig = Rig(make_emulator_server(**kwargs), tmp_path, monkeypatch, session)
        rigs.append(rig)
        return rig

    with Session() as session:
        yield make
        for rig in rigs:
            rig.close()


@pytest.fixture
def rig(make_rig: Callable[..., Rig]) -> Rig:
    """A rig with an open emulator (any client id, secret 'emulator') and no faults."""
    return make_rig()
