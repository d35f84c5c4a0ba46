"""Use cases of the first pillar: plan the next version, write the changelog, tag the release.

This is where the git adapter meets the pure core (commits, bump rules,
changelog). The CLI and the API call these functions; they print nothing and
read no environment: a CI branch name comes in as a parameter.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from relgate.errors import BadInput, Conflict, NonConventionalCommit
from relgate.manifest.model import Manifest
from relgate.versioning.bump import (
    BumpKind,
    BumpRules,
    Line,
    line_from_branch,
    next_version,
)
from relgate.versioning.commits import CommitEntry, RawCommit, SquashOptions, read_changes
from relgate.versioning.config import VersioningConfig
from relgate.versioning.gitlog import GitRepository, LogSince, ReleaseTag, TagFormat
from relgate.versioning.semver import Version

# How many offending commits a --strict error names before it stops listing.
_LISTED = 50


@dataclass(frozen=True)
class VersionPlan:
    """What releasing HEAD now would produce, and why."""

    root: Path
    head: str | None
    branch: str | None
    channel: str | None
    line: Line | None
    current: Version | None
    current_tag: str | None
    next: Version | None
    next_tag: str | None
    bump: BumpKind
    decisive: CommitEntry | None
    entries: tuple[CommitEntry, ...]
    non_conventional: tuple[CommitEntry, ...]
    breaking: tuple[CommitEntry, ...]
    nothing_to_release: bool
    manifest: Manifest
    # the release tag taken as the base (None: no release yet), and whether it was
    # only accepted without tag_format's "v" (8.0.1 under "v{version}")
    base: ReleaseTag | None = None
    base_unprefixed: bool = False


@dataclass(frozen=True)
class TagResult:
    """What ``tag_release`` did."""

    tag: str
    version: Version
    commit: str | None  # the release commit, when version files changed
    files: tuple[str, ...]  # what the release commit holds: changed version files, changelog
    pushed: bool


def tag_format_of(manifest: Manifest) -> TagFormat:
    """Return the release tag format of relgate.yaml (``versioning.tag_format``)."""
    config = manifest.versioning
    return TagFormat(
        config.tag_format, manifest.service, accept_unprefixed=config.accept_unprefixed_tags
    )


def squash_options(config: VersioningConfig) -> SquashOptions:
    """Return the squash-merge reading options of a ``versioning`` section."""
    return SquashOptions(
        bullets=config.squash.bullets, breaking_in_bullets=config.squash.breaking_in_bullets
    )


def reader(squash: SquashOptions) -> Callable[[RawCommit], list[CommitEntry]]:
    """Return ``read_changes`` with the given squash options."""
    if squash == SquashOptions():
        return read_changes
    return lambda raw: read_changes(raw, squash)


def _last_release(
    git: GitRepository,
    tag_format: TagFormat,
    finals: Sequence[ReleaseTag],
    path: str | None,
    read: Callable[[RawCommit], list[CommitEntry]],
) -> tuple[ReleaseTag | None, LogSince[CommitEntry]]:
    """Return the highest final release tag reachable from HEAD and the commits since it."""
    ordered = sorted(finals, key=lambda tag: tag.version.precedence_key(), reverse=True)
    if ordered:
        # Usually the highest tag is reachable: one walk lists the commits and proves it.
        log = git.log_since(ordered[0].sha, read, path=path)
        if log.reached_base:
            return ordered[0], log
        reachable = {tag.name for tag in git.release_tags(tag_format, reachable=True)}
        for tag in ordered[1:]:
            if tag.name in reachable:
                return tag, git.log_since(tag.sha, read, path=path)
    return None, git.log_since(None, read, path=path)


def plan_version(
    repo: Path,
    manifest: Manifest,
    *,
    branch: str | None = None,
    strict: bool = False,
    ci_branch: str | None = None,
) -> VersionPlan:
    """Return the plan for releasing HEAD of the repository containing ``repo``.

    The branch is ``branch`` when given, else the checked-out branch, else
    ``ci_branch`` (what the CI system says, for a detached HEAD). Raises
    NotAGitRepository, ShallowClone when the history does not reach the last
    release tag, NonConventionalCommit with ``strict`` when any commit since
    the last release is not conventional (naming each short SHA and subject),
    MaintenanceLineExceeded when a maintenance branch needs a larger bump than
    its line allows, and BadInput when the tag format needs a service name.
    """
    config = manifest.versioning
    git = GitRepository.open(repo)
    tag_format = tag_format_of(manifest)
    branch_name = branch or git.branch or ci_branch or None
    channel = config.channels.get(branch_name) if branch_name else None
    line = line_from_branch(branch_name) if branch_name and channel is None else None
    rules = BumpRules.from_config(config)

    tags = git.release_tags(tag_format)
    finals = [
        t
        for t in tags
        if not t.version.is_prerelease and (line is None or line.contains(t.version))
    ]
    base, log = _last_release(git, tag_format, finals, config.path, reader(squash_options(config)))
    base_unprefixed = base is not None and tag_format.is_unprefixed(base.name)
    git.check_history_reaches(base, log.walked)

    existing: tuple[Version, ...] = ()
    already_released = git.head is None
    if channel is not None:
        existing = tuple(t.version for t in tags)
        channel_ids = tuple(channel.split("."))
        already_released = already_released or any(
            t.sha == git.head
            and t.version.prerelease[: len(channel_ids)] == channel_ids
            and (base is None or t.version > base.version)
            for t in tags
        )

    entries: list[CommitEntry] = [] if already_released else log.changes
    non_conventional = tuple(e for e in entries if e.conventional is None)
    if strict and non_conventional:
        count = len(non_conventional)
        listed = "; ".join(f"{e.sha[:7]} {e.subject!r}" for e in non_conventional[:_LISTED])
        if count > _LISTED:
            listed += f"; and {count - _LISTED} more"
        since = base.name if base else "the first commit"
        raise NonConventionalCommit(
            f"{count} commit(s) since {since} do not follow Conventional Commits "
            f"('type(scope): description'): {listed}"
        )
    breaking = tuple(e for e in entries if e.breaking)
    current = base.version if base else None
    if already_released:
        return VersionPlan(
            root=git.root, head=git.head, branch=branch_name, channel=channel, line=line,
            current=current, current_tag=base.name if base else None, next=None, next_tag=None,
            bump=BumpKind.NONE, decisive=None, entries=(), non_conventional=(), breaking=(),
            nothing_to_release=True, manifest=manifest, base=base,
            base_unprefixed=base_unprefixed,
        )  # fmt: skip
    planned = next_version(current, entries, rules, channel=channel, existing=existing, line=line)
    return VersionPlan(
        root=git.root,
        head=git.head,
        branch=branch_name,
        channel=channel,
        line=line,
        current=current,
        current_tag=base.name if base else None,
        next=planned.next,
        next_tag=tag_format.format(planned.next) if planned.next is not None else None,
        bump=planned.bump,
        decisive=planned.decisive,
        entries=tuple(entries),
        non_conventional=non_conventional,
        breaking=breaking,
        nothing_to_release=planned.next is None,
        manifest=manifest,
        base=base,
        base_unprefixed=base_unprefixed,
    )


def render_changelog(plan: VersionPlan, *, date: datetime.date | None = None) -> str:
    """Return the Markdown changelog section of the planned version ("" when nothing to release)."""
    from relgate.versioning.changelog import render_section

    if plan.next is None:
        return ""
    return render_section(
        plan.next,
        list(plan.entries),
        date=date,
        repository_url=plan.manifest.repository_url,
        tag=plan.next_tag,
        previous_tag=plan.current_tag,
    )


def changelog_path(plan: VersionPlan) -> Path:
    """Return where the changelog file lives (``versioning.changelog_file`` from the root)."""
    return plan.root / plan.manifest.versioning.changelog_file


def write_changelog(plan: VersionPlan, *, date: datetime.date) -> Path | None:
    """Prepend the planned version's section to the changelog file; return its path.

    Returns None when there is nothing to release. Raises Conflict when the
    file already has a section for this version.
    """
    from relgate.versioning.changelog import prepend

    section = render_changelog(plan, date=date)
    if not section:
        return None
    path = changelog_path(plan)
    existing = path.read_text(encoding="utf-8") if path.exists() else ""
    try:
        updated = prepend(existing, section)
    except Conflict as exc:
        raise Conflict(f"{path}: {exc.message}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
    return path


def tag_release(plan: VersionPlan, *, date: datetime.date, push: bool = False) -> TagResult | None:
    """Write the version files, commit them, create the annotated tag, push when asked.

    The release commit is ``chore(release): <tag>`` and holds the changed version
    files, plus the changelog file when it has uncommitted changes that include
    this version's section; the tag's message is the changelog section. Returns
    None when there is nothing to release. Raises BadInput when the branch is
    unknown or is not a release branch, channel or maintenance line; Conflict
    when a version file has uncommitted changes, HEAD moved since the plan, or
    the tag exists; InvalidConfig when a version file cannot take the version;
    ExternalError when git fails (e.g. the push).
    """
    from relgate.versioning.files import updated_text

    if plan.next is None or plan.next_tag is None:
        return None
    _check_release_branch(plan)
    git = GitRepository.open(plan.root)
    if git.head != plan.head:
        raise Conflict("HEAD moved since the version was planned; run relgate version again")
    files = list(plan.manifest.versioning.version_files)
    dirty = git.uncommitted(files)
    if dirty:
        raise Conflict(
            f"uncommitted changes to {', '.join(dirty)}: commit or discard them before "
            "relgate writes the version into them"
        )
    # every file is checked before any is written, so a bad one leaves none half-done
    updates = {name: updated_text(plan.root / name, str(plan.next)) for name in files}
    for name, text in updates.items():
        if text is not None:
            (plan.root / name).write_text(text, encoding="utf-8")
    changed = tuple(name for name, text in updates.items() if text is not None)
    to_commit = list(changed)
    # `relgate changelog --write` just before `relgate version --tag` is the usual
    # pipeline: its section belongs in the release commit, other edits do not.
    changelog_file = plan.manifest.versioning.changelog_file
    if changelog_file not in files and git.uncommitted([changelog_file], untracked=True):
        text = changelog_path(plan).read_text(encoding="utf-8")
        if _has_section(text, plan.next):
            to_commit.append(changelog_file)
    commit = git.commit_paths(to_commit, f"chore(release): {plan.next_tag}\n")
    git.create_tag(plan.next_tag, render_changelog(plan, date=date) or plan.next_tag)
    if push:
        refs = [f"refs/tags/{plan.next_tag}"]
        if commit is not None and plan.branch:
            refs.insert(0, f"HEAD:refs/heads/{plan.branch}")
        git.push(plan.manifest.versioning.remote, refs)
    return TagResult(
        tag=plan.next_tag,
        version=plan.next,
        commit=commit,
        files=tuple(to_commit) if commit else (),
        pushed=push,
    )


def _check_release_branch(plan: VersionPlan) -> None:
    """Refuse to tag from a branch that is no release branch, channel or maintenance line."""
    config = plan.manifest.versioning
    if plan.branch is None:
        raise BadInput(
            "HEAD is detached and no branch is known, so relgate cannot tell which release "
            "this is; pass --branch (or set GITHUB_REF_NAME / CI_COMMIT_BRANCH)"
        )
    if plan.channel is None and plan.line is None and plan.branch not in config.release_branches:
        raise BadInput(
            f"branch {plan.branch!r} is not a release branch "
            f"(versioning.release_branches: {', '.join(config.release_branches)}), "
            "a prerelease channel (versioning.channels) or a maintenance line (1.x); "
            "relgate does not tag releases from it"
        )


def _has_section(changelog: str, version: Version) -> bool:
    heading = re.compile(rf"^## \[?v?{re.escape(str(version))}(?![0-9A-Za-z.+-])", re.MULTILINE)
    return heading.search(changelog) is not None
