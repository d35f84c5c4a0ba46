"""Calibration: replay a repository's own release tags and fit the bump rules to them.

Each final release tag is recomputed from the release tag before it (the
highest lower version whose commit is an ancestor of the tag's commit), from
the commits between the two. The current rules' match rate is reported with
every disagreement, then a bounded search over the rules projects really
differ on (which of refactor, chore, build, docs, perf, ... bump none, patch or
minor; dependency updates; the squash options) proposes the rules that
reproduce most of the history, preferring the defaults on a tie.

The commits of every release are read from git once; each candidate only
re-reads the messages in memory (squash options) or looks up a table (types).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from relgate.errors import BadInput
from relgate.manifest.model import Manifest
from relgate.versioning.bump import BumpKind, BumpRules
from relgate.versioning.commits import CommitEntry, RawCommit, SquashOptions, read_changes
from relgate.versioning.config import VersioningConfig
from relgate.versioning.gitlog import GitRepository, ReleaseTag
from relgate.versioning.semver import Version
from relgate.versioning.service import squash_options, tag_format_of

# The types whose bump projects disagree on; feat, fix and other types keep their current bump.
TUNABLE_TYPES = ("perf", "revert", "refactor", "chore", "build", "docs", "style", "test", "ci")
_CHOICES = (BumpKind.NONE, BumpKind.PATCH, BumpKind.MINOR)
_SQUASH_CANDIDATES = tuple(
    SquashOptions(bullets=bullets, breaking_in_bullets=breaking)
    for bullets in ("when_header_not_conventional", "always", "never")
    for breaking in (True, False)
)
# Beyond this many (candidate x release) evaluations per squash option, the search
# over the types is coordinate descent from the defaults instead of exhaustive.
_EXHAUSTIVE_LIMIT = 100_000
# The newest release tags replayed (one git walk each); older ones are left out.
MAX_REPLAYED = 1000
_DEPENDENCY_TYPES = frozenset({"build", "chore", "fix"})
_DEPENDENCY_SCOPES = frozenset({"deps", "deps-dev"})
_DEPENDENCY = "(dependency updates)"


@dataclass(frozen=True)
class Rules:
    """One candidate set of rules: a bump per type, dependency updates, squash reading."""

    types: Mapping[str, BumpKind]
    dependency_updates: BumpKind
    squash: SquashOptions

    def as_config(self) -> dict[str, object]:
        """Return these rules as relgate.yaml's ``versioning`` keys."""
        return {
            "types": {
                name: kind.label
                for name, kind in sorted(self.types.items())
                if kind is not BumpKind.NONE
            },
            "dependency_updates": self.dependency_updates.label,
            "squash": {
                "bullets": self.squash.bullets,
                "breaking_in_bullets": self.squash.breaking_in_bullets,
            },
        }


@dataclass(frozen=True)
class Replay:
    """One release tag recomputed from the tag before it."""

    tag: str
    base_tag: str
    expected: Version
    computed: Version | None
    bump: BumpKind
    commits: int
    why: str

    @property
    def matched(self) -> bool:
        """True when the rules give the version the project released."""
        return self.computed == self.expected


@dataclass(frozen=True)
class Outcome:
    """How well one set of rules reproduces the history."""

    rules: Rules
    replays: tuple[Replay, ...]

    @property
    def matched(self) -> int:
        """How many releases the rules reproduce."""
        return sum(1 for replay in self.replays if replay.matched)

    @property
    def rate(self) -> float:
        """The share of replayed releases reproduced (0.0 when none was replayed)."""
        return self.matched / len(self.replays) if self.replays else 0.0

    @property
    def disagreements(self) -> tuple[Replay, ...]:
        """The releases these rules get wrong."""
        return tuple(replay for replay in self.replays if not replay.matched)


@dataclass(frozen=True)
class Calibration:
    """The current rules' outcome, the proposal's, and the tags not replayed."""

    tags: int
    skipped: tuple[tuple[str, str], ...]  # (tag, why it was not replayed)
    current: Outcome
    proposal: Outcome
    evaluated: int  # how many candidate rule sets were scored


@dataclass(frozen=True)
class _Release:
    """What one release's commits ask for, under one squash option."""

    base: Version
    expected: Version
    # the first breaking change, if any
    breaking: CommitEntry | None
    # type (or _DEPENDENCY) -> the first commit of that type
    kinds: dict[str, CommitEntry]


@dataclass(frozen=True)
class _Range:
    tag: ReleaseTag
    base: ReleaseTag
    raws: tuple[RawCommit, ...]


def _rules_of(config: VersioningConfig) -> Rules:
    base = BumpRules.from_config(config)
    return Rules(dict(base.types), base.dependency_updates, squash_options(config))


def default_rules() -> Rules:
    """Return the specification's and semantic-release's rules (relgate's defaults)."""
    return _rules_of(VersioningConfig())


def _ranges(
    repo: Path, manifest: Manifest, progress: Callable[[str], None]
) -> tuple[int, list[_Range], list[tuple[str, str]]]:
    git = GitRepository.open(repo)
    tag_format = tag_format_of(manifest)
    finals = sorted(
        (t for t in git.release_tags(tag_format) if not t.version.is_prerelease),
        key=lambda t: t.version.precedence_key(),
    )
    if not finals:
        raise BadInput(
            f"no release tags matching versioning.tag_format {manifest.versioning.tag_format!r} "
            "in this repository, so there is no history to calibrate against; fetch the tags "
            "(`git fetch --tags`) or set versioning.tag_format to how the releases are tagged"
        )
    if git.is_shallow:
        raise BadInput(
            "this is a shallow clone: the commits between release tags may be missing; "
            "run `git fetch --unshallow --tags` before calibrating"
        )
    progress(f"{len(finals)} release tag(s), {finals[0].name} to {finals[-1].name}: replaying")
    skipped: list[tuple[str, str]] = []
    ranges: list[_Range] = []
    path = manifest.versioning.path
    first = max(0, len(finals) - MAX_REPLAYED)
    if first:
        skipped.append(
            (
                f"{finals[0].name} … {finals[first - 1].name}",
                f"{first} older release tags not replayed: at most {MAX_REPLAYED} are",
            )
        )
    for index in range(first, len(finals)):
        tag = finals[index]
        span = _span(git, tag, finals[:index], path)
        if isinstance(span, str):
            skipped.append((tag.name, span))
        else:
            ranges.append(span)
    return len(finals), ranges, skipped


def _span(
    git: GitRepository, tag: ReleaseTag, lower: Sequence[ReleaseTag], path: str | None
) -> _Range | str:
    """Return the release of ``tag`` since the highest lower tag in its history, or why none.

    The walk from the nearest lower tag tells whether that tag is an ancestor
    (git's boundary commits), so a linear history costs one git call per tag.
    """
    first = True
    for base in reversed(lower):
        if base.sha == tag.sha:
            return f"tags the same commit as {base.name}"
        if path is None and first:
            # usually the nearest lower tag is the base: one walk lists and proves it
            first = False
            log = git.log_since(base.sha, _keep, tip=tag.sha)
            if log.reached_base:
                return _Range(tag, base, tuple(log.changes))
        elif git.is_ancestor(base.sha, tag.sha):
            log = git.log_since(base.sha, _keep, path=path, tip=tag.sha)
            return _Range(tag, base, tuple(log.changes))
    return "first release: no earlier release tag in its history"


def _keep(raw: RawCommit) -> list[RawCommit]:
    return [raw]


def _kind_key(entry: CommitEntry) -> str | None:
    commit = entry.conventional
    if commit is None:
        return None
    scope = commit.scope
    if (
        scope is not None
        and commit.type in _DEPENDENCY_TYPES
        and scope.lower() in _DEPENDENCY_SCOPES
    ):
        return _DEPENDENCY
    return commit.type


def _squash_like(raw: RawCommit) -> bool:
    """True when the squash options may change how ``raw`` reads (its body starts a list)."""
    _header, _, body = raw.message.lstrip().partition("\n")
    return body.lstrip()[:2] in ("* ", "- ")


class _Reader:
    """Reads each release's commits once, and again per squash option only where it matters."""

    def __init__(self, spans: Sequence[_Range]) -> None:
        self._spans = spans
        self._plain = [[read_changes(raw) for raw in span.raws] for span in spans]
        self._squashy = [
            [index for index, raw in enumerate(span.raws) if _squash_like(raw)] for span in spans
        ]

    def releases(self, squash: SquashOptions) -> list[_Release]:
        """Return what every release asks for when squash merges read as ``squash`` says."""
        out = []
        for span, plain, squashy in zip(self._spans, self._plain, self._squashy, strict=True):
            lists = list(plain)
            for index in squashy:
                lists[index] = read_changes(span.raws[index], squash)
            out.append(_release(span, lists))
        return out


def _release(span: _Range, lists: Sequence[Sequence[CommitEntry]]) -> _Release:
    breaking: CommitEntry | None = None
    kinds: dict[str, CommitEntry] = {}
    for entries in lists:
        for entry in entries:
            if breaking is None and entry.breaking:
                breaking = entry
            key = _kind_key(entry)
            if key is not None:
                kinds.setdefault(key, entry)
    return _Release(span.base.version, span.tag.version, breaking, kinds)


def _kind_of(key: str, rules: Rules) -> BumpKind:
    if key == _DEPENDENCY:
        return rules.dependency_updates
    return rules.types.get(key, BumpKind.NONE)


def _compute(
    release: _Release, rules: Rules, below_1: BumpKind
) -> tuple[Version | None, BumpKind, CommitEntry | None]:
    if release.breaking is not None:
        bump, decisive = BumpKind.MAJOR, release.breaking
    else:
        bump, decisive = BumpKind.NONE, None
        for key, entry in release.kinds.items():
            kind = _kind_of(key, rules)
            if kind > bump:
                bump, decisive = kind, entry
    if release.base.major == 0 and bump is BumpKind.MAJOR:
        bump = below_1
    if bump is BumpKind.NONE:
        return None, bump, None
    return release.base.bump(bump), bump, decisive


def _released_bump(base: Version, expected: Version) -> str:
    for kind in (BumpKind.PATCH, BumpKind.MINOR, BumpKind.MAJOR):
        if base.bump(kind) == expected:
            return f"a {kind.label} release"
    return "not one bump from its base"


def _why(release: _Release, computed: Version | None, decisive: CommitEntry | None) -> str:
    released = _released_bump(release.base, release.expected)
    if decisive is None:
        present = ", ".join(sorted(release.kinds)) or "no conventional commit"
        return f"no commit asks for a release (types: {present}); the project made {released}"
    subject = decisive.subject if len(decisive.subject) <= 72 else decisive.subject[:69] + "..."
    if decisive.breaking:
        note = (decisive.notes or ("",))[0]
        note = note if len(note) <= 60 else note[:57] + "..."
        cause = f"breaking: {note}" if note else "breaking"
    else:
        cause = _kind_key(decisive) or "?"
    return f"{decisive.sha[:7]} {subject!r} ({cause}) gives {computed}; the project made {released}"


def _outcome(
    spans: Sequence[_Range], releases: Sequence[_Release], rules: Rules, below_1: BumpKind
) -> Outcome:
    replays = []
    for span, release in zip(spans, releases, strict=True):
        computed, bump, decisive = _compute(release, rules, below_1)
        why = "" if computed == release.expected else _why(release, computed, decisive)
        replays.append(
            Replay(
                tag=span.tag.name,
                base_tag=span.base.name,
                expected=release.expected,
                computed=computed,
                bump=bump,
                commits=len(span.raws),
                why=why,
            )
        )
    return Outcome(rules, tuple(replays))


# What scoring needs of one release: breaking?, the kinds of change it holds, and the
# bumps (as ints) that give the released version. Built once per squash option.
_Row = tuple[bool, tuple[str, ...], frozenset[int]]


def _table(releases: Sequence[_Release], below_1: BumpKind) -> list[_Row]:
    rows: list[_Row] = []
    for release in releases:
        ok = set()
        for kind in BumpKind:
            applied = below_1 if release.base.major == 0 and kind is BumpKind.MAJOR else kind
            version = None if applied is BumpKind.NONE else release.base.bump(applied)
            if version == release.expected:
                ok.add(int(kind))
        rows.append((release.breaking is not None, tuple(release.kinds), frozenset(ok)))
    return rows


def _score(table: Sequence[_Row], rules: Rules) -> int:
    """How many releases ``rules`` reproduce (the same answer as ``_compute``, faster)."""
    types = {name: int(kind) for name, kind in rules.types.items()}
    types[_DEPENDENCY] = int(rules.dependency_updates)
    major = int(BumpKind.MAJOR)
    matched = 0
    for breaking, keys, ok in table:
        kind = major if breaking else max([types.get(key, 0) for key in keys], default=0)
        if kind in ok:
            matched += 1
    return matched


def _distance(rules: Rules, defaults: Rules) -> int:
    names = set(rules.types) | set(defaults.types)
    changed = sum(
        1
        for name in names
        if rules.types.get(name, BumpKind.NONE) != defaults.types.get(name, BumpKind.NONE)
    )
    changed += rules.dependency_updates != defaults.dependency_updates
    changed += rules.squash.bullets != defaults.squash.bullets
    changed += rules.squash.breaking_in_bullets != defaults.squash.breaking_in_bullets
    return changed


def _with(rules: Rules, dims: Sequence[str], values: Sequence[BumpKind]) -> Rules:
    """Return ``rules`` with each dimension (a type, or dependency updates) set to its value."""
    types = dict(rules.types)
    dependency = rules.dependency_updates
    for name, value in zip(dims, values, strict=True):
        if name == _DEPENDENCY:
            dependency = value
        else:
            types[name] = value
    return Rules(types, dependency, rules.squash)


def _candidates(dims: Sequence[str], start: Rules, releases: int) -> Iterator[Rules] | None:
    """Every combination of values of ``dims``, or None when there are too many to score."""
    if len(_CHOICES) ** len(dims) * releases > _EXHAUSTIVE_LIMIT:
        return None
    return (_with(start, dims, values) for values in itertools.product(_CHOICES, repeat=len(dims)))


def _descend(
    table: Sequence[_Row], start: Rules, dims: Sequence[str], defaults: Rules
) -> tuple[Rules, int]:
    """Coordinate descent over ``dims`` from ``start``; return (best, rule sets scored)."""
    best, best_key = start, (_score(table, start), -_distance(start, defaults))
    evaluated = 1
    for _round in range(4):
        improved = False
        for name in dims:
            for choice in _CHOICES:
                candidate = _with(best, (name,), (choice,))
                key = (_score(table, candidate), -_distance(candidate, defaults))
                evaluated += 1
                if key > best_key:
                    best, best_key, improved = candidate, key, True
        if not improved:
            break
    return best, evaluated


def calibrate(
    repo: Path, manifest: Manifest, progress: Callable[[str], None] = lambda _line: None
) -> Calibration:
    """Replay the release tags of the repository containing ``repo``; fit the rules to them.

    ``progress`` receives a line at each step (how many tags, then the search).

    Raises BadInput when the repository has no release tag in the tag format,
    or only one, or is a shallow clone; NotAGitRepository, ExternalError from git.
    """
    config = manifest.versioning
    below_1 = BumpKind.from_label(config.breaking_below_1)
    count, spans, skipped = _ranges(repo, manifest, progress)
    if not spans:
        raise BadInput(
            f"{count} release tag(s) but none with an earlier release tag in its history, "
            "so no release can be replayed; calibration needs at least two releases "
            f"({'; '.join(f'{tag}: {why}' for tag, why in skipped[:5])})"
        )
    current_rules = _rules_of(config)
    defaults = default_rules()
    commits = sum(len(span.raws) for span in spans)
    progress(f"{len(spans)} release(s) replayed from {commits} commit(s); searching the rules")
    reader = _Reader(spans)
    by_squash = {opts: reader.releases(opts) for opts in _SQUASH_CANDIDATES}
    current = _outcome(spans, by_squash[current_rules.squash], current_rules, below_1)

    seen = {key for releases in by_squash.values() for r in releases for key in r.kinds}
    # only what the history shows is searched: a type that never occurs, or the
    # dependency updates when there are none, keeps its current value
    dims = [name for name in TUNABLE_TYPES if name in seen]
    if _DEPENDENCY in seen:
        dims.append(_DEPENDENCY)
    start_types = dict(current_rules.types)
    for name in dims:
        if name != _DEPENDENCY:
            start_types[name] = defaults.types.get(name, BumpKind.NONE)
    tables = {squash: _table(releases, below_1) for squash, releases in by_squash.items()}
    best: Rules = current_rules
    best_key = (_score(tables[best.squash], best), -_distance(best, defaults))
    evaluated = 1
    for squash, table in tables.items():
        start = Rules(start_types, current_rules.dependency_updates, squash)
        if _DEPENDENCY in dims:
            start = Rules(start_types, defaults.dependency_updates, squash)
        candidates = _candidates(dims, start, len(table))
        if candidates is None:
            found, tried = _descend(table, start, dims, defaults)
            candidates = iter((found,))
            evaluated += tried
        for candidate in candidates:
            evaluated += 1
            key = (_score(table, candidate), -_distance(candidate, defaults))
            if key > best_key:
                best, best_key = candidate, key
    proposal = _outcome(spans, by_squash[best.squash], _trimmed(best), below_1)
    return Calibration(count, tuple(skipped), current, proposal, evaluated)


def _trimmed(rules: Rules) -> Rules:
    """Drop types that do not bump (the mapping lists only what bumps)."""
    types = {name: kind for name, kind in rules.types.items() if kind is not BumpKind.NONE}
    return Rules(types, rules.dependency_updates, rules.squash)
