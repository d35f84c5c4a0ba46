"""Signed checkpoints of the audit chain's head (pure).

A checkpoint says "the chain had ``count`` events and event ``seq`` had hash
``hash`` at time ``at``", signed with the server's Ed25519 key. Copies kept
outside the database (see ``audit.sinks``) make the head leave the server, so
removing the newest events or re-hashing the chain from some event on no longer
goes unnoticed.

The document is one JSON object on one line; the signature covers its
canonical form without the ``signature`` member: keys sorted, no spaces,
ASCII only, UTF-8 bytes. Reformatting a line therefore does not break its
signature, while changing any value does.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from relgate.errors import BadInput

DOCUMENT_TYPE = "relgate.audit.checkpoint"
DOCUMENT_VERSION = 1
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class Checkpoint:
    """The head of the chain at one moment: newest event's ``seq`` and ``hash``, how many events."""

    seq: int
    hash: str
    count: int
    at: datetime
    key_id: str

    def fields(self) -> dict[str, Any]:
        """Return the signed members of the document."""
        return {
            "type": DOCUMENT_TYPE,
            "v": DOCUMENT_VERSION,
            "seq": self.seq,
            "hash": self.hash,
            "count": self.count,
            "at": self.at.astimezone(UTC).strftime(_TIME_FORMAT),
            "key_id": self.key_id,
        }

    def canonical(self) -> bytes:
        """Return the bytes the signature covers."""
        return _canonical(self.fields())


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint and its Ed25519 signature (base64)."""

    checkpoint: Checkpoint
    signature: str

    def document(self) -> dict[str, Any]:
        """Return the whole JSON document: the signed members and ``signature``."""
        return {**self.checkpoint.fields(), "signature": self.signature}

    def line(self) -> str:
        """Return the document as one canonical JSON line (no newline)."""
        return _canonical(self.document()).decode("ascii")

    def signed_by(self, key: Ed25519PublicKey) -> bool:
        """Return whether the signature is ``key``'s over this checkpoint's canonical form."""
        try:
            raw = base64.b64decode(self.signature, validate=True)
            key.verify(raw, self.checkpoint.canonical())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> SignedCheckpoint:
    """Return ``checkpoint`` signed with ``key``."""
    signature = base64.b64encode(key.sign(checkpoint.canonical())).decode("ascii")
    return SignedCheckpoint(checkpoint, signature)


def parse_document(data: object, *, where: str) -> SignedCheckpoint:
    """Return the signed checkpoint a decoded JSON document holds.

    Raises BadInput naming ``where`` (a file and line) and the member that is
    missing or wrong. The signature is not checked here: see ``signed_by``.
    """
    if not isinstance(data, dict):
        raise BadInput(f"{where}: a checkpoint is a JSON object, not {type(data).__name__}")
    if data.get("type") != DOCUMENT_TYPE:
        raise BadInput(f"{where}: type is {data.get('type')!r}, not {DOCUMENT_TYPE!r}")
    if data.get("v") != DOCUMENT_VERSION:
        raise BadInput(f"{where}: v is {data.get('v')!r}; this relgate reads version 1")
    seq = _positive(data, "seq", where)
    count = _positive(data, "count", where)
    digest = data.get("hash")
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        raise BadInput(f"{where}: hash must be 64 lower-case hex digits")
    key_id = data.get("key_id")
    if not isinstance(key_id, str) or not key_id:
        raise BadInput(f"{where}: key_id must be a non-empty string")
    signature = data.get("signature")
    if not isinstance(signature, str) or not signature:
        raise BadInput(f"{where}: signature must be a non-empty string")
    raw_at = data.get("at")
    try:
        at = datetime.strptime(str(raw_at), _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise BadInput(
            f"{where}: at {raw_at!r} is not a UTC time like 2026-12-01T10:00:00.000000Z"
        ) from None
    checkpoint = Checkpoint(seq=seq, hash=digest, count=count, at=at, key_id=key_id)
    return SignedCheckpoint(checkpoint, signature)


def parse_line(line: str, *, where: str) -> SignedCheckpoint:
    """Return the signed checkpoint of one JSON line; raises BadInput naming ``where``."""
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise BadInput(f"{where}: not JSON ({exc})") from None
    return parse_document(data, where=where)


def _positive(data: dict[str, Any], name: str, where: str) -> int:
    value = data.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise BadInput(f"{where}: {name} must be a whole number of at least 1, not {value!r}")
    return value


def _canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()
