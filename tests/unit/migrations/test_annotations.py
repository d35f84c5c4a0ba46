"""relgate:ignore and relgate:contract comments, in SQL and in Alembic revisions."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.errors import BadInput
from relgate.migrations.checks import check_paths, check_text

LOCK = "SET lock_timeout = '5s';\n"


def test_an_ignore_comment_above_a_statement_suppresses_that_rule_there_only() -> None:
    sql = LOCK + (
        "-- relgate:ignore create-index-non-concurrently the table has 40 rows\n"
        "CREATE INDEX ix_a ON flags (a);\n"
        "CREATE INDEX ix_b ON flags (b);\n"
    )

    result = check_text(sql, "m.sql")

    assert [(f.rule, f.line) for f in result.findings] == [("create-index-non-concurrently", 4)]
    (suppressed,) = result.suppressed
    assert (suppressed.line, suppressed.reason) == (3, "the table has 40 rows")


def test_an_ignore_comment_on_the_statement_line_covers_it_and_names_several_rules() -> None:
    sql = LOCK + (
        "ALTER TABLE t ADD COLUMN c char(2) NOT NULL; "
        "-- relgate:ignore add-column-not-null-without-default,ban-char-field empty table\n"
    )

    result = check_text(sql, "m.sql")

    assert result.findings == []
    assert sorted(f.rule for f in result.suppressed) == [
        "add-column-not-null-without-default",
        "ban-char-field",
    ]


def test_an_ignore_without_a_reason_or_with_an_unknown_rule_is_an_error() -> None:
    no_reason = check_text(LOCK + "-- relgate:ignore drop-table\nDROP TABLE t;\n", "m.sql")
    unknown = check_text(LOCK + "-- relgate:ignore drop-tables gone\nDROP TABLE t;\n", "m.sql")

    assert [f.rule for f in no_reason.findings] == ["invalid-annotation", "drop-table"]
    assert "give the reason" in no_reason.findings[0].message
    assert [f.rule for f in unknown.findings] == ["invalid-annotation", "drop-table"]
    assert "unknown rule drop-tables" in unknown.findings[0].message


def test_a_contract_annotation_turns_the_contract_changes_below_it_into_notes() -> None:
    sql = LOCK + (
        "ALTER TABLE a DROP COLUMN before_it;\n"
        "-- relgate:contract after=1.4.0\n"
        "ALTER TABLE users DROP COLUMN email;\n"
        "DROP TABLE legacy_sessions;\n"
        "ALTER TABLE users ALTER COLUMN age TYPE bigint;\n"
    )

    result = check_text(sql, "m.sql")

    assert [(f.rule, f.level, f.contract_after) for f in result.findings] == [
        ("drop-column", "error", None),
        ("drop-column", "note", "1.4.0"),
        ("drop-table", "note", "1.4.0"),
        ("change-column-type", "error", None),
    ]
    assert result.file.contract_after == ["1.4.0"]


def test_a_contract_annotation_needs_a_semver_version() -> None:
    for comment in (
        "-- relgate:contract",
        "-- relgate:contract after=1.4",
        "/* relgate:contrat */",
    ):
        result = check_text(LOCK + comment + "\nDROP TABLE t;\n", "m.sql")

        assert [f.rule for f in result.findings] == ["invalid-annotation", "drop-table"], comment


def test_annotations_in_an_alembic_revision_are_python_comments() -> None:
    text = (
        "from alembic import op\n"
        "# relgate:contract after=2.0.0\n"
        "def upgrade():\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        "    op.drop_column('users', 'email')\n"
        "    # relgate:ignore create-index-non-concurrently built at night\n"
        "    op.create_index('ix', 'users', ['a'])\n"
    )

    result = check_text(text, "versions/0004.py")

    assert [(f.rule, f.contract_after) for f in result.findings] == [("drop-column", "2.0.0")]
    assert [f.reason for f in result.suppressed] == ["built at night"]


def test_check_paths_walks_folders_skips_non_revisions_and_filters_rules(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text("from alembic import context\n")
    (tmp_path / "versions" / "0001.py").write_text(
        "from alembic import op\ndef upgrade():\n    op.drop_table('t')\n"
    )
    (tmp_path / "versions" / "0002.sql").write_text("DROP INDEX ix;\n")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.sql").write_text("DROP TABLE x;\n")

    every = check_paths([tmp_path])
    only = check_paths([tmp_path], only=["drop-table"])
    ignored = check_paths([tmp_path], ignore=["drop-table", "require-lock-timeout"])

    assert [f.path for f in every.files] == [
        (tmp_path / "versions" / "0001.py").as_posix(),
        (tmp_path / "versions" / "0002.sql").as_posix(),
    ]
    assert {f.rule for f in every.findings} == {
        "drop-table",
        "drop-index-non-concurrently",
        "require-lock-timeout",
    }
    assert {f.rule for f in only.findings} == {"drop-table"}
    assert {f.rule for f in ignored.findings} == {"drop-index-non-concurrently"}


def test_bad_input_is_bad_input_naming_the_path(tmp_path: Path) -> None:
    latin = tmp_path / "latin.sql"
    latin.write_bytes(b"SELECT 1;\nSELECT '\xe9';\n")
    helper = tmp_path / "helper.py"
    helper.write_text("x = 1\n")

    cases = {
        tmp_path / "missing.sql": "no such file",
        latin: "latin.sql:2: not UTF-8",
        helper: "not an Alembic revision",
        tmp_path: "no .sql file or Alembic revision",
    }
    for path, expected in cases.items():
        if path == tmp_path:
            latin.unlink()
            helper.unlink()
        with pytest.raises(BadInput) as raised:
            check_paths([path])
        assert expected in raised.value.message, path
        assert str(path.name) in raised.value.message


def test_an_unknown_rule_in_the_filters_is_bad_input(tmp_path: Path) -> None:
    (tmp_path / "m.sql").write_text("SELECT 1;\n")

    with pytest.raises(BadInput, match="unknown rule drop-colum;"):
        check_paths([tmp_path], ignore=["drop-colum"])
