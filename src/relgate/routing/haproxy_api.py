"""A client of HAProxy's runtime API (the stats socket), for the commands routing needs.

The protocol is line-based text: one connection, one line of commands joined
by ``;``, and HAProxy answers each command with its output and an empty line,
then closes the connection. A successful ``set`` answers nothing; anything else
is HAProxy's error ("No such server.", "Permission denied", "Unknown
command...") and is raised as a :class:`RoutingError`. Commands on one line
run one after the other and a failing one does not stop the next: callers read
the state before and after.

Names are checked twice before anything is sent: by the config model, and
here, word by word, so that no newline, ``;`` or space in a backend or server
name can add a command of its own. An answer is bounded (:data:`MAX_ANSWER`)
and every call is bounded in time.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, IntFlag, StrEnum
from typing import Final

from relgate.errors import BadInput
from relgate.routing.config import HAPROXY_NAME
from relgate.routing.ports import RoutingError

# `show servers state` of a backend of 1,000 servers is ~200 KiB
MAX_ANSWER: Final = 1024 * 1024
# every word of a command line: names, BACKEND/SERVER, numbers and keywords
_WORD: Final = re.compile(r"^[A-Za-z0-9_.:/-]{1,201}\Z")


class AdminState(StrEnum):
    """What ``set server B/S state`` takes."""

    READY = "ready"
    DRAIN = "drain"
    MAINT = "maint"


class OpState(IntEnum):
    """``srv_op_state`` of ``show servers state`` (HAProxy's SRV_ST_*)."""

    STOPPED = 0
    STARTING = 1
    RUNNING = 2
    STOPPING = 3


class AdminFlags(IntFlag):
    """``srv_admin_state`` of ``show servers state`` (HAProxy's SRV_ADMF_*)."""

    FMAINT = 0x01  # forced maintenance (the runtime API, or `disabled` in the cfg)
    IMAINT = 0x02  # inherited from a tracked server
    CMAINT = 0x04  # `disabled` in the configuration
    FDRAIN = 0x08  # forced drain
    IDRAIN = 0x10  # inherited drain
    RMAINT = 0x20  # its address could not be resolved
    HMAINT = 0x40  # its address is being changed

    @property
    def maintenance(self) -> bool:
        return bool(self & (self.FMAINT | self.IMAINT | self.CMAINT | self.RMAINT | self.HMAINT))

    @property
    def draining(self) -> bool:
        return bool(self & (self.FDRAIN | self.IDRAIN))


@dataclass(frozen=True)
class ServerState:
    """One line of ``show servers state BACKEND``."""

    backend: str
    name: str
    address: str
    op_state: OpState
    admin: AdminFlags
    weight: int
    """The current (user) weight, 0..256."""

    @property
    def serving(self) -> bool:
        """Whether it takes new requests: up, not drained nor in maintenance, weight above 0."""
        return (
            self.op_state in (OpState.STARTING, OpState.RUNNING)
            and not self.admin.maintenance
            and not self.admin.draining
            and self.weight > 0
        )

    @property
    def detail(self) -> str:
        """``up``, ``down`` (its checks fail), ``starting``, ``stopping``; ``, drain``;
        or ``maintenance`` (HAProxy counts a server in maintenance as down)."""
        if self.admin.maintenance:
            return "maintenance"
        words = [{0: "down", 1: "starting", 2: "up", 3: "stopping"}[self.op_state]]
        if self.admin.draining:
            words.append("drain")
        return ", ".join(words)


def check_name(value: str, what: str) -> str:
    """Return ``value`` when HAProxy accepts it as a name; raise BadInput before any I/O."""
    if not isinstance(value, str) or not HAPROXY_NAME.fullmatch(value):
        raise BadInput(
            f"{what} {value!r} is not an HAProxy name (letters, digits, '-', '_', '.', ':'): "
            "nothing was sent to HAProxy"
        )
    return value


def set_weight(backend: str, server: str, weight: int) -> tuple[str, ...]:
    """The command that sets a server's weight (0..256)."""
    if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 256:
        raise BadInput(f"HAProxy weight {weight!r} is not a whole number from 0 to 256")
    return ("set", "weight", _server_ref(backend, server), str(weight))


def set_state(backend: str, server: str, state: AdminState) -> tuple[str, ...]:
    """The command that puts a server in ``ready``, ``drain`` or ``maint``."""
    return ("set", "server", _server_ref(backend, server), "state", AdminState(state).value)


def _server_ref(backend: str, server: str) -> str:
    return f"{check_name(backend, 'backend')}/{check_name(server, 'server')}"


class RuntimeApi:
    """Calls HAProxy's runtime API on a unix socket or a TCP address (``HOST:PORT``)."""

    def __init__(
        self, *, socket_path: str | None = None, address: str | None = None, timeout: float = 5
    ) -> None:
        if (socket_path is None) == (address is None):
            raise ValueError("give socket_path or address")
        self._socket_path = socket_path
        self._address = address
        self._timeout = timeout
        self.where = socket_path or f"tcp {address}"

    def run(self, commands: Sequence[tuple[str, ...]]) -> list[str]:
        """Send ``commands`` on one line; return each one's output (without the empty line).

        Raises BadInput for a word that could not be a name, number or keyword
        (before connecting), RoutingError when HAProxy cannot be reached, is too
        slow, answers too much, or answers a different number of outputs.
        """
        if not commands:
            return []
        for command in commands:
            for word in command:
                if not isinstance(word, str) or not _WORD.fullmatch(word):
                    raise BadInput(
                        f"{word!r} cannot be sent to HAProxy's runtime API: nothing was sent"
                    )
        line = "; ".join(" ".join(command) for command in commands)
        answer = self._exchange(line)
        outputs = _split(answer)
        if outputs is None or len(outputs) != len(commands):
            raise RoutingError(
                f"haproxy at {self.where} answered `{line}` unexpectedly: {_excerpt(answer)}"
            )
        return outputs

    def change(self, commands: Sequence[tuple[str, ...]]) -> None:
        """Run ``set`` commands; raise RoutingError naming each one HAProxy refused."""
        outputs = self.run(commands)
        refused = [
            f"`{' '.join(command)}`: {output.strip()}"
            for command, output in zip(commands, outputs, strict=True)
            if output.strip()
        ]
        if refused:
            raise RoutingError(f"haproxy at {self.where} refused " + "; ".join(refused))

    def servers(self, backend: str) -> list[ServerState]:
        """The servers of ``backend`` as ``show servers state`` reports them.

        Raises RoutingError when there is no such backend or the answer is not the
        table HAProxy prints.
        """
        check_name(backend, "backend")
        [output] = self.run([("show", "servers", "state", backend)])
        return parse_servers_state(output, backend=backend, where=self.where)

    def _exchange(self, line: str) -> str:
        deadline = time.monotonic() + self._timeout
        try:
            sock = self._connect()
        except OSError as exc:
            raise RoutingError(
                f"cannot reach haproxy's runtime API at {self.where}: {exc.strerror or exc}"
            ) from None
        with sock:
            try:
                sock.sendall(line.encode("ascii") + b"\n")
                chunks: list[bytes] = []
                size = 0
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError
                    sock.settimeout(left)
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > MAX_ANSWER:
                        raise RoutingError(
                            f"haproxy at {self.where} answered more than "
                            f"{MAX_ANSWER // 1024} KiB to `{line}`"
                        )
                    chunks.append(chunk)
            except TimeoutError:
                raise RoutingError(
                    f"haproxy at {self.where} did not answer `{line}` within {self._timeout:g} s"
                ) from None
            except OSError as exc:
                raise RoutingError(
                    f"haproxy's runtime API at {self.where} failed: {exc.strerror or exc}"
                ) from None
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _connect(self) -> socket.socket:
        if self._socket_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(self._timeout)
            try:
                sock.connect(self._socket_path)
            except OSError:
                sock.close()
                raise
            return sock
        assert self._address is not None
        host, _, port = self._address.rpartition(":")
        return socket.create_connection((host.strip("[]"), int(port)), timeout=self._timeout)


def _split(answer: str) -> list[str] | None:
    """Each command's output: the lines up to an empty line. None when the answer is cut."""
    if not answer.endswith("\n"):
        return None
    outputs: list[str] = []
    current: list[str] = []
    for text in answer[:-1].split("\n"):
        if text == "":
            outputs.append("\n".join(current))
            current = []
        else:
            current.append(text)
    if current:
        return None  # the last output lacks its empty line: the answer was cut short
    return outputs


def _excerpt(text: str) -> str:
    return repr(text[:200]) + ("..." if len(text) > 200 else "") if text else "nothing"


_NEEDED = ("be_name", "srv_name", "srv_addr", "srv_op_state", "srv_admin_state", "srv_uweight")


def parse_servers_state(output: str, *, backend: str, where: str) -> list[ServerState]:
    """Read the table of ``show servers state BACKEND`` (format version 1).

    Raises RoutingError naming what is wrong: HAProxy's error ("Can't find
    backend."), another format version, a header without the needed columns, a
    line of the wrong width or with a value that is not a number.
    """
    lines = output.split("\n")
    if lines[0].strip() != "1":
        if len(lines) == 1 and lines[0] and not lines[0][0].isdigit():
            raise RoutingError(
                f"haproxy at {where}: `show servers state {backend}`: {lines[0].strip()}"
            )
        raise RoutingError(
            f"haproxy at {where} answered `show servers state {backend}` in a format relgate "
            f"does not read (version {lines[0][:20]!r}, relgate reads 1)"
        )
    if len(lines) < 2 or not lines[1].startswith("# "):
        raise RoutingError(f"haproxy at {where}: `show servers state {backend}` has no header")
    columns = lines[1][2:].split()
    missing = [name for name in _NEEDED if name not in columns]
    if missing:
        raise RoutingError(
            f"haproxy at {where}: `show servers state` lacks the columns {', '.join(missing)}"
        )
    at = {name: columns.index(name) for name in _NEEDED}
    servers: list[ServerState] = []
    for number, text in enumerate(lines[2:], start=3):
        fields = text.split()
        if len(fields) != len(columns):
            raise RoutingError(
                f"haproxy at {where}: line {number} of `show servers state {backend}` has "
                f"{len(fields)} fields, the header {len(columns)}"
            )
        try:
            op_state = OpState(int(fields[at["srv_op_state"]]))
            admin = AdminFlags(int(fields[at["srv_admin_state"]]))
            weight = int(fields[at["srv_uweight"]])
        except ValueError:
            raise RoutingError(
                f"haproxy at {where}: line {number} of `show servers state {backend}` holds "
                f"a state or weight relgate does not know: {_excerpt(text)}"
            ) from None
        if fields[at["be_name"]] != backend:
            raise RoutingError(
                f"haproxy at {where}: `show servers state {backend}` listed a server of "
                f"backend {fields[at['be_name']]!r}"
            )
        servers.append(
            ServerState(
                backend=backend,
                name=fields[at["srv_name"]],
                address=fields[at["srv_addr"]],
                op_state=op_state,
                admin=admin,
                weight=weight,
            )
        )
    return servers
