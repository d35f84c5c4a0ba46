"""The real unleash-proxy-client's browser build in Chromium against relgate's /api/frontend.

A small page is served from one 127.0.0.1 origin, which the frontend token
lists, and from another (another port), which it does not: the first gets its
flags (and its metrics are stored), the second is refused by CORS.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import httpx
import mmh3
import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Web
from tests.support.npm import proxy_client
from tests.support.server import wait_for

ROLLOUT = "browser-checkout"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>shop</title>
<script src="main.min.js"></script></head>
<body><p id="state">loading</p>
<script>
window.result = (async () => {
  const params = new URLSearchParams(location.search);
  const client = new unleash.UnleashClient({
    url: params.get('api') + '/api/frontend',
    clientKey: params.get('token'),
    appName: 'browser-shop',
    context: { userId: params.get('user') },
    refreshInterval: 0,
    metricsInterval: 0,
  });
  const answer = await new Promise((resolve) => {
    client.on('ready', () => resolve({
      ok: true,
      rollout: client.isEnabled('browser-checkout'),
      variant: client.getVariant('browser-checkout').name,
      toggles: client.getAllToggles().map((t) => t.name).sort(),
    }));
    client.on('error', (e) => resolve({ ok: false, error: String(e && (e.code || e.type)) }));
    client.start();
  });
  if (answer.ok) { await client.sendMetrics(); }
  client.stop();
  document.getElementById('state').textContent = JSON.stringify(answer);
  return answer;
})();
</script></body></html>
"""


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(folder: Path) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("shop-site")
    build = proxy_client() / "node_modules" / "unleash-proxy-client" / "build" / "main.min.js"
    shutil.copy(build, folder / "main.min.js")
    (folder / "index.html").write_text(PAGE)
    return folder


@pytest.fixture(scope="module")
def allowed_origin(site: Path) -> Iterator[str]:
    yield from _serve(site)


@pytest.fixture(scope="module")
def other_origin(site: Path) -> Iterator[str]:
    yield from _serve(site)


def in_rollout(user: str) -> bool:
    return mmh3.hash(f"{ROLLOUT}:{user}", 0, signed=False) % 100 + 1 <= 50


def _open(page: Page, origin: str, web: Web, token: str, user: str) -> dict[str, object]:
    page.goto(f"{origin}/index.html?" + urlencode({"api": web.url, "token": token, "user": user}))
    answer: dict[str, object] = page.evaluate("window.result")
    return answer


def test_the_browser_build_gets_its_flags_from_an_allowed_origin_only(
    web: Web, browser_page: Page, allowed_origin: str, other_origin: str
) -> None:
    web.api("POST", "/api/v1/flags", json={"key": ROLLOUT})
    web.api(
        "POST",
        f"/api/v1/flags/{ROLLOUT}/environments/production/rollout",
        json={"percentage": 50},
    )
    token = web.token(
        "shop-browser", "frontend", environment="production", origins=[allowed_origin]
    )
    inside = next(f"visitor-{i}" for i in range(1000) if in_rollout(f"visitor-{i}"))
    outside = next(f"visitor-{i}" for i in range(1000) if not in_rollout(f"visitor-{i}"))

    assert _open(browser_page, allowed_origin, web, token, inside) == {
        "ok": True,
        "rollout": True,
        "variant": "disabled",
        "toggles": [ROLLOUT],
    }
    assert _open(browser_page, allowed_origin, web, token, outside) == {
        "ok": True,
        "rollout": False,
        "variant": "disabled",
        "toggles": [],
    }
    # the SDK's metrics (a CORS POST of its own) were stored
    usage = wait_for(
        lambda: web.api("GET", f"/api/v1/flags/{ROLLOUT}").get("metrics", {}).get("production")
    )
    assert usage["yes"] >= 1 and usage["no"] >= 1  # type: ignore[index]

    # another origin: the browser refuses the answer (no HTTP status reaches the page)
    messages: list[str] = []
    browser_page.on("console", lambda message: messages.append(message.text))
    refused = _open(browser_page, other_origin, web, token, inside)
    assert refused == {"ok": False, "error": "fetch-toggles"}
    assert any("CORS" in text for text in messages), messages
    direct = httpx.get(
        web.url + "/api/frontend",
        headers={"Authorization": token, "Origin": other_origin},
        timeout=10,
    )
    assert direct.status_code == 403
    assert "access-control-allow-origin" not in direct.headers
