"""Benchmark: how often the computed version is the version projects really released.

Builds (under bench/.work/calibrate/) one small git repository per class of
release history found in real projects (issue 10), each tagged with the
versions the project released, plus a large generated one:

- squash-breaking: a ``BREAKING CHANGE:`` paragraph under one of a squash
  merge's bullets, followed by more bullets or ``Closes #188`` (released major);
- nonconv-breaking: a header that is not conventional (``v9 (#639)``) with
  ``BREAKING CHANGE:`` footers (released major);
- revert-pr: ``Revert "fix(deps): ..." (#2534)`` (released as a patch);
- squash-overbump: ``* feat: ...`` / ``* feat!: ...`` bullets under a ``fix(...)``
  or ``build(deps): ...`` header (released as the header says);
- unprefixed-tags: ``8.0.1`` among ``v8.0.0`` and ``v8.0.2``;
- types: a project that releases ``refactor`` and ``build`` as patches;
- scale: 200 releases of 1 to 6 commits (refactor and build release patches there),
  to time calibration on a longer history.

Each history is replayed with ``relgate version --calibrate --json``: the
match rate of relgate's default rules and of the rules it proposes; as a
check, ``relgate version --json`` is also run tag by tag (it must agree with
calibration's figure for the defaults). relgate before this work (``--baseline``,
by default where HEAD left main) is replayed the same way. Peers
(git-cliff, commitizen, python-semantic-release) are replayed too when
bench/versioning.py has already installed them under bench/.work/venvs/ (this
script installs nothing): each release tag is recomputed in a scratch clone
checked out at the tag, without that tag and the later ones. Finally the
project's own repository is calibrated (``--project``, default /work/main).

Run with the project's virtual environment: ``.venv/bin/python bench/calibrate.py``
(``make bench``). Standard library only. Exit status 0 when every run worked,
1 when a relgate run failed unexpectedly, 2 for bad options or a failed set-up.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import export_baseline, progress  # noqa: E402
from bench.versioning import (  # noqa: E402
    CLIFF_TOML,
    PEERS,
    REMOTE_URL,
    Tool,
    _environment,
    extract_version,
)

WORK_DIR = ROOT / "bench" / ".work" / "calibrate"
# Bump when the histories change, so cached repositories are rebuilt.
GENERATOR_REVISION = 2
SEED = 20261202

# commitizen reads the current version from the tags (scm), so that a replay in
# a scratch clone needs no edit of pyproject.toml.
PYPROJECT_TOML = """\
[project]
name = "bench-service"
version = "0.0.0"

[tool.commitizen]
name = "cz_conventional_commits"
version_provider = "scm"
tag_format = "v$version"

[tool.semantic_release]
tag_format = "v{version}"
commit_parser = "conventional"
allow_zero_version = false

[tool.semantic_release.branches.main]
match = "main"
prerelease = false
"""

CONFIG_FILES = {
    "cliff.toml": CLIFF_TOML,
    "pyproject.toml": PYPROJECT_TOML,
    "relgate.yaml": "service: bench-service\n",
}

Release = tuple[list[str], str]  # the commits of one release, then its tag

HISTORIES: dict[str, tuple[str, list[Release]]] = {
    "squash-breaking": (
        "v1.0.0",
        [
            (["fix(cli): quote paths (#180)\n\n* fix(cli): quote paths\n"], "v1.0.1"),
            (
                [
                    "feat(cli): print tables by default (#190)\n\n"
                    "* feat(cli): print tables by default\n\n"
                    "BREAKING CHANGE: `--format` defaults to `table`\n\n"
                    "* fix(cli): align the columns\n\n"
                    "* test: cover the table output\n"
                ],
                "v2.0.0",
            ),
            (["feat(cli): add --quiet (#191)"], "v2.1.0"),
            (
                [
                    "feat(config): read relgate.toml (#201)\n\n"
                    "* feat(config): read relgate.toml\n\n"
                    "  BREAKING CHANGE: config.json is no longer read\n\n"
                    "Closes #188\n\n"
                    "---------\n\n"
                    "Co-authored-by: Grace Hopper <grace@example.com>\n"
                ],
                "v3.0.0",
            ),
            (["docs: readme", "fix: typo in a message (#199)"], "v3.0.1"),
        ],
    ),
    "nonconv-breaking": (
        "v1.0.0",
        [
            (["fix: handle empty input (#630)"], "v1.0.1"),
            (
                [
                    "v9 (#639)\n\n"
                    "BREAKING CHANGE: Node.js 12 and 14 are no longer supported\n"
                    "BREAKING CHANGE: the package is ESM only\n"
                ],
                "v2.0.0",
            ),
            (["feat: add --watch (#641)"], "v2.1.0"),
            (
                [
                    "Release 3 (#650)\n\nAll the changes of the 3.0 milestone.\n\n"
                    "BREAKING CHANGE: the config file moved to .toolrc.json\n"
                ],
                "v3.0.0",
            ),
        ],
    ),
    "revert-pr": (
        "v1.0.0",
        [
            (["fix(deps): update dependency yargs to v17 (#2530)"], "v1.0.1"),
            (
                [
                    'Revert "fix(deps): update dependency yargs to v17" (#2534)\n\n'
                    "This reverts commit 1f2e3d4c5b6a7980.\n"
                ],
                "v1.0.2",
            ),
            (["feat: add --json (#2540)"], "v1.1.0"),
            (['Revert "feat: add --json" (#2545)\n\nReverts acme/tool#2540\n'], "v1.1.1"),
        ],
    ),
    "squash-overbump": (
        "v1.0.0",
        [
            (
                [
                    "fix(parser): accept empty documents (#77)\n\n"
                    "* feat: parse empty documents\n\n* feat: return None for them\n\n"
                    "* fix: the test\n"
                ],
                "v1.0.1",
            ),
            (
                [
                    "build(deps): bump the toolchain (#81)\n\n"
                    "* feat: new compiler flags\n\n* chore: update the lockfile\n"
                ],
                "v1.0.2",
            ),
            (["feat(api): search (#85)\n\n* feat(api): search\n\n* fix: escape\n"], "v1.1.0"),
            (
                [
                    "fix(api): reject empty ids (#90)\n\n"
                    "* feat(api)!: ids are required\n\n* fix: the message\n"
                ],
                "v1.1.1",
            ),
        ],
    ),
    "unprefixed-tags": (
        "v8.0.0",
        [
            (["fix: a crash on start"], "8.0.1"),
            (["fix: a leak"], "v8.0.2"),
            (["feat: plugins"], "v8.1.0"),
            (["fix: plugin order"], "8.1.1"),
        ],
    ),
    "types": (
        "v1.0.0",
        [
            (["refactor: split the parser"], "v1.0.1"),
            (["build: use hatchling"], "v1.0.2"),
            (["docs: usage", "chore: tidy", "feat: templates"], "v1.1.0"),
            (["refactor(cli): options", "test: more cases"], "v1.1.1"),
            (["ci: matrix", "chore: tidy", "fix: windows paths"], "v1.1.2"),
        ],
    ),
}

SCALE_RELEASES = 200
SCALE_MAX_COMMITS_PER_RELEASE = 6
# the scale project's rules: refactor and build release patches
SCALE_TYPES = {"feat": 2, "fix": 1, "perf": 1, "refactor": 1, "build": 1}
SCALE_WEIGHTS = {
    "fix": 10,
    "feat": 4,
    "chore": 20,
    "docs": 15,
    "refactor": 15,
    "test": 15,
    "ci": 10,
    "build": 6,
    "style": 5,
}


class BenchError(Exception):
    """A set-up step failed; the message says which and why."""


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> str:
    env = dict(os.environ)
    env.update(
        GIT_AUTHOR_NAME="Ada Lovelace",
        GIT_AUTHOR_EMAIL="ada@example.com",
        GIT_COMMITTER_NAME="Ada Lovelace",
        GIT_COMMITTER_EMAIL="ada@example.com",
        GIT_AUTHOR_DATE="@1767225600 +0000",
        GIT_COMMITTER_DATE="@1767225600 +0000",
    )
    done = subprocess.run(
        ["git", "-C", str(repo), *args], input=stdin, capture_output=True, env=env, check=False
    )
    if done.returncode != 0:
        raise BenchError(f"git {' '.join(args[:2])} failed in {repo}: {done.stderr.decode()}")
    return done.stdout.decode()


def _data(text: str) -> bytes:
    payload = text.encode()
    return b"data %d\n%s\n" % (len(payload), payload)


def _import(repo: Path, first_tag: str, releases: Sequence[Release]) -> None:
    """Write the history with git fast-import: config commit, first tag, then each release."""
    chunks: list[bytes] = []
    mark = 0
    when = 1_767_225_600

    def commit(message: str, files: dict[str, str] | None = None) -> None:
        nonlocal mark, when
        mark += 1
        when += 60
        ident = f"Ada Lovelace <ada@example.com> {when} +0000".encode()
        chunk = [b"commit refs/heads/main\n", b"mark :%d\n" % mark]
        chunk += [b"author " + ident + b"\n", b"committer " + ident + b"\n", _data(message)]
        if mark > 1:
            chunk.append(b"from :%d\n" % (mark - 1))
        for path, text in (files or {}).items():
            chunk += [f"M 100644 inline {path}\n".encode(), _data(text)]
        chunk.append(b"\n")
        chunks.append(b"".join(chunk))

    def tag(name: str) -> None:
        ident = f"Release Bot <release@example.com> {when + 30} +0000".encode()
        chunks.append(
            b"".join(
                [
                    f"tag {name}\n".encode(),
                    b"from :%d\n" % mark,
                    b"tagger " + ident + b"\n",
                    _data(f"Release {name}\n"),
                ]
            )
        )

    commit("chore: add release tooling configuration\n", CONFIG_FILES)
    tag(first_tag)
    for messages, name in releases:
        for message in messages:
            commit(message)
        tag(name)
    chunks.append(b"done\n")
    _git(repo, "fast-import", "--quiet", "--done", stdin=b"".join(chunks))


def _scale_releases() -> list[Release]:
    """200 releases of 1 to 6 commits; a range that asks for no release joins the next one."""
    rng = random.Random(SEED)
    names = list(SCALE_WEIGHTS)
    weights = list(SCALE_WEIGHTS.values())
    major, minor, patch = 1, 0, 0
    releases: list[Release] = []
    messages: list[str] = []
    bump = 0
    number = 0
    while len(releases) < SCALE_RELEASES:
        number += 1
        for index in range(rng.randint(1, SCALE_MAX_COMMITS_PER_RELEASE)):
            kind = rng.choices(names, weights)[0]
            messages.append(f"{kind}(core): change {number}.{index}\n")
            bump = max(bump, SCALE_TYPES.get(kind, 0))
        if number % 60 == 59:
            messages.append(f"feat(api)!: remove the old endpoints {number}\n")
            bump = 3
        if bump == 0:
            continue
        if bump == 3:
            major, minor, patch = major + 1, 0, 0
        elif bump == 2:
            minor, patch = minor + 1, 0
        else:
            patch += 1
        releases.append((messages, f"v{major}.{minor}.{patch}"))
        messages, bump = [], 0
    return releases


def ensure_repo(name: str, first_tag: str, releases: Sequence[Release]) -> Path:
    """Build the repository of one history unless a complete one is cached."""
    repo = WORK_DIR / f"{name}-r{GENERATOR_REVISION}"
    complete = repo.with_name(repo.name + ".complete")
    if complete.exists() and (repo / ".git").is_dir():
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    _import(repo, first_tag, releases)
    _git(repo, "reset", "--hard", "--quiet", "main")
    _git(repo, "remote", "add", "origin", REMOTE_URL)
    complete.write_text(f"{len(releases)} releases\n")
    return repo


# --- relgate ------------------------------------------------------------------------


def relgate_bin() -> Path:
    here = Path(sys.executable).parent / "relgate"
    return here if here.exists() else ROOT / ".venv" / "bin" / "relgate"


@dataclass(frozen=True)
class Calibrated:
    """relgate's calibration of one repository (or why it refused)."""

    returncode: int
    seconds: float
    document: dict[str, object] | None
    message: str


def calibrate(repo: Path) -> Calibrated:
    started = time.perf_counter()
    done = subprocess.run(
        [str(relgate_bin()), "version", "--calibrate", "--json", "--repo", str(repo)],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    document = json.loads(done.stdout) if done.returncode == 0 else None
    return Calibrated(done.returncode, seconds, document, done.stderr.strip())


# --- peers --------------------------------------------------------------------------


def installed_peers() -> list[Tool]:
    """The peers bench/versioning.py has installed (their venvs are reused as they are)."""
    return [tool for tool in PEERS if tool.path.exists()]


@dataclass(frozen=True)
class Replayer:
    """A command that prints the next version in the current folder (a peer, old relgate)."""

    name: str
    command: list[str]
    env: dict[str, str]


def peer_replayer(tool: Tool) -> Replayer:
    return Replayer(tool.name, tool.command(), _environment(tool))


def baseline_replayer(revision: str) -> Replayer:
    """relgate as it was at ``revision`` (its src/ exported under bench/.work), run with --json."""
    try:
        src = export_baseline(revision, WORK_DIR)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1"}
    command = [sys.executable, "-m", "relgate", "version", "--json"]
    # the folder is named baseline-<first 12 of the commit>
    commit = src.parent.name.removeprefix("baseline-")
    return Replayer(f"relgate@{commit[:7]}", command, env)


def default_revision() -> str:
    """Where this branch left main: relgate before this branch's changes."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "merge-base", "HEAD", "main"],
        check=False,
        capture_output=True,
        text=True,
    )
    return found.stdout.strip()[:12] if found.returncode == 0 else "HEAD"


def replay(
    replayer: Replayer, repo: Path, first: str, releases: Sequence[Release]
) -> list[tuple[str, str]]:
    """The release tags ``replayer`` gets wrong, (tag, its answer), each tag replayed with
    only the earlier tags present.

    One clone without tags; before each release the earlier tags are created in it
    (lightweight) and HEAD is put on the release's commit, on branch main.
    """
    scratch = WORK_DIR / "scratch"
    shutil.rmtree(scratch, ignore_errors=True)
    subprocess.run(
        ["git", "clone", "--quiet", "--no-tags", str(repo), str(scratch)],
        check=True,
        capture_output=True,
    )
    for name in _git(scratch, "tag", "--list").split():
        _git(scratch, "tag", "-d", name)
    previous = first
    misses: list[tuple[str, str]] = []
    for _messages, tag in releases:
        _git(scratch, "tag", previous, _git(repo, "rev-list", "-n", "1", previous).strip())
        _git(
            scratch,
            "checkout",
            "--quiet",
            "-B",
            "main",
            _git(repo, "rev-list", "-n", "1", tag).strip(),
        )
        done = subprocess.run(
            replayer.command,
            cwd=scratch,
            env=replayer.env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            check=False,
        )
        answer = extract_version(done.stdout) if done.returncode == 0 else None
        if answer != tag.removeprefix("v"):
            misses.append((tag, answer or f"(exit {done.returncode}, no version)"))
        previous = tag
    shutil.rmtree(scratch, ignore_errors=True)
    return misses


# --- report -------------------------------------------------------------------------


def _rate(matched: int, total: int) -> str:
    return f"{matched}/{total} ({matched / total:.0%})" if total else "-"


def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/calibrate.py",
        description="Match rate of relgate's computed versions on release histories that "
        "reproduce real projects', against relgate before this work and the peers already "
        "installed by bench/versioning.py.",
    )
    parser.add_argument(
        "--project",
        type=Path,
        default=Path("/work/main"),
        help="a real repository to calibrate as well (default /work/main)",
    )
    parser.add_argument(
        "--baseline",
        default=None,
        help="the relgate revision to replay as 'before' (default: where HEAD left main; "
        "'none' to skip)",
    )
    parser.add_argument("--skip-peers", action="store_true", help="do not replay the peers")
    parser.add_argument("--skip-scale", action="store_true", help="skip the 200-release history")
    parser.add_argument(
        "--replay-scale",
        action="store_true",
        help="replay the baseline and peers on the 200-release history too (one run per tag)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not relgate_bin().exists():
        print(f"error: relgate is not installed at {relgate_bin()}; run make lint", file=sys.stderr)
        return 2
    histories = dict(HISTORIES)
    if not args.skip_scale:
        histories["scale"] = ("v1.0.0", _scale_releases())
    # `relgate version` itself, tag by tag in the scratch clone: must agree with the
    # "relgate defaults" column, which calibration computes in memory
    replayers: list[Replayer] = [
        Replayer(
            "relgate version (check)",
            [str(relgate_bin()), "version", "--json"],
            {**os.environ, "NO_COLOR": "1"},
        )
    ]
    try:
        revision = args.baseline or default_revision()
        if revision != "none":
            replayers.append(baseline_replayer(revision))
    except (BenchError, OSError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    peers = [] if args.skip_peers else installed_peers()
    replayers += [peer_replayer(tool) for tool in peers]
    missing = [tool.name for tool in PEERS if tool not in peers]
    if missing and not args.skip_peers:
        progress(
            f"peers not installed, not replayed: {', '.join(missing)} "
            "(bench/versioning.py installs them; this script does not)"
        )
    ok = True
    header = ["history", "releases", "relgate defaults", "relgate proposal", "proposal changes"]
    header += [replayer.name for replayer in replayers]
    header.append("calibrate s")
    rows = [header]
    totals = {"default": 0, "proposal": 0, "replayed": 0}
    replay_totals = {replayer.name: [0, 0] for replayer in replayers}
    for name, (first, releases) in histories.items():
        try:
            repo = ensure_repo(name, first, releases)
        except (BenchError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        progress(f"{name}: {len(releases)} releases")
        result = calibrate(repo)
        if result.document is None:
            print(f"error: relgate failed on {name}: {result.message}", file=sys.stderr)
            ok = False
            continue
        doc = result.document
        current = doc["current"]
        proposal = doc["proposal"]
        assert isinstance(current, dict) and isinstance(proposal, dict)
        replayed = int(current["replayed"])
        totals["default"] += int(current["matched"])
        totals["proposal"] += int(proposal["matched"])
        totals["replayed"] += replayed
        row = [
            name,
            str(replayed),
            _rate(int(current["matched"]), replayed),
            _rate(int(proposal["matched"]), replayed),
            "; ".join(proposal["changes"]) or "(none)",
        ]
        for replayer in replayers:
            if name == "scale" and not args.replay_scale:
                row.append("(not run)")
                continue
            misses = replay(replayer, repo, first, releases)
            matched = len(releases) - len(misses)
            if misses:
                shown = ", ".join(f"{tag} -> {answer}" for tag, answer in misses)
                progress(f"  {replayer.name} misses: {shown}")
            replay_totals[replayer.name][0] += matched
            replay_totals[replayer.name][1] += len(releases)
            row.append(_rate(matched, len(releases)))
        row.append(f"{result.seconds:.2f}")
        rows.append(row)
        for wrong in current["disagreements"][:3]:
            progress(
                f"  {wrong['tag']} released {wrong['expected']}, "
                f"defaults give {wrong['computed']}: {wrong['why']}"
            )
    classes = [r for r in rows[1:] if r[0] != "scale"]
    class_total = sum(int(r[1]) for r in classes)

    def summed(column: int) -> str:
        matched = sum(int(r[column].split("/")[0]) for r in classes)
        return _rate(matched, class_total)

    total_row = ["classes (all but scale)", str(class_total), summed(2), summed(3), ""]
    total_row += [summed(5 + index) for index in range(len(replayers))]
    total_row.append("")
    rows.append(total_row)
    print()
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f}")
    print(_table(rows))
    print()
    own = calibrate(args.project)
    print(f"project repository {args.project}: exit {own.returncode}")
    if own.document is not None:
        doc = own.document
        current = doc["current"]
        proposal = doc["proposal"]
        assert isinstance(current, dict) and isinstance(proposal, dict)
        print(
            f"  tags {doc['tags']}, replayed {doc['replayed']}; defaults "
            f"{_rate(int(current['matched']), int(current['replayed']))}, proposal "
            f"{_rate(int(proposal['matched']), int(proposal['replayed']))}: "
            f"{'; '.join(proposal['changes']) or '(no change)'}"
        )
    else:
        print(f"  {own.message}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
