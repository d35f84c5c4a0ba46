"""The real ``unleash-proxy-client`` npm package, installed once into a cache outside the checkout.

``proxy_client()`` runs ``npm install unleash-proxy-client@VERSION`` into
``$RELGATE_TEST_NPM_CACHE`` (default: ``<tmp>/relgate-test-npm``) the first
time, under a file lock (parallel test processes install it once), and then
finds it there: later runs cost nothing. Nothing is written into the checkout.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

PROXY_CLIENT_VERSION = os.environ.get("RELGATE_TEST_PROXY_CLIENT_VERSION", "3.8.2")
NPM_TIMEOUT_SECONDS = 300


def cache_root() -> Path:
    return Path(
        os.environ.get("RELGATE_TEST_NPM_CACHE") or Path(tempfile.gettempdir()) / "relgate-test-npm"
    )


def proxy_client() -> Path:
    """Return the folder whose ``node_modules`` holds unleash-proxy-client (installed if needed).

    Fails the test (not skips) when node or npm is missing or the install fails.
    """
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing: the frontend SDK tests need Node 20 and npm")
    folder = cache_root() / f"unleash-proxy-client-{PROXY_CLIENT_VERSION}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = folder / "node_modules" / "unleash-proxy-client" / "package.json"
    with (folder / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _installed(manifest):
            return folder
        (folder / "package.json").write_text('{"name": "relgate-test-npm", "private": true}\n')
        result = subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--no-save",
                f"unleash-proxy-client@{PROXY_CLIENT_VERSION}",
            ],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=NPM_TIMEOUT_SECONDS,
            check=False,
        )
        if result.returncode != 0 or not _installed(manifest):
            pytest.fail(
                f"npm install unleash-proxy-client@{PROXY_CLIENT_VERSION} failed "
                f"({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
    return folder


def _installed(manifest: Path) -> bool:
    try:
        return bool(json.loads(manifest.read_text())["version"] == PROXY_CLIENT_VERSION)
    except (OSError, ValueError, KeyError):
        return False
