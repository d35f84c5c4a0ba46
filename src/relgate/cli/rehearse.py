"""`relgate rehearse`: a release's rollback, tried in an earlier environment before production.

The command drives the API calls a person would make (promote, roll back, unpin,
promote) and waits for each to verify healthy. What comes next is the server's
answer (GET /api/v1/rehearsals/SERVICE/VERSION), read from the environment's
deployment history, so an interrupted rehearsal goes on where it stopped; at the
end the server audits the rehearsal it found (POST /api/v1/rehearsals). The
rollback_rehearsed gate reads the history itself, not this command's word.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg

if TYPE_CHECKING:
    from relgate.cli.client import Client
    from relgate.errors import RelgateError

_STEPS = {"deploy": 1, "roll back": 2, "redeploy": 3}
_AFTER = {"deploy": "roll back", "roll back": "redeploy", "redeploy": "done"}


@app.command("rehearse")
def rehearse(
    release: Annotated[
        str, typer.Argument(metavar="SERVICE@VERSION", help="The release, e.g. payments@2.0.0.")
    ],
    env: Annotated[
        str,
        typer.Option("--env", help="Where to rehearse, e.g. staging.", show_default=False),
    ],
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=0, help="Give up after this many seconds in all (exit 1)."),
    ] = 1800,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Rehearse a release's rollback: deploy it, roll back, verify, deploy it again.

    In ENV: promote SERVICE@VERSION and wait until it verified; roll back to the
    release stable there before it and wait until that verified healthy; unpin and
    promote the release again, and wait. A rehearsal already under way goes on from
    the step the history shows. A `rollback_rehearsed` gate (`in: ENV`) of a later
    environment then lets a major release in. Needs the rights to promote and roll
    back in ENV. Exit 0 rehearsed (or already), 1 when a step failed or timed out
    (the error names the step and what runs in ENV now), 2 bad input.
    """
    from relgate.releases.model import parse_release_ref

    service, version = parse_release_ref(release)
    deadline = time.monotonic() + timeout
    steps: list[dict[str, Any]] = []
    with _client(url, token) as client:
        finding = _finding(client, service, version, env)
        if finding["rehearsed"]:
            _finish(finding, steps, json_output, already=True)
            return
        if finding["problem"]:
            from relgate.errors import Conflict

            raise Conflict(f"cannot rehearse {release} in {env}: {finding['problem']}")
        if not finding["crosses_major"]:
            _progress(
                f"note: {version} is not a major bump over {finding['rollback_to']}: a "
                "rollback_rehearsed gate does not need (nor count) this rehearsal"
            )
        while finding["next_step"] != "done":
            step = finding["next_step"]
            deployment = _run_step(
                client, finding, (service, version, env), (deadline, timeout), steps, json_output
            )
            steps.append(deployment)
            finding = _finding(client, service, version, env)
            if finding["next_step"] != _AFTER[step]:
                _fail(
                    client,
                    finding,
                    step,
                    None,
                    f"the history of {env} now shows: {finding['progress']} (did another "
                    "deployment run meanwhile?); run `relgate rehearse` again",
                    steps,
                    json_output,
                )
        recorded = client.post(
            "/api/v1/rehearsals",
            json={"service": service, "version": version, "environment": env},
        )
    _finish(recorded, steps, json_output, already=False)


def _finding(client: Client, service: str, version: str, env: str) -> dict[str, Any]:
    found: dict[str, Any] = client.get(
        f"/api/v1/rehearsals/{_seg(service)}/{_seg(version)}", params={"environment": env}
    )
    return found


def _label(step: str, finding: dict[str, Any], service: str, version: str, env: str) -> str:
    if step == "deploy":
        return f"deploy {service}@{version} to {env}"
    if step == "roll back":
        return f"roll {env} back to {finding['rollback_to']}"
    return f"unpin {env} and deploy {service}@{version} again"


def _run_step(
    client: Client,
    finding: dict[str, Any],
    target: tuple[str, str, str],
    clock: tuple[float, float],
    steps: list[dict[str, Any]],
    json_output: bool,
) -> dict[str, Any]:
    """Request one step, wait until it ends; return the succeeded deployment or fail.

    ``clock``: when the whole rehearsal must end (monotonic) and its --timeout.
    """
    from relgate.cli.control import _print_gates, _wait
    from relgate.errors import RelgateError, WaitTimedOut

    service, version, env = target
    deadline, timeout = clock
    step = finding["next_step"]
    label = _label(step, finding, service, version, env)
    _progress(f"step {_STEPS[step]}/3: {label}")
    reason = f"rollback rehearsal of {service}@{version}"
    deployment: dict[str, Any]
    try:
        if step == "roll back":
            deployment = client.post(
                "/api/v1/rollbacks",
                json={
                    "service": service,
                    "environment": env,
                    "reason": reason,
                    "to_version": finding["rollback_to"],
                },
            )
        else:
            if step == "redeploy":
                client.post(f"/api/v1/services/{_seg(service)}/environments/{_seg(env)}/unpin")
            deployment = client.post(
                "/api/v1/deployments",
                json={"service": service, "version": version, "environment": env, "reason": reason},
            )
        deployment = _wait(client, deployment, max(0.0, deadline - time.monotonic()))
    except WaitTimedOut as exc:
        number = deployment["id"]
        text = (
            f"deployment {number} had not ended when --timeout {timeout:g} s ran out; it goes "
            f"on: follow it with `relgate deploy show {number}`"
        )
        _fail(client, finding, step, exc, text, steps, json_output)
    except RelgateError as exc:
        gates = getattr(exc, "gates", None)
        if gates:
            _print_gates(gates)
        _fail(client, finding, step, exc, exc.message, steps, json_output)
    if deployment["state"] != "succeeded":
        outcome = f": {deployment['outcome']}" if deployment.get("outcome") else ""
        _fail(
            client,
            finding,
            step,
            None,
            f"deployment {deployment['id']} ended {deployment['state']}{outcome}",
            [*steps, deployment],
            json_output,
        )
    _progress(f"step {_STEPS[step]}/3 done: deployment {deployment['id']} verified healthy")
    return deployment


def _fail(
    client: Client,
    finding: dict[str, Any],
    step: str,
    cause: RelgateError | None,
    text: str,
    steps: list[dict[str, Any]],
    json_output: bool,
) -> NoReturn:
    """Raise an error naming the step that failed and the state the environment is left in."""
    from relgate.errors import Conflict, GateFailed, RelgateError

    service, version, env = finding["service"], finding["version"], finding["environment"]
    state = _environment_state(client, service, env)
    message = (
        f"rehearsal of {service}@{version} in {env}: step {_STEPS[step]}/3 "
        f"({_label(step, finding, service, version, env)}) failed: {text}; {state}"
    )
    if json_output:
        from relgate.cli.output import print_json

        print_json({"rehearsed": False, "failed_step": step, "steps": steps, "state": state})
    error: RelgateError
    try:
        error = type(cause)(message) if cause is not None else Conflict(message)
    except TypeError:  # an error class that carries more than a message (a gate refusal)
        error = GateFailed(message) if isinstance(cause, GateFailed) else RelgateError(message)
    raise error


def _environment_state(client: Client, service: str, env: str) -> str:
    """``staging now runs 1.4.0 (stable 1.4.0, pinned to 1.4.0)``, as the server says now."""
    from relgate.errors import RelgateError

    try:
        rows = client.get("/api/v1/status", params={"service": service})
    except RelgateError:
        return f"what runs in {env} now could not be read"
    row = next((r for r in rows if r.get("environment") == env), None)
    if row is None:
        return f"{env} has no status"
    parts = [f"stable {row.get('stable') or 'none'}"]
    if row.get("pinned"):
        parts.append(f"pinned to {row['pinned']}: `relgate unpin {service} {env}` to promote")
    if row.get("deploying"):
        parts.append(f"deployment {row['deploying_deployment']} {row['deploying_state']}")
    return f"{env} now runs {row.get('current') or 'nothing'} ({', '.join(parts)})"


def _finish(
    rehearsal: dict[str, Any], steps: list[dict[str, Any]], json_output: bool, *, already: bool
) -> None:
    from relgate.cli.output import escape, print_json

    if json_output:
        print_json({"rehearsed": True, "already": already, "rehearsal": rehearsal, "steps": steps})
        return
    release = f"{rehearsal['service']}@{rehearsal['version']}"
    if (rehearsal.get("rehearsal") or {}).get("recorded_only"):
        _progress(
            f"note: {rehearsal['environment']} deploys with the record deployer: nothing was "
            "deployed, and a rollback_rehearsed gate does not count this rehearsal"
        )
    if already:
        _out(escape(f"{release} was already {rehearsal['summary']}"))
    else:
        _out(escape(f"{release} {rehearsal['summary']}; recorded in the audit trail"))


def _progress(text: str) -> None:
    from relgate.cli.output import console, escape

    console(stderr=True).print(escape(text))
