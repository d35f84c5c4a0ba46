"""Checks of SQL migrations, read with pglast (PostgreSQL's own parser).

``check_sql(text, state, locator)`` parses ``text`` and adds a finding to
``state`` for every change the running previous release cannot survive or that
locks a table (see relgate.migrations.rules). The Alembic checks call it for
the SQL of ``op.execute()``. pglast's statement and token offsets are character
offsets into ``text``; the locator maps them to the file's lines and columns.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from pglast import ast, enums, parse_sql, visitors
from pglast.parser import ParseError, scan

from relgate.migrations.state import FileState, Locator

AT = enums.AlterTableType
CT = enums.ConstrType
OT = enums.ObjectType
TK = enums.TransactionStmtKind

# functions whose value differs per row: as a new column's default they rewrite the table
VOLATILE: Final = frozenset(
    {
        "random",
        "random_normal",
        "gen_random_uuid",
        "uuidv4",
        "uuidv7",
        "uuid_generate_v1",
        "uuid_generate_v1mc",
        "uuid_generate_v4",
        "clock_timestamp",
        "timeofday",
        "nextval",
        "txid_current",
        "pg_current_xact_id",
    }
)
# functions known to be IMMUTABLE or STABLE: as a default they are metadata-only (PG 11+)
NON_VOLATILE: Final = frozenset(
    {
        "now",
        "current_timestamp",
        "current_date",
        "transaction_timestamp",
        "statement_timestamp",
        "localtimestamp",
        "current_user",
        "session_user",
        "lower",
        "upper",
        "coalesce",
        "to_jsonb",
        "jsonb_build_object",
        "json_build_object",
        "jsonb_build_array",
        "array",
        "make_interval",
        "timezone",
    }
)
_SERIAL: Final = frozenset({"serial", "serial4", "bigserial", "serial8", "smallserial", "serial2"})
_SMALL_INTS: Final = frozenset(
    {"int4", "int2", "integer", "int", "smallint", "serial", "serial4", "smallserial", "serial2"}
)


def check_sql(
    text: str, state: FileState, locator: Locator, span: tuple[int, int] | None = None
) -> None:
    """Check every statement of ``text``; a syntax error is a finding, never an exception.

    ``span``, when given, is the span every finding belongs to (the op.execute()
    call of an Alembic revision), else each statement's own lines.
    """
    _comments(text, state, locator)
    try:
        statements = parse_sql(text)
    except ParseError as exc:
        message, offset = _parse_error(exc)
        where = locator.at(offset)
        state.add("syntax-error", where, message, span or (where[0], where[0]))
        return
    for raw in statements:
        start = raw.stmt_location or 0
        length = raw.stmt_len or len(text) - start
        where = locator.at(start)
        end = locator.at(start + length)[0]
        statement_span = span or (where[0], end)
        state.statements += 1
        state.spans.append(statement_span)
        _Statement(state, where, statement_span).check(raw.stmt)


def default_volatility(expression: str) -> str | None:
    """Return "volatile", "unknown" or None for the SQL expression of a column default.

    Raises ParseError when ``expression`` is not an SQL expression.
    """
    statement = parse_sql(f"SELECT {expression}")[0].stmt
    return _volatility(statement)


def _parse_error(exc: ParseError) -> tuple[str, int]:
    message = str(exc.args[0]) if exc.args else "syntax error"
    offset = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], int) else 0
    return message, offset


def _comments(text: str, state: FileState, locator: Locator) -> None:
    try:
        tokens = scan(text)
    except ParseError:
        return  # the parse reports the error
    for token in tokens:
        if token.name in ("SQL_COMMENT", "C_COMMENT"):
            state.comments.append((locator.at(token.start)[0], text[token.start : token.end + 1]))


class _Functions(visitors.Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:  # noqa: N802
        self.names.append(_name(node.funcname).rsplit(".", 1)[-1].lower())

    def visit_SQLValueFunction(self, ancestors: Any, node: Any) -> None:  # noqa: N802
        self.names.append("current_timestamp")  # CURRENT_TIMESTAMP and friends: stable


def _volatility(node: Any) -> str | None:
    finder = _Functions()
    finder(node)
    if any(name in VOLATILE for name in finder.names):
        return "volatile"
    if any(name not in NON_VOLATILE for name in finder.names):
        return "unknown"
    return None


def _name(parts: Iterable[Any] | None) -> str:
    return ".".join(str(getattr(part, "sval", part)) for part in parts or ())


def _relation(relation: Any) -> str:
    if relation is None:
        return "?"
    name = str(relation.relname)
    return f"{relation.schemaname}.{name}" if getattr(relation, "schemaname", None) else name


def _type_name(type_name: Any) -> tuple[str, str]:
    """Return (last name part, as written) of a TypeName: ('bpchar', 'char(3)')."""
    names = [str(getattr(part, "sval", part)) for part in type_name.names or ()]
    last = names[-1].lower() if names else ""
    shown = {"bpchar": "char", "int4": "integer", "int2": "smallint", "int8": "bigint"}.get(
        last, last
    )
    return last, shown


class _Statement:
    """The checks of one parsed statement."""

    def __init__(self, state: FileState, where: tuple[int, int], span: tuple[int, int]) -> None:
        self.state = state
        self.where: tuple[int, int | None] = where
        self.span = span

    def add(self, rule: str, message: str, obj: str | None = None) -> None:
        self.state.add(rule, self.where, message, self.span, obj)

    def check(self, node: Any) -> None:
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is not None:
            handler(node)

    # ------------------------------------------------------------ transactions, settings

    def _TransactionStmt(self, node: ast.TransactionStmt) -> None:  # noqa: N802
        if node.kind in (TK.TRANS_STMT_BEGIN, TK.TRANS_STMT_START):
            if self.state.in_transaction:
                self.add("transaction-nesting", "BEGIN while a transaction is already open")
            self.state.in_transaction = True
        elif node.kind in (TK.TRANS_STMT_COMMIT, TK.TRANS_STMT_ROLLBACK):
            self.state.in_transaction = False

    def _VariableSetStmt(self, node: ast.VariableSetStmt) -> None:  # noqa: N802
        if (node.name or "").lower() == "lock_timeout":
            self.state.lock_timeout = True

    # ------------------------------------------------------------ tables

    def _CreateStmt(self, node: ast.CreateStmt) -> None:  # noqa: N802
        table = _relation(node.relation)
        self.state.create(table)
        for element in node.tableElts or ():
            if isinstance(element, ast.ColumnDef):
                self._column_type(table, element, creating=True)

    def _DropStmt(self, node: ast.DropStmt) -> None:  # noqa: N802
        names = [_name(parts) for parts in node.objects or ()]
        if node.removeType == OT.OBJECT_TABLE:
            for table in names:
                if not self.state.is_new(table):
                    self.add("drop-table", f"drops table {table}", table)
                    self.state.locking(self.where, self.span, f"DROP TABLE {table}")
        elif node.removeType == OT.OBJECT_INDEX:
            shown = ", ".join(names)
            if node.concurrent:
                self._concurrently(f"DROP INDEX CONCURRENTLY {shown}")
            else:
                self.add("drop-index-non-concurrently", f"drops index {shown} without CONCURRENTLY")
                self.state.locking(self.where, self.span, f"DROP INDEX {shown}")

    def _RenameStmt(self, node: ast.RenameStmt) -> None:  # noqa: N802
        table = _relation(node.relation)
        if self.state.is_new(table):
            return
        if node.renameType == OT.OBJECT_COLUMN:
            column = f"{table}.{node.subname}"
            self.add("rename-column", f"renames column {column} to {node.newname}", column)
        elif node.renameType == OT.OBJECT_TABLE:
            self.add("rename-table", f"renames table {table} to {node.newname}", table)
        else:
            return
        self.state.locking(self.where, self.span, f"renaming {table}")

    def _AlterTableStmt(self, node: ast.AlterTableStmt) -> None:  # noqa: N802
        if node.objtype not in (OT.OBJECT_TABLE, None):
            return
        table = _relation(node.relation)
        new = self.state.is_new(table)
        for command in node.cmds or ():
            if not isinstance(command, ast.AlterTableCmd):
                continue
            if new:
                if command.subtype == AT.AT_AddColumn and isinstance(command.def_, ast.ColumnDef):
                    self._column_type(table, command.def_, creating=True)
                continue
            self._alter(table, command)
        if not new and node.cmds:
            self.state.locking(self.where, self.span, f"ALTER TABLE {table}")

    def _alter(self, table: str, command: ast.AlterTableCmd) -> None:
        column = f"{table}.{command.name}" if command.name else table
        match command.subtype:
            case AT.AT_DropColumn:
                self.add("drop-column", f"drops column {column}", column)
            case AT.AT_AlterColumnType:
                shown = ""
                if isinstance(command.def_, ast.ColumnDef) and command.def_.typeName is not None:
                    shown = f" to {_type_name(command.def_.typeName)[1]}"
                self.add("change-column-type", f"changes the type of {column}{shown}", column)
            case AT.AT_SetNotNull:
                self.add("set-not-null", f"sets {column} NOT NULL", column)
            case AT.AT_AddColumn if isinstance(command.def_, ast.ColumnDef):
                self._add_column(table, command.def_)
            case AT.AT_AddConstraint if isinstance(command.def_, ast.Constraint):
                self._constraint(table, command.def_)

    def _add_column(self, table: str, definition: ast.ColumnDef) -> None:
        column = f"{table}.{definition.colname}"
        constraints = [c for c in definition.constraints or () if isinstance(c, ast.Constraint)]
        kinds = {c.contype for c in constraints}
        last, _ = _type_name(definition.typeName) if definition.typeName else ("", "")
        default = next((c for c in constraints if c.contype == CT.CONSTR_DEFAULT), None)
        generated = next((c for c in constraints if c.contype == CT.CONSTR_GENERATED), None)
        if last in _SERIAL:
            self.add(
                "add-column-volatile-default",
                f"adds serial column {column}: nextval() fills every row",
                column,
            )
        elif CT.CONSTR_IDENTITY in kinds:
            self.add(
                "add-column-volatile-default",
                f"adds identity column {column}: every row gets a value",
                column,
            )
        elif generated is not None and generated.generated_kind != "v":
            self.add(
                "add-column-volatile-default", f"adds stored generated column {column}", column
            )
        elif default is not None:
            volatility = _volatility(default.raw_expr)
            if volatility == "volatile":
                self.add(
                    "add-column-volatile-default",
                    f"adds {column} with a volatile default: every row is rewritten",
                    column,
                )
            elif volatility == "unknown":
                self.add(
                    "add-column-unknown-default",
                    f"adds {column} with a default calling a function of unknown volatility",
                    column,
                )
        not_null = definition.is_not_null or CT.CONSTR_NOTNULL in kinds
        filled = default is not None or generated is not None or CT.CONSTR_IDENTITY in kinds
        if (not_null or CT.CONSTR_PRIMARY in kinds) and not filled and last not in _SERIAL:
            self.add(
                "add-column-not-null-without-default",
                f"adds NOT NULL column {column} without a default",
                column,
            )
        for constraint in constraints:
            self._constraint(table, constraint, column=column)
        self._column_type(table, definition, creating=False)

    def _constraint(
        self, table: str, constraint: ast.Constraint, column: str | None = None
    ) -> None:
        name = constraint.conname or column or table
        if constraint.contype == CT.CONSTR_FOREIGN and not constraint.skip_validation:
            self.add(
                "add-foreign-key-not-valid",
                f"adds foreign key {name} on {table} without NOT VALID",
                name,
            )
        elif constraint.contype == CT.CONSTR_CHECK and not constraint.skip_validation:
            self.add("add-check-not-valid", f"adds check {name} on {table} without NOT VALID", name)
        elif constraint.contype in (CT.CONSTR_UNIQUE, CT.CONSTR_PRIMARY) and not (
            constraint.indexname
        ):
            kind = "primary key" if constraint.contype == CT.CONSTR_PRIMARY else "unique constraint"
            self.add(
                "add-unique-without-index",
                f"adds {kind} {name} on {table} without USING INDEX",
                name,
            )

    def _column_type(self, table: str, definition: ast.ColumnDef, *, creating: bool) -> None:
        if definition.typeName is None:
            return
        column = f"{table}.{definition.colname}"
        last, shown = _type_name(definition.typeName)
        if last == "bpchar":
            self.add("ban-char-field", f"{column} is {shown}(n)", column)
        if last == "timestamp":
            self.add("prefer-timestamptz", f"{column} is timestamp without time zone", column)
        constraints = [c for c in definition.constraints or () if isinstance(c, ast.Constraint)]
        is_id = (
            last in _SERIAL
            or any(c.contype in (CT.CONSTR_PRIMARY, CT.CONSTR_IDENTITY) for c in constraints)
            or (creating and str(definition.colname).lower() == "id")
        )
        if last in _SMALL_INTS and is_id:
            self.add("prefer-bigint-id", f"{column} is a 32-bit {shown} id", column)

    # ------------------------------------------------------------ indexes

    def _IndexStmt(self, node: ast.IndexStmt) -> None:  # noqa: N802
        table = _relation(node.relation)
        name = node.idxname or f"on {table}"
        if node.concurrent:
            self._concurrently(f"CREATE INDEX CONCURRENTLY {name}")
        elif not self.state.is_new(table):
            self.add(
                "create-index-non-concurrently",
                f"creates index {name} on {table} without CONCURRENTLY",
                name,
            )
            self.state.locking(self.where, self.span, f"CREATE INDEX {name}")

    def _ReindexStmt(self, node: ast.ReindexStmt) -> None:  # noqa: N802
        target = _relation(node.relation) if node.relation is not None else str(node.name or "")
        concurrent = any(
            isinstance(p, ast.DefElem) and p.defname == "concurrently" for p in node.params or ()
        )
        if concurrent:
            self._concurrently(f"REINDEX CONCURRENTLY {target}")
        else:
            self.add("reindex-non-concurrently", f"reindexes {target} without CONCURRENTLY", target)

    def _concurrently(self, what: str) -> None:
        if self.state.in_transaction:
            self.add("concurrently-in-transaction", f"{what} inside a transaction")

    # ------------------------------------------------------------ maintenance, data

    def _VacuumStmt(self, node: ast.VacuumStmt) -> None:  # noqa: N802
        full = any(isinstance(o, ast.DefElem) and o.defname == "full" for o in node.options or ())
        if node.is_vacuumcmd and full:
            tables = [
                _relation(r.relation) for r in node.rels or () if isinstance(r, ast.VacuumRelation)
            ]
            self.add("vacuum-full", f"VACUUM FULL {', '.join(tables) or '(every table)'}")

    def _ClusterStmt(self, node: ast.ClusterStmt) -> None:  # noqa: N802
        target = _relation(node.relation) if node.relation is not None else "(every table)"
        self.add("cluster", f"CLUSTER {target}", target)

    def _DropdbStmt(self, node: ast.DropdbStmt) -> None:  # noqa: N802
        self.add("drop-database", f"drops database {node.dbname}", str(node.dbname))

    def _UpdateStmt(self, node: ast.UpdateStmt) -> None:  # noqa: N802
        table = _relation(node.relation)
        if node.whereClause is None and not self.state.is_new(table):
            self.add("unbatched-backfill", f"updates every row of {table} in one statement", table)

    def _DeleteStmt(self, node: ast.DeleteStmt) -> None:  # noqa: N802
        table = _relation(node.relation)
        if node.whereClause is None and not self.state.is_new(table):
            self.add("unbatched-backfill", f"deletes every row of {table} in one statement", table)
