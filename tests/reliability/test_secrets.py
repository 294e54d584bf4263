"""Secrets and trust: no secret or token ever reaches output, logs or files; TLS is never switched off.

Three tenants on the emulator over TLS (exchange provider: endpoint, authority and ca_bundle pointing at
it), one per credential: a client secret, a certificate whose key has a passphrase (PEM from the
environment), and GitHub Actions federation (the emulator's OIDC stand-in).  Every command runs with DEBUG
logging of every library into a file; then stdout, stderr, the log and every file under the repo (plan
files, exported YAML) are scanned for the secret, the passphrase, the private key, the GitHub request
token, and every token the emulator issued or received (access tokens, client assertions, OIDC tokens).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from reliability_support import (
    ORG,
    REPO_ROOT,
    RecordingEmulator,
    Repo,
    exchange_settings,
    inbound,
    outbound,
    tally,
)

from bench.certificate import self_signed
from reconciler.cli import cli
from reconciler.emulator.config import AppConfig, EmulatorConfig, FederatedCredential, GitHubConfig
from reconciler.emulator.server import EmulatorServer
from tests.wiring import fake_time

CLIENT_SECRET = "exo-secret-" + secrets.token_hex(16)
PASSPHRASE = "exo-passphrase-" + secrets.token_hex(12)
GITHUB_REQUEST_TOKEN = "exo-gh-request-" + secrets.token_hex(16)
GITHUB_SUBJECT = "repo:contoso/mailflow:ref:refs/heads/main"


@dataclass(frozen=True)
class Certificate:
    key_pem: str  # encrypted with PASSPHRASE
    cert_pem: str
    key_lines: list[str]  # base64 lines of the key, encrypted and plain (each a needle)


def make_certificate() -> Certificate:
    key, cert = self_signed("exoform-secrets-test", days=7)
    encrypted = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(PASSPHRASE.encode()),
    ).decode()
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    lines = [line for pem in (encrypted, plain) for line in pem.splitlines()[1:-1] if len(line) >= 40]
    return Certificate(encrypted, cert.public_bytes(serialization.Encoding.PEM).decode(), lines)


CERT = make_certificate()


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(
        apps=(
            AppConfig(client_id="secret-app", client_secret=CLIENT_SECRET),
            AppConfig(client_id="cert-app", certificates=(CERT.cert_pem,)),
            AppConfig(client_id="github-app", federated=(FederatedCredential(subject=GITHUB_SUBJECT),)),
        ),
        github=GitHubConfig(request_token=GITHUB_REQUEST_TOKEN, subject=GITHUB_SUBJECT),
    )


AUTHS: dict[str, dict[str, Any]] = {
    "by-secret": {"client_id": "secret-app", "client_secret": "env:EXOFORM_TEST_SECRET"},
    "by-cert": {
        "client_id": "cert-app",
        "certificate": {"pem": "env:EXOFORM_TEST_CERT_PEM", "passphrase": "env:EXOFORM_TEST_PASSPHRASE"},
    },
    "by-github": {"client_id": "github-app", "federated": "github"},
}


def secret_env(server: EmulatorServer) -> dict[str, str]:
    return {
        "EXOFORM_TEST_SECRET": CLIENT_SECRET,
        "EXOFORM_TEST_CERT_PEM": CERT.key_pem + CERT.cert_pem,
        "EXOFORM_TEST_PASSPHRASE": PASSPHRASE,
        "ACTIONS_ID_TOKEN_REQUEST_URL": f"{server.base_url}/_github/oidc/token",
        "ACTIONS_ID_TOKEN_REQUEST_TOKEN": GITHUB_REQUEST_TOKEN,
        "NO_COLOR": "1",
    }


class Workspace:
    """Three exchange tenants on one emulator, each with its own connectors and organization."""

    def __init__(self, root: Path, server: EmulatorServer) -> None:
        import json

        self.root = root
        self.server = server
        self.config = root / "exoform.yaml"
        tenants = {}
        for name, auth in AUTHS.items():
            org = f"{name.replace('-', '')}.onmicrosoft.com"
            settings = exchange_settings(server, auth, connectors=f"connectors/{name}", organization=org)
            settings["authority"] = server.authority(org)
            tenants[name] = settings
            folder = root / "connectors" / name
            folder.mkdir(parents=True)
            (folder / "relay.yaml").write_text(inbound(f"Relay {name}"))
            (folder / "out.yaml").write_text(outbound(f"Out {name}"))
        self.config.write_text(json.dumps({"tenants": tenants}, indent=2))

    def run(self, *args: str) -> Result:
        result = CliRunner().invoke(cli, [*args, "--config", str(self.config)], obj=fake_time())
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result


class DebugLog:
    """Every library's DEBUG logging into a file, as a user with ``logging`` at DEBUG would have it.

    Records of the emulator's own loggers are left out: the emulator plays the service, it is not exoform.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.handler = logging.FileHandler(path, encoding="utf-8")
        self.handler.setLevel(logging.DEBUG)
        self.handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        self.handler.addFilter(lambda record: not record.name.startswith("reconciler.emulator"))
        self.root = logging.getLogger()

    def __enter__(self) -> DebugLog:
        self.level = self.root.level
        self.root.addHandler(self.handler)
        self.root.setLevel(logging.DEBUG)
        return self

    def __exit__(self, *exc: object) -> None:
        self.root.removeHandler(self.handler)
        self.root.setLevel(self.level)
        self.handler.close()


def needles(emulator: RecordingEmulator) -> dict[str, str]:
    """Every value that must never appear: label -> value.  JWTs also by their signature alone."""
    found = {
        "client secret": CLIENT_SECRET,
        "certificate passphrase": PASSPHRASE,
        "GitHub request token": GITHUB_REQUEST_TOKEN,
    }
    for i, line in enumerate(CERT.key_lines):
        found[f"private key line {i}"] = line
    for i, value in enumerate(sorted(emulator.seen)):
        found[f"token {i}"] = value
        if value.count(".") == 2:
            found[f"token {i} signature"] = value.rsplit(".", 1)[1]
    return found


def scan(texts: dict[str, str], emulator: RecordingEmulator) -> list[str]:
    """``where: what`` for each secret found in ``texts`` (where -> text)."""
    hits = []
    for where, text in texts.items():
        for label, value in needles(emulator).items():
            if value in text:
                hits.append(f"{where}: {label}")
    return hits


@pytest.fixture
def workspace(tmp_path: Path, server: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> Iterator[Workspace]:
    for key, value in secret_env(server).items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("EXOFORM_LOG_LEVEL", "debug")  # every command's stderr carries its debug log too
    yield Workspace(tmp_path / "repo", server)


def test_no_secret_in_any_output_log_or_file(workspace: Workspace, server: EmulatorServer) -> None:
    emulator = server.emulator
    assert isinstance(emulator, RecordingEmulator)
    outputs: dict[str, str] = {}
    root = workspace.root

    def run(*args: str, codes: tuple[int, ...] = (0,)) -> Result:
        result = workspace.run(*args)
        label = " ".join(args)
        outputs[f"stdout of {label}"] = result.stdout
        outputs[f"stderr of {label}"] = result.stderr
        assert result.exit_code in codes, f"exoform {label} exited {result.exit_code}:\n{result.output}"
        return result

    with DebugLog(root.parent / "debug.log") as log:
        run("tenants")
        run("tenants", "--json")
        run("validate", "--check-env")
        for fmt in ("text", "json", "markdown"):
            run("plan", "--format", fmt, "--out", str(root / f"plan-{fmt}.json"))
        run("drift", codes=(2,))
        run("apply", str(root / "plan-json.json"))
        for fmt in ("text", "json", "markdown"):
            run("drift", "--format", fmt)
        for fmt in ("text", "json"):
            run("status", "--format", fmt)
        run(
            "status",
            "--tenant",
            "by-cert",
            "--validate",
            "Out by-cert",
            "--recipient",
            "postmaster@contoso.com",
        )
        for tenant in AUTHS:
            run("export", "--tenant", tenant, "--out", str(root / "exported" / tenant))
        (root / "connectors" / "by-secret" / "relay.yaml").write_text(
            inbound("Relay by-secret", comment="v2")
        )
        rule = server.emulator.faults.add("expire_tokens:after=2,count=1")  # a 401, then a token refresh
        run("apply", "--auto-approve")
        server.emulator.faults.rules.remove(rule)
        run("plan", "--detailed-exitcode")
        os.environ["EXOFORM_TEST_SECRET"] = CLIENT_SECRET[::-1]  # a wrong secret: the error must not echo it
        wrong = run("plan", "--tenant", "by-secret", codes=(1,))
        assert "by-secret" in wrong.stderr and "invalid_client" in wrong.stderr
        os.environ["EXOFORM_TEST_SECRET"] = CLIENT_SECRET
    log_text = log.path.read_text(encoding="utf-8")
    assert log_text.count("\n") > 100 and "msal" in log_text and "httpx" in log_text  # the log is real
    assert "got 401; refreshing the token" in log_text
    assert emulator.stats.snapshot()["tokens_issued"] >= 6
    assert any(v.count(".") == 2 for v in emulator.seen)  # tokens were recorded, so the scan can hit
    texts = dict(outputs)
    texts["the DEBUG log"] = log_text
    files = [p for p in root.rglob("*") if p.is_file()]
    assert {"plan-text.json", "plan-json.json", "plan-markdown.json"} <= {p.name for p in files}
    assert len([p for p in files if "exported" in p.parts]) >= 6
    for path in files:
        texts[str(path.relative_to(root))] = path.read_text(encoding="utf-8", errors="replace")
    wrong_value = CLIENT_SECRET[::-1]
    assert not [k for k, v in texts.items() if wrong_value in v], "the wrong secret was echoed"
    hits = scan(texts, emulator)
    tally("secret hygiene: texts scanned", len(texts))
    tally("secret hygiene: secret values looked for", len(needles(emulator)))
    tally("secret hygiene: secrets found", len(hits))
    assert hits == []


def test_scan_finds_a_planted_secret(server: EmulatorServer) -> None:
    """The scanner itself: a secret or a token in any text is reported (so a zero means something)."""
    emulator = server.emulator
    assert isinstance(emulator, RecordingEmulator)
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLW9mLWEtdGVzdC10b2tlbg"
    emulator.seen.add(token)
    found = scan(
        {"a": f"Authorization: Bearer {token}", "b": f"secret={CLIENT_SECRET}", "c": "clean"}, emulator
    )
    assert found == ["a: token 0", "a: token 0 signature", "b: client secret"]
    emulator.seen.clear()


# --------------------------------------------------------------------------------------------------------
# TLS


def plan_with(tmp_path: Path, server: EmulatorServer, **overrides: Any) -> Result:
    repo = Repo(tmp_path / "repo", exchange_settings(server, AUTHS["by-secret"], **overrides))
    repo.write("relay.yaml", inbound("Relay"))
    return CliRunner().invoke(cli, ["plan", "--config", str(repo.config)], env={"EXOFORM_TEST_SECRET": "x"})


@pytest.mark.parametrize("trust", ["no ca_bundle", "another CA"])
def test_untrusted_server_is_refused_clearly(tmp_path: Path, server: EmulatorServer, trust: str) -> None:
    if trust == "no ca_bundle":
        settings = {
            k: v for k, v in exchange_settings(server, AUTHS["by-secret"]).items() if k != "ca_bundle"
        }
        repo = Repo(tmp_path / "repo", settings)
    else:
        other = tmp_path / "other-ca.pem"
        trustme.CA().cert_pem.write_to_path(str(other))
        repo = Repo(tmp_path / "repo", exchange_settings(server, AUTHS["by-secret"], ca_bundle=str(other)))
    repo.write("relay.yaml", inbound("Relay"))
    result = CliRunner().invoke(cli, ["plan", "--config", str(repo.config)], env={"EXOFORM_TEST_SECRET": "x"})
    assert not isinstance(result.exception, Exception) or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1, result.output
    assert "not trusted" in result.stderr and "ca_bundle" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert server.emulator.stats.snapshot()["cmdlets"] == {}  # nothing reached the service


def test_trusted_server_is_accepted(tmp_path: Path, server: EmulatorServer) -> None:
    """The control of the test above: the same tenant with the server's CA plans fine."""
    repo = Repo(tmp_path / "repo", exchange_settings(server, AUTHS["by-secret"]))
    repo.write("relay.yaml", inbound("Relay"))
    env = {"EXOFORM_TEST_SECRET": CLIENT_SECRET}
    result = CliRunner().invoke(cli, ["plan", "--config", str(repo.config)], env=env)
    assert result.exit_code == 0, result.output


def test_no_switch_turns_tls_verification_off() -> None:
    """No code under reconciler/ disables certificate or host name verification."""
    pattern = re.compile(
        r"verify\s*=\s*False|CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context|"
        r"PYTHONHTTPSVERIFY|ssl_verify\s*=\s*False"
    )
    sources = sorted((REPO_ROOT / "reconciler").rglob("*.py"))
    assert len(sources) > 20
    hits = [
        f"{path.relative_to(REPO_ROOT)}:{n}: {line.strip()}"
        for path in sources
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


# --------------------------------------------------------------------------------------------------------
# File modes


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A permissive umask (022, the common default), so files are as readable as the code makes them."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_plan_file_is_owner_only(repo: Repo, open_umask: None) -> None:
    repo.write("relay.yaml", inbound("Relay"))
    out = repo.root / "plan.json"
    result = CliRunner().invoke(cli, ["plan", "--out", str(out), "--config", str(repo.config)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600, oct(mode(out))
    out.chmod(0o644)  # an older plan file, readable by all: writing a new plan over it fixes that
    result = CliRunner().invoke(cli, ["plan", "--out", str(out), "--config", str(repo.config)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600, oct(mode(out))


def test_local_state_file_is_not_world_readable(repo: Repo, open_umask: None) -> None:
    repo.write("relay.yaml", inbound("Relay"))
    result = CliRunner().invoke(cli, ["apply", "--auto-approve", "--config", str(repo.config)])
    assert result.exit_code == 0, result.output
    assert mode(repo.state) & 0o007 == 0, oct(mode(repo.state))


def test_exported_files_hold_no_secret_and_follow_the_umask(
    tmp_path: Path, server: EmulatorServer, open_umask: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exported YAML is meant to be committed, so it follows the umask (0644 here) like any source file;
    it holds connector settings only."""
    monkeypatch.setenv("EXOFORM_TEST_SECRET", CLIENT_SECRET)
    repo = Repo(tmp_path / "repo", exchange_settings(server, AUTHS["by-secret"]))
    repo.write("relay.yaml", inbound("Relay"))
    assert CliRunner().invoke(cli, ["apply", "--auto-approve", "--config", str(repo.config)]).exit_code == 0
    out = tmp_path / "exported"
    result = CliRunner().invoke(
        cli, ["export", "--tenant", "t", "--out", str(out), "--config", str(repo.config)]
    )
    assert result.exit_code == 0, result.output
    files = sorted(out.glob("*.yaml"))
    assert files and all(mode(p) == 0o644 for p in files), [oct(mode(p)) for p in files]
    emulator = server.emulator
    assert isinstance(emulator, RecordingEmulator)
    assert scan({p.name: p.read_text() for p in files}, emulator) == []
    assert ORG not in "".join(p.read_text() for p in files)  # no tenant identity either


def test_plan_file_is_owner_only_despite_a_leftover_temp_file(repo: Repo, open_umask: None) -> None:
    repo.write("relay.yaml", inbound("Relay"))
    out = repo.root / "plan.json"
    leftover = repo.root / ".plan.json.tmp"
    leftover.write_text("from a crashed write")
    leftover.chmod(0o644)
    result = CliRunner().invoke(cli, ["plan", "--out", str(out), "--config", str(repo.config)])
    assert result.exit_code == 0, result.output
    assert mode(out) == 0o600, oct(mode(out))
