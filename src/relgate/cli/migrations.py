"""relgate migrations check PATH…: the expand-contract lint of SQL and Alembic migrations.

Thin: read the options, call ``relgate.migrations.checks.check_paths``, render
the report (a table, ``--json`` — also the ``migrations`` evidence — or
``--format sarif``). Exit 1 when a finding is at error level, 2 when a file
cannot be read, else 0.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from relgate.cli.main import app

if TYPE_CHECKING:
    from relgate.migrations.report import MigrationReport

migrations_app = typer.Typer(
    help="Migration safety: find schema changes the running release cannot survive.",
    no_args_is_help=True,
)
app.add_typer(migrations_app, name="migrations")

_LEVEL_STYLES = {"error": "red", "warning": "yellow", "note": "cyan"}


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"
    SARIF = "sarif"


@migrations_app.command("check")
def check_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="SQL files (e.g. `alembic upgrade --sql` output), Alembic revision .py files, "
            "or folders searched for both; `-` reads SQL from standard input.",
            metavar="PATH",
            show_default=False,
        ),
    ],
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the report as JSON (same as --format json).")
    ] = False,
    output_format: Annotated[
        OutputFormat,
        typer.Option(
            "--format",
            help="table for people, json (the `migrations` evidence), or sarif (SARIF 2.1.0 for "
            "code scanning).",
            case_sensitive=False,
        ),
    ] = OutputFormat.TABLE,
    rules: Annotated[
        list[str] | None,
        typer.Option("--rule", help="Check only this rule (repeat it for more).", metavar="RULE"),
    ] = None,
    ignore: Annotated[
        list[str] | None,
        typer.Option("--ignore", help="Do not check this rule (repeat it).", metavar="RULE"),
    ] = None,
    stdin_name: Annotated[
        str,
        typer.Option("--stdin-name", help="The file name findings in `-` (standard input) carry."),
    ] = "stdin.sql",
    docs_url: Annotated[
        str | None,
        typer.Option(
            "--docs-url",
            help="Where docs/migrations.md is published: SARIF helpUri becomes URL#RULE "
            "(default: the PostgreSQL manual page of the statement).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Check migrations for changes the previous release cannot survive or that lock tables.

    PATH…: .sql files (e.g. `alembic upgrade --sql` output), Alembic revision
    .py files, folders searched for both, or `-` for SQL on standard input.
    Reads SQL with PostgreSQL's own parser (pglast) and Alembic revisions'
    upgrade() op.* calls (op.execute SQL included). Each finding
    names the file, line, rule, why it is unsafe and the expand-contract steps
    that make it safe. Suppress one with `-- relgate:ignore RULE reason` (`#`
    in Python) on or above the statement; declare a drop or rename as the
    contract step of an expand release with `-- relgate:contract
    after=VERSION` (the `migrations` gate checks that VERSION is stable where
    the release goes). Exit 1 when a finding is at error level, 2 when a file
    cannot be read or a rule is unknown, else 0.
    """
    from relgate import __version__
    from relgate.cli.output import print_json
    from relgate.migrations.checks import check_paths
    from relgate.migrations.sarif import to_sarif

    report = check_paths(
        paths, only=rules or (), ignore=ignore or (), stdin=_stdin, stdin_name=stdin_name
    )
    chosen = OutputFormat.JSON if json_output else output_format
    if chosen is OutputFormat.JSON:
        print_json(report.model_dump(mode="json"))
    elif chosen is OutputFormat.SARIF:
        print_json(to_sarif(report, tool_version=__version__, docs_url=docs_url))
    else:
        _print_report(report)
    if report.failed:
        raise typer.Exit(1)


def _stdin() -> str:
    import sys

    from relgate.errors import BadInput

    try:
        return sys.stdin.buffer.read().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadInput(f"standard input: not UTF-8 text (byte {exc.start})") from None


@migrations_app.command("rules")
def rules_command(
    json_output: Annotated[bool, typer.Option("--json", help="Print the rules as JSON.")] = False,
) -> None:
    """List the rules: id, level, category and what each finds."""
    from relgate.cli.output import escape, print_json, print_table, table
    from relgate.migrations.rules import RULES

    if json_output:
        print_json(
            [
                {
                    "id": rule.id,
                    "level": rule.level,
                    "category": rule.category,
                    "title": rule.title,
                    "why": rule.why,
                    "safe": list(rule.safe),
                    "reference": rule.reference,
                }
                for rule in RULES.values()
            ]
        )
        return
    print_table(
        table(
            ["rule", "level", "category", "finds"],
            [
                [escape(rule.id), rule.level, rule.category, escape(rule.title)]
                for rule in RULES.values()
            ],
        )
    )


def _print_report(report: MigrationReport) -> None:
    from relgate.cli.output import console, escape, print_table, table

    out = console()
    if report.findings:
        rows = []
        for finding in report.findings:
            style = _LEVEL_STYLES[finding.level]
            message = finding.message
            if finding.contract_after:
                message += f" (contract after {finding.contract_after})"
            rows.append(
                [
                    f"[{style}]{finding.level}[/{style}]",
                    escape(finding.rule),
                    escape(finding.where()),
                    escape(message),
                ]
            )
        print_table(table(["level", "rule", "where", "change"], rows))
        out.print()
        for rule_id in dict.fromkeys(f.rule for f in report.findings):
            first = next(f for f in report.findings if f.rule == rule_id)
            out.print(f"[bold]{escape(rule_id)}[/bold]: {escape(first.why)}")
            for number, step in enumerate(first.safe, 1):
                out.print(f"  {number}. {escape(step)}")
        out.print()
    for finding in report.suppressed:
        out.print(
            f"suppressed: {escape(finding.rule)} at {escape(finding.where())}: "
            f"{escape(finding.reason or '')}"
        )
    out.print(escape(report.summary()))
    if report.failed:
        out.print("[red]failed[/red]: fix the errors above, or suppress one with a reason")
    elif report.count("note"):
        out.print(
            "[green]ok[/green]: the contract changes are safe once the release they name is "
            "stable; the migrations gate checks it"
        )
    else:
        out.print("[green]ok[/green]: no unsafe change")
