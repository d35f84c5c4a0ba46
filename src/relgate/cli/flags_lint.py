"""relgate flags lint PATH…: flag debt in code, the CI step that stops it piling up.

Thin: read the options, the flag definitions (a file or the server) and
relgate.yaml's ``flags.lint``; the work is ``relgate.flags.references`` (find
references) and ``relgate.flags.lifecycle.lint`` (compare them with the
definitions). Exit 1 when an expired flag is still referenced, 2 on bad input.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relgate.cli.flags import flags_app
from relgate.cli.options import TokenOption, UrlOption

if TYPE_CHECKING:
    from relgate.flags.lifecycle import FlagFacts, FlagFinding, LintReport
    from relgate.flags.references import Reference, ReferenceRules

# A person reads the first few places a flag is used; --json lists them all.
_PLACES_SHOWN = 3


def _read_flags_file(path: Path) -> list[FlagFacts]:
    import json

    from relgate.errors import BadInput
    from relgate.flags.lifecycle import flag_facts

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: no such flags file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise BadInput(f"{path}: cannot read the flags file: {reason}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    return flag_facts(document, str(path))


def _fetch_flags(url: str | None, token: str | None) -> list[FlagFacts]:
    from relgate.cli.client import Client
    from relgate.flags.lifecycle import flag_facts

    with Client.from_flags(url, token) as client:
        # archived flags too, so that code still using one is told it is archived
        views = client.get("/api/v1/flags", params={"archived": "true"})
        source = f"{client.url}/api/v1/flags"
    return flag_facts(views, source)


def _rules(config: Path | None) -> ReferenceRules:
    from relgate.flags.references import ReferenceRules
    from relgate.manifest.model import load_manifest

    manifest = (
        load_manifest(config, required=True)
        if config is not None
        else load_manifest(Path("relgate.yaml"))
    )
    settings = manifest.flags.lint
    return ReferenceRules.from_config(
        patterns=settings.patterns, aliases=settings.aliases, exclude=settings.exclude
    )


def _place(reference: Reference) -> dict[str, Any]:
    return {"path": reference.path, "line": reference.line, "column": reference.column}


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _flag_json(flag: FlagFacts) -> dict[str, Any]:
    return {"key": flag.key, "type": flag.type, "owner": flag.owner}


def _finding_json(finding: FlagFinding) -> dict[str, Any]:
    return {
        **_flag_json(finding.flag),
        "created_at": _when(finding.flag.created_at),
        "expires_at": _when(finding.flag.expires_at),
        "reasons": finding.reasons,
        "references": [_place(r) for r in finding.references],
    }


def report_json(report: LintReport) -> dict[str, Any]:
    """Return the lint report as the JSON document `relgate flags lint --json` prints."""
    return {
        "ok": report.ok,
        "files_scanned": report.files_scanned,
        "flags_defined": report.flags_defined,
        "references_found": len(report.references),
        "rolled_out_days": report.rolled_out_threshold_days,
        "expired_in_use": [f.flag.key for f in report.expired_in_use],
        "undefined": [
            {
                "key": key,
                "archived": key in report.archived,
                "references": [_place(r) for r in references],
            }
            for key, references in report.undefined.items()
        ],
        "unreferenced": [_flag_json(flag) for flag in report.unreferenced],
        "expired": [_finding_json(f) for f in report.expired],
        "stale": [_finding_json(f) for f in report.stale],
        "rolled_out": [
            {
                **_finding_json(f),
                "since": _when(f.rolled_out_since),
                "days": f.rolled_out_days,
            }
            for f in report.rolled_out
        ],
        "references": [{"key": r.key, **_place(r)} for r in report.references],
    }


def _places(references: list[Reference], *, every: bool = False) -> str:
    shown = references if every else references[:_PLACES_SHOWN]
    text = ", ".join(r.location for r in shown)
    hidden = len(references) - len(shown)
    if hidden:
        text += f" (+{hidden} more)"
    return text or "-"


def _print_report(report: LintReport) -> None:
    from relgate.cli.output import console, escape, print_table, table

    out = console()
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "Expired flags still referenced (remove them from the code)",
            ["flag", "expired", "where"],
            [
                [f.flag.key, f.reasons[0].removeprefix("expired on "), r.location]
                for f in report.expired_in_use
                for r in f.references
            ],
        ),
        (
            "Used in code but not defined",
            ["flag", "where"],
            [
                [key + (" (archived)" if key in report.archived else ""), r.location]
                for key, references in report.undefined.items()
                for r in references
            ],
        ),
        (
            "Expired, no longer referenced (archive them)",
            ["flag", "expired", "owner"],
            [
                [f.flag.key, f.reasons[0].removeprefix("expired on "), f.flag.owner or "-"]
                for f in report.expired
                if not f.references
            ],
        ),
        (
            "Fully rolled out (time to remove the flag)",
            ["flag", "why", "where"],
            [[f.flag.key, f.reasons[0], _places(f.references)] for f in report.rolled_out],
        ),
        (
            "Potentially stale",
            ["flag", "why", "where"],
            [[f.flag.key, "; ".join(f.reasons), _places(f.references)] for f in report.stale],
        ),
        (
            "Defined but not referenced",
            ["flag", "type", "owner"],
            [[flag.key, flag.type, flag.owner or "-"] for flag in report.unreferenced],
        ),
    ]
    for title, columns, rows in sections:
        if not rows:
            continue
        out.print(f"[bold]{escape(title)}[/bold]")
        print_table(table(columns, [[escape(cell) for cell in row] for row in rows]))
        out.print()
    summary = (
        f"{_count(report.files_scanned, 'file')}, "
        f"{_count(len(report.references), 'flag reference')}, "
        f"{_count(report.flags_defined, 'flag')} defined: {len(report.undefined)} undefined, "
        f"{len(report.unreferenced)} unreferenced, {len(report.expired)} expired, "
        f"{len(report.rolled_out)} fully rolled out, {len(report.stale)} stale"
    )
    out.print(escape(summary))
    if report.ok:
        out.print("[green]ok[/green]: no expired flag is referenced")
    else:
        keys = ", ".join(f.flag.key for f in report.expired_in_use)
        out.print(f"[red]failed[/red]: expired flags still referenced: {escape(keys)}")


@flags_app.command("lint")
def lint_command(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="One or more files and folders to search for flag references "
            "(folders recursively).",
            metavar="PATH...",
            show_default=False,
        ),
    ],
    flags_file: Annotated[
        Path | None,
        typer.Option(
            "--flags-file",
            help="Flag definitions: the JSON of GET /api/v1/flags, an Unleash export or an "
            "Unleash client features payload. Without it the server is asked.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    rolled_out_days: Annotated[
        int,
        typer.Option(
            "--rolled-out-days",
            min=0,
            help="Report flags on for everyone in every environment for more than this many days.",
        ),
    ] = 7,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="relgate.yaml to read flags.lint from (patterns, aliases, exclude); without "
            "it ./relgate.yaml is used when it exists.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Find flag references in code and report flag debt.

    PATH...: one or more files and folders to search (folders recursively,
    minus flags.lint.exclude), e.g. `relgate flags lint src tests app.py`.

    Reports flags used in code but not defined, defined but no longer
    referenced, expired, potentially stale, and on for everyone everywhere for
    more than --rolled-out-days days. Exit 1 when an expired flag is still
    referenced, 2 on bad input, else 0.
    """
    from relgate.cli.output import print_json
    from relgate.clock import SystemClock
    from relgate.flags.lifecycle import lint
    from relgate.flags.references import find_references

    rules = _rules(config)
    scan = find_references(paths, rules)
    flags = _read_flags_file(flags_file) if flags_file is not None else _fetch_flags(url, token)
    report = lint(flags, scan, SystemClock().now(), rolled_out_days=rolled_out_days)
    if json_output:
        print_json(report_json(report))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")
