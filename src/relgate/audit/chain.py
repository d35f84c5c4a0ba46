"""Hash chaining of audit events (pure)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    seq: int
    actor: str
    action: str
    subject: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    at: datetime
    prev_hash: str
    hash: str


def event_hash(
    prev_hash: str,
    seq: int,
    actor: str,
    action: str,
    subject: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    at: datetime,
) -> str:
    """Return sha256 over the previous hash and the canonical JSON of the event."""
    body = json.dumps(
        {
            "seq": seq,
            "actor": actor,
            "action": action,
            "subject": subject,
            "before": before,
            "after": after,
            "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256((prev_hash + body).encode()).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    events: int
    head: str
    problems: list[str]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_chain(
    events: list[AuditEvent],
    expect_head: str | None = None,
    *,
    after: tuple[int, str] | None = None,
) -> ChainReport:
    """Check sequence, links and hashes; return every problem found (changed, deleted, reordered).

    Deleting the newest events leaves a valid shorter chain: pass the head hash
    recorded earlier as ``expect_head`` to detect that too. ``after``: the
    events continue a chain already verified up to that ``(seq, hash)``
    (the first of ``events`` must link to it); by default they start it.
    """
    problems: list[str] = []
    prev = GENESIS if after is None else after[1]
    expected_seq = 1 if after is None else after[0] + 1
    for event in events:
        if event.seq != expected_seq:
            problems.append(
                f"event {expected_seq}"
                + (f" to {event.seq - 1}" if event.seq - 1 > expected_seq else "")
                + " missing (deleted?)"
            )
        if event.prev_hash != prev:
            problems.append(f"event {event.seq}: link to the previous event is broken")
        recomputed = event_hash(
            event.prev_hash,
            event.seq,
            event.actor,
            event.action,
            event.subject,
            event.before,
            event.after,
            event.at,
        )
        if recomputed != event.hash:
            problems.append(
                f"event {event.seq} ({event.action} {event.subject}) "
                "was changed after it was written"
            )
        prev = event.hash
        expected_seq = event.seq + 1
    if (
        expect_head is not None
        and expect_head != prev
        and expect_head not in {e.hash for e in events}
    ):
        problems.append("the recorded head is not in the chain: events were removed or rewritten")
    return ChainReport(events=len(events), head=prev, problems=problems)
