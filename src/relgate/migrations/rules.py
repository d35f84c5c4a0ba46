"""The rules of ``relgate migrations check``: what each finds, why it hurts, how to do it safely.

A rule's ``category`` says what kind of danger it is:

- ``contract``: the change removes something (a column, a table, a name) the
  running previous release may still use. It is safe once that release no
  longer uses it: declare so with ``relgate:contract after=VERSION`` and the
  ``migrations`` gate checks that VERSION (or later) is stable in the environment.
- ``compatibility``: the old code breaks (its inserts fail, its types change),
  and no annotation makes it safe: split it into expand and contract steps.
- ``locking``: the statement takes a lock that blocks reads or writes while it
  scans or rewrites the table.
- ``practice``: a habit that bites later (warnings).
- ``input``: the file cannot be checked (syntax errors, bad annotations).

Target: PostgreSQL 11 or later (constant and stable defaults of a new column
are then metadata-only; PostgreSQL 12 uses a validated CHECK for SET NOT NULL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Level = Literal["error", "warning", "note"]
Category = Literal["contract", "compatibility", "locking", "practice", "input"]

_PG: Final = "https://www.postgresql.org/docs/current/"


@dataclass(frozen=True)
class Rule:
    """One check: its id, level, one line, why it is unsafe, and the safe steps."""

    id: str
    level: Literal["error", "warning"]
    category: Category
    title: str
    why: str
    safe: tuple[str, ...]
    reference: str

    @property
    def contract(self) -> bool:
        return self.category == "contract"


_CONTRACT_STEPS = (
    "release N (expand): stop reading and writing it in the code, deploy it everywhere",
    "release N+1 (contract): drop it in a migration of its own marked "
    "`-- relgate:contract after=N` (Python: `# relgate:contract after=N`)",
    "the migrations gate lets N+1 into an environment only once N or later is stable there",
)

_RULE_LIST: Final = (
    Rule(
        "drop-column",
        "error",
        "contract",
        "Dropping a column",
        "the release running now still selects, inserts or maps the column: its queries fail "
        "the moment the migration commits, and a rollback to it is broken too",
        _CONTRACT_STEPS,
        _PG + "sql-altertable.html",
    ),
    Rule(
        "drop-table",
        "error",
        "contract",
        "Dropping a table",
        "the release running now still reads or writes the table: its queries fail the moment "
        "the migration commits, and a rollback to it is broken too",
        _CONTRACT_STEPS,
        _PG + "sql-droptable.html",
    ),
    Rule(
        "rename-column",
        "error",
        "contract",
        "Renaming a column",
        "the release running now uses the old name: every query naming it fails at once",
        (
            "expand: add the new column, write both, backfill the new one in batches",
            "switch reads to the new column in a release N, stop using the old one",
            "contract: drop the old column after N (`relgate:contract after=N`); or rename "
            "only once no running release uses the column at all",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "rename-table",
        "error",
        "contract",
        "Renaming a table",
        "the release running now uses the old name: every query naming it fails at once",
        (
            "expand: create the new table (or a view under the new name), write both, backfill",
            "switch the code to the new name in a release N",
            "contract: drop or rename the old one after N (`relgate:contract after=N`)",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "change-column-type",
        "error",
        "compatibility",
        "Changing a column's type",
        "most type changes rewrite the whole table and its indexes under an ACCESS EXCLUSIVE "
        "lock (no reads, no writes), and the running release may not handle the new type "
        "(only a few changes, such as varchar(n) to text or a longer varchar, skip the rewrite)",
        (
            "add a new column of the new type; write both columns in the code",
            "backfill the new column in batches, outside the schema migration",
            "switch reads to the new column, then drop the old one as a contract change",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "set-not-null",
        "error",
        "compatibility",
        "Setting NOT NULL on an existing column",
        "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock, and the running "
        "release's inserts that leave the column empty start failing",
        (
            "ship the code that always writes the column first",
            "ALTER TABLE t ADD CONSTRAINT t_c_not_null CHECK (c IS NOT NULL) NOT VALID",
            "ALTER TABLE t VALIDATE CONSTRAINT t_c_not_null (no write lock)",
            "ALTER TABLE t ALTER COLUMN c SET NOT NULL (PostgreSQL 12+ uses the check: no scan), "
            "then drop the check",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "add-column-not-null-without-default",
        "error",
        "compatibility",
        "Adding a NOT NULL column without a default",
        "it fails on a table that has rows, and once it exists the running release's inserts, "
        "which do not know the column, fail",
        (
            "add the column nullable, or with a constant server default",
            "backfill it in batches, ship code that always writes it",
            "then make it NOT NULL with a validated CHECK (see set-not-null)",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "add-column-volatile-default",
        "error",
        "locking",
        "Adding a column with a volatile default, serial, identity or stored generated column",
        "a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval()...), a "
        "serial or identity column or a stored generated column fills every existing row: a "
        "rewrite of the whole table under an ACCESS EXCLUSIVE lock (constant and stable "
        "defaults such as now() are metadata-only on PostgreSQL 11+)",
        (
            "add the column without a default (or with a constant one)",
            "set the volatile default for new rows: ALTER TABLE t ALTER COLUMN c SET DEFAULT ...",
            "backfill existing rows in batches",
        ),
        _PG + "ddl-alter.html#DDL-ALTER-ADDING-A-COLUMN",
    ),
    Rule(
        "add-column-unknown-default",
        "warning",
        "locking",
        "Adding a column whose default calls a function relgate does not know",
        "if the function is VOLATILE, PostgreSQL rewrites the whole table under an ACCESS "
        "EXCLUSIVE lock to fill the column; relgate cannot tell from the migration",
        (
            "make sure the function is IMMUTABLE or STABLE; or",
            "add the column without a default, SET DEFAULT afterwards, backfill in batches",
        ),
        _PG + "xfunc-volatility.html",
    ),
    Rule(
        "create-index-non-concurrently",
        "error",
        "locking",
        "Creating an index without CONCURRENTLY",
        "CREATE INDEX holds a SHARE lock for the whole build: every insert, update and delete "
        "on the table waits until the index is built",
        (
            "CREATE INDEX CONCURRENTLY, outside a transaction block (Alembic: "
            "postgresql_concurrently=True inside op.get_context().autocommit_block())",
            "if it fails it leaves an INVALID index: drop it (DROP INDEX CONCURRENTLY) and retry",
        ),
        _PG + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",
    ),
    Rule(
        "drop-index-non-concurrently",
        "error",
        "locking",
        "Dropping an index without CONCURRENTLY",
        "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: it waits behind every running "
        "query and blocks every later one meanwhile",
        (
            "DROP INDEX CONCURRENTLY, outside a transaction block (Alembic: "
            "postgresql_concurrently=True inside op.get_context().autocommit_block())",
        ),
        _PG + "sql-dropindex.html",
    ),
    Rule(
        "concurrently-in-transaction",
        "error",
        "locking",
        "CONCURRENTLY inside a transaction",
        "CREATE/DROP INDEX CONCURRENTLY and REINDEX CONCURRENTLY cannot run inside a transaction "
        "block: the migration fails (Alembic runs each migration in a transaction on PostgreSQL)",
        (
            "run it outside BEGIN/COMMIT; in Alembic, inside "
            "`with op.get_context().autocommit_block():`",
        ),
        _PG + "sql-createindex.html#SQL-CREATEINDEX-CONCURRENTLY",
    ),
    Rule(
        "add-foreign-key-not-valid",
        "error",
        "locking",
        "Adding a foreign key without NOT VALID",
        "validating the key scans the whole table while holding a SHARE ROW EXCLUSIVE lock on "
        "both tables: writes to either wait",
        (
            "ALTER TABLE t ADD CONSTRAINT t_fk FOREIGN KEY (c) REFERENCES u (id) NOT VALID",
            "ALTER TABLE t VALIDATE CONSTRAINT t_fk in a later migration (no write lock); "
            "Alembic: op.execute() both, op.create_foreign_key has no NOT VALID",
        ),
        _PG + "sql-altertable.html#SQL-ALTERTABLE-NOTES",
    ),
    Rule(
        "add-check-not-valid",
        "error",
        "locking",
        "Adding a CHECK constraint without NOT VALID",
        "validating the check scans the whole table under an ACCESS EXCLUSIVE lock",
        (
            "ALTER TABLE t ADD CONSTRAINT t_check CHECK (...) NOT VALID",
            "ALTER TABLE t VALIDATE CONSTRAINT t_check in a later migration (no write lock)",
        ),
        _PG + "sql-altertable.html#SQL-ALTERTABLE-NOTES",
    ),
    Rule(
        "add-unique-without-index",
        "error",
        "locking",
        "Adding a UNIQUE or PRIMARY KEY constraint without USING INDEX",
        "the constraint builds its index under an ACCESS EXCLUSIVE lock: no reads, no writes "
        "until the index is built",
        (
            "CREATE UNIQUE INDEX CONCURRENTLY t_c_key ON t (c)",
            "ALTER TABLE t ADD CONSTRAINT t_c_key UNIQUE USING INDEX t_c_key "
            "(or PRIMARY KEY USING INDEX)",
        ),
        _PG + "sql-altertable.html",
    ),
    Rule(
        "vacuum-full",
        "error",
        "locking",
        "VACUUM FULL",
        "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock",
        ("leave space reclaim to autovacuum, or use pg_repack / pg_squeeze online",),
        _PG + "sql-vacuum.html",
    ),
    Rule(
        "cluster",
        "error",
        "locking",
        "CLUSTER",
        "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock",
        ("use pg_repack to reorder online, outside the migration",),
        _PG + "sql-cluster.html",
    ),
    Rule(
        "reindex-non-concurrently",
        "error",
        "locking",
        "REINDEX without CONCURRENTLY",
        "REINDEX locks out writes to the table (and reads through the index) while it rebuilds",
        ("REINDEX ... CONCURRENTLY (PostgreSQL 12+), outside a transaction block",),
        _PG + "sql-reindex.html",
    ),
    Rule(
        "drop-database",
        "error",
        "compatibility",
        "Dropping a database",
        "everything the running release stores goes with it; never part of a migration",
        ("drop databases by hand, after a backup, outside the migrations",),
        _PG + "sql-dropdatabase.html",
    ),
    Rule(
        "require-lock-timeout",
        "warning",
        "locking",
        "A locking statement without lock_timeout",
        "a statement waiting for its lock (behind one long query) blocks every query that comes "
        "after it: without lock_timeout a migration can stall the whole application",
        (
            "SET lock_timeout = '5s' before the first locking statement "
            "(Alembic: op.execute(\"SET lock_timeout = '5s'\")), and retry the migration "
            "when it times out",
        ),
        _PG + "runtime-config-client.html#GUC-LOCK-TIMEOUT",
    ),
    Rule(
        "transaction-nesting",
        "warning",
        "practice",
        "BEGIN inside an open transaction",
        "PostgreSQL ignores the inner BEGIN (with a warning) and the first COMMIT ends the "
        "whole transaction: the rest runs outside it",
        ("one BEGIN/COMMIT per migration (or none, if the runner opens the transaction)",),
        _PG + "sql-begin.html",
    ),
    Rule(
        "unbatched-backfill",
        "warning",
        "locking",
        "UPDATE or DELETE of a whole table in a migration",
        "one statement over every row locks them all until the migration commits and bloats "
        "the table; in the same transaction as DDL it also holds the DDL's lock",
        (
            "backfill in batches (by primary key ranges), each its own transaction, outside the "
            "schema migration",
        ),
        _PG + "sql-update.html",
    ),
    Rule(
        "ban-char-field",
        "warning",
        "practice",
        "A char(n) column",
        "char(n) pads with spaces and is no faster than text; widening it later rewrites the table",
        ("use text (with a CHECK on length if needed) or varchar(n)",),
        _PG + "datatype-character.html",
    ),
    Rule(
        "prefer-bigint-id",
        "warning",
        "practice",
        "An integer (32-bit) id or serial column",
        "integer ids run out at 2,147,483,647; changing the type later rewrites the table and "
        "every referencing one",
        ("use bigint (bigserial, or bigint GENERATED ALWAYS AS IDENTITY)",),
        _PG + "datatype-numeric.html",
    ),
    Rule(
        "prefer-timestamptz",
        "warning",
        "practice",
        "timestamp without time zone",
        "a timestamp without time zone means whatever the writer's clock meant; comparisons "
        "across time zones and DST changes go wrong",
        ("use timestamptz (SQLAlchemy: DateTime(timezone=True))",),
        _PG + "datatype-datetime.html",
    ),
    Rule(
        "unanalyzable-sql",
        "warning",
        "input",
        "SQL relgate cannot read",
        "op.execute() is given something other than a string literal or text('literal'): "
        "relgate cannot check what it runs",
        ("pass a literal SQL string, or check the offline `alembic upgrade --sql` output",),
        "https://alembic.sqlalchemy.org/en/latest/offline.html",
    ),
    Rule(
        "syntax-error",
        "error",
        "input",
        "A syntax error",
        "the migration does not parse: it fails when it runs, or relgate cannot check it",
        ("fix the statement at the line shown",),
        _PG + "sql-commands.html",
    ),
    Rule(
        "invalid-annotation",
        "error",
        "input",
        "A relgate: annotation that is not valid",
        "a suppression must name known rules and give a reason; a contract annotation must "
        "name a SemVer version: `relgate:contract after=1.4.0`",
        ("`-- relgate:ignore RULE[,RULE] reason`, `-- relgate:contract after=VERSION`",),
        _PG + "sql-syntax-lexical.html#SQL-SYNTAX-COMMENTS",
    ),
)

RULES: Final[dict[str, Rule]] = {rule.id: rule for rule in _RULE_LIST}


def rule(rule_id: str) -> Rule:
    """Return the rule with ``rule_id`` (KeyError for an unknown one)."""
    return RULES[rule_id]


def unknown_rules(names: list[str] | tuple[str, ...]) -> list[str]:
    """Return the names in ``names`` that are not rule ids, in order."""
    return [name for name in names if name not in RULES]
