"""``check_paths``: find the migration files under some paths, check them, build the report.

Pure but for reading the files. ``check_text(text, path)`` checks one file's
text (SQL, or an Alembic revision when ``path`` ends in ``.py``) and applies
its annotations:

- ``-- relgate:ignore RULE[,RULE...] REASON`` (``#`` in Python) suppresses
  those rules for the statement (or op.* call) the comment stands in or on the
  line of, else for the next one below it. A reason is required.
- ``-- relgate:contract after=VERSION`` declares the contract changes below it
  (drop or rename of a column or table) safe once release VERSION, which no
  longer uses what they remove, is stable where the migration runs. It holds
  until the next ``relgate:contract`` annotation. The ``migrations`` gate checks
  it against the environment; the check only reports it (level ``note``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from relgate.errors import BadInput
from relgate.migrations.alembic import check_alembic, is_revision
from relgate.migrations.report import FileChecked, MigrationFinding, MigrationReport
from relgate.migrations.rules import RULES, Level
from relgate.migrations.sql import check_sql
from relgate.migrations.state import FileState, Locator, Raw

MAX_FILE_BYTES: Final = 10 * 1024 * 1024
_ALWAYS: Final = frozenset({"syntax-error", "invalid-annotation"})


@dataclass(frozen=True)
class _Ignore:
    line: int
    rules: frozenset[str]
    reason: str


@dataclass(frozen=True)
class _Contract:
    line: int
    after: str


@dataclass(frozen=True)
class Checked:
    """One file's result."""

    file: FileChecked
    findings: list[MigrationFinding]
    suppressed: list[MigrationFinding]


def check_paths(
    paths: Sequence[Path],
    *,
    only: Iterable[str] = (),
    ignore: Iterable[str] = (),
    stdin: Callable[[], str] | None = None,
    stdin_name: str = "stdin.sql",
) -> MigrationReport:
    """Check every migration file in ``paths`` (files, or folders searched recursively).

    ``only`` keeps just those rules, ``ignore`` drops those (syntax errors and
    bad annotations are always reported). A path ``-`` is the text ``stdin()``
    returns (SQL, e.g. ``alembic upgrade --sql``), named ``stdin_name``.
    Raises BadInput (exit 2) naming the path for a missing or unreadable file,
    a .py file named that is not an Alembic revision, or when no migration file
    is found.
    """
    keep = _filter(set(only), set(ignore))
    if stdin is not None and any(str(path) == "-" for path in paths):
        text = stdin()
        paths = [path for path in paths if str(path) != "-"]
        piped = [check_text(text, stdin_name)]
    else:
        piped = []
    if piped and not paths:
        return _report(piped, keep)
    files = list(_files(paths))
    if not files:
        shown = ", ".join(str(path) for path in paths)
        raise BadInput(f"{shown}: no .sql file or Alembic revision (.py with upgrade()) found")
    checked = [result for path, named in files if (result := _check_file(path, named)) is not None]
    if not checked:
        shown = ", ".join(str(path) for path in paths)
        raise BadInput(f"{shown}: no .sql file or Alembic revision (.py with upgrade()) found")
    return _report(piped + checked, keep)


def _report(checked: list[Checked], keep: _Keep) -> MigrationReport:
    return MigrationReport(
        files=[result.file for result in checked],
        findings=[f for result in checked for f in result.findings if keep(f.rule)],
        suppressed=[f for result in checked for f in result.suppressed if keep(f.rule)],
    )


def _filter(only: set[str], ignore: set[str]) -> _Keep:
    unknown = sorted((only | ignore) - set(RULES))
    if unknown:
        raise BadInput(f"unknown rule {', '.join(unknown)}; rules: {', '.join(sorted(RULES))}")
    return _Keep(frozenset(only), frozenset(ignore))


@dataclass(frozen=True)
class _Keep:
    only: frozenset[str]
    ignore: frozenset[str]

    def __call__(self, rule: str) -> bool:
        if rule in _ALWAYS:
            return True
        return (not self.only or rule in self.only) and rule not in self.ignore


def _files(paths: Sequence[Path]) -> Iterable[tuple[Path, bool]]:
    """(path, named on the command line) of every candidate file, folders sorted."""
    for path in paths:
        if path.is_dir():
            for found in sorted(path.rglob("*")):
                relative = found.relative_to(path).parts
                if any(part.startswith(".") or part == "__pycache__" for part in relative):
                    continue
                if found.is_file() and found.suffix.lower() in (".sql", ".py"):
                    yield found, False
        elif path.exists():
            yield path, True
        else:
            raise BadInput(f"{path}: no such file or directory")


def _read(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise BadInput(f"{path}: {size} bytes, over the {MAX_FILE_BYTES // 2**20} MiB limit")
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"{path}:{line}: not UTF-8 text (byte {exc.start})") from None


def _check_file(path: Path, named: bool) -> Checked | None:
    text = _read(path)
    shown = path.as_posix()
    if path.suffix.lower() != ".py":
        return check_text(text, shown)
    tree = _parse_python(text, shown)
    if isinstance(tree, ast.Module) and not is_revision(tree):
        if named:
            raise BadInput(f"{path}: not an Alembic revision (it defines no upgrade())")
        return None
    return check_text(text, shown)


def check_text(text: str, path: str) -> Checked:
    """Check one file's ``text``: an Alembic revision when ``path`` ends in .py, else SQL.

    A syntax error (SQL or Python) is a ``syntax-error`` finding, never an exception.
    """
    state = FileState(path)
    if not path.lower().endswith(".py"):
        check_sql(text, state, Locator.of(text))
        return _finish(state, "sql")
    tree = _parse_python(text, path)
    if isinstance(tree, SyntaxError):
        line = max(tree.lineno or 1, 1)
        column = tree.offset if tree.offset and tree.offset > 0 else None
        state.add("syntax-error", (line, column), f"Python: {tree.msg}", (line, line))
    else:
        check_alembic(text, tree, state)
    return _finish(state, "alembic")


def _parse_python(text: str, path: str) -> ast.Module | SyntaxError:
    try:
        return ast.parse(text, filename=path)
    except SyntaxError as exc:
        return exc
    except ValueError as exc:  # source with NUL bytes
        return SyntaxError(str(exc), (path, 1, 1, ""))


def _finish(state: FileState, kind: str) -> Checked:
    ignores, contracts = _annotations(state)
    findings: list[MigrationFinding] = []
    suppressed: list[MigrationFinding] = []
    for raw in state.found:
        rule = RULES[raw.rule]
        after = _contract_for(raw, contracts) if rule.contract else None
        level: Level = "note" if after else rule.level
        reason = _suppression(raw, ignores, state.spans)
        finding = MigrationFinding(
            rule=rule.id,
            level=level,
            category=rule.category,
            file=state.path,
            line=raw.line,
            column=raw.column,
            object=raw.object,
            message=raw.message,
            why=rule.why,
            safe=list(rule.safe),
            contract_after=after,
            reason=reason,
        )
        (suppressed if reason is not None else findings).append(finding)
    findings.sort(key=lambda f: (f.line, f.column or 0))
    return Checked(
        FileChecked(
            path=state.path,
            kind="alembic" if kind == "alembic" else "sql",
            statements=state.statements,
            contract_after=list(dict.fromkeys(c.after for c in contracts)),
        ),
        findings,
        suppressed,
    )


def _annotations(state: FileState) -> tuple[list[_Ignore], list[_Contract]]:
    """Read the ``relgate:`` comments; a malformed one becomes an invalid-annotation finding."""
    from relgate.errors import InvalidVersion
    from relgate.versioning.semver import Version

    ignores: list[_Ignore] = []
    contracts: list[_Contract] = []
    for line, comment in state.comments:
        body = _comment_body(comment)
        if not body.startswith("relgate:"):
            continue
        words = body.split(maxsplit=2)
        directive = words[0]
        span = (line, line)
        where = (line, None)
        if directive == "relgate:ignore":
            names = [name for name in (words[1] if len(words) > 1 else "").split(",") if name]
            unknown = [name for name in names if name not in RULES]
            if not names or unknown:
                problem = f"unknown rule {', '.join(unknown)}" if unknown else "no rule named"
                state.add("invalid-annotation", where, f"relgate:ignore: {problem}", span)
            elif len(words) < 3:
                state.add(
                    "invalid-annotation",
                    where,
                    f"relgate:ignore {words[1]}: give the reason after the rule",
                    span,
                )
            else:
                ignores.append(_Ignore(line, frozenset(names), words[2]))
        elif directive == "relgate:contract":
            options = dict(word.partition("=")[::2] for word in body.split()[1:] if "=" in word)
            after = options.get("after", "")
            try:
                Version.parse(after)
            except InvalidVersion:
                state.add(
                    "invalid-annotation",
                    where,
                    f"relgate:contract needs after=VERSION (SemVer, e.g. after=1.4.0), "
                    f"got {after or 'none'!r}",
                    span,
                )
                continue
            contracts.append(_Contract(line, after))
        else:
            state.add(
                "invalid-annotation",
                where,
                f"unknown annotation {directive}; use relgate:ignore or relgate:contract",
                span,
            )
    return ignores, contracts


def _comment_body(comment: str) -> str:
    body = comment.strip()
    for marker in ("--", "#", "/*"):
        if body.startswith(marker):
            body = body[len(marker) :]
            break
    # Alembic's offline SQL ends op.execute("-- comment") with a semicolon
    return body.removesuffix("*/").strip().rstrip(";").rstrip()


def _contract_for(raw: Raw, contracts: list[_Contract]) -> str | None:
    above = [contract for contract in contracts if contract.line <= raw.line]
    return above[-1].after if above else None


def _suppression(raw: Raw, ignores: list[_Ignore], spans: list[tuple[int, int]]) -> str | None:
    for ignore in ignores:
        if raw.rule in ignore.rules and _target(ignore.line, spans) == raw.span:
            return ignore.reason
    return None


def _target(line: int, spans: list[tuple[int, int]]) -> tuple[int, int] | None:
    """The span a comment on ``line`` covers: the one it stands in, else the next below."""
    for span in spans:
        if span[0] <= line <= span[1]:
            return span
    below = [span for span in spans if span[0] > line]
    return min(below) if below else None
