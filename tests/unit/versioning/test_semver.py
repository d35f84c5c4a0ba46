"""SemVer 2.0.0: the grammar, precedence and bumps of Version."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from relgate.errors import InvalidVersion
from relgate.versioning.bump import BumpKind
from relgate.versioning.semver import Version

# Machines running the suite may be busy: no per-example deadline (no timing
# assertions), and no failure when generating examples is slow.
PROPERTY = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# semver.org's regular-expression test lists (https://regex101.com/r/Ly7O1x/3).
VALID = [
    "0.0.4",
    "1.2.3",
    "10.20.30",
    "1.1.2-prerelease+meta",
    "1.1.2+meta",
    "1.1.2+meta-valid",
    "1.0.0-alpha",
    "1.0.0-beta",
    "1.0.0-alpha.beta",
    "1.0.0-alpha.beta.1",
    "1.0.0-alpha.1",
    "1.0.0-alpha0.valid",
    "1.0.0-alpha.0valid",
    "1.0.0-alpha-a.b-c-somethinglong+build.1-aef.1-its-okay",
    "1.0.0-rc.1+build.1",
    "2.0.0-rc.1+build.123",
    "1.2.3-beta",
    "10.2.3-DEV-SNAPSHOT",
    "1.2.3-SNAPSHOT-123",
    "1.0.0",
    "2.0.0",
    "1.1.7",
    "2.0.0+build.1848",
    "2.0.1-alpha.1227",
    "1.0.0-alpha+beta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
    "1.2.3----R-S.12.9.1--.12+meta",
    "1.2.3----RC-SNAPSHOT.12.9.1--.12",
    "1.0.0+0.build.1-rc.10000aaa-kk-0.1",
    "99999999999999999999999.999999999999999999.99999999999999999",
    "1.0.0-0A.is.legal",
]
INVALID = [
    "1",
    "1.2",
    "1.2.3-0123",
    "1.2.3-0123.0123",
    "1.1.2+.123",
    "+invalid",
    "-invalid",
    "-invalid+invalid",
    "-invalid.01",
    "alpha",
    "alpha.beta",
    "alpha.beta.1",
    "alpha.1",
    "alpha+beta",
    "alpha_beta",
    "alpha.",
    "alpha..",
    "beta",
    "1.0.0-alpha_beta",
    "-alpha.",
    "1.0.0-alpha..",
    "1.0.0-alpha..1",
    "1.0.0-alpha...1",
    "1.0.0-alpha....1",
    "1.0.0-alpha.....1",
    "1.0.0-alpha......1",
    "1.0.0-alpha.......1",
    "01.1.1",
    "1.01.1",
    "1.1.01",
    "1.2",
    "1.2.3.DEV",
    "1.2-SNAPSHOT",
    "1.2.31.2.3----RC-SNAPSHOT.12.09.1--..12+788",
    "1.2-RC-SNAPSHOT",
    "-1.0.3-gamma+b7718",
    "+justmeta",
    "9.8.7+meta+meta",
    "9.8.7-whatever+meta+meta",
    "99999999999999999999999.999999999999999999.99999999999999999----RC-SNAPSHOT.12.09.1--------------------------------..12",
    "1.2.3-beta..1",
    "1.2.3.4",
    "",
    "v1.2.3",
    " 1.2.3",
    "1.2.3 ",
    "1.2.3-é",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_versions_parse_and_print_back_unchanged(text: str) -> None:
    assert str(Version.parse(text)) == text


@pytest.mark.parametrize("text", INVALID)
def test_invalid_versions_are_refused_naming_the_text(text: str) -> None:
    with pytest.raises(InvalidVersion) as caught:
        Version.parse(text)
    assert repr(text) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("v1.2.3", "starts with 'v'"),
        ("1.2", "MAJOR.MINOR.PATCH"),
        ("01.1.1", "major '01' has a leading zero"),
        ("1.2.3-0123", "'0123' has a leading zero"),
        ("1.2.3-beta..1", "empty pre-release identifier"),
        ("1.1.2+.123", "empty build identifier"),
        ("9.8.7+meta+meta", "more than one '+'"),
        ("1.0.0-alpha_beta", "'alpha_beta' may only contain [0-9A-Za-z-]"),
        ("1.x.0", "minor 'x' is not a non-negative integer"),
    ],
)
def test_the_error_says_what_is_wrong(text: str, problem: str) -> None:
    with pytest.raises(InvalidVersion, match=re.escape(problem)):
        Version.parse(text)


def test_parts_are_read_into_fields() -> None:
    version = Version.parse("1.2.3-rc.1+build.5")
    assert version == Version(1, 2, 3, ("rc", "1"), ("build", "5"))
    assert version.is_prerelease
    assert not Version.parse("1.2.3+build").is_prerelease


def test_constructing_a_version_with_a_bad_identifier_is_refused() -> None:
    with pytest.raises(InvalidVersion, match="leading zero"):
        Version(1, 0, 0, ("01",))
    with pytest.raises(InvalidVersion, match="negative"):
        Version(-1, 0, 0)


SPEC_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "2.0.0",
    "2.1.0",
    "2.1.1",
]


@pytest.mark.parametrize(("lower", "higher"), list(itertools.pairwise(SPEC_CHAIN)))
def test_precedence_follows_the_spec_example_chain(lower: str, higher: str) -> None:
    low, high = Version.parse(lower), Version.parse(higher)
    assert low < high
    assert low <= high
    assert high > low
    assert high >= low
    assert not high < low


def test_sorting_shuffled_versions_restores_the_spec_chain() -> None:
    shuffled = [Version.parse(text) for text in reversed(SPEC_CHAIN)]
    assert [str(v) for v in sorted(shuffled)] == SPEC_CHAIN
    assert [str(v) for v in sorted(shuffled, key=Version.precedence_key)] == SPEC_CHAIN


def test_build_metadata_is_ignored_for_precedence_but_not_for_equality() -> None:
    a, b = Version.parse("1.0.0+a"), Version.parse("1.0.0+b")
    assert not a < b
    assert not b < a
    assert a <= b
    assert b >= a
    assert a.same_precedence(b)
    assert a.precedence_key() == b.precedence_key()
    assert a != b
    assert len({a, b}) == 2


def test_numeric_identifiers_compare_numerically_and_below_alphanumeric_ones() -> None:
    assert Version.parse("1.0.0-2") < Version.parse("1.0.0-10")
    assert Version.parse("1.0.0-999") < Version.parse("1.0.0-a")
    assert Version.parse("1.0.0-Z") < Version.parse("1.0.0-a")  # ASCII order


def test_comparing_with_something_else_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Version(1, 0, 0) < "1.0.1"  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (BumpKind.MAJOR, "2.0.0"),
        (BumpKind.MINOR, "1.3.0"),
        (BumpKind.PATCH, "1.2.4"),
    ],
)
def test_bump_resets_lower_parts_and_drops_prerelease_and_build(
    kind: BumpKind, expected: str
) -> None:
    assert str(Version.parse("1.2.3-rc.1+b").bump(kind)) == expected


def test_bump_none_returns_the_same_version() -> None:
    version = Version.parse("1.2.3")
    assert version.bump(BumpKind.NONE) is version


def test_with_prerelease_numbers_a_channel() -> None:
    assert str(Version.parse("1.5.0").with_prerelease("rc", 3)) == "1.5.0-rc.3"
    assert str(Version.parse("1.5.0+b").with_prerelease("beta.docker", 1)) == (
        "1.5.0-beta.docker.1"
    )


@pytest.mark.parametrize("channel", ["", "r_c", "1", "rc..x"])
def test_with_prerelease_refuses_a_bad_channel(channel: str) -> None:
    with pytest.raises(InvalidVersion, match="pre-release channel"):
        Version(1, 0, 0).with_prerelease(channel, 1)


# A reference comparison written straight from SemVer 2.0.0 section 11, kept
# deliberately naive so that it checks precedence_key() independently.
def reference_compare(a: Version, b: Version) -> int:
    for x, y in ((a.major, b.major), (a.minor, b.minor), (a.patch, b.patch)):
        if x != y:
            return -1 if x < y else 1
    if not a.prerelease and not b.prerelease:
        return 0
    if not a.prerelease:
        return 1
    if not b.prerelease:
        return -1
    for x, y in zip(a.prerelease, b.prerelease, strict=False):
        if x == y:
            continue
        x_numeric, y_numeric = x.isdigit(), y.isdigit()
        if x_numeric and y_numeric:
            return -1 if int(x) < int(y) else 1
        if x_numeric:
            return -1
        if y_numeric:
            return 1
        return -1 if x < y else 1
    if len(a.prerelease) == len(b.prerelease):
        return 0
    return -1 if len(a.prerelease) < len(b.prerelease) else 1


def compare(a: Version, b: Version) -> int:
    return -1 if a < b else 1 if a > b else 0


numeric_id = st.integers(min_value=0, max_value=30).map(str)
alpha_id = st.from_regex(r"[0-9A-Za-z-]{0,3}[A-Za-z-][0-9A-Za-z-]{0,3}", fullmatch=True)
versions = st.builds(
    Version,
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.lists(st.one_of(numeric_id, alpha_id), max_size=3).map(tuple),
    st.lists(st.sampled_from(["b", "1", "x-y"]), max_size=2).map(tuple),
)


@PROPERTY
@given(versions, versions)
def test_precedence_agrees_with_the_reference_comparison(a: Version, b: Version) -> None:
    assert compare(a, b) == reference_compare(a, b)


@PROPERTY
@given(versions, versions)
def test_precedence_is_antisymmetric_and_total(a: Version, b: Version) -> None:
    assert (a <= b) or (b <= a)
    if a <= b and b <= a:
        assert a.same_precedence(b)
    assert (a < b) == (b > a)


@PROPERTY
@given(versions, versions, versions)
def test_precedence_is_transitive(a: Version, b: Version, c: Version) -> None:
    low, mid, high = sorted([a, b, c])
    assert low <= mid <= high
    assert low <= high
    if a <= b and b <= c:
        assert a <= c


@PROPERTY
@given(versions)
def test_printing_then_parsing_gives_back_the_same_version(version: Version) -> None:
    assert Version.parse(str(version)) == version
