"""The emulator's input files: plain JSON is read as the one reader reads it, and every problem stays
located by that reader (duplicate keys, non-JSON constants, YAML)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.emulator.files import MAX_INPUT_BYTES, read_document
from reconciler.errors import InputError
from reconciler.yamlio import AliasBudget, parse_file, to_python

REPO = Path(__file__).resolve().parents[2]


def _by_the_reader(path: Path) -> object:
    documents, problems = parse_file(path, str(path), MAX_INPUT_BYTES)
    assert problems == [] and documents[0].root is not None
    return to_python(documents[0].root, AliasBudget(str(path)))


@pytest.mark.parametrize(
    "path",
    [*sorted((REPO / "tests" / "fixtures" / "live").glob("*.json")), REPO / "connectors" / "demo-seed.json"],
)
def test_plain_json_reads_as_the_reader_reads_it(path: Path) -> None:
    document, _ = read_document(path, "seed")
    assert document == _by_the_reader(path)


def test_a_json_seed_with_a_duplicate_key_is_a_located_error(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{\n  "InboundConnector": [],\n  "InboundConnector": []\n}\n')
    with pytest.raises(InputError) as caught:
        read_document(seed, "seed")
    assert str(caught.value.problems[0]).startswith(f"{seed}:3:3: error: invalid seed: duplicate key")


def test_a_shape_problem_in_plain_json_is_located_by_the_reader(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text(json.dumps({"InboundConnector": [{"Name": "a"}], "Other": 1}, indent=2))
    _, where = read_document(seed, "seed")
    assert where(["Other"]) == (7, 3)


def test_nan_is_not_plain_json(tmp_path: Path) -> None:
    seed = tmp_path / "seed.json"
    seed.write_text('{"InboundConnector": [], "x": NaN}')
    document, _ = read_document(seed, "seed")
    assert document == {"InboundConnector": [], "x": "NaN"}  # as the YAML reader reads the text
