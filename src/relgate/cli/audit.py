"""relgate audit: read the trail, verify its hash chain and signed checkpoints, write one.

``verify --checkpoints SOURCE`` fetches the whole chain and recomputes it here,
then checks every checkpoint's signature with a key the user pins
(``--public-key``) and that its (seq, hash) is in the chain: nothing the server
says is taken on trust, except the key when none is pinned (a warning says so).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import when as _when

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from relgate.audit.chain import AuditEvent
    from relgate.cli.client import Client

audit_app = typer.Typer(
    help="Read and verify the hash-chained audit trail and its signed checkpoints.",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")

# events fetched per request while verifying the chain here
_PAGE = 5000


@audit_app.command("verify")
def audit_verify(
    checkpoints: Annotated[
        str | None,
        typer.Option(
            "--checkpoints",
            metavar="SOURCE",
            help="Signed checkpoints to verify against: a checkpoint file, a git repository of "
            "the git sink, or an http(s) URL serving the JSON lines. Catches removed newest "
            "events and a re-hashed chain.",
            show_default=False,
        ),
    ] = None,
    public_key: Annotated[
        list[Path] | None,
        typer.Option(
            "--public-key",
            metavar="FILE",
            help="The server's public key (PEM) kept earlier; repeat for several. Without it "
            "the key is asked from the server, which a tampered server can fake.",
            show_default=False,
        ),
    ] = None,
    expect_head: Annotated[
        str | None,
        typer.Option(
            "--expect-head",
            help="The head hash noted earlier: also catches events deleted from the end.",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Recompute the audit hash chain; exit 1 and list the problems when it is not intact."""
    from relgate.errors import BadInput

    if checkpoints is None:
        if public_key:
            raise BadInput("--public-key is used with --checkpoints SOURCE")
        _verify_on_server(expect_head, url, token, json_output)
        return
    if expect_head is not None:
        raise BadInput("--expect-head and --checkpoints are two ways of one check: give one")
    _verify_with_checkpoints(checkpoints, public_key or [], url, token, json_output)


def _verify_on_server(
    expect_head: str | None, url: str | None, token: str | None, json_output: bool
) -> None:
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        report = client.get("/api/v1/audit/verify", params={"expect_head": expect_head})
    if json_output:
        print_json(report)
    elif report["intact"]:
        _out(escape(f"audit trail intact: {report['events']} events, head {report['head']}"))
    else:
        _out(escape(f"audit trail NOT intact ({report['events']} events):"))
        for problem in report["problems"]:
            _out(escape(f"  {problem}"))
    if not report["intact"]:
        raise typer.Exit(1)


def _verify_with_checkpoints(
    source: str, key_files: list[Path], url: str | None, token: str | None, json_output: bool
) -> None:
    from relgate.audit.sources import read_source
    from relgate.audit.verification import verify_with_checkpoints
    from relgate.cli.output import escape, print_json, warn

    pinned = _pinned_keys(key_files)
    found, line_problems = read_source(source)
    with _client(url, token) as client:
        keys = pinned or _server_key(client)
        events = _whole_chain(client)
    if not pinned:
        warn(
            "the public key came from the server itself: keep a copy "
            "(`relgate audit public-key > key.pem`) and pass --public-key key.pem"
        )
    report = verify_with_checkpoints(events, found, keys)
    problems = [*report.all_problems, *line_problems]
    intact = not problems
    head = report.chain.head
    document = {
        "intact": intact,
        "events": report.chain.events,
        "head": head,
        "checkpoints": report.checkpoints,
        "verified": report.verified,
        "newest_checkpoint": report.newest_checkpoint,
        "first_bad_event": report.first_bad_event,
        "rewritten_after": report.rewritten_after,
        "keys": sorted(keys),
        "key_pinned": bool(pinned),
        "problems": problems,
    }
    if json_output:
        print_json(document)
    elif intact:
        _out(
            escape(
                f"audit trail intact: {report.chain.events} events, head {head}; "
                f"{report.verified} checkpoints verified, the newest of event "
                f"{report.newest_checkpoint} (key {', '.join(sorted(keys))})"
            )
        )
        last = events[-1].seq if events else 0
        if report.newest_checkpoint is not None and last > report.newest_checkpoint:
            _out(
                escape(
                    f"  events {report.newest_checkpoint + 1} to {last} are newer than "
                    "the newest checkpoint"
                )
            )
    else:
        _out(
            escape(
                f"audit trail NOT intact ({report.chain.events} events, "
                f"{report.checkpoints} checkpoints in {source}):"
            )
        )
        for problem in problems:
            _out(escape(f"  {problem}"))
        if report.first_bad_event is not None:
            _out(escape(f"first missing or differing event: {report.first_bad_event}"))
    if not intact:
        raise typer.Exit(1)


def _pinned_keys(files: list[Path]) -> dict[str, Ed25519PublicKey]:
    from relgate.audit.keys import key_id, load_public_key
    from relgate.errors import BadInput

    keys: dict[str, Ed25519PublicKey] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise BadInput(f"public key file {path} cannot be read: {exc.strerror}") from None
        key = load_public_key(data, where=f"public key file {path}")
        keys[key_id(key)] = key
    return keys


def _server_key(client: Client) -> dict[str, Ed25519PublicKey]:
    from relgate.audit.keys import key_id, load_public_key

    answer = client.get("/api/v1/audit/public-key")
    key = load_public_key(str(answer["public_key"]).encode(), where=f"the key of {client.url}")
    return {key_id(key): key}


def _whole_chain(client: Client) -> list[AuditEvent]:
    from relgate.audit.chain import AuditEvent
    from relgate.errors import ExternalError

    events: list[AuditEvent] = []
    while True:
        after = events[-1].seq if events else 0
        page = client.get("/api/v1/audit/chain", params={"after": after, "limit": _PAGE})
        try:
            events.extend(
                AuditEvent(
                    seq=int(item["seq"]),
                    actor=str(item["actor"]),
                    action=str(item["action"]),
                    subject=str(item["subject"]),
                    before=item["before"],
                    after=item["after"],
                    at=datetime.fromisoformat(str(item["at"])),
                    prev_hash=str(item["prev_hash"]),
                    hash=str(item["hash"]),
                )
                for item in page
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExternalError(
                f"{client.url} answered the audit chain with an event that is not one: {exc}"
            ) from None
        if len(page) < _PAGE:
            return events


@audit_app.command("list")
def audit_list(
    subject: Annotated[
        str | None,
        typer.Option(
            "--subject",
            help="Only subjects starting with this, e.g. release/payments@ or deployment/7.",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        str | None,
        typer.Option("--service", help="Only events about this service.", show_default=False),
    ] = None,
    environment: Annotated[
        str | None,
        typer.Option(
            "--environment", help="Only events about this environment.", show_default=False
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only events by this actor.", show_default=False)
    ] = None,
    action: Annotated[
        str | None,
        typer.Option(
            "--action",
            help="Only this action (flag.killed), or every action starting with it if it ends "
            "with a dot (flag.).",
            show_default=False,
        ),
    ] = None,
    before: Annotated[
        int | None,
        typer.Option(
            "--before",
            min=1,
            help="Only events older than this seq (the next page).",
            show_default=False,
        ),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10000, help="How many.")] = 100,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List audit events, newest first."""
    from relgate.cli.output import print_json, print_table, table

    params = {
        "subject": subject,
        "service": service,
        "environment": environment,
        "actor": actor,
        "action": action,
        "before": before,
        "limit": limit,
    }
    with _client(url, token) as client:
        events = client.get(
            "/api/v1/audit", params={k: v for k, v in params.items() if v is not None}
        )
    if json_output:
        print_json(events)
        return
    if not events:
        _out("no audit events")
        return
    rows = [[e["seq"], _when(e.get("at")), e["actor"], e["action"], e["subject"]] for e in events]
    print_table(table(["seq", "when", "actor", "action", "subject"], rows))


@audit_app.command("checkpoint")
def audit_checkpoint(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """Write a signed checkpoint of the chain's head now and copy it to every sink (admin).

    Exit 1 when a sink did not take it (the server tries again later).
    """
    from relgate.cli.output import escape, print_json, print_table, table

    with _client(url, token) as client:
        answer: dict[str, Any] = client.post("/api/v1/audit/checkpoints")
    failed = [s for s in answer["sinks"] if s["error"]]
    if json_output:
        print_json(answer)
    else:
        checkpoint = answer["checkpoint"]
        if checkpoint is None:
            _out("no audit events yet: nothing to checkpoint")
        elif answer["written"]:
            _out(
                escape(
                    f"checkpoint written: event {checkpoint['seq']}, hash {checkpoint['hash']}, "
                    f"key {checkpoint['key_id']}"
                )
            )
        else:
            _out(escape(f"no new events since the checkpoint of event {checkpoint['seq']}"))
        if answer["sinks"]:
            rows = [[s["sink"], s["delivered_seq"], s["error"] or "ok"] for s in answer["sinks"]]
            print_table(table(["sink", "has up to event", "status"], rows))
        else:
            _out("no sinks configured (RELGATE_AUDIT_SINKS): the checkpoint stays in the database")
    if failed:
        raise typer.Exit(1)


@audit_app.command("public-key")
def audit_public_key(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """Print the server's public key (PEM) that signs checkpoints; keep it for --public-key."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        answer = client.get("/api/v1/audit/public-key")
    if json_output:
        print_json(answer)
        return
    import sys

    sys.stdout.write(str(answer["public_key"]))
    sys.stdout.flush()
