"""The paper's figures from tracked runs, as matplotlib figures (Agg backend, imported lazily).

* Figure 1: CPT(50 %) against the number of training labels, one line per label source ×
  router, one panel per benchmark (runs of a study with ``train_fractions``), with the
  bootstrap's 95 % interval as a band; the log axis is ticked at the sizes trained on.
* Figure 2: call–performance curves of the best router of each system, with the random
  router's line, the oracle curve and the weak/strong levels, one panel per benchmark
  (curves from the runs' ``curve.csv`` / ``oracle_curve.csv`` artifacts); the bootstrap's
  95 % intervals of CPT(50 %) and CPT(80 %) are drawn as horizontal bars at those targets.

Each figure has one legend, built from every panel, so it names every line of every panel.
Captions are not drawn into the images: :data:`CAPTIONS` holds them for the documents.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from reports.tables import SYSTEM_ORDER, benchmark_title, router_title, system_family

COLORS = {
    "Confidence": "tab:red",
    "TO-Router": "tab:blue",
    "RouteLLM": "tab:green",
    "Random": "tab:gray",
    "Outcomes": "tab:brown",
    "Sampled accuracy": "tab:purple",
}
LINESTYLES = {"sw_ranking": "-", "mf": "--", "knn": ":", "mlp": "-."}
CAPTIONS = {
    "figure1": "CPT(50%) against the number of training labels (lower is better); "
    "bands: 95% bootstrap intervals.",
    "figure2": "Call-performance curves of the best router of each system; horizontal bars: "
    "95% bootstrap intervals of CPT(50%) and CPT(80%).",
}


def shared_legend(fig: Any, axes: Sequence[Any], ncol: int, bottom: float) -> None:
    """One legend for the figure with every distinct label of every panel."""
    seen: dict[str, Any] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            seen.setdefault(label, handle)
    fig.legend(
        list(seen.values()),
        list(seen),
        loc="lower center",
        ncol=min(ncol, max(1, len(seen))),
        fontsize=7,
        frameon=False,
        handlelength=4,  # long enough to show a router's dash pattern behind the marker
    )
    rows = -(-len(seen) // ncol)
    fig.tight_layout(rect=(0, min(0.4, bottom * rows), 1, 1))


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
        sizes: set[float] = set()
        for (system_key, router_key), grp in sorted(sel.groupby(["system", "router"])):
            system, router = str(system_key), str(router_key)
            pts = grp.groupby("n_train")[
                [c for c in ("cpt_50", "cpt_50_lo", "cpt_50_hi") if c in grp]
            ].mean().sort_index()
            if len(pts) < 2:
                continue
            color = COLORS.get(system_family(system), "black")
            ax.plot(
                pts.index,
                pts["cpt_50"],
                marker="o",
                color=color,
                linestyle=LINESTYLES.get(router, "-"),
                label=f"{system} {router_title(router)}",
            )
            if {"cpt_50_lo", "cpt_50_hi"} <= set(pts.columns):
                ax.fill_between(pts.index, pts["cpt_50_lo"], pts["cpt_50_hi"], color=color,
                                alpha=0.12, linewidth=0)
            sizes.update(float(x) for x in pts.index)
        ax.axhline(50, color="gray", linewidth=0.8, linestyle=":", label="random (50)")
        ax.set_xscale("log")
        from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

        # A log axis over less than a decade gets one default tick: tick the sizes trained on.
        ticks = sorted(sizes)
        ax.xaxis.set_major_locator(FixedLocator(ticks))
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
        # Label sources of different sizes (250 SE prompts, 208 arena votes) tick close
        # together: slanted labels do not run into each other.
        ax.set_xticks(ticks, [f"{t:,.0f}" for t in ticks], fontsize=7, rotation=45,
                      ha="right", rotation_mode="anchor")
        ax.set_title(benchmark_title(bench))
        ax.set_xlabel("training labels (log scale)")
        ax.set_ylabel("CPT(50%) (% strong calls)")
    shared_legend(fig, axes[0], ncol=4, bottom=0.06)
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
    best: pd.DataFrame,
    curves: Mapping[str, pd.DataFrame],
    oracle: Mapping[str, pd.DataFrame],
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
            color = COLORS.get(system, "black")
            ax.plot(
                100 * curve["strong_share"],
                curve["quality"],
                color=color,
                label=label,
                linewidth=1.2,
            )
            for pct in (50, 80):
                values = [run.get(f"cpt_{pct}{s}", float("nan")) for s in ("", "_lo", "_hi")]
                cpt, lo, hi = (float(v) if v is not None else float("nan") for v in values)
                if not all(v == v for v in (cpt, lo, hi)):
                    continue  # no bootstrap for this run (n_boot = 0)
                target = weak + pct / 100 * (strong - weak)
                ax.errorbar([cpt], [target], xerr=[[cpt - lo], [hi - cpt]], fmt="o",
                            color=color, markersize=3, capsize=2, linewidth=1,
                            label="CPT(50/80%) with 95% CI")
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
        unit = sel["quality_unit"].iloc[0] if "quality_unit" in sel else None
        ax.set_ylabel(f"benchmark score ({unit})" if isinstance(unit, str) else "benchmark score")
    shared_legend(fig, axes[0], ncol=5, bottom=0.06)
    return fig
