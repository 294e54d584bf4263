"""Which provider serves a tenant: the one table from ``provider:`` in exoform.yaml to the code that opens it.

A new provider is a module under ``providers/`` subclassing :class:`~reconciler.providers.base.BaseProvider`,
an opener here, and its own settings in :data:`reconciler.desired.config.PROVIDER_SETTINGS`.
Openers import their module when called, so a run that plans only real tenants never loads the emulator.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.errors import ConfigError
from reconciler.providers.base import BaseProvider
from reconciler.providers.session import Session

#: ``opener(tenant, settings, config, session, write)``: the tenant's provider, no network traffic yet;
#: ``write`` asks for the tenant's write identity where the provider has one.
Opener = Callable[[str, TenantConfig, ExoformConfig, Session | None, bool], BaseProvider]


def _open_local(
    tenant: str, settings: TenantConfig, config: ExoformConfig, session: Session | None, write: bool
) -> BaseProvider:
    from reconciler.providers.local import open_local

    return open_local(tenant, settings, config, session=session)  # the emulator has one open identity


def _open_exchange(
    tenant: str, settings: TenantConfig, config: ExoformConfig, session: Session | None, write: bool
) -> BaseProvider:
    from reconciler.providers.exchange import open_exchange

    return open_exchange(tenant, settings, config, session=session, write=write)


PROVIDERS: dict[str, Opener] = {"local": _open_local, "exchange": _open_exchange}


def open_provider(
    tenant: str,
    settings: TenantConfig,
    config: ExoformConfig,
    *,
    session: Session | None = None,
    write: bool = False,
) -> BaseProvider:
    """The provider of ``tenant`` as ``settings`` configure it, on ``session`` (or a session of its own,
    closed with the provider).  No network traffic happens yet.

    It signs in with the tenant's read identity (``auth``); with ``write``, with its write identity
    (``apply_auth``) when the tenant names one.  Only apply and ``status --validate`` pass ``write``.

    Raises :class:`reconciler.errors.ConfigError` when a setting is unusable (an unreadable ``ca_bundle``,
    an endpoint that is not https).
    """
    opener = PROVIDERS.get(settings.provider)
    if opener is None:  # the settings model admits only registered names
        raise ConfigError(f"tenant {tenant}: unknown provider '{settings.provider}'")
    return opener(tenant, settings, config, session, write)
