"""The browser tier: Playwright driving Debian's Chromium against a real `relgate serve`.

``chromium`` is one headless Chromium (``/usr/bin/chromium``, which `make test`
installs with apt when it is missing) for the whole session. ``web`` is a real
server of the test module (SQLite in a temporary folder) with helpers to
prepare state through the REST API, as a CI job or a person would. ``browser_page``
is a fresh browser context (no cookies) per test; after the test, whatever it
passed or failed, a screenshot of the page is saved under
``test-artifacts/browser/`` (CI keeps the folder as an artifact).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.e2e.control.conftest import start_server, stop_server

CHROMIUM = os.environ.get("RELGATE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# how long the page may take to show what a test waits for (a bound, not a measure)
SHOWN_WITHIN_MS = 20_000


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    path = shutil.which(CHROMIUM) or CHROMIUM
    if not Path(path).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `make test` installs Debian's chromium "
            "(or apt-get install chromium)"
        )
    # --no-sandbox: CI runs as root, where Chromium's sandbox does not start
    browser = playwright.chromium.launch(
        executable_path=path, headless=True, args=["--no-sandbox", "--disable-gpu"]
    )
    yield browser
    browser.close()


@dataclass
class Web:
    """A running server: its URL, the first admin token, its folder; REST helpers."""

    url: str
    admin: str
    workdir: Path

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        expect: int | None = None,
        **kw: Any,
    ) -> Any:
        """Call the REST API (as admin unless ``token``); fail on an unexpected answer."""
        response = httpx.request(
            method,
            self.url + path,
            headers={"Authorization": f"Bearer {token or self.admin}"},
            timeout=30,
            **kw,
        )
        if expect is not None:
            assert response.status_code == expect, f"{method} {path}: {response.text}"
        else:
            assert response.is_success, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    def token(self, name: str, role: str, **scope: Any) -> str:
        """Create a token (``services=[...]``, ``environments=[...]``, ``emails=[...]``)."""
        body = {"name": name, "role": role, **scope}
        return str(self.api("POST", "/api/v1/tokens", json=body)["token"])


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    workdir = tmp_path_factory.mktemp("relgate-web")
    proc, url, admin = start_server(workdir)
    try:
        yield Web(url, admin, workdir)
    finally:
        stop_server(proc)


@pytest.fixture
def browser_page(chromium: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(SHOWN_WITHIN_MS)
    try:
        yield page
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.nodeid)[-150:]
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
        finally:
            context.close()


def sign_in(page: Page, web: Web, token: str, path: str = "/") -> None:
    """Sign in through the sign-in form and land on ``path``."""
    page.goto(web.url + path)
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(re.escape(web.url + path.split("?", maxsplit=1)[0]) + r"(\?.*)?$"))
