"""Fixtures shared by the CLI tests of several modules."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cli.ci_support import serve_emulator


@pytest.fixture(scope="session")
def shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One ``exoform emulator serve`` for the generated-workflow tests of GitHub, Azure DevOps and GitLab
    (started once per test process): each test signs in to organizations of its own, so none sees
    another's connectors."""
    yield from serve_emulator(tmp_path_factory.mktemp("ci-emulator"))
