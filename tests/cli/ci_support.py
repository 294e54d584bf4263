"""What the Azure DevOps and GitLab tests of ``exoform init --ci`` share: the emulator trusting each CI
system's tokens, a repository written by ``init --ci`` whose tenants point at it, and a loopback stand-in
for the hosting service's REST API that records every call."""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result
from ruamel.yaml import YAML

from reconciler.cli import cli
from tests.serving import start_serve

BIN = Path(sys.executable).parent
READ_APP = "11111111-2222-3333-4444-555555555555"
WRITE_APP = "22222222-2222-3333-4444-555555555555"
BAD_APP = "99999999-0000-0000-0000-000000000000"  # not registered: the tenant's sign-in fails
SHA = "0123456789abcdef0123456789abcdef01234567"
ORG_ID = "7a1b2c3d-0000-4000-8000-00000000c0de"
READ_CONNECTION = "5e0c0f2a-1111-4222-8333-444455556666"
WRITE_CONNECTION = "5e0c0f2a-9999-4222-8333-444455556666"
ADO_SUBJECTS = {READ_APP: "sc://acme/mail-flow/exoform-read", WRITE_APP: "sc://acme/mail-flow/exoform-write"}
GITLAB_ISSUER = "https://gitlab.example.com"
GITLAB_SUBJECT = "project_path:acme/mail-flow:ref_type:branch:ref:main"
RELAY = """\
kind: InboundConnector
name: Printer relay
connector_type: OnPremises
sender_domains: [contoso.com]
sender_ip_addresses: [203.0.113.10]
"""


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Any:
    return YAML(typ="safe").load(text)


def load_yaml(path: Path) -> dict[str, Any]:
    """The YAML file at ``path`` (safe loader), parsed once per distinct text: tests read the same generated
    workflow many times.  Each caller gets its own copy, free to change."""
    data: dict[str, Any] = copy.deepcopy(_parsed(path.read_text()))
    return data


def init(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["init", str(root), *args])


def init_at_emulator(root: Path, emulator: dict[str, str], tenants: list[str], *init_args: str) -> None:
    """``exoform init`` into ``root`` for ``tenants``, each then pointed at ``emulator`` (its endpoint,
    authority and CA) under an organization of its own: the emulator is shared between tests."""
    suffix = uuid.uuid4().hex[:8]
    args: list[str] = []
    for tenant in tenants:
        org = re.sub(r"[^a-z0-9-]", "", tenant.lower())
        args += ["--tenant", tenant, "--organization", f"{org}-{suffix}.onmicrosoft.com"]
    result = init(root, *args, *init_args)
    assert result.exit_code == 0, result.output
    yaml = YAML()
    path = root / "exoform.yaml"
    config = yaml.load(path.read_text())
    for settings in config["tenants"].values():
        settings["endpoint"] = emulator["base"]
        settings["authority"] = f"{emulator['base']}/{settings['organization']}"
        settings["ca_bundle"] = emulator["ca"]
    with path.open("w") as stream:
        yaml.dump(config, stream)


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    """``check-jsonschema ARGS`` (its own command line, run in this process: its imports are paid once per
    test process, not once per check), offline: a proxy that answers nothing, as the built-in schemas are
    vendored.  Python's regular expressions: the default engine (regress) cannot compile some of the
    vendored schemas' patterns."""
    from check_jsonschema.cli.main_command import main

    argv = ["--regex-variant", "python", *args]
    offline = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9"}
    result = CliRunner().invoke(main, argv, env=offline, prog_name="check-jsonschema")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)


def failed_files(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The files that ``check-jsonschema -o json`` found invalid or could not parse: one run checks the
    files that must pass and the broken one that must fail, so each test pays one start-up."""
    assert result.returncode in (0, 1), result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    failed = {e["filename"] for e in verdict["errors"] + verdict["parse_errors"]}
    assert (result.returncode == 1) == bool(failed), result.stdout
    return failed


GITHUB_SUBJECT = "repo:acme/mail-flow:pull_request"


def serve_emulator(folder: Path) -> Iterator[dict[str, str]]:
    """``exoform emulator serve`` (a real subprocess) whose read app (Global Reader) and write app trust
    the GitHub OIDC stand-in's subject, the Azure DevOps service connection of each and the GitLab ID token
    of the default branch; yields its printed address (``base``) and CA bundle (``ca``)."""
    config = {
        "apps": [
            {
                "client_id": app,
                "read_only": app == READ_APP,
                "federated": [
                    {"subject": GITHUB_SUBJECT},  # the default issuer: the GitHub OIDC stand-in
                    {"issuer": f"https://vstoken.dev.azure.com/{ORG_ID}", "subject": ADO_SUBJECTS[app]},
                    {"issuer": GITLAB_ISSUER, "subject": GITLAB_SUBJECT},
                ],
            }
            for app in (READ_APP, WRITE_APP)
        ],
        "github": {"request_token": "emulator", "subject": GITHUB_SUBJECT},
        "azure_devops": {
            "access_token": "pipeline-token",
            "organization_id": ORG_ID,
            "connections": {
                READ_CONNECTION: ADO_SUBJECTS[READ_APP],
                WRITE_CONNECTION: ADO_SUBJECTS[WRITE_APP],
            },
        },
        "gitlab": {"issuer": GITLAB_ISSUER, "subject": GITLAB_SUBJECT},
    }
    (folder / "emulator.yaml").write_text(json.dumps(config))
    process, banner = start_serve("--config", str(folder / "emulator.yaml"))
    printed = {"base": banner["base"], "ca": banner["CA bundle"]}
    try:
        yield printed
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)


@pytest.fixture(scope="module")
def ci_emulator(shared_emulator: dict[str, str]) -> dict[str, str]:
    """The session's emulator (tests/cli/conftest.py): each test signs in to organizations of its own."""
    return shared_emulator


@dataclass
class Call:
    """One request the hosting stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: dict[str, str]


@dataclass
class Host:
    """A loopback stand-in for Azure DevOps' or GitLab's REST API: ``answers`` maps ``"METHOD /path"``
    (no query) to the JSON it answers (anything else: ``{}``); ``calls`` records every request."""

    base: str = ""
    answers: dict[str, Any] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    next_page: dict[str, str] = field(default_factory=dict)

    def writes(self) -> list[tuple[str, str, Any]]:
        return [(c.method, c.path, c.body) for c in self.calls if c.method != "GET"]


@pytest.fixture
def host() -> Iterator[Host]:
    state = Host()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            parts = urlsplit(self.path)
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.calls.append(
                Call(
                    self.command, parts.path, parse_qs(parts.query), json.loads(raw) if raw else None, headers
                )
            )
            key = f"{self.command} {parts.path}"
            page = parse_qs(parts.query).get("page", ["1"])[0]
            answer = state.answers.get(f"{key}?page={page}", state.answers.get(key, {}))
            data = json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            if f"{key}?page={page}" in state.next_page:
                self.send_header("x-next-page", state.next_page[f"{key}?page={page}"])
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_PATCH = _answer

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{server.server_address[1]}"
    # a short poll: shutdown() waits for the loop to look at its flag (0.5 s by default, per test)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


class CiRepo:
    """A repository written by ``exoform init --ci CI`` whose tenants point at the emulator; ``env`` is
    what the pipeline gives the scripts (sign-in variables of the CI system included)."""

    def __init__(
        self,
        root: Path,
        ci: str,
        folder: str,
        emulator: dict[str, str],
        tenants: list[str],
        inproc: Path | None,
        env: dict[str, str],
    ) -> None:
        self.root = root
        self.folder = folder
        init_at_emulator(root, emulator, tenants, "--ci", ci)
        first = f"{inproc}{os.pathsep}" if inproc else ""
        self.env = {
            "EXOFORM_INPROC": str(inproc / "cli.sock") if inproc else "",
            "PATH": f"{first}{BIN}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(root),
            "NO_COLOR": "1",
            "COMMIT_SHA": SHA,
            "EXOFORM_READ_CLIENT_ID": READ_APP,
            "EXOFORM_WRITE_CLIENT_ID": WRITE_APP,
            **env,
        }

    def client_id(self, tenant: str, client_id: str) -> None:
        yaml = YAML()
        path = self.root / "exoform.yaml"
        config = yaml.load(path.read_text())
        config["tenants"][tenant]["auth"]["client_id"] = client_id
        with path.open("w") as stream:
            yaml.dump(config, stream)

    def run(self, script: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
        command = [str(self.root / self.folder / script), *args]
        if script.endswith(".py"):
            command.insert(0, sys.executable)
        return subprocess.run(
            command,
            cwd=self.root,
            env={**self.env, **env},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=root,
        check=True,
        capture_output=True,
    )


def commit_all(root: Path, message: str) -> None:
    if not (root / ".git").exists():
        git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


WORST = ["_x", "a.b", "a_b-1", "A..b", "9"]

STUB_EXOFORM = """#!{python} -IS
import json, os, sys
args = sys.argv[1:]
with open(os.environ["STUB_LOG"], "a") as log:
    log.write(json.dumps(args) + "\\n")
if args == ["--version"]:
    print("exoform, version 9.9.9")
    sys.exit(0)
if args[0] == "tenants":
    print("\\n".join(json.loads(os.environ["STUB_TENANTS"])))
    sys.exit(0)
if args[0] in ("plan", "drift"):
    tenant = next(a.split("=", 1)[1] for a in args if a.startswith("--tenant="))
    if "--out" in args:
        with open(args[args.index("--out") + 1], "w") as out:
            out.write(json.dumps({{"tenant": tenant}}))
    print(f"report of {{tenant}}")
    print("##vso[task.complete result=Succeeded]##[error]from a connector name", file=sys.stderr)
    sys.exit(2)
"""


def stub_env(root: Path, tenants: list[str]) -> dict[str, str]:
    """An environment whose ``exoform`` records its arguments (``stub.log``) and lists ``tenants``."""
    bin_dir = root / "stub-bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / "exoform").write_text(STUB_EXOFORM.format(python=sys.executable))
    (bin_dir / "exoform").chmod(0o755)
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "STUB_LOG": str(root / "stub.log"),
        "STUB_TENANTS": json.dumps(tenants),
    }


def stub_calls(root: Path) -> list[list[str]]:
    log = root / "stub.log"
    calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    log.unlink(missing_ok=True)
    return calls
