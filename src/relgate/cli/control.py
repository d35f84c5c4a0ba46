"""Control-plane commands: they talk to a relgate server over its REST API.

login, release, evidence, gates, promote, approve, reject, rollback, unpin,
deploy, status, history (tokens: cli/tokens.py; audit: cli/audit.py; apply:
cli/pipelines.py). Each takes ``--url`` and ``--token`` (else RELGATE_URL /
RELGATE_TOKEN, else the `relgate login` file) and ``--json`` to print the
server's answer for machines. Exit codes: 0 ok, 1 gate failed, conflict or
a deployment that did not succeed, 2 bad input.

Only Typer is imported at module level: httpx, Rich and the manifest models
are imported inside the commands, so ``relgate version`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg
from relgate.cli.options import when as _when
from relgate.cli.output import cell, print_rows
from relgate.promotion.kinds import EvidenceKind
from relgate.promotion.model import FINAL_STATES

if TYPE_CHECKING:
    from relgate.cli.client import Client
    from relgate.releases.authorship import Person

# How often --wait and --follow ask the server; short, since a deployment of a
# small service often ends within a second or two.
POLL_SECONDS = 0.25

ReleaseArgument = Annotated[
    str, typer.Argument(metavar="SERVICE@VERSION", help="The release, e.g. payments@1.4.2.")
]
EnvOption = Annotated[
    str, typer.Option("--env", help="The environment, e.g. production.", show_default=False)
]
TimeoutOption = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0,
        help="With --wait: give up after this many seconds (exit 1); the deployment goes on.",
    ),
]


release_app = typer.Typer(
    help="Register releases (a version bound to one artifact digest) and look at them.",
    no_args_is_help=True,
)
evidence_app = typer.Typer(
    help="Attach reports (tests, coverage, scans...) to a release.", no_args_is_help=True
)
gates_app = typer.Typer(help="Evaluate an environment's gates for a release.", no_args_is_help=True)
deploy_app = typer.Typer(help="Look at, follow or cancel one deployment.", no_args_is_help=True)
app.add_typer(release_app, name="release")
app.add_typer(evidence_app, name="evidence")
app.add_typer(gates_app, name="gates")
app.add_typer(deploy_app, name="deploy")


# ---------------------------------------------------------------------------- helpers


def _release(ref: str) -> tuple[str, str]:
    from relgate.releases.model import parse_release_ref

    return parse_release_ref(ref)


def _print_gates(gates: list[dict[str, Any]]) -> None:
    from relgate.cli.output import escape, gate_status, print_table, table

    rendered = table(["gate", "status", "reason"], [])
    for gate in gates:
        status = str(gate.get("status", "?"))
        rendered.add_row(
            escape(str(gate.get("gate", "?"))), gate_status(status), escape(str(gate.get("reason")))
        )
    print_table(rendered)


def _deployment_line(d: dict[str, Any]) -> str:
    from relgate.cli.output import escape

    return escape(
        f"deployment {d['id']}: {d['service']}@{d['version']} to {d['environment']}: {d['state']}"
        + (f" ({d['outcome']})" if d.get("outcome") else "")
    )


def _approval_hint(d: dict[str, Any]) -> str:
    from relgate.cli.output import escape

    author, requester = d.get("author"), d["requested_by"]
    if author in (None, requester):
        excluded = f"{requester}, who requested it"
    else:
        excluded = f"{author}, its author, and {requester}, who requested it"
    return escape(
        f"deployment {d['id']} waits for approval in {d['environment']}: anyone with the "
        f"approver role except {excluded}, runs `relgate approve {d['service']}@{d['version']} "
        f"--env {d['environment']}`"
    )


class _StateReporter:
    """Shows a deployment's state on stderr: a spinner on a terminal, one line per change in CI."""

    def __init__(self) -> None:
        from relgate.cli.output import console

        self._console = console(stderr=True)
        self._live = self._console.is_terminal
        self._last = ""
        self._status: Any = None

    def __enter__(self) -> _StateReporter:
        if self._live:
            self._status = self._console.status("")
            self._status.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._status is not None:
            self._status.stop()

    def show(self, text: str) -> None:
        if text == self._last:
            return
        self._last = text
        if self._status is not None:
            self._status.update(text)
        else:
            self._console.print(text)

    def say(self, text: str) -> None:
        """Print a line that stays (above the spinner on a terminal)."""
        self._console.print(text)


def _wait(client: Client, deployment: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Poll the deployment until it reaches a final state; return its last view.

    Raises WaitTimedOut after ``timeout`` seconds; the deployment itself goes on.
    """
    import time

    from relgate.errors import WaitTimedOut

    deadline = time.monotonic() + timeout
    announced = False
    with _StateReporter() as reporter:
        while deployment["state"] not in FINAL_STATES:
            if deployment["state"] == "waiting_for_approval" and not announced:
                reporter.say(_approval_hint(deployment))
                announced = True
            reporter.show(_deployment_line(deployment))
            if time.monotonic() >= deadline:
                raise WaitTimedOut(
                    f"deployment {deployment['id']} is still {deployment['state']} after "
                    f"{timeout:g} s; it goes on: follow it with `relgate deploy show "
                    f"{deployment['id']}`"
                )
            time.sleep(POLL_SECONDS)
            deployment = client.get(f"/api/v1/deployments/{deployment['id']}")
        if deployment["state"] == "failed":
            _wait_for_auto_rollback(client, deployment, deadline, reporter)
    return deployment


# How long a failed deployment's auto-rollback may take to be queued by the worker
AUTO_ROLLBACK_QUEUE_SECONDS = 30.0


def _wait_for_auto_rollback(
    client: Client, failed: dict[str, Any], deadline: float, reporter: _StateReporter
) -> None:
    """Where the environment rolls back on failure, wait until that rollback ends too.

    So that `--wait` returns once the environment runs its stable release again, not
    while the rollback is still deploying. Gives up quietly at ``deadline``, or when
    no auto-rollback appears (no stable release to go back to).
    """
    import time

    service, environment = failed["service"], failed["environment"]
    spec = client.get(f"/api/v1/services/{service}/pipeline")["spec"]
    env_spec: dict[str, Any] = next(
        (e for e in spec["environments"] if e["name"] == environment), {}
    )
    if not env_spec.get("auto_rollback"):
        return
    reporter.say(_deployment_line(failed))
    queued_by = min(deadline, time.monotonic() + AUTO_ROLLBACK_QUEUE_SECONDS)
    rollback: dict[str, Any] | None = None
    while rollback is None and time.monotonic() < queued_by:
        history = client.get(
            f"/api/v1/services/{service}/history", params={"environment": environment}
        )
        rollback = next(
            (d for d in history if d["kind"] == "auto-rollback" and d["id"] > failed["id"]),
            None,
        )
        if rollback is None:
            time.sleep(POLL_SECONDS)
    while rollback is not None and rollback["state"] not in FINAL_STATES:
        reporter.show(_deployment_line(rollback))
        if time.monotonic() >= deadline:
            return
        time.sleep(POLL_SECONDS)
        rollback = client.get(f"/api/v1/deployments/{rollback['id']}")
    if rollback is not None:
        reporter.say(_deployment_line(rollback))


def _finish(deployment: dict[str, Any], json_output: bool, done: str | None = None) -> None:
    """Print a final deployment; exit 1 unless it succeeded."""
    from relgate.cli.output import escape, print_json

    succeeded = deployment["state"] == "succeeded"
    if json_output:
        print_json(deployment)
    elif succeeded and done:
        _out(escape(done))
    else:
        _out(_deployment_line(deployment))
    if not succeeded:
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- login


@app.command("login")
def login(
    url: Annotated[
        str, typer.Argument(metavar="URL", help="The relgate server, e.g. http://127.0.0.1:8700.")
    ],
    token: Annotated[
        str,
        typer.Option(
            "--token", prompt=True, hide_input=True, help="API token (asked for when not given)."
        ),
    ],
) -> None:
    """Check a token against the server and store URL and token for later commands.

    The file is $XDG_CONFIG_HOME/relgate/login.json (mode 0600); RELGATE_URL,
    RELGATE_TOKEN and --url/--token take precedence over it.
    """
    from relgate.cli.client import Client
    from relgate.config import write_login

    with Client(url, token) as client:
        me = client.get("/api/v1/whoami")
    path = write_login(client.url, token)
    _out(f"logged in to {client.url} as {me['name']} ({me['role']}); saved to {path}")


# ---------------------------------------------------------------------------- releases


@release_app.command("create")
def release_create(
    service: Annotated[
        str, typer.Argument(metavar="SERVICE", help="The service, as named in relgate.yaml.")
    ],
    version: Annotated[
        str,
        typer.Option(
            "--version",
            help="SemVer version, or 'auto' to compute it from the Conventional Commits of --repo.",
            show_default=False,
        ),
    ],
    artifact: Annotated[
        str,
        typer.Option(
            "--artifact",
            help="The artifact pinned by digest: REF@sha256:<64 hex>. It can never change. "
            "On a registry the server configures, a tag (REF:TAG) is resolved to its digest.",
            show_default=False,
        ),
    ],
    commit: Annotated[
        str | None,
        typer.Option(
            "--commit", help="Git commit of the release [with --version auto: HEAD of --repo]."
        ),
    ] = None,
    changelog_file: Annotated[
        Path | None,
        typer.Option(
            "--changelog-file",
            help="Markdown changelog of the release [with --version auto: rendered from commits].",
        ),
    ] = None,
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            help="Who wrote the change; they cannot approve it [default: the commit's author "
            "when --commit is in --repo, else the token's name].",
        ),
    ] = None,
    author_email: Annotated[
        str | None,
        typer.Option(
            "--author-email",
            help="The author's email [default: the commit's author email when --commit is in "
            "--repo]; Co-authored-by trailers of the commit are recorded too.",
            show_default=False,
        ),
    ] = None,
    repo: Annotated[
        Path, typer.Option("--repo", help="Git repository for --version auto and the authors.")
    ] = Path("."),
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a release: SERVICE at VERSION bound for ever to one artifact digest.

    Creating the same binding again changes nothing (exit 0); the same version
    with another digest is a conflict (exit 1).
    """
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    if not version.strip():
        raise BadInput("--version is empty: give a SemVer version or 'auto'")
    changelog: str | None = None
    if changelog_file is not None:
        changelog = _read_text(changelog_file)
    base: str | None = None
    auto = version == "auto"
    if auto:
        version, head, rendered, base = _auto_version(repo)
        auto = commit is None or commit == head
        base = base if auto else None
        commit = commit or head
        changelog = changelog if changelog is not None else rendered
    co_authors: list[str] = []
    written = _git_authorship(repo, commit) if commit else None
    if written is not None:
        git_author, co_authors = written
        if author is None and author_email is None:
            author, author_email = git_author.name or None, git_author.email or None
    body = {
        "service": service,
        "version": version,
        "artifact": artifact,
        "commit": commit,
        "changelog": changelog,
        "author": author,
        "author_email": author_email,
        "co_authors": co_authors,
    }
    # with --version auto the range starts at the tag the version was computed from
    body.update(_commit_times(repo, commit, base, find_base=not auto))
    with _client(url, token) as client:
        release = client.post("/api/v1/releases", json=body)
    if json_output:
        print_json(release)
        return
    _out(escape(f"release {release['service']}@{release['version']}: {release['artifact']}"))


def _git_authorship(repo: Path, commit: str) -> tuple[Person, list[str]] | None:
    """Return the author and co-authors (``Name <email>``) of ``commit`` in ``repo``.

    None when ``repo`` is not a git repository or does not have the commit: the
    release is then created with what the flags say.
    """
    from relgate.errors import RelgateError
    from relgate.releases.authorship import Person, co_authors_in
    from relgate.versioning.gitlog import GitRepository

    try:
        found = GitRepository.open(repo).authorship(commit)
    except RelgateError:
        return None
    if found is None:
        return None
    name, email, message = found
    return Person(name=name.strip(), email=email.strip()), [str(p) for p in co_authors_in(message)]


def _commit_times(
    repo: Path, commit: str | None, base: str | None, *, find_base: bool
) -> dict[str, Any]:
    """The commits since the previous release tag with their times, for the lead time.

    Empty when ``repo`` is no git repository or lacks the commit: the server then
    measures the release's lead time from fewer data, and says so.
    """
    from relgate import limits
    from relgate.errors import RelgateError
    from relgate.manifest.model import load_manifest
    from relgate.versioning.commit_times import release_commits
    from relgate.versioning.service import tag_format_of

    if not commit:
        return {}
    try:
        manifest = load_manifest(repo / "relgate.yaml")
        # v1.2.3 and, unless relgate.yaml says otherwise, 1.2.3 (as `relgate version` reads them)
        globs = tag_format_of(manifest).ref_globs()
        path = manifest.versioning.path
    except RelgateError:
        globs, path = [], None
    match = [g.removeprefix("refs/tags/") for g in globs if g != "refs/tags/"] or None
    found = release_commits(
        repo,
        commit,
        base=base,
        find_base=find_base,
        match=match,
        path=path,
        limit=limits.RELEASE_COMMITS,
    )
    if found is None:
        return {}
    return {
        "committed_at": found.committed_at.isoformat(),
        "commits": [{"sha": sha, "committed_at": at.isoformat()} for sha, at in found.commits],
        "commit_count": found.count,
    }


def _read_text(path: Path) -> str:
    from relgate.errors import BadInput

    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read: {exc}") from None


def _auto_version(repo: Path) -> tuple[str, str | None, str, str | None]:
    """Return (next version, HEAD, changelog, last release tag) planned from ``repo``.

    Raises BadInput when nothing asks for a release.
    """
    from relgate.errors import BadInput
    from relgate.manifest.model import load_manifest
    from relgate.versioning.service import plan_version, render_changelog

    plan = plan_version(repo, load_manifest(repo / "relgate.yaml"))
    if plan.next is None:
        since = f"since {plan.current_tag}" if plan.current_tag else "in its history"
        raise BadInput(
            f"nothing to release in {plan.root}: no commit {since} asks for a new version "
            "(fix:, feat: or a breaking change); give --version explicitly to release anyway"
        )
    return str(plan.next), plan.head, render_changelog(plan), plan.current_tag


@release_app.command("list")
def release_list(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")],
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many.")] = 50,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List a service's releases, newest first."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        releases = client.get(f"/api/v1/services/{_seg(service)}/releases", params={"limit": limit})
    if json_output:
        print_json(releases)
        return
    print_rows(
        ["version", "artifact", "commit", "author", "created"],
        [
            [
                r["version"],
                r["artifact"],
                cell((r.get("commit") or "")[:12]),
                cell(r.get("author")),
                _when(r.get("created_at")),
            ]
            for r in releases
        ],
        empty=f"no releases of {service}",
    )


@release_app.command("show")
def release_show(
    release: ReleaseArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a release with its evidence."""
    from relgate.cli.output import escape, print_json

    service, version = _release(release)
    with _client(url, token) as client:
        found = client.get(f"/api/v1/releases/{_seg(service)}/{_seg(version)}")
        evidence = client.get(f"/api/v1/releases/{_seg(service)}/{_seg(version)}/evidence")
    if json_output:
        print_json({"release": found, "evidence": evidence})
        return
    for label, key in (
        ("release", None),
        ("artifact", "artifact"),
        ("commit", "commit"),
        ("author", "author"),
        ("co-authors", "co_authors"),
        ("created", "created_at"),
        ("created by", "created_by"),
    ):
        if key is None:
            value = f"{found['service']}@{found['version']}"
        elif key == "author" and found.get("author_email"):
            value = f"{found.get('author') or ''} <{found['author_email']}>".strip()
        elif key == "co_authors":
            value = ", ".join(found.get(key) or []) or "-"
        elif key == "created_at":
            value = _when(found.get(key))
        else:
            value = cell(found.get(key))
        _out(escape(f"{label + ':':<12} {value}"))
    if found.get("changelog"):
        _out("")
        _out(escape(found["changelog"].rstrip()))
    _out("")
    _print_evidence(evidence, empty="no evidence")


@release_app.command("changes")
def release_changes(
    release: ReleaseArgument,
    env: EnvOption,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show what promoting a release into an environment changes there.

    The changelogs of the releases between the version running there and this
    one, grouped as `relgate changelog` groups them, breaking changes first; a
    changelog in another shape is shown as it was registered.
    """
    from relgate.cli.output import escape, print_json

    service, version = _release(release)
    with _client(url, token) as client:
        changes = client.get(
            f"/api/v1/releases/{_seg(service)}/{_seg(version)}/changes", params={"environment": env}
        )
    if json_output:
        print_json(changes)
        return
    _out(escape(changes["summary"]))
    first = changes["direction"] == "first"
    for section in changes["sections"]:
        _out("")
        _out(escape(f"{section['title']}:"))
        for item in section["items"]:
            scope = f"{item['scope']}: " if item.get("scope") else ""
            text = item["text"].replace("\n", "\n    ")
            extra = [x for x in (item.get("commit"), None if first else item.get("version")) if x]
            _out(escape(f"  - {scope}{text}" + (f" ({', '.join(extra)})" if extra else "")))
    for note in changes["unparsed"]:
        _out("")
        _out(escape(f"{note['version']} (its changelog as registered):"))
        _out(escape(note["changelog"].rstrip()))
    if changes.get("more"):
        _out("")
        _out(escape(f"and {changes['more']} older releases of the range, not listed"))


def _print_evidence(evidence: list[dict[str, Any]], *, empty: str) -> None:
    print_rows(
        ["id", "kind", "environment", "file", "summary", "sha256", "by", "added"],
        [
            [
                e["id"],
                e["kind"],
                cell(e.get("environment")),
                e["filename"],
                e["summary"],
                e["sha256"][:12],
                e["created_by"],
                _when(e.get("created_at")),
            ]
            for e in evidence
        ],
        empty=empty,
    )


# ---------------------------------------------------------------------------- evidence


@evidence_app.command("add")
def evidence_add(
    release: ReleaseArgument,
    kind: Annotated[
        EvidenceKind,
        typer.Option(
            "--kind",
            help="tests: JUnit XML; coverage: coverage.py JSON or Cobertura XML; "
            "vulnerabilities: Trivy/Grype JSON or SARIF; smoke: JUnit XML or JSON; "
            "performance, custom: JSON; migrations: `relgate migrations check --json`.",
        ),
    ],
    file: Annotated[Path, typer.Option("--file", help="The report file.", show_default=False)],
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Evidence about one environment (smoke tests there...).",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Attach a report to a release; it is parsed and stored with its digest, for ever.

    A file that cannot be parsed is refused with its name and what is wrong (exit 2).
    """
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    service, version = _release(release)
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{file}: file not found") from None
    except OSError as exc:
        raise BadInput(f"{file}: cannot read: {exc}") from None
    with _client(url, token) as client:
        added = client.post(
            f"/api/v1/releases/{_seg(service)}/{_seg(version)}/evidence",
            params={"kind": kind.value, "filename": file.name, "environment": env},
            content=data,
        )
    if json_output:
        print_json(added)
        return
    where = f" for {env}" if env else ""
    _out(escape(f"added {kind.value} evidence{where} to {release}: {added['summary']}"))


@evidence_app.command("list")
def evidence_list(
    release: ReleaseArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the evidence attached to a release."""
    from relgate.cli.output import print_json

    service, version = _release(release)
    with _client(url, token) as client:
        evidence = client.get(f"/api/v1/releases/{_seg(service)}/{_seg(version)}/evidence")
    if json_output:
        print_json(evidence)
        return
    _print_evidence(evidence, empty=f"no evidence for {release}")


@evidence_app.command("get")
def evidence_get(
    release: ReleaseArgument,
    evidence_id: Annotated[int, typer.Argument(metavar="ID", help="The evidence's id (list).")],
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Where to write the report.", show_default=False),
    ],
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Download a stored report, byte for byte as it was attached."""
    from relgate.cli.output import escape
    from relgate.errors import BadInput

    service, version = _release(release)
    with _client(url, token) as client:
        data = client.content(
            f"/api/v1/releases/{_seg(service)}/{_seg(version)}/evidence/{evidence_id}/report"
        )
    try:
        output.write_bytes(data)
    except OSError as exc:
        raise BadInput(f"{output}: cannot write: {exc}") from None
    _out(escape(f"wrote {len(data)} bytes of evidence {evidence_id} of {release} to {output}"))


# ---------------------------------------------------------------------------- gates, promotion


@gates_app.command("check")
def gates_check(
    release: ReleaseArgument,
    env: EnvOption,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
    markdown: Annotated[
        bool,
        typer.Option("--markdown", help="Print the gate table as Markdown, for a CI job summary."),
    ] = False,
) -> None:
    """Evaluate every gate of an environment for a release, without promoting it.

    Exit 0 when all pass, 1 when any fails or is missing (a missing approval included).
    """
    import sys

    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    if json_output and markdown:
        raise BadInput("--json and --markdown: choose one")
    service, version = _release(release)
    with _client(url, token) as client:
        check = client.get(
            f"/api/v1/releases/{_seg(service)}/{_seg(version)}/gates", params={"environment": env}
        )
    if json_output:
        print_json(check)
    elif markdown:
        from relgate.cli.markdown import gate_table

        sys.stdout.write(gate_table(check))
    else:
        from relgate.cli.markdown import verdict

        _print_gates(check["gates"])
        _out(escape(verdict(check)))
    if not check["passed"]:
        raise typer.Exit(1)


@app.command("promote")
def promote(
    release: ReleaseArgument,
    to: Annotated[str, typer.Option("--to", help="The environment to enter.", show_default=False)],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the history.")] = "",
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the deployment to end; exit 0 only on success.")
    ] = False,
    timeout: TimeoutOption = 1800,
    hotfix: Annotated[
        bool,
        typer.Option(
            "--hotfix",
            help="A fix of what broke production: the same gates, counted as rework by "
            "`relgate metrics delivery`.",
        ),
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Promote a release into an environment; every gate must pass, there is no override.

    On a failing gate the gates are printed and the exit code is 1. An environment
    with an approval gate makes the deployment wait for an approver.
    """
    from relgate.cli.client import GateRefused
    from relgate.cli.output import escape, print_json

    service, version = _release(release)
    body: dict[str, Any] = {
        "service": service,
        "version": version,
        "environment": to,
        "reason": reason,
    }
    if hotfix:
        body["hotfix"] = True
    with _client(url, token) as client:
        try:
            deployment = client.post("/api/v1/deployments", json=body)
        except GateRefused as refused:
            if json_output:
                print_json({"error": {"code": refused.code, "message": refused.message,
                                      "gates": refused.gates}})  # fmt: skip
            else:
                _print_gates(refused.gates)
            raise
        if wait:
            deployment = _wait(client, deployment, timeout)
            _finish(deployment, json_output)
            return
    if json_output:
        print_json(deployment)
        return
    _out(_deployment_line(deployment))
    if deployment["state"] == "waiting_for_approval":
        _out(_approval_hint(deployment))
    else:
        _out(escape(f"follow it with `relgate deploy show {deployment['id']}`"))


def _decide(
    release: str, env: str, decision: str, comment: str, url: str | None, token: str | None
) -> dict[str, Any]:
    service, version = _release(release)
    with _client(url, token) as client:
        answer: dict[str, Any] = client.post(
            "/api/v1/approvals",
            json={
                "service": service,
                "version": version,
                "environment": env,
                "decision": decision,
                "comment": comment,
            },
        )
    return answer


@app.command("approve")
def approve(
    release: ReleaseArgument,
    env: EnvOption,
    comment: Annotated[str, typer.Option("--comment", help="Why, for the audit.")] = "",
    wait: Annotated[
        bool,
        typer.Option("--wait", help="Then wait for the deployment to end; exit 0 only on success."),
    ] = False,
    timeout: TimeoutOption = 1800,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve the deployment of a release waiting in an environment (approver role).

    The release's author and whoever requested the deployment cannot approve it.
    """
    from relgate.cli.output import escape, print_json

    deployment = _decide(release, env, "approve", comment, url, token)
    if wait:
        with _client(url, token) as client:
            deployment = _wait(client, deployment, timeout)
        _finish(deployment, json_output)
        return
    if json_output:
        print_json(deployment)
        return
    _out(escape(f"approved {release} for {env}"))
    _out(_deployment_line(deployment))


@app.command("reject")
def reject(
    release: ReleaseArgument,
    env: EnvOption,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the author and the audit.")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reject the deployment of a release waiting in an environment (approver role)."""
    from relgate.cli.output import escape, print_json

    deployment = _decide(release, env, "reject", reason, url, token)
    if json_output:
        print_json(deployment)
        return
    _out(escape(f"rejected {release} for {env}"))
    _out(_deployment_line(deployment))


@app.command("rollback")
def rollback(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")],
    env: Annotated[str, typer.Argument(metavar="ENV", help="The environment to roll back.")],
    reason: Annotated[
        str, typer.Option("--reason", help="Why; required (but by --dry-run), kept in the history.")
    ] = "",
    to: Annotated[
        str | None,
        typer.Option(
            "--to", help="A version that once succeeded there [default: the stable anchor]."
        ),
    ] = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for the redeploy to end; exit 0 only on success.")
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Only say which version it would deploy now; change nothing."
        ),
    ] = False,
    timeout: TimeoutOption = 1800,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Redeploy a known-good release at once, without gates, and pin the environment to it.

    Promotion into the environment stays refused until `relgate unpin SERVICE ENV`.
    With --dry-run, say which release it would redeploy (exit 1 when it could not now).
    """
    from relgate.cli.output import escape, print_json

    if dry_run:
        if to is not None:
            raise typer.BadParameter("--dry-run tells the version relgate chooses; omit --to")
        _rollback_dry_run(service, env, url, token, json_output)
        return
    body = {"service": service, "environment": env, "reason": reason, "to_version": to}
    with _client(url, token) as client:
        deployment = client.post("/api/v1/rollbacks", json=body)
        if wait:
            deployment = _wait(client, deployment, timeout)
            done = (
                f"rolled back {env} of {service} from {cell(deployment.get('previous_version'))} "
                f"to {deployment['version']}; {env} is pinned to it until "
                f"`relgate unpin {service} {env}`"
            )
            _finish(deployment, json_output, done)
            return
    if json_output:
        print_json(deployment)
        return
    _out(_deployment_line(deployment))
    _out(escape(f"{env} of {service} is pinned to {deployment['version']}"))


def _rollback_dry_run(
    service: str, env: str, url: str | None, token: str | None, json_output: bool
) -> None:
    from relgate.cli.output import escape, print_json

    path = f"/api/v1/services/{_seg(service)}/environments/{_seg(env)}/rollback-target"
    with _client(url, token) as client:
        target = client.get(path)
    possible = target["version"] is not None and not target["blocked"]
    if json_output:
        print_json(target)
    elif target["version"] is None:
        _out(escape(f"no rollback: {target['reason']}"))
    else:
        anchor = " (its stable anchor)" if target["stable"] else ""
        _out(escape(f"a rollback of {env} of {service} would deploy {target['version']}{anchor}"))
        if target["blocked"]:
            _out(escape(f"but not now: {target['blocked']}"))
    if not possible:
        raise typer.Exit(1)


@app.command("unpin")
def unpin(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")],
    env: Annotated[str, typer.Argument(metavar="ENV", help="The environment.")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Let promotions into an environment resume after a rollback pinned it."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.post(f"/api/v1/services/{_seg(service)}/environments/{_seg(env)}/unpin")
    if json_output:
        print_json(answer)
        return
    _out(escape(f"{env} of {service} is no longer pinned"))


# ---------------------------------------------------------------------------- deployments


DeploymentArgument = Annotated[int, typer.Argument(metavar="ID", help="The deployment's id.")]


@deploy_app.command("show")
def deploy_show(
    deployment_id: DeploymentArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a deployment: state, versions, gates and approvals."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        d = client.get(f"/api/v1/deployments/{deployment_id}")
    if json_output:
        print_json(d)
        return
    for label, value in (
        ("deployment", d["id"]),
        ("release", f"{d['service']}@{d['version']}"),
        ("environment", d["environment"]),
        ("kind", d["kind"]),
        ("state", d["state"]),
        ("from", cell(d.get("previous_version"))),
        ("artifact", d["artifact"]),
        ("requested", f"{_when(d.get('created_at'))} by {d['requested_by']}"),
        ("reason", cell(d.get("reason"))),
        ("started", _when(d.get("started_at"))),
        ("finished", _when(d.get("finished_at"))),
        ("outcome", cell(d.get("outcome"))),
    ):
        _out(escape(f"{label + ':':<12} {value}"))
    if d.get("gates"):
        _out("")
        _print_gates(d["gates"])
    for a in d.get("approvals") or []:
        comment = f": {a['comment']}" if a.get("comment") else ""
        _out(escape(f"{a['decision']} by {a['approver']} at {_when(a.get('at'))}{comment}"))


@deploy_app.command("cancel")
def deploy_cancel(
    deployment_id: DeploymentArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why, for the history.")] = "",
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Cancel a deployment.

    One not started (requested or waiting for approval) is cancelled at once. One
    deploying or verifying is stopped by the server running it, which cancels its
    deployer within a heartbeat and records it failed with the reason.
    """
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        d = client.post(f"/api/v1/deployments/{deployment_id}/cancel", json={"reason": reason})
    if json_output:
        print_json(d)
        return
    _out(_deployment_line(d))


@deploy_app.command("logs")
def deploy_logs(
    deployment_id: DeploymentArgument,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing until the deployment ends.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
) -> None:
    """Print a deployment's log (the deployer's and verifier's output)."""
    import sys
    import time

    with _client(url, token) as client:
        path = f"/api/v1/deployments/{deployment_id}"
        printed = 0
        while True:
            # read the state first: a log read after a final state is complete
            state = client.get(path)["state"] if follow else ""
            log = client.text(f"{path}/log")
            sys.stdout.write(log[printed:])
            sys.stdout.flush()
            printed = max(printed, len(log))
            if not follow or state in FINAL_STATES:
                break
            time.sleep(POLL_SECONDS)


# ---------------------------------------------------------------------------- status, history


@app.command("status")
def status(
    service: Annotated[
        str | None,
        typer.Argument(metavar="SERVICE", help="One service [default: every service]."),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show every environment: what runs there, the stable anchor, what is being deployed."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        rows = client.get("/api/v1/status", params={"service": service})
    if json_output:
        print_json(rows)
        return
    print_rows(
        [
            "service",
            "environment",
            "deployer",
            "current",
            "stable",
            "pinned",
            "deploying",
            "last deployment",
        ],
        [
            [
                r["service"],
                r["environment"],
                cell(r.get("deployer")),
                cell(r.get("current")),
                cell(r.get("stable")),
                cell(r.get("pinned")),
                # what is on its way in, apart from what runs (current)
                f"{r['deploying']} #{r['deploying_deployment']} {r['deploying_state']}"
                if r.get("deploying") is not None
                else "-",
                f"#{r['last_deployment']} {r['last_version']} {r['last_state']}"
                if r.get("last_deployment") is not None
                else "-",
            ]
            for r in rows
        ],
        empty="no services yet: apply a relgate.yaml with `relgate apply`",
    )


@app.command("history")
def history(
    service: Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")],
    env: Annotated[
        str | None, typer.Argument(metavar="ENV", help="One environment [default: all].")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many.")] = 50,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List a service's deployments, newest first: who, why, and how it ended."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        rows = client.get(
            f"/api/v1/services/{_seg(service)}/history",
            params={"environment": env, "limit": limit},
        )
    if json_output:
        print_json(rows)
        return
    print_rows(
        [
            "id",
            "when",
            "environment",
            "deployer",
            "kind",
            "version",
            "from",
            "state",
            "who",
            "why / outcome",
        ],
        [
            [
                d["id"],
                _when(d.get("created_at")),
                d["environment"],
                cell(d.get("deployer")),
                d["kind"],
                d["version"],
                cell(d.get("previous_version")),
                d["state"],
                d["requested_by"],
                " / ".join(part for part in (d.get("reason"), d.get("outcome")) if part) or "-",
            ]
            for d in rows
        ],
        empty=f"no deployments of {service} yet",
    )
