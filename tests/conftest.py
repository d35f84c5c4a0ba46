"""Shared fixtures: every test starts from a clean environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.databases"]


@pytest.fixture(autouse=True)
def _clean_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Drop RELGATE_* and git identity variables; give each test its own HOME."""
    saved = dict(os.environ)
    for key in list(os.environ):
        if key.startswith(("RELGATE_", "GIT_")):
            del os.environ[key]
    home = tmp_path_factory.mktemp("home")
    os.environ["HOME"] = str(home)
    os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
    # git must not read the machine's or the user's configuration
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"
    os.environ["GIT_CONFIG_GLOBAL"] = str(Path(os.devnull))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
