"""The running attempts of a worker: their cancel events, folders, heartbeats and fence.

A job is run by one *attempt*: the claim that made ``jobs.attempt`` N and
``jobs.claimed_by`` this worker. The attempt's fencing token is
``"<deployment id>.<N>"`` (DeployRequest.fence, RELGATE_FENCE). Everything the
attempt writes afterwards (the log, the move to ``verifying``, the outcome) is
written only while the job is still that attempt's: running (or cancelling), the
same ``attempt``, claimed by the same worker (:func:`holds`). A worker that
stalled past its lease and was reconciled finds that it no longer holds the job;
its writes are dropped and its heartbeat sets its cancel event, which stops the
deploy command.

A cancel reaches the running deployer through :class:`Attempt.cancel`, the
``threading.Event`` of the Deployer protocol: set at shutdown (after the grace
period, :class:`RunningAttempts`), when the heartbeat finds the job fenced out,
or when somebody asked to cancel the deployment (the job's state set to
``cancelling``, :func:`request_cancel`).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relgate.store.tables import JobRow

log = logging.getLogger("relgate.worker")

# the job states of an attempt that still runs
LIVE_STATES = ("running", "cancelling")
SHUTDOWN_REASON = "cancelled: relgate shut down"
# the cancel event was set because the job was marked `cancelling` (the reason is stored
# with the deployment by PromotionService.cancel)
REQUESTED_REASON = "cancelled on request"
FENCED_REASON = (
    "cancelled: this relgate process lost the deployment's lease (another process "
    "reconciled it), so it stopped its deploy command"
)


@dataclass
class Attempt:
    """One claimed job being run by this worker."""

    job_id: int
    deployment_id: int
    attempt: int
    worker_id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    cancel_reason: str = ""

    @property
    def fence(self) -> str:
        return f"{self.deployment_id}.{self.attempt}"

    def stop(self, reason: str) -> None:
        """Set the cancel event, remembering the first reason given."""
        if not self.cancel.is_set():
            self.cancel_reason = reason
            self.cancel.set()


def holds(session: Session, attempt: Attempt | None) -> bool:
    """Whether ``attempt`` still holds its job (locks the job row for this transaction).

    ``None`` (work outside a job) always holds. On PostgreSQL the row lock makes
    the check and the caller's write one step against the reconciler, which
    skips locked jobs.
    """
    if attempt is None:
        return True
    job = session.scalar(select(JobRow).where(JobRow.id == attempt.job_id).with_for_update())
    return (
        job is not None
        and job.state in LIVE_STATES
        and (job.attempt or 0) == attempt.attempt
        and job.claimed_by == attempt.worker_id
    )


def requeue(session: Session, attempt: Attempt) -> None:
    """Give ``attempt``'s job back to the queue, untouched (another server runs it)."""
    session.execute(
        update(JobRow)
        .where(JobRow.id == attempt.job_id, JobRow.attempt == attempt.attempt)
        .values(state="queued", claimed_by=None)
    )


def request_cancel(session: Session, deployment_id: int) -> bool:
    """Mark the running job of ``deployment_id`` ``cancelling``; return whether there was one.

    The worker running it sees the mark at its next heartbeat and cancels the deployer.
    """
    result = session.execute(
        update(JobRow)
        .where(JobRow.deployment_id == deployment_id, JobRow.state == "running")
        .values(state="cancelling")
    )
    return bool(getattr(result, "rowcount", 0))


@contextlib.contextmanager
def attempt_folder(attempt: Attempt, root: Path | None) -> Iterator[Path]:
    """Yield a fresh folder (mode 0700) for ``attempt``, removed with its content afterwards."""
    if root is not None:
        root.mkdir(parents=True, exist_ok=True)
    folder = Path(
        tempfile.mkdtemp(prefix=f"relgate-{attempt.deployment_id}.{attempt.attempt}-", dir=root)
    )
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class RunningAttempts:
    """The attempts a worker runs now; shutdown waits for them, then cancels them."""

    def __init__(self) -> None:
        self._attempts: dict[int, Attempt] = {}
        self._changed = threading.Condition()
        self._closed = ""

    def add(self, attempt: Attempt) -> None:
        """Track ``attempt``; after :meth:`cancel_all` it is cancelled at once."""
        with self._changed:
            self._attempts[attempt.job_id] = attempt
            closed = self._closed
        if closed:
            attempt.stop(closed)

    def remove(self, attempt: Attempt) -> None:
        with self._changed:
            self._attempts.pop(attempt.job_id, None)
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._attempts)

    def wait_until_none(self, seconds: float) -> bool:
        """Wait up to ``seconds`` for every attempt to end; return whether they did."""
        end = time.monotonic() + seconds
        with self._changed:
            while self._attempts:
                remaining = end - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(remaining)
            return True

    def cancel_all(self, reason: str) -> int:
        """Set the cancel event of every running attempt, and of any added later; return
        how many run now."""
        with self._changed:
            self._closed = reason
            attempts = list(self._attempts.values())
        for attempt in attempts:
            attempt.stop(reason)
        return len(attempts)


Pulse = Callable[[Attempt], str | None]
"""Refreshes the heartbeat of an attempt's job; returns its state, None when not held."""
AppendLog = Callable[[int, str, Attempt], None]


class Heartbeat:
    """Collects log lines of a running attempt, flushing them and the heartbeat periodically.

    A pulse that finds the job no longer held by the attempt, or marked
    ``cancelling``, sets the attempt's cancel event.
    """

    def __init__(
        self, attempt: Attempt, *, pulse: Pulse, append_log: AppendLog, lease_seconds: float
    ) -> None:
        self.attempt = attempt
        self._pulse = pulse
        self._append_log = append_log
        self._interval = min(1.0, max(0.2, lease_seconds / 10))
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, daemon=True, name=f"heartbeat-{attempt.job_id}"
        )

    @property
    def cancel(self) -> threading.Event:
        """The cancel event handed to the deployer and the verifier."""
        return self.attempt.cancel

    def line(self, text: str) -> None:
        with self._lock:
            self._lines.append(text)

    def start(self) -> None:
        self._thread.start()

    def _flush(self) -> None:
        with self._lock:
            lines, self._lines = self._lines, []
        if lines:
            self._append_log(self.attempt.deployment_id, "\n".join(lines), self.attempt)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                state = self._pulse(self.attempt)
                if state is None:
                    self.attempt.stop(FENCED_REASON)
                elif state == "cancelling":
                    self.attempt.stop(REQUESTED_REASON)
                self._flush()
            except Exception:
                log.exception("heartbeat failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._flush()
