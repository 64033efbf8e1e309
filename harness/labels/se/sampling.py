"""Prompting and sampling for SE labels.

Each training prompt is asked as one user message with a short-answer instruction (QA:
a few words; math: only the final number), so answers are short: fewer tokens on CPU, and
NLI compares answers rather than essays. Per prompt and model we draw K samples at
temperature 1 (token log-probs kept, seeds ``seed..seed+K-1``) and one greedy answer (the
response that accuracy labels grade).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.llm.client import Completion, Messages, Request

QA_INSTRUCTION = "Answer in at most five words."
MATH_INSTRUCTION = "Give only the final number as your answer, with no words or working."
MATH_DATASETS = frozenset({"mawps", "gsm8k_train", "gsm8k_test"})


@dataclass(frozen=True)
class SamplingConfig:
    """How answers are drawn.

    Attributes:
        k: samples per prompt at ``temperature``.
        temperature: sampling temperature (the paper: 1.0).
        max_tokens_qa / max_tokens_math: answer length caps.
        seed: seed of the first sample; sample i uses seed + i.
    """

    k: int = 5
    temperature: float = 1.0
    max_tokens_qa: int = 12
    max_tokens_math: int = 8
    seed: int = 0


def messages_for(dataset: str, prompt: str) -> Messages:
    instruction = MATH_INSTRUCTION if dataset in MATH_DATASETS else QA_INSTRUCTION
    return [{"role": "user", "content": f"{prompt.strip()}\n{instruction}"}]


def max_tokens_for(dataset: str, cfg: SamplingConfig) -> int:
    return cfg.max_tokens_math if dataset in MATH_DATASETS else cfg.max_tokens_qa


def sample_requests(dataset: str, prompt: str, cfg: SamplingConfig) -> list[Request]:
    """K sampling requests (log-probs on) for one prompt."""
    msgs = messages_for(dataset, prompt)
    return [
        Request.make(
            msgs,
            temperature=cfg.temperature,
            max_tokens=max_tokens_for(dataset, cfg),
            seed=cfg.seed + i,
            logprobs=True,
            sample_index=i,
        )
        for i in range(cfg.k)
    ]


def greedy_request(dataset: str, prompt: str, cfg: SamplingConfig) -> Request:
    """The greedy (T=0) request whose answer is the model's response to the prompt."""
    return Request.make(
        messages_for(dataset, prompt),
        temperature=0.0,
        max_tokens=max_tokens_for(dataset, cfg),
        seed=0,
        logprobs=False,
        sample_index=0,
    )


def sample_log_likelihoods(samples: list[Completion]) -> list[float] | None:
    """Length-normalised log-likelihood of each sample, or None when any lacks log-probs.

    An empty answer (no tokens) gets the lowest likelihood among the others (or 0 when all
    are empty): it is a real, if useless, outcome of sampling and must stay in the count.
    """
    lls = [s.mean_logprob() for s in samples]
    if any(s.token_logprobs is None for s in samples):
        return None
    known = [x for x in lls if x is not None]
    floor = min(known) if known else 0.0
    return [floor if x is None else x for x in lls]
