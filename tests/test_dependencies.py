"""pyproject.toml is honest: every package reconciler/ imports is declared with a range; test-only code
is not a runtime dependency."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def _imported_top_level_modules() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "reconciler").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return found - set(sys.stdlib_module_names) - {"reconciler", "__future__"}


def test_every_imported_package_is_declared_with_a_range() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {_name(r.name): r for r in map(Requirement, project["dependencies"])}
    extras = {
        _name(r.name)
        for requirements in project["optional-dependencies"].values()
        for r in map(Requirement, requirements)
    }
    distributions = packages_distributions()
    for module in sorted(_imported_top_level_modules()):
        names = {_name(d) for d in distributions.get(module, [module])}
        declared = names & (runtime.keys() | extras)
        assert declared, f"reconciler imports {module} ({', '.join(sorted(names))}), which is not declared"
        for name in declared & runtime.keys():
            specifier = runtime[name].specifier
            assert any(s.operator in (">=", ">") for s in specifier), f"{name} has no lower bound"
            assert any(s.operator in ("<", "<=") for s in specifier), f"{name} has no upper bound"
    assert "trustme" not in runtime, "the test server's certificate authority is not a runtime dependency"
