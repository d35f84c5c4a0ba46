"""relgate serve / relgate db upgrade."""

from __future__ import annotations

from typing import Annotated

import typer

from relgate.cli.main import app

db_app = typer.Typer(help="Manage relgate's own database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@app.command("serve")
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on [env RELGATE_HOST; 127.0.0.1].")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port [env RELGATE_PORT; 8700].")] = None,
) -> None:
    """Start the relgate server: REST API, health, workers.

    The store is the SQLite file relgate.db in the working folder unless
    RELGATE_DATABASE_URL names another (postgresql://user@host/db). On SQLite the
    schema is created and upgraded on start; on PostgreSQL `serve` refuses an
    out-of-date schema and says to run `relgate db upgrade`. On the very first
    start an admin token is created and printed once.

    On SIGTERM (or Ctrl-C) it stops taking requests and claiming jobs, gives
    running deployments RELGATE_SHUTDOWN_GRACE_SECONDS (30) to finish, then
    cancels them (recorded failed: "cancelled: relgate shut down") and exits 0.
    """
    import sys
    from dataclasses import replace

    import uvicorn

    from relgate.api.app import create_app
    from relgate.bootstrap import build, check_schema
    from relgate.config import Settings

    settings = Settings.from_env()
    settings = replace(
        settings, host=host or settings.host, port=port if port is not None else settings.port
    )
    check_schema(settings)
    services = build(settings)
    first = services.tokens.ensure_first_admin()
    if first is not None:
        print(
            "relgate: created the first admin token; it is shown only this once:\n\n"
            f"    {first}\n\n"
            f"  relgate login http://{settings.host}:{settings.port} --token {first}\n",
            file=sys.stderr,
            flush=True,
        )
    print(
        f"relgate: serving on http://{settings.host}:{settings.port} "
        f"(database {_safe_url(settings.database_url)})",
        file=sys.stderr,
        flush=True,
    )
    application = create_app(services)
    # everything built so far lives as long as the process: keep it out of the
    # collector's generations so full collections stay short (bench/RESULTS.md)
    import gc

    gc.collect()
    gc.freeze()
    _exit_cleanly_on_sigterm()
    uvicorn.run(
        application,
        host=settings.host,
        port=settings.port,
        log_level="warning",
        access_log=False,
        # an SDK's open event stream must not hold a shutdown for minutes
        timeout_graceful_shutdown=5,
    )


def _exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM end the process with exit code 0 once uvicorn has shut down.

    uvicorn catches SIGTERM while it serves, shuts down (the lifespan stops the
    workers: grace, then cancel), restores the handler found before it started
    and raises the signal again. The handler installed here turns that into a
    clean exit, so a supervisor (systemd, Kubernetes) sees a graceful stop. A
    SIGTERM before uvicorn starts exits at once: nothing runs yet.
    """
    import signal
    import sys

    def _exit(_signum: int, _frame: object) -> None:
        sys.exit(0)

    signal.signal(signal.SIGTERM, _exit)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable>"


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply relgate's schema migrations to RELGATE_DATABASE_URL (default relgate.db)."""
    from relgate.config import Settings
    from relgate.store import db

    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    engine.dispose()
    if before == after:
        print(f"schema already at {after}")
    else:
        print(f"schema upgraded from {before or 'empty'} to {after}")


@db_app.command("status")
def db_status() -> None:
    """Print the schema revision of the database and the one relgate needs; exit 1 if behind."""
    from relgate.config import Settings
    from relgate.store import db

    settings = Settings.from_env()
    engine = db.make_engine(settings.database_url)
    current = db.current_revision(engine)
    head = db.head_revision()
    engine.dispose()
    print(f"database: {current or 'empty'}; relgate needs: {head}")
    if current != head:
        raise typer.Exit(1)
