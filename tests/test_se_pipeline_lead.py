"""The SE pipeline's pacing of its two generators (pure logic, stand-in clients): neither
runs more than two prompts ahead of the last prompt both finished, and a waiting model lends
its CPU threads to the other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from typing import Any, cast

import pytest

from harness.labels.se.pipeline import _Lead
from harness.llm.client import LLMClient


class Model:
    def __init__(self) -> None:
        self.n_threads = 1
        self.threads_set: list[int] = []

    def set_threads(self, n: int) -> None:
        self.threads_set.append(n)


def _lead() -> tuple[_Lead, Model, Model]:
    weak, strong = Model(), Model()
    return _Lead(cast(Any, (weak, strong))), weak, strong


def test_a_generator_waits_two_prompts_ahead_and_lends_its_threads() -> None:
    lead, weak, strong = _lead()
    lead.wait_turn(0, 0)
    lead.wait_turn(0, 1)  # two prompts in hand: no wait, no lending
    assert strong.threads_set == []
    started = threading.Event()

    def third() -> None:
        lead.wait_turn(0, 2)
        started.set()

    t = threading.Thread(target=third)
    t.start()
    time.sleep(0.2)
    assert not started.is_set()  # prompt 2 waits for prompt 0 to be finished by both
    assert strong.threads_set == [2]  # ... and the strong model computes with both cores
    lead.finished(1)
    t.join(5)
    assert started.is_set()
    assert strong.threads_set == [2, 1]  # back to its own core once the weak one works
    assert weak.threads_set == []


def test_closing_releases_a_waiting_generator() -> None:
    lead, _, strong = _lead()
    errors: list[BaseException] = []

    def waiting() -> None:
        try:
            lead.wait_turn(0, 5)
        except CancelledError as exc:
            errors.append(exc)

    t = threading.Thread(target=waiting)
    t.start()
    time.sleep(0.2)
    lead.close()
    t.join(5)
    assert not t.is_alive() and len(errors) == 1
    assert strong.threads_set == [2, 1]
    with pytest.raises(CancelledError):  # and no prompt starts after the run has ended
        lead.wait_turn(1, 0)


def test_no_lending_without_known_thread_counts() -> None:
    weak, strong = Model(), Model()
    strong.n_threads = cast(int, None)  # a model on all cores: nothing to lend to it
    lead = _Lead(cast(tuple[LLMClient, LLMClient], (weak, strong)))
    threading.Timer(0.2, lead.finished, args=(1,)).start()
    lead.wait_turn(0, 2)
    assert strong.threads_set == [] and weak.threads_set == []
