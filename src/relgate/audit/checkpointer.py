"""Writing signed checkpoints of the audit chain and copying them to the sinks.

A checkpoint is written when the chain has grown by ``every_events`` events
since the newest checkpoint, or when its oldest event not yet checkpointed is
``every_minutes`` old; never when nothing changed. It is stored in the
database first (``audit_checkpoints``, an outbox), then delivered to every
sink, each sink's progress kept in ``audit_checkpoint_sinks``. A crash between
the two loses nothing: the next run delivers what is still pending, perhaps
twice, which verifiers ignore.

Replicas on PostgreSQL: the head is read and the checkpoint inserted under an
advisory lock and a unique ``seq``, so a checkpoint always names a (seq, hash)
of the committed chain and two replicas never sign different heads for one
event; a sink's progress row is claimed with ``FOR UPDATE SKIP LOCKED``, so
one replica delivers to it at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from relgate.audit import store as audit_store
from relgate.audit.chain import ChainReport, verify_chain
from relgate.audit.checkpoint import Checkpoint, SignedCheckpoint, parse_line, sign
from relgate.audit.keys import ServerKey
from relgate.audit.sinks import CheckpointSink
from relgate.audit.verification import SourcedCheckpoint, verify_with_checkpoints
from relgate.clock import Clock
from relgate.errors import Conflict, ExternalError
from relgate.store.tables import AuditCheckpointRow, AuditSinkRow
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("relgate.audit")

# any constant, other than the appenders' lock: one replica checkpoints at a time
_CHECKPOINT_LOCK = 870_002
# deliveries read from the outbox in batches of this many
_BATCH = 500


@dataclass(frozen=True)
class SinkStatus:
    """How far one sink got and why it stopped, if it did."""

    sink: str
    delivered_seq: int
    error: str | None


@dataclass(frozen=True)
class CheckpointOutcome:
    """What a write did: ``written`` is the new checkpoint, None when none was due."""

    written: SignedCheckpoint | None
    newest: SignedCheckpoint | None


class Checkpointer:
    """Writes checkpoints when due and delivers them; ``start`` runs that in a thread."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        key: ServerKey,
        sinks: Sequence[CheckpointSink],
        *,
        every_events: int = 100,
        every_minutes: float = 5.0,
        check_seconds: float = 1.0,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self.key = key
        self.sinks = list(sinks)
        self.every_events = every_events
        self.every_minutes = every_minutes
        self.check_seconds = check_seconds
        self._deliveries = threading.Lock()  # one delivery at a time in this process
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_conflict = ""
        self._last_signed: SignedCheckpoint | None = None

    # ------------------------------------------------------------------ writing

    def write(self, *, force: bool = False) -> CheckpointOutcome:
        """Write a checkpoint of the current head when one is due (or whenever the head moved,
        with ``force``); return what was written and the newest checkpoint.

        Raises Conflict when the chain no longer holds the newest checkpoint's
        event with its hash: the chain was cut or rewritten, and signing its new
        head would vouch for the rewrite.
        """
        with self._uow() as uow:
            if uow.dialect == "postgresql":
                uow.session.execute(
                    text("SELECT pg_advisory_xact_lock(:k)"), {"k": _CHECKPOINT_LOCK}
                )
            newest_row = uow.session.scalars(
                select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
            ).first()
            newest = _signed(newest_row) if newest_row else None
            head = audit_store.head(uow)
            # the newest checkpoint in the database, and the newest this process signed
            # (in case the rows were removed too) must still be in the chain
            for signed_before in (newest, self._last_signed):
                if signed_before is None:
                    continue
                seq, digest = signed_before.checkpoint.seq, signed_before.checkpoint.hash
                if audit_store.hash_of(uow, seq) != digest:
                    raise Conflict(
                        f"the audit chain no longer holds event {seq} with the hash of its "
                        "signed checkpoint: it was cut or rewritten; no new checkpoint is "
                        "signed (run `relgate audit verify --checkpoints ...`)"
                    )
            newest_seq = newest_row.seq if newest_row else 0
            if head is None or head[0] <= newest_seq:
                return CheckpointOutcome(None, newest)
            if not force and not self._due(uow, head[0], newest_seq):
                return CheckpointOutcome(None, newest)
            checkpoint = Checkpoint(
                seq=head[0],
                hash=head[1],
                count=audit_store.count(uow, up_to=head[0]),
                at=self._clock.now(),
                key_id=self.key.key_id,
            )
            signed = sign(checkpoint, self.key.private)
            uow.session.add(
                AuditCheckpointRow(
                    seq=checkpoint.seq,
                    hash=checkpoint.hash,
                    count=checkpoint.count,
                    at=checkpoint.at,
                    key_id=checkpoint.key_id,
                    document=signed.line(),
                )
            )
            try:
                uow.commit()
            except IntegrityError:
                # another process checkpointed this very head first (SQLite has no
                # advisory lock): the same (seq, hash), so nothing is lost
                return CheckpointOutcome(None, newest)
        self._last_signed = signed
        log.info("audit checkpoint written: event %d", checkpoint.seq)
        return CheckpointOutcome(signed, signed)

    def _due(self, uow: UnitOfWork, head_seq: int, newest_seq: int) -> bool:
        if head_seq - newest_seq >= self.every_events:
            return True
        oldest_pending = audit_store.written_at(uow, newest_seq + 1)
        if oldest_pending is None:  # a gap after the checkpoint: write now, verify will tell
            return True
        return self._clock.now() - oldest_pending >= timedelta(minutes=self.every_minutes)

    def verify(self, expect_head: str | None = None) -> ChainReport:
        """Return the report of the chain, compared also with the checkpoints in the database.

        Only checkpoints signed by this server's key are compared (other
        replicas may sign with keys of their own). This catches a cut or
        re-hashed chain whose checkpoint rows were left in place; someone who
        also rewrote those is caught only by ``relgate audit verify --checkpoints``.
        """
        with self._uow() as uow:
            events = audit_store.chain(uow, limit=2**62)
            rows = uow.session.scalars(
                select(AuditCheckpointRow)
                .where(AuditCheckpointRow.key_id == self.key.key_id)
                .order_by(AuditCheckpointRow.seq)
            ).all()
            stored = [SourcedCheckpoint(f"stored checkpoint {r.id}", _signed(r)) for r in rows]
        chain = verify_chain(events, expect_head)
        if not stored:
            return chain
        report = verify_with_checkpoints(events, stored, {self.key.key_id: self.key.public})
        return replace(chain, problems=[*chain.problems, *report.problems])

    def newest(self) -> SignedCheckpoint | None:
        """Return the newest checkpoint in the database, or None before the first."""
        with self._uow() as uow:
            row = uow.session.scalars(
                select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
            ).first()
            return _signed(row) if row else None

    # --------------------------------------------------------------- delivering

    def deliver(self) -> list[SinkStatus]:
        """Copy every checkpoint a sink does not have yet to it; return each sink's status.

        A sink that fails is logged and left where it stopped: the next
        delivery starts there again. Never raises for a sink's failure.
        """
        with self._deliveries:
            return [self._deliver_to(sink) for sink in self.sinks]

    def _deliver_to(self, sink: CheckpointSink) -> SinkStatus:
        with self._uow() as uow:
            row = _claim(uow, sink.name, self._clock)
            if row is None:  # another replica is delivering to it right now
                return self._status_of(sink.name)
            error: str | None = None
            while error is None:
                pending = uow.session.scalars(
                    select(AuditCheckpointRow)
                    .where(AuditCheckpointRow.seq > row.delivered_seq)
                    .order_by(AuditCheckpointRow.seq)
                    .limit(_BATCH)
                ).all()
                if not pending:
                    break
                for checkpoint in pending:
                    try:
                        sink.deliver(_signed(checkpoint))
                    except ExternalError as exc:
                        error = exc.message
                        log.warning("audit checkpoint sink %s: %s", sink.name, error)
                        break
                    row.delivered_seq = checkpoint.seq
            row.last_error = error
            row.updated_at = self._clock.now()
            status = SinkStatus(sink.name, row.delivered_seq, error)
            uow.commit()
            return status

    def statuses(self) -> list[SinkStatus]:
        """Return how far each configured sink got."""
        return [self._status_of(sink.name) for sink in self.sinks]

    def _status_of(self, name: str) -> SinkStatus:
        with self._uow() as uow:
            row = uow.session.scalars(select(AuditSinkRow).where(AuditSinkRow.name == name)).first()
            if row is None:
                return SinkStatus(name, 0, None)
            return SinkStatus(name, row.delivered_seq, row.last_error)

    # ------------------------------------------------------------ the background

    def run_once(self, *, deliver: bool = False) -> CheckpointOutcome:
        """Write a checkpoint if one is due and deliver when one was written or ``deliver``;
        return what was written. Raises Conflict as ``write`` does."""
        outcome = self.write()
        if outcome.written is not None or deliver:
            self.deliver()
        return outcome

    def start(self) -> None:
        """Start the background thread (daemon); it stops with ``stop``."""
        if self._thread is not None:
            return
        if not self.sinks:
            log.warning(
                "audit checkpoints stay in the database only: set RELGATE_AUDIT_SINKS "
                "to copy them out of it"
            )
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name="relgate-audit-checkpointer", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop and wait for it (a delivery under way finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        retry_seconds = max(self.check_seconds, min(60.0, self.every_minutes * 60))
        last_delivery = float("-inf")  # deliver what a previous run left pending at once
        while True:
            try:
                retry = time.monotonic() - last_delivery >= retry_seconds
                outcome = self.run_once(deliver=retry and self._behind())
                if retry or outcome.written is not None:
                    last_delivery = time.monotonic()
            except Conflict as exc:
                if exc.message != self._last_conflict:  # once, not every second
                    log.error("audit checkpointer: %s", exc.message)
                self._last_conflict = exc.message
            except Exception:  # the thread must survive a database that is away for a while
                log.exception("audit checkpointer iteration failed")
            if self._stop.wait(self.check_seconds):
                return

    def _behind(self) -> bool:
        newest = self.newest()
        if newest is None:
            return False
        return any(s.delivered_seq < newest.checkpoint.seq for s in self.statuses())


def _claim(uow: UnitOfWork, name: str, clock: Clock) -> AuditSinkRow | None:
    """Return the progress row of sink ``name``, locked; None when another replica holds it."""
    values = {"name": name, "delivered_seq": 0, "updated_at": clock.now()}
    insert = pg_insert if uow.dialect == "postgresql" else sqlite_insert
    uow.session.execute(insert(AuditSinkRow).values(**values).on_conflict_do_nothing())
    return uow.session.scalars(
        select(AuditSinkRow).where(AuditSinkRow.name == name).with_for_update(skip_locked=True)
    ).first()


def _signed(row: AuditCheckpointRow) -> SignedCheckpoint:
    return parse_line(row.document, where=f"audit_checkpoints row {row.id}")
