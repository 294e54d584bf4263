"""``provider: local``: the Exchange provider's own protocol code, talking in-process to the emulator.

No socket and no second code path: the :class:`~reconciler.providers.exchange.ExchangeProvider` is built
exactly as for a real tenant (:func:`~reconciler.providers.exchange.build_invoke_client`), only its
``httpx.Client`` carries the emulator's in-process transport, and msal signs in at the emulator's authority
with the emulator's open client secret.

The tenant's state lives in the JSON file named by ``state:`` (default ``.exoform/<tenant>.json`` next to
``exoform.yaml``, :meth:`~reconciler.providers.registry.LocalSettings.state_file`); when that file does not
exist yet, the emulator starts from ``seed:`` (or empty) and creates it on first use.

Contract: a state or seed file that cannot be read or used (corrupt JSON, not a regular file, a symbolic
link at its lock file, an operating-system error) fails the call at once with a :class:`ReadError` naming
the file: it is the user's file to fix, so it is never retried nor reported as a service failure.

This module is imported only when a local tenant is opened (see :mod:`reconciler.providers.registry`).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import httpx

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.emulator.app import Emulator
from reconciler.emulator.config import OPEN_SECRET
from reconciler.emulator.store import JsonFileStore, SharedStore, Snapshot, State
from reconciler.emulator.transport import EmulatorTransport
from reconciler.errors import InputError, ReadError
from reconciler.providers.auth import CLOUDS, Endpoints
from reconciler.providers.exchange import ExchangeProvider, build_invoke_client
from reconciler.providers.retry import RetryPolicy, retry_policy
from reconciler.providers.session import Session

#: The host the in-process client pretends to talk to (``.invalid`` can never resolve).
LOCAL_BASE_URL = "https://local.exoform.invalid"
LOCAL_CLIENT_ID = "exoform-local"


class StateFileError(ReadError):
    """The local state (or seed) file cannot be read or used: permanent, the file's owner must fix it.

    Not an :class:`InputError`, so it passes the emulator (which answers HTTP 500 for those) and the
    protocol client untouched and fails the tenant's call at once."""


class _StateFile(JsonFileStore):
    """The tenant's state file; every problem with it becomes a :class:`StateFileError`."""

    def __init__(
        self, tenant: str, path: str | os.PathLike[str], seed: str | os.PathLike[str] | None
    ) -> None:
        super().__init__(path, seed)
        self.tenant = tenant

    def _unusable(self, exc: Exception) -> StateFileError:
        if isinstance(exc, InputError):
            return StateFileError(self.tenant, f"the local state cannot be used: {exc}")
        where = exc.filename if isinstance(exc, OSError) and exc.filename else self.path
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
        return StateFileError(self.tenant, f"the local state cannot be used: {where}: {why}")

    def snapshot(self) -> Snapshot | None:
        try:
            return super().snapshot()
        except (InputError, OSError) as exc:
            raise self._unusable(exc) from None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[State]:
        try:
            with super().transaction() as state:
                yield state
        except (InputError, OSError) as exc:
            raise self._unusable(exc) from None


def open_local(
    tenant: str,
    settings: TenantConfig,
    config: ExoformConfig,
    *,
    session: Session | None = None,
    policy: RetryPolicy | None = None,
) -> ExchangeProvider:
    """The provider of a ``provider: local`` tenant, over the emulator in this process.

    Its in-process HTTP client is its own (closed with it); its listing threads are ``session``'s, or a
    session of its own when none is given.
    """
    state = config.path(settings.state_file(tenant))
    seed = config.path(settings.seed) if settings.seed else None
    emulator = Emulator(stores=SharedStore(_StateFile(tenant, state, seed)))
    http = httpx.Client(
        transport=EmulatorTransport(emulator), base_url=LOCAL_BASE_URL, follow_redirects=False
    )
    # In process there is no network to wait for: short backoff, the tenant's attempt and time limits.
    owned = session is None
    session = session or Session()
    policy = policy or retry_policy(settings, session.retry, base_delay=0.05, max_delay=0.5)
    endpoints = Endpoints(
        api_base=LOCAL_BASE_URL,
        scope=CLOUDS["commercial"].scope,
        authority=f"{LOCAL_BASE_URL}/{tenant}",
        tenant_segment=tenant,
    )
    client = build_invoke_client(
        tenant,
        settings,
        http=http,
        session=session,
        policy=policy,
        endpoints=endpoints,
        client_id=LOCAL_CLIENT_ID,
        credential=lambda: OPEN_SECRET,
    )
    return ExchangeProvider(tenant, client, session, owned=(http, session) if owned else (http,))
