"""Verifying the audit chain against signed checkpoints kept outside the server (pure).

The hash chain alone shows edits, deletions and reordering. Checkpoints add
what it cannot show: that events were removed from the end (a checkpoint names
an event beyond the chain's end) or that the chain was re-hashed from some
event on (a checkpoint's hash differs from the chain's at its event). Only
checkpoints whose signature verifies with a key the user trusts count.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from relgate.audit.chain import AuditEvent, ChainReport, verify_chain
from relgate.audit.checkpoint import SignedCheckpoint


@dataclass(frozen=True)
class SourcedCheckpoint:
    """A checkpoint and where it was read (``file line 3``), to name it in problems."""

    where: str
    signed: SignedCheckpoint


@dataclass(frozen=True)
class CheckpointReport:
    """The chain's own report plus what the checkpoints showed.

    ``first_bad_event`` is the first event proved missing or different (None when
    none is); ``rewritten_after`` is the newest checkpointed event that still
    matches when a later one differs, so the rewrite began after it.
    """

    chain: ChainReport
    checkpoints: int
    verified: int
    newest_checkpoint: int | None
    first_bad_event: int | None
    rewritten_after: int | None
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return self.chain.intact and not self.problems

    @property
    def all_problems(self) -> list[str]:
        return [*self.chain.problems, *self.problems]


def verify_with_checkpoints(
    events: Sequence[AuditEvent],
    checkpoints: Sequence[SourcedCheckpoint],
    keys: Mapping[str, Ed25519PublicKey],
) -> CheckpointReport:
    """Return the report of the chain ``events`` (oldest first) against ``checkpoints``.

    ``keys`` maps key ids to the public keys trusted to sign checkpoints; a
    checkpoint signed by another key, or whose signature does not verify, is a
    problem and is not used. No checkpoint at all is a problem too: there is
    nothing to compare the chain with.
    """
    chain = verify_chain(list(events))
    problems: list[str] = []
    trusted: dict[tuple[int, str], SourcedCheckpoint] = {}
    for item in checkpoints:
        cp = item.signed.checkpoint
        key = keys.get(cp.key_id)
        if key is None:
            known = ", ".join(sorted(keys)) or "none"
            problems.append(
                f"{item.where}: the checkpoint of event {cp.seq} names the key {cp.key_id}, "
                f"not a trusted one ({known})"
            )
        elif not item.signed.signed_by(key):
            problems.append(
                f"{item.where}: the checkpoint of event {cp.seq} has a signature that is not "
                f"valid for key {cp.key_id}: it was altered or not signed by that key"
            )
        else:
            trusted.setdefault((cp.seq, cp.hash), item)
    if not checkpoints:
        problems.append("the source holds no checkpoint: there is nothing to compare with")
    ordered = sorted(trusted.values(), key=lambda item: item.signed.checkpoint.seq)
    hashes = {event.seq: event.hash for event in events}
    last = events[-1].seq if events else 0
    first_bad: int | None = None
    rewritten_after: int | None = None
    matched = 0
    for item in ordered:
        cp = item.signed.checkpoint
        stamp = cp.at.strftime("%Y-%m-%d %H:%M:%S UTC")
        if cp.seq > last:
            first_bad = last + 1
            problems.append(
                f"event {last + 1} missing: the checkpoint signed {stamp} ({item.where}) has "
                f"{cp.count} events up to event {cp.seq}, the chain ends at event {last}: "
                "the newest events were removed"
            )
            break
        if hashes.get(cp.seq) != cp.hash:
            first_bad = cp.seq
            rewritten_after = matched
            problems.append(
                f"event {cp.seq} differs from its checkpoint signed {stamp} ({item.where}): "
                f"hash {(hashes.get(cp.seq) or 'none')[:16]}… in the chain, {cp.hash[:16]}… "
                f"signed; the chain was rewritten from an event between {matched + 1} "
                f"and {cp.seq} on"
            )
            break
        matched = cp.seq
    seen: dict[int, str] = {}
    for seq, digest in trusted:
        if seq in seen and seen[seq] != digest:
            problems.append(f"two validly signed checkpoints of event {seq} name different hashes")
        seen.setdefault(seq, digest)
    return CheckpointReport(
        chain=chain,
        checkpoints=len(checkpoints),
        verified=len(trusted),
        newest_checkpoint=ordered[-1].signed.checkpoint.seq if ordered else None,
        first_bad_event=first_bad,
        rewritten_after=rewritten_after,
        problems=problems,
    )
