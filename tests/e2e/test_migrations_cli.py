"""`relgate migrations check` run as a subprocess on real files, as a CI step runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ALEMBIC = '''"""drop the email column"""
from alembic import op

revision = "0007"
down_revision = "0006"

# relgate:contract after=1.4.0


def upgrade() -> None:
    op.execute("SET lock_timeout = '5s'")
    op.drop_column("users", "email")


def downgrade() -> None:
    pass
'''


def relgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    return subprocess.run(
        [sys.executable, "-m", "relgate", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    folder = tmp_path / "migrations"
    (folder / "versions").mkdir(parents=True)
    (folder / "env.py").write_text("from alembic import context\n")
    (folder / "versions" / "0007_drop_email.py").write_text(ALEMBIC)
    return folder


def test_a_clean_folder_exits_0(migrations: Path) -> None:
    proc = relgate("migrations", "check", "migrations", cwd=migrations.parent)

    assert proc.returncode == 0, proc.stderr
    assert "drop-column" in proc.stdout
    assert "migrations/versions/0007_drop_email.py:12:5" in proc.stdout
    assert "contract after 1.4.0" in proc.stdout
    assert "1 file: 0 errors, 0 warnings, 1 contract change" in proc.stdout


def test_an_unsafe_change_exits_1_with_the_rule_the_line_why_and_the_safe_steps(
    migrations: Path,
) -> None:
    (migrations / "versions" / "0008_index.sql").write_text(
        "SET lock_timeout = '5s';\nCREATE INDEX ix_users_name ON users (name);\n"
    )

    proc = relgate("migrations", "check", "migrations", cwd=migrations.parent)

    assert proc.returncode == 1
    row = next(line for line in proc.stdout.splitlines() if "ix_users_name" in line)
    assert row.split()[:3] == [
        "error",
        "create-index-non-concurrently",
        "migrations/versions/0008_index.sql:2:1",
    ]
    assert "every insert, update and delete on the table waits" in proc.stdout
    assert "1. CREATE INDEX CONCURRENTLY" in proc.stdout
    assert "failed" in proc.stdout


def test_json_is_the_evidence_format_and_sarif_is_sarif(migrations: Path) -> None:
    (migrations / "bad.sql").write_text("DROP TABLE users;\n")

    as_json = relgate("migrations", "check", "migrations", "--json", cwd=migrations.parent)
    as_sarif = relgate(
        "migrations", "check", "migrations", "--format", "sarif", cwd=migrations.parent
    )

    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report["format"] == "relgate-migrations"
    assert [(f["rule"], f["level"]) for f in report["findings"]][:2] == [
        ("drop-table", "error"),
        ("require-lock-timeout", "warning"),
    ]
    assert as_sarif.returncode == 1
    sarif = json.loads(as_sarif.stdout)
    assert sarif["version"] == "2.1.0"
    locations = [
        r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        for r in sarif["runs"][0]["results"]
    ]
    assert "migrations/bad.sql" in locations


def test_a_syntax_error_is_a_finding_naming_file_and_line_not_a_traceback(
    migrations: Path,
) -> None:
    (migrations / "broken.sql").write_text("SELECT 1;\nALTER TABL users DROP COLUMN x;\n")

    proc = relgate("migrations", "check", "migrations/broken.sql", cwd=migrations.parent)

    assert proc.returncode == 1
    assert "syntax-error" in proc.stdout
    assert "migrations/broken.sql:2:7" in proc.stdout
    assert 'syntax error at or near "TABL"' in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["migrations/none.sql"], "error: migrations/none.sql: no such file or directory"),
        (["migrations/env.py"], "not an Alembic revision (it defines no upgrade())"),
        (["migrations/latin.sql"], "migrations/latin.sql:1: not UTF-8 text"),
        (["migrations", "--rule", "drop-colum"], "unknown rule drop-colum;"),
    ],
)
def test_unreadable_input_exits_2_naming_it(
    migrations: Path, args: list[str], expected: str
) -> None:
    (migrations / "latin.sql").write_bytes(b"SELECT '\xe9';\n")

    proc = relgate("migrations", "check", *args, cwd=migrations.parent)

    assert proc.returncode == 2
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr


def test_help_explains_the_command_and_rules_lists_every_rule(tmp_path: Path) -> None:
    helped = relgate("migrations", "check", "--help", cwd=tmp_path)
    rules = relgate("migrations", "rules", "--json", cwd=tmp_path)

    assert helped.returncode == 0
    assert "relgate:contract" in helped.stdout
    assert "--format" in helped.stdout
    assert rules.returncode == 0
    ids = [rule["id"] for rule in json.loads(rules.stdout)]
    assert "drop-column" in ids
    assert "add-foreign-key-not-valid" in ids


def test_a_dash_reads_sql_from_standard_input(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("RELGATE_")}
    proc = subprocess.run(
        [sys.executable, "-m", "relgate", "migrations", "check", "-", "--json",
         "--stdin-name", "upgrade.sql"],
        input="BEGIN;\nALTER TABLE users DROP COLUMN email;\nCOMMIT;\n",
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["files"][0]["path"] == "upgrade.sql"
    assert (report["findings"][0]["rule"], report["findings"][0]["line"]) == ("drop-column", 2)
