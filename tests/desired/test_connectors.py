"""Connector files: located, normalized connectors, every problem of every file, file discovery."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.desired.connectors import connector_files, load_all, load_tenant
from reconciler.desired.loader import load_config
from reconciler.errors import ConfigError, InputError, Location
from reconciler.model import InboundConnector, OutboundConnector


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


def test_an_inbound_and_an_outbound_connector_cannot_share_a_name(project: Path) -> None:
    (project / "conn" / "lab" / "in.yaml").write_text(
        "kind: InboundConnector\nname: Fabrikam\nconnector_type: Partner\nsender_domains: [fabrikam.com]\n"
    )
    (project / "conn" / "lab" / "out.yaml").write_text(
        "kind: OutboundConnector\nname: FABRIKAM\nconnector_type: Partner\n"
        "recipient_domains: [fabrikam.com]\n"
    )
    config = load_config(project / "exoform.yaml")
    with pytest.raises(InputError) as caught:
        load_tenant(config, "lab")
    problems = [str(p) for p in caught.value.problems]
    assert len(problems) == 2  # reported at both places, each naming the other
    assert problems[0].startswith("conn/lab/in.yaml:2:1: error: InboundConnector 'Fabrikam' has the name")
    assert "OutboundConnector at conn/lab/out.yaml:2:1" in problems[0]
    assert problems[1].startswith("conn/lab/out.yaml:2:1: error: OutboundConnector 'FABRIKAM' has the name")
    assert "InboundConnector at conn/lab/in.yaml:2:1" in problems[1]
    assert all("share one namespace" in p for p in problems)


# --- what cannot be read is an error, never "absent" -------------------------------------------------------


def _problems(project: Path) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_tenant(load_config(project / "exoform.yaml"), "prod")
    return [str(p) for p in caught.value.problems]


def test_a_subfolder_that_cannot_be_listed_is_a_located_error(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    sub = project / "conn" / "prod" / "sub"
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:
        if Path(str(path)) == sub:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    [problem] = _problems(project)
    assert problem.startswith("conn/prod/sub:1:1: error: cannot list this folder (Permission denied)")


def test_a_symlinked_subfolder_is_a_located_error(project: Path) -> None:
    elsewhere = project / "shared"
    elsewhere.mkdir()
    (project / "conn" / "prod" / "linked").symlink_to(elsewhere, target_is_directory=True)
    [problem] = _problems(project)
    assert problem.startswith("conn/prod/linked:1:1: error: is a symbolic link to a folder")


def test_a_symlinked_file_outside_the_repository_is_refused_unread(
    project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    secret = tmp_path_factory.mktemp("home") / "credentials"
    secret.write_text("aws_secret_access_key: hunter2-very-secret\n")
    (project / "conn" / "prod" / "creds.yaml").symlink_to(secret)
    [problem] = _problems(project)
    assert problem.startswith("conn/prod/creds.yaml:1:1: error: is a symbolic link;")
    assert "hunter2" not in problem and "aws_secret" not in problem


def test_a_symlinked_file_inside_the_repository_is_refused_unread(project: Path) -> None:
    """A link to another file of the repository (exoform.yaml, say) is refused with its path; the linked
    file's first line never reaches the message or an annotation."""
    (project / "conn" / "prod" / "sub" / "a.yml").unlink()
    (project / "private.txt").write_text("internal-token: do-not-print\n")
    (project / "conn" / "prod" / "sub" / "a.yml").symlink_to(project / "private.txt")
    [problem] = _problems(project)
    assert problem.startswith("conn/prod/sub/a.yml:1:1: error: is a symbolic link;")
    assert "do-not-print" not in problem


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_without_blocking(project: Path) -> None:
    import os

    os.mkfifo(project / "conn" / "prod" / "pipe.yaml")
    [problem] = _problems(project)
    assert (
        problem
        == "conn/prod/pipe.yaml:1:1: error: cannot read file: it is a named pipe (FIFO), not a regular file"
    )


def test_a_symlink_loop_is_a_located_error(project: Path) -> None:
    loop = project / "conn" / "prod" / "loop.yaml"
    loop.symlink_to(loop)
    [problem] = _problems(project)
    assert problem.startswith("conn/prod/loop.yaml:1:1: error: is a symbolic link;")


def test_absent_needs_only_kind_and_name_and_conflicts_with_a_declaration(project: Path) -> None:
    folder = project / "conn" / "prod"
    (folder / "gone.yaml").write_text(
        "kind: OutboundConnector\nname: Old route\nabsent: true\nsmart_hosts: not even valid\n"
    )
    config = load_config(Path("exoform.yaml"))
    prod = load_tenant(config, "prod")
    assert [(a.kind, a.name, str(a.location), a.folder) for a in prod.absent] == [
        ("OutboundConnector", "Old route", "conn/prod/gone.yaml:1:1", "conn/prod")
    ]
    assert [c.connector.name for c in prod.connectors] == ["In", "Out", "Sub"]
    assert prod.sources()[("InboundConnector", "sub")].file == "conn/prod/sub/a.yml"
    (folder / "gone.yaml").write_text("kind: InboundConnector\nname: SUB\nabsent: true\n")
    with pytest.raises(InputError) as exc:
        load_tenant(config, "prod")
    [problem] = exc.value.problems
    assert str(problem.location) == "conn/prod/gone.yaml:1:1"
    assert problem.message.startswith(
        "InboundConnector 'SUB' is declared absent here and declared at conn/prod/sub/a.yml:2:1: remove one"
    )
    (folder / "gone.yaml").write_text("kind: InboundConnector\nabsent: true\n")
    with pytest.raises(InputError, match="absent: true needs the name of the connector"):
        load_tenant(config, "prod")


def test_the_connector_schema_needs_only_kind_and_name_of_an_absent_connector() -> None:
    import json

    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "connector.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"kind": "OutboundConnector", "name": "Old route", "absent": True})
    assert not validator.is_valid({"kind": "OutboundConnector", "name": "Old route", "absent": False})
    assert not validator.is_valid({"kind": "OutboundConnector", "absent": True})
    override = {
        "kind": "Override",
        "target": {"kind": "OutboundConnector", "name": "Old route"},
        "absent": True,
    }
    assert validator.is_valid(override)


def test_the_errors_of_one_file_are_bounded(project: Path) -> None:
    """200,000 empty documents printed 200,001 lines: now the documents limit stops the read and at most
    100 problems of the file are listed, then how many more there were."""
    (project / "conn" / "prod" / "empty.yaml").write_text("---\n" * 200_000)
    problems = [p for p in _problems(project) if p.startswith("conn/prod/empty.yaml")]
    assert len(problems) == 102
    assert "error: more than 1000 documents in one file (the limit)" in problems[0]
    assert problems[-1].endswith("error: 900 more problem(s) in this file are not shown")
