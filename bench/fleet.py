"""A fleet: 1,000 tenants x 5 connectors from ONE shared folder with per-tenant variables, planned against
the emulator over TLS with 200 ms latency at parallelism 32.

The setup is many_tenants.py's (the emulator in its own process, ``provider: exchange`` tenants pointed at
it, msal sign-in, TLS verification, InvokeCommand paging), with the repo a service provider would keep:
``defaults:`` holding the provider settings, one folder of five connector files shared by every tenant,
and per tenant only its organization, authority and ``vars`` (a partner network).  Each file uses
``${vars.partner_net}`` and ``${tenant.name}``, so every tenant's connectors differ.  The emulated tenants
are brought to what their variables say before timing, so the plan is the steady state of a nightly drift
run (no change); the run would be the same with changes, only the plans larger.

What is timed: loading (``exoform.yaml`` and the shared folder: parsed once, resolved per tenant), then
:func:`reconciler.workflow.plan_tenants` over the 1,000 tenants keeping only the plans (no live objects),
as ``exoform plan`` and ``exoform drift`` do.  The ideal wall time is ``ceil(1000 / 32) x 1 round trip x
200 ms`` (see many_tenants.py for why one round trip per tenant); the ratio is the measured plan wall time
over it (target <= 1.15).  Peak memory is the client process's peak resident set (``ru_maxrss``: the
interpreter, every import, the config, the loaded connectors, the plans; target <= 250 MB).  CPU per
tenant is the client's CPU time over the plan divided by the tenants (and the same for loading).

The floor under that CPU is measured in the same run (``bare_cpu_ms_per_tenant``): the same four HTTPS
requests per tenant (OpenID discovery, the token, the two listings with the same ``$select``) sent with
bare httpx (the certificate run signs each tenant's client assertion with PyJWT, as msal does), one
keep-alive client per thread, at the same parallelism, with no msal, retries, models, planning or posture.
``cpu_vs_bare`` is exoform's CPU per tenant over it: a ratio that holds when the machine is busy, where
milliseconds per tenant do not.

Every tenant signs in with the same application, as an MSP's multi-tenant app does: once with its client
secret, once with its certificate (a 2,048-bit RSA key, each tenant's client assertion signed with it).

Run: ``.venv/bin/python -m bench fleet`` (JSON on stdout), or ``python bench/fleet.py [--tenants N]
[--parallelism P] [--latency-ms L] [--credential secret|certificate]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

TENANTS = 1000
CONNECTORS = 5
LATENCY_MS = 200.0
PARALLELISM = 32
TARGET_RATIO = 1.15
TARGET_MB = 250
SECRET_ENV = "EXOFORM_BENCH_SECRET"

#: The shared set: 2 inbound and 3 outbound connectors, each with per-tenant values.
INBOUND = """\
kind: InboundConnector
name: Partner {i} inbound
connector_type: Partner
comment: Partner {i} for ${{tenant.name}}
sender_domains: [partner{i}.example.com]
sender_ip_addresses: ["${{vars.partner_net}}.{host}"]
restrict_domains_to_ip_addresses: true
"""
OUTBOUND = """\
kind: OutboundConnector
name: Partner {i} outbound
connector_type: Partner
comment: Partner {i} for ${{tenant.name}}
recipient_domains: [partner{i}.example.com]
smart_hosts: [smtp.partner{i}.example.com]
use_mx_record: false
tls_settings: CertificateValidation
"""


def _net(index: int) -> str:
    return f"198.51.{index % 250}"


def _write_shared(folder: Path) -> None:
    folder.mkdir(parents=True)
    for i in range(2):
        (folder / f"partner-{i}-inbound.yaml").write_text(INBOUND.format(i=i, host=10 + i))
    for i in range(CONNECTORS - 2):
        (folder / f"partner-{i}-outbound.yaml").write_text(OUTBOUND.format(i=i))


def _seed() -> dict[str, list[dict[str, Any]]]:
    return {
        "InboundConnector": [
            {
                "Name": f"Partner {i} inbound",
                "ConnectorType": "Partner",
                "SenderDomains": [f"smtp:partner{i}.example.com;1"],
                "SenderIPAddresses": ["192.0.2.1"],
                "RestrictDomainsToIPAddresses": True,
            }
            for i in range(2)
        ],
        "OutboundConnector": [
            {
                "Name": f"Partner {i} outbound",
                "ConnectorType": "Partner",
                "RecipientDomains": [f"partner{i}.example.com"],
                "SmartHosts": [f"smtp.partner{i}.example.com"],
                "UseMXRecord": False,
                "TlsSettings": "CertificateValidation",
            }
            for i in range(CONNECTORS - 2)
        ],
    }


def _materialize(state_dir: Path, seed: Path, names: list[str]) -> None:
    """Each tenant's state as its variables say (the emulator's own code), before the server starts."""
    from reconciler.emulator.store import DirectoryStores
    from reconciler.emulator.tenant import TenantInfo, invoke

    stores = DirectoryStores(state_dir, seed)
    for index, name in enumerate(names):
        info = TenantInfo.for_name(f"{name}.onmicrosoft.com")
        store = stores.get(info.key)
        for i in range(2):
            parameters = {
                "Identity": f"Partner {i} inbound",
                "Comment": f"Partner {i} for {name}",
                "SenderIPAddresses": [f"{_net(index)}.{10 + i}"],
            }
            invoke(info, store, "Set-InboundConnector", parameters)
        for i in range(CONNECTORS - 2):
            parameters = {"Identity": f"Partner {i} outbound", "Comment": f"Partner {i} for {name}"}
            invoke(info, store, "Set-OutboundConnector", parameters)


def _certificate(root: Path) -> Path:
    """An app certificate with its key (``app.pem``) and the emulator config trusting it
    (``emulator.json``, which is returned)."""
    from cryptography.hazmat.primitives import serialization

    from bench.certificate import self_signed

    key, cert = self_signed("exoform-bench")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (root / "app.pem").write_bytes(key_pem + cert_pem)
    config = {"apps": [{"client_id": "exoform-bench", "certificates": [cert_pem.decode()]}]}
    (root / "emulator.json").write_text(json.dumps(config))
    return root / "emulator.json"


def _write_repo(
    root: Path, base_url: str, ca_path: str, names: list[str], credential: str = "secret"
) -> Path:
    secret = f"    client_secret: env:{SECRET_ENV}"
    lines = [
        "defaults:",
        "  provider: exchange",
        "  connectors: shared",
        f"  endpoint: {base_url}",
        f"  ca_bundle: {ca_path}",
        "  auth:",
        "    client_id: exoform-bench",
        secret if credential == "secret" else "    certificate: {path: app.pem}",
        "tenants:",
    ]
    for index, name in enumerate(names):
        lines += [
            f"  {name}:",
            f"    organization: {name}.onmicrosoft.com",
            f"    authority: {base_url}/{name}.onmicrosoft.com",
            f"    vars: {{partner_net: '{_net(index)}'}}",
        ]
    path = root / "exoform.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _bare_credential(key_pem: bytes | None) -> Callable[[str], dict[str, str]]:
    """The token request's credential fields for a token endpoint: the client secret, or (``key_pem``
    given) a client assertion signed with the app's key, as msal makes one."""
    if key_pem is None:
        return lambda token_url: {"client_secret": os.environ[SECRET_ENV]}
    import jwt
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key(key_pem, password=None)  # once per run, as exoform's cache does

    def assertion(token_url: str) -> dict[str, str]:
        now = int(time.time())
        claims = {"aud": token_url, "iss": "exoform-bench", "sub": "exoform-bench", "jti": str(uuid.uuid4())}
        signed = jwt.encode({**claims, "nbf": now, "exp": now + 600}, key, algorithm="RS256")  # type: ignore[arg-type]
        return {
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": signed,
        }

    return assertion


def _bare_cpu_ms(
    base_url: str, ca_path: str, names: list[str], parallelism: int, key_pem: bytes | None
) -> float:
    """Client CPU per tenant, in ms, of the four requests a tenant's plan makes, sent with bare httpx
    (signed in with the client secret, or with a client assertion signed with ``key_pem``)."""
    import ssl

    import httpx

    from reconciler.providers.exchange import _SELECT
    from reconciler.providers.invoke import ANCHOR_MAILBOX

    context = ssl.create_default_context(cafile=ca_path)
    credential = _bare_credential(key_pem)
    local = threading.local()
    clients: list[httpx.Client] = []

    def tenant(name: str) -> None:
        client: httpx.Client | None = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(verify=context)
            clients.append(client)
        org = f"{name}.onmicrosoft.com"
        discovery = client.get(f"{base_url}/{org}/v2.0/.well-known/openid-configuration")
        token_url = discovery.json()["token_endpoint"]
        form = {
            "grant_type": "client_credentials",
            "client_id": "exoform-bench",
            "scope": "https://outlook.office365.com/.default",
            **credential(token_url),
        }
        token = client.post(token_url, data=form).json()["access_token"]
        for kind in ("InboundConnector", "OutboundConnector"):
            response = client.post(
                f"{base_url}/adminapi/beta/{org}/InvokeCommand?$select={','.join(_SELECT[kind])}",
                json={"CmdletInput": {"CmdletName": f"Get-{kind}", "Parameters": {}}},
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-AnchorMailbox": ANCHOR_MAILBOX + org,
                    "client-request-id": str(uuid.uuid4()),
                },
            )
            if len(response.json()["value"]) == 0:
                raise RuntimeError(f"{name}: the bare {kind} listing is empty")

    with ThreadPoolExecutor(parallelism) as pool:
        list(pool.map(tenant, names[:parallelism]))  # each thread's connection, as exoform's warm-up
        cpu = time.process_time()
        list(pool.map(tenant, names))
        cpu = time.process_time() - cpu
    for client in clients:
        client.close()
    return cpu / len(names) * 1000


def _peak_mb() -> float:
    """The process's peak resident set so far, in MB (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def measure(
    tenants: int = TENANTS,
    latency_ms: float = LATENCY_MS,
    parallelism: int = PARALLELISM,
    credential: str = "secret",
) -> dict[str, Any]:
    """One run; the result in the shape ``bench/__main__.py`` collects."""
    from bench.many_tenants import _invoke_count, _Server
    from reconciler.desired.connectors import load_all
    from reconciler.workflow import RunScope, plan_tenants

    os.environ[SECRET_ENV] = "emulator"  # the emulator's open client secret, not a real one
    with tempfile.TemporaryDirectory(prefix="exoform-bench-fleet-") as tmp:
        root = Path(tmp)
        (root / "seed.json").write_text(json.dumps(_seed()))
        (root / "state").mkdir()
        names = ["warmup", *(f"customer-{i:04d}" for i in range(tenants))]
        _materialize(root / "state", root / "seed.json", names)
        _write_shared(root / "shared")
        app = () if credential == "secret" else ("--config", str(_certificate(root)))
        server = _Server(root / "state", root / "seed.json", latency_ms, *app)
        try:
            config_path = _write_repo(root, server.base_url, server.ca_path, names, credential)
            load_cpu = time.process_time()
            load_start = time.perf_counter()
            config, desired = load_all(config_path)
            load_wall = time.perf_counter() - load_start
            load_cpu = time.process_time() - load_cpu
            scope = RunScope(keep_live=False)
            warm = plan_tenants(config, desired[:1], parallelism=1, scope=scope)
            if warm[0].error:
                raise RuntimeError(warm[0].error)
            before = server.stats()
            load_before = os.getloadavg()[0]
            client_cpu = time.process_time()
            start = time.perf_counter()
            outcomes = plan_tenants(config, desired[1:], parallelism=parallelism, scope=scope)
            wall = time.perf_counter() - start
            client_cpu = time.process_time() - client_cpu
            load_after = os.getloadavg()[0]
            after = server.stats()
            peak_mb = _peak_mb()
            key_pem = None if credential == "secret" else (root / "app.pem").read_bytes()
            bare_ms = _bare_cpu_ms(server.base_url, server.ca_path, names[1:], parallelism, key_pem)
        finally:
            server.stop()
    errors = [o.error for o in outcomes if o.error]
    if errors:
        raise RuntimeError(f"{len(errors)} tenant(s) failed, first: {errors[0]}")
    changes = sum(len(o.plan.changes) for o in outcomes if o.plan is not None)
    invokes = _invoke_count(after) - _invoke_count(before)
    ideal = math.ceil(tenants / parallelism) * latency_ms / 1000
    ratio = wall / ideal if ideal > 0 else math.inf
    per_tenant_ms = client_cpu / tenants * 1000
    return {
        "name": f"fleet: plan {tenants} tenants x {CONNECTORS} connectors from one shared set with "
        f"per-tenant variables, {latency_ms:g} ms latency, parallelism {parallelism}, signed in with "
        f"the app's {credential} (wall / ideal)",
        "ratio": round(ratio, 2),
        "target": f"<= {TARGET_RATIO}; peak memory <= {TARGET_MB} MB",
        "detail": (
            f"wall {wall:.2f} s, ideal {ideal:.2f} s = ceil({tenants}/{parallelism}) x 1 round trip x "
            f"{latency_ms:g} ms; peak memory {peak_mb:.0f} MB (client RSS); client CPU "
            f"{per_tenant_ms:.1f} ms per tenant planned ({per_tenant_ms / bare_ms:.2f}x the {bare_ms:.1f} ms "
            f"bare httpx spends on the same requests), {load_cpu / tenants * 1000:.2f} ms per tenant "
            f"loaded (load wall "
            f"{load_wall:.2f} s); {invokes / tenants:g} InvokeCommand calls per tenant; {changes} change(s) "
            f"planned; {os.cpu_count()} CPU(s), load average {load_before:.1f} before and {load_after:.1f} "
            "after (CPU per tenant rises on a busy machine)"
        ),
        "wall_seconds": round(wall, 3),
        "ideal_seconds": round(ideal, 3),
        "peak_memory_mb": round(peak_mb, 1),
        "client_cpu_ms_per_tenant": round(per_tenant_ms, 2),
        "bare_cpu_ms_per_tenant": round(bare_ms, 2),
        "cpu_vs_bare": round(per_tenant_ms / bare_ms, 2),
        "load_average": [round(load_before, 2), round(load_after, 2)],
        "load_cpu_ms_per_tenant": round(load_cpu / tenants * 1000, 3),
        "load_wall_seconds": round(load_wall, 3),
        "tenants": tenants,
        "latency_ms": latency_ms,
        "parallelism": parallelism,
        "credential": credential,
        "invoke_calls": invokes,
        "ok": ratio <= TARGET_RATIO and peak_mb <= TARGET_MB,
    }


def run() -> list[dict[str, Any]]:
    """The benchmark as ``python -m bench`` runs it."""
    return [measure(), measure(credential="certificate")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--parallelism", type=int, default=PARALLELISM)
    parser.add_argument("--credential", choices=["secret", "certificate"], default="secret")
    args = parser.parse_args(argv)
    result = measure(args.tenants, args.latency_ms, args.parallelism, args.credential)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
