"""Running a study: every combination once, as a child MLflow run, resumable.

``run_study`` opens (or re-opens) the study's parent run and evaluates each combination of
:meth:`studies.spec.Study.combinations` that has no finished run yet: a finished run carries
the tag ``routerlab.key`` (the combination's config hash) and ``routerlab.complete = 1``,
written last, so a run interrupted half-way is redone and a finished one is skipped.

Per combination: labels (loaded once per label source and params, subsampled for
``train_fraction``) → :func:`harness.pipeline.router_scores` (embeddings, decontamination,
fit, score) → :func:`harness.evaluation.evaluate_scores` (curve, CPT, CIs, MLflow) → the
USD cost at CPT(50 %) / CPT(80 %) (:mod:`harness.cost`), logged into the same run.

Several workers (processes, machines sharing the store) may run one study at once: each
combination is evaluated only by the worker that claims it (:mod:`studies.claims`); a worker
that dies leaves its combination to the others once its claim lapses. Before redoing a
combination, runs of it that never completed (a killed worker's ``RUNNING`` run, or a
``FINISHED`` one without its ``complete`` tag) are closed as ``KILLED`` / ``FAILED``, so no
incomplete run stays beside its redo.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path
from typing import Any

import numpy as np

from harness import cost, paths, tracking
from harness.embeddings import DEFAULT_MODEL, EmbeddingCache, embed, model_cache_key
from harness.errors import ConfigError
from harness.metrics import Grid
from harness.protocols import benchmark_ref
from harness.records import Benchmark, LabelSet
from harness.tracking import schema
from routers.base import Router
from studies.claims import DEFAULT_LEASE_SECONDS, Claim, ClaimBoard
from studies.spec import Combination, Study

log = logging.getLogger(__name__)


@dataclass
class StudyOutcome:
    """What a study run did."""

    study: str
    parent_run_id: str | None
    total: int
    skipped: int
    ran: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    by_others: int = 0  # finished meanwhile by other workers of the same study


class ClaimLost(RuntimeError):
    """Another worker took this combination over (our lease lapsed); our run is discarded."""


def finished_keys(study: str) -> set[str]:
    """Keys of the study's combinations that have a complete run."""
    runs = tracking.find_runs(
        filter=f"tags.`{schema.STUDY}` = '{study}' and tags.`{schema.COMPLETE}` = '1' "
        "and attributes.status = 'FINISHED'"
    )
    return {r.data.tags[schema.KEY] for r in runs if schema.KEY in r.data.tags}


def _is_complete(run: Any) -> bool:
    return bool(run.info.status == "FINISHED" and run.data.tags.get(schema.COMPLETE) == "1")


def close_unfinished_runs(study: str, key: str) -> list[str] | None:
    """None when ``key`` already has a complete run (another worker finished it); else mark
    its runs that never completed as KILLED (still RUNNING: their worker died) or FAILED
    (FINISHED but without the ``complete`` tag) and return their ids. Call only while
    holding the combination's claim: then no live worker is writing any of them. One query
    answers both questions (it runs once per combination of every study)."""
    runs = tracking.find_runs(
        filter=f"tags.`{schema.STUDY}` = '{study}' and tags.`{schema.KEY}` = '{key}'"
    )
    if any(_is_complete(run) for run in runs):
        return None
    mlflow_client = tracking.client()
    closed = []
    for run in runs:
        if run.info.status in ("RUNNING", "SCHEDULED"):
            status = "KILLED"
        elif run.info.status == "FINISHED":
            status = "FAILED"
        else:
            continue
        mlflow_client.set_tag(run.info.run_id, schema.tag("closed"), f"{status} before redo")
        mlflow_client.set_terminated(run.info.run_id, status=status)
        log.info("closed unfinished run %s of %s as %s", run.info.run_id, key, status)
        closed.append(run.info.run_id)
    return closed


def _existing_parent(study: str) -> str | None:
    runs = tracking.find_runs(filter={schema.STUDY: study, schema.KIND: "parent"})
    return runs[0].info.run_id if runs else None


def subsample_labels(labels: LabelSet, fraction: float, seed: int) -> LabelSet:
    """A seeded share of the label records (Figure 1's training-set sizes)."""
    if fraction >= 1.0:
        return labels
    n = len(labels.records)
    k = max(1, int(round(fraction * n)))
    idx = np.sort(np.random.default_rng(seed).choice(n, size=k, replace=False))
    meta = {**labels.meta, "train_fraction": fraction}
    return LabelSet(
        labels.records.iloc[idx].reset_index(drop=True),
        labels.strong_models,
        labels.weak_models,
        labels.source,
        meta,
    )


class StudyLoader:
    """Benchmarks, label sets and prompt costs, each loaded once per study run."""

    def __init__(self, data_dir: Path, model_pair: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.model_pair = model_pair or {}
        self._benchmarks: dict[str, Benchmark] = {}
        self._costs: dict[str, Any] = {}
        self._embed_seconds: dict[str, float] = {}
        #: Fitted routers by (router, params, training rows), shared by every benchmark.
        self.fitted: dict[str, Router] = {}

    def embed_seconds_per_query(self, model: str, n: int = 64) -> float:
        """Measured time to embed one query with ``model`` (the router's query cost).

        Once per embedding model per study. The embedding cache keeps how long encoding
        took when its vectors were computed (on this machine: the cache is local); with at
        least ``n`` texts timed that mean is the answer and no model is loaded (loading and
        timing it cost ~18 s of a 2-minute grid). Else ``n`` prompts are embedded into a
        throw-away cache and timed (the study's own embeddings come from the cache, so their
        time says nothing), and the measurement is added to the cache for later studies. The
        prompts are taken in turn from every benchmark loaded so far (sorted by name: the
        keyed combinations load all of the study's benchmarks first), so one number stands
        for the study's mix of query lengths.
        """
        if model not in self._embed_seconds:
            cache = EmbeddingCache()
            key = model_cache_key(model)
            recorded = cache.seconds_per_text(key, min_texts=n)
            if recorded is None:
                pools = [self._benchmarks[name].prompts for name in sorted(self._benchmarks)]
                sample = [p for row in zip_longest(*pools) for p in row if p is not None][:n]
                with tempfile.TemporaryDirectory() as tmp:
                    scratch = EmbeddingCache(Path(tmp) / "embeddings.sqlite")
                    embed(sample[:2], model, cache=scratch, show_progress=False)  # load model
                    started = time.perf_counter()
                    embed(sample, model, cache=scratch, show_progress=False)
                    elapsed = time.perf_counter() - started
                cache.record_encode_time(key, len(sample), elapsed)
                recorded = elapsed / max(len(sample), 1)
            self._embed_seconds[model] = recorded
        return self._embed_seconds[model]

    def benchmark(self, name: str) -> Benchmark:
        if name not in self._benchmarks:
            from harness.benchmarks import load_benchmark

            bench = load_benchmark(name, self.data_dir)
            for side in ("weak", "strong"):
                want = self.model_pair.get(side)
                got = getattr(bench, f"{side}_model")
                if want and want != got:
                    raise ConfigError(
                        f"study's model_pair.{side} is {want!r} but benchmark {name!r} has "
                        f"{got!r}; fix [model_pair] or drop it for studies mixing pairs"
                    )
            self._benchmarks[name] = bench
        return self._benchmarks[name]

    def labels(self, source: str, params: dict[str, Any]) -> LabelSet:
        """The label set (through the one label cache, :mod:`harness.labels.cache`)."""
        from harness.labels.cache import load_label_set

        return load_label_set(source, params, self.data_dir)

    def prompt_costs(self, benchmark: Benchmark) -> cost.PromptCosts:
        """Per-prompt USD of ``benchmark``'s prompts (computed once on the full benchmark)."""
        if benchmark.name not in self._costs:
            # a custom file is named by its stem: reload it from its path
            full = self.benchmark(benchmark_ref(benchmark))
            self._costs[benchmark.name] = (
                cost.benchmark_prompt_costs(full, self.data_dir), full.prompt_ids
            )
        costs, full_ids = self._costs[benchmark.name]
        return cost.costs_of(costs, full_ids, benchmark.prompt_ids)


def with_data_fingerprints(combos: list[Combination], loader: StudyLoader) -> list[Combination]:
    """The combinations with their data fingerprint in the key: the scored benchmark's, for
    leave-one-benchmark-out every training benchmark's, and the label set's content (a label
    file that grows in chunks, like the SE set, or a rebuilt training file gives new keys,
    so a rerun scores again instead of keeping results made on the old labels)."""
    from dataclasses import replace

    from harness.data import data_fingerprint
    from harness.tracking.writer import labels_dataset

    prints: dict[str, str] = {}
    label_prints: dict[str, str] = {}

    def fingerprint(name: str) -> str:
        if name not in prints:
            prints[name] = data_fingerprint(loader.benchmark(name).source_sha256)[:16]
        return prints[name]

    def label_fingerprint(combo: Combination) -> str:
        assert combo.labels is not None
        params = combo.system_spec().training_label_params(loader.benchmark(combo.benchmark))
        key = f"{combo.labels}:{sorted(params.items())!r}"
        if key not in label_prints:
            _, digest = labels_dataset(loader.labels(combo.labels, params))
            label_prints[key] = digest[:16]
        return label_prints[key]

    out = []
    for combo in combos:
        sha = fingerprint(combo.benchmark)
        if combo.train_benchmarks or combo.labels is not None:
            parts = {name: fingerprint(name) for name in (combo.benchmark,
                                                           *combo.train_benchmarks)}
            if combo.labels is not None:
                parts["labels"] = label_fingerprint(combo)
            sha = data_fingerprint(parts)[:16]
        out.append(replace(combo, data_sha256=sha))
    return out


def with_resolved_params(combos: list[Combination]) -> list[Combination]:
    """The combinations with every router and label-source parameter, defaults included,
    in the key (constructing a plugin is cheap: heavy imports happen in fit/load)."""
    from dataclasses import replace

    from harness.pipeline import resolve_params

    out = []
    for combo in combos:
        try:
            resolved: dict[str, Any] = resolve_params(
                combo.router, combo.router_params, combo.labels, combo.label_params
            )
        except TypeError as exc:  # an unknown keyword in the study file
            raise ConfigError(f"study combination {combo.describe()}: {exc}") from None
        out.append(replace(combo, resolved_params=resolved))
    return out


def with_training_benchmarks(
    combos: list[Combination], loader: StudyLoader, benchmarks: tuple[str, ...]
) -> list[Combination]:
    """Leave-one-benchmark-out combinations with their training benchmarks (the study's
    other benchmarks of the same model pair); a benchmark without such a partner is skipped."""
    from dataclasses import replace

    from harness.protocols import LEAVE_ONE_BENCHMARK_OUT, leave_one_out_benchmarks

    def pair_of(name: str) -> tuple[str, str]:
        bench = loader.benchmark(name)
        return bench.weak_model, bench.strong_model

    out = []
    for combo in combos:
        if combo.protocol != LEAVE_ONE_BENCHMARK_OUT or combo.train_benchmarks:
            out.append(combo)
            continue
        try:
            train = leave_one_out_benchmarks(combo.benchmark, benchmarks, pair_of)
        except ConfigError as exc:
            log.info("skipping %s: %s", combo.describe(), exc)
            continue
        out.append(replace(combo, train_benchmarks=train))
    return out


def keyed_combinations(study: Study, loader: StudyLoader) -> list[Combination]:
    """The study's combinations with their full keys: data fingerprints and resolved params."""
    combos = with_training_benchmarks(list(study.combinations()), loader, study.benchmarks)
    return with_resolved_params(with_data_fingerprints(combos, loader))


def score_combination(
    combo: Combination, loader: StudyLoader
) -> tuple[Benchmark, np.ndarray, dict[str, Any], LabelSet | None]:
    """Scores of one combination on its benchmark, the (decontaminated) benchmark, info, and
    the label set the router was trained on (None for label-free routers)."""
    from harness.systems import score_system

    benchmark = loader.benchmark(combo.benchmark)
    spec = combo.system_spec()
    labels: LabelSet | None = None
    if combo.labels is not None:
        labels = subsample_labels(
            loader.labels(combo.labels, spec.training_label_params(benchmark)),
            combo.train_fraction, combo.seed,
        )
    started = time.perf_counter()
    routed = score_system(
        spec, benchmark, data_dir=loader.data_dir, label_set=labels, fitted=loader.fitted,
        # Embedding a benchmark the first time takes minutes (MMLU: 14k prompts); its bar
        # shows only then, as later runs read the embedding cache.
        show_progress=True,
    )
    scores = np.asarray(routed.scores, dtype=float)
    if labels is None:  # label-free routers (random)
        return routed.benchmark, scores, {"pipeline_seconds": time.perf_counter() - started}, None
    info = dict(routed.info)
    info["embed_seconds_per_query"] = loader.embed_seconds_per_query(
        str(info.get("embedding_model", DEFAULT_MODEL))
    )
    info.setdefault("pipeline_seconds", time.perf_counter() - started)
    info.setdefault("n_train", len(labels.records))
    return routed.benchmark, scores, info, labels


def scores_key(benchmark: Benchmark) -> str:
    return hashlib.sha256("\n".join(benchmark.prompt_ids).encode()).hexdigest()[:12]


def combination_run_name(combo: Combination, study: Study) -> str:
    """A readable name, unique within the study: who, on what, with how much training data."""
    pair = f"{combo.labels}×{combo.router}" if combo.labels else combo.router
    return tracking.run_name(
        study.name, combo.system, pair, combo.benchmark,
        train=combo.train_fraction if combo.labels else None,
        folds=combo.n_folds, seed=combo.seed,
    )


def logged_params(combo: Combination) -> dict[str, Any]:
    """The router's and label source's parameters as they ran: every resolved value,
    defaults included, with the seed the run gave the router."""
    resolved = combo.resolved_params or {}
    router_params = dict(resolved.get("router", combo.router_params))
    if "seed" in router_params and "seed" not in combo.router_params:
        router_params["seed"] = combo.seed  # build_router's rule: the combination's seed
    return {
        "router": combo.router,
        "router_params": router_params,
        "label_source": combo.labels or "none",
        "label_params": dict(resolved.get("labels", combo.label_params)),
    }


INFO_METRICS = (
    "n_train", "n_dropped", "pipeline_seconds", "score_seconds", "fit_seconds",
    "embed_seconds_per_query",
)


def run_combination(
    combo: Combination,
    study: Study,
    loader: StudyLoader,
    confirm: Callable[[], bool] | None = None,
) -> str:
    """Evaluate one combination as a child run; returns the MLflow run id.

    The run opens before the work, so its MLflow duration is the combination's real time;
    ``routerlab.complete`` is written last. ``confirm`` (the claim's) is asked right before;
    if the combination has passed to another worker meanwhile, the run ends FAILED."""
    from harness.evaluation import evaluate_scores, evaluation_tags

    tags = {
        schema.STUDY: study.name,
        schema.KEY: combo.key,
        schema.CONFIG_KEY: combo.config_key,
        schema.BENCHMARK: combo.benchmark,
        schema.TRAIN_FRACTION: f"{combo.train_fraction:g}",
        schema.SEED: str(combo.seed),
        schema.PROTOCOL: combo.protocol,
    }
    if combo.labels is not None:
        tags[schema.FEATURES] = combo.features
    tuned = study.tuned_record(
        combo.labels, combo.router, combo.benchmark, combo.protocol, combo.features
    )
    if tuned:
        # The report names the tuned values (per fold for nested cross-fit tuning); the run
        # says where they came from.
        values = {**tuned.get("router_params", {}), **tuned.get("label_params", {})}
        for name in sorted({k for p in combo.fold_router_params for k in p}):
            values[name] = [p.get(name) for p in combo.fold_router_params]
        tags[schema.tag("tuned")] = json.dumps(values, sort_keys=True, default=str)
        tags[schema.tag("tuned_from")] = str(tuned.get("optuna_study", ""))
    params = logged_params(combo)
    grid: Grid = "routellm" if combo.curve_grid == "routellm" else "exact"
    with tracking.open_run(
        combination_run_name(combo, study), evaluation_tags(combo.system, params, grid, tags)
    ) as run:
        benchmark, scores, info, labels = score_combination(combo, loader)
        params.update(
            train_fraction=combo.train_fraction, study=study.name, key=combo.key,
            n_folds=combo.n_folds if combo.n_folds is not None else "none",
            embedding_model=info.get("embedding_model", "none"),
            protocol=combo.protocol,
        )
        if combo.labels is not None:
            params["features"] = combo.features
        if combo.train_benchmarks:
            params["train_benchmarks"] = ",".join(combo.train_benchmarks)
        for name in ("folds", "fold_seed"):
            if name in info:
                params[f"info.{name}"] = info[name]
        result = evaluate_scores(
            benchmark, scores, system=combo.system, params=params, seed=combo.seed,
            extra_tags=tags, grid=grid, n_boot=combo.n_boot, run=run, labels=labels,
            figure=False,  # the report draws the study's figures once
        )
        costs = loader.prompt_costs(benchmark)
        usd, method = cost.cost_metrics(
            costs, scores, dict(result.metrics), seed=combo.seed,
            seconds_per_query=cost.router_seconds_per_query(info, len(benchmark)),
        )
        numbers = {name: float(info[name]) for name in INFO_METRICS
                   if isinstance(info.get(name), (int, float))}
        run.metrics({**usd, **numbers})
        run.params({"cost_method": method})
        if confirm is not None and not confirm():
            raise ClaimLost(f"{combo.describe()} was taken over by another worker")
        # One flush when the run closes writes params, metrics and, last, this tag.
        run.tags({schema.COMPLETE: "1"})
    return run.run_id


def _agree_parent(study: Study, board: ClaimBoard, n_combinations: int) -> str:
    """The study's one parent run, shared by all its workers (created by the first)."""
    known = board.parent()
    if known is not None:
        try:
            if tracking.client().get_run(known).info.lifecycle_stage == "active":
                return known
        except Exception:  # deleted from the store since
            pass
    candidate = _existing_parent(study.name)
    created = candidate is None
    if candidate is None:
        params = {
            "study": study.name,
            "file": str(study.path or ""),
            "combinations": n_combinations,
        }
        candidate = tracking.new_parent_run(
            f"study:{study.name}", params, tags={schema.STUDY: study.name}
        )
    winner = board.agree_parent(candidate, replacing=known)
    if winner != candidate and created:
        tracking.client().delete_run(candidate)
    return winner


def _evaluate_claimed(
    combo: Combination, claim: Claim, board: ClaimBoard, study: Study, loader: StudyLoader
) -> str | None:
    """Evaluate a claimed combination (None if another worker finished it meanwhile)."""
    try:
        if close_unfinished_runs(study.name, combo.key) is None:
            board.finish(claim, "done")
            return None
        run_id = run_combination(combo, study, loader, confirm=claim.confirm)
    except BaseException:
        board.finish(claim, "failed")  # free for another worker (or a rerun) at once
        raise
    board.finish(claim, "done")
    return run_id


def run_study(
    study: Study,
    *,
    data_dir: Path | None = None,
    progress: bool = True,
    on_done: Callable[[Combination, str], None] | None = None,
    lease_seconds: float = DEFAULT_LEASE_SECONDS,
    poll_seconds: float = 5.0,
) -> StudyOutcome:
    """Run every unfinished combination of ``study``; see the module docstring.

    Other workers may run the same study at the same time: this one evaluates only what it
    claims, waits while others hold the rest, and returns when every combination is
    finished (by anyone) or has failed here.
    """
    import mlflow
    from tqdm import tqdm

    started = time.perf_counter()
    data_dir = data_dir or paths.data_dir()
    loader = StudyLoader(data_dir, study.model_pair)
    combos = keyed_combinations(study, loader)
    tracking.open_store()  # several workers may start on one fresh store
    done = finished_keys(study.name)
    todo = [c for c in combos if c.key not in done]
    outcome = StudyOutcome(study.name, None, len(combos), len(combos) - len(todo))
    log.info(
        "study %s: %d combinations, %d finished before, %d to run",
        study.name,
        len(combos),
        outcome.skipped,
        len(todo),
    )
    if not todo:
        outcome.parent_run_id = _existing_parent(study.name)
        outcome.seconds = time.perf_counter() - started
        return outcome
    board = ClaimBoard(study.name, lease_seconds=lease_seconds)
    try:
        outcome.parent_run_id = _agree_parent(study, board, len(combos))
        pending = {c.key: c for c in todo}
        bar = tqdm(
            total=len(todo),
            desc=f"study {study.name}",
            unit="run",
            disable=not progress,
            miniters=1,  # cached runs first would make tqdm's adaptive miniters go silent
        )
        with mlflow.start_run(run_id=outcome.parent_run_id):
            while pending:
                claimed_any = False
                for key, combo in list(pending.items()):
                    claim = board.try_claim(key)
                    if claim is None:
                        continue  # a live worker holds it
                    claimed_any = True
                    del pending[key]
                    bar.set_postfix_str(combo.describe()[:60])
                    try:
                        run_id = _evaluate_claimed(combo, claim, board, study, loader)
                    except KeyboardInterrupt:
                        raise
                    except Exception as exc:  # one broken cell must not cost the rest
                        log.error("%s failed: %s: %s", combo.describe(), type(exc).__name__, exc)
                        log.debug("traceback", exc_info=True)
                        outcome.failed.append((combo.describe(), f"{type(exc).__name__}: {exc}"))
                        continue
                    finally:
                        bar.update(1)
                    if run_id is None:
                        outcome.by_others += 1
                        continue
                    outcome.ran.append(run_id)
                    if on_done is not None:
                        on_done(combo, run_id)
                if pending and not claimed_any:
                    # Everything left is held by live workers: wait for them to finish, fail
                    # or die (then their claims lapse and are taken over here).
                    finished = finished_keys(study.name) & set(pending)
                    for key in finished:
                        del pending[key]
                    outcome.by_others += len(finished)
                    bar.update(len(finished))
                    if pending:
                        time.sleep(poll_seconds)
        bar.close()
    finally:
        board.close()
    outcome.seconds = time.perf_counter() - started
    return outcome
