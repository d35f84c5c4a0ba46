"""How long each text field may be, and how deep a JSON document may nest (pure).

Text may not hold the NUL character anywhere: PostgreSQL cannot store it.

One table, used by the API schemas (pydantic ``max_length``: the OpenAPI
document shows it and a longer value gets 400 naming the field) and by the
services (``check_text``), so the CLI and every other caller is bounded
too and the database never sees a value longer than its column. The numbers
are the column sizes of ``relgate.store.tables`` (or, for unbounded text
columns, a size no honest input reaches). README's API reference lists them.
"""

from __future__ import annotations

from itertools import accumulate
from typing import Final

from relgate.errors import BadInput

SERVICE: Final = 100
ENVIRONMENT: Final = 100
VERSION: Final = 200
ARTIFACT: Final = 1000
COMMIT: Final = 64
AUTHOR: Final = 200
EMAIL: Final = 320
IDENTITY_NAME: Final = 200
# Co-authored-by trailers kept on one release
CO_AUTHORS: Final = 50
CHANGELOG: Final = 100_000
TOKEN_NAME: Final = 200
ROLE: Final = 20
EVIDENCE_KIND: Final = 40
EVIDENCE_FILENAME: Final = 500
REASON: Final = 10_000
COMMENT: Final = 10_000
FLAG_KEY: Final = 200
FLAG_TYPE: Final = 30
FLAG_OWNER: Final = 200
FLAG_DESCRIPTION: Final = 10_000
FLAG_TAG: Final = 200
SEGMENT_NAME: Final = 200
# query strings that only select (audit subject, expected chain head, stickiness)
AUDIT_SUBJECT: Final = 500
HASH: Final = 64
PROPERTY_NAME: Final = 200
FILE_NAME: Final = 500
# who wrote a pipeline change: `Name <email>`
PIPELINE_AUTHOR: Final = AUTHOR + EMAIL + 3
# a deployment's stored log (what its deploy and verify commands printed): the newest
# part is kept when more comes
DEPLOYMENT_LOG: Final = 1_000_000
# a registered deployer's command line (or each argument of a list) and its variables
COMMAND: Final = 10_000
DEPLOYER_VARIABLES: Final = 200

# the largest value an integer column of the store holds (PostgreSQL INTEGER):
# an id outside 1..MAX_ID names nothing, so it is "not found", not an error
MAX_ID: Final = 2**31 - 1
# counters and other BIGINT columns
MAX_BIGINT: Final = 2**63 - 1

# how many levels of arrays and objects a JSON body may nest; relgate's own
# documents (flag strategies, Unleash exports, scan reports) need fewer than 12
JSON_DEPTH: Final = 64


def check_text(field: str, value: str | None, limit: int) -> None:
    """Raise BadInput naming ``field`` when ``value`` is longer than ``limit`` characters.

    Also when it holds the NUL character, which PostgreSQL cannot store in text.
    """
    if value is None:
        return
    if len(value) > limit:
        raise BadInput(f"{field}: at most {limit} characters, got {len(value)}")
    if "\x00" in value:
        raise BadInput(f"{field}: may not contain the NUL character")


def has_nul_escape(data: bytes) -> bool:
    """Whether JSON text ``data`` holds a NUL character (``\\u0000``) in a string.

    PostgreSQL stores neither text nor JSON with one, so relgate refuses it at the door.
    """
    if b"u0000" not in data:
        return False
    return b"\\u0000" in data.replace(b"\\\\", b"")


def id_in_range(value: int) -> bool:
    """Whether ``value`` can be the id of a stored row (1 .. MAX_ID)."""
    return 1 <= value <= MAX_ID


_NOT_BRACKET: Final = bytes(b for b in range(256) if b not in b"[]{}")


# "[" and "{" one level up, "]" and "}" one down, as signed bytes
_STEPS: Final = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
# a prefix sum of this many brackets holds the interpreter ~1 ms: between two, the
# server's other threads (the event loop) get their turn
_CHUNK: Final = 1 << 16


def deeper_than(data: bytes, limit: int) -> bool:
    """Whether JSON text ``data`` nests arrays and objects deeper than ``limit`` levels.

    Brackets inside strings do not count. Linear and never recursive, unlike a
    parser, and cheap where it matters: the
    usual hostile body (a long run of openers) is found by one substring search, and
    otherwise the prefix sum runs over signed bytes in chunks, so a megabyte of
    brackets never holds the interpreter for more than a millisecond at a time.
    """
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    text = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    # every other piece between quotes is the inside of a string
    brackets = b"".join(text.split(b'"')[::2]).translate(_STEPS, _NOT_BRACKET)
    if b"\x01" * (limit + 1) in brackets:
        return True
    steps = memoryview(brackets).cast("b")
    level = 0
    for start in range(0, len(steps), _CHUNK):
        chunk = steps[start : start + _CHUNK]
        if max(accumulate(chunk, initial=level)) > limit:
            return True
        level += sum(chunk)
    return False


def check_json_depth(data: bytes, what: str, limit: int = JSON_DEPTH) -> None:
    """Raise BadInput naming ``what`` when ``data`` nests deeper than ``limit`` levels."""
    if deeper_than(data, limit):
        raise BadInput(f"{what} nests arrays and objects deeper than {limit} levels")
