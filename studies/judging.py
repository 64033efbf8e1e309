"""Table 3: the judge compares the routing systems' responses at CPT(50 %) and CPT(80 %).

For each system (TO-Router, RouteLLM, Confidence) the best router on the judge benchmark
(lowest CPT at that target, among the study's finished runs) is taken with its logged
per-prompt scores. At the share of strong calls that gives its CPT, the prompts with the
highest scores go to the strong model (:func:`harness.cost.strong_mask_at_share`), so each
system's response to a question is the strong or the weak model's response from the
benchmark. The judge then sees question, gold answer and the three responses.

The result is logged as one MLflow run (tag ``routerlab.kind = judge``) holding
``score_<pct>_<system>``, ``n_questions_<pct>``, ``n_unparseable_<pct>``,
``n_identical_<pct>``, ``first_position_share_<pct>`` (a position-bias check) and, as an
artifact, every verdict with the raw reply.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import tracking
from harness.benchmarks.routellm import gsm8k_gold_answers
from harness.errors import ConfigError, DataError
from harness.records import Benchmark
from harness.tracking import schema
from judges.base import JudgeItem, JudgeResult
from judges.best_of_three import BestOfThreeJudge
from studies.spec import JudgeSpec, Study

log = logging.getLogger(__name__)


def routed_responses(
    benchmark: Benchmark, scores: np.ndarray, share: float, seed: int
) -> list[str]:
    """Each prompt's response when a share ``share`` of prompts (highest scores) go strong."""
    from harness.cost import strong_mask_at_share

    if benchmark.weak_response is None or benchmark.strong_response is None:
        raise DataError(f"benchmark {benchmark.name!r} has no response texts; the judge needs them")
    mask = strong_mask_at_share(scores, share, seed=seed)
    return [
        s if m else w
        for m, w, s in zip(mask, benchmark.weak_response, benchmark.strong_response, strict=True)
    ]


def judge_items(
    benchmark: Benchmark,
    system_scores: dict[str, tuple[np.ndarray, float]],
    gold: dict[str, str],
    *,
    seed: int,
    limit: int | None,
) -> list[JudgeItem]:
    """Judge items of the first ``limit`` questions; ``system_scores``: name → (scores, CPT %)."""
    responses = {
        name: routed_responses(benchmark, s, cpt / 100.0, seed)
        for name, (s, cpt) in system_scores.items()
    }
    items = []
    for i, (pid, prompt) in enumerate(zip(benchmark.prompt_ids, benchmark.prompts, strict=True)):
        if prompt.strip() not in gold:
            continue
        items.append(
            JudgeItem(
                pid, prompt, gold[prompt.strip()], {name: r[i] for name, r in responses.items()}
            )
        )
        if limit is not None and len(items) >= limit:
            break
    return items


def _scores_artifact(run_id: str) -> pd.DataFrame:
    return tracking.load_csv(run_id, "scores.csv", dtype={"prompt_id": str})


def best_system_runs(
    runs: pd.DataFrame, benchmark: str, systems: tuple[str, ...], pct: float
) -> dict[str, Any]:
    """System → its run (a row) with the lowest CPT(pct) on ``benchmark``."""
    col = f"cpt_{pct:g}"
    ev = runs[
        (runs["kind"] == "evaluation")
        & (runs["benchmark"] == benchmark)
        & (runs["train_fraction"] >= 1.0)
        & runs["system"].isin(systems)
    ]
    if col not in ev:
        return {}
    ev = ev[ev[col].notna()]
    best: dict[str, Any] = {}
    for system, grp in ev.groupby("system"):
        values = grp[col].astype(float).to_numpy()
        best[str(system)] = grp.iloc[int(values.argmin())]
    return best


def run_judge(
    spec: JudgeSpec,
    source_study: str,
    *,
    data_dir: Path | None = None,
    progress: bool = True,
    ask: Any = None,
) -> dict[str, Any]:
    """Judge the best router of each system at each CPT target; log one MLflow run."""
    from harness import paths
    from harness.benchmarks import load_benchmark
    from harness.plugins import JUDGES
    from reports.runs import latest_per_key

    data_dir = data_dir or paths.data_dir()
    runs = latest_per_key(tracking.load_runs(source_study))
    benchmark = load_benchmark(spec.benchmark, data_dir)
    gold = gsm8k_gold_answers(data_dir)
    judge_cls = JUDGES.get(spec.judge)
    try:
        judge = judge_cls(
            endpoint=spec.endpoint, seed=spec.seed, threads=spec.threads, **spec.params
        )
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[judge] params {spec.params}: {exc}") from exc
    metrics: dict[str, float] = {}
    params: dict[str, Any] = {
        "judge": spec.judge,
        "judge_model": spec.endpoint,
        "benchmark": spec.benchmark,
        "limit": spec.limit,
        "source_study": source_study,
        "seed": spec.seed,
        "gold": "GSM8K final answer (after ####)",
        **{f"judge_{k}": v for k, v in judge.get_params().items() if k != "endpoint"},
    }
    verdict_rows: list[dict[str, Any]] = []
    items_by_pct: dict[float, list[JudgeItem]] = {}
    scores_by_pct: dict[float, dict[str, tuple[np.ndarray, float]]] = {}
    for pct in spec.pcts:
        best = best_system_runs(runs, spec.benchmark, spec.systems, pct)
        missing = [s for s in spec.systems if s not in best]
        if missing:
            raise ConfigError(
                f"judge: study {source_study!r} has no finished {spec.benchmark} run for "
                f"{missing}; run the study's grid first"
            )
        system_scores: dict[str, tuple[np.ndarray, float]] = {}
        kept_ids: set[str] | None = None
        frames = {}
        for system, row in best.items():
            frame = _scores_artifact(str(row["run_id"]))
            frames[system] = frame.set_index("prompt_id")["score"]
            ids = set(frames[system].index)
            kept_ids = ids if kept_ids is None else kept_ids & ids
            # The best router of a system may differ between targets: one param per target.
            params[f"router_{system}_{pct:g}"] = row["router"]
            params[f"run_{system}_{pct:g}"] = row["run_id"]
        # Decontamination may have dropped different prompts per system: judge the common ones.
        assert kept_ids is not None
        mask = np.array([pid in kept_ids for pid in benchmark.prompt_ids])
        common = benchmark.subset(mask)
        for system, row in best.items():
            s = frames[system].reindex(common.prompt_ids).to_numpy(dtype=float)
            system_scores[system] = (s, float(row[f"cpt_{pct:g}"]))
        items_by_pct[pct] = judge_items(
            common, system_scores, gold, seed=spec.seed, limit=spec.limit
        )
        scores_by_pct[pct] = system_scores
    if isinstance(judge, BestOfThreeJudge) and judge.responses == "distinct":
        # Ask the weak-vs-strong prompt of every question first, whatever the routes: a
        # question all three systems route alike needs no call today but may split under
        # other labels, and with its reply stored any later routing is judged offline.
        # PREFILL_MARGIN more questions cover those a new label set's decontamination
        # moves into the first ``limit``.
        every = _weak_vs_strong_items(benchmark, gold, spec.systems, spec.limit)
        judge.judge(every, ask=ask, progress=progress)
    elif ask is None and len(spec.pcts) > 1 and isinstance(judge, BestOfThreeJudge):
        # Ask first for every target's prompts of a question back to back: they share the
        # question and often the first responses, so a local model reuses that prefix of its
        # KV cache (much of a CPU judge's time is prompt processing). The per-target passes
        # below then read these replies from its LLM cache and reply store.
        by_question: dict[str, list[JudgeItem]] = {}
        for items in items_by_pct.values():
            for it in items:
                by_question.setdefault(it.question_id, []).append(it)
        judge.judge([it for group in by_question.values() for it in group], progress=progress)
    for pct, items in items_by_pct.items():
        system_scores = scores_by_pct[pct]
        result: JudgeResult = (
            judge.judge(items, ask=ask)
            if ask is not None
            else judge.judge(items, progress=progress)
        )
        for system, score in result.scores.items():
            metrics[f"score_{pct:g}_{system}"] = score
            metrics[f"cpt_{pct:g}_{system}"] = system_scores[system][1]
        metrics[f"n_questions_{pct:g}"] = result.n_questions
        metrics[f"n_unparseable_{pct:g}"] = result.n_unparseable
        identical = {it.question_id for it in items if len(set(it.responses.values())) == 1}
        metrics[f"n_identical_{pct:g}"] = len(identical)
        # Position bias check: the order is shuffled, so an unbiased judge names the response
        # it saw first in about a third of its single-answer replies (a half when it sees the
        # two distinct responses only). A small judge that mostly says "LLM 1" makes the
        # scores reflect the shuffle, not the responses.
        answered = [v for v in result.verdicts if v.parsed and v.question_id not in identical]
        if answered:
            first = sum(v.order[0] in v.best for v in answered)
            metrics[f"first_position_share_{pct:g}"] = 100.0 * first / len(answered)
        for v in result.verdicts:
            verdict_rows.append(
                {
                    "pct": pct,
                    "question_id": v.question_id,
                    "order": list(v.order),
                    "reply": v.reply,
                    "best": sorted(v.best),
                    "parsed": v.parsed,
                }
            )
    tags = {
        schema.KIND: "judge",
        schema.STUDY: source_study,
        schema.BENCHMARK: spec.benchmark,
        schema.tag("judge_model"): spec.endpoint,
    }
    with tracking.open_run(
        tracking.run_name(source_study, "judge", spec.endpoint, spec.benchmark), tags
    ) as run:
        run.params(params)
        run.metrics({re.sub(r"[^\w\-. /]", "_", k): float(v) for k, v in metrics.items()})
        run.flush()
        run.text("\n".join(json.dumps(r) for r in verdict_rows), "verdicts.jsonl")
    run_id = run.run_id
    return {"run_id": run_id, "metrics": metrics, "params": params}


#: Questions past ``limit`` whose weak-vs-strong prompt is asked ahead (see run_judge).
PREFILL_MARGIN = 30


def _weak_vs_strong_items(
    benchmark: Benchmark, gold: dict[str, str], systems: tuple[str, ...], limit: int | None
) -> list[JudgeItem]:
    """One item per question of the first ``limit + PREFILL_MARGIN`` with a gold answer,
    the systems split between the weak and the strong response (the distinct-responses
    prompt of any split routing)."""
    if benchmark.weak_response is None or benchmark.strong_response is None:
        raise DataError(f"benchmark {benchmark.name!r} has no response texts; the judge needs them")
    items: list[JudgeItem] = []
    rows = zip(benchmark.prompt_ids, benchmark.prompts, benchmark.weak_response,
               benchmark.strong_response, strict=True)
    for pid, prompt, weak, strong in rows:
        if prompt.strip() not in gold:
            continue
        responses = {name: (strong if i == 1 else weak) for i, name in enumerate(systems)}
        items.append(JudgeItem(pid, prompt, gold[prompt.strip()], responses))
        if limit is not None and len(items) >= limit + PREFILL_MARGIN:
            break
    return items


def run_study_judge(study: Study, *, data_dir: Path | None = None) -> str:
    """The study's [judge] step; returns a one-paragraph summary."""
    assert study.judge is not None
    spec = study.judge
    store = spec.params.get("store")
    if store and study.path is not None and not Path(store).is_absolute():
        # A reply store named in a study file lives beside it (committed with it).
        from dataclasses import replace

        spec = replace(spec, params={**spec.params, "store": str(study.path.parent / store)})
    out = run_judge(spec, spec.from_study or study.name, data_dir=data_dir)
    m = out["metrics"]
    lines = [
        f"judge {study.judge.endpoint} on {study.judge.benchmark} (MLflow run {out['run_id']}):"
    ]
    for pct in study.judge.pcts:
        scores = ", ".join(
            f"{s} {m.get(f'score_{pct:g}_{s}', float('nan')):.1f}" for s in study.judge.systems
        )
        lines.append(
            f"  CPT({pct:g}%): {scores}; {int(m[f'n_questions_{pct:g}'])} questions, "
            f"{int(m[f'n_unparseable_{pct:g}'])} unparseable"
        )
    return "\n".join(lines)
