"""Semantic clustering of sampled answers by bidirectional entailment.

:func:`cluster_answers` (ours): the first answer opens a cluster; each later answer joins
the first cluster whose representative it entails and is entailed by (question prepended
to both), else opens a new one (method.md step 2). Before any NLI call:

* answers equal after :func:`normalize_answer` (case, punctuation, articles, spaces) are
  merged: only distinct normal forms are clustered, and their members follow them;
* two answers that are both plain numbers (after normalisation) are equivalent exactly
  when the numbers are equal — no NLI call, "54" never entails "36".

NLI calls go out in batches: each round asks every still-unassigned distinct answer against
one representative, forward direction first, and only the pairs that pass go backward.

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


def cluster_answers(question: str, answers: Sequence[str], nli: NLIBackend) -> ClusteringResult:
    """Cluster ``answers`` to ``question`` by bidirectional entailment with representatives."""
    norms = [normalize_answer(a) for a in answers]
    distinct: list[int] = []  # index of the first answer of each distinct normal form
    seen: dict[str, int] = {}
    for i, n in enumerate(norms):
        if n not in seen:
            seen[n] = len(distinct)
            distinct.append(i)
    form_cluster = [-1] * len(distinct)
    reps: list[int] = []  # distinct-form index of each cluster's representative
    calls = 0
    pending = list(range(len(distinct)))
    while pending:
        # The earliest pending form opens a cluster and is its representative.
        rep = pending.pop(0)
        form_cluster[rep] = len(reps)
        reps.append(rep)
        rep_text = answers[distinct[rep]]
        rep_norm = norms[distinct[rep]]
        to_ask: list[int] = []
        for f in pending:
            fn = norms[distinct[f]]
            if _is_number(fn) and _is_number(rep_norm):
                continue  # different numbers (same ones were merged above): not equivalent
            to_ask.append(f)
        if to_ask:
            fwd = nli.entails([(question, answers[distinct[f]], rep_text) for f in to_ask])
            calls += len(to_ask)
            passed = [f for f, ok in zip(to_ask, fwd, strict=True) if ok]
            if passed:
                bwd = nli.entails([(question, rep_text, answers[distinct[f]]) for f in passed])
                calls += len(passed)
                joined = {f for f, ok in zip(passed, bwd, strict=True) if ok}
                for f in joined:
                    form_cluster[f] = form_cluster[rep]
                pending = [f for f in pending if f not in joined]
    # Each pending form was compared with every earlier representative before it became one,
    # which is the sequential algorithm's order with the comparisons batched per round.
    ids = [form_cluster[seen[n]] for n in norms]
    return ClusteringResult(ids=ids, nli_calls=calls)


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
