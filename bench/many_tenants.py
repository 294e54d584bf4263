"""Planning many tenants: 200 tenants of 5 connectors each against the emulator over TLS with 50 ms latency.

The emulator runs as its own process (``exoform emulator serve``: HTTPS on 127.0.0.1, a private CA, 50 ms
added to every InvokeCommand request), so client and server do not share one interpreter lock.  Each
tenant is a ``provider: exchange`` tenant whose ``endpoint``, ``authority`` and ``ca_bundle`` point at it,
with a client secret from the environment: the exact code path of a real tenant (msal sign-in, TLS
verification, InvokeCommand paging) but the network.

What is timed: :func:`reconciler.workflow.plan_tenants` over the 200 tenants (open the provider, sign in,
read every connector, plan), after the files were loaded and after one warm-up tenant (imports, first
TLS context, and the first read, which shows that this service lists every outbound connector with the
test-mode flag, so later reads skip the plain outbound listing).  Loading YAML is not network time and is
left out.  Sign-ins run up to P tenants ahead of the reads (see :func:`~reconciler.workflow.plan_tenants`).

How the ideal is counted: a tenant's read issues its listings (inbound; outbound with test-mode connectors;
the plain outbound listing too while the service has not shown it is not needed) concurrently, so the
least it can wait is ONE round trip of InvokeCommand latency;
token and discovery requests are not delayed by the emulator and count as zero.  With P tenants at once,
the ideal wall time is ``ceil(200 / P) * 1 * 50 ms``.  The ratio is measured wall time / ideal; target
at most 1.3.  The emulator's own request counters confirm the number of InvokeCommand calls per tenant.

The tenants exist before the run, as real tenants do: the emulator creates a tenant's state from the seed
the first time it is touched (stable Guids and dates, written to the tenant's state file), and that is done
for every tenant before timing, with the emulator's own code, so the run measures reading tenants, not
the emulator making them up.

Besides the latency, each tenant costs CPU in both processes (client: provider, msal sign-in with its
discovery and token requests, the listings over HTTPS, planning; emulator: the same requests); the same
plan without latency shows how long that processing takes on its own (``no_latency_wall_seconds``).

Run: ``.venv/bin/python -m bench many_tenants`` (JSON on stdout), or ``python bench/many_tenants.py
[--parallelism N] [--tenants N]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

TENANTS = 200
CONNECTORS = 5
LATENCY_MS = 50.0
PARALLELISM = 8
TARGET = 1.3
#: InvokeCommand round trips a tenant's read must wait for, one after the other (see the module doc).
SEQUENTIAL_ROUND_TRIPS = 1
SECRET_ENV = "EXOFORM_BENCH_SECRET"


def _seed(connectors: int) -> dict[str, list[dict[str, Any]]]:
    inbound = [
        {
            "Name": f"Partner {i} inbound",
            "ConnectorType": "Partner",
            "SenderDomains": [f"smtp:partner{i}.example.com;1"],
            "SenderIPAddresses": [f"198.51.100.{10 + i}"],
            "RestrictDomainsToIPAddresses": True,
        }
        for i in range(connectors // 2)
    ]
    outbound = [
        {
            "Name": f"Partner {i} outbound",
            "ConnectorType": "Partner",
            "RecipientDomains": [f"partner{i}.example.com"],
            "SmartHosts": [f"smtp.partner{i}.example.com"],
            "UseMXRecord": False,
            "TlsSettings": "CertificateValidation",
        }
        for i in range(connectors - connectors // 2)
    ]
    return {"InboundConnector": inbound, "OutboundConnector": outbound}


def _files(seed: dict[str, list[dict[str, Any]]]) -> dict[str, str]:
    files: dict[str, str] = {}
    for obj in seed["InboundConnector"]:
        files[f"{obj['Name']}.yaml".replace(" ", "-").lower()] = (
            f"kind: InboundConnector\nname: {obj['Name']}\nconnector_type: Partner\n"
            f"sender_domains: [{obj['SenderDomains'][0][5:-2]}]\n"
            f"sender_ip_addresses: [{obj['SenderIPAddresses'][0]}]\nrestrict_domains_to_ip_addresses: true\n"
        )
    for obj in seed["OutboundConnector"]:
        files[f"{obj['Name']}.yaml".replace(" ", "-").lower()] = (
            f"kind: OutboundConnector\nname: {obj['Name']}\nconnector_type: Partner\n"
            f"recipient_domains: [{obj['RecipientDomains'][0]}]\nsmart_hosts: [{obj['SmartHosts'][0]}]\n"
            "use_mx_record: false\ntls_settings: CertificateValidation\n"
        )
    return files


def _materialize(state_dir: Path, seed: Path, names: list[str]) -> None:
    """Each tenant's state file, as the emulator writes it when the tenant is first touched."""
    from reconciler.emulator.store import DirectoryStores
    from reconciler.emulator.tenant import TenantInfo, invoke

    stores = DirectoryStores(state_dir, seed)
    for name in names:
        info = TenantInfo.for_name(f"{name}.onmicrosoft.com")
        invoke(info, stores.get(info.key), "Get-InboundConnector", {})


class _Server:
    """``exoform emulator serve`` in a child process; stopped (SIGTERM, then SIGKILL) on exit."""

    def __init__(self, state_dir: Path, seed: Path, latency_ms: float, *args: str) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "reconciler",
                "emulator",
                "serve",
                "--state-dir",
                str(state_dir),
                "--seed",
                str(seed),
                "--latency-ms",
                str(latency_ms),
                *args,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.base_url = self.ca_path = ""
        assert self.proc.stdout is not None
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            seen.append(line)
            if match := re.search(r"listening on (https://\S+)", line):
                self.base_url = match.group(1)
            if match := re.search(r"CA bundle:\s+(\S+)", line):
                self.ca_path = match.group(1)
            if self.base_url and self.ca_path:
                return
        self.stop()
        raise RuntimeError("the emulator did not start:\n" + "".join(seen))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cpu_seconds(self) -> float | None:
        """CPU time the server process used so far (Linux /proc), or None where unknown."""
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stats(self) -> dict[str, Any]:
        import httpx

        from reconciler.providers.auth import tls_context

        with httpx.Client(verify=tls_context(Path(self.ca_path))) as client:
            data: dict[str, Any] = client.get(f"{self.base_url}/_emulator/stats").json()
            return data


def _write_repo(root: Path, server: _Server, names: list[str], files: dict[str, str]) -> Path:
    lines = ["tenants:"]
    for name in names:
        folder = root / "connectors" / name
        folder.mkdir(parents=True)
        for file_name, text in files.items():
            (folder / file_name).write_text(text)
        lines += [
            f"  {name}:",
            "    provider: exchange",
            f"    organization: {name}.onmicrosoft.com",
            f"    connectors: connectors/{name}",
            f"    endpoint: {server.base_url}",
            f"    authority: {server.base_url}/{name}.onmicrosoft.com",
            f"    ca_bundle: {server.ca_path}",
            "    auth:",
            "      client_id: exoform-bench",
            f"      client_secret: env:{SECRET_ENV}",
        ]
    path = root / "exoform.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def measure(
    tenants: int = TENANTS,
    connectors: int = CONNECTORS,
    latency_ms: float = LATENCY_MS,
    parallelism: int = PARALLELISM,
) -> dict[str, Any]:
    """One run; the result in the shape ``bench/__main__.py`` collects.

    The same plan is then made once more against an emulator without added latency (fresh state): its
    wall time is the processing alone, client and emulator CPU on this machine, reported next to the ratio.
    """
    result = _run(tenants, connectors, latency_ms, parallelism)
    if latency_ms > 0:
        processing = _run(tenants, connectors, 0.0, parallelism)
        result["no_latency_wall_seconds"] = processing["wall_seconds"]
        result["detail"] += f"; the same plan without latency: wall {processing['wall_seconds']:.2f} s"
    return result


def _run(tenants: int, connectors: int, latency_ms: float, parallelism: int) -> dict[str, Any]:
    from reconciler.desired.connectors import load_all
    from reconciler.workflow import plan_tenants

    os.environ[SECRET_ENV] = "emulator"  # the emulator's open client secret, not a real one
    with tempfile.TemporaryDirectory(prefix="exoform-bench-") as tmp:
        root = Path(tmp)
        seed = _seed(connectors)
        (root / "seed.json").write_text(json.dumps(seed))
        (root / "state").mkdir()
        names = [f"t{i:03d}" for i in range(tenants)]
        _materialize(root / "state", root / "seed.json", ["warmup", *names])
        server = _Server(root / "state", root / "seed.json", latency_ms)
        try:
            config_path = _write_repo(root, server, ["warmup", *names], _files(seed))
            config, desired = load_all(config_path)
            warm = plan_tenants(config, desired[:1], parallelism=1)
            if warm[0].error:
                raise RuntimeError(warm[0].error)
            before = server.stats()
            server_cpu = server.cpu_seconds()
            client_cpu = time.process_time()
            start = time.perf_counter()
            outcomes = plan_tenants(config, desired[1:], parallelism=parallelism)
            wall = time.perf_counter() - start
            client_cpu = time.process_time() - client_cpu
            end_cpu = server.cpu_seconds()
            server_cpu = end_cpu - server_cpu if end_cpu is not None and server_cpu is not None else None
            after = server.stats()
        finally:
            server.stop()
    errors = [o.error for o in outcomes if o.error]
    if errors:
        raise RuntimeError(f"{len(errors)} tenant(s) failed, first: {errors[0]}")
    changes = sum(len(o.plan.changes) for o in outcomes if o.plan is not None)
    invokes = _invoke_count(after) - _invoke_count(before)
    ideal = math.ceil(tenants / parallelism) * SEQUENTIAL_ROUND_TRIPS * latency_ms / 1000
    ratio = wall / ideal if ideal > 0 else math.inf
    return {
        "name": f"plan {tenants} tenants x {connectors} connectors, {latency_ms:g} ms latency, "
        f"parallelism {parallelism} (wall / ideal)",
        "ratio": round(ratio, 2),
        "target": f"<= {TARGET}",
        "detail": (
            f"wall {wall:.2f} s, ideal {ideal:.2f} s = ceil({tenants}/{parallelism}) x "
            f"{SEQUENTIAL_ROUND_TRIPS} round trip x {latency_ms:g} ms; {invokes / tenants:g} InvokeCommand "
            f"calls per tenant (concurrent); {changes} change(s) planned; CPU: client {client_cpu:.2f} s, "
            f"emulator {'?' if server_cpu is None else f'{server_cpu:.2f}'} s on {os.cpu_count()} CPU(s)"
        ),
        "client_cpu_seconds": round(client_cpu, 3),
        "server_cpu_seconds": None if server_cpu is None else round(server_cpu, 3),
        "wall_seconds": round(wall, 3),
        "ideal_seconds": round(ideal, 3),
        "tenants": tenants,
        "connectors_per_tenant": connectors,
        "latency_ms": latency_ms,
        "parallelism": parallelism,
        "invoke_calls": invokes,
        "ok": ratio <= TARGET,
    }


def _invoke_count(stats: dict[str, Any]) -> int:
    per_cmdlet = stats.get("cmdlets") or stats.get("per_cmdlet") or {}
    if isinstance(per_cmdlet, dict) and per_cmdlet:
        return sum(int(v) for v in per_cmdlet.values())
    return int(stats.get("invoke_requests", stats.get("requests", 0)))


def run() -> list[dict[str, Any]]:
    """The benchmark as ``python -m bench`` runs it: at the default parallelism (8), and at 4 for comparison
    (fewer tenants at once leave each more of the machine's two cores)."""
    return [measure(), measure(parallelism=4)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--tenants", type=int, default=TENANTS)
    parser.add_argument("--connectors", type=int, default=CONNECTORS)
    parser.add_argument("--latency-ms", type=float, default=LATENCY_MS)
    parser.add_argument("--parallelism", type=int, default=PARALLELISM)
    args = parser.parse_args(argv)
    result = measure(args.tenants, args.connectors, args.latency_ms, args.parallelism)
    print(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
