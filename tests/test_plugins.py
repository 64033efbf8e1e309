"""Plugins through entry points: a separate distribution adds a router that routerlab runs
by name; a plugin that breaks the interface fails when it registers; unknown names get a
"did you mean".

The fixture pip-installs tests/plugin_pkg (its own pyproject with entry points in the group
``routerlab.routers``) into the running environment and uninstalls it afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.plugins import ROUTERS
from harness.registry import Registry, RegistryError
from routers.base import validate_router_class

PLUGIN_SRC = Path(__file__).resolve().parent / "plugin_pkg"
DIST = "routerlab-example-plugin"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the routerlab CLI in a fresh interpreter (entry points are read at start)."""
    code = "import sys; from routerlab.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True,
        env=dict(os.environ), timeout=900,
    )


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    # Build from a copy, so that setuptools' build/ and *.egg-info stay out of the repo.
    src = tmp_path_factory.mktemp("plugin") / "plugin_pkg"
    shutil.copytree(PLUGIN_SRC, src)
    pip = [sys.executable, "-m", "pip"]
    subprocess.run(
        [*pip, "install", "--no-deps", "--no-build-isolation", "--quiet", str(src)],
        check=True, capture_output=True,
    )
    try:
        yield
    finally:
        subprocess.run([*pip, "uninstall", "--yes", "--quiet", DIST], check=True,
                       capture_output=True)


def _fresh_router_registry() -> Registry:
    # The process-wide registry scanned entry points before the install; a fresh one sees it.
    return Registry("router", "routerlab.routers", validate=validate_router_class)


@pytest.mark.slow
def test_plugin_router_registers_through_its_entry_point(installed_plugin: None) -> None:
    registry = _fresh_router_registry()
    assert "example_centroid" in registry.names()
    cls = registry.get("example_centroid")
    assert cls.__module__ == "routerlab_example_plugin"
    assert cls().get_params() == {"temperature": 10.0}


@pytest.mark.slow
def test_broken_plugin_fails_at_registration(installed_plugin: None) -> None:
    registry = _fresh_router_registry()
    assert "example_broken" in registry.names()  # listing imports nothing
    with pytest.raises(RegistryError, match="example_broken.*does not implement score"):
        registry.get("example_broken")
    listing = _cli("plugins", "--check")
    assert listing.returncode == 1
    assert "example_broken" in listing.stdout and "does not implement score" in listing.stdout


@pytest.mark.slow
def test_evaluate_plugin_router_by_name(installed_plugin: None, data_dir: Path) -> None:
    result = _cli(
        "evaluate", "--benchmark", "mt_bench", "--router", "example_centroid",
        "--labels", "arena", "--router-param", "temperature=20", "--n-boot", "0", "--json",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout)
    (row,) = summary["results"]
    assert row["benchmark"] == "mt_bench"
    assert 0 < row["n"] <= 72
    assert 0.0 <= row["cpt_50"] <= 100.0


def test_unknown_router_name_suggests_the_closest() -> None:
    with pytest.raises(RegistryError, match="Did you mean 'sw_ranking'"):
        ROUTERS.get("sw_rankng")


def test_unknown_router_in_the_cli_is_one_line_with_did_you_mean(data_dir: Path) -> None:
    result = _cli("evaluate", "--benchmark", "mt_bench", "--router", "knnn", "--labels",
                  "arena", "--n-boot", "0", "--no-mlflow")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Did you mean 'knn'" in lines[0], result.stderr
