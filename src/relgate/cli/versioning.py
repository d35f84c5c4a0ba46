"""relgate version / relgate changelog."""

from __future__ import annotations

from relgate.cli.main import app


@app.command("about", hidden=True)
def about() -> None:
    """Print relgate's own version."""
    from relgate import __version__

    print(__version__)
