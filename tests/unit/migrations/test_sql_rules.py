"""Each rule on SQL: the unsafe form is found (file, line, column), the safe form is not."""

from __future__ import annotations

import pytest

from relgate.migrations.checks import check_text
from relgate.migrations.rules import RULES

# SQL-level rules that the statements below do not exercise (Alembic-only or about input)
_NOT_SQL = {"unanalyzable-sql", "invalid-annotation"}


def found(sql: str, path: str = "db/0003.sql") -> list[str]:
    return [finding.rule for finding in check_text(sql, path).findings]


# (rule, unsafe statement, its safe form); lock_timeout is set so only the rule shows
CASES = [
    ("drop-column", "ALTER TABLE users DROP COLUMN email;", "ALTER TABLE users ADD COLUMN e text;"),
    ("drop-table", "DROP TABLE users;", "DROP VIEW users_v;"),
    (
        "rename-column",
        "ALTER TABLE users RENAME COLUMN email TO mail;",
        "ALTER INDEX ix_a RENAME TO ix_b;",
    ),
    ("rename-table", "ALTER TABLE users RENAME TO people;", "ALTER TABLE users ADD COLUMN a int;"),
    (
        "change-column-type",
        "ALTER TABLE users ALTER COLUMN age TYPE bigint;",
        "ALTER TABLE users ADD COLUMN age_big bigint;",
    ),
    (
        "set-not-null",
        "ALTER TABLE users ALTER COLUMN email SET NOT NULL;",
        "ALTER TABLE users ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;",
    ),
    (
        "add-column-not-null-without-default",
        "ALTER TABLE users ADD COLUMN active boolean NOT NULL;",
        "ALTER TABLE users ADD COLUMN active boolean NOT NULL DEFAULT true;",
    ),
    (
        "add-column-volatile-default",
        "ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();",
        "ALTER TABLE users ADD COLUMN seen timestamptz DEFAULT now();",
    ),
    (
        "add-column-unknown-default",
        "ALTER TABLE users ADD COLUMN code text DEFAULT make_code();",
        "ALTER TABLE users ADD COLUMN code text DEFAULT 'none';",
    ),
    (
        "create-index-non-concurrently",
        "CREATE INDEX ix_users_email ON users (email);",
        "CREATE INDEX CONCURRENTLY ix_users_email ON users (email);",
    ),
    (
        "drop-index-non-concurrently",
        "DROP INDEX ix_users_email;",
        "DROP INDEX CONCURRENTLY ix_users_email;",
    ),
    (
        "concurrently-in-transaction",
        "BEGIN; CREATE INDEX CONCURRENTLY ix_a ON users (a); COMMIT;",
        "CREATE INDEX CONCURRENTLY ix_a ON users (a);",
    ),
    (
        "add-foreign-key-not-valid",
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);",
        "ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) "
        "NOT VALID;",
    ),
    (
        "add-check-not-valid",
        "ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age >= 0);",
        "ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age >= 0) NOT VALID;",
    ),
    (
        "add-unique-without-index",
        "ALTER TABLE users ADD CONSTRAINT email_key UNIQUE (email);",
        "ALTER TABLE users ADD CONSTRAINT email_key UNIQUE USING INDEX ix_email;",
    ),
    ("vacuum-full", "VACUUM FULL users;", "VACUUM ANALYZE users;"),
    ("cluster", "CLUSTER users USING ix_users_email;", "ANALYZE users;"),
    ("reindex-non-concurrently", "REINDEX TABLE users;", "REINDEX TABLE CONCURRENTLY users;"),
    ("drop-database", "DROP DATABASE shop;", "DROP SCHEMA IF EXISTS scratch_never_used;"),
    (
        "transaction-nesting",
        "BEGIN; BEGIN; SELECT 1; COMMIT;",
        "BEGIN; SELECT 1; COMMIT; BEGIN; SELECT 2; COMMIT;",
    ),
    (
        "unbatched-backfill",
        "UPDATE users SET active = true;",
        "UPDATE users SET active = true WHERE id BETWEEN 1 AND 1000;",
    ),
    ("ban-char-field", "CREATE TABLE codes (code char(3));", "CREATE TABLE codes (code text);"),
    (
        "prefer-bigint-id",
        "CREATE TABLE things (id serial PRIMARY KEY);",
        "CREATE TABLE things (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY);",
    ),
    (
        "prefer-timestamptz",
        "CREATE TABLE events (at timestamp);",
        "CREATE TABLE events (at timestamptz);",
    ),
    ("syntax-error", "ALTER TABL users DROP COLUMN email;", "ALTER TABLE users ADD COLUMN b int;"),
]


@pytest.mark.parametrize(("rule", "unsafe", "safe"), CASES, ids=[case[0] for case in CASES])
def test_the_unsafe_form_is_found_and_the_safe_form_is_not(
    rule: str, unsafe: str, safe: str
) -> None:
    prefix = "SET lock_timeout = '5s';\n"

    assert rule in found(prefix + unsafe)
    assert rule not in found(prefix + safe)


def test_every_sql_rule_has_a_case() -> None:
    covered = {case[0] for case in CASES} | {"require-lock-timeout"}

    assert set(RULES) - covered == _NOT_SQL


def test_a_finding_names_file_line_column_rule_why_and_safe_steps() -> None:
    sql = "SET lock_timeout = '5s';\n\nSELECT 1; ALTER TABLE users\n  DROP COLUMN email;\n"

    (finding,) = check_text(sql, "db/0003.sql").findings

    assert (finding.file, finding.line, finding.column) == ("db/0003.sql", 3, 11)
    assert finding.rule == "drop-column"
    assert finding.level == "error"
    assert finding.object == "users.email"
    assert "queries fail" in finding.why
    assert any("relgate:contract after=N" in step for step in finding.safe)


def test_columns_count_characters_not_bytes() -> None:
    sql = "SET lock_timeout = '5s'; SELECT 'héllo€'; DROP TABLE users;"

    (finding,) = check_text(sql, "m.sql").findings

    assert finding.column == sql.index("DROP") + 1


def test_a_syntax_error_is_a_finding_naming_the_line_and_what_is_wrong() -> None:
    sql = "SELECT 1;\n\nALTER TABL users DROP COLUMN email;\n"

    result = check_text(sql, "db/0003.sql")

    (finding,) = result.findings
    assert finding.rule == "syntax-error"
    assert (finding.line, finding.column) == (3, 7)
    assert 'syntax error at or near "TABL"' in finding.message


def test_require_lock_timeout_warns_once_at_the_first_locking_statement() -> None:
    sql = "ALTER TABLE a DROP COLUMN x;\nALTER TABLE b DROP COLUMN y;\n"

    findings = check_text(sql, "m.sql").findings

    timeouts = [f for f in findings if f.rule == "require-lock-timeout"]
    assert [(f.line, f.level) for f in timeouts] == [(1, "warning")]
    assert "require-lock-timeout" not in found("SET LOCAL lock_timeout TO '2s';\n" + sql)


def test_changes_to_a_table_created_in_the_same_file_are_safe() -> None:
    sql = """
        CREATE TABLE carts (id bigint PRIMARY KEY, user_id bigint, note text);
        CREATE INDEX ix_carts_user ON carts (user_id);
        ALTER TABLE carts ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id);
        ALTER TABLE carts ALTER COLUMN note SET NOT NULL;
        ALTER TABLE carts DROP COLUMN note;
        DROP TABLE carts;
    """

    assert found(sql) == []


def test_a_volatile_default_is_found_inside_an_expression_and_now_is_not_volatile() -> None:
    nested = "ALTER TABLE t ADD COLUMN r float DEFAULT coalesce(random(), 0);"
    serial = "ALTER TABLE t ADD COLUMN n bigserial;"
    generated = "ALTER TABLE t ADD COLUMN g int GENERATED ALWAYS AS (a + 1) STORED;"
    stable = "ALTER TABLE t ADD COLUMN at timestamptz NOT NULL DEFAULT CURRENT_TIMESTAMP;"

    assert "add-column-volatile-default" in found(nested)
    assert "add-column-volatile-default" in found(serial)
    assert "add-column-volatile-default" in found(generated)
    assert "add-column-volatile-default" not in found(stable)
    assert "add-column-not-null-without-default" not in found(stable)


def test_a_column_added_with_a_foreign_key_or_unique_constraint_is_found() -> None:
    sql = "ALTER TABLE orders ADD COLUMN user_id bigint REFERENCES users (id) UNIQUE;"

    rules = found(sql)

    assert "add-foreign-key-not-valid" in rules
    assert "add-unique-without-index" in rules


def test_every_table_of_one_drop_is_named() -> None:
    findings = check_text("DROP TABLE a, public.b;", "m.sql").findings

    assert [f.object for f in findings if f.rule == "drop-table"] == ["a", "public.b"]


def test_offline_alembic_sql_output_is_read_statement_by_statement() -> None:
    offline = """BEGIN;

CREATE TABLE alembic_version (
    version_num VARCHAR(32) NOT NULL,
    CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num)
);

-- Running upgrade  -> 0001

ALTER TABLE users DROP COLUMN email;

INSERT INTO alembic_version (version_num) VALUES ('0001') RETURNING alembic_version.version_num;

COMMIT;
"""

    result = check_text(offline, "upgrade.sql")

    assert [(f.rule, f.line) for f in result.findings] == [
        ("drop-column", 10),
        ("require-lock-timeout", 10),
    ]
    assert result.file.statements == 5
