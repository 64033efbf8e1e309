"""Threshold calibration (RouteLLM's ``calibrate_threshold``): the score above which a
target share of prompts goes to the strong model.

RouteLLM takes the ``1 - share`` quantile of a router's scores on a set of prompts standing
in for the traffic. Here the threshold is placed halfway between the k-th and (k+1)-th
highest score (k = round(share · n)), so exactly k calibration prompts score at or above it
when the scores there are distinct; a tie that straddles the boundary makes that share
unreachable, and the share the threshold gives is reported next to the target. The share
the same threshold gives on a second prompt set measures drift: traffic unlike the
calibration set sends a different share to the strong model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.benchmarks import load_benchmark
from harness.benchmarks.custom import SUFFIXES, _read_table
from harness.errors import ConfigError, DataError


def threshold_for_share(scores: np.ndarray, share: float) -> float:
    """The threshold that sends ``share`` (0..1) of ``scores`` strong (``score >= t``)."""
    if not 0.0 <= share <= 1.0:
        raise ConfigError(f"share must lie in [0, 1], got {share}")
    s = np.sort(np.asarray(scores, dtype=float))[::-1]
    if s.size == 0:
        raise DataError("no calibration prompts: the calibration set is empty")
    k = int(round(share * s.size))
    if k == 0:
        return float(np.nextafter(s[0], np.inf))  # above every score: all weak
    if k == s.size:
        return float(s[-1])  # every prompt at or above: all strong
    if s[k - 1] > s[k]:
        return float((s[k - 1] + s[k]) / 2.0)
    # A tie straddles the boundary: send all of it strong or none of it, whichever share is
    # nearer the target.
    tied = s[k - 1]
    above = s[s > tied]
    include = float(tied)
    exclude = float((above[-1] + tied) / 2.0) if above.size else float(np.nextafter(tied, np.inf))
    gap_in = abs(strong_share(s, include) - share)
    gap_out = abs(strong_share(s, exclude) - share)
    return include if gap_in <= gap_out else exclude


def strong_share(scores: np.ndarray, threshold: float) -> float:
    """The share of ``scores`` at or above ``threshold``."""
    s = np.asarray(scores, dtype=float)
    return float((s >= threshold).mean()) if s.size else float("nan")


@dataclass
class Calibration:
    """A calibrated threshold and the shares it gives (all shares 0..1)."""

    target_share: float
    threshold: float
    calibration_set: str
    n_calibration: int
    calibration_share: float
    check_set: str | None = None
    n_check: int = 0
    check_share: float | None = None

    @property
    def drift(self) -> float | None:
        """Share on the check set minus share on the calibration set (percentage points)."""
        if self.check_share is None:
            return None
        return 100.0 * (self.check_share - self.calibration_share)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "drift_points": self.drift}


def calibrate(
    calibration_scores: np.ndarray,
    share: float,
    *,
    calibration_set: str = "calibration",
    check_scores: np.ndarray | None = None,
    check_set: str | None = None,
) -> Calibration:
    """Threshold for ``share`` on the calibration scores, and the share on a check set."""
    t = threshold_for_share(calibration_scores, share)
    out = Calibration(share, t, calibration_set, len(calibration_scores),
                      strong_share(calibration_scores, t))
    if check_scores is not None:
        out.check_set = check_set or "check"
        out.n_check = len(check_scores)
        out.check_share = strong_share(check_scores, t)
    return out


def read_prompts(
    source: str, *, data_dir: Path | None = None, limit: int | None = None
) -> list[str]:
    """Prompts from a benchmark name (``gsm8k``), a table file with a ``prompt`` column
    (.csv/.jsonl/.parquet) or a ``.txt`` file (one prompt a line); the first ``limit``."""
    path = Path(source)
    if path.suffix.lower() == ".txt":
        if not path.is_file():
            raise DataError(f"{path}: prompt file not found; check the path")
        prompts = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    elif path.suffix.lower() in SUFFIXES:
        table = _read_table(path)
        if "prompt" not in table.columns:
            raise DataError(
                f"{path}: no 'prompt' column (found: {', '.join(map(str, table.columns))}); "
                "a prompt file needs one"
            )
        prompts = table["prompt"].astype(str).tolist()
    else:
        prompts = list(load_benchmark(source, data_dir).prompts)
    if not prompts:
        raise DataError(f"{source}: no prompts")
    return prompts[:limit] if limit is not None else prompts


def describe(c: Calibration) -> Sequence[str]:
    """The printed summary."""
    lines = [
        f"threshold {c.threshold:.6g}: prompts scoring >= it go to the strong model",
        f"calibration set {c.calibration_set} ({c.n_calibration} prompts): "
        f"{100 * c.calibration_share:.1f}% strong (target {100 * c.target_share:.1f}%)",
    ]
    if c.check_share is not None:
        lines.append(
            f"check set {c.check_set} ({c.n_check} prompts): {100 * c.check_share:.1f}% "
            f"strong (drift {c.drift:+.1f} points)"
        )
    return lines
