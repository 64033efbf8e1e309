"""Threshold calibration (`routerlab calibrate`): pure logic and the command on real labels."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ConfigError
from harness.serving.calibration import calibrate, strong_share, threshold_for_share
from routerlab.cli import main


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.77, 1.0])
def test_threshold_gives_the_share_on_distinct_scores(share: float) -> None:
    scores = np.random.default_rng(0).random(1000)
    t = threshold_for_share(scores, share)
    assert strong_share(scores, t) == pytest.approx(share, abs=0.0005)


def test_a_tie_at_the_boundary_takes_the_nearer_share() -> None:
    scores = np.array([0.9] * 2 + [0.5] * 6 + [0.1] * 2)
    # 30 %: the tie at 0.5 either all goes strong (80 %) or none does (20 %): 20 % is nearer.
    assert strong_share(scores, threshold_for_share(scores, 0.3)) == pytest.approx(0.2)
    assert strong_share(scores, threshold_for_share(scores, 0.6)) == pytest.approx(0.8)


def test_drift_is_the_share_difference_in_points() -> None:
    rng = np.random.default_rng(1)
    c = calibrate(rng.random(500), 0.3, check_scores=rng.random(500) + 0.2, check_set="shifted")
    assert c.calibration_share == pytest.approx(0.3, abs=0.002)
    assert c.check_share is not None and c.check_share > 0.4
    assert c.drift == pytest.approx(100 * (c.check_share - c.calibration_share))


def test_share_outside_0_1_is_refused() -> None:
    with pytest.raises(ConfigError, match="share"):
        threshold_for_share(np.arange(3.0), 30)


@pytest.mark.slow
def test_calibrate_cli_hits_the_share_and_reports_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "calibration.json"
    argv = ["calibrate", "-r", "knn", "-l", "arena", "--router-param", "k=15",
            "--router-param", "weights=similarity", "--share", "0.3", "--prompts", "gsm8k",
            "--check-prompts", "mmlu", "--limit", "300", "--out", str(out)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "target 30.0%" in printed and "drift" in printed
    record = json.loads(out.read_text())
    assert abs(record["calibration_share"] - 0.3) <= 0.01
    assert record["n_calibration"] == 300 and record["n_check"] == 300
    assert record["check_share"] is not None
    assert record["router"]["router_params"]["k"] == 15
    assert len(record["router"]["labels_sha256"]) == 64


def test_calibrate_bad_share_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["calibrate", "-r", "knn", "-l", "arena", "--share", "30", "--prompts", "gsm8k"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--share must lie in [0, 1]" in err and "Traceback" not in err
