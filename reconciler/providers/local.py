"""``provider: local``: the Exchange provider's own protocol code, talking in-process to the emulator.

No socket and no second code path: the :class:`~reconciler.providers.exchange.ExchangeProvider` is built
exactly as for a real tenant, only its ``httpx.Client`` carries the emulator's in-process transport, and
msal signs in at the emulator's authority with the emulator's open client secret.

The tenant's state lives in the JSON file named by ``state:`` (default ``.exoform/<tenant>.json`` next to
``exoform.yaml``); when that file does not exist yet, the emulator starts from ``seed:`` (or empty) and
creates it on first use.
"""

from __future__ import annotations

from reconciler.desired.config import ExoformConfig, TenantConfig
from reconciler.providers.auth import CLOUDS, TokenSource
from reconciler.providers.exchange import ExchangeProvider
from reconciler.providers.invoke import InvokeClient
from reconciler.providers.retry import RetryPolicy, retry_policy
from reconciler.providers.session import Session

#: The host the in-process client pretends to talk to (``.invalid`` can never resolve).
LOCAL_BASE_URL = "https://local.exoform.invalid"
LOCAL_CLIENT_ID = "exoform-local"


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
    import httpx

    from reconciler.emulator.app import Emulator
    from reconciler.emulator.config import OPEN_SECRET
    from reconciler.emulator.store import JsonFileStore, SharedStore
    from reconciler.emulator.transport import EmulatorTransport

    state = config.path(settings.state) if settings.state else config.path(f".exoform/{tenant}.json")
    seed = config.path(settings.seed) if settings.seed else None
    emulator = Emulator(stores=SharedStore(JsonFileStore(state, seed)))
    http = httpx.Client(
        transport=EmulatorTransport(emulator), base_url=LOCAL_BASE_URL, follow_redirects=False
    )
    # In process there is no network to wait for: short backoff, the tenant's attempt and time limits.
    owned = session is None
    session = session or Session()
    policy = policy or retry_policy(settings, session.retry, base_delay=0.05, max_delay=0.5)
    tokens = TokenSource(
        tenant,
        client_id=LOCAL_CLIENT_ID,
        credential=lambda: OPEN_SECRET,
        authority=f"{LOCAL_BASE_URL}/{tenant}",
        scope=CLOUDS["commercial"].scope,
        http=http,
        clock=session.clock,
        retry=policy,
    )
    client = InvokeClient(
        tenant,
        http=http,
        tokens=tokens,
        api_base=LOCAL_BASE_URL,
        tenant_segment=tenant,
        policy=policy,
        read_concurrency=settings.read_concurrency,
        write_concurrency=settings.write_concurrency,
    )
    return ExchangeProvider(tenant, client, session, owned=(http, session) if owned else (http,))
