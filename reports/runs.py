"""A study's tracked runs as one flat table (read by :func:`harness.tracking.load_runs`),
one run per combination.

Every number in a report comes from here: the evaluation runs logged by
:func:`harness.evaluation.evaluate_scores` (tags ``routerlab.study``, ``routerlab.system``,
``routerlab.router``, ``routerlab.label_source``, ``routerlab.benchmark``,
``routerlab.key``), the judge runs and the tuning runs logged by the study runner.
"""

from __future__ import annotations

import pandas as pd

from harness.prompt_features import EMBEDDING_STATS, STATS_SUFFIX
from harness.tracking.reader import KINDS, load_runs, normalize_runs

# Runs are read through harness.tracking; these names stay importable from here.
__all__ = [
    "KINDS", "STATS_SUFFIX", "current_runs", "latest_per_key", "load_runs", "normalize_runs",
    "router_variants",
]


def router_variants(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs whose router read text statistics (tag ``routerlab.features`` =
    ``embedding+stats``) get the router ``<router>+stats``: tables and figures key rows by
    router, and the two variants are different systems. Applying it twice changes nothing."""
    if runs.empty or "features" not in runs or "router" not in runs:
        return runs
    router = runs["router"].astype("string")
    stats = (runs["features"] == EMBEDDING_STATS) & ~router.str.endswith(STATS_SUFFIX).fillna(
        False
    )
    if not stats.any():
        return runs
    out = runs.copy()
    out.loc[stats, "router"] = router[stats] + STATS_SUFFIX
    return out


def latest_per_key(runs: pd.DataFrame) -> pd.DataFrame:
    """One run per combination (the most recent), so reruns never double-count.

    Runs are grouped by ``config_key`` where the runner logged one (the combination without
    its data fingerprint: a run on a rebuilt benchmark file supersedes the one on the old
    file), else by ``key``.
    """
    if runs.empty or "key" not in runs:
        return runs
    group = runs["key"]
    if "config_key" in runs:
        group = runs["config_key"].fillna(runs["key"])
    keyed = runs[group.notna()].assign(_group=group[group.notna()])
    unkeyed = runs[group.isna()]
    keyed = keyed.sort_values("start_time").groupby("_group", as_index=False).tail(1)
    return pd.concat([keyed.drop(columns="_group"), unkeyed]).reset_index(drop=True)


def current_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs a report reads: the newest evaluation run of each combination
    (:func:`latest_per_key`) and every run of another kind (judge, tuning).

    A study's store keeps the runs made on superseded data (a benchmark or label file that
    has since grown): they are history, not results, and a figure that averaged or picked
    the best of them would mix benchmark versions.
    """
    if runs.empty or "kind" not in runs:
        return runs
    evaluation = runs["kind"] == "evaluation"
    return pd.concat(
        [latest_per_key(runs[evaluation]), runs[~evaluation]], ignore_index=True
    )
