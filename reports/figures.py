"""The paper's figures from tracked runs, as matplotlib figures (Agg backend, imported lazily).

* Figure 1: CPT(50 %) against the number of training labels, one line per label source ×
  router, one panel per benchmark (runs of a study with ``train_fractions``).
* Figure 2: call–performance curves of the best router of each system, with the random
  router's line, the oracle curve and the weak/strong levels, one panel per benchmark
  (curves from the runs' ``curve.csv`` / ``oracle_curve.csv`` artifacts).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from reports.tables import SYSTEM_ORDER, benchmark_title, router_title

COLORS = {
    "Confidence": "tab:red",
    "TO-Router": "tab:blue",
    "RouteLLM": "tab:green",
    "Random": "tab:gray",
}
LINESTYLES = {"sw_ranking": "-", "mf": "--", "knn": ":", "mlp": "-."}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure1(runs: pd.DataFrame) -> Any | None:
    """CPT(50 %) vs training-set size per label source (None when no sizes vary)."""
    ev = runs[
        (runs["kind"] == "evaluation")
        & runs["label_source"].notna()
        & (runs["label_source"] != "none")
    ]
    if ev.empty or "n_train" not in ev or ev["train_fraction"].nunique() < 2:
        return None
    plt = _pyplot()
    benchmarks = [b for b in ("mt_bench", "gsm8k", "mmlu") if b in set(ev["benchmark"])]
    benchmarks += sorted(set(ev["benchmark"]) - set(benchmarks))
    fig, axes = plt.subplots(
        1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), squeeze=False
    )
    for ax, bench in zip(axes[0], benchmarks, strict=True):
        sel = ev[ev["benchmark"] == bench]
        for (system_key, router_key), grp in sorted(sel.groupby(["system", "router"])):
            system, router = str(system_key), str(router_key)
            pts = grp.groupby("n_train")["cpt_50"].mean().sort_index()
            if len(pts) < 2:
                continue
            ax.plot(
                pts.index,
                pts.values,
                marker="o",
                color=COLORS.get(system, "black"),
                linestyle=LINESTYLES.get(router, "-"),
                label=f"{system} {router_title(router)}",
            )
        ax.axhline(50, color="gray", linewidth=0.8, linestyle=":", label="random (50)")
        ax.set_xscale("log")
        from matplotlib.ticker import NullFormatter, ScalarFormatter

        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on a short axis
        ax.set_title(benchmark_title(bench))
        ax.set_xlabel("training labels")
        ax.set_ylabel("CPT(50%) (%)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(6, max(1, len(labels))),
        fontsize=7,
        frameon=False,
        handlelength=4,  # long enough to show the router's dash pattern behind the marker
    )
    fig.suptitle("Figure 1: CPT(50%) vs training-set size (lower is better)")
    fig.tight_layout(rect=(0, 0.12, 1, 0.95))
    return fig


def best_runs(runs: pd.DataFrame, systems: Sequence[str] = SYSTEM_ORDER) -> pd.DataFrame:
    """Per benchmark and system, the full-training-set run with the lowest CPT(50 %)."""
    ev = runs[(runs["kind"] == "evaluation") & (runs["train_fraction"] >= 1.0)]
    ev = ev[ev["system"].isin(systems) & ev["cpt_50"].notna()]
    if ev.empty:
        return ev
    idx = ev.groupby(["benchmark", "system"])["cpt_50"].idxmin()
    return ev.loc[list(idx.to_numpy())].reset_index(drop=True)


def figure2(
    best: pd.DataFrame, curves: Mapping[str, pd.DataFrame], oracle: Mapping[str, pd.DataFrame]
) -> Any | None:
    """Call–performance curves; ``curves``/``oracle`` map run id → curve table."""
    if best.empty or not any(run_id in curves for run_id in best["run_id"]):
        return None
    plt = _pyplot()
    benchmarks = [b for b in ("mt_bench", "gsm8k", "mmlu") if b in set(best["benchmark"])]
    benchmarks += sorted(set(best["benchmark"]) - set(benchmarks))
    fig, axes = plt.subplots(
        1, len(benchmarks), figsize=(4.2 * len(benchmarks), 3.6), squeeze=False
    )
    for ax, bench in zip(axes[0], benchmarks, strict=True):
        sel = best[best["benchmark"] == bench]
        weak = float(sel["quality_weak"].iloc[0]) if "quality_weak" in sel else float("nan")
        strong = float(sel["quality_strong"].iloc[0]) if "quality_strong" in sel else float("nan")
        for _, run in sel.iterrows():
            curve = curves.get(run["run_id"])
            if curve is None:
                continue
            system = str(run["system"])
            label = (
                system if system == "Random" else f"{system} ({router_title(str(run['router']))})"
            )
            ax.plot(
                100 * curve["strong_share"],
                curve["quality"],
                color=COLORS.get(system, "black"),
                label=label,
                linewidth=1.2,
            )
        ax.plot([0, 100], [weak, strong], color="gray", linestyle=":", label="random (expected)")
        first = sel["run_id"].iloc[0]
        if first in oracle:
            o = oracle[first]
            ax.plot(
                100 * o["strong_share"],
                o["quality"],
                color="black",
                linestyle="--",
                linewidth=0.9,
                label="oracle",
            )
        ax.axhline(weak, color="tab:orange", linewidth=0.7, label="weak")
        ax.axhline(strong, color="tab:purple", linewidth=0.7, label="strong")
        ax.set_title(benchmark_title(bench))
        ax.set_xlabel("strong-model calls (%)")
        ax.set_ylabel("benchmark score")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=min(7, max(1, len(labels))),
        fontsize=7,
        frameon=False,
    )
    fig.suptitle("Figure 2: call–performance curves, best router of each system")
    fig.tight_layout(rect=(0, 0.1, 1, 0.95))
    return fig
