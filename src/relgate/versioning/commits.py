"""Conventional Commits 1.0.0: parse one message, and read the changes a commit carries.

``parse_message`` returns a ``ConventionalCommit`` or a ``ParseError`` value;
a message that is not conventional is an expected outcome, not an exception.
``read_changes`` turns one commit as git stores it into the list of changes it
carries: none for a merge commit, one for an ordinary commit or a git revert,
several for a squash merge whose body lists the squashed commits (when its
header is not conventional, or as ``SquashOptions`` say).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Literal

BREAKING_TOKENS = frozenset({"BREAKING CHANGE", "BREAKING-CHANGE"})

_HEADER = re.compile(
    r"(?P<type>[A-Za-z0-9-]+)(?:\((?P<scope>[^)\n]+)\))?(?P<bang>!)?: \s*(?P<description>\S.*)"
)
# Where a footer starts: "Token: value" or "Token #value"; only "BREAKING
# CHANGE" may hold a space, and only in capitals (the spec makes every other
# token case-insensitive, so "breaking change: x" stays body text).
_FOOTER_START = re.compile(r"^(BREAKING CHANGE|[\w-]+)(: | #)", re.MULTILINE)
_FOOTER_AFTER_BLANK = re.compile(r"\n\n(?:BREAKING CHANGE|[\w-]+)(?:: | #)")
_BREAKING_START = re.compile(r"^BREAKING[ -]CHANGE: ", re.MULTILINE)
_GIT_REVERT = re.compile(r'Revert "(?P<reverted>.*)"')
_GIT_REAPPLY = re.compile(r'Reapply "(?P<reapplied>.*)"')
_PR_SUFFIX = re.compile(r"\s*\(#\d+\)\Z")
# A breaking-change footer at the start of any line, even mid-paragraph (a squash
# bullet's lines are dedented first); an indented one is an example, not a footer.
_BREAKING_LINE = re.compile(r"^BREAKING[ -]CHANGE: *(?P<note>\S.*)$", re.MULTILINE)
_BULLET_MARKERS = ("* ", "- ")
_SQUASH_TRAILER_SEPARATOR = "---------"
_BOT_MARKERS = ("dependabot", "renovate")
_TRAILING_BLANKS = re.compile(r"[ \t]+$", re.MULTILINE)
_object_new = object.__new__


@dataclass(frozen=True)
class Footer:
    """One footer (git trailer) of a commit message; token as written."""

    token: str
    value: str
    separator: str = ": "  # ": " or " #"; in "Refs #123" the value is "123"


@dataclass(frozen=True)
class ConventionalCommit:
    """A message that follows Conventional Commits 1.0.0."""

    type: str
    scope: str | None
    breaking: bool
    description: str
    body: str
    footers: tuple[Footer, ...]
    breaking_notes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ParseError:
    """Why a message is not a Conventional Commit."""

    reason: str


@dataclass(frozen=True, slots=True)
class RawCommit:
    """One commit as git stores it."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    authored_at: int
    message: str


BulletsMode = Literal["when_header_not_conventional", "always", "never"]


@dataclass(frozen=True, slots=True)
class SquashOptions:
    """How a squash merge's bullet list (``* feat: x`` lines in the body) is read.

    ``bullets``: when the bullets count as commits of their own:
    ``when_header_not_conventional`` (the header decides when it is conventional),
    ``always``, or ``never``. ``breaking_in_bullets``: whether a breaking marker
    inside the list (a bullet's ``!``, a ``BREAKING CHANGE:`` paragraph under a
    bullet) makes the change breaking.
    """

    bullets: BulletsMode = "when_header_not_conventional"
    breaking_in_bullets: bool = True


DEFAULT_SQUASH = SquashOptions()


@dataclass(frozen=True)
class CommitEntry:
    """One change a commit carries (a squash merge carries several).

    ``breaking_notes`` holds the ``BREAKING CHANGE:`` notes of a commit whose
    header is not conventional (``conventional`` is None): it still counts as
    breaking. A conventional entry keeps its notes in ``conventional``.
    """

    sha: str
    subject: str
    conventional: ConventionalCommit | None
    error: str | None
    from_squash: bool = False
    breaking_notes: tuple[str, ...] = ()

    @property
    def breaking(self) -> bool:
        """True when this change is breaking, whether its header is conventional or not."""
        commit = self.conventional
        return commit.breaking if commit is not None else bool(self.breaking_notes)

    @property
    def notes(self) -> tuple[str, ...]:
        """The breaking-change notes (a breaking header's description when it has none)."""
        commit = self.conventional
        if commit is None:
            return self.breaking_notes
        if not commit.breaking:
            return ()
        return commit.breaking_notes or (commit.description,)


def _normalise(message: str) -> str:
    if "\r" in message:
        message = message.replace("\r\n", "\n").replace("\r", "\n")
    return message.strip()


def _footer_start(rest: str) -> int:
    """Return where the footers begin in ``rest`` (``len(rest)`` when there are none).

    The footers are the trailing paragraphs that each start with a footer line;
    a paragraph starting with a BREAKING CHANGE footer also starts the footers
    even when prose follows it, since that prose is the note's continuation and
    a breaking change must never be missed.
    """
    # Trailing blanks are already gone, so paragraphs are split by "\n\n".
    # Walking back with rfind avoids building a list of paragraphs per commit.
    footer_line = _FOOTER_START.match
    start = len(rest)
    while start > 0:
        cut = rest.rfind("\n\n", 0, start)
        begin = cut + 2 if cut >= 0 else 0
        while begin < start and rest[begin] == "\n":
            begin += 1
        if begin < start and not footer_line(rest, begin):
            break
        start = max(cut, 0)
    if rest.find("BREAKING", 0, start) >= 0:
        breaking = _BREAKING_START.search(rest, 0, start)
        while breaking is not None:
            at = breaking.start()
            if at == 0 or rest[at - 2 : at] == "\n\n":
                return at
            breaking = _BREAKING_START.search(rest, breaking.end(), start)
    return start


def _parse_footers(text: str) -> tuple[Footer, ...]:
    """Return the footers in ``text``, which starts with a footer line.

    A value runs until the next footer line, so it may span several lines.
    """
    if "\n" not in text:
        match = _FOOTER_START.match(text)
        if match is None:
            return ()
        return (_new_footer(match[1], text[match.end() :].strip(), match[2]),)
    starts = list(_FOOTER_START.finditer(text))
    footers: list[Footer] = []
    last = len(starts) - 1
    for index, match in enumerate(starts):
        end = starts[index + 1].start() if index < last else len(text)
        footers.append(_new_footer(match[1], text[match.end() : end].strip(), match[2]))
    return tuple(footers)


def _new_footer(token: str, value: str, separator: str) -> Footer:
    # See _parse on why the instance dict is filled directly.
    footer: Footer = _object_new(Footer)
    fields = footer.__dict__
    fields["token"] = token
    fields["value"] = value
    fields["separator"] = separator
    return footer


def _header_problem(header: str) -> str:
    if not header:
        return "the commit message is empty"
    shown = header if len(header) <= 72 else header[:69] + "..."
    if ":" not in header:
        return f"header {shown!r} is not 'type(scope)!: description'"
    head, _, tail = header.partition(":")
    if not tail.strip():
        return f"header {shown!r} has an empty description"
    if not tail.startswith(" "):
        return f"header {shown!r} is not 'type(scope)!: description' (no space after ':')"
    if head.endswith(" "):
        return f"header {shown!r} is not 'type(scope)!: description' (space before ':')"
    return f"header {shown!r} is not 'type(scope)!: description'"


def parse_message(message: str) -> ConventionalCommit | ParseError:
    """Return the Conventional Commit written in ``message``, or why it is not one.

    Never raises: a non-conventional message gives a ``ParseError`` whose reason
    quotes the header and says what is wrong.
    """
    text = _normalise(message)
    if not text:
        return ParseError("the commit message is empty")
    header, _, rest = text.partition("\n")
    return _parse(header.rstrip(), rest)


def _parse(header: str, rest: str) -> ConventionalCommit | ParseError:
    """Parse a header (trailing blanks removed) and what follows it."""
    match = _HEADER.fullmatch(header)
    if match is None:
        return ParseError(_header_problem(header))
    type_, scope, bang, description = match.group(1, 2, 3, 4)
    body = ""
    footers: tuple[Footer, ...] = ()
    notes: tuple[str, ...] = ()
    if rest:
        if " \n" in rest or "\t\n" in rest:
            rest = _TRAILING_BLANKS.sub("", rest)
        rest = rest.strip()
        # Footers start a paragraph: look only at paragraph starts.
        if _FOOTER_START.match(rest) or ("\n\n" in rest and _FOOTER_AFTER_BLANK.search(rest)):
            start = _footer_start(rest)
            body = rest[:start].strip("\n")
            footer_text = rest[start:].strip("\n")
            if footer_text:
                footers = _parse_footers(footer_text)
                if "BREAKING" in footer_text:
                    notes = tuple(f.value for f in footers if f.token in BREAKING_TOKENS)
        else:
            body = rest
    if bang and not notes:
        notes = (description,)
    # A frozen dataclass's __init__ sets each field through object.__setattr__,
    # which was most of the cost of reading 20,000 commits; filling the instance
    # dict directly builds the same immutable object several times faster.
    commit: ConventionalCommit = _object_new(ConventionalCommit)
    fields = commit.__dict__
    fields["type"] = type_.lower()
    fields["scope"] = scope.strip() if scope else None
    fields["breaking"] = bang is not None or bool(notes)
    fields["description"] = description
    fields["body"] = body
    fields["footers"] = footers
    fields["breaking_notes"] = notes
    return commit


def _new_entry(
    sha: str,
    subject: str,
    conventional: ConventionalCommit | None,
    error: str | None,
    from_squash: bool = False,
    breaking_notes: tuple[str, ...] = (),
) -> CommitEntry:
    entry: CommitEntry = _object_new(CommitEntry)
    fields = entry.__dict__
    fields["sha"] = sha
    fields["subject"] = subject
    fields["conventional"] = conventional
    fields["error"] = error
    fields["from_squash"] = from_squash
    fields["breaking_notes"] = breaking_notes
    return entry


def _entry(
    sha: str,
    subject: str,
    parsed: ConventionalCommit | ParseError,
    from_squash: bool = False,
    notes: tuple[str, ...] = (),
) -> CommitEntry:
    """Return the entry of a parsed header, with extra breaking ``notes`` found around it."""
    if isinstance(parsed, ParseError):
        return _new_entry(sha, subject, None, parsed.reason, from_squash, _unique(notes))
    if notes:
        parsed = replace(
            parsed, breaking=True, breaking_notes=_unique((*parsed.breaking_notes, *notes))
        )
    return _new_entry(sha, subject, parsed, None, from_squash)


def _unique(notes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(notes))


def _footer_notes(text: str) -> tuple[str, ...]:
    """Return the breaking-change notes of ``text`` read as a message body (any header)."""
    if "BREAKING" not in text:
        return ()
    parsed = _parse("x: x", text)
    notes = parsed.breaking_notes if isinstance(parsed, ConventionalCommit) else ()
    if notes:
        return notes
    # Not where the specification puts footers (mid-paragraph): still a breaking
    # change, the note running to the end of its line.
    return tuple(match["note"].strip() for match in _BREAKING_LINE.finditer(text))


def _read_git_revert(sha: str, header: str, rest: str) -> CommitEntry | None:
    """Read git's own revert subjects: ``Revert "x"``, ``Revert "Revert "x""``, ``Reapply "x"``.

    An odd number of reverts is a revert of the original change; an even number
    (or git's ``Reapply``) puts the original change back, so it counts as that change.
    """
    depth = 0
    inner = header
    while True:
        # GitHub appends the pull request's number: Revert "fix: x" (#2534)
        match = _GIT_REVERT.fullmatch(inner) or _GIT_REVERT.fullmatch(_PR_SUFFIX.sub("", inner))
        if match:
            depth += 1
            inner = match["reverted"]
            continue
        match = _GIT_REAPPLY.fullmatch(inner) or _GIT_REAPPLY.fullmatch(_PR_SUFFIX.sub("", inner))
        if match:
            depth += 2
            inner = match["reapplied"]
            continue
        break
    if depth == 0:
        return None
    if depth % 2 == 0:
        parsed = parse_message(inner + ("\n\n" + rest if rest else ""))
        return _entry(sha, header, parsed)
    body_and_footers = parse_message("revert: x\n\n" + rest) if rest else None
    body = ""
    footers: tuple[Footer, ...] = ()
    if isinstance(body_and_footers, ConventionalCommit):
        body, footers = body_and_footers.body, body_and_footers.footers
    # The description is the reverted header, scope included, so the revert
    # itself carries no scope (a changelog line would show it twice).
    revert = ConventionalCommit(
        type="revert",
        scope=None,
        breaking=False,
        description=inner,
        body=body,
        footers=footers,
        breaking_notes=(),
    )
    return CommitEntry(sha, header, revert, None)


def _is_bot(raw: RawCommit) -> bool:
    name = raw.author_name.lower()
    email = raw.author_email.lower()
    return name.endswith("[bot]") or any(m in name or m in email for m in _BOT_MARKERS)


@dataclass(frozen=True, slots=True)
class _Bullet:
    """One bullet of a squash body: its subject, what it parses as, its breaking notes."""

    subject: str
    parsed: ConventionalCommit | ParseError
    notes: tuple[str, ...]


def _squash_bullets(body: str) -> tuple[list[_Bullet], str]:
    """Return the bullets of a squash body and the trailer text (after ``---------``).

    ``body`` starts with a bullet; its marker ("* " or "- ") at the start of a
    line begins the next squashed commit. Lines after a bullet, up to the next
    one, are that commit's body and footers (dedented), so a squashed commit's
    BREAKING CHANGE counts, whether its bullet is conventional or not.
    """
    lines = body.split("\n")
    trailer = ""
    for index, line in enumerate(lines):
        if line.strip() == _SQUASH_TRAILER_SEPARATOR:
            trailer = "\n".join(lines[index + 1 :])
            lines = lines[:index]
            break
    marker = body[:2]
    groups: list[tuple[str, list[str]]] = []
    for line in lines:
        if line.startswith(marker):
            groups.append((line[2:].strip(), []))
        elif groups:
            groups[-1][1].append(line)
    bullets: list[_Bullet] = []
    for subject, continuation in groups:
        text = "\n".join(_dedent(continuation)).strip("\n")
        match = _HEADER.fullmatch(subject)
        if match is not None:
            parsed = parse_message(subject + ("\n\n" + text if text else ""))
            notes = parsed.breaking_notes if isinstance(parsed, ConventionalCommit) else ()
            if isinstance(parsed, ConventionalCommit) and not notes:
                notes = _footer_notes(text)
        else:
            parsed = ParseError(_header_problem(subject))
            notes = _footer_notes(text)
        bullets.append(_Bullet(subject, parsed, notes))
    return bullets, trailer


def _dedent(lines: list[str]) -> list[str]:
    # Hosts indent a squashed commit's body under its bullet by two spaces
    # (or not at all); footers are only recognised at the start of a line.
    return [line[2:] if line.startswith("  ") else line.lstrip(" ") for line in lines]


def read_changes(raw: RawCommit, squash: SquashOptions = DEFAULT_SQUASH) -> list[CommitEntry]:
    """Return the changes ``raw`` carries, each parsed as a Conventional Commit or not.

    A merge commit gives [] (the merged commits appear in the log on their own).
    git's ``Revert "..."`` (with or without GitHub's ``(#123)``) gives one revert
    entry. A squash merge (a body that starts with a bullet list holding a
    conventional header, not written by a bot) gives the header's entry, and,
    when the header is not conventional (or ``squash.bullets`` is ``always``),
    one entry per conventional bullet; a breaking marker in the list makes the
    header's entry breaking unless ``squash.breaking_in_bullets`` is False. A
    non-conventional header gives an entry with ``conventional=None`` and the
    reason in ``error``, breaking when its body has ``BREAKING CHANGE:`` notes.
    Never raises.
    """
    if len(raw.parents) > 1:
        return []
    message = raw.message
    if "\r" in message:
        message = message.replace("\r\n", "\n").replace("\r", "\n")
    header, _, rest = message.strip().partition("\n")
    if header[-1:].isspace():
        header = header.rstrip()
    if header.startswith(("Revert ", "Reapply ")):
        reverted = _read_git_revert(raw.sha, header, rest.strip())
        if reverted is not None:
            return [reverted]
    if rest:
        rest = rest.strip()
        if rest[:2] in _BULLET_MARKERS and not _is_bot(raw):
            squashed = _read_squash(raw.sha, header, rest, squash)
            if squashed is not None:
                return squashed
    parsed = _parse(header, rest)
    # The common case, built inline: see _parse on why not through __init__.
    entry: CommitEntry = _object_new(CommitEntry)
    fields = entry.__dict__
    fields["sha"] = raw.sha
    fields["subject"] = header
    fields["from_squash"] = False
    fields["breaking_notes"] = ()
    if isinstance(parsed, ParseError):
        fields["conventional"] = None
        fields["error"] = parsed.reason
        if "BREAKING" in rest and not _is_bot(raw):
            fields["breaking_notes"] = _unique(_footer_notes(rest))
    else:
        fields["conventional"] = parsed
        fields["error"] = None
        if not parsed.breaking and "BREAKING" in rest and not _is_bot(raw):
            notes = _footer_notes(rest)
            if notes:
                return [_entry(raw.sha, header, parsed, notes=notes)]
    return [entry]


def _read_squash(
    sha: str, header: str, body: str, squash: SquashOptions
) -> list[CommitEntry] | None:
    """Read a squash merge; None when the bullet list holds no conventional header."""
    bullets, trailer = _squash_bullets(body)
    if not any(isinstance(b.parsed, ConventionalCommit) for b in bullets):
        return None
    own = _parse(header, trailer.strip())
    conventional_header = isinstance(own, ConventionalCommit)
    if squash.bullets == "always":
        as_commits = True
    else:
        as_commits = squash.bullets == "when_header_not_conventional" and not conventional_header
    stripped = _PR_SUFFIX.sub("", header).strip()
    entries: list[CommitEntry] = []
    notes: list[str] = []
    for bullet in bullets:
        parsed = bullet.parsed
        duplicate = _PR_SUFFIX.sub("", bullet.subject).strip() == stripped
        if as_commits and isinstance(parsed, ConventionalCommit) and not duplicate:
            if not squash.breaking_in_bullets and parsed.breaking:
                parsed = replace(parsed, breaking=False, breaking_notes=())
            elif bullet.notes and not parsed.breaking:
                parsed = replace(parsed, breaking=True, breaking_notes=bullet.notes)
            entries.append(_new_entry(sha, bullet.subject, parsed, None, True))
        elif squash.breaking_in_bullets:
            # The header's own entry carries what is not a commit of its own.
            notes.extend(bullet.notes)
    if not isinstance(own, ConventionalCommit) or not own.breaking:
        notes.extend(_footer_notes(trailer))
    return [_entry(sha, header, own, notes=tuple(notes)), *entries]
