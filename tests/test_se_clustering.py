"""Clustering by bidirectional entailment: ours vs the sequential definition and the
jlko/semantic_uncertainty reference. The NLI here is a pure-logic stand-in (a table)."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest

from harness.labels.se.clustering import (
    cluster_answers,
    cluster_many,
    normalize_answer,
    reference_semantic_ids,
)


class TableNLI:
    """Entailment from a set of (premise, hypothesis) pairs; records every call."""

    name = "table"

    def __init__(self, pairs: set[tuple[str, str]]) -> None:
        self.pairs = pairs
        self.calls = 0
        self.batches: list[int] = []

    def entails(self, items: Sequence[tuple[str, str, str]]) -> list[bool]:
        self.calls += len(items)
        self.batches.append(len(items))
        return [p == h or (p, h) in self.pairs for _, p, h in items]


def sequential_ids(answers: list[str], nli: TableNLI) -> list[int]:
    """Method.md step 2 written plainly: compare with each representative in order."""
    reps: list[str] = []
    ids = []
    for a in answers:
        for c, r in enumerate(reps):
            if nli.entails([("q", a, r)])[0] and nli.entails([("q", r, a)])[0]:
                ids.append(c)
                break
        else:
            reps.append(a)
            ids.append(len(reps) - 1)
    return ids


def test_normalize_answer() -> None:
    assert normalize_answer("The Paris.") == "paris"
    assert normalize_answer("  a   Cat! ") == "cat"
    assert normalize_answer("54.0") == "54"
    assert normalize_answer("$1,200") == "1200"
    assert normalize_answer("0.50") == "0.5"


def test_dedup_and_entailment_clusters() -> None:
    both = {("City of Paris", "Paris"), ("Paris", "City of Paris")}
    nli = TableNLI(both)
    answers = ["Paris", "paris.", "The Paris", "Lyon", "City of Paris"]
    res = cluster_answers("capital of France?", answers, nli)
    assert res.ids == [0, 0, 0, 1, 0]
    # distinct forms: paris, lyon, city of paris → 2 forward calls, 1 backward call
    assert res.nli_calls == 3 == nli.calls
    assert nli.batches == [2, 1]


def test_one_direction_is_not_enough() -> None:
    nli = TableNLI({("Paris, France", "Paris")})  # only forward
    assert cluster_answers("q", ["Paris", "Paris, France"], nli).ids == [0, 1]


def test_numbers_cluster_without_nli() -> None:
    nli = TableNLI(set())
    res = cluster_answers("how many?", ["54", "54.0", "36", "$36", "36."], nli)
    assert res.ids == [0, 0, 1, 1, 1]
    assert nli.calls == 0


def test_reference_algorithm_calls_every_ordered_pair() -> None:
    both = {("City of Paris", "Paris"), ("Paris", "City of Paris")}
    nli = TableNLI(both)
    answers = ["Paris", "paris.", "The Paris", "Lyon", "City of Paris"]
    ref = reference_semantic_ids("q", answers, nli)
    # no dedup: "paris." is its own cluster to the table; i=0 vs 4 others, then i=1 vs 3,
    # i=2 vs 2, i=3 vs 1 → (4 + 3 + 2 + 1) * 2 = 20 calls, batch size 1
    assert ref.nli_calls == 20
    assert set(nli.batches) == {1}
    assert ref.ids[0] == ref.ids[4]


@pytest.mark.parametrize("seed", range(20))
def test_batched_rounds_equal_sequential_definition(seed: int) -> None:
    rng = random.Random(seed)
    vocab = [f"answer {i}" for i in range(6)]
    # a random, not necessarily symmetric or transitive, entailment relation
    pairs = {(a, b) for a in vocab for b in vocab if a != b and rng.random() < 0.4}
    answers = [rng.choice(vocab) for _ in range(8)]
    ours = cluster_answers("q", answers, TableNLI(pairs)).ids
    assert ours == sequential_ids(answers, TableNLI(pairs))


def test_cluster_many_equals_one_by_one_in_fewer_batches() -> None:
    rng = random.Random(7)
    vocab = [f"answer {i}" for i in range(5)] + ["12", "12.0", "7"]
    pairs = {(a, b) for a in vocab for b in vocab if a != b and rng.random() < 0.5}
    sets = [[rng.choice(vocab) for _ in range(5)] for _ in range(30)]
    one_by_one = [cluster_answers("q", s, TableNLI(pairs)) for s in sets]
    batched_nli = TableNLI(pairs)
    together = cluster_many(["q"] * len(sets), sets, batched_nli)
    assert [r.ids for r in together] == [r.ids for r in one_by_one]
    assert [r.nli_calls for r in together] == [r.nli_calls for r in one_by_one]
    assert len(batched_nli.batches) <= 2 * 5
