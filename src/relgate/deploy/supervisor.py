"""A small process that holds a deploy or verify command's process group for the server.

Why a supervisor, and not ``PR_SET_PDEATHSIG`` on the command alone:

* PDEATHSIG fires when the *thread* that forked the child ends, not the process:
  a worker thread that exits (a stop, a pool that retires threads) would kill a
  healthy command, and a command forked from a short-lived thread would die at once.
* PDEATHSIG reaches only the direct child. A script that starts ``sleep 600 &``
  leaves that grandchild running after ``kill -9`` of the server, reparented to
  init, still deploying while the next deployment of the environment starts.

So the server starts this supervisor (in a session and process group of its own)
with one end of a socket pair as its stdin, and the supervisor starts the command
in the *same* process group. The kernel closes the server's end when the server
process goes, however it goes (``kill -9`` included), so the supervisor reads
end-of-file exactly when the whole server is gone, and then stops the whole group:
SIGTERM, then SIGKILL after ``--kill-grace`` seconds. It also sets PDEATHSIG
(SIGKILL) on the command it forks itself, which is safe here (the supervisor is
single-threaded): if the supervisor itself is killed, the command dies with it.

Protocol on the socket (one line each, supervisor to server): ``started PID``,
or ``error MESSAGE`` when the command cannot start; later ``exit CODE`` (the
returncode, negative for a signal). The server writes ``done`` when it has
finished with the group; end-of-file without ``done`` means the server died.
The supervisor ignores SIGTERM/SIGINT/SIGHUP sent to the group (they are meant
for the command), so it stays to report and to clean up.

This file uses the standard library only and runs as a script
(``python -I -S supervisor.py``): it starts in milliseconds and needs neither
relgate nor site-packages importable.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.05


def _die_with_parent() -> None:  # pragma: no cover - runs in the forked child
    """Ask the kernel to SIGKILL this process when the supervisor (its parent) dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        # the parent may have died between fork and prctl
        if os.getppid() == 1:
            os._exit(137)


def _other_members(pgid: int) -> bool:
    """Whether a live process other than this one belongs to group ``pgid``."""
    me = str(os.getpid())
    proc = Path("/proc")
    for entry in proc.iterdir():
        if not entry.name.isdigit() or entry.name == me:
            continue
        try:
            stat = (entry / "stat").read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


def _stop_group(kill_grace: float) -> None:
    """SIGTERM the group, SIGKILL it after ``kill_grace`` s (this process included), exit."""
    pgid = os.getpgrp()
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGTERM)
    end = time.monotonic() + kill_grace
    while time.monotonic() < end and _other_members(pgid):
        _reap()
        time.sleep(POLL_SECONDS)
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)
    os._exit(137)  # pragma: no cover - the SIGKILL above ends this process


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _send(lifeline: socket.socket, text: str) -> None:
    with contextlib.suppress(OSError):
        lifeline.sendall(text.encode("utf-8", errors="replace") + b"\n")


def main(argv: list[str] | None = None) -> int:
    """Start the command, report on the socket at fd 0, stop the group when the server goes."""
    parser = argparse.ArgumentParser(prog="relgate-supervisor")
    parser.add_argument("--kill-grace", type=float, default=10.0)
    parser.add_argument("--uid", type=int, default=None)
    parser.add_argument("--gid", type=int, default=None)
    # Python sets LC_CTYPE itself under the C locale (PEP 538): not the command's business
    parser.add_argument("--no-lc-ctype", action="store_true")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    lifeline = socket.socket(fileno=os.dup(0))
    os.close(0)
    os.open(os.devnull, os.O_RDONLY)  # fd 0 again, for the command's stdin
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        # a handler, not SIG_IGN: the command must not inherit an ignored signal
        signal.signal(signum, lambda *_: None)
    if args.no_lc_ctype:
        os.environ.pop("LC_CTYPE", None)
    try:
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - single-threaded process
            user=args.uid,
            group=args.gid,
            extra_groups=[] if args.uid is not None else None,
        )
    except OSError as exc:
        _send(lifeline, f"error {exc.strerror or exc}")
        return 127
    _send(lifeline, f"started {child.pid}")
    # the output pipe is the command's: it closes when the command's group is done with it
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)
    reported = False
    while True:
        try:
            readable, _, _ = select.select([lifeline], [], [], POLL_SECONDS)
        except InterruptedError:  # pragma: no cover - PEP 475 retries
            continue
        if readable:
            try:
                data = lifeline.recv(64)
            except OSError:
                data = b""
            if data.startswith(b"done"):
                # the server has stopped what it wanted stopped; leave nothing behind
                _reap()
                if _other_members(os.getpgrp()):
                    _stop_group(0)
                return 0
            if not data:
                # the server is gone: nobody else will stop this group
                _stop_group(args.kill_grace)
        if not reported and child.poll() is not None:
            _send(lifeline, f"exit {child.returncode}")
            reported = True


if __name__ == "__main__":
    sys.exit(main())
