"""SDK metrics and registrations stored off the request path, through a bounded queue.

``POST /api/client/metrics`` and ``/register`` validate their body, hand it to
:class:`MetricsIngestion` and answer 202 at once; one background thread,
started and stopped with the server, stores the batches in order. So a flood
of metrics never holds a request thread or the store while admin writes and
flag reads wait.

The queue is bounded twice: :data:`MAX_BATCHES` batches and
:data:`MAX_QUEUED_TOGGLES` flag counts in all. When it is full the batch is
dropped and counted (``dropped``), and the request is still answered 202:
metrics are best effort in Unleash too, and an SDK that got an error would
only send the same counts again, adding to the load.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from typing import Final

from relgate.flags.metrics import ClientMetrics, ClientMetricsService, ClientRegistration

logger = logging.getLogger(__name__)

MAX_BATCHES: Final = 1_000
MAX_QUEUED_TOGGLES: Final = 100_000


@dataclass(frozen=True)
class _Batch:
    environment: str
    body: ClientMetrics | ClientRegistration
    toggles: int


def _toggles(body: ClientMetrics | ClientRegistration) -> int:
    if isinstance(body, ClientMetrics) and body.bucket is not None:
        return len(body.bucket.toggles)
    return 0


class MetricsIngestion:
    """A bounded queue of SDK batches and the thread that stores them."""

    def __init__(
        self,
        service: ClientMetricsService,
        *,
        max_batches: int = MAX_BATCHES,
        max_toggles: int = MAX_QUEUED_TOGGLES,
    ) -> None:
        self._service = service
        self._queue: queue.Queue[_Batch | None] = queue.Queue(max_batches)
        self._max_toggles = max_toggles
        self._lock = threading.Lock()
        self._queued_toggles = 0
        self._dropped = 0
        self._stored = 0
        self._thread: threading.Thread | None = None

    @property
    def dropped(self) -> int:
        """How many batches were dropped because the queue was full."""
        with self._lock:
            return self._dropped

    @property
    def stored(self) -> int:
        """How many batches were stored (or failed to, logged) so far."""
        with self._lock:
            return self._stored

    def submit_metrics(self, environment: str, metrics: ClientMetrics) -> bool:
        """Queue a metrics bucket of ``environment``; return False when it was dropped."""
        return self._submit(_Batch(environment, metrics, _toggles(metrics)))

    def submit_registration(self, environment: str, registration: ClientRegistration) -> bool:
        """Queue an SDK registration of ``environment``; return False when it was dropped."""
        return self._submit(_Batch(environment, registration, 0))

    def _submit(self, batch: _Batch) -> bool:
        with self._lock:
            room = self._queued_toggles + batch.toggles <= self._max_toggles
            if room:
                try:
                    self._queue.put_nowait(batch)
                except queue.Full:
                    room = False
            if not room:
                self._dropped += 1
                dropped = self._dropped
            else:
                self._queued_toggles += batch.toggles
        if not room:
            # once, then every 1000th: a flood must not flood the log too
            if dropped == 1 or dropped % 1000 == 0:
                logger.warning(
                    "the SDK metrics queue is full: %d batch(es) dropped so far", dropped
                )
            return False
        return True

    def start(self) -> None:
        """Start the thread that stores queued batches (once)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="relgate-metrics-ingestion", daemon=True
            )
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Store what is queued (within ``timeout`` seconds), then stop the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return  # a daemon thread: it ends with the process
        thread.join(timeout)

    def drain(self) -> None:
        """Store every queued batch in this thread (for a server that runs no thread)."""
        while True:
            try:
                batch = self._queue.get_nowait()
            except queue.Empty:
                return
            if batch is not None:
                self._store(batch)

    def _run(self) -> None:
        while True:
            batch = self._queue.get()
            if batch is None:
                return
            self._store(batch)

    def _store(self, batch: _Batch) -> None:
        try:
            if isinstance(batch.body, ClientMetrics):
                self._service.record(batch.environment, batch.body)
            else:
                self._service.register(batch.environment, batch.body)
        except Exception:
            # a failing store must not end the thread: the next batch may succeed
            logger.exception("storing SDK metrics of %s failed", batch.environment)
        finally:
            with self._lock:
                self._queued_toggles -= batch.toggles
                self._stored += 1
