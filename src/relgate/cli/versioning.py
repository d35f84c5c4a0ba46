"""relgate version / relgate changelog: versions and changelogs from Conventional Commits.

Only Typer is imported at module level; the service, Rich and json are
imported inside the commands so that ``relgate version --json`` starts fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relgate.cli.main import app

if TYPE_CHECKING:
    import datetime

    from relgate.manifest.model import Manifest
    from relgate.versioning.commits import CommitEntry
    from relgate.versioning.service import TagResult, VersionPlan

# What CI systems call the branch of a detached checkout, most specific first:
# GITHUB_HEAD_REF is the source branch of a pull request, GITHUB_REF_NAME the
# pushed branch; CI_COMMIT_BRANCH / CI_COMMIT_REF_NAME are GitLab's.
CI_BRANCH_VARIABLES = (
    "GITHUB_HEAD_REF",
    "GITHUB_REF_NAME",
    "CI_COMMIT_BRANCH",
    "CI_COMMIT_REF_NAME",
)

# A person reads the first few breaking changes and warnings; --json lists them all.
_WARNINGS_SHOWN = 20

RepoOption = Annotated[
    Path,
    typer.Option(
        "--repo",
        help="The git repository (any folder inside it). relgate.yaml is read from here.",
        show_default="current folder",
    ),
]
ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="relgate.yaml to read; without it <repo>/relgate.yaml is used when it exists, "
        "else the defaults.",
        show_default=False,
    ),
]
BranchOption = Annotated[
    str | None,
    typer.Option(
        "--branch",
        help="The branch to release from. Default: the checked-out branch; on a detached HEAD "
        "(CI), $GITHUB_HEAD_REF, $GITHUB_REF_NAME, $CI_COMMIT_BRANCH or $CI_COMMIT_REF_NAME.",
        show_default=False,
    ),
]


def _ci_branch() -> str | None:
    import os

    for name in CI_BRANCH_VARIABLES:
        value = os.environ.get(name, "").strip()
        if value:
            return value
    return None


def _manifest(repo: Path, config: Path | None) -> Manifest:
    from relgate.manifest.model import load_manifest

    if config is not None:
        return load_manifest(config, required=True)
    return load_manifest(repo / "relgate.yaml")


def _plan(repo: Path, config: Path | None, branch: str | None, strict: bool) -> VersionPlan:
    import gc

    from relgate.versioning.service import plan_version

    # A short-lived process that builds tens of thousands of small objects and
    # frees none: the cyclic collector would only rescan them, again and again.
    gc.disable()

    return plan_version(
        repo, _manifest(repo, config), branch=branch, strict=strict, ci_branch=_ci_branch()
    )


def _date(text: str | None) -> datetime.date:
    import datetime

    from relgate.errors import BadInput

    if text is None:
        from relgate.clock import SystemClock

        return SystemClock().now().date()
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise BadInput(f"--date {text!r} is not a date in the form YYYY-MM-DD") from None


def _commit_json(entry: CommitEntry) -> dict[str, Any]:
    commit = entry.conventional
    return {
        "sha": entry.sha,
        "subject": entry.subject,
        "type": commit.type if commit else None,
        "scope": commit.scope if commit else None,
        "breaking": entry.breaking,
        "description": commit.description if commit else None,
        "body": commit.body if commit else None,
        "footers": [{"token": f.token, "value": f.value} for f in commit.footers] if commit else [],
        "conventional": commit is not None,
        "error": entry.error,
        "from_squash": entry.from_squash,
        "breaking_notes": list(entry.notes),
    }


def plan_json(plan: VersionPlan, released: TagResult | None = None) -> dict[str, Any]:
    """Return the ``relgate version --json`` document of ``plan`` (and of the tag made)."""
    return {
        "current": str(plan.current) if plan.current else None,
        "current_tag": plan.current_tag,
        "base": None
        if plan.base is None
        else {
            "tag": plan.base.name,
            "sha": plan.base.sha,
            "version": str(plan.base.version),
            "unprefixed": plan.base_unprefixed,
        },
        "next": str(plan.next) if plan.next else None,
        "next_tag": plan.next_tag,
        "bump": plan.bump.label,
        "branch": plan.branch,
        "channel": plan.channel,
        "line": str(plan.line) if plan.line else None,
        "nothing_to_release": plan.nothing_to_release,
        "decisive": plan.decisive.sha if plan.decisive else None,
        "commits": [_commit_json(entry) for entry in plan.entries],
        "breaking_changes": [
            {
                "sha": entry.sha,
                "scope": entry.conventional.scope if entry.conventional else None,
                "description": entry.conventional.description
                if entry.conventional
                else entry.subject,
                "notes": list(entry.conventional.breaking_notes)
                if entry.conventional
                else list(entry.breaking_notes),
                "conventional": entry.conventional is not None,
            }
            for entry in plan.breaking
        ],
        "non_conventional": [
            {"sha": entry.sha, "subject": entry.subject, "error": entry.error}
            for entry in plan.non_conventional
        ],
        "tag": None
        if released is None
        else {
            "name": released.tag,
            "commit": released.commit,
            "files": list(released.files),
            "pushed": released.pushed,
        },
    }


def _print_plan(plan: VersionPlan) -> None:
    from collections import Counter

    from relgate.cli.output import console, escape, table, warn

    out = console()
    where = f"branch {escape(plan.branch)}" if plan.branch else "detached HEAD"
    if plan.channel:
        where += f", channel {escape(plan.channel)}"
    if plan.line:
        where += f", maintenance line {plan.line}"
    current = escape(plan.current_tag) if plan.current_tag else "no release yet"
    if plan.nothing_to_release:
        out.print(f"Nothing to release: no commit since {current} asks for a release ({where}).")
    else:
        why = f"{plan.bump.label} bump" if plan.current else "first release"
        out.print(
            f"[bold]{current}[/bold] → [bold green]{escape(plan.next_tag or '')}[/bold green]"
            f"  ({why}, {where})"
        )
    if plan.base is not None:
        taken = f"base: tag {escape(plan.base.name)} at {plan.base.sha[:7]}"
        if plan.base_unprefixed:
            taken += (
                f" (no 'v': taken as tag_format {escape(plan.manifest.versioning.tag_format)}"
                ", versioning.accept_unprefixed_tags)"
            )
        out.print(taken, style="dim")
    if plan.decisive is not None:
        out.print(
            f"decided by {plan.decisive.sha[:7]} {escape(plan.decisive.subject)}", style="dim"
        )
    counts = Counter(
        entry.conventional.type if entry.conventional else "(not conventional)"
        for entry in plan.entries
    )
    if counts:
        since = escape(plan.current_tag) if plan.current_tag else "the first commit"
        out.print(f"{len(plan.entries)} change(s) since {since}:")
        out.print(table(["type", "commits"], counts.most_common()))
    for entry in plan.breaking[:_WARNINGS_SHOWN]:
        for note in entry.notes:
            out.print(f"[bold red]BREAKING[/bold red] {entry.sha[:7]} {escape(note)}")
    for entry in plan.non_conventional[:_WARNINGS_SHOWN]:
        warn(
            f"{entry.sha[:7]} {escape(entry.subject)} is not a Conventional Commit: "
            f"{escape(entry.error or '')}"
        )
    hidden = len(plan.non_conventional) - _WARNINGS_SHOWN
    if hidden > 0:
        warn(f"… and {hidden} more commits that are not Conventional Commits (see --json)")


@app.command("version")
def version(
    *,
    json_output: Annotated[
        bool, typer.Option("--json", help="Print the plan as JSON on stdout, for machines.")
    ] = False,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Fail (exit 2) when any commit since the last release is not a "
            "Conventional Commit, naming each one.",
        ),
    ] = False,
    tag: Annotated[
        bool,
        typer.Option(
            "--tag",
            help="Release: write the version into versioning.version_files, commit them as "
            "'chore(release): <tag>', and create the annotated tag (message: the changelog).",
        ),
    ] = False,
    push: Annotated[
        bool,
        typer.Option(
            "--push", help="With --tag: push the tag (and the release commit) to versioning.remote."
        ),
    ] = False,
    calibrate: Annotated[
        bool,
        typer.Option(
            "--calibrate",
            help="Replay this repository's release tags (each from the release tag before "
            "it), report how often the current rules give the released version, list the "
            "disagreements and propose the versioning.types / squash rules that match best.",
        ),
    ] = False,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="With --calibrate: put the proposed rules into relgate.yaml's versioning "
            "section (the rest of the file is kept as it is).",
        ),
    ] = False,
    branch: BranchOption = None,
    repo: RepoOption = Path(),
    config: ConfigOption = None,
) -> None:
    """Compute the next version from the Conventional Commits since the last release tag.

    fix -> patch, feat -> minor, '!' or a BREAKING CHANGE footer -> major (minor
    below 1.0.0). On a channel branch (next, beta, alpha) the version is a
    prerelease (1.5.0-rc.2); on a maintenance branch (1.x, 1.2.x) it stays in
    that line. Exit codes: 0 ok (also when there is nothing to release),
    1 conflict or git failure, 2 bad input (invalid relgate.yaml, shallow
    clone, not a git repository, --strict violations, --calibrate without two
    release tags).
    """
    from relgate.errors import BadInput

    if push and not tag:
        raise BadInput("--push needs --tag: relgate pushes the tag it creates")
    if write and not calibrate:
        raise BadInput("--write needs --calibrate: it writes the calibrated rules")
    if calibrate:
        if tag or strict:
            raise BadInput("--calibrate replays the history: it does not take --tag or --strict")
        from relgate.cli.calibrate import run_calibration

        run_calibration(
            repo,
            _manifest(repo, config),
            config if config is not None else repo / "relgate.yaml",
            write=write,
            json_output=json_output,
        )
        return
    plan = _plan(repo, config, branch, strict)
    released: TagResult | None = None
    if tag and not plan.nothing_to_release:
        from relgate.versioning.service import tag_release

        released = tag_release(plan, date=_date(None), push=push)
    if json_output:
        from relgate.cli.output import print_json

        print_json(plan_json(plan, released))
        return
    _print_plan(plan)
    if released is not None:
        from relgate.cli.output import console

        done = f"tagged {released.tag}"
        if released.commit:
            done += f" on release commit {released.commit[:7]} ({', '.join(released.files)})"
        if released.pushed:
            done += f", pushed to {plan.manifest.versioning.remote}"
        console().print(done)


@app.command("changelog")
def changelog(
    *,
    write: Annotated[
        bool,
        typer.Option(
            "--write",
            help="Prepend the section to versioning.changelog_file (CHANGELOG.md) instead of "
            "only printing it.",
        ),
    ] = False,
    date: Annotated[
        str | None,
        typer.Option(
            "--date", help="Date of the release heading, YYYY-MM-DD.", show_default="today (UTC)"
        ),
    ] = None,
    branch: BranchOption = None,
    repo: RepoOption = Path(),
    config: ConfigOption = None,
) -> None:
    """Print the Markdown changelog section of the next version.

    Sections: Breaking changes, Features, Bug fixes, Performance, Reverts.
    Prints nothing and exits 0 when there is nothing to release.
    """
    import sys

    from relgate.versioning.service import render_changelog, write_changelog

    plan = _plan(repo, config, branch, strict=False)
    when = _date(date)
    if plan.nothing_to_release:
        print("nothing to release: no changelog section", file=sys.stderr)
        return
    if write:
        path = write_changelog(plan, date=when)
        print(f"wrote the {plan.next} section to {path}", file=sys.stderr)
        return
    section = render_changelog(plan, date=when)
    sys.stdout.write(section if section.endswith("\n") else section + "\n")


@app.command("about", hidden=True)
def about() -> None:
    """Print relgate's own version."""
    from relgate import __version__

    print(__version__)
