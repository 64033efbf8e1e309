"""Semantic clustering of sampled answers by bidirectional entailment.

:func:`cluster_answers` (ours): the first answer opens a cluster; each later answer joins
the first cluster whose representative it entails and is entailed by (question prepended
to both), else opens a new one (method.md step 2). Before any NLI call:

* answers equal after :func:`normalize_answer` (case, punctuation, articles, spaces) are
  merged: only distinct normal forms are clustered, and their members follow them;
* two answers that are both plain numbers (after normalisation) are equivalent exactly
  when the numbers are equal — no NLI call, "54" never entails "36".

NLI calls go out in batches: each round asks every still-unassigned distinct answer against
one representative, forward direction first, and only the pairs that pass go backward;
:func:`cluster_many` runs the rounds of many answer sets (prompts, models) in lockstep, so a
whole corpus needs at most 2K backend batches.

:func:`reference_semantic_ids` is the reference algorithm of jlko/semantic_uncertainty
``get_semantic_ids``: one NLI call per ordered pair (i, j) for all i < j where i opens a
cluster, batch size 1, no de-duplication; bench/clustering.py compares the two.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

from harness.labels.se.nli import NLIBackend

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def normalize_answer(text: str) -> str:
    """SQuAD-style normal form: lower case, no punctuation (but keep decimal points and
    minus signs of plain numbers), no articles, single spaces."""
    t = text.strip().lower().replace(",", "")
    t = t.rstrip(".").strip()
    if _NUMBER.match(t.replace("$", "").strip()):
        return _number_form(t.replace("$", "").strip())
    t = t.translate(_PUNCT)
    t = _ARTICLES.sub(" ", t)
    return " ".join(t.split())


def _number_form(t: str) -> str:
    x = float(t)
    return str(int(x)) if x == int(x) else repr(x)


def _is_number(norm: str) -> bool:
    return bool(_NUMBER.match(norm))


@dataclass
class ClusteringResult:
    """Cluster id per answer (0, 1, ... in order of first appearance) and the NLI calls made."""

    ids: list[int]
    nli_calls: int

    @property
    def n_clusters(self) -> int:
        return len(set(self.ids))


class _SetState:
    """Clustering state of one answer set while :func:`cluster_many` runs its rounds."""

    def __init__(self, question: str, answers: Sequence[str]) -> None:
        self.question = question
        self.answers = list(answers)
        self.norms = [normalize_answer(a) for a in answers]
        self.distinct: list[int] = []  # index of the first answer of each distinct form
        self.form_of: dict[str, int] = {}
        for i, n in enumerate(self.norms):
            if n not in self.form_of:
                self.form_of[n] = len(self.distinct)
                self.distinct.append(i)
        self.form_cluster = [-1] * len(self.distinct)
        self.n_clusters = 0
        self.pending = list(range(len(self.distinct)))
        self.calls = 0
        self.rep = -1

    def text(self, form: int) -> str:
        return self.answers[self.distinct[form]]

    def open_cluster(self) -> list[int]:
        """The earliest pending form becomes a representative; returns the forms to ask."""
        self.rep = self.pending.pop(0)
        self.form_cluster[self.rep] = self.n_clusters
        self.n_clusters += 1
        rep_norm = self.norms[self.distinct[self.rep]]
        # Two different plain numbers (equal ones were merged) are never equivalent.
        return [
            f
            for f in self.pending
            if not (_is_number(self.norms[self.distinct[f]]) and _is_number(rep_norm))
        ]

    def join(self, forms: set[int]) -> None:
        for f in forms:
            self.form_cluster[f] = self.form_cluster[self.rep]
        self.pending = [f for f in self.pending if f not in forms]

    def result(self) -> ClusteringResult:
        ids = [self.form_cluster[self.form_of[n]] for n in self.norms]
        return ClusteringResult(ids=ids, nli_calls=self.calls)


def cluster_many(
    questions: Sequence[str], answer_sets: Sequence[Sequence[str]], nli: NLIBackend
) -> list[ClusteringResult]:
    """Cluster several answer sets at once, batching NLI calls across all of them.

    Round r: every set still holding unassigned answers opens its next cluster, and all
    (answer ⇒ representative) checks of all sets go to the backend in one batch; the pairs
    that pass are checked backwards in a second batch. At most K rounds whatever the number
    of sets, so a batching backend (MNLI classifier, embeddings, a concurrent API client)
    sees few large batches. Each answer meets the representatives in the order the
    sequential definition uses, so the clusters are the same.
    """
    states = [_SetState(q, a) for q, a in zip(questions, answer_sets, strict=True)]
    active = [s for s in states if s.pending]
    while active:
        asks = [(s, f) for s in active for f in s.open_cluster()]
        if asks:
            fwd = nli.entails([(s.question, s.text(f), s.text(s.rep)) for s, f in asks])
            passed = [(s, f) for (s, f), ok in zip(asks, fwd, strict=True) if ok]
            bwd = (
                nli.entails([(s.question, s.text(s.rep), s.text(f)) for s, f in passed])
                if passed
                else []
            )
            joined: dict[int, set[int]] = {}
            for s, _ in asks:
                s.calls += 1
            for (s, f), ok in zip(passed, bwd, strict=True):
                s.calls += 1
                if ok:
                    joined.setdefault(id(s), set()).add(f)
            for s in active:
                s.join(joined.get(id(s), set()))
        active = [s for s in active if s.pending]
    return [s.result() for s in states]


def cluster_answers(question: str, answers: Sequence[str], nli: NLIBackend) -> ClusteringResult:
    """Cluster ``answers`` to ``question`` by bidirectional entailment with representatives."""
    return cluster_many([question], [answers], nli)[0]


def equal_answer_clusters(answers: Sequence[str]) -> ClusteringResult:
    """Clusters of equal answers (in order of first appearance), no NLI: for answers whose
    meaning is their exact value, such as the final number of a math solution."""
    first: dict[str, int] = {}
    ids = [first.setdefault(a, len(first)) for a in answers]
    return ClusteringResult(ids=ids, nli_calls=0)


def reference_semantic_ids(
    question: str, answers: Sequence[str], nli: NLIBackend
) -> ClusteringResult:
    """jlko/semantic_uncertainty ``get_semantic_ids`` (strict entailment): every i that opens
    a cluster is compared with every later j, one NLI call per direction, batch size 1."""
    ids = [-1] * len(answers)
    calls = 0
    next_id = 0
    for i in range(len(answers)):
        if ids[i] != -1:
            continue
        ids[i] = next_id
        for j in range(i + 1, len(answers)):
            a = nli.entails([(question, answers[i], answers[j])])[0]
            b = nli.entails([(question, answers[j], answers[i])])[0]
            calls += 2
            if a and b:
                ids[j] = next_id
        next_id += 1
    return ClusteringResult(ids=ids, nli_calls=calls)
