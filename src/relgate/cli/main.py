"""Entry point of the ``relgate`` command.

Subcommands import their implementation inside the function body so that
``relgate version`` does not pay for the server's imports. One error handler
here turns every RelgateError into a message and its exit code; a traceback
is shown only with ``-v``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from relgate.errors import RelgateError

app = typer.Typer(
    name="relgate",
    help="relgate: versions from commits, gated promotion of one artifact, feature flags, "
    "one-command rollback.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

_state = {"verbose": False}


@app.callback()
def _root(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.")
    ] = False,
) -> None:
    _state["verbose"] = verbose


# The module that defines each top-level command. Only that module is imported
# for a run, so `relgate version` does not build the control plane's commands.
_COMMAND_MODULES = {
    "version": "versioning",
    "changelog": "versioning",
    "about": "versioning",
    "serve": "server",
    "db": "server",
    "flags": "flags",
    "token": "tokens",
    "identity": "tokens",
    "admin": "admin",
    "audit": "audit",
    "apply": "pipelines",
    "pipeline": "pipelines",
    "deployers": "pipelines",
    "notify": "notify",
    "metrics": "delivery",
    "incident": "delivery",
    "rehearse": "rehearse",
    "migrations": "migrations",
}
_ALL_MODULES = (
    "versioning",
    "server",
    "control",
    "tokens",
    "admin",
    "flags",
    "audit",
    "pipelines",
    "notify",
    "delivery",
    "rehearse",
    "migrations",
)


def _register(argv: list[str]) -> None:
    """Import the command modules this command line needs (all of them for help)."""
    import importlib

    command = next((arg for arg in argv if not arg.startswith("-")), None)
    modules: tuple[str, ...] = _ALL_MODULES
    if command is not None:
        modules = (_COMMAND_MODULES.get(command, "control"),)
    for name in modules:
        importlib.import_module(f"relgate.cli.{name}")


def run() -> None:
    """Run the CLI; exit with 0 ok, 1 gate failed or conflict, 2 bad input."""
    _register(sys.argv[1:])
    try:
        app()  # standalone: usage errors print themselves and exit 2
    except RelgateError as exc:
        if _state["verbose"]:
            import traceback

            traceback.print_exc()
        print(f"error: {exc.message}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    except Exception as exc:  # the one place an unexpected error is caught
        if _state["verbose"]:
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (run with -v for the traceback)",
            file=sys.stderr,
        )
        sys.exit(1)
