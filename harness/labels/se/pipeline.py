"""The SE label pipeline: prompts → samples of both models → clusters → SE per prompt.

Work streams: the weak and the strong model each draw their samples in their own thread
(one prompt at a time per model: its greedy answer and K samples in one batch), at most two
prompts ahead of the last one both have finished (a model waiting for the other lends it
its threads), and the main thread clusters prompt i as soon as both models are done with
it, so with local models the two generators and the NLI judge keep the cores busy. Every
LLM call goes through the cache: an interrupted run resumes where it stopped, and a
finished one re-runs from the cache in seconds.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from harness.labels.se.clustering import (
    ClusteringResult,
    cluster_answers,
    cluster_many,
    equal_answer_clusters,
)
from harness.labels.se.entropy import discrete_semantic_entropy, semantic_entropy
from harness.labels.se.nli import NLIBackend
from harness.labels.se.sampling import (
    MULTIPLE_CHOICE_DATASETS,
    SamplingConfig,
    choice_request,
    final_answer,
    greedy_request,
    reasons,
    sample_log_likelihoods,
    sample_requests,
)
from harness.labels.se.store import (
    LABEL_FILE_COLUMNS,
    SAMPLE_COLUMNS,
    responses_from_label_rows,
)
from harness.llm.client import Completion, LLMClient
from harness.training_data import prompt_sha256

log = logging.getLogger(__name__)

# The committed label file's columns, plus the run's NLI call count per prompt.
SE_COLUMNS: tuple[str, ...] = (*LABEL_FILE_COLUMNS, *SAMPLE_COLUMNS, "nli_calls")


@dataclass
class ModelSE:
    """One model on one prompt: greedy answer, samples, clusters and SE values."""

    greedy: str
    samples: list[str]
    cluster_ids: list[int]
    log_likelihoods: list[float] | None  # length-normalised, one per sample
    se: float  # eq. 1-2 when log-probs exist, else the discrete SE
    se_discrete: float
    nli_calls: int


@dataclass
class PipelineStats:
    wall_s: float = 0.0
    prompts_done: int = 0
    prompts_total: int = 0
    stopped_early: bool = False
    tokens: dict[str, dict[str, int]] = field(default_factory=dict)
    nli_calls: int = 0


def _generate(
    client: LLMClient,
    dataset: str,
    prompt: str,
    cfg: SamplingConfig,
    cancel: threading.Event | None = None,
) -> tuple[Completion, list[Completion]]:
    if cancel is not None and cancel.is_set():
        raise CancelledError
    if dataset in MULTIPLE_CHOICE_DATASETS:
        return client.call(choice_request(dataset, prompt)), []
    # One batch: on an in-process model the greedy answer and the K samples decode as
    # parallel sequences sharing the prompt (about twice the tokens per second on CPU).
    greedy, *samples = client.call_batch(
        [greedy_request(dataset, prompt, cfg), *sample_requests(dataset, prompt, cfg)],
        cancel=cancel,
    )
    return greedy, samples


class _Lead:
    """Keeps each model's generator at most ``limit`` prompts ahead of the last prompt both
    have finished, and lends a waiting model's CPU threads to the other model.

    Why: the 0.5B model answers about three times as fast as the 1.5B. Unbounded, it ran
    ahead on its own core (twice the 1.5B's tokens after an hour, 15-20 prompts ahead) while
    the 1.5B, on the other, set the pace; the answers it banked sit in this machine's call
    cache, not in the committed label file. Bounded, the slow model gets both cores whenever
    the fast one is waiting: about 100 s per step-by-step GSM8K prompt instead of 2.6 min.
    """

    def __init__(self, clients: tuple[LLMClient, LLMClient], limit: int = 2) -> None:
        self.clients = clients
        self.limit = limit
        self.done = 0  # prompts both models have finished
        self.closed = False
        self.cond = threading.Condition()
        # Lending needs known thread counts and two models (not one client twice).
        self.base = [c.n_threads for c in clients]
        self.lend = clients[0] is not clients[1] and all(self.base)

    def wait_turn(self, who: int, i: int) -> None:
        """Block generator ``who`` (0 weak, 1 strong) until prompt ``i`` is its turn."""
        with self.cond:
            if i - self.done < self.limit and not self.closed:
                return
            other = self.clients[1 - who]
            if self.lend:
                other.set_threads(sum(int(n or 0) for n in self.base))
            try:
                while i - self.done >= self.limit and not self.closed:
                    self.cond.wait()
            finally:
                if self.lend:
                    other.set_threads(int(self.base[1 - who] or 0))
            if self.closed:
                raise CancelledError

    def finished(self, n: int) -> None:
        with self.cond:
            self.done = n
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()


def _generate_in_turn(
    lead: _Lead,
    who: int,
    i: int,
    dataset: str,
    prompt: str,
    cfg: SamplingConfig,
    cancel: threading.Event,
) -> tuple[Completion, list[Completion]]:
    lead.wait_turn(who, i)
    return _generate(lead.clients[who], dataset, prompt, cfg, cancel)


def _all_cached(client: LLMClient, dataset: str, prompt: str, cfg: SamplingConfig) -> bool:
    if dataset in MULTIPLE_CHOICE_DATASETS:
        return client.lookup(choice_request(dataset, prompt)) is not None
    reqs = [greedy_request(dataset, prompt, cfg), *sample_requests(dataset, prompt, cfg)]
    return all(client.lookup(r) is not None for r in reqs)


def model_se(
    question: str,
    greedy: Completion,
    samples: list[Completion],
    nli: NLIBackend,
    clustering: ClusteringResult | None = None,
    answers: list[str] | None = None,
) -> ModelSE:
    """Cluster one model's samples (unless ``clustering`` is given) and compute its SE.
    ``answers``: what of each sample is compared and stored (default: its text)."""
    texts = answers if answers is not None else [s.text.strip() for s in samples]
    result = clustering or cluster_answers(question, texts, nli)
    lls = sample_log_likelihoods(samples)
    discrete = discrete_semantic_entropy(result.ids)
    se = semantic_entropy(result.ids, lls) if lls is not None else discrete
    return ModelSE(
        greedy=greedy.text.strip(),
        samples=texts,
        cluster_ids=result.ids,
        log_likelihoods=lls,
        se=se,
        se_discrete=discrete,
        nli_calls=result.nli_calls,
    )


def choice_se(answer: Completion) -> ModelSE:
    """SE of a multiple-choice answer from its exact letter distribution.

    Stored in the per-sample columns as one "sample" per letter (cluster = letter, log-
    likelihood = the letter's log-prob), so every estimator reads it unchanged: ``entropy``
    is −Σ p log p over the letters (normalised over them), ``eq2`` and ``mc`` their mean
    −log p. ``discrete`` (cluster sizes) is log 4 for every prompt: it needs samples."""
    if not answer.choice_logprobs:
        raise ValueError("a multiple-choice answer needs choice_logprobs")
    letters = list(answer.choice_logprobs)
    lls = [float(answer.choice_logprobs[c]) for c in letters]
    ids = list(range(len(letters)))
    return ModelSE(
        greedy=answer.text.strip(),
        samples=letters,
        cluster_ids=ids,
        log_likelihoods=lls,
        se=semantic_entropy(ids, lls),
        se_discrete=discrete_semantic_entropy(ids),
        nli_calls=0,
    )


def run_se_pipeline(
    prompts: pd.DataFrame,
    *,
    weak: LLMClient,
    strong: LLMClient,
    nli: NLIBackend,
    sampling: SamplingConfig,
    time_budget_s: float | None = None,
    progress: bool = True,
    cached_only: bool = False,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, PipelineStats]:
    """SE values for every prompt (rows in the order of ``prompts``).

    Args:
        prompts: training prompts with columns dataset, row_id, prompt.
        weak / strong: clients of the two models (model_a = weak, model_b = strong).
        nli: the entailment backend for clustering.
        sampling: K, temperature, answer lengths, seed.
        time_budget_s: stop taking new prompts after this many seconds; the prompts finished
            by then are returned (a rerun with a larger budget continues from the cache).
        cached_only: keep only prompts whose samples of both models are all in the cache
            (writes the labels of an interrupted run without generating more).

    Returns:
        (se table with :data:`SE_COLUMNS`, greedy responses with :data:`RESPONSE_COLUMNS`,
        stats: wall time, tokens per model, NLI calls, whether it stopped early).
    """
    from tqdm.auto import tqdm

    start = time.monotonic()
    stats = PipelineStats(prompts_total=len(prompts))
    rows: list[dict[str, Any]] = []
    items = list(prompts[["dataset", "row_id", "prompt"]].itertuples(index=False, name=None))
    if cached_only:
        items = [
            it
            for it in items
            if _all_cached(weak, it[0], it[2], sampling)
            and _all_cached(strong, it[0], it[2], sampling)
        ]
        stats.prompts_total = len(items)
    with (
        ThreadPoolExecutor(1, thread_name_prefix="weak") as wpool,
        ThreadPoolExecutor(1, thread_name_prefix="strong") as spool,
    ):
        # Set on Ctrl-C or an error: the generators stop at their next decode step instead
        # of finishing the prompt they are on. At the time budget they do finish it: its
        # answers are cached for the next run.
        cancel = threading.Event()
        lead = _Lead((weak, strong))
        wf: list[Future[Any]] = [
            wpool.submit(_generate_in_turn, lead, 0, i, d, p, sampling, cancel)
            for i, (d, _, p) in enumerate(items)
        ]
        sf: list[Future[Any]] = [
            spool.submit(_generate_in_turn, lead, 1, i, d, p, sampling, cancel)
            for i, (d, _, p) in enumerate(items)
        ]
        # miniters=1: a resumed run answers its first prompts from the cache in
        # milliseconds, and tqdm's adaptive miniters then waits for hundreds of prompts
        # before it prints again (seen: a log stuck at 0/500 while 50 prompts were done).
        bar = tqdm(
            total=len(items), desc="SE labels", unit="prompt", disable=not progress, miniters=1
        )
        try:
            for i, (dataset, row_id, prompt) in enumerate(items):
                if time_budget_s is not None and time.monotonic() - start > time_budget_s:
                    stats.stopped_early = True
                    break
                wg, ws = wf[i].result()
                sg, ss = sf[i].result()
                if dataset in MULTIPLE_CHOICE_DATASETS:
                    a, b = choice_se(wg), choice_se(sg)
                elif reasons(dataset, sampling):
                    # Step-by-step solutions mean the number they end on.
                    wa = [final_answer(c.text) for c in ws]
                    sa = [final_answer(c.text) for c in ss]
                    a = model_se(prompt, wg, ws, nli, equal_answer_clusters(wa), wa)
                    b = model_se(prompt, sg, ss, nli, equal_answer_clusters(sa), sa)
                else:
                    # Both models' samples in one clustering run: shared NLI batches.
                    ca, cb = cluster_many(
                        [prompt, prompt],
                        [[c.text.strip() for c in ws], [c.text.strip() for c in ss]],
                        nli,
                    )
                    a = model_se(prompt, wg, ws, nli, ca)
                    b = model_se(prompt, sg, ss, nli, cb)
                sha = prompt_sha256(prompt)
                row = {
                    "dataset": dataset,
                    "row_id": str(row_id),
                    "prompt_sha256": sha,
                    "model_a": weak.endpoint.name,
                    "model_b": strong.endpoint.name,
                    "se_a": a.se,
                    "se_b": b.se,
                    "se_discrete_a": a.se_discrete,
                    "se_discrete_b": b.se_discrete,
                    "n_clusters_a": len(set(a.cluster_ids)),
                    "n_clusters_b": len(set(b.cluster_ids)),
                    "n_samples": len(a.samples),
                    "cluster_ids_a": list(a.cluster_ids),
                    "cluster_ids_b": list(b.cluster_ids),
                    "sample_ll_a": a.log_likelihoods,
                    "sample_ll_b": b.log_likelihoods,
                    "samples_a": list(a.samples),
                    "samples_b": list(b.samples),
                    "response_a": a.greedy,
                    "response_b": b.greedy,
                    "nli_calls": a.nli_calls + b.nli_calls,
                }
                rows.append(row)
                lead.finished(i + 1)
                stats.nli_calls += row["nli_calls"]
                if on_row is not None:
                    on_row(row)
                bar.update(1)
                bar.set_postfix(
                    tok_weak=weak.usage.prompt_tokens + weak.usage.completion_tokens,
                    tok_strong=strong.usage.prompt_tokens + strong.usage.completion_tokens,
                    hits=weak.usage.cache_hits + strong.usage.cache_hits,
                    nli=stats.nli_calls,
                    refresh=False,
                )
        except BaseException:
            cancel.set()
            raise
        finally:
            bar.close()
            lead.close()  # a generator waiting for its turn stops; one generating finishes
            for f in wf + sf:
                f.cancel()
    stats.wall_s = time.monotonic() - start
    stats.prompts_done = len(rows)
    clients = {c.endpoint.name: c for c in (weak, strong)}
    judge = getattr(nli, "client", None)
    if judge is not None:
        clients[f"nli:{judge.endpoint.name}"] = judge
    for name, c in clients.items():
        u = c.usage
        stats.tokens[name] = {
            "calls": u.calls,
            "cache_hits": u.cache_hits,
            "prompt_tokens": u.prompt_tokens,  # spent by this run
            "completion_tokens": u.completion_tokens,
            "total_prompt_tokens": u.total_prompt_tokens,  # incl. answers from the cache
            "total_completion_tokens": u.total_completion_tokens,
        }
    se = pd.DataFrame(rows, columns=list(SE_COLUMNS))
    resp = responses_from_label_rows(se)
    return se, resp, stats
