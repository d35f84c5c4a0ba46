"""Pipeline commands: apply relgate.yaml, review revisions that weaken protection, deployers.

``relgate apply`` stores the pipeline; a revision that weakens a protected
environment, applied by a token that is not an admin's, is pending: the command
prints what it weakens and exits 1, and the rules in force stay.
``relgate pipeline pending|show|approve|reject`` review such revisions (approver
role; not the applier, not the author). ``relgate deployers add|list|show|remove``
manage the deployers a protected environment may use (admin).

Only Typer is imported at module level (see relgate.cli.control).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg
from relgate.cli.options import when as _when
from relgate.errors import BadInput

pipeline_app = typer.Typer(
    help="Review pipeline revisions that weaken a protected environment.", no_args_is_help=True
)
deployers_app = typer.Typer(
    help="Deployers registered on the server, which protected environments use (admin).",
    no_args_is_help=True,
)
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(deployers_app, name="deployers")

ServiceArgument = Annotated[str, typer.Argument(metavar="SERVICE", help="The service.")]
RevisionArgument = Annotated[
    int, typer.Argument(metavar="REVISION", min=1, help="The pipeline revision.")
]
CommentOption = Annotated[str, typer.Option("--comment", help="Why, for the audit.")]


def _git_author(file: Path) -> str | None:
    """Return ``Name <email>`` of the last commit that changed ``file``, or None outside git."""
    folder = file.resolve().parent
    try:
        done = subprocess.run(
            ["git", "log", "-1", "--format=%an <%ae>", "--", file.resolve().name],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    author = done.stdout.strip()
    return author if done.returncode == 0 and author else None


def _print_changes(changes: list[dict[str, str]], mark: str) -> None:
    from relgate.cli.output import escape

    for change in changes:
        _out(f"  {mark} " + escape(change["message"]))


@app.command("apply")
def apply(
    file: Annotated[
        Path, typer.Option("--file", "-f", help="The relgate.yaml declaring the pipeline.")
    ] = Path("relgate.yaml"),
    author: Annotated[
        str | None,
        typer.Option(
            "--author",
            help="Who wrote the change (they may not approve it); default: the author of the "
            "last git commit that changed the file.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Validate relgate.yaml here, then store it on the server as the service's pipeline.

    Errors name the file, line and field (exit 2) and nothing is sent. Applying
    an unchanged file creates no new revision. A change that weakens a
    protected environment, from a token that is not an admin's, is stored as
    pending review: what it weakens is printed and the command exits 1.
    """
    from relgate.cli.output import escape, info, print_json
    from relgate.manifest.pipeline import load_pipeline

    pipeline = load_pipeline(file)
    body = {"source": pipeline.source, "file": str(file), "author": author or _git_author(file)}
    with _client(url, token) as client:
        answer: dict[str, Any] = client.post("/api/v1/pipelines", json=body)
    pending = answer.get("status") == "pending"
    if json_output:
        print_json(answer)
        if pending:
            raise typer.Exit(1)
        return
    for revision in answer.get("superseded") or []:
        _out(escape(f"pending revision {revision} of {answer['service']} is superseded"))
    if pending:
        _out(escape(f"revision {answer['revision']} weakens protection:"))
        _print_changes(answer.get("weakens") or [], "-")
        if answer.get("tightens"):
            _out("and tightens:")
            _print_changes(answer["tightens"], "+")
        info(f"[red]pending:[/red] {escape(answer['message'])}")
        raise typer.Exit(1)
    _out(escape(answer.get("message") or f"applied revision {answer['revision']}"))
    if answer.get("changed") and answer.get("weakens"):
        _out("it weakens protection (recorded in the audit trail):")
        _print_changes(answer["weakens"], "-")
    if answer.get("changed") and answer.get("tightens"):
        _out("it tightens protection:")
        _print_changes(answer["tightens"], "+")


# ---------------------------------------------------------------------------- review


def _print_revision(revision: dict[str, Any]) -> None:
    from relgate.cli.output import escape

    line = (
        f"{revision['service']} revision {revision['revision']}: {revision['status']}, applied by "
        f"{revision['applied_by']} at {_when(revision.get('applied_at'))}"
    )
    if revision.get("author"):
        line += f", written by {revision['author']}"
    _out(escape(line))
    if revision.get("reviewed_by"):
        comment = revision.get("review_comment") or ""
        _out(
            escape(f"  reviewed by {revision['reviewed_by']}" + (f": {comment}" if comment else ""))
        )
    if revision.get("weakens"):
        _out("  weakens:")
        _print_changes(revision["weakens"], "  -")
    if revision.get("tightens"):
        _out("  tightens:")
        _print_changes(revision["tightens"], "  +")


@pipeline_app.command("pending")
def pending(
    service: Annotated[
        str | None, typer.Argument(metavar="[SERVICE]", help="Only this service.")
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the revisions waiting for an approver, with what each weakens."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        revisions = client.get("/api/v1/pipelines/pending", params={"service": service})
    if json_output:
        print_json(revisions)
        return
    if not revisions:
        _out("no pipeline revision waits for review")
        return
    for revision in revisions:
        _print_revision(revision)
        _out(
            escape(
                f"  in force: revision {revision.get('in_force')}; approve with "
                f"`relgate pipeline approve {revision['service']} {revision['revision']}`"
            )
        )


@pipeline_app.command("show")
def show(
    service: ServiceArgument,
    revision: RevisionArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one revision: its status, review, what it weakens and tightens, and its source."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.get(f"/api/v1/services/{_seg(service)}/pipeline/revisions/{revision}")
    if json_output:
        print_json(answer)
        return
    _print_revision(answer)
    _out(escape(answer.get("source") or ""))


def _decide(
    service: str, revision: int, decision: str, comment: str, url: str | None, token: str | None
) -> dict[str, Any]:
    path = f"/api/v1/services/{_seg(service)}/pipeline/revisions/{revision}/{decision}"
    with _client(url, token) as client:
        answer: dict[str, Any] = client.post(path, json={"comment": comment})
    return answer


@pipeline_app.command("approve")
def approve(
    service: ServiceArgument,
    revision: RevisionArgument,
    comment: CommentOption = "",
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Approve a pending revision: it takes effect (approver; not its applier or author)."""
    from relgate.cli.output import escape, print_json

    answer = _decide(service, revision, "approve", comment, url, token)
    if json_output:
        print_json(answer)
        return
    _out(escape(f"approved {service} pipeline revision {revision}: it is in force now"))


@pipeline_app.command("reject")
def reject(
    service: ServiceArgument,
    revision: RevisionArgument,
    comment: CommentOption = "",
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Reject a pending revision: the revision in force stays (approver)."""
    from relgate.cli.output import escape, print_json

    answer = _decide(service, revision, "reject", comment, url, token)
    if json_output:
        print_json(answer)
        return
    _out(
        escape(
            f"rejected {service} pipeline revision {revision}; "
            f"revision {answer.get('in_force')} stays in force"
        )
    )


# ---------------------------------------------------------------------------- deployers


def _pairs(values: list[str], option: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name:
            raise BadInput(f"{option} {value!r}: give NAME=VALUE")
        out[name] = rest
    return out


def _gitops_settings(
    given: dict[str, Any],
    *,
    health_url: str | None,
    argocd: tuple[str | None, str | None, str | None],
    health_timeout: float | None,
) -> dict[str, Any]:
    """The ``gitops`` settings of a registered deployer from the options given (the server
    validates them)."""
    settings = {name: value for name, value in given.items() if value is not None}
    argocd_url, application, token_env = argocd
    timeout = {"timeout_seconds": health_timeout} if health_timeout is not None else {}
    if health_url is not None and argocd_url is not None:
        raise BadInput("give --health-url or --argocd-url, not both")
    if health_url is not None:
        settings["health"] = {"type": "http", "url": health_url, **timeout}
    elif argocd_url is not None or application is not None or token_env is not None:
        if not (argocd_url and application and token_env):
            raise BadInput(
                "an Argo CD health check needs --argocd-url, --argocd-app and --argocd-token-env"
            )
        settings["health"] = {
            "type": "argocd",
            "url": argocd_url,
            "application": application,
            "token_env": token_env,
            **timeout,
        }
    return settings


@deployers_app.command("add")
def deployers_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="relgate.yaml says {ref: NAME}.")],
    command: Annotated[
        str | None,
        typer.Option(
            "--command",
            help="--type command: the deploy command, run by /bin/sh -c.",
            show_default=False,
        ),
    ] = None,
    kind: Annotated[
        str, typer.Option("--type", help="The kind of deployer: command, kubernetes or gitops.")
    ] = "command",
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.001, help="Seconds before the deploy command fails.")
    ] = 300,
    verify_command: Annotated[
        str | None,
        typer.Option(
            "--verify-command",
            help="Run after a deploy when the environment has no `verify:` of its own.",
            show_default=False,
        ),
    ] = None,
    verify_timeout: Annotated[
        float, typer.Option("--verify-timeout", min=0.001, help="Seconds for the verify command.")
    ] = 60,
    cwd: Annotated[
        str | None,
        typer.Option("--cwd", help="Working folder, relative to the server's.", show_default=False),
    ] = None,
    run_as: Annotated[
        str | None,
        typer.Option(
            "--run-as",
            help="OS user the commands run as (the server runs as root).",
            show_default=False,
        ),
    ] = None,
    env: Annotated[
        list[str] | None, typer.Option("--env", help="NAME=VALUE set for the commands (repeat).")
    ] = None,
    env_allow: Annotated[
        list[str] | None,
        typer.Option("--env-allow", help="A variable of the server passed on by name (repeat)."),
    ] = None,
    secret: Annotated[
        list[str] | None,
        typer.Option("--secret", help="NAME=VALUE held by the server, never shown (repeat)."),
    ] = None,
    secret_env: Annotated[
        list[str] | None,
        typer.Option(
            "--secret-env",
            help="NAME=SERVERVAR: NAME gets the value of the server's SERVERVAR (repeat).",
        ),
    ] = None,
    workload: Annotated[
        str | None,
        typer.Option(
            "--workload",
            help="kubernetes: the workload (default: the service's name).",
            show_default=False,
        ),
    ] = None,
    workload_kind: Annotated[
        str | None,
        typer.Option(
            "--kind",
            help="kubernetes: Deployment (default), StatefulSet or DaemonSet.",
            show_default=False,
        ),
    ] = None,
    container: Annotated[
        str | None,
        typer.Option(
            "--container",
            help="kubernetes: the container to set (default: the only one).",
            show_default=False,
        ),
    ] = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            help="kubernetes: the namespace (default: the environment's name).",
            show_default=False,
        ),
    ] = None,
    context: Annotated[
        str | None,
        typer.Option("--context", help="kubernetes: the kubeconfig context.", show_default=False),
    ] = None,
    kubeconfig: Annotated[
        str | None,
        typer.Option(
            "--kubeconfig",
            help="kubernetes: the kubeconfig's path on the server.",
            show_default=False,
        ),
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository",
            help="--type gitops: the config repository (URL or server path).",
            show_default=False,
        ),
    ] = None,
    branch: Annotated[
        str | None,
        typer.Option(
            "--branch",
            help="--type gitops: the branch to push to (default main).",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        str | None,
        typer.Option(
            "--file",
            help="--type gitops: the manifest, relative to the repository root.",
            show_default=False,
        ),
    ] = None,
    manifest_format: Annotated[
        str | None,
        typer.Option(
            "--format", help="--type gitops: kustomize, helm or yaml.", show_default=False
        ),
    ] = None,
    image: Annotated[
        str | None,
        typer.Option(
            "--image",
            help="--type gitops: kustomize: the name of the images: entry.",
            show_default=False,
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="--type gitops: helm/yaml: key path of the full image reference.",
            show_default=False,
        ),
    ] = None,
    repository_key: Annotated[
        str | None,
        typer.Option(
            "--repository-key",
            help="--type gitops: helm/yaml: key path of the name.",
            show_default=False,
        ),
    ] = None,
    digest_key: Annotated[
        str | None,
        typer.Option(
            "--digest-key",
            help="--type gitops: helm/yaml: key path of the digest.",
            show_default=False,
        ),
    ] = None,
    push_retries: Annotated[
        int | None,
        typer.Option("--push-retries", min=0, max=20, help="gitops: rejected pushes retried."),
    ] = None,
    health_url: Annotated[
        str | None,
        typer.Option(
            "--health-url",
            help="--type gitops: health check: an HTTP URL answering 200.",
            show_default=False,
        ),
    ] = None,
    argocd_url: Annotated[
        str | None,
        typer.Option(
            "--argocd-url",
            help="--type gitops: health check: the Argo CD server.",
            show_default=False,
        ),
    ] = None,
    argocd_app: Annotated[
        str | None,
        typer.Option(
            "--argocd-app", help="--type gitops: the Argo CD application.", show_default=False
        ),
    ] = None,
    argocd_token_env: Annotated[
        str | None,
        typer.Option(
            "--argocd-token-env",
            help="--type gitops: the server's variable holding the Argo CD token.",
            show_default=False,
        ),
    ] = None,
    health_timeout: Annotated[
        float | None,
        typer.Option("--health-timeout", min=0.001, help="gitops: seconds for the health check."),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Register a deployer on the server (admin); protected environments deploy only with one.

    `--type command --command C` runs a command; `--type kubernetes --workload W
    [--namespace N --context C --kubeconfig PATH]` sets the workload's image;
    `--type gitops --repository R --file F --format kustomize|helm|yaml` commits the
    image into a manifest and pushes it.
    """
    from relgate.cli.output import escape, print_json

    body = {
        "name": name,
        "type": kind,
        "command": command,
        "timeout_seconds": timeout,
        "verify_command": verify_command,
        "verify_timeout_seconds": verify_timeout,
        "cwd": cwd,
        "run_as": run_as,
        "env": _pairs(env or [], "--env"),
        "env_allow": env_allow or [],
        "secrets": _pairs(secret or [], "--secret"),
        "secret_env": _pairs(secret_env or [], "--secret-env"),
    }
    kube = {
        "workload": workload,
        "kind": workload_kind,
        "container": container,
        "namespace": namespace,
        "context": context,
        "kubeconfig": kubeconfig,
    }
    body.update({key: value for key, value in kube.items() if value is not None})
    if kind == "gitops":
        body["gitops"] = _gitops_settings(
            {
                "repository": repository,
                "branch": branch,
                "file": file,
                "format": manifest_format,
                "image": image,
                "key": key,
                "repository_key": repository_key,
                "digest_key": digest_key,
                "push_retries": push_retries,
                "timeout_seconds": timeout if timeout != 300 else None,
            },
            health_url=health_url,
            argocd=(argocd_url, argocd_app, argocd_token_env),
            health_timeout=health_timeout,
        )
    with _client(url, token) as client:
        answer = client.post("/api/v1/deployers", json=body)
    if json_output:
        print_json(answer)
        return
    _out(escape(f"registered deployer {name}: relgate.yaml uses it as `deployer: {{ref: {name}}}`"))


@deployers_app.command("list")
def deployers_list(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """List the registered deployers (secret names only)."""
    from relgate.cli.output import print_json, print_table, table

    with _client(url, token) as client:
        deployers = client.get("/api/v1/deployers")
    if json_output:
        print_json(deployers)
        return
    if not deployers:
        _out("no deployers registered: `relgate deployers add NAME --command ...`")
        return
    print_table(
        table(
            ["name", "command", "verify", "env allowed", "secrets", "source"],
            [
                [
                    d["name"],
                    _what_runs(d),
                    _command(d.get("verify_command")),
                    ", ".join(d.get("env_allow") or []) or "-",
                    ", ".join([*(d.get("secrets") or []), *(d.get("secret_env") or {})]) or "-",
                    d.get("source", "-"),
                ]
                for d in deployers
            ],
        )
    )


def _kube(definition: dict[str, Any]) -> str:
    kind = (definition.get("kind") or "Deployment").lower()
    where = definition.get("namespace") or "the environment's namespace"
    return f"kubernetes {kind}/{definition.get('workload') or '(the service)'} in {where}"


def _what_runs(definition: dict[str, Any]) -> str:
    """The command of a command deployer; what a kubernetes or gitops one changes."""
    if definition.get("type") == "kubernetes":
        return _kube(definition)
    gitops = definition.get("gitops")
    if isinstance(gitops, dict):
        return f"gitops {gitops.get('repository')} {gitops.get('file')}@{gitops.get('branch')}"
    return _command(definition.get("command"))


def _command(value: Any) -> str:
    if value is None:
        return "-"
    return value if isinstance(value, str) else " ".join(value)


@deployers_app.command("show")
def deployers_show(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one registered deployer (secret names, never their values)."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.get(f"/api/v1/deployers/{_seg(name)}")
    if json_output:
        print_json(answer)
        return
    shown_keys: tuple[str, ...] = ("name", "type", "command", "timeout_seconds")
    if answer.get("type") == "kubernetes":
        shown_keys = (
            "name",
            "type",
            "kind",
            "workload",
            "container",
            "namespace",
            "context",
            "kubeconfig",
            "timeout_seconds",
        )
    shown_keys = (*shown_keys, "verify_command", "cwd", "run_as")
    for key in (*shown_keys, "source"):
        value = answer.get(key)
        shown = _command(value) if key.endswith("command") else ("-" if value is None else value)
        _out(escape(f"{key}: {shown}"))
    _out(
        escape(f"env: {', '.join(f'{k}={v}' for k, v in (answer.get('env') or {}).items()) or '-'}")
    )
    _out(escape(f"env_allow: {', '.join(answer.get('env_allow') or []) or '-'}"))
    _out(escape(f"secrets: {', '.join(answer.get('secrets') or []) or '-'}"))
    secret_env = answer.get("secret_env") or {}
    _out(escape(f"secret_env: {', '.join(f'{k} from {v}' for k, v in secret_env.items()) or '-'}"))
    gitops = answer.get("gitops")
    if isinstance(gitops, dict):
        for key, value in gitops.items():
            if key != "type" and value is not None:
                _out(escape(f"gitops.{key}: {value}"))


@deployers_app.command("remove")
def deployers_remove(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove a registered deployer; pipelines naming it fail their next deployment there."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.delete(f"/api/v1/deployers/{_seg(name)}")
    if json_output:
        print_json(answer)
        return
    _out(escape(f"removed deployer {name}"))
