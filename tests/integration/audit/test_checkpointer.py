"""Signed checkpoints written to real sinks, and the chain tampered with in the database by SQL."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from relgate.audit import store as audit_store
from relgate.audit.chain import event_hash
from relgate.audit.checkpoint import parse_line
from relgate.audit.checkpointer import Checkpointer
from relgate.audit.sinks import CHECKPOINTS_FILE, FileSink, GitSink, WebhookSink
from relgate.audit.sources import read_source
from relgate.audit.verification import CheckpointReport, verify_with_checkpoints
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import AuditSinkSetting, Settings, SinkKind
from relgate.errors import Conflict
from relgate.store.tables import AuditCheckpointRow
from tests.support.receiver import receiver


@dataclass
class Rig:
    services: Services
    clock: FixedClock
    file: Path
    repo: Path

    @property
    def checkpointer(self) -> Checkpointer:
        return self.services.checkpointer

    def add_events(self, count: int) -> None:
        with self.services.uow() as uow:
            for _ in range(count):
                head = audit_store.head(uow)
                n = (head[0] if head else 0) + 1
                audit_store.append(
                    uow,
                    actor="alice",
                    action="thing.changed",
                    subject=f"thing/{n}",
                    at=self.clock.now(),
                    after={"n": n, "note": "ünïcode"},
                )
            uow.commit()

    def sql(self, statement: str, **params: object) -> None:
        with self.services.uow.engine.begin() as conn:
            conn.execute(text(statement), params)

    def verify(self, source: str | Path) -> CheckpointReport:
        found, problems = read_source(str(source))
        assert problems == []
        key = self.checkpointer.key
        with self.services.uow() as uow:
            events = audit_store.chain(uow, limit=100_000)
        return verify_with_checkpoints(events, found, {key.key_id: key.public})


def make_rig(database_url: str, tmp_path: Path) -> Rig:
    clock = FixedClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    configured = Settings(
        database_url=database_url,
        audit_key_file=str(tmp_path / "audit-key.pem"),
        audit_checkpoint_events=3,
        audit_sinks=(
            AuditSinkSetting(SinkKind.FILE, "out/checkpoints.jsonl"),
            AuditSinkSetting(SinkKind.GIT, "audit-repo"),
        ),
    )
    services = build(configured, clock=clock, base_dir=tmp_path)
    return Rig(services, clock, tmp_path / "out" / "checkpoints.jsonl", tmp_path / "audit-repo")


@pytest.fixture
def rig(database_url: str, tmp_path: Path) -> Iterator[Rig]:
    made = make_rig(database_url, tmp_path)
    try:
        yield made
    finally:
        made.services.uow.engine.dispose()


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_checkpoint_is_written_every_n_events_and_none_when_nothing_changed(rig: Rig) -> None:
    rig.add_events(2)
    before = rig.checkpointer.run_once()
    rig.add_events(1)
    third = rig.checkpointer.run_once()
    again = rig.checkpointer.run_once()

    assert before.written is None
    assert third.written is not None
    assert (third.written.checkpoint.seq, third.written.checkpoint.count) == (3, 3)
    assert again.written is None
    assert [line["seq"] for line in lines(rig.file)] == [3]


def test_a_checkpoint_is_written_once_the_oldest_unchecked_event_is_m_minutes_old(
    rig: Rig,
) -> None:
    rig.add_events(1)
    early = rig.checkpointer.run_once()
    rig.clock.advance(minutes=5)
    due = rig.checkpointer.run_once()

    assert early.written is None
    assert due.written is not None
    assert due.written.checkpoint.seq == 1


def test_the_git_sink_makes_one_real_commit_per_checkpoint_and_the_chain_verifies(
    rig: Rig,
) -> None:
    for _ in range(3):
        rig.add_events(3)
        rig.checkpointer.run_once()

    log = subprocess.run(
        ["git", "log", "--format=%s"], cwd=rig.repo, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    committed = subprocess.run(
        ["git", "show", f"HEAD:{CHECKPOINTS_FILE}"],
        cwd=rig.repo,
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    assert log == [
        "audit checkpoint: event 9, 9 events",
        "audit checkpoint: event 6, 6 events",
        "audit checkpoint: event 3, 3 events",
    ]
    assert committed == rig.file.read_text()
    for source in (rig.file, rig.repo):
        report = rig.verify(source)
        assert report.intact, report.all_problems
        assert report.newest_checkpoint == 9


def test_removing_the_newest_events_by_sql_fails_verification_naming_the_first_missing_one(
    rig: Rig,
) -> None:
    rig.add_events(6)
    rig.checkpointer.run_once()  # checkpoint of event 6 (3 were due, 6 pending)
    rig.add_events(2)

    rig.sql("DELETE FROM audit_events WHERE seq > 4")
    report = rig.verify(rig.file)

    assert report.chain.intact  # the hash chain alone cannot see it
    assert not report.intact
    assert report.first_bad_event == 5
    assert report.problems[0].startswith("event 5 missing:")


def test_the_server_compares_the_chain_with_the_checkpoints_left_in_its_database(
    rig: Rig,
) -> None:
    rig.add_events(3)
    rig.checkpointer.run_once()
    intact = rig.checkpointer.verify()
    rig.sql("DELETE FROM audit_events WHERE seq = 3")
    cut = rig.checkpointer.verify()

    assert intact.intact, intact.problems
    assert not cut.intact
    assert cut.problems[0].startswith("event 3 missing: the checkpoint signed")


def test_a_chain_rehashed_by_sql_from_some_event_on_fails_verification(rig: Rig) -> None:
    rig.add_events(3)
    rig.checkpointer.run_once()
    rig.add_events(3)
    rig.checkpointer.run_once()
    with rig.services.uow() as uow:
        events = audit_store.chain(uow, limit=100)

    # event 5 changes its actor; every hash from it on is recomputed and written back
    prev = events[3].hash
    for event in events[4:]:
        actor = "mallory" if event.seq == 5 else event.actor
        digest = event_hash(
            prev, event.seq, actor, event.action, event.subject, event.before, event.after, event.at
        )
        rig.sql(
            "UPDATE audit_events SET actor = :actor, prev_hash = :prev, hash = :hash "
            "WHERE seq = :seq",
            actor=actor,
            prev=prev,
            hash=digest,
            seq=event.seq,
        )
        prev = digest
    report = rig.verify(rig.repo)

    assert report.chain.intact
    assert not report.intact
    assert (report.first_bad_event, report.rewritten_after) == (6, 3)
    assert "between 4 and 6" in report.problems[0]


def test_after_the_chain_was_cut_the_checkpointer_refuses_to_sign_a_new_head(rig: Rig) -> None:
    rig.add_events(3)
    rig.checkpointer.run_once()
    rig.sql("DELETE FROM audit_events WHERE seq = 3")
    rig.clock.advance(seconds=1)  # the new event 3 differs from the one removed
    rig.add_events(5)

    with pytest.raises(Conflict, match="no longer holds event 3"):
        rig.checkpointer.write(force=True)
    assert [line["seq"] for line in lines(rig.file)] == [3]


def test_a_crash_between_writing_a_checkpoint_and_delivering_it_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    first = make_rig(database_url, tmp_path)
    first.add_events(3)
    written = first.checkpointer.write().written  # the process dies before delivering
    first.services.uow.engine.dispose()

    restarted = make_rig(database_url, tmp_path)
    statuses = restarted.checkpointer.deliver()
    restarted.services.uow.engine.dispose()

    assert written is not None
    assert [line["seq"] for line in lines(restarted.file)] == [3]
    assert {(s.delivered_seq, s.error) for s in statuses} == {(3, None)}
    assert restarted.checkpointer.key.key_id == written.checkpoint.key_id


def test_the_webhook_sink_posts_the_signed_document_to_a_real_http_server(rig: Rig) -> None:
    rig.add_events(3)
    with receiver() as hook:
        sink = WebhookSink(hook.url + "/audit")
        checkpointer = Checkpointer(
            rig.services.uow, rig.clock, rig.checkpointer.key, [sink], every_events=3
        )
        checkpointer.run_once()

    posted = parse_line(hook.bodies[0].decode(), where="POST body")
    assert len(hook.bodies) == 1
    assert posted.checkpoint.seq == 3
    assert posted.signed_by(rig.checkpointer.key.public)


def test_a_failing_webhook_is_retried_a_bounded_number_of_times_then_at_the_next_delivery(
    rig: Rig,
) -> None:
    rig.add_events(3)
    with receiver(statuses=[500, 500, 500, 200]) as hook:
        sink = WebhookSink(hook.url, attempts=3, sleep=lambda _seconds: None)
        checkpointer = Checkpointer(
            rig.services.uow, rig.clock, rig.checkpointer.key, [sink], every_events=3
        )
        checkpointer.run_once()
        failed = checkpointer.statuses()
        attempts = hook.attempts
        rig.add_events(3)
        checkpointer.run_once()
        delivered = checkpointer.statuses()

    assert attempts == 3
    assert failed[0].delivered_seq == 0
    assert failed[0].error is not None
    assert "after 3 attempts: HTTP 500" in failed[0].error
    assert [parse_line(b.decode(), where="b").checkpoint.seq for b in hook.bodies] == [3, 6]
    assert (delivered[0].delivered_seq, delivered[0].error) == (6, None)


def test_two_replicas_checkpointing_at_once_only_sign_heads_of_the_chain(
    database_url: str, tmp_path: Path
) -> None:
    replicas = [make_rig(database_url, tmp_path / name) for name in ("a", "b")]
    errors: list[BaseException] = []

    def hammer(replica: Rig) -> None:
        try:
            for _ in range(10):
                replica.add_events(1)
                replica.checkpointer.write(force=True)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(r,)) for r in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    with replicas[0].services.uow() as uow:
        chain = {e.seq: e.hash for e in audit_store.chain(uow, limit=1000)}
        rows = [(r.seq, r.hash) for r in uow.session.query(AuditCheckpointRow).all()]
    for replica in replicas:
        replica.services.uow.engine.dispose()

    assert errors == []
    assert len(chain) == 20
    assert rows
    assert all(chain[seq] == digest for seq, digest in rows)
    assert len({seq for seq, _ in rows}) == len(rows)


def test_a_file_sink_ends_a_line_cut_short_by_a_crash_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "cps.jsonl"
    path.write_text('{"half a li')
    rig_line = '{"whole":"line"}'

    from relgate.audit.sinks import append_line

    append_line(path, rig_line)

    assert path.read_text().splitlines() == ['{"half a li', rig_line]
    assert FileSink(path).name == f"file:{path}"
    assert GitSink(tmp_path).name == f"git:{tmp_path}"
