"""The paper's tables, rebuilt from tracked runs (see :mod:`reports.runs`).

Pure functions: a runs frame in, a :class:`reports.render.Table` out. The only numbers not
from runs are the paper's published values (``paper_numbers.toml``), printed beside ours in
columns marked "paper".
"""

from __future__ import annotations

import functools
import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from baselines.systems import FAMILY_OF_LABELS
from harness.protocols import CROSS_FIT, LEAVE_ONE_BENCHMARK_OUT, TRANSFER
from reports.render import Cell, Column, Table, rank_columns
from reports.runs import STATS_SUFFIX, latest_per_key

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PAPER_NUMBERS = Path(__file__).with_name("paper_numbers.toml")

BENCHMARK_NAMES = {"mt_bench": "MT-Bench", "gsm8k": "GSM8K", "mmlu": "MMLU"}
ROUTER_NAMES = {
    "sw_ranking": "SW", "mf": "MF", "knn": "kNN", "mlp": "MLP", "logreg": "LogReg",
    "blend": "kNN+LogReg", "random": "–",
}
SYSTEM_ORDER = ("Random", "TO-Router", "RouteLLM", "Sampled accuracy", "Confidence", "Outcomes")
ROUTER_ORDER = ("random", "sw_ranking", "mf", "knn", "mlp", "logreg", "blend")
PCTS = (50, 80)

PROTOCOL_ORDER = (TRANSFER, CROSS_FIT, LEAVE_ONE_BENCHMARK_OUT)
# Where each label source's labels come from, for the titles of per-protocol tables.
LABEL_PROVENANCE = {
    "se": "SE of local Qwen 0.5B/1.5B",
    "accuracy": "accuracy of local Qwen 0.5B/1.5B",
    "arena": "MT-Bench human votes",
    "outcomes": "the evaluated pair's own outcomes",
    "sampled_accuracy": "graded samples of the SE label file",
}
# The prompts of the committed label set ``default`` (the transfer set).
DEFAULT_LABEL_SET = "NQ-open/TriviaQA/MAWPS"


def protocol_runs(runs: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The runs of each protocol present, in a fixed order; label-free runs (Random) are in
    every protocol's set, since they learn nothing. Runs logged without a protocol are
    ``transfer`` (the only protocol before there were several)."""
    protocol = (
        runs["protocol"].fillna(TRANSFER) if "protocol" in runs
        else pd.Series(TRANSFER, index=runs.index)
    )
    label_free = runs["label_source"].isna() | (runs["label_source"] == "none")
    trained = protocol[~label_free & (runs["kind"] == "evaluation")]
    present = sorted(
        set(trained) or {TRANSFER},
        key=lambda p: (PROTOCOL_ORDER.index(p) if p in PROTOCOL_ORDER else 99, p),
    )
    return {p: runs[(protocol == p) | label_free] for p in present}


def protocol_suffix(protocol: str) -> str:
    """The file-name suffix of a protocol's tables and figures ("" for transfer)."""
    return "" if protocol == TRANSFER else "_" + protocol.replace("-", "_")


def protocol_title(protocol: str, runs: pd.DataFrame) -> str:
    """"protocol P; labels: provenance" for a table or figure title."""
    sources = sorted(
        {str(s) for s in runs["label_source"].dropna() if str(s) not in ("", "none")}
    )
    provenance = "; ".join(
        f"{FAMILY_OF_LABELS.get(s, s)} = {LABEL_PROVENANCE.get(s, s)}{_label_sets_of(s, runs)}"
        for s in sources
    )
    text = f"protocol {protocol}"
    if protocol == "cross-fit":
        text += " (every prompt scored by a router trained on other questions)"
    elif protocol == "leave-one-benchmark-out":
        text += " (trained on the other benchmarks of the pair)"
    return f"{text}; labels: {provenance}" if provenance else text


@functools.lru_cache(maxsize=1)
def paper_numbers() -> dict[str, Any]:
    """The paper's published values (reference only)."""
    return tomllib.loads(PAPER_NUMBERS.read_text())


def benchmark_title(name: str) -> str:
    return BENCHMARK_NAMES.get(name, name)


def router_title(name: str) -> str:
    """The table name of a router; ``knn+stats`` (it read text statistics too) is
    "kNN + stats"."""
    base, stats, _ = name.partition(STATS_SUFFIX)
    title = ROUTER_NAMES.get(base, base)
    return f"{title} + stats" if stats else title


def system_family(system: str) -> str:
    """The family of a study's variant system: "Confidence (balanced)" → "Confidence"."""
    return system.split(" (", 1)[0]


def _sort_key(system: str, router: str) -> tuple[int, str, int, str]:
    # A study's variants ("Confidence (balanced)") sort after their family, each a block.
    family = system_family(system)
    s = SYSTEM_ORDER.index(family) if family in SYSTEM_ORDER else len(SYSTEM_ORDER)
    base = router.removesuffix(STATS_SUFFIX)
    r = ROUTER_ORDER.index(base) if base in ROUTER_ORDER else len(ROUTER_ORDER)
    return (s, system, r, router)


def evaluation_runs(runs: pd.DataFrame, *, full_training_set: bool = True) -> pd.DataFrame:
    """The evaluation runs (one per combination key), optionally only full-training-set ones."""
    ev = runs[runs["kind"] == "evaluation"]
    if full_training_set:
        ev = ev[ev["train_fraction"] >= 1.0]
    return latest_per_key(ev)


def _mean(df: pd.DataFrame, col: str) -> float | None:
    if col not in df:
        return None
    vals = pd.to_numeric(df[col], errors="coerce").dropna()
    return float(vals.mean()) if len(vals) else None


def cpt_table(
    runs: pd.DataFrame,
    *,
    title: str,
    benchmarks: Sequence[str] | None = None,
    paper_section: str | None = "table1",
    label: str = "",
    show_ci: bool = True,
    paper_benchmark: str | None = None,
    beats_baseline: dict[str, dict[int, bool]] | None = None,
) -> Table:
    """CPT(50 %) and CPT(80 %) per system × router × benchmark (Table 1 / Table 2 shape).

    Values are the mean over seeds; the interval is the bootstrap 95 % CI of the run (mean of
    the seeds' bounds when there are several). The best value of each column is rank 1
    (bold), the second rank 2 (underlined); lower is better. An Oracle row (the floor) is
    added from the runs' ``oracle_cpt_*`` metrics and is not ranked.

    Marks (every seed's run must qualify): † the run beats the random router with 95 %
    confidence (its ``beats_random_<pct>`` metric: a paired bootstrap against the random
    router's expected curve and sampling spread); ‡ it beats the best baseline
    (``beats_baseline``: run id → pct → verdict, from :func:`baseline_verdicts`). A run whose
    scores were constant is flagged "(const.)" and has no interval.
    """
    ev = evaluation_runs(runs)
    if benchmarks is None:
        order = list(BENCHMARK_NAMES)
        benchmarks = sorted(
            ev["benchmark"].dropna().unique(),
            key=lambda b: (order.index(b) if b in order else 99, b),
        )
    paper = paper_numbers().get(paper_section, {}) if paper_section else {}
    columns = [Column("", "System"), Column("", "Router")]
    for b in benchmarks:
        for pct in PCTS:
            columns.append(Column(benchmark_title(b), f"CPT{pct} ours"))
            if paper_section:
                columns.append(Column(benchmark_title(b), f"CPT{pct} paper"))
    # Only systems with a run on these benchmarks: a study's variant kept to one benchmark
    # (benchmarks = [...] in its grid block) gets no empty row in another's table.
    shown = ev[ev["benchmark"].isin(benchmarks)]
    systems = sorted(
        {(str(s), str(r)) for s, r in zip(shown["system"], shown["router"], strict=True)},
        key=lambda sr: _sort_key(*sr),
    )
    rows: list[list[Cell]] = []
    n_seeds: set[int] = set()
    for system, router in systems:
        row = [Cell(text=system), Cell(text=router_title(router))]
        for b in benchmarks:
            sel = ev[(ev["system"] == system) & (ev["router"] == router) & (ev["benchmark"] == b)]
            n_seeds.add(len(sel))
            published = paper.get(system, {}).get(router, {}).get(paper_benchmark or b)
            for i, pct in enumerate(PCTS):
                value = _mean(sel, f"cpt_{pct}")
                lo = _mean(sel, f"cpt_{pct}_lo") if show_ci else None
                hi = _mean(sel, f"cpt_{pct}_hi") if show_ci else None
                row.append(Cell(value, lo=lo, hi=hi, mark=_marks(sel, pct, beats_baseline)))
                if paper_section:
                    row.append(Cell(published[i] if published else None))
        rows.append(row)
    # Rank only our columns: the paper's rows shown here are a subset of its table.
    ours = [j for j, c in enumerate(columns) if c.label.endswith("ours")]
    rows = rank_columns(rows, ours)
    oracle = [Cell(text="Oracle"), Cell(text="–")]
    for b in benchmarks:
        sel = ev[ev["benchmark"] == b]
        for pct in PCTS:
            oracle.append(Cell(_mean(sel, f"oracle_cpt_{pct}")))
            if paper_section:
                oracle.append(Cell(None))
    if systems:
        rows.append(oracle)
    notes = [
        "CPT(x%): share of calls to the strong model (%) needed to reach x% of the strong-weak "
        "gap; lower is better. Bold: best, underlined: second (per column of ours).",
        "'ours' from tracked MLflow runs with bootstrap 95% CI in brackets"
        + (
            "; 'paper' = values published in arXiv 2502.11021 (reference, not recomputed)."
            if paper_section
            else "."
        ),
    ]
    if any(c.mark for r in rows for c in r):
        notes.append(
            "† beats the random router with 95% confidence (paired bootstrap against its "
            "expected curve and sampling spread); ‡ beats the best baseline (TO-Router or "
            "RouteLLM, lowest CPT50 on that benchmark under the transfer protocol) with 95% "
            "confidence (paired bootstrap over the prompts both scored); (const.) constant "
            "scores: routes like random, no CI."
        )
    seeds = sorted(n for n in n_seeds if n)
    if seeds and seeds[-1] > 1:
        notes.append(f"Mean over up to {seeds[-1]} seeds.")
    return Table(title=title, columns=columns, rows=rows, notes=notes, label=label)


def _marks(sel: pd.DataFrame, pct: int, beats_baseline: dict[str, dict[int, bool]] | None) -> str:
    if sel.empty:
        return ""
    if "constant_scores" in sel and (pd.to_numeric(sel["constant_scores"]) == 1).any():
        return " (const.)"
    mark = ""
    col = f"beats_random_{pct}"
    if col in sel and (pd.to_numeric(sel[col], errors="coerce") == 1).all():
        mark += "†"
    if beats_baseline and all(
        beats_baseline.get(str(r), {}).get(pct, False) for r in sel["run_id"]
    ):
        mark += "‡"
    return mark


BASELINE_FAMILIES = ("TO-Router", "RouteLLM")


def _is_baseline(system: pd.Series) -> pd.Series:
    """A baseline family's systems, its study variants included ("TO-Router (MMLU
    in-domain)" is a TO-Router trained on other prompts)."""
    return system.astype(str).map(system_family).isin(BASELINE_FAMILIES)


def best_baseline_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Per benchmark, the baseline run (TO-Router or RouteLLM, transfer protocol, full
    training set) with the lowest CPT(50 %)."""
    ev = evaluation_runs(runs)
    if "protocol" in ev:
        ev = ev[ev["protocol"].fillna(TRANSFER) == TRANSFER]
    ev = ev[_is_baseline(ev["system"]) & ev["cpt_50"].notna()]
    if ev.empty:
        return ev
    idx = ev.groupby("benchmark")["cpt_50"].idxmin()
    return ev.loc[list(idx.to_numpy())].reset_index(drop=True)


def baseline_verdicts(
    runs: pd.DataFrame,
    compare: Any,
) -> dict[str, dict[int, bool]]:
    """Run id → pct → whether the run beats its benchmark's best baseline (95 %, paired).

    ``compare(run_id, baseline_run_id)`` returns a :class:`harness.metrics.PairedDifference`
    of CPT(run) − CPT(baseline) (or None when the scores are missing); the trained runs of
    every protocol except the baselines themselves are compared.
    """
    best = best_baseline_runs(runs)
    ev = evaluation_runs(runs)
    trained = ev[
        ev["label_source"].notna() & (ev["label_source"] != "none")
        & ~_is_baseline(ev["system"])
    ]
    out: dict[str, dict[int, bool]] = {}
    for bench, base_run in zip(best["benchmark"], best["run_id"], strict=True):
        for run_id in trained.loc[trained["benchmark"] == bench, "run_id"]:
            diff = compare(str(run_id), str(base_run))
            if diff is not None:
                out[str(run_id)] = {pct: diff.a_better(pct) for pct in PCTS}
    return out


def table1(
    runs: pd.DataFrame,
    benchmarks: Sequence[str] = ("mt_bench", "gsm8k", "mmlu"),
    protocol: str = TRANSFER,
    beats_baseline: dict[str, dict[int, bool]] | None = None,
) -> Table:
    """Table 1: CPT 50/80 on MT-Bench, GSM8K, MMLU (GPT-4 vs Mixtral), for one protocol."""
    present = [b for b in benchmarks if b in set(runs["benchmark"].dropna())]
    table = cpt_table(
        runs,
        title="Table 1: CPT (%) of each routing system, GPT-4 vs Mixtral-8x7B — "
        + protocol_title(protocol, runs[runs["benchmark"].isin(present or list(benchmarks))]),
        benchmarks=present or list(benchmarks),
        # The paper's numbers are transfer results (SE/accuracy/arena labels).
        paper_section="table1" if protocol == TRANSFER else None,
        label="tab:cpt" + protocol_suffix(protocol).replace("_", "-"),
        beats_baseline=beats_baseline,
    )
    _note_training_benchmarks(table, runs)
    return table


def _note_training_benchmarks(table: Table, runs: pd.DataFrame) -> None:
    """Leave-one-benchmark-out: name what each benchmark's routers were trained on."""
    if "param.train_benchmarks" not in runs:
        return
    ev = evaluation_runs(runs)
    trained = ev[ev["param.train_benchmarks"].notna()]
    pairs = sorted(
        {(str(b), str(t)) for b, t in zip(trained["benchmark"], trained["param.train_benchmarks"],
                                          strict=True)}
    )
    if pairs:
        table.notes.append(
            "Trained on the outcomes of: "
            + "; ".join(
                f"{benchmark_title(b)} ← {', '.join(benchmark_title(x) for x in t.split(','))}"
                for b, t in pairs
            )
            + "."
        )


# Label sources that read a label set of local-pair prompts (``path`` / ``responses``: a
# committed set's name or a file; absent: the transfer set ``default``).
_LABEL_SET_SOURCES = ("se", "accuracy", "sampled_accuracy")


def _label_set_name(run: pd.Series) -> str:
    """The committed label set (or file stem) a run's labels were read from."""
    name = "default"
    for column in ("param.label_params.path", "param.label_params.responses"):
        value = run.get(column)
        if isinstance(value, str) and value not in ("", "None", "nan"):
            name = Path(value).stem.removesuffix("_responses").removesuffix("_labels")
    return name


def _label_sets_of(source: str, runs: pd.DataFrame) -> str:
    """" on <prompts>" for a title: the label sets ``source``'s runs read, so that a table
    holding in-domain variants does not claim every label came from the transfer set."""
    if source not in _LABEL_SET_SOURCES:
        return ""
    names = sorted(
        {_label_set_name(run) for _, run in runs[runs["label_source"] == source].iterrows()},
        key=lambda n: (n != "default", n),
    )
    return " on " + " or ".join(DEFAULT_LABEL_SET if n == "default" else n for n in names)


def _note_label_sets(table: Table, sel: pd.DataFrame) -> None:
    """Name each system's training prompts when they are not all the title's transfer set
    (the in-domain variants train on ``mmlu_train`` / ``gsm8k_train``)."""
    if "label_source" not in sel:
        return
    sets: dict[str, set[str]] = {}
    for _, run in sel[sel["label_source"].isin(_LABEL_SET_SOURCES)].iterrows():
        sets.setdefault(_label_set_name(run), set()).add(str(run["system"]))
    if set(sets) <= {"default"}:
        return
    parts = [
        f"{name}{f' ({DEFAULT_LABEL_SET})' if name == 'default' else ''}: "
        + ", ".join(sorted(systems, key=lambda s: _sort_key(s, "")))
        for name, systems in sorted(sets.items(), key=lambda kv: (kv[0] != "default", kv[0]))
    ]
    table.notes.append("Training prompts of each system's labels: " + "; ".join(parts) + ".")


def table2(
    runs: pd.DataFrame,
    benchmark: str,
    protocol: str = TRANSFER,
    beats_baseline: dict[str, dict[int, bool]] | None = None,
    effects: dict[tuple[str, str], LabelEffect] | None = None,
    controls: dict[tuple[str, str], LabelEffect] | None = None,
) -> Table:
    """Table 2: the same systems on a second model pair (one benchmark). The paper's Table 2
    is on GSM8K only, so only a benchmark whose runs carry the task "gsm8k" (the
    ``routerlab.task`` tag, set from the benchmark's metadata) gets its column.
    ``effects`` and ``controls`` (:func:`label_effects`) extend the claim check's notes."""
    ev = evaluation_runs(runs)
    sel = ev[ev["benchmark"] == benchmark]
    tasks = set(sel["task"].dropna()) if "task" in sel else set()
    paper_column = protocol == TRANSFER and tasks == {"gsm8k"}
    pair = ""
    if len(sel) and "param.strong_model" in sel and "param.weak_model" in sel:
        pair = f", {sel['param.strong_model'].iloc[0]} vs {sel['param.weak_model'].iloc[0]}"
    table = cpt_table(
        runs,
        title=f"Table 2: CPT (%) on {benchmark_title(benchmark)}{pair} — "
        + protocol_title(protocol, sel),
        benchmarks=[benchmark],
        paper_section="table2" if paper_column else None,
        label=f"tab:second-pair-{benchmark}" + protocol_suffix(protocol).replace("_", "-"),
        paper_benchmark="gsm8k",
        beats_baseline=beats_baseline,
    )
    if paper_column:
        table.notes.append(
            "Paper column: GPT-4 vs Qwen2-1.5B on GSM8K (a different pair from ours; shown "
            "for orientation only)."
        )
    _note_training_benchmarks(table, runs)
    _note_label_sets(table, sel)
    if protocol == TRANSFER:
        table.notes.extend(claim_notes(runs, benchmark, effects, controls))
    return table


def _best(sel: pd.DataFrame) -> tuple[str, float, float | None, float | None] | None:
    """(router, CPT50, CI low, CI high) of the router with the lowest mean CPT50 over seeds."""
    if sel.empty:
        return None
    means = sel.groupby("router")[["cpt_50", "cpt_50_lo", "cpt_50_hi"]].mean()
    means = means.dropna(subset=["cpt_50"])
    if means.empty:
        return None
    router = str(means["cpt_50"].idxmin())
    value, lo, hi = (_num(means.at[router, c]) for c in ("cpt_50", "cpt_50_lo", "cpt_50_hi"))
    if value is None:
        return None
    return router, value, lo, hi


#: The family a Confidence system is checked against (the paper's claim), and the control
#: family: labels graded from the same SE samples (harness.labels.sampled_accuracy).
CLAIM_PARTNER = "TO-Router"
CONTROL_PARTNER = "Sampled accuracy"


def _claim_partners(systems: set[str], family: str = CLAIM_PARTNER) -> list[tuple[str, str]]:
    """(Confidence system, the ``family`` system it is checked against): the one of the same
    variant (trained on the same prompts), else the plain one."""
    pairs = []
    for system in sorted(s for s in systems if system_family(s) == "Confidence"):
        variant = system.removeprefix("Confidence")
        partner = f"{family}{variant}" if f"{family}{variant}" in systems else family
        if partner in systems:
            pairs.append((system, partner))
    return pairs


@dataclass(frozen=True)
class LabelEffect:
    """CPT(50 %) of a Confidence system minus its TO-Router's, averaged router for router
    (each router once on each label source), with a paired bootstrap 95 % CI."""

    n_pairs: int
    n_prompts: int
    point: float
    lo: float
    hi: float
    partner: str = CLAIM_PARTNER

    def sentence(self, system: str) -> str:
        verdict = (
            f"{system} better" if self.hi < 0
            else f"{self.partner} better" if self.lo > 0
            else "no difference shown"
        )
        return (
            f"({self.n_pairs} routers, {self.n_prompts} prompts): mean difference "
            f"{self.point:+.1f} [{self.lo:+.1f}, {self.hi:+.1f}] (paired bootstrap; {verdict} "
            "at 95 %)."
        )


def label_effects(
    runs: pd.DataFrame,
    benchmarks: Sequence[str],
    compare_pairs: Any,
    partner_family: str = CLAIM_PARTNER,
) -> dict[tuple[str, str], LabelEffect]:
    """(benchmark, Confidence system) → :class:`LabelEffect` on ``benchmarks`` (transfer),
    against the system of ``partner_family`` (TO-Router; :data:`CONTROL_PARTNER` for the
    sampled-accuracy control).

    ``compare_pairs([(run_a, run_b), ...])`` returns (prompts compared, the
    :class:`harness.metrics.PairedDifference` of the mean CPT(a) − CPT(b)), or None when a
    run has no scores. Runs pair up by router (features included) and seed.
    """
    transfer = protocol_runs(runs).get(TRANSFER)
    if transfer is None:
        return {}
    ev = evaluation_runs(transfer)
    ev = ev[ev["benchmark"].isin(list(benchmarks))]
    seed = ev["param.seed"].astype(str) if "param.seed" in ev else pd.Series("", index=ev.index)
    ev = ev.assign(_pair=ev["router"].astype(str) + "|" + seed)
    out: dict[tuple[str, str], LabelEffect] = {}
    for benchmark in sorted(set(ev["benchmark"].dropna())):
        sel = ev[ev["benchmark"] == benchmark]
        systems = {str(s) for s in sel["system"].dropna()}
        for system, partner in _claim_partners(systems, partner_family):
            ours = sel[sel["system"] == system].drop_duplicates("_pair").set_index("_pair")
            theirs = sel[sel["system"] == partner].drop_duplicates("_pair").set_index("_pair")
            keys = sorted(set(ours.index) & set(theirs.index))
            if not keys:
                continue
            result = compare_pairs(
                [(str(ours.at[k, "run_id"]), str(theirs.at[k, "run_id"])) for k in keys]
            )
            if result is None:
                continue
            n_prompts, diff = result
            lo, hi = diff.ci(50)
            point = diff.point[diff.pcts.index(50.0)]
            out[(benchmark, system)] = LabelEffect(
                len(keys), n_prompts, point, lo, hi, partner=partner
            )
    return out


def claim_notes(
    runs: pd.DataFrame,
    benchmark: str,
    effects: dict[tuple[str, str], LabelEffect] | None = None,
    controls: dict[tuple[str, str], LabelEffect] | None = None,
) -> list[str]:
    """The paper's claim on a second pair, checked per Confidence system: its best router's
    CPT(50 %) has a 95 % CI upper bound below 50, and is below the best TO-Router's trained
    on the same prompts (the TO-Router of the same variant, else the plain TO-Router).
    ``effects`` (:func:`label_effects`) adds the router-for-router mean difference;
    ``controls`` (the same against :data:`CONTROL_PARTNER`) whether SE labels also beat
    labels graded from the same samples."""
    ev = evaluation_runs(runs)
    sel = ev[ev["benchmark"] == benchmark]
    notes = []
    for system, partner in _claim_partners({str(s) for s in sel["system"].dropna()}):
        ours = _best(sel[sel["system"] == system])
        theirs = _best(sel[sel["system"] == partner])
        if ours is None or theirs is None:
            continue

        def cell(best: tuple[str, float, float | None, float | None]) -> str:
            ci = f" [{best[2]:.1f}, {best[3]:.1f}]" if best[2] is not None else ""
            return f"{router_title(best[0])} {best[1]:.1f}{ci}"

        below_50 = ours[3] is not None and ours[3] < 50
        below_them = ours[1] < theirs[1]
        # How many labels each side learnt from: an in-domain set of 86 prompts and a
        # transfer set of 2,000 are not the same evidence.
        sizes = [_num(sel.loc[sel["system"] == s, "n_train"].max()) if "n_train" in sel else None
                 for s in (system, partner)]
        trained = (
            f", {sizes[0]:,.0f} vs {sizes[1]:,.0f} training labels"
            if sizes[0] is not None and sizes[1] is not None else ""
        )
        note = (
            f"Claim check, {system} vs {partner} (CPT50, best router of each{trained}): "
            f"{cell(ours)} vs {cell(theirs)}. CI upper bound below 50: "
            f"{'yes' if below_50 else 'no'}; below {partner}: {'yes' if below_them else 'no'}."
        )
        effect = (effects or {}).get((benchmark, system))
        if effect is not None:
            note += f" Router for router {effect.sentence(system)}"
        control = (controls or {}).get((benchmark, system))
        if control is not None:
            note += f" Control: against {control.partner}, router for router " + control.sentence(
                system
            )
        notes.append(note)
    return notes


def judge_table(runs: pd.DataFrame) -> Table | None:
    """Table 3: judge scores at CPT(50 %) / CPT(80 %) from the latest judge run."""
    jr = runs[runs["kind"] == "judge"]
    if jr.empty:
        return None
    run = jr.sort_values("start_time").iloc[-1]
    paper = paper_numbers().get("table3", {})
    systems = [
        s for s in SYSTEM_ORDER if f"score_50_{s}" in run.index and not _isnan(run[f"score_50_{s}"])
    ]
    columns = [Column("", "System")]
    for pct in PCTS:
        columns += [
            Column(f"CPT({pct}%)", "router"),
            Column(f"CPT({pct}%)", "ours"),
            Column(f"CPT({pct}%)", "paper"),
        ]
    rows = []
    for s in systems:
        row = [Cell(text=s)]
        for i, pct in enumerate(PCTS):
            # The best router of a system is chosen per target; runs logged before that
            # was recorded per target carry one router_<system> param.
            router = run.get(f"param.router_{s}_{pct}", run.get(f"param.router_{s}"))
            row.append(Cell(text=router_title(str(router)) if _present(router) else "–"))
            row.append(Cell(_num(run.get(f"score_{pct}_{s}"))))
            row.append(Cell(paper.get(s, [None, None])[i]))
        rows.append(row)
    rows = rank_columns(
        rows, [j for j, c in enumerate(columns) if c.label == "ours"], lower_is_better=False
    )
    judge_model = run.get("judge_model") or run.get("param.judge_model") or "?"
    n = {pct: _num(run.get(f"n_questions_{pct}")) for pct in PCTS}
    bad = {pct: _num(run.get(f"n_unparseable_{pct}")) for pct in PCTS}
    same = {pct: _num(run.get(f"n_identical_{pct}")) for pct in PCTS}
    notes = [
        "Score(i) = 100·S_i/T: share of questions where the judge named system i's response "
        "best (ties name several); higher is better.",
        f"Judge: {judge_model} (paper: o1). "
        f"Benchmark: {benchmark_title(str(run.get('benchmark')))}; "
        + "; ".join(
            f"CPT({p}%): {int(n[p] or 0)} questions"
            + (
                f" ({int(same[p] or 0)} with the same response from all three systems: a three-way "
                "tie, not sent to the judge)"
                if same[p]
                else ""
            )
            + f", {int(bad[p] or 0)} unparseable replies left out"
            for p in PCTS
        )
        + ".",
    ]
    first = {pct: _num(run.get(f"first_position_share_{pct}")) for pct in PCTS}
    distinct = str(run.get("param.judge_responses", "all")) == "distinct"
    if distinct:
        notes.append(
            "The judge saw each question's distinct responses (the weak and the strong "
            "model's answer, once each) and every system that gave the named one is "
            "credited; questions all three systems routed alike are three-way ties."
        )
    if any(v is not None for v in first.values()):
        notes.append(
            "Position check (response order shuffled per question; an unbiased judge names "
            f"the response it saw first in about {'50' if distinct else '33'} % of its "
            "replies): "
            + "; ".join(f"CPT({p}%): {first[p]:.0f} %" for p in PCTS if first[p] is not None)
            + "."
        )
    return Table(
        title="Table 3: LLM-as-a-judge scores",
        columns=columns,
        rows=rows,
        notes=notes,
        label="tab:judge",
    )


def cost_table(runs: pd.DataFrame) -> Table | None:
    """USD per routing system at CPT(50 %) / CPT(80 %), and the router's own compute cost."""
    ev = evaluation_runs(runs)
    if "usd_cpt_80" not in ev or ev["usd_cpt_80"].isna().all():
        return None
    order = list(BENCHMARK_NAMES)
    benchmarks = sorted(
        ev.loc[ev["usd_cpt_80"].notna(), "benchmark"].unique(),
        key=lambda b: (order.index(b) if b in order else 99, b),
    )
    columns = [Column("", "System"), Column("", "Router")]
    for b in benchmarks:
        columns += [
            Column(benchmark_title(b), "$ @CPT50"),
            Column(benchmark_title(b), "$ @CPT80"),
            Column(benchmark_title(b), "router $/1M q"),
        ]
    systems = sorted(
        {(str(s), str(r)) for s, r in zip(ev["system"], ev["router"], strict=True)},
        key=lambda sr: _sort_key(*sr),
    )
    rows = []
    for system, router in systems:
        row = [Cell(text=system), Cell(text=router_title(router))]
        for b in benchmarks:
            sel = ev[(ev["system"] == system) & (ev["router"] == router) & (ev["benchmark"] == b)]
            row.append(Cell(_mean(sel, "usd_cpt_50"), prefix="$"))
            row.append(Cell(_mean(sel, "usd_cpt_80"), prefix="$"))
            row.append(Cell(_mean(sel, "router_usd_per_1m"), prefix="$", digits=3))
        rows.append(row)
    ranked = [j for j, c in enumerate(columns) if c.group and "@CPT" in c.label]
    rows = rank_columns(rows, ranked)
    bounds = [Cell(text="All weak / all strong"), Cell(text="–")]
    for b in benchmarks:
        sel = ev[ev["benchmark"] == b]
        weak, strong = _mean(sel, "usd_all_weak"), _mean(sel, "usd_all_strong")
        bounds += [
            Cell(
                text=f"${weak:.2f} / ${strong:.2f}"
                if weak is not None and strong is not None
                else "–"
            ),
            Cell(text=""),
            Cell(text=""),
        ]
    rows.append(bounds)
    methods = sorted({str(m) for m in ev.get("param.cost_method", pd.Series(dtype=str)).dropna()})
    notes = [
        "USD of the LLM calls when the router sends the share of prompts given by its CPT to "
        "the strong model (tokens × list price); router $/1M q: the router's own compute "
        "(measured query embedding + scoring time on this machine × CPU price). "
        "Lower is better.",
    ] + [f"Token counts and prices: {m}" for m in methods]
    return Table(
        title="USD cost of each routing system",
        columns=columns,
        rows=rows,
        notes=notes,
        label="tab:cost",
    )


def mt_bench_cost_table(runs: pd.DataFrame) -> Table | None:
    """The paper's MT-Bench cost comparison: USD at CPT(80 %), best router of each system."""
    ev = evaluation_runs(runs)
    ev = ev[ev["benchmark"] == "mt_bench"]
    if ev.empty or "usd_cpt_80" not in ev or ev["usd_cpt_80"].isna().all():
        return None
    paper = paper_numbers().get("cost_mt_bench_cpt80", {})
    rows = []
    for system in [s for s in SYSTEM_ORDER if s in set(ev["system"])]:
        sel = ev[(ev["system"] == system) & ev["usd_cpt_80"].notna()]
        if sel.empty:
            continue
        by_router = sel.groupby("router")["usd_cpt_80"].mean()
        router = str(by_router.idxmin())
        rows.append(
            [
                Cell(text=system),
                Cell(text=router_title(router)),
                Cell(float(by_router.min()), prefix="$"),
                Cell(paper.get(system), prefix="$"),
            ]
        )
    rows = rank_columns(rows, [2])
    columns = [
        Column("", "System"),
        Column("", "Best router"),
        Column("USD at CPT(80%)", "ours"),
        Column("USD at CPT(80%)", "paper"),
    ]
    return Table(
        title="MT-Bench cost at CPT(80%)",
        columns=columns,
        rows=rows,
        notes=[
            "Paper: $ as published (its token counts and prices are not stated in full; "
            "ours are in the cost table's notes)."
        ],
        label="tab:mt-bench-cost",
    )


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _isnan(v: Any) -> bool:
    return _num(v) is None


def _present(v: Any) -> bool:
    """A logged string param: not missing, not NaN (absent params are NaN in the runs table)."""
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and str(v) != ""


def tuned_table(runs: pd.DataFrame) -> Table | None:
    """The parameters ``routerlab tune`` found, per system and benchmark, as the runs of a
    ``routerlab run STUDY --tuned`` used them (tag ``routerlab.tuned``)."""
    ev = evaluation_runs(runs)
    if "tuned" not in ev or ev["tuned"].isna().all():
        return None
    ev = ev[ev["tuned"].notna()]
    columns = [Column("", "System"), Column("", "Router"), Column("", "Benchmark"),
               Column("", "Tuned parameters"), Column("", "Optuna study")]
    seen: dict[tuple[str, str, str], list[Cell]] = {}
    for _, run in ev.iterrows():
        benchmark = benchmark_title(str(run["benchmark"]))
        protocol = str(run.get("protocol") or TRANSFER)
        if protocol != TRANSFER:
            benchmark += f" ({protocol}, per fold)" if protocol == CROSS_FIT else f" ({protocol})"
        key = (str(run["system"]), str(run["router"]), benchmark)
        values = json.loads(str(run["tuned"]))
        text = ", ".join(
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in sorted(values.items())
        )
        seen[key] = [Cell(text=key[0]), Cell(text=router_title(key[1])),
                     Cell(text=key[2]), Cell(text=text),
                     Cell(text=str(run.get("tuned_from") or ""))]
    rows = [seen[k] for k in sorted(seen, key=lambda k: (*_sort_key(k[0], k[1]), k[2]))]
    return Table(
        title="Tuned parameters",
        columns=columns,
        rows=rows,
        notes=["Best parameters of `routerlab tune` on the benchmark's validation split, used "
               "by `routerlab run STUDY --tuned`; other parameters keep the study's values. "
               "Cross-fit rows list one value per fold, each chosen by an inner cross-fit "
               "of the other folds (`routerlab tune --protocol cross-fit`)."],
        label="tab:tuned",
    )


def se_validity_table(auroc: pd.DataFrame, picks: pd.DataFrame, meta: dict[str, Any]) -> Table:
    """SE label validity (``routerlab labels validate``): per model and dataset, the AUROC of
    each uncertainty estimate for the model's own correctness, and the δ_SE pick rate."""
    from harness.labels.se.entropy import ESTIMATORS

    sel = auroc[auroc["part"] == "all"]
    estimators = [e for e in ESTIMATORS if e in set(sel["estimator"])]
    # Logged before sample accuracy existed, a run's table has no such column.
    sampled = "sample_accuracy" in sel.columns and bool(sel["sample_accuracy"].notna().any())
    columns = [Column("", "model"), Column("", "dataset"), Column("", "n"), Column("", "acc.")]
    if sampled:
        columns.append(Column("", "acc. (samples)"))
    columns += [Column("AUROC [95 % CI]", e) for e in estimators]
    rows: list[list[Cell]] = []
    for (role, dataset), group in sel.groupby(["role", "dataset"], sort=False):
        by_est = group.set_index("estimator")
        first = group.iloc[0]
        row = [
            Cell(text=f"{first['model']} ({role})"),
            Cell(text=str(dataset)),
            Cell(text=str(int(first["n"]))),
            Cell(value=float(first["accuracy"]), digits=2),
        ]
        if sampled:
            row.append(Cell(value=float(first["sample_accuracy"]), digits=2))
        row += [
            Cell(
                value=float(by_est["auroc"].to_dict()[e]),
                lo=float(by_est["ci_low"].to_dict()[e]),
                hi=float(by_est["ci_high"].to_dict()[e]),
                digits=3,  # the interval gets one digit less: 0.60 [0.55, 0.65], not [0.6, 0.6]
            )
            for e in estimators
        ]
        rows.append(row)
    pick_all = picks[picks["part"] == "all"].set_index("estimator")
    notes = [
        f"Label set {meta.get('label_file')}: {meta.get('n_prompts')} training prompts, weak "
        f"{meta.get('weak_model')}, strong {meta.get('strong_model')}; "
        + str(
            meta.get("decoding")
            or f"K = {meta.get('k')}, NLI {meta.get('nli')}, T = {meta.get('temperature')}, "
            f"top-k = {meta.get('top_k')}"
        )
        + ".",
        "AUROC of −estimate for the model's own greedy answer being correct; 0.5 = no signal "
        "(the SE literature reports 0.75-0.85 on TriviaQA / NQ).",
    ]
    if sampled:
        notes.append(
            "acc.: share of greedy answers right (what a benchmark scores); acc. (samples): "
            "share of the samples SE reads that are right (letter sets: the probability of the "
            "gold letter). Far apart, SE measures a different behaviour from the scored one."
        )
    if len(pick_all):
        notes.append(
            "δ_SE label names the only correct model (prompts where exactly one is right, "
            f"n = {int(pick_all['n_one_right'].iloc[0])}): "
            + "; ".join(
                f"{e} {float(pick_all['picks_right'].to_dict()[e]):.2f} "
                f"[{float(pick_all['ci_low'].to_dict()[e]):.2f}, "
                f"{float(pick_all['ci_high'].to_dict()[e]):.2f}]"
                for e in estimators
                if e in pick_all.index
            )
            + "."
        )
    label_file = str(meta.get("label_file") or "default_labels.parquet")
    default = label_file == "default_labels.parquet"
    stem = Path(label_file).stem.replace("_", "-")
    return Table(
        title="SE label validity" + ("" if default else f": {label_file}"),
        columns=columns,
        rows=rows,
        notes=notes,
        label="tab:se-validity" + ("" if default else f"-{stem}"),
    )
