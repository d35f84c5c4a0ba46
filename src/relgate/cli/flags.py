"""relgate flags …: feature flags on the relgate server."""

from __future__ import annotations

import contextlib

import typer

from relgate.cli.main import app

flags_app = typer.Typer(
    help="Feature flags: create, toggle, roll out, kill, import/export, lint.",
    no_args_is_help=True,
)
app.add_typer(flags_app, name="flags")

# `relgate flags lint` lives in its own module
with contextlib.suppress(ImportError):
    from relgate.cli import flags_lint  # noqa: F401
