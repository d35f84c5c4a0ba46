"""Background threads of the SDK: a periodic task and a server-sent-events listener.

Both are daemon threads, so an application that forgets ``close()`` still
exits; both can be started again in a forked child, where only the thread
that called ``fork`` survives.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
from collections.abc import Callable, Mapping

import httpx
from httpx_sse import EventSource

logger = logging.getLogger(__name__)


class PeriodicTask:
    """Calls ``action`` every ``interval`` seconds in a daemon thread until stopped.

    ``action`` should not raise; if it does, the error is logged and the task
    goes on at the next interval.
    """

    def __init__(
        self,
        name: str,
        interval: float,
        action: Callable[[], None],
        *,
        initial_delay: float | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self._action = action
        self._initial_delay = interval if initial_delay is None else initial_delay
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        """Whether the thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (again, after ``stop`` or in a forked child)."""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Ask the thread to stop and wait up to ``timeout`` seconds for it."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def forget_after_fork(self) -> None:
        """Drop the parent's thread object in a forked child, where that thread does not run."""
        self._thread = None

    def _run(self) -> None:
        stop = self._stop
        delay = self._initial_delay
        while not stop.wait(delay):
            try:
                self._action()
            except Exception:
                logger.exception(
                    "relgate: %s failed; trying again in %ss", self.name, self.interval
                )
            delay = self.interval


StreamHandler = Callable[[str, str], None]

# The events the Unleash streaming endpoint sends, both carrying a delta
# document ({"events": [...]}) or a features document.
STREAM_EVENTS = frozenset({"unleash-connected", "unleash-updated"})


class EventStream:
    """Listens to a server-sent-events endpoint in a daemon thread and hands events over.

    ``handler(event_name, data)`` is called for every event named in
    ``STREAM_EVENTS``. A missing endpoint (404, 405, 501) ends the listener for
    good: the caller's polling goes on alone. Other failures are retried with
    a backoff growing from 1 s to ``max_backoff``.
    """

    def __init__(
        self,
        url: str,
        headers: Mapping[str, str],
        handler: StreamHandler,
        *,
        timeout: float,
        verify: ssl.SSLContext | bool = True,
        read_timeout: float = 60.0,
        max_backoff: float = 30.0,
    ) -> None:
        self.url = url
        self._headers = {**headers, "Accept": "text/event-stream"}
        self._handler = handler
        self._timeout = httpx.Timeout(timeout, read=read_timeout)
        self._max_backoff = max_backoff
        self._verify = verify
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.unsupported = False

    @property
    def running(self) -> bool:
        """Whether the listener thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start listening (again, after ``stop`` or in a forked child)."""
        self._stop = threading.Event()
        self._socket = None
        self._thread = threading.Thread(target=self._run, name="relgate-stream", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop listening: wakes a thread blocked on a read and waits for it."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            # closing the client from another thread does not wake a blocked
            # recv(); shutting the socket down does
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def forget_after_fork(self) -> None:
        """Drop the parent's thread and socket in a forked child (never touch the parent's)."""
        self._thread = None
        self._socket = None

    def _run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                if self._listen():
                    return
                backoff = 1.0
            except (httpx.HTTPError, OSError) as exc:
                if self._stop.is_set():
                    return
                logger.warning("relgate: flag stream %s failed: %s; reconnecting", self.url, exc)
            except Exception:
                logger.exception("relgate: flag stream %s failed; reconnecting", self.url)
            if self._stop.wait(backoff):
                return
            backoff = min(backoff * 2, self._max_backoff)

    def _listen(self) -> bool:
        """Read one connection; return True when listening must end for good."""
        with (
            httpx.Client(timeout=self._timeout, verify=self._verify) as http,
            http.stream("GET", self.url, headers=self._headers) as response,
        ):
            if response.status_code in (404, 405, 501):
                self.unsupported = True
                logger.info("relgate: the server has no flag stream (%s): polling only", self.url)
                return True
            if response.status_code != 200:
                logger.warning(
                    "relgate: flag stream %s answered %s; reconnecting",
                    self.url,
                    response.status_code,
                )
                return False
            stream = response.extensions.get("network_stream")
            if stream is not None:
                self._socket = stream.get_extra_info("socket")
            if self._stop.is_set():
                return True
            for event in EventSource(response).iter_sse():
                if self._stop.is_set():
                    return True
                if event.event in STREAM_EVENTS:
                    self._handler(event.event, event.data)
        return self._stop.is_set()
