"""Benchmark: next version from Conventional Commits, relgate against its peers.

Builds (and caches under bench/.work/) a git repository with 50,000 commits:
30,000 older ones, the tag ``v1.2.3``, then 20,000 conventional commits with no
breaking change, so every tool must answer 1.3.0. Installs git-cliff,
commitizen and python-semantic-release each into its own virtual environment
under bench/.work/venvs/, then times the whole process of each tool in the
same run, round-robin, and prints a table of medians, minimums and relgate's
ratio to each peer against its target.

Two guards keep the comparison honest: the older history holds breaking
changes, so a tool that reads past the tag answers 2.0.0 instead of 1.3.0; and
a control repository whose only breaking change is the oldest commit after the
tag must give 2.0.0 from every tool, so a tool that stops early (or answers
from a cache) is caught.

Run with the project's virtual environment: ``.venv/bin/python bench/versioning.py``
(``make bench``). Standard library only. Exit status: 0 when every tool ran and
all agree (targets missed or met), 1 when a tool failed or the tools disagree,
2 for bad options or a failed set-up.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BENCH_DIR.parent
WORK_DIR = BENCH_DIR / ".work"
VENVS_DIR = WORK_DIR / "venvs"
REPOS_DIR = WORK_DIR / "repos"

# Bump when the generated history changes, so cached repositories are rebuilt.
GENERATOR_REVISION = 3
SEED = 20261126
TAG = "v1.2.3"
EXPECTED = "1.3.0"
EXPECTED_CONTROL = "2.0.0"
SMALL_OLDER_COMMITS = 20
SMALL_COMMITS_SINCE_TAG = 5
SMALL_REPO_TARGET_S = 0.150
REMOTE_URL = "https://github.com/example/bench-service.git"

# Each tool's whole configuration lives in the first commit, far before the
# tag, so that it is not a change the tools have to account for.
CLIFF_TOML = '''\
# git-cliff: what `git cliff --bumped-version --unreleased` needs.
[changelog]
body = """
{% for commit in commits %}- {{ commit.message | split(pat="\\n") | first }}
{% endfor %}"""
trim = true

[git]
conventional_commits = true
filter_unconventional = true
tag_pattern = "v[0-9].*"

[bump]
features_always_bump_minor = true
breaking_always_bump_major = true
'''

PYPROJECT_TOML = """\
[project]
name = "bench-service"
version = "1.2.3"

[tool.commitizen]
name = "cz_conventional_commits"
version = "1.2.3"
tag_format = "v$version"

[tool.semantic_release]
tag_format = "v{version}"
commit_parser = "conventional"
allow_zero_version = false

[tool.semantic_release.branches.main]
match = "main"
prerelease = false
"""

RELGATE_YAML = """\
service: bench-service
versioning:
  tag_format: "v{version}"
"""

README_MD = "# bench-service\n\nA generated repository for relgate's versioning benchmark.\n"

CONFIG_FILES = {
    "cliff.toml": CLIFF_TOML,
    "pyproject.toml": PYPROJECT_TOML,
    "relgate.yaml": RELGATE_YAML,
    "README.md": README_MD,
}

TYPE_WEIGHTS = {
    "fix": 28,
    "feat": 18,
    "chore": 15,
    "docs": 10,
    "refactor": 11,
    "perf": 5,
    "test": 13,
}
SCOPES = [None, None, "api", "cli", "store", "flags", "deploy", "notify", "web", "gates", "deps"]
VERBS = [
    "handle",
    "add",
    "remove",
    "rename",
    "validate",
    "cache",
    "log",
    "retry",
    "document",
    "simplify",
    "speed up",
    "clarify",
]
OBJECTS = [
    "empty environment names",
    "the approval comment",
    "expired flag tokens",
    "digest mismatch errors",
    "the rollback reason",
    "webhook retries",
    "the changelog header",
    "gate evaluation order",
    "the deployment timeout",
    "pagination of releases",
    "unicode in service names",
    "the stale flag report",
]
BODY_TEXT = (
    "the previous behaviour surprised operators because the value was read twice and the "
    "second read could see a newer state so this change reads it once and passes it along "
    "which also makes the code path easier to test in isolation"
)
BODY_WORDS = BODY_TEXT.split()
AUTHORS = [
    ("Ada Moreau", "ada@example.com"),
    ("Bilal Haddad", "bilal@example.com"),
    ("Chen Wei", "chen@example.com"),
    ("Dana Okafor", "dana@example.com"),
    ("Emil Lindqvist", "emil@example.com"),
    ("Farah Nasser", "farah@example.com"),
    ("Goran Petrov", "goran@example.com"),
    ("Hana Sato", "hana@example.com"),
]
BASE_TIMESTAMP = 1_700_000_000  # 2023-11-14, so that every date is deterministic
SECONDS_BETWEEN_COMMITS = 600

SEMVER = re.compile(r"v?(\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?)")


class BenchError(Exception):
    """A set-up step failed; the message says which and why."""


@dataclass(frozen=True)
class Tool:
    """One command that computes the next version, and the target relgate must meet."""

    name: str
    requirement: str | None  # the PyPI requirement; None for relgate itself
    executable: str
    args: tuple[str, ...]
    target_ratio: float | None = None  # relgate's median must be at most this times the tool's

    @property
    def venv(self) -> Path:
        return VENVS_DIR / self.name

    @property
    def bin_dir(self) -> Path:
        if self.requirement is None:
            # relgate runs from the project's virtual environment, normally the
            # one running this script.
            here = Path(sys.executable).parent
            if (here / self.executable).exists():
                return here
            return PROJECT_DIR / ".venv" / "bin"
        return self.venv / "bin"

    @property
    def path(self) -> Path:
        return self.bin_dir / self.executable

    def command(self) -> list[str]:
        return [str(self.path), *self.args]

    def shown(self) -> str:
        return " ".join([self.executable, *self.args])


RELGATE = Tool("relgate", None, "relgate", ("version", "--json"))
PEERS = (
    # git-cliff's binary is called directly: `git cliff` only adds git's
    # dispatcher in front of it, which would count against the peer.
    Tool(
        "git-cliff",
        "git-cliff==2.14.2",
        "git-cliff",
        ("--bumped-version", "--unreleased"),
        target_ratio=0.5,
    ),
    Tool("commitizen", "commitizen==4.19.3", "cz", ("bump", "--get-next"), target_ratio=0.5),
    Tool(
        "python-semantic-release",
        "python-semantic-release==10.7.0",
        "semantic-release",
        ("--noop", "version", "--print"),
        target_ratio=0.1,
    ),
)
ALL_TOOLS = {tool.name: tool for tool in (RELGATE, *PEERS)}


@dataclass
class Measurement:
    """The timed runs of one tool on one repository."""

    tool: Tool
    repo: str
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)
    answer: str | None = None
    failure: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median_cpu(self) -> float:
        return statistics.median(self.cpu_seconds)


# --- the generated repositories ---------------------------------------------------------


def _message(rng: random.Random, *, old: bool) -> str:
    """A commit message: conventional, with no breaking change unless ``old`` draws one."""
    if old and rng.random() < 0.04:
        # Older history is less tidy: a few messages no parser understands.
        return f"Update {rng.choice(OBJECTS)}\n"
    ctype = rng.choices(list(TYPE_WEIGHTS), weights=list(TYPE_WEIGHTS.values()))[0]
    scope = rng.choice(SCOPES)
    if scope == "deps" and ctype not in ("chore", "fix"):
        # Dependency bots write chore(deps) and fix(deps); nobody writes docs(deps).
        scope = None
    breaking = old and rng.random() < 0.005
    header = ctype + (f"({scope})" if scope else "")
    if breaking and rng.random() < 0.5:
        header += "!"
    header += f": {rng.choice(VERBS)} {rng.choice(OBJECTS)}"
    paragraphs = [header]
    if rng.random() < 0.3:
        words = rng.choices(BODY_WORDS, k=rng.randint(8, 40))
        paragraphs.append(" ".join(words).capitalize() + ".")
    footers = []
    if breaking:
        footers.append("BREAKING CHANGE: the old form of this setting is no longer read.")
    if rng.random() < 0.15:
        name, email = rng.choice(AUTHORS)
        footers.append(
            rng.choice(
                [
                    f"Refs: #{rng.randint(1, 9000)}",
                    f"Reviewed-by: {name} <{email}>",
                    f"Co-authored-by: {name} <{email}>",
                    f"Closes #{rng.randint(1, 9000)}",
                ]
            )
        )
    if footers:
        paragraphs.append("\n".join(footers))
    return "\n\n".join(paragraphs) + "\n"


def _data(payload: bytes) -> bytes:
    return b"data %d\n%s\n" % (len(payload), payload)


def _fast_import_stream(older: int, since: int, *, control: bool) -> Iterator[bytes]:
    """fast-import commands for ``older`` commits, the tag, then ``since`` commits."""
    rng = random.Random(SEED)
    total = older + since
    # At least one feat after the tag, whatever the draw, so the answer is 1.3.0.
    forced_feat = older + 1 + since // 2
    for mark in range(1, total + 1):
        name, email = AUTHORS[rng.randrange(len(AUTHORS))]
        when = BASE_TIMESTAMP + mark * SECONDS_BETWEEN_COMMITS + rng.randrange(300)
        if mark == 1:
            message = "chore: add release tooling configuration\n"
        elif control and mark == older + 1:
            message = (
                "feat(api)!: drop the v0 endpoints\n\n"
                "BREAKING CHANGE: the /v0 routes are gone; clients use /api/v1.\n"
            )
        elif mark == forced_feat:
            message = "feat(flags): add gradual rollout by tenant\n"
        else:
            message = _message(rng, old=mark <= older)
        ident = f"{name} <{email}> {when} +0000".encode()
        chunk = [
            b"commit refs/heads/main\n",
            b"mark :%d\n" % mark,
            b"author " + ident + b"\n",
            b"committer " + ident + b"\n",
            _data(message.encode()),
        ]
        if mark > 1:
            chunk.append(b"from :%d\n" % (mark - 1))
        if mark == 1:
            for path, text in CONFIG_FILES.items():
                chunk.append(f"M 100644 inline {path}\n".encode())
                chunk.append(_data(text.encode()))
        else:
            path = f"src/module_{mark % 40:02d}.txt"
            chunk.append(f"M 100644 inline {path}\n".encode())
            chunk.append(_data(f"revision {mark}\n".encode()))
        chunk.append(b"\n")
        yield b"".join(chunk)
        if mark == older:
            tagger = f"Release Bot <release@example.com> {when + 60} +0000".encode()
            yield b"".join(
                [
                    f"tag {TAG}\n".encode(),
                    b"from :%d\n" % mark,
                    b"tagger " + tagger + b"\n",
                    _data(f"Release {TAG.removeprefix('v')}\n".encode()),
                ]
            )
    yield b"done\n"


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, stdout=subprocess.DEVNULL)


def ensure_repo(label: str, older: int, since: int, *, control: bool = False) -> Path:
    """The path of the generated repository, built now unless a complete one is cached.

    Raises BenchError when git fails to build it.
    """
    key_source = json.dumps(
        [GENERATOR_REVISION, SEED, TAG, older, since, control, CONFIG_FILES], sort_keys=True
    )
    key = hashlib.sha256(key_source.encode()).hexdigest()[:12]
    repo = REPOS_DIR / f"{label}-{older}-{since}-{key}"
    complete = repo.with_name(repo.name + ".complete")
    if complete.exists() and (repo / ".git").is_dir():
        print(f"  {label}: cached at {repo.relative_to(PROJECT_DIR)}", flush=True)
        return repo
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    started = time.perf_counter()
    try:
        _git(repo, "init", "--quiet", "--initial-branch=main")
        importer = subprocess.Popen(
            ["git", "-C", str(repo), "fast-import", "--quiet", "--done"],
            stdin=subprocess.PIPE,
        )
        assert importer.stdin is not None
        with importer.stdin:
            for chunk in _fast_import_stream(older, since, control=control):
                importer.stdin.write(chunk)
        if importer.wait() != 0:
            raise BenchError(f"git fast-import failed building {repo}")
        # One pack, as a fresh clone has; then a work tree for the tools' config files.
        _git(repo, "repack", "-a", "-d", "-q")
        _git(repo, "reset", "--hard", "--quiet", "main")
        # python-semantic-release reads the remote's address (it never contacts it here).
        _git(repo, "remote", "add", "origin", REMOTE_URL)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"could not build {repo}: {exc}") from exc
    complete.write_text(f"{older} older commits, {since} since {TAG}\n")
    elapsed = time.perf_counter() - started
    print(
        f"  {label}: built {older + since:,} commits ({since:,} since {TAG}) in {elapsed:.1f} s",
        flush=True,
    )
    return repo


# --- the peers' virtual environments ----------------------------------------------------


def ensure_installed(tool: Tool, *, skip_install: bool) -> None:
    """Install ``tool`` into its own virtual environment unless it is already there.

    Raises BenchError when it is missing and ``skip_install`` is set, or when pip fails.
    """
    if tool.requirement is None:
        if not tool.path.exists():
            raise BenchError(
                f"relgate is not installed at {tool.path}; run `make bench` or "
                "`pip install -e .` in the project's .venv"
            )
        return
    stamp = tool.venv / ".bench-requirement"
    if tool.path.exists() and stamp.exists() and stamp.read_text().strip() == tool.requirement:
        print(f"  {tool.name}: {tool.requirement} already in {tool.venv.relative_to(PROJECT_DIR)}")
        return
    if skip_install:
        raise BenchError(
            f"{tool.name} ({tool.requirement}) is not installed in {tool.venv}; "
            "run once without --skip-install"
        )
    print(f"  {tool.name}: installing {tool.requirement} ...", flush=True)
    log = VENVS_DIR / f"{tool.name}.pip.log"
    try:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(tool.venv)], check=True)
        # pip's chatter goes to a log, shown only when the install fails.
        with log.open("w") as output:
            subprocess.run(
                [
                    str(tool.venv / "bin" / "python"),
                    "-m",
                    "pip",
                    "install",
                    "--disable-pip-version-check",
                    tool.requirement,
                ],
                check=True,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
    except (OSError, subprocess.CalledProcessError) as exc:
        raise BenchError(f"could not install {tool.requirement} (see {log}): {exc}") from exc
    if not tool.path.exists():
        raise BenchError(f"{tool.requirement} installed no {tool.executable} in {tool.bin_dir}")
    stamp.write_text(tool.requirement + "\n")


# --- running and timing -----------------------------------------------------------------


def _environment(tool: Tool) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(tool.bin_dir) + os.pathsep + env.get("PATH", "")
    env.pop("VIRTUAL_ENV", None)
    # Plain output for every tool, so that none pays for colours or a pager.
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    env["GIT_PAGER"] = "cat"
    # Every tool runs as it would once installed: with its bytecode cached. A
    # session that sets PYTHONDONTWRITEBYTECODE would make the Python tools
    # recompile their sources on every run (relgate's are an editable install).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def compile_bytecode() -> None:
    """Write the bytecode of relgate's sources, as installing a package does."""
    import compileall

    compileall.compile_dir(str(PROJECT_DIR / "src" / "relgate"), quiet=1)


@dataclass(frozen=True)
class Run:
    seconds: float
    cpu_seconds: float
    returncode: int
    stdout: str
    stderr: str


def run_once(tool: Tool, repo: Path) -> Run:
    """Run ``tool`` in ``repo`` once and return its wall and CPU time and its output.

    The CPU time (user + system, the tool and every process it waited for)
    is much less sensitive than wall time to other work on the machine.
    """
    env = _environment(tool)
    command = tool.command()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(
        command,
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(seconds, cpu, done.returncode, done.stdout, done.stderr)


def extract_version(stdout: str) -> str | None:
    """The next version a tool printed (JSON or plain text), without a leading ``v``."""
    text = stdout.strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        for key in ("next_version", "next", "version", "new_version"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("version")
            if isinstance(value, str) and (match := SEMVER.fullmatch(value.strip())):
                return match.group(1)
    matches = SEMVER.findall(text)
    return matches[-1] if matches else None


def _describe_failure(run: Run) -> str:
    lines = [line for line in (run.stderr + "\n" + run.stdout).splitlines() if line.strip()]
    tail = " | ".join(lines[-3:]) if lines else "no output"
    return f"exit {run.returncode}: {tail}"


def _snapshot(repo: Path) -> dict[str, tuple[int, int]]:
    """Every file in ``repo`` (work tree and .git) with its size and mtime."""
    files: dict[str, tuple[int, int]] = {}
    for path in repo.rglob("*"):
        if path.is_file():
            stat = path.stat()
            files[str(path.relative_to(repo))] = (stat.st_size, stat.st_mtime_ns)
    return files


def _written(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]) -> list[str]:
    # git refreshes .git/index on its own; that is not a cached answer.
    ignored = {".git/index", ".git/index.lock"}
    return sorted(p for p in after if before.get(p) != after[p] and p not in ignored)


def warm_up(tool: Tool, repo: Path, label: str) -> Measurement:
    """Run ``tool`` once untimed, record its answer, and warn if it wrote into the repo."""
    measurement = Measurement(tool, label)
    before = _snapshot(repo)
    run = run_once(tool, repo)
    written = _written(before, _snapshot(repo))
    if written:
        print(
            f"  WARNING: {tool.name} wrote into the repository (a cache would flatter "
            f"its later runs): {', '.join(written[:5])}",
            flush=True,
        )
    if run.returncode != 0:
        measurement.failure = _describe_failure(run)
    else:
        measurement.answer = extract_version(run.stdout)
        if measurement.answer is None:
            measurement.failure = f"printed no version: {run.stdout.strip()[:200]!r}"
    return measurement


def measure(tools: Sequence[Tool], repo: Path, label: str, runs: int) -> list[Measurement]:
    """Warm each tool up once, then time ``runs`` rounds, the tools taking turns.

    Taking turns spreads any drift of the machine over all tools alike.
    """
    measurements = []
    for tool in tools:
        measurement = warm_up(tool, repo, label)
        shown = measurement.answer if measurement.failure is None else measurement.failure
        print(f"  {tool.name:<24} warm-up: {shown}", flush=True)
        measurements.append(measurement)
    for round_number in range(1, runs + 1):
        timings = []
        for measurement in measurements:
            if measurement.failure is not None:
                continue
            run = run_once(measurement.tool, repo)
            if run.returncode != 0:
                measurement.failure = _describe_failure(run)
                continue
            answer = extract_version(run.stdout)
            if answer != measurement.answer:
                measurement.failure = f"answered {answer} after {measurement.answer}"
                continue
            measurement.seconds.append(run.seconds)
            measurement.cpu_seconds.append(run.cpu_seconds)
            timings.append(f"{measurement.tool.name} {run.seconds:.3f}s")
        shown = ", ".join(timings) or "no tool left to time"
        print(f"  round {round_number}/{runs}: {shown}", flush=True)
    return measurements


def check_answers(measurements: Sequence[Measurement], expected: str, label: str) -> bool:
    """Print each tool's answer; return whether all ran and all gave ``expected``."""
    agreed = True
    for measurement in measurements:
        if measurement.failure is not None:
            print(f"  {measurement.tool.name:<24} FAILED: {measurement.failure}")
            agreed = False
        elif measurement.answer != expected:
            print(
                f"  {measurement.tool.name:<24} answered {measurement.answer}  "
                f"<<< WRONG: the {label} repository's history calls for {expected}"
            )
            agreed = False
        else:
            print(f"  {measurement.tool.name:<24} answered {measurement.answer}")
    if not agreed:
        answers = sorted({str(m.answer) for m in measurements if m.failure is None})
        if len(answers) > 1:
            headline = f"The tools DISAGREE on the {label} repository: {', '.join(answers)}"
        else:
            headline = f"Not every tool gave {expected} on the {label} repository"
        print()
        print("!" * 78)
        print(f"!!! {headline} (expected {expected}).")
        print("!" * 78)
    return agreed


# --- the report -------------------------------------------------------------------------


def _table(rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table, padded so that it also reads well in a terminal."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append("| " + " | ".join(cells) + " |")
        if index == 0:
            lines.append("| " + " | ".join("-" * width for width in widths) + " |")
    return "\n".join(lines)


def _verdict(met_by_median: bool, met_by_min: bool) -> str:
    if met_by_median and met_by_min:
        return "MET"
    if met_by_median or met_by_min:
        # Noise decided it: one statistic meets the target, the other does not.
        return "MISSED (" + ("median" if met_by_median else "min") + " only meets it)"
    return "MISSED"


def report(large: Sequence[Measurement], small: Sequence[Measurement]) -> str:
    """The results table: medians, minimums, relgate's ratios to each peer and the verdicts.

    A target is MET only when both relgate's median and its minimum meet it: on
    a busy machine the median alone can flatter whichever tool was luckier.
    """
    relgate = next((m for m in large if m.tool is RELGATE and m.seconds), None)
    rows = [
        [
            "tool",
            "repo",
            "median s",
            "min s",
            "cpu s",
            "relgate / tool (median)",
            "relgate / tool (min)",
            "relgate / tool (cpu)",
            "target",
            "verdict",
        ]
    ]
    for measurement in [*large, *small]:
        tool = measurement.tool
        if not measurement.seconds:
            rows.append([tool.name, measurement.repo, *["-"] * 7, "NOT MEASURED"])
            continue
        by_median = by_min = by_cpu = target = verdict = "-"
        if tool is RELGATE and measurement.repo == "small":
            target = f"< {SMALL_REPO_TARGET_S:.2f} s"
            verdict = _verdict(
                measurement.median < SMALL_REPO_TARGET_S, measurement.best < SMALL_REPO_TARGET_S
            )
        elif tool.target_ratio is not None and measurement.repo == "large":
            target = f"≤ {tool.target_ratio:g}×"
            if relgate is None:
                verdict = "PENDING (relgate not measured)"
            else:
                median_ratio = relgate.median / measurement.median
                min_ratio = relgate.best / measurement.best
                by_median = f"{median_ratio:.3f}×"
                by_min = f"{min_ratio:.3f}×"
                by_cpu = f"{relgate.median_cpu / measurement.median_cpu:.3f}×"
                verdict = _verdict(
                    median_ratio <= tool.target_ratio, min_ratio <= tool.target_ratio
                )
        rows.append(
            [
                tool.name,
                measurement.repo,
                f"{measurement.median:.3f}",
                f"{measurement.best:.3f}",
                f"{measurement.median_cpu:.3f}",
                by_median,
                by_min,
                by_cpu,
                target,
                verdict,
            ]
        )
    return _table(rows)


# --- the command line -------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _tool_list(text: str) -> list[Tool]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in ALL_TOOLS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown tool(s) {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(ALL_TOOLS)}"
        )
    return [ALL_TOOLS[name] for name in ALL_TOOLS if name in names]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The parsed options; argparse exits with status 2 and a message on bad ones."""
    parser = argparse.ArgumentParser(
        prog="bench/versioning.py",
        description="Time `relgate version` against git-cliff, commitizen and "
        "python-semantic-release on a generated repository.",
    )
    parser.add_argument(
        "--commits-since-tag",
        type=_positive,
        default=20_000,
        help="conventional commits after the tag v1.2.3 (default 20000)",
    )
    parser.add_argument(
        "--older-commits",
        type=_positive,
        default=30_000,
        help="commits up to and including the tagged one (default 30000)",
    )
    parser.add_argument(
        "--runs", type=_positive, default=5, help="timed runs per tool, after one warm-up"
    )
    parser.add_argument(
        "--tools",
        type=_tool_list,
        default=list(ALL_TOOLS.values()),
        help=f"comma-separated subset of: {', '.join(ALL_TOOLS)} (default all)",
    )
    parser.add_argument(
        "--skip-install",
        action="store_true",
        help="use the peers' virtual environments as they are; fail if one is missing",
    )
    parser.add_argument(
        "--skip-control",
        action="store_true",
        help="skip the control run (breaking change just after the tag: all must say 2.0.0)",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; return the exit status (0 ok, 1 failure or disagreement, 2 set-up)."""
    args = parse_args(argv)
    tools: list[Tool] = args.tools
    print(f"relgate versioning benchmark: {', '.join(t.name for t in tools)}", flush=True)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"load average at the start: {load} (1, 5, 15 min)", flush=True)
    if os.getloadavg()[0] > (os.cpu_count() or 1) / 2:
        print("  note: the machine is busy; the timings will be noisy", flush=True)
    try:
        print("tools:", flush=True)
        for tool in tools:
            ensure_installed(tool, skip_install=args.skip_install)
        compile_bytecode()
        print("repositories:", flush=True)
        large = ensure_repo("large", args.older_commits, args.commits_since_tag)
        small = ensure_repo("small", SMALL_OLDER_COMMITS, SMALL_COMMITS_SINCE_TAG)
        control = None
        if not args.skip_control:
            control = ensure_repo(
                "control", args.older_commits, args.commits_since_tag, control=True
            )
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    ok = True
    if control is not None:
        print(f"control: breaking change right after {TAG}; every tool must say 2.0.0", flush=True)
        checks = [warm_up(tool, control, "control") for tool in tools]
        ok &= check_answers(checks, EXPECTED_CONTROL, "control")

    commits = args.older_commits + args.commits_since_tag
    print(
        f"large repository: {commits:,} commits, {args.commits_since_tag:,} since {TAG}; "
        f"{args.runs} timed runs each after a warm-up",
        flush=True,
    )
    large_results = measure(tools, large, "large", args.runs)
    ok &= check_answers(large_results, EXPECTED, "large")

    small_results: list[Measurement] = []
    print(
        f"small repository: {SMALL_OLDER_COMMITS + SMALL_COMMITS_SINCE_TAG} commits, "
        f"{SMALL_COMMITS_SINCE_TAG} since {TAG}",
        flush=True,
    )
    small_results = measure(tools, small, "small", args.runs)
    ok &= check_answers(small_results, EXPECTED, "small")

    print()
    # Other work on the machine shows up in the timings; the load average says how much.
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (1, 5, 15 min) at the end")
    print("commands (cwd = the generated repository):")
    for tool in tools:
        print(f"  {tool.name:<24} {tool.shown()}  [{tool.requirement or 'this project'}]")
    print()
    print(report(large_results, small_results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
