"""Which provider serves a tenant: ``exchange`` (a real tenant) or ``local`` (the built-in emulator)."""

from __future__ import annotations

from reconciler.config import ExoformConfig, TenantConfig
from reconciler.providers.base import Provider


def open_provider(tenant: str, settings: TenantConfig, config: ExoformConfig) -> Provider:
    """The provider of ``tenant`` as ``settings`` configure it.  No network traffic happens yet.

    Raises :class:`reconciler.errors.ConfigError` when a setting is unusable (an unreadable ``ca_bundle``,
    an endpoint that is not https).
    """
    if settings.provider == "local":
        from reconciler.providers.local import open_local

        return open_local(tenant, settings, config)
    from reconciler.providers.exchange import open_exchange

    return open_exchange(tenant, settings, config)
