"""Figures of call–performance curves (matplotlib, headless).

Uses ``matplotlib.figure.Figure`` with the Agg canvas directly, never ``pyplot``, so no
global backend state is touched and nothing needs a display. matplotlib is imported inside
the functions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from harness.metrics import Curve


def plot_curve(
    curve: Curve,
    *,
    oracle: Curve | None = None,
    others: Mapping[str, Curve] | None = None,
    title: str = "",
    label: str = "router",
    ylabel: str = "benchmark score",
    cpt_pcts: Sequence[float] = (50.0, 80.0),
) -> Figure:
    """Quality vs strong-call share (%) with weak, strong, random and oracle lines.

    Args:
        curve: the router's curve.
        oracle: the oracle's curve (drawn dotted) when given.
        others: more curves to overlay, by label.
        title / label / ylabel: texts.
        cpt_pcts: CPT levels marked on the router's curve.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from harness.metrics import cpt

    fig = Figure(figsize=(7.0, 4.5), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    ax.axhline(curve.strong, color="tab:red", linestyle="--", linewidth=1, label="strong only")
    ax.axhline(curve.weak, color="grey", linestyle="--", linewidth=1, label="weak only")
    ax.plot([0, 100], [curve.weak, curve.strong], color="black", linestyle=":", linewidth=1,
            label="random (expected)")
    if oracle is not None:
        ax.plot(oracle.share * 100, oracle.quality, color="tab:green", linewidth=1,
                linestyle="-.", label="oracle")
    for name, other in (others or {}).items():
        ax.plot(other.share * 100, other.quality, linewidth=1, label=name)
    marker = "." if len(curve) <= 200 else None
    ax.plot(curve.share * 100, curve.quality, color="tab:blue", linewidth=1.5, marker=marker,
            label=label)
    if curve.strong > curve.weak:
        for p in cpt_pcts:
            x = cpt(curve, p)
            y = curve.weak + p / 100 * (curve.strong - curve.weak)
            ax.plot([x], [y], marker="o", color="tab:blue", markersize=4)
            ax.annotate(f"CPT({p:g}%)={x:.1f}", (x, y), textcoords="offset points",
                        xytext=(6, -12), fontsize=8)
    ax.set_xlim(0, 100)
    ax.set_xlabel("strong-model calls (%)")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    return fig
