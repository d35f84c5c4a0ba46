"""relgate notify add|list|remove|status|retry: who hears about deployments, and how it went.

Only Typer is imported at module level (see relgate.cli.control).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg
from relgate.cli.options import when as _when
from relgate.errors import BadInput

notify_app = typer.Typer(
    help="Notifications: Slack and webhook subscribers (admin), delivery status and retry.",
    no_args_is_help=True,
)
app.add_typer(notify_app, name="notify")

KINDS = ("slack", "webhook")


@notify_app.command("add")
def notify_add(
    kind: Annotated[str, typer.Argument(metavar="slack|webhook", help="The receiver's kind.")],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The subscriber's name.")],
    url_of_receiver: Annotated[
        str, typer.Option("--url", help="The receiver's http(s) URL (Slack: the incoming webhook).")
    ],
    secret: Annotated[
        str | None,
        typer.Option(
            "--secret", help="A webhook's HMAC-SHA256 key, held by the server.", show_default=False
        ),
    ] = None,
    secret_env: Annotated[
        str | None,
        typer.Option(
            "--secret-env",
            metavar="VAR",
            help="Or: the server's variable holding the key (read at each delivery).",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option("--service", help="Only events of this service (repeat).")
    ] = None,
    environment: Annotated[
        list[str] | None, typer.Option("--env", help="Only events of this environment (repeat).")
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="Only this event type, e.g. deployment.failed (repeat)."),
    ] = None,
    url: Annotated[
        str | None,
        typer.Option(
            "--server",
            help="The relgate server [env RELGATE_URL; else the `relgate login` file].",
            show_default=False,
        ),
    ] = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Add a subscriber (admin): it hears the events committed from now on.

    Webhooks get CloudEvents JSON signed with HMAC-SHA256 (docs/notifications.md);
    Slack gets a Block Kit message. The secret is never shown back.
    """
    from relgate.cli.output import escape, print_json

    if kind not in KINDS:
        raise BadInput(f"kind {kind!r}: give slack or webhook")
    body: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "url": url_of_receiver,
        "secret": secret,
        "secret_env": secret_env,
        "services": service or [],
        "environments": environment or [],
        "events": event or [],
    }
    with _client(url, token) as client:
        answer = client.post("/api/v1/notify/subscribers", json=body)
    if json_output:
        print_json(answer)
        return
    _out(escape(f"added {kind} subscriber {name}: {_filters(answer)}"))


@notify_app.command("list")
def notify_list(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """List the subscribers (URLs shortened, secrets never shown)."""
    from relgate.cli.output import print_json, print_table, table

    with _client(url, token) as client:
        subscribers = client.get("/api/v1/notify/subscribers")
    if json_output:
        print_json(subscribers)
        return
    if not subscribers:
        _out("no subscribers: `relgate notify add slack|webhook NAME --url ...`")
        return
    print_table(
        table(
            ["name", "kind", "url", "hears", "secret", "created"],
            [
                [
                    s["name"],
                    s["kind"],
                    s["url"],
                    _filters(s),
                    s.get("secret") or "-",
                    f"{_when(s.get('created_at'), seconds=False)} by {s.get('created_by')}",
                ]
                for s in subscribers
            ],
        )
    )


@notify_app.command("remove")
def notify_remove(
    name: Annotated[str, typer.Argument(metavar="NAME")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Remove a subscriber (admin); its undelivered notifications are dropped."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.delete(f"/api/v1/notify/subscribers/{_seg(name)}")
    if json_output:
        print_json(answer)
        return
    _out(escape(f"removed subscriber {name}"))


@notify_app.command("status")
def notify_status(
    dead: Annotated[bool, typer.Option("--dead", help="Only the dead letters.")] = False,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=200, help="Dead letters shown at most.")
    ] = 50,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show the backlog, each subscriber's deliveries by state, and dead letters."""
    from relgate.cli.output import escape, print_json, print_table, table

    with _client(url, token) as client:
        answer = client.get(
            "/api/v1/notify/status", params={"dead": str(dead).lower(), "limit": limit}
        )
    if json_output:
        print_json(answer)
        return
    backlog = answer["backlog"]
    _out(
        escape(
            f"backlog: {backlog['events_to_fan_out']} events to fan out, "
            f"{backlog['pending']} deliveries pending, {backlog['delivering']} delivering"
        )
    )
    if answer["subscribers"]:
        print_table(
            table(
                ["subscriber", "kind", "pending", "delivering", "delivered", "dead"],
                [
                    [s["name"], s["kind"], s["pending"], s["delivering"], s["delivered"], s["dead"]]
                    for s in answer["subscribers"]
                ],
            )
        )
    if not answer["dead"]:
        _out("no dead letters")
        return
    print_table(
        table(
            ["id", "subscriber", "event", "subject", "attempts", "since", "last error"],
            [
                [
                    d["id"],
                    d["subscriber"],
                    d["type"],
                    d["subject"],
                    d["attempts"],
                    _when(d.get("since")),
                    d.get("last_error") or "-",
                ]
                for d in answer["dead"]
            ],
            title="dead letters (relgate notify retry ID | --all-dead)",
        )
    )


@notify_app.command("retry")
def notify_retry(
    delivery_id: Annotated[
        int | None,
        typer.Argument(metavar="[ID]", min=1, help="A delivery's id (notify status --dead)."),
    ] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Every dead delivery.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Send dead deliveries again (admin), their attempts counted from zero."""
    from relgate.cli.output import print_json

    if (delivery_id is None) == (not all_dead):
        raise BadInput("give a delivery ID or --all-dead (not both)")
    with _client(url, token) as client:
        answer = client.post(
            "/api/v1/notify/retry", json={"delivery_id": delivery_id, "all_dead": all_dead}
        )
    if json_output:
        print_json(answer)
        return
    _out(f"queued {answer['queued']} deliveries again")


def _filters(view: dict[str, Any]) -> str:
    parts = []
    for key, label in (
        ("services", "services"),
        ("environments", "environments"),
        ("events", "events"),
    ):
        values = view.get(key) or []
        if values:
            parts.append(f"{label} {', '.join(values)}")
    return "; ".join(parts) or "every event"
