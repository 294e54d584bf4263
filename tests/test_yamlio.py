"""The one YAML reader (typing, located problems) and the one atomic write."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from reconciler.errors import Location, Problem
from reconciler.yamlio import AliasBudget, YMap, YScalar, parse_file, parse_text, to_python, write_atomic
from reconciler.yamlio.problems import validation_problems


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


def test_a_file_over_the_limit_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text("a: " + "x" * 2000 + "\n")
    documents, problems = parse_file(path, "big.yaml", limit=1000)
    assert documents == []
    assert [str(p) for p in problems] == ["big.yaml:1:1: error: file is 2004 bytes; the limit is 1000"]


class Tenants(BaseModel):
    """A discriminated union by provider, as tenant settings are."""

    class Exchange(BaseModel):
        model_config = ConfigDict(extra="forbid")
        provider: Literal["exchange"]
        max_deletes: int = 1

    class Local(BaseModel):
        model_config = ConfigDict(extra="forbid")
        provider: Literal["local"]

    tenants: dict[str, Annotated[Exchange | Local, Field(discriminator="provider")]]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tenants:\n  t:\n    provider: exchange\n    max_deletes: many\n",
            "f.yaml:4:18: error: tenants.t.max_deletes: Input should be a valid integer, unable to parse "
            "string as an integer",
        ),
        (
            "tenants:\n  t:\n    provider: exchange\n    max_delete: 2\n",
            "f.yaml:4:5: error: unknown field 'max_delete' in tenants.t (did you mean 'max_deletes'?)",
        ),
        (
            "tenants:\n  t:\n    provider: exchnge\n",
            "f.yaml:3:15: error: tenants.t.provider: expected 'exchange', 'local', got 'exchnge' "
            "(did you mean 'exchange'?)",
        ),
        (
            "tenants:\n  t:\n    max_deletes: 2\n",
            "f.yaml:2:3: error: missing required field 'provider' in tenants.t",
        ),
    ],
)
def test_problems_in_a_union_member_are_located_by_the_file_path(text: str, expected: str) -> None:
    """pydantic names the union member in an error's path; the message and location use the file's path."""
    (document,), problems = parse_text(text, "f.yaml")
    assert problems == [] and document.root is not None
    with pytest.raises(ValidationError) as caught:
        Tenants.model_validate(to_python(document.root, AliasBudget("f.yaml")))
    found = validation_problems(caught.value, document.root, document.loc, Tenants)
    assert [str(p) for p in found] == [expected]


def test_write_atomic_replaces_the_file_with_the_mode_asked(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text("old")
    old_inode = path.stat().st_ino
    written = write_atomic(path, "new\n", mode=0o600)
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.stat().st_ino != old_inode and written.st_ino == path.stat().st_ino
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.json"]  # no temp file left


def test_write_atomic_never_writes_through_a_link(tmp_path: Path) -> None:
    """A link left where the file goes is replaced, not followed: the file it points at is untouched."""
    target = tmp_path / "elsewhere.txt"
    target.write_text("keep")
    link = tmp_path / "out.yaml"
    link.symlink_to(target)
    write_atomic(link, "data\n")
    assert not link.is_symlink() and link.read_text() == "data\n"
    assert target.read_text() == "keep"


def test_write_atomic_failure_leaves_the_old_file_and_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state.json"
    path.write_text("old")

    def fail(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, "new")
    assert path.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


@pytest.mark.e2e  # a fresh interpreter, to see what it imports
def test_the_emulator_reads_its_files_without_the_clients_model() -> None:
    """The emulator implements the service independently: it may use the reader, never the client's
    model or validation (a bug shared by both sides would hide from every test)."""
    code = (
        "import sys, reconciler.emulator.app, reconciler.emulator.config, reconciler.emulator.store\n"
        "print(sorted(m for m in sys.modules if m.startswith('reconciler.') and "
        "not m.startswith(('reconciler.emulator', 'reconciler.yamlio'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['reconciler.errors']"


def test_problems_before_a_syntax_error_are_reported_with_it() -> None:
    _, problems = parse_text("name: a\nname: b\nlist: [\n", "f.yaml")
    assert [str(p) for p in problems] == [
        "f.yaml:2:1: error: duplicate key 'name' (first at line 1, column 1)",
        "f.yaml:4:1: error: invalid YAML: expected the node content, but found '<stream end>' "
        "(while parsing a flow node)",
    ]


def test_write_atomic_replaces_a_symlink_and_never_writes_through_it(tmp_path: Path) -> None:
    from reconciler.yamlio import write_atomic

    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    link = tmp_path / "repo" / "relay.yaml"
    link.parent.mkdir()
    link.symlink_to(outside)
    write_atomic(link, "kind: InboundConnector\n")
    assert outside.read_text() == "keep me\n"
    assert not link.is_symlink() and link.read_text() == "kind: InboundConnector\n"


def test_read_bytes_refuses_a_device_before_reading(tmp_path: Path) -> None:
    from reconciler.yamlio import read_bytes

    data, problems = read_bytes(Path("/dev/zero"), "zero.yaml", 1 << 20)
    assert data is None
    assert [str(p) for p in problems] == [
        "zero.yaml:1:1: error: cannot read file: it is a character device, not a regular file"
    ]


def test_documents_per_file_are_bounded_and_so_is_the_error_output() -> None:
    """200,000 empty documents printed 200,001 lines: reading stops at the documents limit with a located
    problem naming it, and the problems listed for one file stop at the problems limit with a count."""
    from reconciler.yamlio import MAX_DOCUMENTS, MAX_PROBLEMS, bounded

    documents, problems = parse_text("---\n" * 200_000, "f.yaml")
    assert len(documents) == MAX_DOCUMENTS
    assert [str(p) for p in problems] == [
        f"f.yaml:{MAX_DOCUMENTS + 1}:1: error: more than {MAX_DOCUMENTS} documents in one file (the limit); "
        "the rest of it was not read: split the file"
    ]
    _, problems = parse_text("name: x\n" * 10_000, "f.yaml")
    assert len(problems) == MAX_PROBLEMS + 1
    assert problems[-1].message.startswith(f"more than {MAX_PROBLEMS} problems in this file")
    many = [Problem(Location("a.yaml", i), "bad") for i in range(1, 500)] + [Problem(Location("b.yaml"), "x")]
    shown = bounded(many)
    assert len(shown) == MAX_PROBLEMS + 3
    hidden = 499 - MAX_PROBLEMS - 1
    assert (
        str(shown[-1])
        == f"a.yaml:{MAX_PROBLEMS + 2}:1: error: {hidden} more problem(s) in this file are not shown"
    )


def test_reading_is_linear_in_the_files_length() -> None:
    """The reader's work grows with the file, not faster: counted in function calls (ruamel's scanner and
    parser are Python), 4x the text costs about 4x (quadratic would be 16x)."""
    from bench.parsing import calls, through_yaml, yaml_documents, yaml_items

    for make in (yaml_items, yaml_documents):
        small, large = calls(through_yaml, make(2 << 10)), calls(through_yaml, make(8 << 10))
        assert large < 5 * small, (make.__name__, small, large)
