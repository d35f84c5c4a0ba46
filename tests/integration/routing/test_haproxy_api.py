"""The runtime API client against misbehaving peers: a scripted unix socket stands in for HAProxy.

These cover what a real HAProxy does not do on request (answer garbage, too
much, too little, or nothing); test_haproxy_router.py covers the real one.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from relgate.errors import BadInput
from relgate.routing.haproxy_api import MAX_ANSWER, RuntimeApi, set_weight

Script = Callable[[socket.socket, bytes], None]


class ScriptedSocket:
    """A unix socket that reads one line per connection and answers as ``script`` says."""

    def __init__(self, path: Path, script: Script) -> None:
        self.path = path
        self.lines: list[bytes] = []
        self._listener = socket.socket(socket.AF_UNIX)
        self._listener.bind(str(path))
        self._listener.listen(4)
        self._script = script
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._done.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                self.lines.append(data)
                with contextlib.suppress(OSError):
                    self._script(conn, data)

    def close(self) -> None:
        self._done.set()
        self._listener.close()


@pytest.fixture
def scripted(tmp_path: Path) -> Iterator[Callable[[Script], RuntimeApi]]:
    servers: list[ScriptedSocket] = []

    def make(script: Script) -> RuntimeApi:
        server = ScriptedSocket(tmp_path / f"s{len(servers)}.sock", script)
        servers.append(server)
        return RuntimeApi(socket_path=str(server.path), timeout=1)

    yield make
    for server in servers:
        server.close()


def answer(text: bytes) -> Script:
    return lambda conn, line: conn.sendall(text)


def test_commands_go_on_one_line_and_each_output_is_returned(
    scripted: Callable[[Script], RuntimeApi],
) -> None:
    replies = [b"\n\n", b"75 (initial 100)\n\n\n"]
    seen: list[bytes] = []

    def script(conn: socket.socket, line: bytes) -> None:
        seen.append(line)
        conn.sendall(replies.pop(0))

    api = scripted(script)

    api.change([set_weight("app", "stable", 75), set_weight("app", "canary", 25)])
    outputs = api.run([("get", "weight", "app/stable"), set_weight("app", "canary", 1)])

    assert outputs == ["75 (initial 100)", ""]
    assert seen == [
        b"set weight app/stable 75; set weight app/canary 25\n",
        b"get weight app/stable; set weight app/canary 1\n",
    ]


def test_a_refusal_names_each_refused_command(scripted: Callable[[Script], RuntimeApi]) -> None:
    api = scripted(answer(b"\nNo such server.\n\n"))

    with pytest.raises(Exception, match=r"refused `set weight app/canary 25`: No such server\."):
        api.change([set_weight("app", "stable", 75), set_weight("app", "canary", 25)])


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (b"", "answered `set weight app/canary 5` unexpectedly: nothing"),
        (b"No such server.\n", "unexpectedly"),  # cut before its empty line
        (b"\n\n\n", r"unexpectedly: '\\n\\n\\n'"),  # three outputs to one command
        (b"Permission denied\n\n", r"refused `set weight app/canary 5`: Permission denied"),
    ],
)
def test_an_unexpected_reply_is_a_routing_error(
    scripted: Callable[[Script], RuntimeApi], reply: bytes, why: str
) -> None:
    from relgate.routing.ports import RoutingError

    api = scripted(answer(reply))

    with pytest.raises(RoutingError, match=why):
        api.change([set_weight("app", "canary", 5)])


def test_an_answer_past_the_bound_is_refused(scripted: Callable[[Script], RuntimeApi]) -> None:
    from relgate.routing.ports import RoutingError

    def flood(conn: socket.socket, line: bytes) -> None:
        block = b"x" * 65536
        for _ in range(MAX_ANSWER // len(block) + 2):
            conn.sendall(block)

    api = scripted(flood)

    with pytest.raises(RoutingError, match="answered more than 1024 KiB"):
        api.servers("app")


def test_a_peer_that_never_answers_times_out(scripted: Callable[[Script], RuntimeApi]) -> None:
    from relgate.routing.ports import RoutingError

    release = threading.Event()
    api = scripted(lambda conn, line: release.wait(10))
    try:
        with pytest.raises(
            RoutingError, match=r"did not answer `show servers state app` within 1 s"
        ):
            api.servers("app")
    finally:
        release.set()


def test_a_table_of_another_backend_or_shape_is_refused(
    scripted: Callable[[Script], RuntimeApi],
) -> None:
    from relgate.routing.ports import RoutingError

    header = b"# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight\n"
    other = scripted(answer(b"1\n" + header + b"3 web 1 stable 127.0.0.1 2 0 100\n\n"))
    narrow = scripted(answer(b"1\n" + header + b"3 app 1 stable 127.0.0.1 2 0\n\n"))
    later = scripted(answer(b"2\n" + header + b"\n"))

    with pytest.raises(RoutingError, match="listed a server of backend 'web'"):
        other.servers("app")
    with pytest.raises(RoutingError, match=r"line 3 .* has 7 fields, the header 8"):
        narrow.servers("app")
    with pytest.raises(RoutingError, match=r"in a format relgate does not read \(version '2'"):
        later.servers("app")


def test_a_word_that_is_no_name_is_never_sent(scripted: Callable[[Script], RuntimeApi]) -> None:
    seen: list[bytes] = []
    api = scripted(lambda conn, line: seen.append(line))

    with pytest.raises(BadInput, match="nothing was sent"):
        api.run([("set", "weight", "app/canary", "5;", "shutdown", "sessions")])
    with pytest.raises(BadInput, match="is not an HAProxy name"):
        api.run([set_weight("app", "canary\nshutdown", 5)])
    with pytest.raises(BadInput, match="is not an HAProxy name"):
        api.servers("app;help")
    assert seen == []
