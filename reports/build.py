"""Write a study's report: Markdown, LaTeX (a standalone document) and HTML tables, and
figures as PNG, PDF and SVG.

Everything is read from tracked MLflow runs (:mod:`reports.runs`); files are written to a
temporary name and renamed, so an interrupted report never leaves a half-written file.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from harness.tracking import load_csv
from reports import figures, tables
from reports.render import Table, html_page, latex_escape, to_html, to_latex, to_markdown
from reports.runs import current_runs, load_runs, router_variants

TRANSFER = tables.TRANSFER

log = logging.getLogger(__name__)

PAPER_BENCHMARKS = ("mt_bench", "gsm8k", "mmlu")


@dataclass
class Report:
    """What a report holds before it is written."""

    study: str | None
    tables: dict[str, Table] = field(default_factory=dict)
    figures: dict[str, Any] = field(default_factory=dict)
    # Captions of figures that differ from figures.CAPTIONS (one Figure 2 per protocol).
    captions: dict[str, str] = field(default_factory=dict)
    n_runs: int = 0
    # Parts of the paper's evaluation with no tracked runs yet, each with the command that
    # makes them (printed in the report, so a missing table is never silent).
    missing: list[str] = field(default_factory=list)


def _atomic_write(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode() if isinstance(data, str) else data)
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; reports are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def build_report(
    runs: pd.DataFrame,
    *,
    study: str | None = None,
    judge_runs: pd.DataFrame | None = None,
    curves: dict[str, pd.DataFrame] | None = None,
    oracle_curves: dict[str, pd.DataFrame] | None = None,
    beats_baseline: dict[str, dict[int, bool]] | None = None,
    label_effects: dict[tuple[str, str], tables.LabelEffect] | None = None,
    control_effects: dict[tuple[str, str], tables.LabelEffect] | None = None,
) -> Report:
    """All tables and figures from a runs frame (pure: no I/O besides matplotlib).

    ``beats_baseline`` (run id → pct → verdict, :func:`reports.tables.baseline_verdicts`)
    marks the runs that beat the best baseline with 95 % confidence. ``label_effects``
    (:func:`reports.tables.label_effects`) adds the router-for-router comparison of the
    label sources to Table 2's claim check; ``control_effects`` the same against the
    sampled-accuracy control (:data:`reports.tables.CONTROL_PARTNER`).
    """
    # Count combinations, not runs: a rerun or a run on superseded data does not count twice,
    # and no table or figure reads it.
    runs = current_runs(router_variants(runs))
    evaluations = runs[runs["kind"] == "evaluation"] if len(runs) else runs
    report = Report(study=study, n_runs=len(evaluations))
    if report.n_runs == 0:
        return report
    present = set(runs.loc[runs["kind"] == "evaluation", "benchmark"].dropna())
    paper = [b for b in PAPER_BENCHMARKS if b in present]
    by_protocol = tables.protocol_runs(runs)
    for protocol, selected in by_protocol.items():
        suffix = tables.protocol_suffix(protocol)
        here = set(selected.loc[selected["kind"] == "evaluation", "benchmark"].dropna())
        paper_here = [b for b in paper if b in here]
        if paper_here:
            report.tables[f"table1{suffix}"] = tables.table1(
                selected, benchmarks=paper_here, protocol=protocol, beats_baseline=beats_baseline
            )
        for other in sorted(here - set(PAPER_BENCHMARKS)):
            report.tables[f"table2_{other}{suffix}"] = tables.table2(
                selected, other, protocol=protocol, beats_baseline=beats_baseline,
                effects=label_effects, controls=control_effects,
            )
    # Tuned values of every protocol (nested cross-fit tuning gives one per fold).
    tuned = tables.tuned_table(runs)
    if tuned is not None:
        report.tables["tuned"] = tuned
    # Costs, Figure 1 and the judge compare the paper's systems: the transfer protocol.
    runs = by_protocol.get(TRANSFER, runs.iloc[0:0])
    judge = tables.judge_table(judge_runs if judge_runs is not None else runs)
    if judge is not None:
        report.tables["table3"] = judge
    else:
        report.missing.append(
            "Table 3 (LLM-as-a-judge on GSM8K): no judge run in the store yet; make it with "
            "`routerlab run studies/judge_local.toml` (local Qwen 1.5B, hours on a CPU)"
        )
    cost = tables.cost_table(runs)
    if cost is not None:
        report.tables["cost"] = cost
    mt_cost = tables.mt_bench_cost_table(runs)
    if mt_cost is not None:
        report.tables["cost_mt_bench"] = mt_cost
    fig1 = figures.figure1(runs)
    if fig1 is not None:
        report.figures["figure1"] = fig1
    for name, protocol, best in figure2_runs(by_protocol):
        fig2 = figures.figure2(best, curves or {}, oracle_curves or {})
        if fig2 is not None:
            report.figures[name] = fig2
            which = " Benchmarks of Table 2." if name.startswith("figure2_table2") else ""
            report.captions[name] = (
                f"{figures.CAPTIONS['figure2']}{which} Protocol: "
                f"{tables.protocol_title(protocol, best).removeprefix('protocol ')}."
            )
    return report


def figure2_runs(
    by_protocol: dict[str, pd.DataFrame],
) -> list[tuple[str, str, pd.DataFrame]]:
    """(figure name, protocol, the best run of each system) of every
    Figure 2: one per protocol for the paper's benchmarks (Table 1) and one per protocol for
    the others (Table 2's local pair, ``figure2_table2``)."""
    out = []
    for protocol, selected in by_protocol.items():
        suffix = tables.protocol_suffix(protocol)
        paper = selected["benchmark"].isin(PAPER_BENCHMARKS)
        for name, part in ((f"figure2{suffix}", paper), (f"figure2_table2{suffix}", ~paper)):
            best = figures.best_runs(selected[part])
            if not best.empty:
                out.append((name, protocol, best))
    return out


def load_curves(run_ids: list[str]) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """The ``curve.csv`` and ``oracle_curve.csv`` artifacts of the given runs."""
    curves: dict[str, pd.DataFrame] = {}
    oracle: dict[str, pd.DataFrame] = {}
    for run_id in run_ids:
        for name, store in (("curve.csv", curves), ("oracle_curve.csv", oracle)):
            try:
                store[run_id] = load_csv(run_id, name)
            except Exception as exc:  # an artifact store that lost a file: skip that curve
                log.warning("run %s has no %s (%s); its curve is left out", run_id, name, exc)
    return curves, oracle


def _paired_compare() -> Any:
    """compare(run_a, run_b) → CPT(a) − CPT(b) by paired bootstrap on the prompts both
    scored (None when a run has no scores artifact); benchmarks and scores load once."""
    from harness.benchmarks import load_benchmark
    from harness.comparison import compare_scores, run_info
    from harness.errors import RouterlabError
    from harness.evaluation import load_scores

    benchmarks: dict[str, Any] = {}
    scores: dict[str, pd.DataFrame] = {}

    def compare(run_a: str, run_b: str) -> Any:
        try:
            info = run_info(run_a)
            ref = info.benchmark_file or info.benchmark
            if ref not in benchmarks:
                benchmarks[ref] = load_benchmark(ref)
            for run_id in (run_a, run_b):
                if run_id not in scores:
                    scores[run_id] = load_scores(run_id)
            return compare_scores(benchmarks[ref], scores[run_a], scores[run_b]).difference
        except RouterlabError as exc:
            log.warning("no paired comparison of %s with %s: %s", run_a, run_b, exc)
            return None

    return compare


def _pooled_compare() -> Any:
    """compare_pairs([(run_a, run_b), ...]) → (prompts, mean paired CPT difference) on the
    prompts every run scored (None when a run has no scores artifact)."""
    from harness.benchmarks import load_benchmark
    from harness.comparison import compare_pairs, run_info
    from harness.errors import RouterlabError
    from harness.evaluation import load_scores

    def compare(pairs: list[tuple[str, str]]) -> Any:
        try:
            info = run_info(pairs[0][0])
            benchmark = load_benchmark(info.benchmark_file or info.benchmark)
            scored = [(load_scores(a), load_scores(b)) for a, b in pairs]
            return compare_pairs(benchmark, scored)
        except RouterlabError as exc:
            log.warning("no router-for-router comparison of %s: %s", pairs, exc)
            return None

    return compare


def write_report(study: str | None, out_dir: Path, *, judge_study: str | None = None) -> list[Path]:
    """Read the runs of ``study``, build every table and figure, write them to ``out_dir``."""
    from harness.errors import ConfigError

    runs = current_runs(router_variants(load_runs(study)))
    if (runs["kind"] == "evaluation").sum() == 0 if len(runs) else True:
        raise ConfigError(
            f"no finished evaluation runs for study {study!r} in the MLflow store; run "
            f"`routerlab run studies/{study or 'paper'}.toml` first (or check MLFLOW_TRACKING_URI)"
        )
    judge_runs = runs
    if not (runs["kind"] == "judge").any():
        # Table 3 takes hours with a local judge; it may live in its own study.
        judge_runs = load_runs(judge_study) if judge_study else load_runs(None)
    best_ids = [
        run_id
        for _, _, best in figure2_runs(tables.protocol_runs(runs))
        for run_id in best["run_id"].tolist()
    ]
    curves, oracle = load_curves(best_ids)
    second_pair = sorted(set(runs["benchmark"].dropna()) - set(PAPER_BENCHMARKS))
    pooled = _pooled_compare()
    report = build_report(
        runs, study=study, judge_runs=judge_runs, curves=curves, oracle_curves=oracle,
        beats_baseline=tables.baseline_verdicts(runs, _paired_compare()),
        label_effects=tables.label_effects(runs, second_pair, pooled),
        control_effects=tables.label_effects(
            runs, second_pair, pooled, partner_family=tables.CONTROL_PARTNER
        ),
    )
    validity = load_se_validity()
    # The paper's transfer set first, then the others by name.
    for label_file, (auroc, picks, meta) in sorted(
        validity.items(), key=lambda item: (item[0] != "default_labels.parquet", item[0])
    ):
        # The paper's transfer set keeps the plain name; other sets are named after theirs.
        stem = Path(label_file).stem
        name = "se_validity" if stem == "default_labels" else f"se_validity_{stem}"
        report.tables[name] = tables.se_validity_table(auroc, picks, meta)
    if not validity:
        report.missing.append(
            "SE label validity: no `routerlab labels validate` run in the store yet"
        )
    return write_files(report, out_dir)


FIGURE_FORMATS = ("png", "pdf", "svg")
PNG_DPI = 200


def latex_document(title: str, body: list[str]) -> str:
    """A standalone LaTeX document around the tables and figures (pdflatex report.tex)."""
    head = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{booktabs}",
        r"\usepackage{graphicx}",
        r"\usepackage[T1]{fontenc}",
        rf"\title{{{latex_escape(title)}}}",
        r"\date{}",
        r"\begin{document}",
        r"\maketitle",
    ]
    return "\n".join([*head, *body, r"\end{document}"]) + "\n"


def latex_figure(name: str, caption: str) -> str:
    return "\n".join([
        r"\begin{figure}[t]",
        r"\centering",
        rf"\includegraphics[width=\linewidth]{{{name}.pdf}}",
        rf"\caption{{{latex_escape(caption)}}}",
        rf"\label{{fig:{name}}}",
        r"\end{figure}",
    ]) + "\n"


def load_se_validity() -> dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]]:
    """Per label file, the newest ``routerlab labels validate`` run's tables and the label
    set's provenance (empty when no run is in the store)."""
    import json

    import mlflow

    runs = mlflow.search_runs(
        experiment_names=["label-validity"],
        filter_string="attributes.status = 'FINISHED'",
        order_by=["attributes.start_time DESC"],
    )
    if not isinstance(runs, pd.DataFrame) or runs.empty:
        return {}
    if "params.label_file" in runs:
        runs = runs.drop_duplicates("params.label_file")  # newest first: keep each's newest
    out: dict[str, tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]] = {}
    for _, run in runs.iterrows():
        parts = []
        for name in ("se_validity_auroc.json", "se_validity_picks.json"):
            data = json.loads(mlflow.artifacts.load_text(f"runs:/{run['run_id']}/{name}"))
            parts.append(pd.DataFrame(data["data"], columns=data["columns"]))
        meta = {
            str(k).removeprefix("params."): v
            for k, v in run.items()
            if str(k).startswith("params.")
        }
        # Runs logged before label_file was a param all belong to the default set.
        out.setdefault(
            str(meta.get("label_file") or "default_labels.parquet"), (parts[0], parts[1], meta)
        )
    return out


def write_files(report: Report, out_dir: Path) -> list[Path]:
    """report.md, report.tex (a standalone document), report.html, one file set per table,
    and each figure as PNG, PDF and SVG."""
    import io

    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    written: list[Path] = []
    title = f"routerlab report: study {report.study or '(all)'}"
    md = [f"# {title}", "", f"{report.n_runs} evaluation runs, read from MLflow.", ""]
    md += [f"Not in this report: {m}." for m in report.missing] + ([""] if report.missing else [])
    tex = [f"{report.n_runs} evaluation runs, read from MLflow.", ""]
    tex += [f"Not in this report: {latex_escape(m)}." for m in report.missing]
    html_parts: list[str] = [f"<p>Not in this report: {escape(m)}.</p>" for m in report.missing]
    for name, table in report.tables.items():
        md += [to_markdown(table), ""]
        tex += [to_latex(table)]
        html_parts.append(to_html(table))
        for suffix, text in (
            ("md", to_markdown(table)),
            ("tex", to_latex(table)),
            ("html", to_html(table)),
        ):
            path = out_dir / "tables" / f"{name}.{suffix}"
            _atomic_write(path, text)
            written.append(path)
    for number, (name, fig) in enumerate(report.figures.items(), start=1):
        for fmt in FIGURE_FORMATS:
            buf = io.BytesIO()
            # Fixed metadata: the same figure gives the same PDF/SVG bytes on a rerun.
            metadata = {"Date": None} if fmt in ("pdf", "svg") else None
            fig.savefig(buf, format=fmt, dpi=PNG_DPI, metadata=metadata)
            path = out_dir / f"{name}.{fmt}"
            _atomic_write(path, buf.getvalue())
            written.append(path)
        caption = report.captions.get(name) or figures.CAPTIONS.get(name, name)
        md += [f"**Figure {number}.** {caption}", "", f"![{caption}]({name}.png)", ""]
        tex.append(latex_figure(name, caption))
        html_parts.append(
            f'<figure><img src="{name}.svg" alt="{escape(caption)}" style="max-width:100%">'
            f"<figcaption>Figure {number}. {escape(caption)}</figcaption></figure>"
        )
        plt.close(fig)
    for path, text in (
        (out_dir / "report.md", "\n".join(md)),
        (out_dir / "report.tex", latex_document(title, tex)),
        (out_dir / "report.html", html_page(title, html_parts)),
    ):
        _atomic_write(path, text)
        written.append(path)
    return written
