"""Shared folders and ``kind: Override`` documents: a tenant's connectors from several folders."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from reconciler.desired import connectors
from reconciler.desired.connectors import load_all
from reconciler.errors import InputError
from reconciler.model import InboundConnector

FILTER = """\
kind: InboundConnector
name: From Mimecast
connector_type: Partner
sender_domains: ["*"]
sender_ip_addresses: [198.51.100.0/25]
restrict_domains_to_ip_addresses: true
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for folder in ("common", "contoso", "fabrikam"):
        (tmp_path / folder).mkdir()
    (tmp_path / "common" / "filter.yaml").write_text(FILTER)
    (tmp_path / "exoform.yaml").write_text(
        "tenants:\n  contoso: {connectors: [common, contoso]}\n  fabrikam: {connectors: [common, fabrikam]}\n"
    )
    return tmp_path


def _write(path: Path, text: str) -> None:
    path.write_text(textwrap.dedent(text))


def _inbound(desired: list[connectors.TenantDesired], tenant: str) -> InboundConnector:
    [loaded] = next(d for d in desired if d.tenant == tenant).connectors
    assert isinstance(loaded.connector, InboundConnector)
    return loaded.connector


def test_an_override_changes_only_its_fields_for_its_tenant(repo: Path) -> None:
    _write(
        repo / "contoso" / "filter-ips.yaml",
        """\
        kind: Override
        target: {kind: InboundConnector, name: from mimecast}
        sender_ip_addresses: [203.0.113.0/24]
        comment: Contoso's own range
        """,
    )
    _, desired = load_all(Path("exoform.yaml"))
    contoso, fabrikam = _inbound(desired, "contoso"), _inbound(desired, "fabrikam")
    assert contoso.sender_ip_addresses == ["203.0.113.0/24"] and contoso.comment == "Contoso's own range"
    assert contoso.restrict_domains_to_ip_addresses is True  # not overridden: the shared value
    assert fabrikam.sender_ip_addresses == ["198.51.100.0/25"] and fabrikam.comment == ""
    [loaded] = desired[0].connectors
    assert str(loaded.location_of("sender_ip_addresses")) == "contoso/filter-ips.yaml:3:1"
    assert str(loaded.location_of("connector_type")) == "common/filter.yaml:3:1"


def test_the_same_connector_in_two_folders_is_an_error_naming_both_places(repo: Path) -> None:
    (repo / "contoso" / "copy.yaml").write_text(FILTER.replace("From Mimecast", "FROM MIMECAST"))
    with pytest.raises(InputError) as caught:
        load_all(Path("exoform.yaml"))
    assert [str(p) for p in caught.value.problems] == [
        "contoso/copy.yaml:2:1: error: duplicate InboundConnector name 'FROM MIMECAST' (names are "
        "case-insensitive): also declared at common/filter.yaml:2:1"
    ]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "kind: Override\ntarget: {kind: InboundConnector, name: Nowhere}\ncomment: x\n",
            "contoso/o.yaml:2:1: error: tenant contoso: override target InboundConnector 'Nowhere' is not "
            "declared in an earlier folder of the tenant; folders: common, contoso",
        ),
        (
            "kind: Override\ntarget: {kind: InboundConnector, name: From Mimecast}\nname: Other\n",
            "contoso/o.yaml:3:1: error: an override cannot change name: rename the connector in its own file "
            "(renamed_from)",
        ),
        (
            "kind: Override\ntarget: {kind: Inbound, name: From Mimecast}\n",
            "contoso/o.yaml:2:16: error: target.kind: expected 'InboundConnector' or 'OutboundConnector', "
            "got 'Inbound' (did you mean 'InboundConnector'?)",
        ),
        (
            "kind: Override\ntarget: {kind: InboundConnector, name: From Mimecast}\nsender_ip_address: []\n",
            "contoso/o.yaml:3:1: error: unknown field 'sender_ip_address' "
            "(did you mean 'sender_ip_addresses'?)",
        ),
        (
            "kind: Override\ntarget: {kind: InboundConnector, name: From Mimecast}\nenabled: maybe\n",
            "contoso/o.yaml:3:10: error: enabled: expected true or false, got 'maybe'",
        ),
    ],
)
def test_override_problems_are_located_in_the_override(repo: Path, override: str, message: str) -> None:
    (repo / "contoso" / "o.yaml").write_text(override)
    with pytest.raises(InputError) as caught:
        load_all(Path("exoform.yaml"), ["contoso"])
    assert [str(p) for p in caught.value.problems] == [message]


def test_an_override_in_the_same_folder_as_its_target_is_refused(repo: Path) -> None:
    (repo / "common" / "o.yaml").write_text(
        "kind: Override\ntarget: {kind: InboundConnector, name: From Mimecast}\ncomment: x\n"
    )
    with pytest.raises(InputError) as caught:
        load_all(Path("exoform.yaml"), ["contoso"])
    [problem] = caught.value.problems
    assert "(it is declared in common, not before this folder)" in str(problem)


def test_a_shared_folder_is_parsed_once_per_load(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[Path] = []
    real = connectors.parse_file

    def counting(path: Path, *args: object, **kwargs: object) -> object:
        parsed.append(path)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(connectors, "parse_file", counting)
    _, desired = load_all(Path("exoform.yaml"))
    assert len(desired) == 2
    assert [p.name for p in parsed] == ["filter.yaml"]


def test_a_problem_of_a_shared_file_is_listed_once(repo: Path) -> None:
    broken = FILTER.replace("connector_type: Partner", "connector_type: P")
    (repo / "common" / "filter.yaml").write_text(broken)
    with pytest.raises(InputError) as caught:
        load_all(Path("exoform.yaml"))
    assert len(caught.value.problems) == 1


def test_a_missing_folder_of_a_list_is_located_at_its_item(repo: Path) -> None:
    (repo / "exoform.yaml").write_text("tenants:\n  contoso:\n    connectors: [common, nowhere]\n")
    with pytest.raises(InputError) as caught:
        load_all(Path("exoform.yaml"))
    assert [str(p) for p in caught.value.problems] == [
        "exoform.yaml:3:26: error: tenant contoso: connectors folder nowhere does not exist"
    ]


def test_an_absent_override_drops_a_shared_connector_for_its_tenant_only(repo: Path) -> None:
    _write(
        repo / "contoso" / "drop.yaml",
        """\
        # Contoso has its own filter
        kind: Override
        target: {kind: InboundConnector, name: from mimecast}
        absent: true
        """,
    )
    _, desired = load_all(Path("exoform.yaml"))
    contoso, fabrikam = desired
    assert contoso.connectors == [] and len(fabrikam.connectors) == 1 and fabrikam.absent == []
    [gone] = contoso.absent
    assert (gone.kind, gone.name, str(gone.location)) == (
        "InboundConnector",
        "from mimecast",
        "contoso/drop.yaml:2:1",
    )
    source = gone.source()
    assert (source.file, source.line, source.folder, source.overrides) == (
        "contoso/drop.yaml",
        2,
        "contoso",
        ["contoso/drop.yaml:2:1"],
    )


def test_an_absent_override_sets_no_field_and_drops_once(repo: Path) -> None:
    _write(
        repo / "contoso" / "a.yaml",
        """\
        kind: Override
        target: {kind: InboundConnector, name: From Mimecast}
        absent: true
        comment: why
        ---
        kind: Override
        target: {kind: InboundConnector, name: From Mimecast}
        absent: true
        ---
        kind: Override
        target: {kind: InboundConnector, name: From Mimecast}
        comment: too late
        """,
    )
    with pytest.raises(InputError) as exc:
        load_all(Path("exoform.yaml"), ["contoso"])
    messages = [f"{p.location}: {p.message}" for p in exc.value.problems]
    assert messages[0] == (
        "contoso/a.yaml:4:1: an override with absent: true drops its target for this tenant and sets no "
        "field; remove comment"
    )
    assert messages[1] == (
        "contoso/a.yaml:11:1: tenant contoso: override target InboundConnector 'From Mimecast' is dropped by "
        "the override at contoso/a.yaml:6:1 (absent: true)"
    )
    assert len(messages) == 2


def test_a_merged_connector_knows_its_folder_and_overrides(repo: Path) -> None:
    _write(
        repo / "contoso" / "ips.yaml",
        """\
        kind: Override
        target: {kind: InboundConnector, name: From Mimecast}
        comment: Contoso
        """,
    )
    _, desired = load_all(Path("exoform.yaml"))
    contoso, fabrikam = desired
    assert contoso.sources()[("InboundConnector", "from mimecast")].overrides == ["contoso/ips.yaml:1:1"]
    shared = fabrikam.sources()[("InboundConnector", "from mimecast")]
    assert (shared.file, shared.line, shared.folder, shared.overrides) == (
        "common/filter.yaml",
        1,
        "common",
        [],
    )


def test_a_stale_override_after_a_rename_suggests_the_new_name(repo: Path) -> None:
    (repo / "common" / "filter.yaml").write_text(
        FILTER.replace("name: From Mimecast", "name: From filter\nrenamed_from: [From Mimecast]")
    )
    _write(
        repo / "contoso" / "ips.yaml",
        """\
        kind: Override
        target: {kind: InboundConnector, name: From Mimecast}
        comment: Contoso
        """,
    )
    with pytest.raises(InputError) as exc:
        load_all(Path("exoform.yaml"), ["contoso"])
    [problem] = exc.value.problems
    assert (
        "(it was renamed to 'From filter' at common/filter.yaml:2:1: did you mean target: " in problem.message
    )
    assert "{kind: InboundConnector, name: From filter}?)" in problem.message
