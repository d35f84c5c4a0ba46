"""Where signed audit checkpoints are copied to, outside the database.

A sink is anything with a stable ``name`` and a ``deliver`` method that raises
ExternalError when the checkpoint did not arrive (the checkpointer then keeps
it and tries again later). Deliveries may repeat after a crash: every sink
accepts a checkpoint it already holds, and verifiers ignore duplicates. The
notification subscribers can become sinks by implementing the same protocol.

- ``FileSink``: appends one JSON line per checkpoint to a file (fsync'ed).
- ``GitSink``: the same file in a local git repository, one commit per checkpoint.
- ``WebhookSink``: POSTs the signed JSON document, with a few bounded retries.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit, urlunsplit

from relgate.audit.checkpoint import SignedCheckpoint
from relgate.errors import ExternalError

CHECKPOINTS_FILE = "audit-checkpoints.jsonl"


class CheckpointSink(Protocol):
    """A place outside the database that keeps a copy of every checkpoint."""

    @property
    def name(self) -> str:
        """A stable name (``file:/var/lib/relgate/audit.jsonl``): its progress is kept by it."""
        ...

    def deliver(self, checkpoint: SignedCheckpoint) -> None:
        """Store ``checkpoint``; raise ExternalError saying why when it could not."""
        ...


def append_line(path: Path, line: str) -> None:
    """Append ``line`` and a newline to ``path``, on disk when this returns.

    A line cut short by an earlier crash is ended first, so it stays one bad
    line instead of spoiling the next one. Raises ExternalError on failure.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise ExternalError(f"cannot open {path} to append a checkpoint: {exc.strerror}") from None
    try:
        size = os.fstat(fd).st_size
        prefix = b""
        if size and os.pread(fd, 1, size - 1) != b"\n":
            prefix = b"\n"
        os.write(fd, prefix + line.encode("ascii") + b"\n")
        os.fsync(fd)
    except OSError as exc:
        raise ExternalError(f"cannot append a checkpoint to {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


class FileSink:
    """Append-only JSON lines in a file outside the database."""

    def __init__(self, path: Path) -> None:
        self.path = path.absolute()

    @property
    def name(self) -> str:
        return f"file:{self.path}"

    def deliver(self, checkpoint: SignedCheckpoint) -> None:
        append_line(self.path, checkpoint.line())


class GitSink:
    """A local git repository: each checkpoint appended to audit-checkpoints.jsonl and committed.

    The repository is created (``git init``) when the folder does not exist or
    is empty. Pushing it elsewhere is left to the repository's own hooks.
    """

    def __init__(self, repository: Path) -> None:
        self.repository = repository.absolute()

    @property
    def name(self) -> str:
        return f"git:{self.repository}"

    def deliver(self, checkpoint: SignedCheckpoint) -> None:
        self._ensure_repository()
        append_line(self.repository / CHECKPOINTS_FILE, checkpoint.line())
        cp = checkpoint.checkpoint
        self._git("add", "--", CHECKPOINTS_FILE)
        self._git(
            "-c",
            "user.name=relgate",
            "-c",
            "user.email=relgate@localhost",
            "-c",
            "commit.gpgsign=false",
            "commit",
            "--quiet",
            "--allow-empty",
            "-m",
            f"audit checkpoint: event {cp.seq}, {cp.count} events\n\n"
            f"hash {cp.hash}\nkey {cp.key_id}\nat {cp.fields()['at']}",
        )

    def _ensure_repository(self) -> None:
        folder = self.repository
        if folder.is_dir() and (folder / ".git").exists():
            return
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise ExternalError(
                f"audit git sink {folder} is not a git work tree (and not empty): "
                "point it at a repository or at a new folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
        self._git("init", "--quiet")

    def _git(self, *args: str) -> None:
        try:
            proc = subprocess.run(
                ["git", *args], cwd=self.repository, capture_output=True, check=False
            )
        except FileNotFoundError:
            raise ExternalError("git is not installed (or not on PATH)") from None
        if proc.returncode != 0:
            message = proc.stderr.decode("utf-8", "replace").strip() or "no message"
            command = next(arg for arg in args if not arg.startswith("-") and "=" not in arg)
            raise ExternalError(f"git {command} in {self.repository} failed: {message}")


class WebhookSink:
    """HTTP POST of the signed JSON document; a few retries, then the checkpointer tries later."""

    def __init__(
        self,
        url: str,
        *,
        attempts: int = 3,
        timeout_seconds: float = 5.0,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url = url
        self.attempts = attempts
        self.timeout_seconds = timeout_seconds
        self.backoff_seconds = backoff_seconds
        self._sleep = sleep

    @property
    def name(self) -> str:
        # no password or query string in a name that is logged and stored
        parts = urlsplit(self.url)
        host = parts.hostname or ""
        netloc = f"{host}:{parts.port}" if parts.port else host
        shown = urlunsplit((parts.scheme, netloc, parts.path, "", ""))
        if shown != self.url:
            shown += "#" + hashlib.sha256(self.url.encode()).hexdigest()[:8]
        return f"webhook:{shown}"

    def deliver(self, checkpoint: SignedCheckpoint) -> None:
        import httpx

        from relgate import __version__

        body = checkpoint.line().encode("ascii")
        headers = {"Content-Type": "application/json", "User-Agent": f"relgate/{__version__}"}
        failure = ""
        for attempt in range(self.attempts):
            if attempt:
                self._sleep(self.backoff_seconds * 2 ** (attempt - 1))
            try:
                response = httpx.post(
                    self.url, content=body, headers=headers, timeout=self.timeout_seconds
                )
            except httpx.HTTPError as exc:
                failure = f"{type(exc).__name__}: {exc}"
                continue
            if response.is_success:
                return
            failure = f"HTTP {response.status_code}"
        raise ExternalError(
            f"{self.name} did not take the checkpoint of event {checkpoint.checkpoint.seq} "
            f"after {self.attempts} attempts: {failure}"
        )
