"""A small, bounded load generator for services on 127.0.0.1 (the demo service).

``run_load(url, requests=200)`` or ``run_load(url, seconds=2)`` sends GETs from
``workers`` threads and returns the status codes counted; ``BackgroundLoad``
does the same in the background until stopped (bounded by its own limits), for
traffic during a switch. Only 127.0.0.1 and localhost are accepted: it is a test
tool, never pointed elsewhere.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from types import TracebackType
from urllib.parse import urlsplit

import httpx

MAX_REQUESTS = 100_000
MAX_SECONDS = 300.0
MAX_WORKERS = 32


@dataclass
class LoadResult:
    """What the load saw: status codes counted, and requests that got no answer."""

    codes: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)

    @property
    def sent(self) -> int:
        return sum(self.codes.values()) + sum(self.failures.values())

    @property
    def errors(self) -> int:
        """Answers of 500 and above, and requests without an answer."""
        return sum(n for code, n in self.codes.items() if code >= 500) + sum(self.failures.values())


def _local(url: str) -> str:
    host = urlsplit(url).hostname
    if urlsplit(url).scheme != "http" or host not in ("127.0.0.1", "localhost"):
        raise ValueError(f"the load generator only sends to http://127.0.0.1, not {url}")
    return url


class BackgroundLoad:
    """Send requests to ``url`` from ``workers`` threads until stopped or a limit is reached."""

    def __init__(
        self,
        url: str,
        *,
        requests: int | None = None,
        seconds: float | None = None,
        workers: int = 2,
        timeout: float = 5.0,
        headers: dict[str, str] | None = None,
        pause: float = 0.0,
    ) -> None:
        if requests is None and seconds is None:
            raise ValueError("give requests=N or seconds=T")
        if requests is not None and not 0 < requests <= MAX_REQUESTS:
            raise ValueError(f"requests must be 1 to {MAX_REQUESTS}")
        if seconds is not None and not 0 < seconds <= MAX_SECONDS:
            raise ValueError(f"seconds must be more than 0 and at most {MAX_SECONDS}")
        if not 0 < workers <= MAX_WORKERS:
            raise ValueError(f"workers must be 1 to {MAX_WORKERS}")
        self.url = _local(url)
        self.result = LoadResult()
        self._limit = requests if requests is not None else MAX_REQUESTS
        self._deadline = time.monotonic() + (seconds if seconds is not None else MAX_SECONDS)
        self._timeout = timeout
        self._headers = headers or {}
        # each worker waits this long between two requests (a rate, to spare the CPU)
        self._pause = pause
        self._lock = threading.Lock()
        self._taken = 0
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(workers)]

    def _claim(self) -> bool:
        with self._lock:
            if self._stop.is_set() or self._taken >= self._limit:
                return False
            if time.monotonic() >= self._deadline:
                return False
            self._taken += 1
            return True

    def _work(self) -> None:
        with httpx.Client(timeout=self._timeout, headers=self._headers) as client:
            while self._claim():
                try:
                    code = client.get(self.url).status_code
                except httpx.HTTPError as exc:
                    with self._lock:
                        self.result.failures[type(exc).__name__] += 1
                    continue
                with self._lock:
                    self.result.codes[code] += 1
                if self._pause:
                    self._stop.wait(self._pause)

    def start(self) -> BackgroundLoad:
        for thread in self._threads:
            thread.start()
        return self

    def wait(self) -> LoadResult:
        """Wait until the limits are reached; returns the result."""
        for thread in self._threads:
            thread.join()
        return self.result

    def stop(self) -> LoadResult:
        """Stop sending and return what was seen."""
        self._stop.set()
        return self.wait()

    def __enter__(self) -> BackgroundLoad:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()


def run_load(
    url: str,
    *,
    requests: int | None = None,
    seconds: float | None = None,
    workers: int = 2,
    timeout: float = 5.0,
    pause: float = 0.0,
) -> LoadResult:
    """Send ``requests`` GETs (or for ``seconds``) to ``url`` and return the codes counted."""
    load = BackgroundLoad(
        url, requests=requests, seconds=seconds, workers=workers, timeout=timeout, pause=pause
    )
    return load.start().wait()
