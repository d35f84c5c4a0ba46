"""calibrate's in-memory scoring: the fast table gives what the full computation gives."""

from __future__ import annotations

import random

from relgate.versioning.bump import BumpKind
from relgate.versioning.calibrate import (
    _DEPENDENCY,
    Rules,
    _compute,
    _Release,
    _score,
    _table,
    default_rules,
)
from relgate.versioning.commits import CommitEntry, SquashOptions
from relgate.versioning.semver import Version

KEYS = ["feat", "fix", "chore", "docs", "refactor", "build", _DEPENDENCY]
ENTRY = CommitEntry("0" * 40, "x: y", None, None)


def random_release(rng: random.Random) -> _Release:
    base = Version(rng.choice([0, 1, 3]), rng.randrange(3), rng.randrange(3))
    expected = base.bump(rng.choice(list(BumpKind)[1:]))
    kinds = {key: ENTRY for key in rng.sample(KEYS, rng.randrange(len(KEYS)))}
    breaking = ENTRY if rng.random() < 0.15 else None
    return _Release(base, expected, breaking, kinds)


def random_rules(rng: random.Random) -> Rules:
    choices = [BumpKind.NONE, BumpKind.PATCH, BumpKind.MINOR]
    types = {key: rng.choice(choices) for key in KEYS if key != _DEPENDENCY}
    return Rules(types, rng.choice(choices), SquashOptions())


def test_the_score_table_agrees_with_the_full_computation() -> None:
    rng = random.Random(20261202)
    releases = [random_release(rng) for _ in range(300)]
    for below_1 in (BumpKind.MINOR, BumpKind.MAJOR):
        table = _table(releases, below_1)
        for _ in range(50):
            rules = random_rules(rng)
            full = sum(1 for r in releases if _compute(r, rules, below_1)[0] == r.expected)
            assert _score(table, rules) == full


def test_the_defaults_release_nothing_for_a_docs_only_range() -> None:
    release = _Release(Version(1, 2, 0), Version(1, 2, 1), None, {"docs": ENTRY})
    assert _compute(release, default_rules(), BumpKind.MINOR)[0] is None
    assert _score(_table([release], BumpKind.MINOR), default_rules()) == 0
