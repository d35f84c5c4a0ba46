"""What changes when a candidate replaces the release running in an environment (pure).

The server has no git repository: a release carries the changelog text and the
commit CI registered with it. ``parse_changelog`` reads that Markdown the way
``relgate changelog`` writes it (``versioning.changelog.render_section``: a
``## version`` heading, ``### Section`` headings, one ``- item (sha)`` per
commit); ``what_changes`` gathers the entries of the releases in the version
range (running, candidate] into the same sections, breaking changes first, then
features, fixes and the others. A changelog that is not in that shape is kept
as its raw text, so nothing a release says is lost.

relgate computes a changelog since the last final release, so prereleases and
the final release after them repeat entries: an entry is listed once, under the
oldest release in the range that carries it, and an entry the running release
already carried is not a change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from relgate.errors import BadInput
from relgate.versioning.changelog import BREAKING_SECTION, TYPE_SECTIONS
from relgate.versioning.semver import Version

FEATURES = TYPE_SECTIONS["feat"]
FIXES = TYPE_SECTIONS["fix"]
# the order sections are shown in; any other section follows, in the order first seen
LEADING_SECTIONS: tuple[str, ...] = (BREAKING_SECTION, FEATURES, FIXES)
# more releases than this in one range are counted, not listed
MAX_RELEASES = 200

_VERSION_HEADING = re.compile(r"^##\s+\[?v?(?P<version>[^\]\s()]+)")
_SECTION_HEADING = re.compile(r"^###\s+(?P<title>\S.*?)\s*#*\s*\Z")
_TITLE = re.compile(r"^#\s+\S")
_ITEM = re.compile(r"^[-*]\s+(?P<text>\S.*)\Z")
_SCOPE = re.compile(r"^\*\*(?P<scope>[^*\n]{1,100}):\*\*\s+")
# "(abc1234)" or "([abc1234](https://host/repo/commit/<sha>))" at the end of an item
_REF = re.compile(
    r"\s*\((?:\[(?P<linked>[0-9a-f]{7,40})\]\((?P<url>[^()\s]+)\)|(?P<sha>[0-9a-f]{7,40}))\)\s*$"
)


class Direction(StrEnum):
    FIRST = "first"  # nothing runs in the environment yet
    UPGRADE = "upgrade"  # the candidate is newer than what runs
    ROLLBACK = "rollback"  # the candidate is older: the changes in between are taken out
    SAME = "same"  # the candidate is what runs (a redeploy)


@dataclass(frozen=True)
class ChangeItem:
    """One entry of a changelog section, as relgate renders it."""

    text: str  # the description (or breaking note), without scope and commit
    scope: str | None = None
    commit: str | None = None  # the short sha the item ends with
    commit_url: str | None = None  # its link, only an http(s) one
    version: str = ""  # the release that brought it


@dataclass(frozen=True)
class ChangeSection:
    title: str
    items: tuple[ChangeItem, ...]

    @property
    def breaking(self) -> bool:
        return self.title == BREAKING_SECTION


@dataclass(frozen=True)
class ParsedChangelog:
    sections: tuple[ChangeSection, ...]

    @property
    def empty(self) -> bool:
        return not any(s.items for s in self.sections)


@dataclass(frozen=True)
class ReleaseNote:
    """A release in the range: its changelog parsed, or its raw text when it cannot be."""

    version: str
    commit: str | None
    created_at: datetime | None
    changelog: str | None
    parsed: bool  # False: shown as raw text (or it has none)

    @property
    def missing(self) -> bool:
        return not (self.changelog or "").strip()


@dataclass(frozen=True)
class WhatChanges:
    """The answer of the promote view: what replacing ``running`` by ``candidate`` changes."""

    candidate: str
    running: str | None
    direction: Direction
    # the releases of the range, oldest first (for a rollback: those taken out)
    releases: tuple[ReleaseNote, ...]
    # their entries grouped, breaking changes first
    sections: tuple[ChangeSection, ...]
    # releases whose changelog is shown raw: not in relgate's Markdown shape
    unparsed: tuple[ReleaseNote, ...] = ()
    # releases of the range not listed (more than MAX_RELEASES)
    more: int = 0
    # one sentence saying which way the environment moves
    summary: str = ""

    @property
    def breaking(self) -> bool:
        return any(s.breaking and s.items for s in self.sections)


def _summary(direction: Direction, candidate: str, running: str | None, count: int) -> str:
    plural = "release" if count == 1 else "releases"
    if direction is Direction.FIRST:
        return f"First deployment: nothing runs here yet; {candidate} brings its own changes."
    if direction is Direction.SAME:
        return f"{candidate} already runs here: a redeploy changes nothing."
    if direction is Direction.ROLLBACK:
        return (
            f"{candidate} is older than the running {running}: this goes back "
            f"and takes out the changes of {count} {plural}."
        )
    return f"From {running} to {candidate}: {count} {plural}."


def _item(text: str, version: str) -> ChangeItem:
    scope = None
    found = _SCOPE.match(text)
    if found:
        scope = found["scope"].strip()
        text = text[found.end() :]
    commit = url = None
    ref = _REF.search(text)
    if ref:
        commit = ref["linked"] or ref["sha"]
        if ref["url"] and ref["url"].startswith(("https://", "http://")):
            url = ref["url"]
        text = text[: ref.start()]
    return ChangeItem(
        text=text.strip(), scope=scope, commit=commit, commit_url=url, version=version
    )


def _own_part(lines: list[str], version: str | None) -> list[str]:
    """The lines of ``version``'s ``##`` section when the text holds several releases."""
    starts = [
        (i, m["version"].lstrip("v"))
        for i, line in enumerate(lines)
        if (m := _VERSION_HEADING.match(line))
    ]
    if version is None or len(starts) < 2:
        return lines
    for n, (start, heading) in enumerate(starts):
        if _same_version(heading, version):
            end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
            return lines[start:end]
    return lines


def _same_version(a: str, b: str) -> bool:
    try:
        return Version.parse(a).same_precedence(Version.parse(b))
    except BadInput:
        return a == b


def parse_changelog(text: str | None, version: str | None = None) -> ParsedChangelog | None:
    """Read a changelog as ``relgate changelog`` renders it; None when it is not in that shape.

    The shape: an optional ``# Changelog`` title, ``## version`` headings,
    ``### Section`` headings, and ``-`` (or ``*``) items under them, an item's
    further lines indented. When the text holds several releases (a whole
    CHANGELOG.md), only ``version``'s section is read. Any other line (prose, an
    item outside a section, a table) makes the text unparseable: the caller
    shows it raw. No text, or headings alone, is an empty changelog.
    """
    if text is None:
        return ParsedChangelog(sections=())
    lines = _own_part(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), version)
    titles: list[str] = []
    items: dict[str, list[str]] = {}
    current: str | None = None
    last_item = False
    for raw in lines:
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.startswith((" ", "\t")) and last_item and current is not None:
            # an item's further line (a multi-line breaking note)
            items[current][-1] += "\n" + line.strip()
            continue
        last_item = False
        if section := _SECTION_HEADING.match(line):
            current = section["title"]
            if current not in items:
                titles.append(current)
                items[current] = []
            continue
        if _VERSION_HEADING.match(line) or _TITLE.match(line):
            current = None
            continue
        item = _ITEM.match(line)
        if item is None or current is None:
            return None
        items[current].append(item["text"])
        last_item = True
    own = version or ""
    return ParsedChangelog(
        sections=tuple(
            ChangeSection(title, tuple(_item(text, own) for text in items[title]))
            for title in titles
        )
    )


def _ordered(titles: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(titles))
    return [t for t in LEADING_SECTIONS if t in seen] + [
        t for t in seen if t not in LEADING_SECTIONS
    ]


def _key(title: str, item: ChangeItem) -> tuple[str, str, str | None, str | None]:
    return (title, item.text, item.scope, item.commit)


@dataclass(frozen=True)
class ReleaseText:
    """What ``what_changes`` needs of a stored release."""

    version: str
    changelog: str | None = None
    commit: str | None = None
    created_at: datetime | None = None


def what_changes(
    candidate: ReleaseText,
    running: ReleaseText | None,
    releases: Sequence[ReleaseText],
    *,
    limit: int = MAX_RELEASES,
    skipped: int = 0,
) -> WhatChanges:
    """What deploying ``candidate`` where ``running`` runs changes, from the stored releases.

    ``releases`` are the service's releases (any order, any versions: those
    outside the range are ignored). Upgrading, the range is (running, candidate];
    a rollback (the candidate is older) takes out the changes of (candidate,
    running]; nothing running yet, the candidate's own changelog is the change.
    Entries are grouped by section, breaking changes first, then features, bug
    fixes and the other sections; an entry repeated by a later release (a final
    release after its prereleases) is listed once, under the oldest. The newest
    ``limit`` releases of a range are read; the others (and ``skipped``, older
    releases of the range the caller did not load) are counted in ``more``.
    """
    target = Version.parse(candidate.version)
    if running is None:
        direction = Direction.FIRST
        low = high = None
    else:
        current = Version.parse(running.version)
        if target.same_precedence(current):
            direction = Direction.SAME
        elif target > current:
            direction = Direction.UPGRADE
        else:
            direction = Direction.ROLLBACK
        low, high = (current, target) if direction is Direction.UPGRADE else (target, current)
    if direction is Direction.FIRST:
        in_range = [candidate]
    elif direction is Direction.SAME:
        in_range = []
    else:
        assert low is not None and high is not None
        by_version: dict[tuple[object, ...], tuple[Version, ReleaseText]] = {}
        for release in (*releases, candidate, *([running] if running else [])):
            version = Version.parse(release.version)
            if low < version <= high:
                by_version.setdefault(version.precedence_key(), (version, release))
        in_range = [r for _, r in sorted(by_version.values(), key=lambda pair: pair[0])]
    cut = max(0, len(in_range) - limit)
    in_range = in_range[cut:]
    more = cut + skipped
    # what the running release already carried is not a change (an upgrade only)
    known: set[tuple[str, str, str | None, str | None]] = set()
    if direction is Direction.UPGRADE and running is not None:
        before = parse_changelog(running.changelog, running.version)
        for section in before.sections if before else ():
            known.update(_key(section.title, item) for item in section.items)
    notes: list[ReleaseNote] = []
    grouped: dict[str, list[ChangeItem]] = {}
    titles: list[str] = []
    for release in in_range:
        parsed = parse_changelog(release.changelog, release.version)
        notes.append(
            ReleaseNote(
                version=release.version,
                commit=release.commit,
                created_at=release.created_at,
                changelog=release.changelog,
                parsed=parsed is not None and bool((release.changelog or "").strip()),
            )
        )
        if parsed is None:
            continue
        for section in parsed.sections:
            titles.append(section.title)
            for item in section.items:
                key = _key(section.title, item)
                if key in known:
                    continue
                known.add(key)
                grouped.setdefault(section.title, []).append(item)
    sections = tuple(
        ChangeSection(title, tuple(grouped[title]))
        for title in _ordered(titles)
        if title in grouped
    )
    return WhatChanges(
        candidate=candidate.version,
        running=running.version if running else None,
        direction=direction,
        releases=tuple(notes),
        sections=sections,
        unparsed=tuple(n for n in notes if not n.parsed and not n.missing),
        more=more,
        summary=_summary(
            direction,
            candidate.version,
            running.version if running else None,
            len(notes) + more,
        ),
    )
