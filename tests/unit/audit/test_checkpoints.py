"""Signed checkpoints and the verification of a chain against them (pure)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from relgate.audit.chain import GENESIS, AuditEvent, event_hash
from relgate.audit.checkpoint import Checkpoint, SignedCheckpoint, parse_line, sign
from relgate.audit.keys import key_id
from relgate.audit.verification import SourcedCheckpoint, verify_with_checkpoints
from relgate.errors import BadInput

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.generate()
KEYS = {key_id(KEY.public_key()): KEY.public_key()}


def chain(
    count: int, *, start: int = 1, actor: str = "alice", prev: str = GENESIS
) -> list[AuditEvent]:
    events: list[AuditEvent] = []
    for seq in range(start, start + count):
        at = T0 + timedelta(seconds=seq)
        digest = event_hash(prev, seq, actor, "token.created", f"token/{seq}", None, {"n": seq}, at)
        events.append(
            AuditEvent(
                seq, actor, "token.created", f"token/{seq}", None, {"n": seq}, at, prev, digest
            )
        )
        prev = digest
    return events


def checkpoint_of(
    events: list[AuditEvent], seq: int, where: str = "cps line 1"
) -> SourcedCheckpoint:
    event = events[seq - 1]
    cp = Checkpoint(seq=seq, hash=event.hash, count=seq, at=T0, key_id=key_id(KEY.public_key()))
    return SourcedCheckpoint(where, sign(cp, KEY))


def test_a_checkpoint_line_is_canonical_and_parses_back_to_the_same_signed_checkpoint() -> None:
    events = chain(3)
    signed = checkpoint_of(events, 3).signed

    line = signed.line()
    reformatted = json.dumps(json.loads(line), indent=2)

    assert line == parse_line(line, where="x").line()
    assert " " not in line
    assert parse_line(reformatted, where="x").signed_by(KEY.public_key())


def test_changing_any_signed_value_breaks_the_signature() -> None:
    signed = checkpoint_of(chain(3), 3).signed
    document = json.loads(signed.line())
    document["seq"] = 2

    altered = parse_line(json.dumps(document), where="x")

    assert signed.signed_by(KEY.public_key())
    assert not altered.signed_by(KEY.public_key())
    assert not signed.signed_by(Ed25519PrivateKey.generate().public_key())


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seq": 0}, "seq must be a whole number"),
        ({"hash": "xyz"}, "hash must be 64"),
        ({"type": "other"}, "type is 'other'"),
        ({"at": "yesterday"}, "at 'yesterday' is not a UTC time"),
        ({"signature": ""}, "signature must be"),
    ],
)
def test_a_malformed_checkpoint_is_refused_naming_the_member(
    change: dict[str, object], named: str
) -> None:
    document = {**json.loads(checkpoint_of(chain(1), 1).signed.line()), **change}

    with pytest.raises(BadInput, match=named) as raised:
        parse_line(json.dumps(document), where="cps.jsonl line 4")

    assert raised.value.message.startswith("cps.jsonl line 4: ")


def test_an_intact_chain_verifies_against_its_checkpoints() -> None:
    events = chain(10)

    report = verify_with_checkpoints(
        events, [checkpoint_of(events, 4), checkpoint_of(events, 10)], KEYS
    )

    assert report.intact, report.all_problems
    assert (report.verified, report.newest_checkpoint, report.first_bad_event) == (2, 10, None)


def test_duplicate_checkpoints_are_harmless() -> None:
    events = chain(5)
    same = checkpoint_of(events, 5)

    report = verify_with_checkpoints(events, [same, same, replace(same, where="b line 9")], KEYS)

    assert report.intact
    assert report.verified == 1


def test_removing_the_newest_events_names_the_first_missing_event() -> None:
    events = chain(10)
    checkpoints = [checkpoint_of(events, 5), checkpoint_of(events, 10)]

    report = verify_with_checkpoints(events[:7], checkpoints, KEYS)

    assert report.chain.intact  # the shorter chain is valid on its own
    assert not report.intact
    assert report.first_bad_event == 8
    assert report.problems[0].startswith("event 8 missing:")
    assert "up to event 10" in report.problems[0]


def test_a_chain_rehashed_from_some_event_on_is_caught_at_the_next_checkpoint() -> None:
    events = chain(10)
    checkpoints = [checkpoint_of(events, 3), checkpoint_of(events, 6), checkpoint_of(events, 10)]
    rewritten = events[:4] + chain(6, start=5, actor="mallory", prev=events[3].hash)

    report = verify_with_checkpoints(rewritten, checkpoints, KEYS)

    assert report.chain.intact  # re-hashed: every link is consistent
    assert not report.intact
    assert (report.first_bad_event, report.rewritten_after) == (6, 3)
    assert len(report.problems) == 1  # the first difference, not one per later checkpoint
    assert report.problems[0].startswith("event 6 differs from its checkpoint")
    assert "between 4 and 6" in report.problems[0]


def test_a_checkpoint_with_a_bad_signature_is_reported_and_not_trusted() -> None:
    events = chain(5)
    good = checkpoint_of(events, 5)
    forged = SourcedCheckpoint(
        "cps line 2",
        SignedCheckpoint(replace(good.signed.checkpoint, seq=9), good.signed.signature),
    )

    report = verify_with_checkpoints(events, [good, forged], KEYS)

    assert not report.intact
    assert report.verified == 1
    assert report.first_bad_event is None  # the forged one proves nothing
    assert report.problems == [
        "cps line 2: the checkpoint of event 9 has a signature that is not valid for key "
        f"{good.signed.checkpoint.key_id}: it was altered or not signed by that key"
    ]


def test_a_checkpoint_signed_by_a_key_that_was_not_pinned_is_reported() -> None:
    events = chain(2)
    other = Ed25519PrivateKey.generate()

    report = verify_with_checkpoints(
        events, [checkpoint_of(events, 2)], {key_id(other.public_key()): other.public_key()}
    )

    assert not report.intact
    assert "not a trusted one" in report.problems[0]


def test_no_checkpoint_at_all_is_a_problem() -> None:
    report = verify_with_checkpoints(chain(2), [], KEYS)

    assert report.problems == ["the source holds no checkpoint: there is nothing to compare with"]
