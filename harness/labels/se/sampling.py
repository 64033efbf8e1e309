"""Prompting and sampling for SE labels.

Each training prompt is asked as one user message with a short-answer instruction (QA:
a few words; math: only the final number), so answers are short: fewer tokens on CPU, and
NLI compares answers rather than essays. Per prompt and model we draw K samples at
temperature 1 with top-k = 50 (token log-probs kept, seeds ``seed..seed+K-1``) and one greedy
answer (the response that accuracy labels grade).

Why top-k = 50: it is what the SE reference implementations sample with (Kuhn et al. 2023
and Farquhar et al. 2024 call Hugging Face ``generate`` with its default top-k of 50).
Sampling the whole vocabulary of a 4-bit 1.5B model (top-k = 0) gave five distinct meanings
in five samples on 76 % of prompts, and the strong model's SE AUROC for its own correctness
fell from 0.82 to 0.69 on a development set of 150 training prompts (issue 9).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.labels.grading import CHOICE_DATASETS
from harness.llm.client import Completion, Messages, Request

QA_INSTRUCTION = "Answer in at most five words."
MATH_INSTRUCTION = "Give only the final number as your answer, with no words or working."
MATH_DATASETS = frozenset({"mawps", "gsm8k_train", "gsm8k_test"})
# Multiple-choice datasets: no sampling. The model answers one letter under the same chat
# prompt as the ``mmlu_qwen`` benchmark, and its distribution over the four letters is read
# exactly from one forward pass (the distribution T = 1 sampling of a letter draws from, i.e.
# K → ∞). One letter is one meaning, so each letter is its own cluster and the ``entropy``
# estimator is −Σ p(letter) log p(letter); no NLI runs.
MULTIPLE_CHOICE_DATASETS = CHOICE_DATASETS  # the datasets graded by letter


@dataclass(frozen=True)
class SamplingConfig:
    """How answers are drawn.

    Attributes:
        k: samples per prompt at ``temperature``.
        temperature: sampling temperature (the paper: 1.0).
        top_k / top_p: sampling truncation (0 / 1.0: the whole vocabulary).
        max_tokens_qa / max_tokens_math: answer length caps.
        seed: seed of the first sample; sample i uses seed + i.
        reasoning_tokens: 0 (default): math answers are the final number alone. N > 0:
            math prompts are answered step by step as the ``gsm8k_qwen`` benchmark asks
            (up to N tokens), and the samples are clustered by the number each ends on
            (equal numbers are one meaning; no NLI). Small models cannot do GSM8K without
            reasoning: answering with the number alone, the 0.5B / 1.5B Qwen pair gave five
            different numbers in five samples on nearly every GSM8K prompt.
    """

    k: int = 5
    temperature: float = 1.0
    top_k: int = 50
    top_p: float = 1.0
    max_tokens_qa: int = 12
    max_tokens_math: int = 8
    seed: int = 0
    reasoning_tokens: int = 0


def reasons(dataset: str, cfg: SamplingConfig) -> bool:
    """Whether this dataset's answers are step-by-step solutions clustered by final number."""
    return dataset in MATH_DATASETS and cfg.reasoning_tokens > 0


def final_answer(text: str) -> str:
    """The number a step-by-step answer ends on, as clustering compares it ("no answer"
    when it states none: such samples form one meaning of their own)."""
    from harness.labels.grading import final_number
    from harness.training_data import format_number

    value = final_number(text)
    return "no answer" if value is None else format_number(value)


def messages_for(
    dataset: str, prompt: str, cfg: SamplingConfig | None = None
) -> Messages:
    if dataset in MULTIPLE_CHOICE_DATASETS:
        from harness.benchmarks import mmlu_local

        return mmlu_local.messages(prompt)
    if cfg is not None and reasons(dataset, cfg):
        from harness.benchmarks.local_pair import messages

        return messages(prompt)
    instruction = MATH_INSTRUCTION if dataset in MATH_DATASETS else QA_INSTRUCTION
    return [{"role": "user", "content": f"{prompt.strip()}\n{instruction}"}]


def max_tokens_for(dataset: str, cfg: SamplingConfig) -> int:
    if reasons(dataset, cfg):
        return cfg.reasoning_tokens
    return cfg.max_tokens_math if dataset in MATH_DATASETS else cfg.max_tokens_qa


def sample_requests(dataset: str, prompt: str, cfg: SamplingConfig) -> list[Request]:
    """K sampling requests (log-probs on) for one prompt."""
    msgs = messages_for(dataset, prompt, cfg)
    return [
        Request.make(
            msgs,
            temperature=cfg.temperature,
            top_k=cfg.top_k,
            top_p=cfg.top_p,
            max_tokens=max_tokens_for(dataset, cfg),
            seed=cfg.seed + i,
            logprobs=True,
            sample_index=i,
        )
        for i in range(cfg.k)
    ]


def choice_request(dataset: str, prompt: str) -> Request:
    """The one request a multiple-choice prompt needs: the greedy letter (the response that
    accuracy labels grade) and every letter's log-probability."""
    from harness.benchmarks.mmlu_local import LETTERS

    return Request.make(
        messages_for(dataset, prompt),
        temperature=0.0,
        max_tokens=1,
        seed=0,
        choices=LETTERS,
        choice_logprobs=True,
    )


def greedy_request(dataset: str, prompt: str, cfg: SamplingConfig) -> Request:
    """The greedy (T=0) request whose answer is the model's response to the prompt."""
    return Request.make(
        messages_for(dataset, prompt, cfg),
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
