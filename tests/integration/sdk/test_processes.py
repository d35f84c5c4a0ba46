"""The SDK across processes: a cache file shared by several, and a fork after start."""

from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

from relgate.sdk.cache import FeatureCache
from tests.integration.sdk.conftest import ClientFactory
from tests.integration.sdk.stub_server import StubFeatureServer, features, flag
from tests.support.server import wait_for

WRITES = 60


def _write_many(directory: str, writer: int) -> None:
    cache = FeatureCache(Path(directory))
    big = "x" * 20_000  # large enough that a torn write would show
    for index in range(WRITES):
        payload = features(flag(f"w{writer}-{index}", description=big))
        assert cache.save(payload, f'"{writer}-{index}"')


def test_a_cache_file_written_by_two_processes_is_never_torn(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_write_many, args=(str(tmp_path), n)) for n in (1, 2)]
    for process in writers:
        process.start()
    cache = FeatureCache(tmp_path)
    reads = 0
    while any(p.is_alive() for p in writers) or reads == 0:
        if cache.path.exists():
            # every read must be a whole document written by one of the writers
            document = json.loads(cache.path.read_text())
            name = document["payload"]["features"][0]["name"]
            assert document["etag"] == '"' + name[1:] + '"'
            reads += 1
    for process in writers:
        process.join(30)
        assert process.exitcode == 0

    loaded = cache.load()
    assert loaded is not None
    assert loaded.etag in {f'"1-{WRITES - 1}"', f'"2-{WRITES - 1}"'}
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_forked_child_restarts_the_poller_with_its_own_connections(
    stub: StubFeatureServer, make_client: ClientFactory
) -> None:
    client = make_client(stub.url, refresh_interval=0.05, metrics_interval=0.05)
    parent_instance = client.instance_id
    read_end, write_end = os.pipe()

    pid = os.fork()
    if pid == 0:  # the child: report what it sees through the pipe, never return into pytest
        status = 1
        try:
            os.close(read_end)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and client.is_enabled("checkout"):
                time.sleep(0.02)
            result = {
                "instance": client.instance_id,
                "poller": client._poll_task.running,
                "checkout": client.is_enabled("checkout"),
            }
            os.write(write_end, json.dumps(result).encode())
            status = 0
        finally:
            os._exit(status)

    os.close(write_end)
    wait_for(
        lambda: any(
            r.headers.get("UNLEASH-INSTANCEID") not in (None, parent_instance)
            for r in stub.feature_requests()
        ),
        timeout=10,
    )
    stub.set_payload(features(flag("checkout", False)))
    with os.fdopen(read_end) as pipe:
        child = json.loads(pipe.read())
    _, status = os.waitpid(pid, 0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert child["poller"] is True
    assert child["checkout"] is False
    assert child["instance"] != parent_instance
    assert str(pid) in child["instance"]
    wait_for(lambda: client.is_enabled("checkout") is False, timeout=10)
