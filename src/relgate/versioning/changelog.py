"""Markdown changelog: render one release's section, and put it at the top of a file.

Only user-facing changes are listed, in the sections of ``SECTIONS``; a
breaking change appears under "Breaking changes" with its note and also in
its type's section. The text of the file is given and returned; reading and
writing CHANGELOG.md is the caller's job.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from relgate.errors import Conflict
from relgate.versioning.commits import CommitEntry, ConventionalCommit
from relgate.versioning.semver import Version

BREAKING_SECTION = "Breaking changes"
# Commit type -> section title, in the order the sections are written.
TYPE_SECTIONS: dict[str, str] = {
    "feat": "Features",
    "fix": "Bug fixes",
    "perf": "Performance",
    "revert": "Reverts",
}
SECTIONS: tuple[str, ...] = (BREAKING_SECTION, *TYPE_SECTIONS.values())

TITLE = "# Changelog"
_RELEASE_HEADING = re.compile(r"^## \[?v?(?P<version>[^\]\s()]+)", re.MULTILINE)


def _repository_base(url: str) -> str:
    url = url.strip().rstrip("/")
    return url.removesuffix(".git")


def _heading(
    version: Version,
    date: datetime.date | None,
    base: str | None,
    tag: str | None,
    previous_tag: str | None,
) -> str:
    title = str(version)
    if base and tag and previous_tag:
        title = f"[{title}]({base}/compare/{previous_tag}...{tag})"
    if date is not None:
        title += f" - {date.isoformat()}"
    return f"## {title}"


def _item(
    entry: CommitEntry, commit: ConventionalCommit | None, text: str, base: str | None
) -> str:
    short = entry.sha[:7]
    ref = f"[{short}]({base}/commit/{entry.sha})" if base else short
    scope = f"**{commit.scope}:** " if commit is not None and commit.scope else ""
    # Multi-line breaking notes stay inside their list item.
    text = "\n  ".join(line.rstrip() for line in text.strip().split("\n"))
    return f"- {scope}{text} ({ref})"


def render_section(
    version: Version,
    entries: Sequence[CommitEntry],
    *,
    date: datetime.date | None = None,
    repository_url: str | None = None,
    tag: str | None = None,
    previous_tag: str | None = None,
) -> str:
    """Return the Markdown section of one release, ending with a newline.

    The heading links ``<repo>/compare/<previous_tag>...<tag>`` when the
    repository URL and both tags are given; each item ends with the short SHA,
    linked to ``<repo>/commit/<sha>`` when the URL is given. Entries that are
    not conventional (except their breaking-change notes), or whose type has no
    section, are left out. Never raises.
    """
    base = _repository_base(repository_url) if repository_url else None
    sections: dict[str, list[str]] = {title: [] for title in SECTIONS}
    for entry in entries:
        commit = entry.conventional
        if commit is None:
            # not conventional, but breaking: its notes still belong under the heading
            for note in entry.breaking_notes:
                sections[BREAKING_SECTION].append(_item(entry, None, note, base))
            continue
        if commit.breaking:
            for note in commit.breaking_notes or (commit.description,):
                sections[BREAKING_SECTION].append(_item(entry, commit, note, base))
        title = TYPE_SECTIONS.get(commit.type)
        if title is not None:
            sections[title].append(_item(entry, commit, commit.description, base))
    parts = [_heading(version, date, base, tag, previous_tag)]
    for title in SECTIONS:
        if sections[title]:
            parts.append(f"### {title}\n\n" + "\n".join(sections[title]))
    return "\n\n".join(parts) + "\n"


def _version_of_heading(text: str) -> str | None:
    match = _RELEASE_HEADING.search(text)
    return match["version"] if match else None


def prepend(existing: str, section: str) -> str:
    """Return ``existing`` changelog text with ``section`` put before the older releases.

    The section goes after a leading ``# Changelog`` title (and any text under
    it, including a Keep a Changelog ``## [Unreleased]`` section), which is
    added when the file is empty. Raises Conflict when the file
    already has a section for the section's version, so adding twice is refused.
    """
    version = _version_of_heading(section)
    if version is not None:
        for match in _RELEASE_HEADING.finditer(existing):
            if match["version"] == version:
                raise Conflict(f"the changelog already has a section for {version}")
    section = section.strip("\n") + "\n"
    if not existing.strip():
        return f"{TITLE}\n\n{section}"
    first_release = next(
        (m for m in _RELEASE_HEADING.finditer(existing) if m["version"].lower() != "unreleased"),
        None,
    )
    if first_release is not None:
        head = existing[: first_release.start()].rstrip("\n")
        tail = existing[first_release.start() :]
        return (f"{head}\n\n" if head else "") + f"{section}\n{tail}"
    return existing.rstrip("\n") + f"\n\n{section}"
