"""relgate admin recover: mint an admin token on the server's machine, without a token."""

from __future__ import annotations

from typing import Annotated

import typer

from relgate.cli.main import app

admin_app = typer.Typer(
    help="Commands run on the server's machine, against its database.", no_args_is_help=True
)
app.add_typer(admin_app, name="admin")


@admin_app.command("recover")
def admin_recover(
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            help="The new token's name [default: admin-recovered-<time>].",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Mint a new admin token straight in the database and print it once.

    For when every admin token is lost: it needs what the server needs
    (RELGATE_DATABASE_URL, default relgate.db in the working folder), not a
    token, so only who can reach the database can run it. Audited as
    admin.recovered.
    """
    import sys

    from relgate.bootstrap import build, check_schema
    from relgate.config import Settings

    settings = Settings.from_env()
    _refuse_a_missing_sqlite_file(settings.database_url)
    check_schema(settings)
    services = build(settings)
    try:
        info, secret = services.tokens.recover_admin(name)
    finally:
        services.uow.engine.dispose()
    print(
        f"relgate: minted the admin token {info.name!r} (audited as admin.recovered); "
        "it is shown only this once:",
        file=sys.stderr,
    )
    print(secret)


def _refuse_a_missing_sqlite_file(url: str) -> None:
    """Raise BadInput when ``url`` is a SQLite file that does not exist.

    Recovering into a new, empty file would print a token no server knows.
    """
    from pathlib import Path

    from sqlalchemy.engine import make_url

    from relgate.errors import BadInput
    from relgate.store.db import normalise_url

    parsed = make_url(normalise_url(url))
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return
    if parsed.database != ":memory:" and not Path(parsed.database).exists():
        raise BadInput(
            f"no relgate database at {parsed.database}: run this in the server's working "
            "folder or set RELGATE_DATABASE_URL to the server's database"
        )
