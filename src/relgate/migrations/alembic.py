"""Checks of Alembic revision files, read with Python's ``ast`` (never imported or run).

Only ``upgrade()`` is read: a downgrade undoes the upgrade and is destructive
by nature. Each ``op.*`` call (and ``batch_op.*`` inside
``with op.batch_alter_table(...)``) is checked as the SQL Alembic would emit;
``op.execute("SQL")`` and ``op.execute(sa.text("SQL"))`` are parsed with
pglast. Alembic runs a revision in a transaction on PostgreSQL, so a
CONCURRENTLY operation must stand inside ``op.get_context().autocommit_block()``.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pglast.parser import ParseError

from relgate.migrations.sql import check_sql, default_volatility
from relgate.migrations.state import FileState, Locator

_CHAR_TYPES = frozenset({"CHAR", "NCHAR"})
_INT_TYPES = frozenset({"Integer", "INTEGER", "SmallInteger", "SMALLINT", "INT"})
_DATETIME_TYPES = frozenset({"DateTime", "TIMESTAMP", "DATETIME"})
# server defaults SQLAlchemy renders as constants
_RAW_SQL = frozenset({"text", "literal_column"})
_CONSTANTS = frozenset({"true", "false", "null", "literal", "FetchedValue"})


def is_revision(tree: ast.Module) -> bool:
    """Whether the module defines ``upgrade()`` at its top level (an Alembic revision)."""
    return _upgrade(tree) is not None


def check_alembic(source: str, tree: ast.Module, state: FileState) -> None:
    """Check the ``upgrade()`` of the revision ``tree`` (parsed from ``source``)."""
    _comments(source, state)
    function = _upgrade(tree)
    if function is None:
        return
    state.in_transaction = True
    _Revision(source, state).body(function.body)


def _upgrade(tree: ast.Module) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "upgrade":
            return node
    return None


def _comments(source: str, state: FileState) -> None:
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                state.comments.append((token.start[0], token.string))
    except (tokenize.TokenError, SyntaxError):
        return


# where an op takes its table; inside batch_alter_table that argument is left out
_TABLE_AT = {
    "drop_column": 0,
    "alter_column": 0,
    "add_column": 0,
    "create_index": 1,
    "drop_index": 1,
    "create_foreign_key": 1,
    "create_check_constraint": 1,
    "create_unique_constraint": 1,
    "create_primary_key": 1,
}


# the op.* methods checked (each has a handler ``_<name>`` below)
_OPS = frozenset(
    {
        "execute",
        "create_table",
        "drop_table",
        "rename_table",
        "drop_column",
        "alter_column",
        "add_column",
        "create_index",
        "drop_index",
        "create_foreign_key",
        "create_check_constraint",
        "create_unique_constraint",
        "create_primary_key",
    }
)


@dataclass(frozen=True)
class _Call:
    """One op.* (or batch_op.*) call: its name, arguments, table of the batch, position."""

    name: str
    node: ast.Call
    batch: str | None

    def arg(self, index: int, keyword: str) -> ast.expr | None:
        """The argument at ``index`` of op's signature, or named ``keyword``.

        A batch_op call has no table argument: the positions after it move up one.
        """
        for item in self.node.keywords:
            if item.arg == keyword:
                return item.value
        table_at = _TABLE_AT.get(self.name)
        if self.batch is not None and table_at is not None:
            if index == table_at:
                return None
            if index > table_at:
                index -= 1
        if 0 <= index < len(self.node.args):
            return self.node.args[index]
        return None

    def text(self, index: int, keyword: str) -> str | None:
        value = self.arg(index, keyword)
        if isinstance(value, ast.Call) and _function_name(value) == "f" and value.args:
            value = value.args[0]  # op.f("ix_name"): the name as written
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
        return None

    def table(self, index: int, keyword: str = "table_name") -> str:
        if self.batch is not None:
            return self.batch
        return self.text(index, keyword) or "?"

    def true(self, keyword: str) -> bool:
        value = self.arg(-99, keyword)
        return isinstance(value, ast.Constant) and value.value is True

    def given(self, keyword: str) -> bool:
        return any(item.arg == keyword for item in self.node.keywords)


def _callee(node: ast.expr) -> tuple[str, str] | None:
    """(receiver name, method) of ``op.drop_column(...)``-shaped calls."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        value = node.func.value
        if isinstance(value, ast.Name):
            return value.id, node.func.attr
    return None


def _is_autocommit(expr: ast.expr) -> bool:
    """``op.get_context().autocommit_block()``."""
    return (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "autocommit_block"
    )


def _is_sql_function(node: ast.expr) -> bool:
    """``sa.func.now`` or ``func.now``: a call of an SQL function by name."""
    if not isinstance(node, ast.Attribute):
        return False
    owner = node.value
    return (isinstance(owner, ast.Attribute) and owner.attr == "func") or (
        isinstance(owner, ast.Name) and owner.id == "func"
    )


def _function_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ""


class _Revision:
    """The checks of one upgrade(), statement by statement in source order."""

    def __init__(self, source: str, state: FileState) -> None:
        self.source = source
        self.state = state
        self.batches: dict[str, str] = {}

    def body(self, statements: list[ast.stmt]) -> None:
        for statement in statements:
            self.statement(statement)

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.With | ast.AsyncWith):
            self._with(node)
            return
        for call in _calls(node):
            self.call(call)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                self.statement(child)
            elif isinstance(child, ast.ExceptHandler | ast.match_case):
                self.body(child.body)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        autocommit = any(_is_autocommit(item.context_expr) for item in node.items)
        added: list[str] = []
        for item in node.items:
            callee = _callee(item.context_expr)
            if (
                callee
                and callee[1] == "batch_alter_table"
                and isinstance(item.optional_vars, ast.Name)
            ):
                assert isinstance(item.context_expr, ast.Call)
                table = _Call("batch_alter_table", item.context_expr, None).text(0, "table_name")
                self.batches[item.optional_vars.id] = table or "?"
                added.append(item.optional_vars.id)
        was = self.state.in_transaction
        if autocommit:
            self.state.in_transaction = False
        self.body(node.body)
        self.state.in_transaction = was
        for name in added:
            self.batches.pop(name, None)

    def call(self, node: ast.Call) -> None:
        callee = _callee(node)
        if callee is None:
            return
        receiver, method = callee
        if receiver == "op":
            call = _Call(method, node, None)
        elif receiver in self.batches:
            call = _Call(method, node, self.batches[receiver])
        else:
            return
        span = (node.lineno, node.end_lineno or node.lineno)
        self.state.statements += 1
        self.state.spans.append(span)
        if method in _OPS:
            getattr(self, f"_{method}")(call, span)

    # ------------------------------------------------------------ helpers

    def add(
        self,
        rule: str,
        call: _Call | ast.AST,
        message: str,
        span: tuple[int, int],
        obj: str | None = None,
    ) -> None:
        node: Any = call.node if isinstance(call, _Call) else call
        self.state.add(rule, (node.lineno, node.col_offset + 1), message, span, obj)

    def locking(self, call: _Call, span: tuple[int, int], what: str, table: str) -> None:
        if not self.state.is_new(table):
            self.state.locking((call.node.lineno, call.node.col_offset + 1), span, what)

    # ------------------------------------------------------------ op.*

    def _execute(self, call: _Call, span: tuple[int, int]) -> None:
        value = call.arg(0, "sqltext")
        if isinstance(value, ast.Call) and _function_name(value) == "text" and value.args:
            value = value.args[0]
        if not (isinstance(value, ast.Constant) and isinstance(value.value, str)):
            self.add(
                "unanalyzable-sql", call, "op.execute() of something other than a literal", span
            )
            return
        line, column = _content_start(self.source, value)
        self.state.statements -= 1  # the SQL's statements count instead
        self.state.spans.pop()
        check_sql(value.value, self.state, Locator.of(value.value, line, column), span)

    def _create_table(self, call: _Call, span: tuple[int, int]) -> None:
        table = call.text(0, "table_name") or "?"
        self.state.create(table)
        for column in call.node.args[1:]:
            self._column(table, column, span, creating=True)

    def _drop_table(self, call: _Call, span: tuple[int, int]) -> None:
        table = call.text(0, "table_name") or "?"
        if not self.state.is_new(table):
            self.add("drop-table", call, f"drops table {table}", span, table)
            self.locking(call, span, f"dropping {table}", table)

    def _rename_table(self, call: _Call, span: tuple[int, int]) -> None:
        old, new = call.text(0, "old_table_name") or "?", call.text(1, "new_table_name") or "?"
        if not self.state.is_new(old):
            self.add("rename-table", call, f"renames table {old} to {new}", span, old)
            self.locking(call, span, f"renaming {old}", old)

    def _drop_column(self, call: _Call, span: tuple[int, int]) -> None:
        table = call.table(0)
        column = f"{table}.{call.text(1, 'column_name') or '?'}"
        if not self.state.is_new(table):
            self.add("drop-column", call, f"drops column {column}", span, column)
            self.locking(call, span, f"dropping {column}", table)

    def _alter_column(self, call: _Call, span: tuple[int, int]) -> None:
        table = call.table(0)
        if self.state.is_new(table):
            return
        column = f"{table}.{call.text(1, 'column_name') or '?'}"
        new_name = call.text(-99, "new_column_name")
        if new_name:
            self.add("rename-column", call, f"renames column {column} to {new_name}", span, column)
        if call.given("type_"):
            self.add("change-column-type", call, f"changes the type of {column}", span, column)
        nullable = call.arg(-99, "nullable")
        if isinstance(nullable, ast.Constant) and nullable.value is False:
            self.add("set-not-null", call, f"sets {column} NOT NULL", span, column)
        self.locking(call, span, f"altering {column}", table)

    def _add_column(self, call: _Call, span: tuple[int, int]) -> None:
        table = call.table(0)
        column = call.arg(1, "column")
        if column is not None and not self.state.is_new(table):
            self._column(table, column, span, creating=False)
            self.locking(call, span, f"adding a column to {table}", table)
        elif column is not None:
            self._column(table, column, span, creating=True)

    def _create_index(self, call: _Call, span: tuple[int, int]) -> None:
        name = call.text(0, "index_name") or "?"
        table = call.table(1)
        if call.true("postgresql_concurrently"):
            self._concurrently(call, span, f"creating index {name} concurrently")
        elif not self.state.is_new(table):
            self.add(
                "create-index-non-concurrently",
                call,
                f"creates index {name} on {table} without postgresql_concurrently=True",
                span,
                name,
            )
            self.locking(call, span, f"creating index {name}", table)

    def _drop_index(self, call: _Call, span: tuple[int, int]) -> None:
        name = call.text(0, "index_name") or "?"
        table = call.table(1) if call.batch or call.text(1, "table_name") else None
        if call.true("postgresql_concurrently"):
            self._concurrently(call, span, f"dropping index {name} concurrently")
        elif not self.state.is_new(table or ""):
            self.add(
                "drop-index-non-concurrently",
                call,
                f"drops index {name} without postgresql_concurrently=True",
                span,
                name,
            )
            self.state.locking(
                (call.node.lineno, call.node.col_offset + 1), span, f"dropping {name}"
            )

    def _concurrently(self, call: _Call, span: tuple[int, int], what: str) -> None:
        if self.state.in_transaction:
            self.add(
                "concurrently-in-transaction",
                call,
                f"{what} outside op.get_context().autocommit_block()",
                span,
            )

    def _create_foreign_key(self, call: _Call, span: tuple[int, int]) -> None:
        name = call.text(0, "constraint_name") or "?"
        table = call.table(1, "source_table")
        if not self.state.is_new(table):
            self.add(
                "add-foreign-key-not-valid",
                call,
                f"adds foreign key {name} on {table} (op.create_foreign_key cannot say NOT VALID)",
                span,
                name,
            )

    def _create_check_constraint(self, call: _Call, span: tuple[int, int]) -> None:
        name = call.text(0, "constraint_name") or "?"
        table = call.table(1)
        if not self.state.is_new(table):
            self.add(
                "add-check-not-valid",
                call,
                f"adds check {name} on {table} without NOT VALID",
                span,
                name,
            )

    def _create_unique_constraint(self, call: _Call, span: tuple[int, int]) -> None:
        self._unique(call, span, "unique constraint")

    def _create_primary_key(self, call: _Call, span: tuple[int, int]) -> None:
        self._unique(call, span, "primary key")

    def _unique(self, call: _Call, span: tuple[int, int], kind: str) -> None:
        name = call.text(0, "constraint_name") or "?"
        table = call.table(1)
        if not self.state.is_new(table):
            self.add(
                "add-unique-without-index",
                call,
                f"adds {kind} {name} on {table}: its index is built under an ACCESS EXCLUSIVE lock",
                span,
                name,
            )

    # ------------------------------------------------------------ sa.Column(...)

    def _column(self, table: str, node: ast.expr, span: tuple[int, int], *, creating: bool) -> None:
        if not (isinstance(node, ast.Call) and _function_name(node) == "Column" and node.args):
            return
        column_call = _Call("Column", node, None)
        name = column_call.text(0, "name") or "?"
        column = f"{table}.{name}"
        type_node = next(
            (a for a in node.args[1:] if _function_name(a) not in ("ForeignKey",)), None
        )
        type_name = _function_name(type_node) if type_node is not None else ""
        primary = column_call.true("primary_key")
        if type_name in _CHAR_TYPES:
            self.add("ban-char-field", node, f"{column} is {type_name}(n)", span, column)
        with_zone = isinstance(type_node, ast.Call) and _Call("", type_node, None).true("timezone")
        if type_name in _DATETIME_TYPES and not with_zone:
            self.add(
                "prefer-timestamptz", node, f"{column} is timestamp without time zone", span, column
            )
        if type_name in _INT_TYPES and (primary or name == "id"):
            self.add("prefer-bigint-id", node, f"{column} is a 32-bit integer id", span, column)
        if creating:
            return
        foreign = any(_function_name(a) == "ForeignKey" for a in node.args[1:])
        if foreign:
            self.add(
                "add-foreign-key-not-valid",
                node,
                f"adds {column} with a foreign key (validated under lock; no NOT VALID)",
                span,
                column,
            )
        default = column_call.arg(-99, "server_default")
        has_default = default is not None and not (
            isinstance(default, ast.Constant) and default.value is None
        )
        nullable = column_call.arg(-99, "nullable")
        not_null = primary or (isinstance(nullable, ast.Constant) and nullable.value is False)
        if not_null and not has_default:
            self.add(
                "add-column-not-null-without-default",
                node,
                f"adds NOT NULL column {column} without a server_default",
                span,
                column,
            )
        if has_default and default is not None:
            self._default(column, default, span)
        if column_call.true("unique") or primary:
            self.add(
                "add-unique-without-index",
                node,
                f"adds {column} with a unique index built under an ACCESS EXCLUSIVE lock",
                span,
                column,
            )

    def _default(self, column: str, default: ast.expr, span: tuple[int, int]) -> None:
        expression: str | None = None
        if isinstance(default, ast.Call) and _function_name(default) in _RAW_SQL and default.args:
            first = default.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                expression = first.value
        elif isinstance(default, ast.Call) and _is_sql_function(default.func):
            # sa.func.now(), func.gen_random_uuid()
            expression = f"{_function_name(default)}()"
        elif isinstance(default, ast.Constant) or _function_name(default) in _CONSTANTS:
            return  # a literal: constant
        if expression is None:
            self.add(
                "add-column-unknown-default",
                default,
                f"adds {column} with a default relgate cannot read",
                span,
                column,
            )
            return
        try:
            volatility = default_volatility(expression)
        except ParseError:
            self.add(
                "syntax-error",
                default,
                f"server_default of {column} is not SQL: {expression}",
                span,
                column,
            )
            return
        if volatility == "volatile":
            self.add(
                "add-column-volatile-default",
                default,
                f"adds {column} with a volatile default ({expression}): every row is rewritten",
                span,
                column,
            )
        elif volatility == "unknown":
            self.add(
                "add-column-unknown-default",
                default,
                f"adds {column} with default {expression} of unknown volatility",
                span,
                column,
            )


def _calls(node: ast.stmt) -> Iterator[ast.Call]:
    """The calls of one simple statement (an expression, an assignment), outermost first."""
    if isinstance(node, ast.Expr | ast.Assign | ast.AnnAssign | ast.Return):
        value = node.value
        if isinstance(value, ast.Call):
            yield value


def _content_start(source: str, literal: ast.Constant) -> tuple[int, int]:
    """(line, column) of the first character inside the quotes of string ``literal``."""
    segment = ast.get_source_segment(source, literal) or ""
    prefix = 0
    while prefix < len(segment) and segment[prefix] not in "'\"":
        prefix += 1
    quotes = 3 if segment[prefix : prefix + 3] in ('"""', "'''") else 1
    return literal.lineno, literal.col_offset + prefix + quotes + 1
