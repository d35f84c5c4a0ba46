"""Running the system ``git`` for the gitops deployer: argument lists, bounded, stoppable.

Every call is ``git <args>`` without a shell, in its own session (so a timeout
or a cancel stops git and the ssh or helper it started, with one signal to the
group), with a minimal environment: what git needs to find the server's own
credentials (HOME for ~/.gitconfig and credential helpers, the SSH agent, a
GIT_SSH_COMMAND the server sets, proxies), never relgate's settings.
``GIT_TERMINAL_PROMPT=0`` and ssh's BatchMode make a missing credential fail
at once instead of waiting for a password nobody types. Output goes to
temporary files and only its first 64 KiB is read back, so a chatty or hostile
remote cannot fill the server's memory.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from relgate.deploy.ports import LogSink
from relgate.deploy.verify import redact

MAX_OUTPUT_BYTES = 64 * 1024
POLL_SECONDS = 0.05

# what git may see of the server's environment: how to find programs, the home
# holding ~/.gitconfig and keys, the SSH agent, the server's git/ssh settings, proxies
PASSED_VARIABLES = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "TZ",
    "SSH_AUTH_SOCK",
    "GIT_SSH",
    "GIT_SSH_COMMAND",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_NOSYSTEM",
    "GIT_SSL_CAINFO",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "XDG_CONFIG_HOME",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def git_environment(server: Mapping[str, str]) -> dict[str, str]:
    """Return the environment git runs with: the passed variables of ``server`` and no prompts.

    Only these transports are allowed (``GIT_ALLOW_PROTOCOL``): file, git, http,
    https, ssh; ``ext::`` and other helpers that run programs never are.
    """
    env = {name: server[name] for name in PASSED_VARIABLES if name in server}
    env.setdefault("PATH", os.defpath)
    env.update(
        {
            "GIT_TERMINAL_PROMPT": "0",
            "GCM_INTERACTIVE": "never",
            "GIT_ALLOW_PROTOCOL": "file:git:http:https:ssh",
            "LC_ALL": "C",
        }
    )
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    return env


@dataclass(frozen=True)
class GitResult:
    """How one git command ended."""

    code: int | None
    """The exit code; None when it was stopped (see ``stopped``) or could not start."""
    out: str
    err: str
    stopped: str | None = None
    """``cancelled``, ``timed out`` or why git could not start; None when it ran to its end."""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def last_error(self) -> str:
        """The last non-empty line git wrote to stderr (or stdout), for a reason line."""
        for text in (self.err, self.out):
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if lines:
                return lines[-1]
        return f"exit code {self.code}"


class Git:
    """Runs git commands for one deployment, within one deadline and one cancel event."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        deadline: float,
        cancel: threading.Event | None,
        log: LogSink,
        config: Sequence[str] = (),
    ) -> None:
        """``config`` are ``name=value`` settings given to every command (``git -c``)."""
        self._env = dict(env)
        self._config = [arg for item in config for arg in ("-c", item)]
        self._deadline = deadline
        self._cancel = cancel
        self._log = log

    def remaining(self) -> float:
        return self._deadline - time.monotonic()

    def run(self, *args: str, cwd: Path, quiet: bool = False) -> GitResult:
        """Run ``git *args`` in ``cwd``; return its result, never raise.

        Stops git (and its process group) when the deadline passes or the cancel
        event is set; the result then says ``timed out`` or ``cancelled``.
        """
        if not quiet:
            self._log("$ git " + " ".join(_shown(arg) for arg in args))
        if self._cancel is not None and self._cancel.is_set():
            return GitResult(None, "", "", stopped="cancelled")
        if self.remaining() <= 0:
            return GitResult(None, "", "", stopped="timed out")
        with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
            try:
                process = subprocess.Popen(
                    ["git", *self._config, *args],
                    cwd=cwd,
                    env=self._env,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=err,
                    start_new_session=True,
                )
            except OSError as exc:
                return GitResult(None, "", "", stopped=f"git could not start ({exc.strerror})")
            stopped = self._wait(process)
            return GitResult(
                None if stopped else process.returncode, _read(out), _read(err), stopped=stopped
            )

    def _wait(self, process: subprocess.Popen[bytes]) -> str | None:
        while True:
            try:
                process.wait(timeout=POLL_SECONDS)
                return None
            except subprocess.TimeoutExpired:
                pass
            if self._cancel is not None and self._cancel.is_set():
                _kill(process)
                return "cancelled"
            if self.remaining() <= 0:
                _kill(process)
                return "timed out"


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _read(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read(MAX_OUTPUT_BYTES).decode("utf-8", errors="replace")


def _shown(arg: str) -> str:
    """An argument as logged: a URL without its password, a commit message as ``<message>``."""
    if "\n" in arg:
        return "<message>"
    return redact(arg) if "://" in arg else arg
