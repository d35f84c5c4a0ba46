"""Each rule on Alembic revisions' op.* calls: unsafe form found at its line, safe form not."""

from __future__ import annotations

import textwrap

import pytest

from relgate.migrations.checks import check_text


def revision(body: str, *, header: str = "") -> str:
    lines = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    return (
        '"""A revision."""\n'
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        'revision = "0003"\n'
        'down_revision = "0002"\n'
        f"{header}\n\n"
        "def upgrade() -> None:\n"
        "    op.execute(\"SET lock_timeout = '5s'\")\n"
        f"{lines}\n\n\n"
        "def downgrade() -> None:\n"
        '    op.drop_table("everything")\n'
    )


def found(body: str) -> list[str]:
    return [f.rule for f in check_text(revision(body), "versions/0003_x.py").findings]


CASES = [
    (
        "drop-column",
        'op.drop_column("users", "email")',
        'op.add_column("users", sa.Column("e", sa.Text()))',
    ),
    (
        "drop-table",
        'op.drop_table("users")',
        'op.create_table("t", sa.Column("id", sa.BigInteger(), primary_key=True))',
    ),
    (
        "rename-table",
        'op.rename_table("users", "people")',
        'op.alter_column("users", "a", comment="x")',
    ),
    (
        "rename-column",
        'op.alter_column("users", "email", new_column_name="mail")',
        'op.alter_column("users", "email", comment="the address")',
    ),
    (
        "change-column-type",
        'op.alter_column("users", "age", type_=sa.BigInteger())',
        'op.alter_column("users", "age", server_default="0")',
    ),
    (
        "set-not-null",
        'op.alter_column("users", "email", nullable=False)',
        'op.alter_column("users", "email", nullable=True)',
    ),
    (
        "add-column-not-null-without-default",
        'op.add_column("users", sa.Column("active", sa.Boolean(), nullable=False))',
        'op.add_column("users", sa.Column("active", sa.Boolean(), nullable=False, '
        "server_default=sa.true()))",
    ),
    (
        "add-column-volatile-default",
        'op.add_column("users", sa.Column("t", sa.Uuid(), '
        'server_default=sa.text("gen_random_uuid()")))',
        'op.add_column("users", sa.Column("t", sa.DateTime(timezone=True), '
        "server_default=sa.func.now()))",
    ),
    (
        "add-column-unknown-default",
        'op.add_column("users", sa.Column("c", sa.Text(), server_default=sa.text("make_code()")))',
        'op.add_column("users", sa.Column("c", sa.Text(), server_default="none"))',
    ),
    (
        "create-index-non-concurrently",
        'op.create_index("ix_users_email", "users", ["email"])',
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_users_email", "users", ["email"], postgresql_concurrently=True)',
    ),
    (
        "drop-index-non-concurrently",
        'op.drop_index("ix_users_email", table_name="users")',
        "with op.get_context().autocommit_block():\n"
        '    op.drop_index("ix_users_email", table_name="users", postgresql_concurrently=True)',
    ),
    (
        "concurrently-in-transaction",
        'op.create_index("ix_a", "users", ["a"], postgresql_concurrently=True)',
        "with op.get_context().autocommit_block():\n"
        '    op.create_index("ix_a", "users", ["a"], postgresql_concurrently=True)',
    ),
    (
        "add-foreign-key-not-valid",
        'op.create_foreign_key("fk", "orders", "users", ["user_id"], ["id"])',
        'op.execute("ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) '
        'REFERENCES users (id) NOT VALID")',
    ),
    (
        "add-check-not-valid",
        'op.create_check_constraint("age_ok", "users", "age >= 0")',
        'op.execute("ALTER TABLE users ADD CONSTRAINT age_ok CHECK (age >= 0) NOT VALID")',
    ),
    (
        "add-unique-without-index",
        'op.create_unique_constraint("email_key", "users", ["email"])',
        'op.execute("ALTER TABLE users ADD CONSTRAINT email_key UNIQUE USING INDEX ix_email")',
    ),
    (
        "unanalyzable-sql",
        "op.execute(statement)",
        'op.execute(sa.text("UPDATE users SET a = 1 WHERE id = 2"))',
    ),
    (
        "ban-char-field",
        'op.create_table("codes", sa.Column("code", sa.CHAR(3)))',
        'op.create_table("codes", sa.Column("code", sa.Text()))',
    ),
    (
        "prefer-bigint-id",
        'op.create_table("t", sa.Column("id", sa.Integer(), primary_key=True))',
        'op.create_table("t", sa.Column("id", sa.BigInteger(), primary_key=True))',
    ),
    (
        "prefer-timestamptz",
        'op.create_table("e", sa.Column("at", sa.DateTime()))',
        'op.create_table("e", sa.Column("at", sa.DateTime(timezone=True)))',
    ),
    (
        "unbatched-backfill",
        'op.execute("UPDATE users SET active = true")',
        'op.execute("UPDATE users SET active = true WHERE id < 1000")',
    ),
    ("vacuum-full", 'op.execute("VACUUM FULL users")', 'op.execute("VACUUM users")'),
]


@pytest.mark.parametrize(("rule", "unsafe", "safe"), CASES, ids=[case[0] for case in CASES])
def test_the_unsafe_call_is_found_and_the_safe_call_is_not(
    rule: str, unsafe: str, safe: str
) -> None:
    assert rule in found(unsafe)
    assert rule not in found(safe)


def test_a_finding_names_the_line_and_column_of_the_call() -> None:
    text = revision('op.drop_column("users", "email")')

    (finding,) = check_text(text, "versions/0003_x.py").findings

    assert finding.rule == "drop-column"
    assert finding.line == text.splitlines().index('    op.drop_column("users", "email")') + 1
    assert finding.column == 5
    assert finding.object == "users.email"


def test_sql_inside_op_execute_is_located_on_its_own_line_of_the_file() -> None:
    text = revision('op.execute("""\n    SELECT 1;\n    ALTER TABLE users DROP COLUMN email;\n""")')

    (finding,) = check_text(text, "versions/0003_x.py").findings

    line = next(n for n, row in enumerate(text.splitlines(), 1) if "DROP COLUMN" in row)
    assert (finding.rule, finding.line, finding.column) == ("drop-column", line, 9)


def test_a_syntax_error_in_op_execute_sql_is_a_finding() -> None:
    assert found('op.execute("ALTER TABL users DROP COLUMN email")') == ["syntax-error"]


def test_batch_alter_table_calls_use_the_batch_table() -> None:
    text = revision(
        'with op.batch_alter_table("orders") as batch_op:\n'
        '    batch_op.drop_column("legacy")\n'
        '    batch_op.alter_column("total", type_=sa.Numeric())'
    )

    findings = check_text(text, "versions/0003_x.py").findings

    assert [(f.rule, f.object) for f in findings] == [
        ("drop-column", "orders.legacy"),
        ("change-column-type", "orders.total"),
    ]


def test_only_upgrade_is_read_not_downgrade() -> None:
    assert found("pass") == []


def test_changes_to_a_table_the_revision_creates_are_safe() -> None:
    body = """
        op.create_table("carts", sa.Column("id", sa.BigInteger(), primary_key=True))
        op.create_index("ix_carts", "carts", ["id"])
        op.create_foreign_key("fk", "carts", "users", ["user_id"], ["id"])
        op.add_column("carts", sa.Column("n", sa.Integer(), nullable=False))
        op.drop_column("carts", "n")
    """

    assert found(body) == []


def test_a_column_added_with_a_foreign_key_is_found() -> None:
    body = (
        'op.add_column("orders", sa.Column("user_id", sa.BigInteger(), sa.ForeignKey("users.id")))'
    )

    assert "add-foreign-key-not-valid" in found(body)


def test_without_lock_timeout_the_first_locking_call_warns() -> None:
    text = revision('op.drop_column("users", "email")').replace(
        "    op.execute(\"SET lock_timeout = '5s'\")\n", ""
    )

    rules = [f.rule for f in check_text(text, "versions/0003_x.py").findings]

    assert rules == ["drop-column", "require-lock-timeout"]


def test_a_python_syntax_error_is_a_finding_naming_its_line() -> None:
    (finding,) = check_text("x = 1\ndef upgrade(:\n    pass\n", "broken.py").findings

    assert (finding.rule, finding.line) == ("syntax-error", 2)
    assert finding.message.startswith("Python: ")


def test_batch_calls_keep_the_arguments_before_the_table_and_op_f_names_are_read() -> None:
    text = revision(
        'with op.batch_alter_table("approvals") as batch_op:\n'
        '    batch_op.create_index("ix_approvals_deployment", ["deployment_id"])\n'
        "    batch_op.create_foreign_key(\n"
        '        op.f("fk_approvals_user"), "users", ["user_id"], ["id"]\n'
        "    )"
    )

    findings = check_text(text, "versions/0003_x.py").findings

    assert [(f.rule, f.object, f.message) for f in findings] == [
        (
            "create-index-non-concurrently",
            "ix_approvals_deployment",
            "creates index ix_approvals_deployment on approvals without "
            "postgresql_concurrently=True",
        ),
        (
            "add-foreign-key-not-valid",
            "fk_approvals_user",
            "adds foreign key fk_approvals_user on approvals "
            "(op.create_foreign_key cannot say NOT VALID)",
        ),
    ]


def test_calls_in_loops_conditions_and_handlers_are_read_and_unknown_ops_ignored() -> None:
    body = """
        for table in ("a", "b"):
            op.drop_column(table, "c")
        if True:
            op.drop_table("old")
        try:
            op.rename_table("x", "y")
        except Exception:
            op.drop_table("older")
        op.column("not an op")
        op.unique("neither")
    """

    assert found(body) == ["drop-column", "drop-table", "rename-table", "drop-table"]
