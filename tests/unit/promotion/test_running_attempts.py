"""The running attempts of a worker: shutdown waits for them, then cancels them (pure)."""

from __future__ import annotations

import threading

from relgate.promotion.attempts import SHUTDOWN_REASON, Attempt, RunningAttempts


def _attempt(job: int) -> Attempt:
    return Attempt(job_id=job, deployment_id=job * 10, attempt=2, worker_id="worker-a")


def test_the_fence_is_the_deployment_and_its_attempt() -> None:
    assert _attempt(4).fence == "40.2"


def test_cancel_all_sets_every_event_once_with_the_first_reason() -> None:
    running = RunningAttempts()
    first, second = _attempt(1), _attempt(2)
    running.add(first)
    running.add(second)
    assert running.cancel_all(SHUTDOWN_REASON) == 2
    first.stop("another reason")
    assert first.cancel.is_set() and second.cancel.is_set()
    assert first.cancel_reason == SHUTDOWN_REASON


def test_an_attempt_added_after_the_shutdown_cancel_is_cancelled_at_once() -> None:
    running = RunningAttempts()
    running.cancel_all(SHUTDOWN_REASON)
    late = _attempt(3)
    running.add(late)
    assert late.cancel.is_set()
    assert late.cancel_reason == SHUTDOWN_REASON


def test_waiting_ends_when_the_last_attempt_is_removed() -> None:
    running = RunningAttempts()
    attempt = _attempt(1)
    running.add(attempt)
    assert not running.wait_until_none(0.01)
    timer = threading.Timer(0.05, running.remove, args=(attempt,))
    timer.start()
    assert running.wait_until_none(30)
    timer.join()
    assert len(running) == 0
