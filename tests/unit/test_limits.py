"""The table of text limits against the store's columns, and the JSON depth measure (pure)."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from relgate import limits
from relgate.store.tables import Base


def test_every_bounded_column_has_a_limit_at_least_as_strict_in_the_table() -> None:
    # the columns whose values come from callers, and the limit each is checked against
    bounded = {
        ("tokens", "name"): limits.TOKEN_NAME,
        ("tokens", "environment"): limits.ENVIRONMENT,
        ("releases", "version"): limits.VERSION,
        ("releases", "artifact"): limits.ARTIFACT,
        ("releases", "commit_sha"): limits.COMMIT,
        ("releases", "author"): limits.AUTHOR,
        ("releases", "author_email"): limits.EMAIL,
        ("identities", "name"): limits.IDENTITY_NAME,
        ("identities", "key"): limits.IDENTITY_NAME,
        ("identity_names", "value"): limits.EMAIL,
        ("evidence", "kind"): limits.EVIDENCE_KIND,
        ("evidence", "filename"): limits.EVIDENCE_FILENAME,
        ("evidence", "environment"): limits.ENVIRONMENT,
        ("flags", "key"): limits.FLAG_KEY,
        ("flags", "type"): limits.FLAG_TYPE,
        ("flags", "owner"): limits.FLAG_OWNER,
        ("segments", "name"): limits.SEGMENT_NAME,
        ("services", "name"): limits.SERVICE,
        ("environments", "name"): limits.ENVIRONMENT,
    }
    tables = Base.metadata.tables

    for (table, column), limit in bounded.items():
        assert tables[table].c[column].type.length >= limit, (table, column)


def _depth(document: object) -> int:
    """The nesting depth of a parsed JSON document: the oracle for deeper_than."""
    if isinstance(document, list):
        return 1 + max((_depth(item) for item in document), default=0)
    if isinstance(document, dict):
        return 1 + max((_depth(item) for item in document.values()), default=0)
    return 0


def test_deeper_than_ignores_brackets_inside_strings_and_escaped_quotes() -> None:
    assert not limits.deeper_than(b'{"a": "[[[[{{{{", "b": "\\"[[["}', 1)
    assert limits.deeper_than(b'[[["\\\\"], [1]]]', 2)
    assert not limits.deeper_than(b'[[["\\\\"], [1]]]', 3)
    assert not limits.deeper_than(b"plain text", 0)


nested = st.recursive(
    st.one_of(st.integers(), st.text(alphabet='[]{}"\\ab', max_size=5)),
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=3), children, max_size=3)
    ),
    max_leaves=40,
)


@given(document=nested, limit=st.integers(1, 12))
def test_deeper_than_agrees_with_the_measured_depth_of_any_json_document(
    document: object, limit: int
) -> None:
    data = json.dumps(document).encode()

    assert limits.deeper_than(data, limit) == (_depth(document) > limit)


def test_deeper_than_catches_brackets_that_never_close_and_deep_nesting() -> None:
    assert limits.deeper_than(b"[" * 100_000, 64)
    assert limits.deeper_than(b'{"a": ' + b"[" * 65 + b"]" * 65 + b"}", 64)
    assert not limits.deeper_than(b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}", 64)
    assert not limits.deeper_than(b"[1]," * 10_000, 64)
    assert not limits.deeper_than(b'"[[[[[[[[[[[["', 3)
