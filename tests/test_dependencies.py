"""Every package organizer imports is a declared dependency, and every run-time dependency is
imported by organizer (none kept nominally): read from the source and pyproject.toml."""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

from conftest import ROOT

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def _imports(package: Path) -> dict[str, set[str]]:
    """Top-level names imported anywhere under `package` (functions too), with where."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top != package.name:
                    found.setdefault(top, set()).add(str(path.relative_to(package.parent)))
    return found


def _distributions(module: str) -> set[str]:
    """The distributions that provide a top-level module; a module not installed here (tomli on a
    newer Python) is taken to be its own distribution. A wheel whose top_level.txt leaves a
    package out (dlib-bin names only its extension module) is found by its files."""
    provided = metadata.packages_distributions().get(module) or [
        d.metadata["Name"] for d in metadata.distributions()
        if any(str(f) == f"{module}/__init__.py" for f in d.files or ())] or [module]
    return {_name(d) for d in provided}


def test_every_import_is_declared_and_every_dependency_imported() -> None:
    """Run-time imports are dependencies or in a user-facing extra (whose absence the wheels-only
    check in .ci/run proves is a clear MissingExtra); the test extra is for tests alone."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(r) for r in project["dependencies"]}
    extras = {_name(r) for name, reqs in project["optional-dependencies"].items() if name != "test" for r in reqs}
    imports = _imports(ROOT / "organizer")
    undeclared = {m: sorted(where) for m, where in imports.items() if not _distributions(m) & (declared | extras)}
    assert not undeclared, f"imported but not in pyproject's dependencies or extras: {undeclared}"
    imported = set().union(*(_distributions(m) for m in imports))
    assert declared | extras <= imported, f"declared but never imported: {sorted((declared | extras) - imported)}"


def test_the_check_sees_imports_inside_functions(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "a.py").write_text("import os\nfrom pkg import b\ndef f():\n    import scipy.sparse\n")
    (package / "b.py").write_text("from . import a\nfrom numpy.linalg import norm\n")
    assert _imports(package) == {"scipy": {"pkg/a.py"}, "numpy": {"pkg/b.py"}}
