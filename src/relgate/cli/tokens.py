"""relgate token / relgate identity: API tokens and the identities they belong to (admin).

They talk to a relgate server over its REST API, like the other control-plane
commands; ``relgate admin recover`` (cli/admin.py) is the one that needs the
database instead of a token.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from relgate.auth.model import Role
from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg
from relgate.cli.options import when as _when
from relgate.cli.output import cell, print_rows

token_app = typer.Typer(help="Create, list and revoke API tokens (admin).", no_args_is_help=True)
identity_app = typer.Typer(
    help="The people and robots tokens belong to: names, emails, aliases (admin).",
    no_args_is_help=True,
)
app.add_typer(token_app, name="token")
app.add_typer(identity_app, name="identity")


def _scope(services: list[str] | None, environments: list[str] | None) -> str:
    parts = []
    if services:
        parts.append("services " + ", ".join(services))
    if environments:
        parts.append("environments " + ", ".join(environments))
    return "; ".join(parts) or "everything"


# ---------------------------------------------------------------------------- tokens


@token_app.command("create")
def token_create(
    name: Annotated[
        str, typer.Option("--name", help="Who or what uses it; recorded as the actor.")
    ],
    role: Annotated[
        Role,
        typer.Option(
            "--role",
            help="admin: everything; ci: apply, release, evidence, promote, roll back; "
            "approver: approve and reject; client: feature flags of one environment; "
            "frontend: evaluated flags of one environment for browser and mobile apps "
            "(/api/frontend).",
        ),
    ],
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            help="A client or frontend token: its one environment. Other roles: limit the "
            "token to this environment (repeatable) [default: every environment].",
            show_default=False,
        ),
    ] = None,
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service",
            help="Limit the token to this service (repeatable) [default: every service].",
            show_default=False,
        ),
    ] = None,
    identity: Annotated[
        str | None,
        typer.Option(
            "--identity",
            help="The person or robot it belongs to (name, email or alias); created when "
            "unknown [default: --name].",
            show_default=False,
        ),
    ] = None,
    email: Annotated[
        list[str] | None,
        typer.Option(
            "--email",
            help="An email of the identity, as git writes it in commits (repeatable).",
            show_default=False,
        ),
    ] = None,
    origin: Annotated[
        list[str] | None,
        typer.Option(
            "--origin",
            help="A frontend token: a browser origin allowed to use it (CORS), "
            "scheme://host[:port] or * (repeatable) [default: none, only apps that send "
            "no Origin].",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an API token and print its secret, which is shown this once only.

    The token belongs to an identity (--identity, else its --name), which is
    created when it does not exist yet; separation of duties compares that
    identity's name, aliases and emails with a release's authors. A frontend
    token is public (it ships in a web page): it reads only the evaluated flags
    of its one environment, from the browser origins given with --origin.
    """
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    envs = list(env or [])
    body: dict[str, Any] = {
        "name": name,
        "role": role.value,
        "identity": identity,
        "emails": list(email or []),
        "services": list(service or []),
    }
    if origin:
        body["origins"] = list(origin)
    if role in (Role.CLIENT, Role.FRONTEND):
        if len(envs) != 1:
            raise BadInput(
                f"a {role.value} token is scoped to exactly one environment: pass one --env"
            )
        body["environment"] = envs[0]
    else:
        body["environments"] = envs
    with _client(url, token) as client:
        created = client.post("/api/v1/tokens", json=body)
    if json_output:
        print_json(created)
        return
    scope = (
        f"environment {created['environment']}"
        if created.get("environment")
        else _scope(created.get("services"), created.get("environments"))
    )
    if created.get("origins") is not None:
        scope += "; origins " + (", ".join(created["origins"]) or "none")
    _out(
        escape(
            f"created token {created['name']} (role {created['role']}, identity "
            f"{created.get('identity')}, scope: {scope}); it is shown only once:"
        )
    )
    _out(escape(created["token"]))


@token_app.command("list")
def token_list(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """List API tokens with their identity and scope (never their secrets)."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        tokens = client.get("/api/v1/tokens")
    if json_output:
        print_json(tokens)
        return
    print_rows(
        ["name", "role", "identity", "scope", "created", "by", "revoked"],
        [
            [
                t["name"],
                t["role"],
                cell(t.get("identity")),
                (
                    f"environment {t['environment']}"
                    if t.get("environment")
                    else _scope(t.get("services"), t.get("environments"))
                )
                + (
                    "; origins " + (", ".join(t["origins"]) or "none")
                    if t.get("origins") is not None
                    else ""
                ),
                _when(t.get("created_at")),
                t.get("created_by"),
                "yes" if t.get("revoked") else "no",
            ]
            for t in tokens
        ],
        empty="no tokens",
    )


@token_app.command("revoke")
def token_revoke(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The token's name.")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Revoke a token: every later request with it is refused. The last admin token cannot be."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        answer = client.delete(f"/api/v1/tokens/{_seg(name)}")
    if json_output:
        print_json(answer)
        return
    _out(escape(f"revoked token {name}"))


# ---------------------------------------------------------------------------- identities


@identity_app.command("add")
def identity_add(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The person's or robot's name.")],
    email: Annotated[
        list[str] | None,
        typer.Option("--email", help="An email address (repeatable).", show_default=False),
    ] = None,
    alias: Annotated[
        list[str] | None,
        typer.Option(
            "--alias",
            help="Another name, e.g. as git writes it in commits (repeatable).",
            show_default=False,
        ),
    ] = None,
    robot: Annotated[
        bool, typer.Option("--robot", help="A machine (a CI pipeline), not a person.")
    ] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create an identity, or add emails and aliases to an existing one."""
    from relgate.cli.output import escape, print_json

    body = {
        "name": name,
        "emails": list(email or []),
        "aliases": list(alias or []),
        "kind": "robot" if robot else "person",
    }
    with _client(url, token) as client:
        identity = client.post("/api/v1/identities", json=body)
    if json_output:
        print_json(identity)
        return
    _out(
        escape(
            f"identity {identity['key']}: emails {cell(identity['emails'])}; "
            f"aliases {cell(identity['aliases'])}"
        )
    )


@identity_app.command("list")
def identity_list(
    url: UrlOption = None, token: TokenOption = None, json_output: JsonOption = False
) -> None:
    """List identities with their emails, aliases and live tokens."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        found = client.get("/api/v1/identities")
    if json_output:
        print_json(found)
        return
    print_rows(
        ["identity", "kind", "emails", "aliases", "tokens"],
        [
            [i["key"], i["kind"], cell(i["emails"]), cell(i["aliases"]), cell(i["tokens"])]
            for i in found
        ],
        empty="no identities",
    )


@identity_app.command("show")
def identity_show(
    name: Annotated[str, typer.Argument(metavar="NAME", help="A name, email or alias.")],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show one identity, found by its name, one of its emails or an alias."""
    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        identity = client.get(f"/api/v1/identities/{_seg(name)}")
    if json_output:
        print_json(identity)
        return
    for label, value in (
        ("identity", identity["key"]),
        ("name", identity["name"]),
        ("kind", identity["kind"]),
        ("emails", cell(identity["emails"])),
        ("aliases", cell(identity["aliases"])),
        ("tokens", cell(identity["tokens"])),
        ("created", f"{_when(identity.get('created_at'))} by {identity.get('created_by')}"),
    ):
        _out(escape(f"{label}: {value}"))
