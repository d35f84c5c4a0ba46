"""The table of text limits against the store's columns, and the JSON depth measure (pure)."""

from __future__ import annotations

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


def test_json_depth_ignores_brackets_inside_strings_and_escaped_quotes() -> None:
    assert limits.json_depth(b'{"a": "[[[[{{{{", "b": "\\"[[["}') == 1
    assert limits.json_depth(b'[[["\\\\"], [1]]]') == 3
    assert limits.json_depth(b"[" * 70) == 70
    assert limits.json_depth(b"plain text") == 0
