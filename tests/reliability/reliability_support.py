"""Helpers of the reliability suite: the tally of what was tried, user repos, the recording emulator.

The tally (:data:`TALLY`) counts inputs tried, crash trials, fault scenarios and secrets found; conftest.py
prints the figures at the end of the pytest run (a ``reliability:`` line), so a run states what it measured.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

from reconciler.emulator.app import Emulator
from reconciler.emulator.server import EmulatorServer

#: What the reliability tests tried and what held; printed by :func:`pytest_terminal_summary`.
TALLY: Counter[str] = Counter()
_TALLY_LOCK = threading.Lock()

ORG = "contoso.onmicrosoft.com"
REPO_ROOT = Path(__file__).resolve().parents[2]


def tally(key: str, n: int = 1) -> None:
    """Add ``n`` to the figure ``key`` (thread-safe)."""
    with _TALLY_LOCK:
        TALLY[key] += n


# --------------------------------------------------------------------------------------------------------
# Connector documents used across the suite


def inbound(name: str, ip: str = "203.0.113.10", domain: str = "contoso.com", comment: str = "") -> str:
    extra = f"comment: {json.dumps(comment, ensure_ascii=False)}\n" if comment else ""
    return (
        f"kind: InboundConnector\nname: {json.dumps(name, ensure_ascii=False)}\nconnector_type: OnPremises\n"
        f"sender_domains: [{domain}]\nsender_ip_addresses: [{ip}]\n{extra}"
    )


def outbound(name: str, host: str = "smtp.filter.example.net", comment: str = "") -> str:
    extra = f"comment: {json.dumps(comment, ensure_ascii=False)}\n" if comment else ""
    return (
        f"kind: OutboundConnector\nname: {json.dumps(name, ensure_ascii=False)}\nconnector_type: Partner\n"
        f'recipient_domains: ["*"]\nuse_mx_record: false\nsmart_hosts: [{host}]\n'
        f"tls_settings: CertificateValidation\n{extra}"
    )


# --------------------------------------------------------------------------------------------------------
# A user's repo


class Repo:
    """A user's repo in a folder: ``exoform.yaml`` with one tenant ``t`` and its ``connectors/`` folder."""

    def __init__(self, root: Path, tenant: dict[str, Any] | None = None) -> None:
        self.root = root
        self.dir = root / "connectors"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config = root / "exoform.yaml"
        self.state = root / "state.json"
        settings = tenant or {"provider": "local", "state": "state.json"}
        self.set_tenant(settings)

    def set_tenant(self, settings: dict[str, Any]) -> None:
        body = {"connectors": "connectors", **settings}
        self.config.write_text(json.dumps({"tenants": {"t": body}}, indent=2) + "\n")

    def write(self, name: str, text: str) -> None:
        (self.dir / name).write_text(textwrap.dedent(text))

    def clear(self) -> None:
        for path in self.dir.iterdir():
            path.unlink()

    def exoform(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
        """Run ``exoform ARGS --config exoform.yaml`` in a subprocess (the real entry point)."""
        return run_exoform([*args, "--config", str(self.config)], cwd=self.root, env=env, timeout=timeout)


class Run:
    """A finished subprocess: ``code``, ``out``, ``err``."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    @property
    def text(self) -> str:
        return self.out + self.err

    def __repr__(self) -> str:
        return f"Run(code={self.code}, out={self.out!r}, err={self.err!r})"


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of an exoform subprocess: ours, no colour, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "COV_"))}
    env["NO_COLOR"] = "1"
    env.update(extra or {})
    return env


def run_exoform(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 60) -> Run:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        cwd=cwd,
        env=child_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


# --------------------------------------------------------------------------------------------------------
# The emulator over TLS, recording every credential and token that crosses it


class RecordingEmulator(Emulator):
    """The emulator, also recording every secret-like value that crosses it.

    ``seen`` collects the access tokens it issues, the GitHub OIDC tokens it hands out, the client
    assertions and client secrets it receives and the bearer tokens presented to it: every value that must
    never show up in exoform's output, logs or files.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seen: set[str] = set()
        self._seen_lock = threading.Lock()

    def _record(self, *values: str | None) -> None:
        with self._seen_lock:
            self.seen.update(v for v in values if v and len(v) >= 8)

    def handle(self, request: httpx.Request) -> httpx.Response:
        from urllib.parse import parse_qsl

        authorization = request.headers.get("authorization", "")
        self._record(authorization.partition(" ")[2].strip())
        if request.method == "POST" and request.url.path.endswith("/token"):
            form = dict(parse_qsl(request.content.decode("utf-8", "replace")))
            self._record(form.get("client_assertion"), form.get("client_secret"))
        response = super().handle(request)
        if response.status_code == 200 and (
            request.url.path.endswith("/token") or request.url.path.startswith("/_github/")
        ):
            body = json.loads(response.content)
            self._record(body.get("access_token"), body.get("value"))
        return response


def exchange_settings(server: EmulatorServer, auth: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """Tenant settings of ``provider: exchange`` pointed at ``server`` (endpoint, authority, CA bundle)."""
    return {
        "provider": "exchange",
        "organization": ORG,
        "endpoint": server.base_url,
        "authority": server.authority(ORG),
        "ca_bundle": server.ca_path,
        "auth": auth,
        **extra,
    }
