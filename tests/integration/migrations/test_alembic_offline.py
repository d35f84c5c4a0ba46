"""Real Alembic: the SQL of `alembic upgrade --sql` and the revision files it comes from
give the same findings, at the lines of each."""

from __future__ import annotations

import contextlib
import io
import textwrap
from pathlib import Path

from alembic import command
from alembic.config import Config

from relgate.migrations.checks import check_paths

ENV = """
from alembic import context

context.configure(
    url="postgresql+psycopg://",
    literal_binds=True,
    dialect_opts={"paramstyle": "named"},
    transaction_per_migration=True,
)
with context.begin_transaction():
    context.run_migrations()
"""

REVISIONS = {
    "0001_users.py": '''
        """users"""
        import sqlalchemy as sa
        from alembic import op

        revision = "0001"
        down_revision = None


        def upgrade() -> None:
            op.create_table(
                "users",
                sa.Column("id", sa.BigInteger(), primary_key=True),
                sa.Column("email", sa.Text(), nullable=True),
            )


        def downgrade() -> None:
            op.drop_table("users")
    ''',
    "0002_expand.py": '''
        """expand: a new column, and an index built the unsafe way"""
        import sqlalchemy as sa
        from alembic import op

        revision = "0002"
        down_revision = "0001"


        def upgrade() -> None:
            op.execute("SET lock_timeout = '5s'")
            op.add_column("users", sa.Column("email_address", sa.Text(), nullable=True))
            op.create_index("ix_users_email_address", "users", ["email_address"])
            op.alter_column("users", "email_address", nullable=False)


        def downgrade() -> None:
            op.drop_column("users", "email_address")
    ''',
    "0003_contract.py": '''
        """contract: drop the old column"""
        from alembic import op

        revision = "0003"
        down_revision = "0002"


        def upgrade() -> None:
            # an SQL comment, so that the offline SQL carries the annotation too
            op.execute("-- relgate:contract after=1.4.0")
            op.execute("SET lock_timeout = '5s'")
            op.drop_column("users", "email")


        def downgrade() -> None:
            pass
    ''',
}


def project(tmp_path: Path) -> Config:
    (tmp_path / "versions").mkdir(parents=True)
    (tmp_path / "env.py").write_text(ENV)
    (tmp_path / "script.py.mako").write_text("")
    for name, source in REVISIONS.items():
        (tmp_path / "versions" / name).write_text(textwrap.dedent(source).lstrip())
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    return config


def offline_sql(config: Config, revisions: str) -> str:
    out = io.StringIO()
    config.stdout = out
    config.output_buffer = out
    with contextlib.redirect_stdout(out):
        command.upgrade(config, revisions, sql=True)
    return out.getvalue()


def test_offline_sql_and_the_revision_files_give_the_same_rules(tmp_path: Path) -> None:
    config = project(tmp_path / "alembic")
    sql = tmp_path / "upgrade.sql"
    sql.write_text(offline_sql(config, "0001:head"))

    from_sql = check_paths([sql])
    from_py = check_paths([tmp_path / "alembic" / "versions"])

    rules = [
        "create-index-non-concurrently",
        "set-not-null",
        "drop-column",
    ]
    assert [f.rule for f in from_sql.findings] == rules
    assert [f.rule for f in from_py.findings] == rules
    assert [f.object for f in from_sql.findings] == [
        "ix_users_email_address",
        "users.email_address",
        "users.email",
    ]
    assert [f.contract_after for f in from_sql.findings] == [None, None, "1.4.0"]
    assert [f.contract_after for f in from_py.findings] == [None, None, "1.4.0"]
    lines = sql.read_text().splitlines()
    for finding in from_sql.findings:
        assert lines[finding.line - 1].startswith(("CREATE INDEX", "ALTER TABLE")), finding
    assert "Running upgrade 0002 -> 0003" in sql.read_text()
