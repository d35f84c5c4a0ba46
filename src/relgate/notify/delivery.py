"""Sending one notification over HTTP, with bounded time and memory (the I/O edge).

Redirects are never followed (a receiver cannot send relgate's signed body to
another host), connecting and reading have their own timeouts, the whole
exchange has a deadline, and at most ``MAX_ANSWER_BYTES`` of an answer are read
(kept for the error shown in ``relgate notify status``).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx

MAX_ANSWER_BYTES = 4096
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class SendResult:
    """What the receiver did: ``delivered`` only for a 2xx answer."""

    delivered: bool
    status: int | None = None
    error: str | None = None


class HttpSender:
    """POSTs bodies with one pooled httpx client; thread-safe, as httpx.Client is."""

    def __init__(self, *, connect_timeout: float = 5.0, read_timeout: float = 10.0) -> None:
        self._connect = connect_timeout
        self._read = read_timeout
        self._deadline = connect_timeout + 2 * read_timeout
        self._lock = threading.Lock()
        self._open: httpx.Client | None = None

    def _client(self) -> httpx.Client:
        import httpx

        with self._lock:
            if self._open is None:
                self._open = httpx.Client(
                    follow_redirects=False,
                    timeout=httpx.Timeout(
                        connect=self._connect, read=self._read, write=self._read, pool=self._connect
                    ),
                    headers={"User-Agent": "relgate-notify"},
                    trust_env=False,
                )
            return self._open

    @property
    def longest_seconds(self) -> float:
        """The longest one ``send`` can take: what a claim's lease must outlast."""
        return self._deadline

    def send(self, url: str, headers: dict[str, str], body: bytes) -> SendResult:
        """POST ``body`` to ``url``; return what happened, never raise for the receiver's faults."""
        import httpx

        started = time.monotonic()
        try:
            with self._client().stream("POST", url, headers=headers, content=body) as answer:
                excerpt = bytearray()
                for chunk in answer.iter_bytes():
                    excerpt.extend(chunk[: MAX_ANSWER_BYTES - len(excerpt)])
                    if (
                        len(excerpt) >= MAX_ANSWER_BYTES
                        or time.monotonic() - started > self._deadline
                    ):
                        break
                status = answer.status_code
        except httpx.TimeoutException as exc:
            return SendResult(False, None, f"timed out: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return SendResult(False, None, _clip(f"{type(exc).__name__}: {exc}"))
        if 200 <= status < 300:
            return SendResult(True, status)
        text = excerpt.decode("utf-8", "replace").strip()
        if 300 <= status < 400:
            return SendResult(False, status, f"HTTP {status}: redirects are not followed")
        return SendResult(False, status, _clip(f"HTTP {status}" + (f": {text}" if text else "")))

    def close(self) -> None:
        """Close the pooled connections; a later ``send`` opens new ones."""
        with self._lock:
            client, self._open = self._open, None
        if client is not None:
            client.close()


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
