"""What an audit event changed, member by member (relgate.audit.reading.changes)."""

from __future__ import annotations

from relgate.audit.reading import VALUE_TEXT_MAX, Change, changes


def test_nested_members_are_walked_and_lists_compared_whole() -> None:
    before = {"enabled": {"dev": True, "production": True}, "strategies": [1], "owner": "a"}
    after = {"enabled": {"dev": False, "production": True}, "strategies": [1, 2], "reason": "x"}
    assert changes(before, after) == [
        Change("enabled.dev", "changed", "true", "false"),
        Change("owner", "removed", '"a"', None),
        Change("reason", "added", None, '"x"'),
        Change("strategies", "changed", "[1]", "[1, 2]"),
    ]


def test_a_creation_adds_everything_and_no_change_is_nothing() -> None:
    assert changes(None, {"key": "f", "tags": []}) == [
        Change("key", "added", None, '"f"'),
        Change("tags", "added", None, "[]"),
    ]
    assert changes({"a": {"b": 1}}, {"a": {"b": 1}}) == []
    assert changes(None, None) == []


def test_long_values_are_cut_for_reading_and_text_is_kept_as_is() -> None:
    (change,) = changes(None, {"log": "<script>" + "x" * 1000})
    assert change.after is not None
    assert len(change.after) == VALUE_TEXT_MAX
    assert change.after.startswith('"<script>')  # escaping is the template's job
    assert change.after.endswith("…")
