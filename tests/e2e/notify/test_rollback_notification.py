"""A real rollback, end to end: the lifecycle's events reach Slack and a signed webhook.

`relgate serve` with two subscribers (Slack-compatible and CloudEvents), a
real receiver on 127.0.0.1, and the CLI doing what a person does: apply,
release, promote, roll back. Nothing is written into the outbox by the test:
the events are the ones the deployment model recorded with each change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from relgate.notify import webhook
from tests.support.cli import run_relgate
from tests.support.notify_receiver import NotifyReceiver, notify_receiver
from tests.support.server import ServerProcess, start_server, wait_for

PIPELINE = """\
service: checkout
environments:
  - name: dev
    deployer: {type: record}
  - name: production
    deployer: {type: record}
"""

DIGEST_A = "registry.example.com/checkout@sha256:" + "a" * 64
DIGEST_B = "registry.example.com/checkout@sha256:" + "b" * 64


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    running = start_server(
        tmp_path / "server",
        env={
            "RELGATE_NOTIFY_BACKOFF_BASE_SECONDS": "0.05",
            "RELGATE_NOTIFY_BACKOFF_CAP_SECONDS": "0.2",
            "RELGATE_PUBLIC_URL": "https://relgate.example.com",
        },
    )
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def slack() -> Iterator[NotifyReceiver]:
    with notify_receiver() as running:
        yield running


@pytest.fixture
def hook() -> Iterator[NotifyReceiver]:
    with notify_receiver() as running:
        yield running


def cli(server: ServerProcess, *args: str) -> str:
    token = server.admin_token()
    assert token
    done = run_relgate(
        *args, cwd=server.workdir, env={"RELGATE_URL": server.url, "RELGATE_TOKEN": token}
    )
    assert done.returncode == 0, f"relgate {' '.join(args)}: {done.stdout}{done.stderr}"
    return done.stdout


def test_a_rollback_posts_its_from_to_and_who_to_slack_and_a_signed_cloudevent(
    server: ServerProcess, slack: NotifyReceiver, hook: NotifyReceiver
) -> None:
    cli(server, "notify", "add", "slack", "ops", "--url", slack.url, "--env",
        "production", "--event", "deployment.rolled_back")  # fmt: skip
    cli(server, "notify", "add", "webhook", "audit", "--url", hook.url,
        "--secret", "shared-key", "--env", "production")  # fmt: skip
    (server.workdir / "relgate.yaml").write_text(PIPELINE)
    cli(server, "apply", "-f", str(server.workdir / "relgate.yaml"))
    for version, artifact in (("1.0.0", DIGEST_A), ("1.1.0", DIGEST_B)):
        cli(server, "release", "create", "checkout", "--version", version, "--commit", "3f2c1a9",
            "--artifact", artifact)  # fmt: skip
        cli(server, "promote", f"checkout@{version}", "--to", "production", "--wait")

    cli(server, "rollback", "checkout", "production", "--reason", "error rate", "--wait")

    def slack_posts() -> list[dict[str, object]]:
        return [json.loads(r.body) for r in slack.accepted()]

    posts = wait_for(slack_posts, timeout=30)
    assert isinstance(posts, list) and len(posts) == 1  # only the rollback passes its filter
    body = posts[0]
    assert body["text"].startswith("Rollback: checkout in production: 1.1.0")  # type: ignore[union-attr]
    fields = [f["text"] for f in body["blocks"][1]["fields"]]  # type: ignore[index]
    assert fields[2] == f"*Rolled back FROM*\n1.1.0 ({DIGEST_B})"
    assert fields[3] == f"*Rolled back TO*\n1.0.0 ({DIGEST_A})"
    assert fields[4].startswith("*Executed by*\n")
    assert "error rate" in json.dumps(body)

    def cloud_events() -> list[dict[str, object]]:
        return [json.loads(r.body) for r in hook.accepted()]

    wait_for(
        lambda: any(e["type"] == "dev.relgate.deployment.rolled_back" for e in cloud_events()),
        timeout=30,
    )
    types = [e["type"] for e in cloud_events()]
    assert types.count("dev.relgate.deployment.succeeded") == 2  # 1.0.0 and 1.1.0
    assert "dev.relgate.deployment.started" in types
    hooks = hook.accepted()
    assert all(
        webhook.verify("shared-key", r.headers["relgate-signature"], r.body, now=int(time.time()))
        for r in hooks
    )
    ids = [r.headers["relgate-event-id"] for r in hooks]
    assert len(ids) == len(set(ids))
