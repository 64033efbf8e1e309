"""USD cost: token counting, the price table, routing masks, MT-Bench over both turns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import cost
from harness.errors import ConfigError


def test_cl100k_is_exact_and_offline() -> None:
    counts, method = cost.count_tokens(["hello world", "The quick brown fox"], "cl100k_base")
    assert "cl100k_base" in method and "estimate" not in method
    assert counts.tolist() == [2, 4]
    enc, _ = cost._cl100k()  # type: ignore[misc]
    # Token ids published for cl100k_base ("hello world" → [15339, 1917]).
    assert enc.encode_ordinary("hello world") == [15339, 1917]


def test_estimate_is_chars_over_four_and_says_so() -> None:
    counts, method = cost.count_tokens(["abcd", "abcde", ""], "estimate")
    assert counts.tolist() == [1, 2, 0]
    assert method.startswith("estimate")


def test_default_prices_have_sources_and_find_aliases() -> None:
    prices = cost.load_prices()
    gpt4 = prices.get("gpt-4-1106-preview")
    assert (
        gpt4.input_per_mtok == 10.0 and gpt4.output_per_mtok == 30.0 and gpt4.source and gpt4.date
    )
    assert prices.get("Mixtral-8x7B-Instruct-v0.1").model == "mistralai/Mixtral-8x7B-Instruct-v0.1"
    with pytest.raises(ConfigError, match="no price for model 'nope'"):
        prices.get("nope")


def test_bad_price_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text('[models.m]\ninput_per_mtok = "cheap"\noutput_per_mtok = 1\n')
    with pytest.raises(ConfigError, match="models.'m'"):
        cost.load_prices(bad)
    bad.write_text('[models.m]\ninput_per_mtok = 1\noutput_per_mtok = 1\ntokenizer = "gpt2"\n')
    with pytest.raises(ConfigError, match="tokenizer"):
        cost.load_prices(bad)
    with pytest.raises(ConfigError, match="not found"):
        cost.load_prices(tmp_path / "missing.toml")


def test_strong_mask_sends_exactly_the_share_highest_first() -> None:
    scores = np.array([0.9, 0.1, 0.5, 0.5, 0.5, 0.3])
    mask = cost.strong_mask_at_share(scores, 0.5)
    assert mask.sum() == 3 and mask[0] and not mask[1] and not mask[5]
    # Ties at the boundary are split by a seeded draw: reproducible, and seeds differ.
    assert (cost.strong_mask_at_share(scores, 0.5, seed=0) == mask).all()
    picks = {tuple(cost.strong_mask_at_share(scores, 0.34, seed=s)) for s in range(20)}
    assert len(picks) > 1
    assert cost.strong_mask_at_share(scores, 0.0).sum() == 0
    assert cost.strong_mask_at_share(scores, 1.0).all()


def test_routed_cost_and_compute_cost() -> None:
    costs = cost.PromptCosts(np.array([1.0, 1.0, 1.0]), np.array([10.0, 20.0, 30.0]))
    assert costs.routed(np.array([True, False, True])) == 41.0
    prices = cost.load_prices()
    per_query = cost.router_compute_usd_per_query(3600.0, prices)
    assert per_query == pytest.approx(prices.usd_per_core_hour)


def test_gsm8k_costs_from_response_texts(data_dir: Path) -> None:
    from harness.benchmarks.routellm import load_gsm8k

    bench = load_gsm8k(data_dir)
    c = cost.prompt_costs(bench)
    assert c.strong_usd.shape == (len(bench),) and (c.strong_usd > 0).all()
    # GPT-4 Turbo costs far more per prompt than Mixtral at these list prices.
    assert c.strong_usd.sum() > 10 * c.weak_usd.sum()
    assert "tiktoken" in c.methods["gpt-4-1106-preview"]
    assert "estimate" in c.methods["mistralai/Mixtral-8x7B-Instruct-v0.1"]


def test_mt_bench_cost_counts_both_turns(data_dir: Path) -> None:
    from harness.benchmarks.routellm import load_mt_bench, load_mt_bench_turns

    bench = load_mt_bench(data_dir)
    both = cost.mt_bench_prompt_costs(bench, load_mt_bench_turns(data_dir))
    turn1 = cost.prompt_costs(bench)
    assert both.strong_usd.shape == (len(bench),)
    assert (both.strong_usd > turn1.strong_usd).all()


def test_token_counts_are_counted_once_and_read_back_from_disk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ROUTERLAB_CACHE_DIR", str(tmp_path / "cache"))
    calls: list[list[str]] = []

    def count(batch: list[str]) -> list[int]:
        calls.append(batch)
        return [len(t.split()) for t in batch]

    texts = ["one two three", "four", "one two three"]
    first = cost._counted_with_cache(texts, "words", count)
    assert first.tolist() == [3, 1, 3] and calls == [["one two three", "four"]]
    again = cost._counted_with_cache([*texts, "five six"], "words", count)
    assert again.tolist() == [3, 1, 3, 2] and calls[1:] == [["five six"]]  # only the new one
    other = cost._counted_with_cache(["four"], "other tokenizer", count)
    assert other.tolist() == [1] and calls[2:] == [["four"]]  # counts are per tokenizer
    # the real tokenizer gives the same counts from the cache as fresh
    fresh, method = cost.count_tokens(["Hello world, routers!"], "cl100k_base")
    cached, _ = cost.count_tokens(["Hello world, routers!"], "cl100k_base")
    assert fresh.tolist() == cached.tolist() and "cl100k_base" in method
