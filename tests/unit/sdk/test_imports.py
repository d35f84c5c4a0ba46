"""The SDK can be used without relgate's server: it imports none of it."""

from __future__ import annotations

import subprocess
import sys

SERVER_MODULES = (
    "relgate.store",
    "relgate.api",
    "relgate.cli",
    "relgate.bootstrap",
    "relgate.config",
    "relgate.promotion",
    "sqlalchemy",
    "fastapi",
    "typer",
    "alembic",
)


def test_importing_the_sdk_and_its_provider_loads_nothing_of_the_server() -> None:
    code = (
        "import sys, relgate.sdk, relgate.sdk.openfeature\n"
        f"print(sorted(m for m in sys.modules if m.startswith({SERVER_MODULES!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    assert result.stdout.strip() == "[]"
