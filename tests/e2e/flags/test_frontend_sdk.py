"""The frontend API of a real `relgate serve`, used by the real unleash-proxy-client in Node 20.

The npm package is installed once into a cache outside the repository
(tests/support/npm.py); a small Node script builds ``UnleashClient`` against
``/api/frontend`` and reports what ``isEnabled`` and ``getVariant`` say for a
user inside and one outside a 50 % rollout, then sends its metrics.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import mmh3
import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.store import db
from tests.support.npm import proxy_client
from tests.support.server import ServerProcess, start_server, wait_for

ADMIN = Principal("tester", Role.ADMIN)
ROLLOUT = "checkout-redesign"
THEME = "theme"

SCRIPT = r"""
const { UnleashClient, InMemoryStorageProvider } = require('unleash-proxy-client');
const [url, clientKey, ...users] = process.argv.slice(1);

async function ask(userId) {
  const client = new UnleashClient({
    url: url + '/api/frontend',
    clientKey,
    appName: 'node-shop',
    context: { userId, properties: { tier: 'premium' } },
    refreshInterval: 0,
    metricsInterval: 0,
    storageProvider: new InMemoryStorageProvider(),
  });
  const errors = [];
  client.on('error', (e) => errors.push(String(e && (e.code || e.type || e))));
  await new Promise((resolve, reject) => {
    client.on('ready', resolve);
    client.on('error', reject);
    client.start();
  });
  const answer = {
    userId,
    rollout: client.isEnabled('checkout-redesign'),
    theme: client.getVariant('theme'),
    off: client.isEnabled('never-on'),
    toggles: client.getAllToggles().map((t) => t.name).sort(),
    errors,
  };
  await client.sendMetrics();
  client.stop();
  return answer;
}

(async () => {
  const answers = [];
  for (const user of users) answers.push(await ask(user));
  process.stdout.write(JSON.stringify(answers));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def in_rollout(user: str, percentage: int) -> bool:
    """Unleash's normalized hash, computed independently of relgate."""
    return mmh3.hash(f"{ROLLOUT}:{user}", 0, signed=False) % 100 + 1 <= percentage


@dataclass
class FrontendServer:
    server: ServerProcess
    services: Services
    token: str


@pytest.fixture(scope="module")
def frontend_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrontendServer]:
    workdir = tmp_path_factory.mktemp("frontend-server")
    url = f"sqlite:///{workdir / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, token = services.tokens.create("node-shop", "frontend", "tester", environment="production")
    flags = services.flags
    flags.create(ADMIN, ROLLOUT)
    flags.rollout(ADMIN, ROLLOUT, "production", 50)
    flags.create(ADMIN, THEME)
    flags.enable(ADMIN, THEME, "production")
    flags.set_variants(
        ADMIN,
        THEME,
        "production",
        [{"name": "dark", "weight": 1000, "payload": {"type": "json", "value": '{"bg": 0}'}}],
    )
    flags.create(ADMIN, "never-on")
    server = start_server(workdir, {"RELGATE_DATABASE_URL": url})
    try:
        yield FrontendServer(server, services, token)
    finally:
        server.stop()
        services.uow.engine.dispose()


def run_node(folder: Path, *args: str) -> list[dict[str, object]]:
    env = {**os.environ, "NODE_PATH": str(folder / "node_modules")}
    result = subprocess.run(
        ["node", "-e", SCRIPT, "--", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answers: list[dict[str, object]] = json.loads(result.stdout)
    return answers


def test_unleash_proxy_client_in_node(frontend_server: FrontendServer) -> None:
    folder = proxy_client()
    inside = next(f"shopper-{i}" for i in range(1000) if in_rollout(f"shopper-{i}", 50))
    outside = next(f"shopper-{i}" for i in range(1000) if not in_rollout(f"shopper-{i}", 50))

    answers = run_node(folder, frontend_server.server.url, frontend_server.token, inside, outside)

    first, second = answers
    assert first["userId"] == inside and first["rollout"] is True
    assert second["userId"] == outside and second["rollout"] is False
    assert first["toggles"] == [ROLLOUT, THEME]
    assert second["toggles"] == [THEME]
    for answer in answers:
        assert answer["off"] is False
        assert answer["errors"] == []
        assert answer["theme"] == {
            "name": "dark",
            "enabled": True,
            "payload": {"type": "json", "value": '{"bg": 0}'},
            "feature_enabled": True,
        }
    # the SDK's own metrics reached the server and were stored
    metrics = frontend_server.services.client_metrics
    usage = wait_for(lambda: metrics.usage([ROLLOUT]).get(ROLLOUT, {}).get("production"))
    assert usage.yes == 1 and usage.no == 1  # type: ignore[attr-defined]


def test_unleash_proxy_client_with_a_revoked_token(frontend_server: FrontendServer) -> None:
    folder = proxy_client()
    env = {**os.environ, "NODE_PATH": str(folder / "node_modules")}
    result = subprocess.run(
        ["node", "-e", SCRIPT, "--", frontend_server.server.url, "rg_not-a-token", "someone"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert result.returncode == 1
    assert "401" in result.stderr or "HttpError" in result.stderr
