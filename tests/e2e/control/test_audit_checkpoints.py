"""Signed audit checkpoints through the real server and CLI, and a chain tampered with by SQL."""

from __future__ import annotations

import contextlib
import json
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from relgate.audit.chain import event_hash
from relgate.audit.checkpoint import parse_line
from relgate.audit.keys import load_public_key, public_pem
from relgate.store.db import make_engine
from tests.e2e.control.conftest import api, run_cli, start_server, stop_server
from tests.support.receiver import Receiver, receiver
from tests.support.server import start_server as start_plain_server
from tests.support.server import wait_for


@dataclass
class AuditedServer:
    url: str
    admin: str
    workdir: Path
    database_url: str
    hook: Receiver

    @property
    def server(self) -> tuple[str, str, Path]:
        return self.url, self.admin, self.workdir

    @property
    def file(self) -> Path:
        return self.workdir / "cps.jsonl"

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, url=self.url, token=token or self.admin, cwd=self.workdir)

    def events(self) -> list[dict[str, object]]:
        chain: list[dict[str, object]] = api(self.server, "GET", "/api/v1/audit/chain")
        return chain

    def sql(self, statement: str, **params: object) -> None:
        engine = make_engine(self.database_url)
        try:
            with engine.begin() as conn:
                conn.execute(text(statement), params)
        finally:
            engine.dispose()

    def make_events(self, prefix: str, count: int) -> None:
        for n in range(count):
            body = {"name": f"{prefix}-{n}", "role": "ci"}
            api(self.server, "POST", "/api/v1/tokens", json=body)


@pytest.fixture(params=["sqlite", "postgres"])
def audited(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AuditedServer]:
    """A server of this test alone, checkpointing every 3 events to a file, git and a webhook."""
    from tests.support.databases import fresh_postgres_database

    with contextlib.ExitStack() as stack:
        database_url = None
        if request.param == "postgres":
            database_url = stack.enter_context(fresh_postgres_database("relgate_e2e"))
        hook = stack.enter_context(receiver())
        env = {
            "RELGATE_AUDIT_SINKS": f"file:cps.jsonl git:audit-repo webhook:{hook.url}/audit",
            "RELGATE_AUDIT_CHECKPOINT_EVENTS": "3",
        }
        proc, url, token = start_server(tmp_path, database_url, env=env)
        stack.callback(stop_server, proc)
        yield AuditedServer(
            url, token, tmp_path, database_url or f"sqlite:///{tmp_path / 'relgate.db'}", hook
        )


def checkpointed_seqs(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [parse_line(line, where="x").checkpoint.seq for line in path.read_text().splitlines()]


def test_the_server_checkpoints_in_the_background_and_an_intact_chain_verifies(
    audited: AuditedServer,
) -> None:
    audited.make_events("bg", 4)
    wait_for(lambda: checkpointed_seqs(audited.file))  # written by the server on its own
    audited.make_events("more", 1)
    now = audited.cli("audit", "checkpoint")
    key = audited.cli("audit", "public-key")
    (audited.workdir / "key.pem").write_text(key.stdout)
    from_file = audited.cli(
        "audit", "verify", "--checkpoints", "cps.jsonl", "--public-key", "key.pem"
    )
    from_git = audited.cli(
        "audit", "verify", "--checkpoints", "audit-repo", "--public-key", "key.pem", "--json"
    )
    head = audited.events()[-1]["seq"]
    commits = subprocess.run(
        ["git", "rev-list", "--count", "HEAD"],
        cwd=audited.workdir / "audit-repo",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()

    assert now.returncode == 0, now.stderr
    # the server's own checkpointer may have taken the newest event first (it runs on its
    # own schedule): either way the head is checkpointed
    assert (
        f"checkpoint written: event {head}" in now.stdout
        or f"no new events since the checkpoint of event {head}" in now.stdout
    ), now.stdout
    assert from_file.returncode == 0, from_file.stdout + from_file.stderr
    assert "audit trail intact" in from_file.stdout
    assert "warning" not in from_file.stderr  # the key was pinned
    report = json.loads(from_git.stdout)
    assert (report["intact"], report["newest_checkpoint"], report["key_pinned"]) == (
        True,
        head,
        True,
    )
    assert int(commits) == len(checkpointed_seqs(audited.file))
    public = load_public_key(key.stdout.encode(), where="key.pem")
    posted = [parse_line(body.decode(), where="webhook") for body in audited.hook.bodies]
    assert posted[-1].checkpoint.seq == head
    assert all(cp.signed_by(public) for cp in posted)


def test_removing_the_newest_events_by_sql_fails_verification_naming_the_first_missing_one(
    audited: AuditedServer,
) -> None:
    audited.make_events("cut", 4)
    assert audited.cli("audit", "checkpoint").returncode == 0
    head = audited.events()[-1]["seq"]
    assert isinstance(head, int)

    audited.sql("DELETE FROM audit_events WHERE seq > :keep", keep=head - 2)
    against_stored = audited.cli("audit", "verify")
    audited.sql("DELETE FROM audit_checkpoints")  # a thorough intruder removes those too
    plain = audited.cli("audit", "verify")
    checked = audited.cli("audit", "verify", "--checkpoints", "cps.jsonl")
    as_json = audited.cli("audit", "verify", "--checkpoints", "cps.jsonl", "--json")
    refused = audited.cli("audit", "checkpoint")

    assert against_stored.returncode == 1  # the server's own copy of the checkpoints
    assert f"event {head - 1} missing" in against_stored.stdout
    assert plain.returncode == 0  # the shorter chain alone looks intact
    assert checked.returncode == 1
    assert f"event {head - 1} missing" in checked.stdout
    assert f"first missing or differing event: {head - 1}" in checked.stdout
    assert json.loads(as_json.stdout)["first_bad_event"] == head - 1
    assert refused.returncode == 1
    assert "no new checkpoint is signed" in refused.stderr


def test_a_chain_rehashed_by_sql_fails_verification_against_the_checkpoints(
    audited: AuditedServer,
) -> None:
    audited.make_events("rehash", 2)
    assert audited.cli("audit", "checkpoint").returncode == 0
    events = audited.events()
    head = events[-1]["seq"]
    assert isinstance(head, int)

    # rewrite the actor of the first event and re-hash every event after it, in SQL
    prev = "0" * 64
    for event in events:
        actor = "mallory" if event["seq"] == 1 else str(event["actor"])
        digest = event_hash(
            prev,
            int(str(event["seq"])),
            actor,
            str(event["action"]),
            str(event["subject"]),
            event["before"],  # type: ignore[arg-type]
            event["after"],  # type: ignore[arg-type]
            datetime.fromisoformat(str(event["at"])),
        )
        audited.sql(
            "UPDATE audit_events SET actor = :actor, prev_hash = :prev, hash = :hash "
            "WHERE seq = :seq",
            actor=actor,
            prev=prev,
            hash=digest,
            seq=event["seq"],
        )
        prev = digest
    audited.sql("DELETE FROM audit_checkpoints")
    plain = audited.cli("audit", "verify")
    checked = audited.cli("audit", "verify", "--checkpoints", "audit-repo")

    assert plain.returncode == 0  # consistent links: the chain alone cannot tell
    assert checked.returncode == 1
    first = checkpointed_seqs(audited.file)[0]
    assert f"event {first} differs from its checkpoint" in checked.stdout
    assert f"first missing or differing event: {first}" in checked.stdout


def test_a_bad_signature_and_an_unpinned_key_are_reported_and_checkpoints_are_read_over_http(
    audited: AuditedServer, tmp_path: Path
) -> None:
    audited.make_events("sig", 3)
    assert audited.cli("audit", "checkpoint").returncode == 0
    document = json.loads(audited.file.read_text().splitlines()[-1])
    document["count"] += 1
    forged = tmp_path / "forged.jsonl"
    forged.write_text(audited.file.read_text() + json.dumps(document) + "\n")
    other_key = tmp_path / "other.pem"
    other_key.write_text(public_pem(Ed25519PrivateKey.generate().public_key()))

    bad = audited.cli("audit", "verify", "--checkpoints", str(forged))
    unpinned = audited.cli(
        "audit", "verify", "--checkpoints", "cps.jsonl", "--public-key", str(other_key)
    )
    with receiver(serve=audited.file) as files:
        over_http = audited.cli("audit", "verify", "--checkpoints", files.url + "/cps.jsonl")

    assert bad.returncode == 1
    assert "has a signature that is not valid" in bad.stdout
    assert f"{forged} line" in bad.stdout
    assert unpinned.returncode == 1
    assert "not a trusted one" in unpinned.stdout
    assert over_http.returncode == 0, over_http.stdout + over_http.stderr
    assert "the public key came from the server itself" in over_http.stderr


def test_only_an_admin_writes_a_checkpoint_and_a_missing_source_is_bad_input(
    audited: AuditedServer,
) -> None:
    ci = api(audited.server, "POST", "/api/v1/tokens", json={"name": "ci-cp", "role": "ci"})

    refused = audited.cli("audit", "checkpoint", token=ci["token"])
    missing = audited.cli("audit", "verify", "--checkpoints", "nowhere.jsonl")

    assert refused.returncode == 2
    assert "write audit checkpoints" in refused.stderr
    assert missing.returncode == 2
    assert "checkpoint file nowhere.jsonl does not exist" in missing.stderr


def test_the_key_file_is_created_0600_beside_the_database_and_reused_after_a_restart(
    tmp_path: Path,
) -> None:
    first = start_plain_server(tmp_path)
    try:
        token = first.admin_token()
        assert token is not None
        before = httpx.get(
            f"{first.url}/api/v1/audit/public-key",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    finally:
        first.stop()
    key_file = tmp_path / "relgate-audit-key.pem"
    mode = stat.S_IMODE(key_file.stat().st_mode)
    second = start_plain_server(tmp_path)
    try:
        after = httpx.get(
            f"{second.url}/api/v1/audit/public-key",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    finally:
        second.stop()

    assert mode == 0o600
    assert after == before
    assert before["public_key"].startswith("-----BEGIN PUBLIC KEY-----")


def test_serve_refuses_to_start_with_a_malformed_key_file(tmp_path: Path) -> None:
    (tmp_path / "relgate-audit-key.pem").write_text("garbage\n")

    started = run_cli("serve", "--port", "1", cwd=tmp_path)

    assert started.returncode == 2
    assert "audit key file relgate-audit-key.pem does not hold" in started.stderr
    assert "Traceback" not in started.stderr
