"""The notebook API (`import routerlab`): its doctest and the same numbers as the CLI."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import routerlab
from routerlab import api
from routerlab.cli import main


def test_api_doctest() -> None:
    failed, attempted = doctest.testmod(api, verbose=False)
    assert attempted >= 4 and failed == 0


def test_api_matches_the_cli_and_its_results_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = routerlab.evaluate("gsm8k", "random", seed=2, n_boot=100, limit=150)
    m = result.metrics
    assert len(result.benchmark) == 150
    assert m["cpt_50_lo"] <= m["cpt_50"] <= m["cpt_50_hi"]
    assert m["usd_cpt_50"] <= m["usd_all_strong"]
    out = tmp_path / "results.json"
    argv = ["evaluate", "-b", "gsm8k", "-r", "random", "-r", "oracle", "--seed", "2",
            "--n-boot", "100", "--limit", "150", "--no-mlflow", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "USD@CPT(50%)" in printed and f"results: {out}" in printed
    saved = json.loads(out.read_text())
    by_system = {r["system"]: r for r in saved["results"]}
    assert set(by_system) == {"random", "oracle"}
    assert by_system["random"]["cpt_50"] == pytest.approx(m["cpt_50"])
    assert by_system["random"]["usd_cpt_50"] == pytest.approx(m["usd_cpt_50"])
    assert by_system["oracle"]["cpt_50"] < by_system["random"]["cpt_50"]
