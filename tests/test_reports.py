"""Report tables from tracked runs: a golden-file test on a fixed set of MLflow runs."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reports.render import Cell, Column, Table, rank_columns, to_html, to_latex, to_markdown
from reports.runs import load_runs
from reports.tables import cost_table, judge_table, mt_bench_cost_table, table1

GOLDEN = Path(__file__).resolve().parent / "golden"

# A fixed set of runs: (system, router, label source, benchmark, cpt50, lo, hi, cpt80, usd80).
FIXED_RUNS = [
    ("Random", "random", "none", "mt_bench", 51.0, 40.0, 60.0, 79.0, 1.60),
    ("Random", "random", "none", "gsm8k", 49.5, 45.0, 54.0, 80.5, 4.50),
    ("TO-Router", "knn", "accuracy", "mt_bench", 45.25, 38.0, 52.5, 70.0, 1.45),
    ("TO-Router", "knn", "accuracy", "gsm8k", 47.0, 43.0, 51.0, 79.0, 4.40),
    ("RouteLLM", "sw_ranking", "arena", "mt_bench", 40.0, 31.0, 49.0, 75.0, 1.52),
    ("RouteLLM", "sw_ranking", "arena", "gsm8k", 52.0, 48.0, 56.0, 83.0, 4.70),
    ("Confidence", "mlp", "se", "mt_bench", 35.5, 28.0, 44.0, 72.0, 1.40),
    ("Confidence", "mlp", "se", "gsm8k", 47.0, 42.0, 52.0, 78.0, 4.35),
]


def _log_fixed_runs() -> None:
    import mlflow

    from harness.tracking import _setup, experiment_id

    client = _setup()
    exp = experiment_id(client=client)
    for i, (system, router, labels, bench, c50, lo, hi, c80, usd80) in enumerate(FIXED_RUNS):
        with mlflow.start_run(
            experiment_id=exp,
            tags={
                "routerlab.kind": "evaluation",
                "routerlab.study": "golden",
                "routerlab.system": system,
                "routerlab.router": router,
                "routerlab.label_source": labels,
                "routerlab.benchmark": bench,
                "routerlab.task": bench,
                "routerlab.key": f"k{i}",
                "routerlab.complete": "1",
            },
        ):
            mlflow.log_metrics(
                {
                    "cpt_50": c50,
                    "cpt_50_lo": lo,
                    "cpt_50_hi": hi,
                    "cpt_80": c80,
                    "cpt_80_lo": c80 - 5,
                    "cpt_80_hi": c80 + 5,
                    "oracle_cpt_50": 10.0 if bench == "gsm8k" else 8.0,
                    "oracle_cpt_80": 17.0 if bench == "gsm8k" else 16.5,
                    "usd_cpt_50": usd80 * 0.8,
                    "usd_cpt_80": usd80,
                    "router_usd_per_1m": 0.0123,
                    "usd_all_weak": 0.05,
                    "usd_all_strong": 2.0 if bench == "mt_bench" else 5.6,
                }
            )
            mlflow.log_param("cost_method", "fixed test prices")
    # A run of another study must not leak into this one.
    with mlflow.start_run(
        experiment_id=exp,
        tags={
            "routerlab.study": "other",
            "routerlab.system": "Random",
            "routerlab.router": "random",
            "routerlab.benchmark": "gsm8k",
        },
    ):
        mlflow.log_metric("cpt_50", 1.0)
    with mlflow.start_run(
        experiment_id=exp,
        tags={
            "routerlab.kind": "judge",
            "routerlab.study": "golden",
            "routerlab.benchmark": "gsm8k",
            "routerlab.judge_model": "qwen-1.5b",
        },
    ):
        mlflow.log_params(
            {
                "judge_model": "qwen-1.5b",
                "router_TO-Router_50": "knn",
                "router_TO-Router_80": "mlp",
                "router_RouteLLM_50": "sw_ranking",
                "router_RouteLLM_80": "sw_ranking",
                "router_Confidence_50": "mlp",
                "router_Confidence_80": "mf",
            }
        )
        mlflow.log_metrics(
            {
                "score_50_TO-Router": 70.0,
                "score_50_RouteLLM": 72.5,
                "score_50_Confidence": 75.0,
                "score_80_TO-Router": 80.0,
                "score_80_RouteLLM": 85.0,
                "score_80_Confidence": 84.0,
                "n_questions_50": 300,
                "n_unparseable_50": 3,
                "n_identical_50": 120,
                "first_position_share_50": 41.3,
                "first_position_share_80": 35.0,
                "n_questions_80": 300,
                "n_unparseable_80": 1,
            }
        )


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("ROUTERLAB_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.is_file(), f"golden file {path} missing (ROUTERLAB_UPDATE_GOLDEN=1 writes it)"
    assert text == path.read_text(), f"{name} differs from its golden file"


def test_tables_from_fixed_runs_match_golden_files() -> None:
    _log_fixed_runs()
    runs = load_runs("golden")
    assert set(runs["study"]) == {"golden"}
    t1 = table1(runs, benchmarks=("mt_bench", "gsm8k"))
    _check_golden("table1.md", to_markdown(t1))
    _check_golden("table1.tex", to_latex(t1))
    _check_golden("table1.html", to_html(t1))
    judge = judge_table(runs)
    assert judge is not None
    _check_golden("table3.md", to_markdown(judge))
    cost = cost_table(runs)
    assert cost is not None
    _check_golden("cost.md", to_markdown(cost))
    mt = mt_bench_cost_table(runs)
    assert mt is not None
    _check_golden("cost_mt_bench.md", to_markdown(mt))


def test_table1_marks_best_and_second_and_shows_paper_numbers() -> None:
    _log_fixed_runs()
    md = to_markdown(table1(load_runs("golden"), benchmarks=("mt_bench", "gsm8k")))
    # MT-Bench CPT50: Confidence 35.50 best, RouteLLM 40.00 second; paper values beside.
    assert "**35.50 [28.0, 44.0]**" in md and "<u>40.00 [31.0, 49.0]</u>" in md
    assert "| Confidence | MLP | **35.50 [28.0, 44.0]** | 35.54 |" in md
    # Ties share the rank: TO-Router kNN and Confidence MLP both reach 47.00 on GSM8K.
    assert md.count("**47.00") == 2
    # The oracle row is shown, never ranked.
    assert "| Oracle | – | 8.00 |" in md


def test_table2_shows_the_paper_column_on_gsm8k_only() -> None:
    from reports.tables import table2

    _log_fixed_runs()
    runs = load_runs("golden")
    assert set(runs.loc[runs["benchmark"] == "gsm8k", "task"].dropna()) == {"gsm8k"}
    # the fixed runs' GSM8K cells stand in for a local pair's: once as a pair on GSM8K's
    # questions, once on MMLU's. The task tag decides, not the name: a benchmark named
    # like GSM8K whose runs carry another task gets no paper column.
    as_gsm8k = runs.replace({"benchmark": {"gsm8k": "gsm8k_qwen"}})
    as_mmlu = runs.replace({"benchmark": {"gsm8k": "mmlu_qwen"}, "task": {"gsm8k": "mmlu"}})
    misnamed = runs.replace({"benchmark": {"gsm8k": "gsm8k_hard"}, "task": {"gsm8k": "custom"}})
    with_paper, without = table2(as_gsm8k, "gsm8k_qwen"), table2(as_mmlu, "mmlu_qwen")
    assert "paper" in to_markdown(with_paper) and "Paper column" in " ".join(with_paper.notes)
    assert "paper" not in to_markdown(without)
    assert "paper" not in to_markdown(table2(misnamed, "gsm8k_hard"))
    assert "47.00" in to_markdown(without)  # the same cells, without the GSM8K paper numbers
    assert with_paper.label != without.label  # both fit in one LaTeX document


def test_rank_columns_lower_and_higher_is_better() -> None:
    rows = [[Cell(3.0)], [Cell(1.0)], [Cell(2.0)], [Cell(None)]]
    low = rank_columns(rows, [0])
    assert [r[0].rank for r in low] == [None, 1, 2, None]
    high = rank_columns(rows, [0], lower_is_better=False)
    assert [r[0].rank for r in high] == [1, None, 2, None]
    # All equal (self-hosted models cost $0.00 everywhere): nothing is best.
    flat = rank_columns([[Cell(0.0)], [Cell(0.0)]], [0])
    assert [r[0].rank for r in flat] == [None, None]
    # The best cell keeps its significance mark and interval (it once lost the mark).
    marked = rank_columns([[Cell(1.0, lo=0.5, hi=1.5, mark="†‡")], [Cell(2.0)]], [0])
    assert marked[0][0].rank == 1 and marked[0][0].plain() == "1.00 [0.5, 1.5]†‡"
    assert to_markdown(Table("t", [Column("", "x")], marked)).count("**1.00 [0.5, 1.5]†‡**") == 1


def test_renderers_escape_special_characters() -> None:
    table = Table(
        "A & B",
        [Column("g_1", "x%"), Column("g_1", "y")],
        [[Cell(text="a|b <c>"), Cell(1.0, rank=1)]],
    )
    assert "a\\|b <c>" in to_markdown(table)
    tex = to_latex(table)
    assert r"A \& B" in tex and r"g\_1" in tex and r"x\%" in tex and r"\textbf{1.00}" in tex
    html = to_html(table)
    assert "a|b &lt;c&gt;" in html and "<b>1.00</b>" in html and 'colspan="2"' in html


def test_empty_runs_give_no_tables() -> None:
    from reports.build import build_report
    from reports.runs import normalize_runs

    report = build_report(normalize_runs(pd.DataFrame()))
    assert report.tables == {} and report.figures == {}


@pytest.mark.slow
def test_report_files_are_written_whole(tmp_path: Path) -> None:
    from reports.build import write_report

    _log_fixed_runs()
    written = write_report("golden", tmp_path)
    names = {p.relative_to(tmp_path).as_posix() for p in written}
    assert {
        "report.md",
        "report.tex",
        "report.html",
        "tables/table1.md",
        "tables/table3.tex",
        "tables/cost.html",
    } <= names
    assert "Table 3" in (tmp_path / "report.md").read_text()
    assert not list(tmp_path.rglob("*.tmp"))


def test_figures_from_runs() -> None:
    import matplotlib

    from reports.figures import best_runs, figure1, figure2
    from reports.runs import normalize_runs

    rows = []
    for frac, size, c50 in ((0.25, 250, 48.0), (0.5, 500, 46.0), (1.0, 1000, 45.0)):
        for system, labels in (("RouteLLM", "arena"), ("Confidence", "se")):
            rows.append(
                {
                    "run_id": f"{system}{frac}",
                    "tags.routerlab.kind": "evaluation",
                    "tags.routerlab.system": system,
                    "tags.routerlab.router": "mlp",
                    "tags.routerlab.label_source": labels,
                    "tags.routerlab.benchmark": "gsm8k",
                    "tags.routerlab.train_fraction": str(frac),
                    "metrics.train_size": size,
                    "metrics.cpt_50": c50 + (system == "Confidence"),
                    "metrics.weak": 0.6,
                    "metrics.strong": 0.85,
                }
            )
    runs = normalize_runs(pd.DataFrame(rows))
    fig = figure1(runs)
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes[0].lines) == 3  # two label sources + the random reference
    best = best_runs(runs)
    assert set(best["run_id"]) == {"RouteLLM1.0", "Confidence1.0"}
    curve = pd.DataFrame({"strong_share": [0.0, 0.5, 1.0], "quality": [0.6, 0.8, 0.85]})
    fig2 = figure2(best, {"RouteLLM1.0": curve}, {"RouteLLM1.0": curve})
    assert isinstance(fig2, matplotlib.figure.Figure)
    assert figure2(best, {}, {}) is None


def test_latest_run_per_combination_supersedes_runs_on_old_data() -> None:
    import pandas as pd

    from reports.runs import latest_per_key

    runs = pd.DataFrame(
        {
            "run_id": ["old-data", "rerun-a", "rerun-b", "new-data", "judge"],
            "key": ["k1", "k2", "k2", "k3", None],
            "config_key": ["c1", "c2", "c2", "c1", None],
            "start_time": pd.to_datetime([1, 2, 3, 4, 5], unit="s"),
            "cpt_50": [10.0, 20.0, 21.0, 30.0, None],
        }
    )
    kept = latest_per_key(runs)
    # k1 and k3 are the same combination on two versions of its data: only the newer counts.
    assert sorted(kept["run_id"]) == ["judge", "new-data", "rerun-b"]
    # Runs logged before config keys existed are grouped by key alone.
    legacy = latest_per_key(runs.drop(columns="config_key"))
    assert sorted(legacy["run_id"]) == ["judge", "new-data", "old-data", "rerun-b"]


def test_report_figures_read_only_the_newest_run_of_each_combination() -> None:
    from reports.build import build_report

    # Figure 1's runs twice: first on an old benchmark file (CPT 90), then rerun on the grown
    # file (same config key, new data key, later start; CPT 45). Only the rerun is current.
    old = _figure_runs()
    old["config_key"] = old["run_id"]
    old["key"] = old["run_id"] + "@old"
    old["start_time"] = pd.Timestamp("2026-01-01")
    new = old.assign(key=old["run_id"] + "@new", start_time=pd.Timestamp("2026-02-01"),
                     run_id=old["run_id"] + "-new")
    old = old.assign(cpt_50=90.0, cpt_50_lo=85.0, cpt_50_hi=95.0)
    runs = pd.concat([old, new], ignore_index=True)
    report = build_report(runs, study="x")
    assert report.n_runs == len(new)
    fig1 = report.figures["figure1"]
    drawn = [y for ax in fig1.axes for line in ax.lines for y in line.get_ydata()]
    assert 45.0 in drawn and 90.0 not in drawn
    # A study variant is drawn in its family's colour, not black.
    variant = new.assign(system="Confidence (balanced)", config_key=new["run_id"] + "-v",
                         run_id=new["run_id"] + "-v")
    fig = build_report(pd.concat([new, variant], ignore_index=True), study="x").figures[
        "figure1"
    ]
    colours = {line.get_label(): line.get_color() for line in fig.axes[0].lines}
    assert colours["Confidence (balanced) MLP"] == colours["Confidence MLP"] == "tab:red"


def test_table2_benchmarks_get_their_own_curve_figure() -> None:
    from reports.build import build_report

    paper = _figure_runs()
    local = paper[paper["benchmark"] == "gsm8k"].assign(
        benchmark="gsm8k_qwen", run_id=lambda d: d["run_id"] + "-qwen",
        key=lambda d: d["key"] + "-qwen",
    )
    runs = pd.concat([paper, local], ignore_index=True)
    curve = pd.DataFrame({"strong_share": [0.0, 0.5, 1.0], "quality": [0.6, 0.8, 0.85]})
    report = build_report(runs, study="x", curves=dict.fromkeys(runs["run_id"], curve))
    titles = {
        name: [ax.get_title() for ax in fig.axes] for name, fig in report.figures.items()
        if name.startswith("figure2")
    }
    assert titles == {"figure2": ["GSM8K", "MMLU"], "figure2_table2": ["gsm8k_qwen"]}
    assert "Benchmarks of Table 2" in report.captions["figure2_table2"]


@pytest.mark.slow
def test_a_missing_judge_table_is_named_with_the_command_that_makes_it(tmp_path: Path) -> None:
    from reports.build import build_report, write_files
    from reports.runs import load_runs

    _log_fixed_runs()
    runs = load_runs("golden")
    without_judge = runs[runs["kind"] != "judge"].reset_index(drop=True)
    report = build_report(without_judge, study="golden", judge_runs=without_judge)
    assert "table3" not in report.tables
    assert any("studies/judge_local.toml" in m for m in report.missing)
    write_files(report, tmp_path)
    assert "Not in this report: Table 3" in (tmp_path / "report.md").read_text()
    assert build_report(runs, study="golden").missing == []


@pytest.mark.slow
def test_report_tex_is_a_standalone_document_matching_its_golden_file(tmp_path: Path) -> None:
    from reports.build import write_report

    _log_fixed_runs()
    write_report("golden", tmp_path)
    tex = (tmp_path / "report.tex").read_text()
    assert tex.startswith(r"\documentclass") and tex.rstrip().endswith(r"\end{document}")
    assert r"\usepackage{graphicx}" in tex and r"\usepackage{booktabs}" in tex
    # LaTeX numbers captions itself: no "Table 1: Table 1: ...".
    assert r"\caption{Table" not in tex
    # The 14-column Table 1 is scaled to the page.
    assert r"\resizebox{\linewidth}{!}{%" in tex
    _check_golden("report.tex", tex)


def _figure_runs() -> pd.DataFrame:
    from reports.runs import normalize_runs

    rows = []
    for bench, systems in (("gsm8k", ("RouteLLM", "Confidence")), ("mmlu", ("TO-Router",))):
        for frac, size in ((0.25, 250), (0.5, 500), (1.0, 1000)):
            for system in systems:
                rows.append({
                    "run_id": f"{bench}{system}{frac}", "tags.routerlab.kind": "evaluation",
                    "tags.routerlab.system": system, "tags.routerlab.router": "mlp",
                    "tags.routerlab.label_source": system.lower(),
                    "tags.routerlab.benchmark": bench,
                    "tags.routerlab.train_fraction": str(frac), "metrics.n_train": size,
                    "metrics.cpt_50": 45.0, "metrics.cpt_50_lo": 40.0, "metrics.cpt_50_hi": 50.0,
                    "metrics.cpt_80": 75.0, "metrics.cpt_80_lo": 70.0, "metrics.cpt_80_hi": 80.0,
                    "metrics.quality_weak": 0.6, "metrics.quality_strong": 0.85,
                })
    return normalize_runs(pd.DataFrame(rows))


def test_figures_have_one_true_legend_bands_and_three_formats(tmp_path: Path) -> None:
    from reports.build import Report, write_files
    from reports.figures import figure1, figure2

    runs = _figure_runs()
    fig1 = figure1(runs)
    assert fig1 is not None
    legend = {t.get_text() for t in fig1.legends[0].get_texts()}
    # The mmlu panel's TO-Router line is in the legend too, not only the first panel's.
    assert {"RouteLLM MLP", "Confidence MLP", "TO-Router MLP"} <= legend
    assert all(ax.collections for ax in fig1.axes)  # the 95 % bands
    ticks = [t.get_text() for t in fig1.axes[0].get_xticklabels()]
    assert ticks == ["250", "500", "1,000"]  # every size trained on, readable
    assert fig1._suptitle is None  # the caption belongs to the document
    best = runs[runs["train_fraction"] == 1.0]
    curve = pd.DataFrame({"strong_share": [0.0, 0.5, 1.0], "quality": [0.6, 0.8, 0.85]})
    fig2 = figure2(best, dict.fromkeys(best["run_id"], curve), {})
    assert fig2 is not None
    legend2 = {t.get_text() for t in fig2.legends[0].get_texts()}
    assert {"RouteLLM (MLP)", "Confidence (MLP)", "TO-Router (MLP)"} <= legend2
    assert "CPT(50/80%) with 95% CI" in legend2
    write_files(Report(study="x", figures={"figure1": fig1, "figure2": fig2}, n_runs=1),
                tmp_path)
    for name in ("figure1", "figure2"):
        for fmt in ("png", "pdf", "svg"):
            assert (tmp_path / f"{name}.{fmt}").stat().st_size > 1000, (name, fmt)
    tex = (tmp_path / "report.tex").read_text()
    assert r"\includegraphics[width=\linewidth]{figure1.pdf}" in tex
    assert "Figure 1" not in tex  # LaTeX numbers figures


@pytest.mark.slow
def test_report_tex_compiles_standalone_with_its_figures(tmp_path: Path) -> None:
    import shutil
    import subprocess

    from reports.build import build_report, write_files

    if shutil.which("pdflatex") is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-recommended)")
    _log_fixed_runs()
    from reports.runs import load_runs

    runs = pd.concat([load_runs("golden"), _figure_runs()], ignore_index=True)
    report = build_report(runs, study="golden")
    assert "figure1" in report.figures
    write_files(report, tmp_path)
    done = subprocess.run(
        ["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "report.tex"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert (tmp_path / "report.pdf").stat().st_size > 10_000
    assert "Overfull" not in done.stdout  # every table fits the page


def test_claim_notes_compare_each_confidence_variant_with_its_to_router() -> None:
    from reports.tables import claim_notes

    rows = [
        # system, router, cpt50, lo, hi
        ("Confidence", "mlp", 45.0, 35.0, 55.0),
        ("Confidence", "knn", 47.0, 40.0, 49.0),
        ("TO-Router", "mlp", 42.0, 32.0, 51.0),
        ("Confidence (balanced)", "sw_ranking+stats", 37.0, 28.0, 46.0),
        ("Confidence (MMLU in-domain)", "mlp", 24.0, 17.0, 36.0),
        ("TO-Router (MMLU in-domain)", "knn", 39.0, 25.0, 53.0),
        ("Random", "random", 50.0, 45.0, 55.0),
    ]
    runs = pd.DataFrame(
        [
            {
                "kind": "evaluation", "train_fraction": 1.0, "key": f"k{i}",
                "start_time": i, "benchmark": "mmlu_qwen", "system": s, "router": r,
                "cpt_50": c, "cpt_50_lo": lo, "cpt_50_hi": hi,
            }
            for i, (s, r, c, lo, hi) in enumerate(rows)
        ]
    )
    notes = claim_notes(runs, "mmlu_qwen")
    assert notes == [
        "Claim check, Confidence vs TO-Router (CPT50, best router of each): MLP 45.0 "
        "[35.0, 55.0] vs MLP 42.0 [32.0, 51.0]. CI upper bound below 50: no; below "
        "TO-Router: no.",
        "Claim check, Confidence (MMLU in-domain) vs TO-Router (MMLU in-domain) (CPT50, best "
        "router of each): MLP 24.0 [17.0, 36.0] vs kNN 39.0 [25.0, 53.0]. CI upper bound "
        "below 50: yes; below TO-Router (MMLU in-domain): yes.",
        "Claim check, Confidence (balanced) vs TO-Router (CPT50, best router of each): SW + "
        "stats 37.0 [28.0, 46.0] vs MLP 42.0 [32.0, 51.0]. CI upper bound below 50: yes; "
        "below TO-Router: yes.",
    ]
    assert claim_notes(runs, "gsm8k_qwen") == []


def test_label_effects_pair_routers_and_extend_the_claim_check() -> None:
    from harness.metrics import PairedDifference
    from reports.tables import claim_notes, label_effects

    rows = [
        # run id, system, router, cpt50
        ("c-mlp", "Confidence", "mlp", 45.0),
        ("c-knn", "Confidence", "knn", 47.0),
        ("c-knn-s", "Confidence", "knn+stats", 41.0),
        ("t-mlp", "TO-Router", "mlp", 42.0),
        ("t-knn-s", "TO-Router", "knn+stats", 44.0),
        ("r", "Random", "random", 50.0),
    ]
    sources = {"Confidence": "se", "TO-Router": "accuracy", "Random": None}
    runs = pd.DataFrame(
        [
            {
                "kind": "evaluation", "train_fraction": 1.0, "key": run_id, "run_id": run_id,
                "start_time": i, "benchmark": "gsm8k_qwen", "system": s, "router": r,
                "cpt_50": c, "cpt_50_lo": c - 8, "cpt_50_hi": c + 8, "param.seed": "0",
                "label_source": sources[s], "n_train": 2000 if s == "Confidence" else 86,
            }
            for i, (run_id, s, r, c) in enumerate(rows)
        ]
    )
    asked: list[list[tuple[str, str]]] = []

    def compare_pairs(pairs: list[tuple[str, str]]) -> tuple[int, PairedDifference]:
        asked.append(pairs)
        diff = np.array([[-3.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [-5.0, 0.0]])
        return 300, PairedDifference((50.0, 80.0), (-2.0, 0.0), diff)

    effects = label_effects(runs, ["gsm8k_qwen"], compare_pairs)
    # only routers both label sources trained are paired, kNN alone has no partner
    assert asked == [[("c-knn-s", "t-knn-s"), ("c-mlp", "t-mlp")]]
    effect = effects[("gsm8k_qwen", "Confidence")]
    assert (effect.n_pairs, effect.n_prompts, effect.point) == (2, 300, -2.0)
    assert effect.lo == pytest.approx(np.quantile([-3, -1, 1, -5], 0.025))
    note = claim_notes(runs, "gsm8k_qwen", effects)[0]
    assert "(CPT50, best router of each, 2,000 vs 86 training labels)" in note
    assert note.endswith(
        "Router for router (2 routers, 300 prompts): mean difference -2.0 "
        f"[{effect.lo:+.1f}, {effect.hi:+.1f}] (paired bootstrap; no difference shown at 95 %)."
    )
    assert label_effects(runs, ["mmlu_qwen"], compare_pairs) == {}


def test_the_claim_check_names_the_sampled_accuracy_control() -> None:
    from harness.metrics import PairedDifference
    from reports.tables import CONTROL_PARTNER, claim_notes, label_effects

    rows = [
        # run id, system, router, cpt50
        ("c-mlp", "Confidence (in-domain)", "mlp", 30.0),
        ("c-sw", "Confidence (in-domain)", "sw_ranking", 32.0),
        ("t-mlp", "TO-Router (in-domain)", "mlp", 40.0),
        ("s-mlp", "Sampled accuracy (in-domain)", "mlp", 31.0),
        ("s-sw", "Sampled accuracy (in-domain)", "sw_ranking", 29.0),
        ("s-plain", "Sampled accuracy", "mlp", 20.0),
    ]
    sources = {"Confidence": "se", "TO-Router": "accuracy", "Sampled accuracy": "sampled_accuracy"}
    runs = pd.DataFrame(
        [
            {
                "kind": "evaluation", "train_fraction": 1.0, "key": run_id, "run_id": run_id,
                "start_time": i, "benchmark": "mmlu_qwen", "system": s, "router": r,
                "cpt_50": c, "cpt_50_lo": c - 8, "cpt_50_hi": c + 8, "param.seed": "0",
                "label_source": sources[s.split(" (")[0]],
            }
            for i, (run_id, s, r, c) in enumerate(rows)
        ]
    )
    asked: list[list[tuple[str, str]]] = []

    def compare_pairs(pairs: list[tuple[str, str]]) -> tuple[int, PairedDifference]:
        asked.append(pairs)
        diff = np.array([[-1.0, 0.0], [-2.0, 0.0], [-3.0, 0.0], [-4.0, 0.0]])
        return 999, PairedDifference((50.0, 80.0), (-2.5, 0.0), diff)

    effects = label_effects(runs, ["mmlu_qwen"], compare_pairs)
    controls = label_effects(runs, ["mmlu_qwen"], compare_pairs, partner_family=CONTROL_PARTNER)
    # the control of the same variant, router for router; not the plain "Sampled accuracy"
    assert asked == [[("c-mlp", "t-mlp")], [("c-mlp", "s-mlp"), ("c-sw", "s-sw")]]
    assert controls[("mmlu_qwen", "Confidence (in-domain)")].partner == (
        "Sampled accuracy (in-domain)"
    )
    control = controls[("mmlu_qwen", "Confidence (in-domain)")]
    assert control.hi == pytest.approx(np.quantile([-1, -2, -3, -4], 0.975))
    note = claim_notes(runs, "mmlu_qwen", effects, controls)[0]
    assert note.startswith("Claim check, Confidence (in-domain) vs TO-Router (in-domain)")
    assert note.endswith(
        "Control: against Sampled accuracy (in-domain), router for router (2 routers, 999 "
        f"prompts): mean difference -2.5 [{control.lo:+.1f}, {control.hi:+.1f}] (paired "
        "bootstrap; Confidence (in-domain) better at 95 %)."
    )
    assert "Control" not in claim_notes(runs, "mmlu_qwen", effects)[0]


def test_a_system_without_runs_on_a_benchmark_gets_no_row_there() -> None:
    from reports.tables import table2

    rows = [
        ("Confidence", "mlp", "gsm8k_qwen"),
        ("Confidence", "mlp", "mmlu_qwen"),
        ("Confidence (MMLU in-domain)", "mlp", "mmlu_qwen"),
    ]
    runs = pd.DataFrame(
        [
            {
                "kind": "evaluation", "train_fraction": 1.0, "key": f"k{i}", "start_time": i,
                "benchmark": b, "system": s, "router": r, "label_source": "se",
                "cpt_50": 40.0, "cpt_50_lo": 30.0, "cpt_50_hi": 50.0,
                "cpt_80": 70.0, "cpt_80_lo": 60.0, "cpt_80_hi": 80.0,
            }
            for i, (s, r, b) in enumerate(rows)
        ]
    )
    assert "MMLU in-domain" not in to_markdown(table2(runs, "gsm8k_qwen"))
    assert "Confidence (MMLU in-domain) | MLP | 40.00" in to_markdown(table2(runs, "mmlu_qwen"))


def test_table2_names_the_training_prompts_of_each_in_domain_system() -> None:
    from reports.tables import table2

    rows = [
        # system, label source, label_params.path, label_params.responses
        ("Confidence", "se", None, None),
        ("Sampled accuracy (balanced)", "sampled_accuracy", None, None),
        ("RouteLLM", "arena", None, None),
        ("Confidence (MMLU in-domain)", "se", "mmlu_train", None),
        ("TO-Router (MMLU in-domain)", "accuracy", None, "mmlu_train"),
        ("TO-Router (mine)", "accuracy", None, "/data/my_set_labels_responses.parquet"),
    ]
    runs = pd.DataFrame(
        [
            {
                "kind": "evaluation", "train_fraction": 1.0, "key": f"k{i}", "start_time": i,
                "benchmark": "mmlu_qwen", "system": s, "router": "mlp", "label_source": src,
                "param.label_params.path": path, "param.label_params.responses": responses,
                "cpt_50": 40.0, "cpt_50_lo": 30.0, "cpt_50_hi": 50.0,
                "cpt_80": 70.0, "cpt_80_lo": 60.0, "cpt_80_hi": 80.0,
            }
            for i, (s, src, path, responses) in enumerate(rows)
        ]
    )
    assert (
        "Training prompts of each system's labels: default (NQ-open/TriviaQA/MAWPS): "
        "Sampled accuracy (balanced), Confidence; mmlu_train: TO-Router (MMLU in-domain), "
        "Confidence (MMLU in-domain); my_set: TO-Router (mine)."
    ) in table2(runs, "mmlu_qwen").notes
    # the title names every set a label source's systems read, not only the transfer set
    title = table2(runs, "mmlu_qwen").title
    assert "Confidence = SE of local Qwen 0.5B/1.5B on NQ-open/TriviaQA/MAWPS or mmlu_train" in (
        title
    )
    assert "TO-Router = accuracy of local Qwen 0.5B/1.5B on mmlu_train or my_set" in title
    assert "RouteLLM = MT-Bench human votes;" in title
    # all on the title's transfer set: no note
    plain = runs[runs["param.label_params.path"].isna()
                 & runs["param.label_params.responses"].isna()]
    assert not [n for n in table2(plain, "mmlu_qwen").notes if n.startswith("Training prompts")]
    assert "mmlu_train" not in table2(plain, "mmlu_qwen").title


def test_a_baseline_family_variant_is_a_baseline() -> None:
    from reports.tables import best_baseline_runs

    rows = [("RouteLLM", 29.3), ("TO-Router", 43.1), ("TO-Router (MMLU in-domain)", 22.0),
            ("Confidence (MMLU in-domain)", 18.3)]
    runs = pd.DataFrame(
        [
            {"kind": "evaluation", "train_fraction": 1.0, "key": f"k{i}", "start_time": i,
             "benchmark": "mmlu_qwen", "system": s, "router": "sw_ranking", "cpt_50": c,
             "run_id": f"r{i}"}
            for i, (s, c) in enumerate(rows)
        ]
    )
    # the in-domain TO-Router is the bar a Confidence router must clear, not RouteLLM's 29.3
    assert best_baseline_runs(runs)["system"].tolist() == ["TO-Router (MMLU in-domain)"]
