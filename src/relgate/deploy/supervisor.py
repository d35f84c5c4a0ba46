"""A small process that stops a deploy or verify command's process group when the server dies.

Why a supervisor, and not ``PR_SET_PDEATHSIG`` on the command alone:

* PDEATHSIG fires when the *thread* that forked the child ends, not the process:
  a worker thread that exits (a stop, a pool that retires threads) would kill a
  healthy command, and a command forked from a short-lived thread would die at once.
* PDEATHSIG reaches only the direct child. A script that starts ``sleep 600 &``
  leaves that grandchild running after ``kill -9`` of the server, reparented to
  init, still deploying while the next deployment of the environment starts.

So the server starts this supervisor with one end of a socket pair as its stdin;
the supervisor forks the command into a session and process group of its own.
The kernel closes the server's end when the server process goes, however it goes
(``kill -9`` included), so the supervisor reads end-of-file exactly when the whole
server is gone, and then stops the command's whole group: SIGTERM, then SIGKILL
after ``--kill-grace`` seconds. It also sets PDEATHSIG (SIGKILL) on the command
it forks, which is sound here (the supervisor is single-threaded): if the
supervisor itself is killed, the command dies with it.

Protocol on the socket (one line each, supervisor to server): ``started PID``
(the command's pid, which is its process group's id), or ``error MESSAGE`` when
it cannot start; later ``exit CODE`` (negative for a signal, as subprocess
says). The server writes ``done`` when it has finished with the group;
end-of-file without ``done`` means the server died.

This file runs as a script (``python -I -S supervisor.py``) and imports only
``os``, ``sys``, ``select`` and ``ctypes``: it is on the path from a promotion to
its deploy command, so it must start in milliseconds, and it needs neither relgate
nor site-packages. Linux only (PDEATHSIG, /proc, pidfd).
"""

from __future__ import annotations

import os
import select
import sys
import time

PR_SET_PDEATHSIG = 1
SIGKILL = 9
SIGTERM = 15
POLL_SECONDS = 0.05


def _set_pdeathsig() -> None:
    """Ask the kernel to SIGKILL this (forked) process when its parent, the supervisor, dies."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` is alive, zombies aside.

    Orphans are reparented to PID 1, which in a container may never reap them,
    so a group of zombies must not count as running. Also used by the server
    (relgate.deploy.process).
    """
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        entries = os.listdir("/proc")
    except OSError:  # pragma: no cover - no /proc
        return True
    for name in entries:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            return True
    return False


# try/except/pass rather than contextlib.suppress: contextlib would cost a few
# milliseconds of imports on every deployment's start
def _signal_group(pgid: int, signum: int) -> None:
    try:  # noqa: SIM105
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _stop_group(pgid: int, kill_grace: float) -> None:
    """SIGTERM the command's group, SIGKILL it after ``kill_grace`` s unless it is gone."""
    _signal_group(pgid, SIGTERM)
    end = time.monotonic() + kill_grace
    while time.monotonic() < end:
        if not group_alive(pgid):
            return
        time.sleep(POLL_SECONDS)
    _signal_group(pgid, SIGKILL)


def _exit_code(pid: int) -> int | None:
    """The command's exit code once it ended (negative for a signal), else None.

    It is left a zombie (WNOWAIT) until the supervisor ends: its pid, the group's
    id, cannot be reused by another process meanwhile.
    """
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return None
    if info is None:
        return None
    return info.si_status if info.si_code == os.CLD_EXITED else -info.si_status


def _reap(pid: int) -> None:
    try:  # noqa: SIM105
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _send(lifeline: int, text: str) -> None:
    try:  # noqa: SIM105
        os.write(lifeline, text.encode("utf-8", errors="replace") + b"\n")
    except OSError:
        pass


def _spawn(command: list[str], env: dict[str, str], uid: int | None, gid: int | None) -> int:
    """Fork and exec ``command`` in a new session; return its pid. Raises OSError from exec."""
    errors_read, errors_write = os.pipe()  # close-on-exec: end-of-file means exec worked
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(errors_read)
            os.setsid()
            _set_pdeathsig()
            if os.getppid() == 1:  # the supervisor died before prctl took effect
                os._exit(137)
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            if gid is not None:
                os.setgroups([])
                os.setgid(gid)
            if uid is not None:
                os.setuid(uid)
            os.execvpe(command[0], command, env)
        except OSError as exc:
            os.write(errors_write, f"{exc.errno} {exc.strerror or exc}".encode())
        os._exit(127)
    os.close(errors_write)
    with os.fdopen(errors_read, "rb") as pipe:
        failure = pipe.read()
    if failure:
        os.waitpid(pid, 0)
        number, _, message = failure.decode("utf-8", errors="replace").partition(" ")
        raise OSError(int(number) if number.isdigit() else 0, message)
    return pid


def _parse(argv: list[str]) -> tuple[float, int | None, int | None, bool, list[str]]:
    kill_grace, uid, gid, no_lc_ctype = 10.0, None, None, False
    index = 0
    while index < len(argv) and argv[index] != "--":
        flag = argv[index]
        if flag == "--no-lc-ctype":
            no_lc_ctype = True
            index += 1
            continue
        value = argv[index + 1]
        if flag == "--kill-grace":
            kill_grace = float(value)
        elif flag == "--uid":
            uid = int(value)
        elif flag == "--gid":
            gid = int(value)
        else:
            raise SystemExit(f"relgate-supervisor: unknown option {flag}")
        index += 2
    command = argv[index + 1 :]
    if not command:
        raise SystemExit("relgate-supervisor: no command given")
    return kill_grace, uid, gid, no_lc_ctype, command


def main(argv: list[str] | None = None) -> int:
    """Start the command, report on the socket at fd 0, stop its group when the server goes."""
    kill_grace, uid, gid, no_lc_ctype, command = _parse(sys.argv[1:] if argv is None else argv)
    lifeline = os.dup(0)  # not inherited by the command (close-on-exec)
    env = dict(os.environ)
    if no_lc_ctype:
        # Python sets LC_CTYPE itself under the C locale (PEP 538): not the command's business
        env.pop("LC_CTYPE", None)
    try:
        pid = _spawn(command, env, uid, gid)
    except OSError as exc:
        _send(lifeline, f"error {exc.strerror or exc}")
        return 127
    _send(lifeline, f"started {pid}")
    # the output pipe is the command's: it closes when the command's group is done with it
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)
    try:
        exited: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # pragma: no cover - an old kernel: poll instead
        exited = None
    reported = False
    while True:
        watched = [lifeline] if reported or exited is None else [lifeline, exited]
        timeout = None if reported or exited is not None else POLL_SECONDS
        readable, _, _ = select.select(watched, [], [], timeout)
        if lifeline in readable:
            try:
                data = os.read(lifeline, 64)
            except OSError:
                data = b""
            if data.startswith(b"done"):
                # the server stopped what it wanted stopped; leave nothing behind
                _signal_group(pid, SIGKILL)
                _reap(pid)
                return 0
            if not data:
                # the server is gone: nobody else will stop this group
                _stop_group(pid, kill_grace)
                _reap(pid)
                return 0
        if not reported:
            code = _exit_code(pid)
            if code is not None:
                _send(lifeline, f"exit {code}")
                reported = True


if __name__ == "__main__":
    sys.exit(main())
