"""Run one command as a supervised process group, streaming its output to a log sink.

The command runs under the supervisor (relgate.deploy.supervisor) in a session and
process group of its own, so that a timeout, a cancel, an exit that leaves helpers
behind, or the death of this server (``kill -9`` included) stops everything it
started with one signal to the group, never a process of anybody else's. Output
(stdout and stderr merged) is read in the calling thread and handed to the log
sink line by line, so the sink is never called from another thread.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from relgate.deploy.ports import LogSink, StepOutcome
from relgate.deploy.supervisor import group_alive

# A line longer than this is handed to the log in pieces, so one endless line
# cannot grow the buffer without bound.
MAX_LINE_BYTES = 64 * 1024
# How long output is still read after the command and its group are gone; a
# process that detached but kept the pipe open must not hold the step forever.
DRAIN_SECONDS = 1.0
POLL_SECONDS = 0.05
KILL_WAIT_SECONDS = 2.0
# how long the supervisor may take to start the command (a Python start on a busy host)
START_SECONDS = 30.0
SUPERVISOR = Path(__file__).with_name("supervisor.py")

_SHELL_SPECIAL = frozenset("$`*?[~{\\;&|<>()")


@dataclass(frozen=True)
class RunAs:
    """The OS user a command runs as: its ids and home."""

    name: str
    uid: int
    gid: int
    home: str


def program_name(command: str | Sequence[str]) -> str:
    """Return the program a command runs, for messages: ``./deploy.sh`` of ``./deploy.sh prod``."""
    if not isinstance(command, str):
        return command[0]
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    for word in words:
        # skip leading `NAME=value` assignments, as the shell does
        name, sep, _ = word.partition("=")
        if not (sep and name.isidentifier()):
            return word
    return command


def _cannot_start(command: str, cwd: Path) -> str | None:
    """Say why the program of a shell command line cannot start, when that is certain.

    Only a program given by path is checked: a bare word may be a builtin, a
    function or a keyword, which only the shell knows.
    """
    program = program_name(command)
    if "/" not in program or any(char in _SHELL_SPECIAL for char in program):
        return None
    path = cwd / program
    if not path.exists():
        return os.strerror(errno.ENOENT)
    if path.is_dir():
        return os.strerror(errno.EISDIR)
    if not os.access(path, os.X_OK):
        return os.strerror(errno.EACCES)
    return None


def _exit_hint(code: int, *, shell: bool) -> str:
    if not shell:
        return ""
    # the shell's own codes for a program it could not start, or that a signal ended
    if code == 127:
        return " (command not found)"
    if code == 126:
        return " (found but not executable)"
    if 128 < code < 128 + signal.NSIG:
        try:
            return f" (killed by {signal.Signals(code - 128).name})"
        except ValueError:
            return ""
    return ""


class _Output:
    """Reads the merged output pipe without blocking and logs complete lines."""

    def __init__(self, stream: int, log: LogSink) -> None:
        self._fd = stream
        self._log = log
        self._buffer = bytearray()
        self._selector = selectors.DefaultSelector()
        self._selector.register(stream, selectors.EVENT_READ)
        self.closed = False

    def pump(self, wait: float) -> None:
        """Read what arrives within ``wait`` seconds (sleeps when the pipe is closed)."""
        if self.closed:
            time.sleep(wait)
            return
        if not self._selector.select(max(wait, 0)):
            return
        chunk = os.read(self._fd, 65536)
        if not chunk:
            self.close()
            return
        self._buffer += chunk
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            self._emit(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
        while len(self._buffer) > MAX_LINE_BYTES:
            self._emit(bytes(self._buffer[:MAX_LINE_BYTES]))
            del self._buffer[:MAX_LINE_BYTES]

    def drain(self, seconds: float) -> None:
        """Read until the pipe closes or ``seconds`` pass, then stop reading."""
        end = time.monotonic() + seconds
        while not self.closed:
            remaining = end - time.monotonic()
            if remaining <= 0:
                break
            self.pump(min(remaining, POLL_SECONDS))
        self.close()

    def close(self) -> None:
        """Log a last unterminated line, if any, and stop watching the pipe."""
        if self.closed:
            return
        self.closed = True
        self._selector.close()
        if self._buffer:
            self._emit(bytes(self._buffer))
            self._buffer.clear()

    def abandon(self) -> None:
        """Stop watching the pipe, dropping an unterminated line."""
        if not self.closed:
            self.closed = True
            self._selector.close()

    def _emit(self, line: bytes) -> None:
        self._log(line.rstrip(b"\r").decode("utf-8", errors="replace"))


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class _Group:
    """A command started through the supervisor (relgate.deploy.supervisor), and its group.

    The command leads a process group of its own (its pid, from the supervisor's
    ``started`` line, is the group's id); the supervisor stays outside the group
    until :meth:`close`. ``poll`` answers for the command, not the supervisor.
    """

    def __init__(self, process: subprocess.Popen[bytes], lifeline: socket.socket) -> None:
        self.process = process
        self.pgid = 0
        self._lifeline = lifeline
        self._pending = b""
        self.returncode: int | None = None
        self.error: str | None = None
        self.started = False

    def wait_started(self, timeout: float = START_SECONDS) -> str | None:
        """Wait for the supervisor to start the command; return why it could not, or None."""
        end = time.monotonic() + timeout
        while not self.started and self.error is None:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return "the supervisor did not start it in time"
            if not self._read(min(remaining, POLL_SECONDS)) and self.process.poll() is not None:
                return self.error or f"the supervisor exited {self.process.returncode}"
        return self.error

    def _read(self, wait: float) -> bool:
        """Read the supervisor's messages arriving within ``wait`` s; False at end of file."""
        if self._lifeline.fileno() < 0:
            return False
        ready, _, _ = select.select([self._lifeline], [], [], max(wait, 0))
        if not ready:
            return True
        try:
            chunk = self._lifeline.recv(4096)
        except OSError:
            chunk = b""
        if not chunk:
            self._lifeline.close()
            return False
        self._pending += chunk
        while b"\n" in self._pending:
            line, _, self._pending = self._pending.partition(b"\n")
            word, _, rest = line.decode("utf-8", errors="replace").partition(" ")
            if word == "started":
                self.started = True
                self.pgid = int(rest)
            elif word == "error":
                self.error = rest
            elif word == "exit":
                with contextlib.suppress(ValueError):
                    self.returncode = int(rest)
        return True

    def poll(self) -> int | None:
        """The command's returncode once it ended; the supervisor's when it was killed."""
        if self.returncode is None:
            self._read(0)
        if self.returncode is None and self.process.poll() is not None:
            while self._read(0) and self._lifeline.fileno() >= 0 and self.returncode is None:
                pass
            if self.returncode is None:
                self.returncode = self.process.returncode
        return self.returncode

    def others_alive(self) -> bool:
        """Whether anything of the command's group still runs (its ended leader aside)."""
        return self.started and group_alive(self.pgid)

    def signal(self, signum: signal.Signals) -> None:
        if self.started:
            _signal_group(self.pgid, signum)

    def wait_message(self, seconds: float) -> None:
        """Wait up to ``seconds`` for a line of the supervisor (used once the output closed)."""
        if not self._read(seconds):
            time.sleep(seconds)

    def kill(self) -> None:
        """SIGKILL the command's whole group and wait briefly until it is gone."""
        self.signal(signal.SIGKILL)
        # SIGKILL is delivered asynchronously; a process stuck in the kernel may lag
        end = time.monotonic() + KILL_WAIT_SECONDS
        while self.others_alive() and time.monotonic() < end:
            if self.process.poll() is not None and self.returncode is None:
                self.returncode = self.process.returncode
            time.sleep(0.005)
        if self.returncode is None:
            self._read(0)
            if self.returncode is None:
                self.returncode = -signal.SIGKILL

    def close(self) -> None:
        """Tell the supervisor the server is done with the group, and reap it."""
        if self._lifeline.fileno() >= 0:
            with contextlib.suppress(OSError):
                self._lifeline.sendall(b"done\n")
            self._lifeline.close()
        try:
            self.process.wait(KILL_WAIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _stop_group(group: _Group, grace: float, output: _Output) -> None:
    """SIGTERM the command's process group, then SIGKILL what is left after ``grace`` seconds."""
    group.signal(signal.SIGTERM)
    end = time.monotonic() + grace
    while time.monotonic() < end:
        output.pump(POLL_SECONDS)
        if group.poll() is not None and not group.others_alive():
            return
    group.kill()


def _supervisor_argv(
    argv: Sequence[str], kill_grace: float, user: RunAs | None, env: Mapping[str, str]
) -> list[str]:
    """The command line that starts ``argv`` under the supervisor (stdlib only, no site)."""
    command = [sys.executable, "-I", "-S", str(SUPERVISOR), "--kill-grace", f"{kill_grace:g}"]
    if "LC_CTYPE" not in env:
        command.append("--no-lc-ctype")
    if user is not None:
        command += ["--uid", str(user.uid), "--gid", str(user.gid)]
    return [*command, "--", *argv]


def run_command(
    command: str | Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    kill_grace: float,
    log: LogSink,
    cancel: threading.Event | None = None,
    label: str = "command",
    user: RunAs | None = None,
    shown: str | None = None,
) -> StepOutcome:
    """Run ``command`` (a shell line or an argv) in ``cwd``, streaming its output to ``log``.

    ``env`` is the whole environment of the command; ``user`` the OS user it
    runs as (its own group, no supplementary groups), the server's by default.
    The command runs under the supervisor (relgate.deploy.supervisor) in a
    process group of its own, so that it and everything it started die with
    this server, even with ``kill -9``.

    Returns a succeeded outcome when it exits 0; otherwise an outcome naming
    the exit code, the signal, the timeout, ``cancelled``, or why it could not
    start. Never raises for a failing command (only an exception of ``log``
    itself propagates, after the processes are stopped). Whatever the command
    leaves running in its process group is stopped before this returns. ``shown``
    names the program in messages (as the spec wrote it), by default as given.
    """
    name = shown or program_name(command)
    if not cwd.is_dir():
        return StepOutcome(False, f"cannot run {name}: working directory {cwd} does not exist")
    if isinstance(command, str):
        problem = _cannot_start(command, cwd)
        if problem is not None:
            return StepOutcome(False, f"cannot run {name}: {problem}")
        argv = ["/bin/sh", "-c", command]
    else:
        argv = list(command)
    ours, theirs = socket.socketpair()
    try:
        process = subprocess.Popen(
            _supervisor_argv(argv, kill_grace, user, env),
            cwd=cwd,
            env=dict(env),
            stdin=theirs.fileno(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as exc:
        ours.close()
        return StepOutcome(False, f"cannot run {name}: {exc.strerror or exc}")
    finally:
        theirs.close()
    assert process.stdout is not None
    group = _Group(process, ours)
    output = _Output(process.stdout.fileno(), log)
    try:
        problem = group.wait_started()
        if problem is not None:
            output.drain(DRAIN_SECONDS)
            return StepOutcome(False, f"cannot run {name}: {problem}")
        return _supervise(
            group,
            output,
            timeout=timeout,
            kill_grace=kill_grace,
            log=log,
            cancel=cancel,
            label=label,
            shell=isinstance(command, str),
        )
    finally:
        if group.poll() is None or group.others_alive():
            # only reached when the log sink raised: leave nothing behind
            group.kill()
        group.close()
        output.abandon()
        process.stdout.close()


def _supervise(
    group: _Group,
    output: _Output,
    *,
    timeout: float,
    kill_grace: float,
    log: LogSink,
    cancel: threading.Event | None,
    label: str,
    shell: bool,
) -> StepOutcome:
    deadline = time.monotonic() + timeout
    while group.poll() is None:
        if cancel is not None and cancel.is_set():
            log(f"relgate: cancelled, stopping the {label}")
            _stop_group(group, kill_grace, output)
            output.drain(DRAIN_SECONDS)
            return StepOutcome(False, "cancelled")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            log(f"relgate: {label} timed out after {timeout:g} s, stopping it")
            _stop_group(group, kill_grace, output)
            output.drain(DRAIN_SECONDS)
            return StepOutcome(False, f"{label} timed out after {timeout:g} s")
        if output.closed:
            group.wait_message(min(POLL_SECONDS, remaining))
        else:
            output.pump(min(POLL_SECONDS, remaining))
    code = group.poll()
    assert code is not None
    if group.others_alive():
        log(
            f"relgate: stopping processes the {label} left running in its process group "
            "(start long-lived processes with setsid)"
        )
        _stop_group(group, kill_grace, output)
    output.drain(DRAIN_SECONDS)
    if code == 0:
        return StepOutcome(True, f"{label} exited 0", 0)
    if code < 0:
        try:
            signame = signal.Signals(-code).name
        except ValueError:
            signame = f"signal {-code}"
        return StepOutcome(False, f"{label} was killed by {signame}")
    return StepOutcome(False, f"{label} exited {code}{_exit_hint(code, shell=shell)}", code)
