"""The layers of the code base, read from the source files (ast, no imports executed).

From the bottom: ``harness`` (the library), then the plugin packages ``routers`` and
``judges``, then ``baselines`` (named systems), ``reports``, ``studies``, and on top the
command line ``routerlab``. A package may import the layers below it, never one above.
Function-local imports count too, and so do hidden ones: ``importlib.import_module("x")``
with a constant name and registry targets written as ``"module:attr"`` strings.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: package → the top-level packages it must not import.
FORBIDDEN: dict[str, frozenset[str]] = {
    "harness": frozenset({"studies", "reports", "baselines", "routerlab"}),
    "routers": frozenset({"judges", "studies", "reports", "baselines", "routerlab"}),
    "judges": frozenset({"routers", "studies", "reports", "baselines", "routerlab"}),
    "baselines": frozenset({"studies", "reports", "routerlab"}),
    "reports": frozenset({"studies", "routerlab"}),
    "studies": frozenset({"routerlab"}),
}

_TARGET = re.compile(r"^([A-Za-z_][\w.]*):[A-Za-z_]\w*$")


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source``, hidden ones included."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            match = _TARGET.match(node.value)
            if match:
                found.append((node.lineno, match.group(1)))
    return found


def layering_violations(root: Path) -> list[str]:
    """``path:line: package imports module`` for each import that reaches up a layer."""
    violations: list[str] = []
    for package, forbidden in FORBIDDEN.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, module in imported_modules(path.read_text(encoding="utf-8")):
                if module.split(".")[0] in forbidden:
                    rel = path.relative_to(root)
                    violations.append(f"{rel}:{line}: {package} imports {module}")
    return violations


def test_no_layer_imports_a_layer_above() -> None:
    assert (ROOT / "harness").is_dir() and (ROOT / "routerlab" / "cli").is_dir()
    assert layering_violations(ROOT) == []


def test_checker_reports_a_wrong_import(tmp_path: Path) -> None:
    lib = tmp_path / "harness" / "sub"
    lib.mkdir(parents=True)
    (lib / "ok.py").write_text("import numpy\nfrom harness.records import Benchmark\n")
    (lib / "bad.py").write_text(
        "import os\n\n\ndef f():\n    from studies.runner import run_study\n"
        "    import routerlab.cli\n"
    )
    (tmp_path / "harness" / "hidden.py").write_text(
        'import importlib\nm = importlib.import_module("baselines")\n'
        'REG = {"x": "reports.build:write_report"}\n'
    )
    (tmp_path / "studies").mkdir()
    (tmp_path / "studies" / "fine.py").write_text("import harness\nimport reports\n")
    assert layering_violations(tmp_path) == [
        "harness/hidden.py:2: harness imports baselines",
        "harness/hidden.py:3: harness imports reports.build",
        "harness/sub/bad.py:5: harness imports studies.runner",
        "harness/sub/bad.py:6: harness imports routerlab.cli",
    ]


def test_the_real_tree_would_fail_with_a_wrong_import(tmp_path: Path) -> None:
    """The same check on a copy of ``harness`` with one upward import added."""
    import shutil

    shutil.copytree(ROOT / "harness", tmp_path / "harness")
    assert layering_violations(tmp_path) == []
    metrics = tmp_path / "harness" / "metrics.py"
    metrics.write_text(metrics.read_text(encoding="utf-8") + "\nimport studies.spec\n")
    [violation] = layering_violations(tmp_path)
    assert violation.startswith("harness/metrics.py:") and violation.endswith("studies.spec")
