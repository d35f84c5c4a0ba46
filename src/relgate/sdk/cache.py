"""The SDK's cache file: the last good features document and its ETag, on disk.

An application restarted while relgate is unreachable starts from this file
instead of from nothing. Several processes may share one file (gunicorn
workers, forked children): a writer holds an exclusive ``fcntl`` lock on a
sibling ``.lock`` file and replaces the cache with ``os.replace`` of a
temporary file in the same folder, so a reader sees the old document or the
new one, never half of one.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no fcntl; os.replace stays atomic
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1

_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


def default_cache_dir(app_name: str) -> Path:
    """Return the per-user cache folder of ``app_name``'s flags.

    ``$XDG_CACHE_HOME/relgate/<app>`` (default ``~/.cache``) on Linux,
    ``~/Library/Caches/relgate/<app>`` on macOS, ``%LOCALAPPDATA%\\relgate\\<app>``
    on Windows. The folder is not created here.
    """
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches"
    elif os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "relgate" / safe_file_name(app_name)


def safe_file_name(name: str) -> str:
    """Return ``name`` with every character unsafe in a file name replaced by ``_``."""
    return _UNSAFE_FILE_CHARS.sub("_", name).strip(".") or "app"


@dataclass(frozen=True, slots=True)
class CachedFeatures:
    """A features document as the server sent it, with the ETag it came with."""

    payload: Mapping[str, Any]
    etag: str | None


class FeatureCache:
    """One cache file (``<name>.json``) in ``directory``, shared safely between processes."""

    def __init__(self, directory: Path, name: str = "features") -> None:
        self.directory = directory
        self.path = directory / f"{safe_file_name(name)}.json"
        self._lock_path = directory / f"{safe_file_name(name)}.json.lock"

    def load(self) -> CachedFeatures | None:
        """Return the cached document, or ``None`` when there is none or it cannot be read.

        Never raises: an unreadable or malformed file is logged and ignored.
        """
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except OSError as exc:
            logger.warning("relgate: cannot read the flag cache %s: %s", self.path, exc)
            return None
        try:
            document = json.loads(text)
        except ValueError as exc:
            logger.warning("relgate: the flag cache %s is not JSON (%s); ignored", self.path, exc)
            return None
        if (
            not isinstance(document, dict)
            or document.get("format") != CACHE_FORMAT
            or not isinstance(document.get("payload"), dict)
        ):
            logger.warning("relgate: the flag cache %s has an unknown layout; ignored", self.path)
            return None
        etag = document.get("etag")
        return CachedFeatures(document["payload"], etag if isinstance(etag, str) else None)

    def save(self, payload: Mapping[str, Any], etag: str | None) -> bool:
        """Write ``payload`` and ``etag`` atomically; return whether the file was written.

        Never raises: a folder that cannot be created or written is logged,
        and the client goes on with its in-memory flags.
        """
        text = json.dumps({"format": CACHE_FORMAT, "etag": etag, "payload": payload})
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with self._exclusive_lock():
                descriptor, temporary = tempfile.mkstemp(
                    dir=self.directory, prefix=f".{self.path.name}.", suffix=".tmp"
                )
                try:
                    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                        handle.write(text)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.replace(temporary, self.path)
                except BaseException:
                    with contextlib.suppress(OSError):
                        os.unlink(temporary)
                    raise
        except OSError as exc:
            logger.warning("relgate: cannot write the flag cache %s: %s", self.path, exc)
            return False
        return True

    @contextlib.contextmanager
    def _exclusive_lock(self) -> Iterator[None]:
        # Writers queue on the lock so the newest document is the one left in
        # place; readers need none because os.replace swaps the file whole.
        with open(self._lock_path, "a+b") as lock_file:
            if fcntl is not None:
                fcntl.flock(lock_file.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(lock_file.fileno(), fcntl.LOCK_UN)
