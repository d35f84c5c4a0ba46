"""Conventional Commits 1.0.0: parse one message, and read the changes a commit carries.

``parse_message`` returns a ``ConventionalCommit`` or a ``ParseError`` value;
a message that is not conventional is an expected outcome, not an exception.
``read_changes`` turns one commit as git stores it into the list of changes it
carries: none for a merge commit, one for an ordinary commit or a git revert,
several for a squash merge whose body lists the squashed commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_PR_SUFFIX = re.compile(r"\s*\(#\d+\)$")
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


@dataclass(frozen=True)
class CommitEntry:
    """One change a commit carries (a squash merge carries several)."""

    sha: str
    subject: str
    conventional: ConventionalCommit | None
    error: str | None
    from_squash: bool = False


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
) -> CommitEntry:
    entry: CommitEntry = _object_new(CommitEntry)
    fields = entry.__dict__
    fields["sha"] = sha
    fields["subject"] = subject
    fields["conventional"] = conventional
    fields["error"] = error
    fields["from_squash"] = from_squash
    return entry


def _entry(
    sha: str, subject: str, parsed: ConventionalCommit | ParseError, from_squash: bool = False
) -> CommitEntry:
    if isinstance(parsed, ParseError):
        return _new_entry(sha, subject, None, parsed.reason, from_squash)
    return _new_entry(sha, subject, parsed, None, from_squash)


def _read_git_revert(sha: str, header: str, rest: str) -> CommitEntry | None:
    """Read git's own revert subjects: ``Revert "x"``, ``Revert "Revert "x""``, ``Reapply "x"``.

    An odd number of reverts is a revert of the original change; an even number
    (or git's ``Reapply``) puts the original change back, so it counts as that change.
    """
    depth = 0
    inner = header
    while True:
        match = _GIT_REVERT.fullmatch(inner)
        if match:
            depth += 1
            inner = match["reverted"]
            continue
        match = _GIT_REAPPLY.fullmatch(inner)
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


def _squashed_entries(sha: str, header: str, body: str) -> tuple[list[CommitEntry], str]:
    """Return the entries of a squash body's conventional bullets and the trailer text.

    ``body`` starts with a bullet; its marker ("* " or "- ") at the start of a
    line begins the next squashed commit. Lines after a bullet, up to the next
    one, are that commit's body and footers (dedented), so a squashed commit's
    BREAKING CHANGE counts. A bullet that is not conventional gives no entry.
    """
    lines = body.split("\n")
    trailer = ""
    for index, line in enumerate(lines):
        if line.strip() == _SQUASH_TRAILER_SEPARATOR:
            trailer = "\n".join(lines[index + 1 :])
            lines = lines[:index]
            break
    own = _PR_SUFFIX.sub("", header).strip()
    marker = body[:2]
    groups: list[tuple[str, list[str]]] = []
    continuation: list[str] | None = None
    for line in lines:
        if line.startswith(marker):
            subject = line[2:].strip()
            if _HEADER.fullmatch(subject):
                continuation = []
                groups.append((subject, continuation))
            else:
                continuation = None
        elif continuation is not None:
            continuation.append(line)
    entries: list[CommitEntry] = []
    for subject, continuation in groups:
        if _PR_SUFFIX.sub("", subject).strip() == own:
            continue
        text = "\n".join(_dedent(continuation)).strip("\n")
        parsed = parse_message(subject + ("\n\n" + text if text else ""))
        entries.append(_entry(sha, subject, parsed, from_squash=True))
    return entries, trailer


def _dedent(lines: list[str]) -> list[str]:
    # Hosts indent a squashed commit's body under its bullet by two spaces
    # (or not at all); footers are only recognised at the start of a line.
    return [line[2:] if line.startswith("  ") else line.lstrip(" ") for line in lines]


def read_changes(raw: RawCommit) -> list[CommitEntry]:
    """Return the changes ``raw`` carries, each parsed as a Conventional Commit or not.

    A merge commit gives [] (the merged commits appear in the log on their own).
    git's ``Revert "..."`` gives one revert entry. A squash merge whose body starts
    with a bullet list of conventional headers gives the header's entry plus one
    entry per conventional bullet, except for commits written by bots. A
    non-conventional header gives one entry with ``conventional=None`` and the
    reason in ``error``. Never raises.
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
        if rest[:2] in ("* ", "- ") and not _is_bot(raw):
            first_line = rest.split("\n", 1)[0]
            if _HEADER.fullmatch(first_line[2:].strip()):
                squashed, trailer = _squashed_entries(raw.sha, header, rest)
                own = _parse(header, trailer.strip())
                return [_entry(raw.sha, header, own), *squashed]
    parsed = _parse(header, rest)
    # The common case, built inline: see _parse on why not through __init__.
    entry: CommitEntry = _object_new(CommitEntry)
    fields = entry.__dict__
    fields["sha"] = raw.sha
    fields["subject"] = header
    if isinstance(parsed, ParseError):
        fields["conventional"] = None
        fields["error"] = parsed.reason
    else:
        fields["conventional"] = parsed
        fields["error"] = None
    fields["from_squash"] = False
    return [entry]
