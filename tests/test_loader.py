"""The loader's public API: located connectors, tenant selection, YAML typing, file discovery."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest

from reconciler.config import ExoformConfig, TenantConfig
from reconciler.errors import ConfigError, InputError, Location
from reconciler.loader import (
    YMap,
    YScalar,
    check_env,
    connector_files,
    load_all,
    load_config,
    load_tenant,
    make_yaml,
    parse_text,
    select_tenants,
)
from reconciler.model import InboundConnector, OutboundConnector

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  lab:\n    connectors: conn/lab\n  prod:\n    connectors: conn/prod\n    max_deletes: 3\n"
    )
    (tmp_path / "conn" / "lab").mkdir(parents=True)
    (tmp_path / "conn" / "prod" / "sub").mkdir(parents=True)
    (tmp_path / "conn" / "prod" / "b.yaml").write_text(
        "# yaml-language-server: $schema=x\n"
        "kind: InboundConnector\n"
        "name: In\n"
        "connector_type: Partner\n"
        "sender_domains: ['Fabrikam.com', smtp:fabrikam.com;1]\n"
        "---\n"
        "kind: OutboundConnector\n"
        "name: Out\n"
        "connector_type: Partner\n"
        "recipient_domains: ['*']\n"
    )
    (tmp_path / "conn" / "prod" / "sub" / "a.yml").write_text(
        "kind: InboundConnector\nname: Sub\nconnector_type: Partner\nsender_domains: [woodgrove.example]\n"
    )
    (tmp_path / "conn" / "prod" / ".hidden.yaml").write_text("not: a connector\n")
    (tmp_path / "conn" / "prod" / "notes.txt").write_text("kind: nothing\n")
    return tmp_path


def test_load_all_returns_located_normalized_connectors(project: Path) -> None:
    config, desired = load_all(Path("exoform.yaml"))
    assert [t.tenant for t in desired] == ["lab", "prod"]
    prod = desired[1]
    assert prod.settings.max_deletes == 3
    names = [(lc.connector.kind, lc.connector.name) for lc in prod.connectors]
    assert names == [("InboundConnector", "In"), ("OutboundConnector", "Out"), ("InboundConnector", "Sub")]
    inbound = prod.connectors[0]
    assert isinstance(inbound.connector, InboundConnector)
    assert inbound.connector.sender_domains == ["fabrikam.com"]
    assert inbound.location == Location("conn/prod/b.yaml", 2, 1)
    assert inbound.field_locations["sender_domains"] == Location("conn/prod/b.yaml", 5, 1)
    assert inbound.location_of("require_tls") == inbound.location
    outbound = prod.connectors[1]
    assert isinstance(outbound.connector, OutboundConnector)
    assert outbound.location == Location("conn/prod/b.yaml", 7, 1)
    assert config.path("conn/prod") == (project / "conn" / "prod").resolve()


def test_load_all_selects_tenants(project: Path) -> None:
    _, desired = load_all(Path("exoform.yaml"), ["pro*"])
    assert [t.tenant for t in desired] == ["prod"]


def test_select_tenants() -> None:
    config = ExoformConfig(tenants={n: TenantConfig(connectors="c") for n in ("prod-eu", "prod-us", "lab")})
    assert select_tenants(config, []) == ["prod-eu", "prod-us", "lab"]
    assert select_tenants(config, ["lab", "prod-*"]) == ["prod-eu", "prod-us", "lab"]
    assert select_tenants(config, ["prod-us"]) == ["prod-us"]
    with pytest.raises(ConfigError, match=r"no tenant matches 'lba' \(did you mean 'lab'\?\)"):
        select_tenants(config, ["lba"])
    with pytest.raises(ConfigError, match="no tenant matches 'dev-\\*'"):
        select_tenants(config, ["dev-*"])


def test_load_tenant_raises_every_problem(project: Path) -> None:
    (project / "conn" / "lab" / "x.yaml").write_text("kind: InboundConnector\nname: A\n")
    (project / "conn" / "lab" / "y.yaml").write_text("kind: OutboundConnector\nname: B\n")
    config = load_config(project / "exoform.yaml")
    with pytest.raises(InputError) as caught:
        load_tenant(config, "lab")
    assert [str(p) for p in caught.value.problems] == [
        "conn/lab/x.yaml:1:1: error: missing required field 'connector_type'",
        "conn/lab/x.yaml:1:1: error: missing required field 'sender_domains'",
        "conn/lab/y.yaml:1:1: error: missing required field 'connector_type'",
    ]
    with pytest.raises(ConfigError, match="unknown tenant 'prd'"):
        load_tenant(config, "prd")


def test_connector_files_are_sorted_recursive_and_skip_hidden(project: Path) -> None:
    files = connector_files(project / "conn" / "prod")
    assert [f.relative_to(project).as_posix() for f in files] == ["conn/prod/b.yaml", "conn/prod/sub/a.yml"]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("v: yes", "yes"),
        ("v: true", True),
        ("v: False", False),
        ("v: 'true'", "true"),
        ("v: ~", None),
        ("v:", None),
        ("v: 12", 12),
        ("v: 0x10", 16),
        ("v: 0o10", 8),
        ("v: 1_000", 1000),
        ("v: 0.25", 0.25),
        ("v: 2024-01-31", "2024-01-31"),
        ("v: 192.0.2.1", "192.0.2.1"),
        ("v: !!str 12", "12"),
        ("v: !!int '12'", 12),
    ],
)
def test_scalars_are_typed_as_yaml_1_2(text: str, value: object) -> None:
    documents, problems = parse_text(text + "\n", "f.yaml")
    assert problems == []
    root = documents[0].root
    assert isinstance(root, YMap)
    node = root.entries["v"].value
    assert isinstance(node, YScalar)
    assert node.value == value
    assert type(node.value) is type(value)


def test_keys_are_text() -> None:
    documents, _ = parse_text("1: a\ntrue: b\n", "f.yaml")
    root = documents[0].root
    assert isinstance(root, YMap)
    assert list(root.entries) == ["1", "true"]


def test_documents_before_a_syntax_error_are_kept() -> None:
    documents, problems = parse_text("a: 1\n---\nb: [\n", "f.yaml")
    assert len(documents) == 1
    assert [p.location for p in problems] == [Location("f.yaml", 4, 1)]


def test_recursive_alias_is_refused() -> None:
    _, problems = parse_text("a: &x [*x]\nb: *y\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:1:8: error: alias '*x' refers to a list or mapping that contains it"
    ]
    _, problems = parse_text("b: *y\n", "f.yaml")
    assert [str(p) for p in problems] == ["f.yaml:1:4: error: alias '*y' has no anchor"]


def test_env_references_are_not_resolved_at_load(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "exoform.yaml").write_text(
        "tenants:\n  prod:\n    connectors: conn/prod\n    provider: exchange\n    tenant_id: t\n"
        "    auth:\n      client_id: c\n      certificate:\n        pem: env:EXO_TEST_PEM\n"
        "        passphrase: env:EXO_TEST_PASS\n"
    )
    monkeypatch.delenv("EXO_TEST_PEM", raising=False)
    monkeypatch.setenv("EXO_TEST_PASS", "p")
    config = load_config(project / "exoform.yaml")
    auth = config.tenants["prod"].auth
    assert auth is not None and auth.certificate is not None
    assert auth.certificate.pem == "env:EXO_TEST_PEM"
    assert [str(p) for p in check_env(config, ["prod"])] == [
        "exoform.yaml:9:14: error: tenant prod: environment variable EXO_TEST_PEM is not set "
        "(referenced as env:EXO_TEST_PEM)"
    ]


def test_make_yaml_round_trips_comments_and_quotes() -> None:
    text = "# head\nkind: InboundConnector  # why\nsender_domains:\n  - '*'\n"
    yaml = make_yaml()
    data = yaml.load(text)
    out = StringIO()
    yaml.dump(data, out)
    assert out.getvalue() == text


def test_demo_config_names_the_local_demo_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    config = load_config(Path("exoform.yaml"))
    demo = config.tenants["demo"]
    assert demo.provider == "local"
    assert demo.connectors == "connectors/demo"
    assert demo.state == ".exoform/demo-state.json"
    assert demo.seed == "connectors/demo-seed.json"
