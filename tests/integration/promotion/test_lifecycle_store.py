"""The lifecycle on real SQLite and PostgreSQL: the outbox, the auto-promotion rule, status.

A deployment is held in flight with the ``fake`` deployer (relgate.deploy.fake),
added to the server's registry by the test as bootstrap never does; everything
else (store, worker, services) is real.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.deploy import fake
from relgate.deploy.fake import FakeDeployer
from relgate.manifest.pipeline import ServicePipeline, parse_pipeline
from relgate.notify import outbox
from relgate.promotion import transitions
from relgate.promotion.pipeline import PipelineSpec
from relgate.promotion.repository import SqlDeployments
from relgate.store.tables import OutboxRow

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
PIPELINE = """\
service: shop
environments:
  - name: dev
    auto_promote: true
    deployer: {type: fake, name: slow}
  - name: production
    deployer: {type: record}
"""


def artifact(char: str) -> str:
    return f"reg/shop@sha256:{char * 64}"


@pytest.fixture
def hold() -> threading.Event:
    return threading.Event()


@pytest.fixture
def services(database_url: str, tmp_path: Path, hold: threading.Event) -> Iterator[Services]:
    built = build(Settings(database_url=database_url), base_dir=tmp_path)
    fake.register(built.registry, {"slow": FakeDeployer(hold=hold)})
    built.pipelines.apply(ADMIN, parse_pipeline(PIPELINE, "relgate.yaml"))
    yield built
    hold.set()
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def events(services: Services) -> list[tuple[str, str]]:
    with services.uow() as uow:
        rows = uow.session.scalars(select(OutboxRow).order_by(OutboxRow.id)).all()
        return [(row.type, row.subject) for row in rows]


def dev_status(services: Services) -> dict[str, object]:
    row = next(s for s in services.promotion.status(CI, "shop") if s.environment == "dev")
    return {
        "current": row.current,
        "deploying": row.deploying,
        "deploying_deployment": row.deploying_deployment,
        "deploying_state": row.deploying_state,
        "deployer": row.deployer,
    }


def wait_until(predicate: object, what: str) -> None:
    import time

    assert callable(predicate)
    for _ in range(500):
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_committed_change_has_its_events_in_the_outbox_and_a_rolled_back_one_none(
    services: Services, hold: threading.Event
) -> None:
    hold.set()
    services.releases.create(CI, service="shop", version="1.0.0", artifact=artifact("a"))
    view = services.promotion.promote(CI, "shop", "1.0.0", "production")

    # a transaction that starts the deployment, records its events, and rolls back
    with services.uow() as uow:
        store = SqlDeployments(uow.session)
        assert transitions.start(store, view.id, services.clock.now()) is not None
        assert outbox.append(uow.session, store.events()) == 1
        uow.session.flush()
        # leaving the block without commit rolls back
    assert ("deployment.started", f"deployment/{view.id}") not in events(services)
    assert services.promotion.deployment(CI, view.id).state == "requested"

    drain(services)

    recorded = events(services)
    assert ("release.created", "release/shop@1.0.0") in recorded
    assert ("deployment.started", f"deployment/{view.id}") in recorded
    assert ("deployment.succeeded", f"deployment/{view.id}") in recorded
    with services.uow() as uow:
        succeeded = uow.session.scalar(
            select(OutboxRow)
            .where(OutboxRow.type == "deployment.succeeded")
            .where(OutboxRow.subject == f"deployment/{view.id}")
        )
        assert succeeded is not None
        assert succeeded.environment == "production" and succeeded.actor == "ci-bot"
        assert succeeded.data["version"] == "1.0.0"
        assert succeeded.data["artifact"] == artifact("a")


def test_releases_registered_while_dev_deploys_reach_it_as_one_deployment_of_the_newest(
    services: Services, hold: threading.Event
) -> None:
    services.releases.create(CI, service="shop", version="1.5.0", artifact=artifact("0"))
    worker = threading.Thread(target=services.worker.run_once)
    worker.start()
    try:
        wait_until(
            lambda: dev_status(services)["deploying_state"] == "deploying", "1.5.0 deploying"
        )
        first = dev_status(services)
        # what runs is apart from what is being deployed
        assert first["current"] is None and first["deploying"] == "1.5.0"
        assert first["deployer"] == "fake"
        as_json = next(
            r
            for r in json.loads(services.promotion.status_json(CI, "shop"))
            if r["environment"] == "dev"
        )
        assert (as_json["current"], as_json["deploying"], as_json["deploying_state"]) == (
            None,
            "1.5.0",
            "deploying",
        )
        assert as_json["deploying_deployment"] == first["deploying_deployment"]
        for index, version in enumerate(["1.5.1", "1.5.2", "1.5.3"], 1):
            services.releases.create(
                CI, service="shop", version=version, artifact=artifact(str(index))
            )
        assert dev_status(services)["deploying"] == "1.5.0"
    finally:
        hold.set()
        worker.join(30)
    drain(services)

    history = services.promotion.history(CI, "shop", "dev")
    assert [(d.version, d.kind, d.state) for d in history] == [
        ("1.5.3", "auto-promote", "succeeded"),
        ("1.5.0", "auto-promote", "succeeded"),
    ]
    assert history[0].previous_version == "1.5.0"
    after = dev_status(services)
    assert after["current"] == "1.5.3" and after["deploying"] is None
    # nothing newer: becoming free again takes nothing more
    services.promotion.auto_promote("shop", "1.5.3")
    assert len(services.promotion.history(CI, "shop", "dev")) == 2


def test_a_rejected_release_is_not_requested_again_when_the_environment_becomes_free(
    database_url: str, tmp_path: Path
) -> None:
    built = build(Settings(database_url=database_url), base_dir=tmp_path)
    try:
        text = (
            "service: shop\nenvironments:\n  - name: dev\n    auto_promote: true\n"
            "    deployer: {type: record}\n    gates:\n      - type: approval\n"
        )
        built.pipelines.apply(ADMIN, parse_pipeline(text, "relgate.yaml"))
        built.releases.create(CI, service="shop", version="1.0.0", artifact=artifact("a"))
        waiting = built.promotion.history(CI, "shop", "dev")
        assert [d.state for d in waiting] == ["waiting_for_approval"]

        alice = Principal("alice", Role.APPROVER)
        built.promotion.decide(alice, "shop", "1.0.0", "dev", approve=False, comment="no")

        assert [d.state for d in built.promotion.history(CI, "shop", "dev")] == ["rejected"]
        kinds = [kind for kind, _ in events(built)]
        assert "approval.requested" in kinds and "approval.rejected" in kinds
    finally:
        built.uow.engine.dispose()


def test_the_record_deployer_succeeds_saying_nothing_was_deployed_old_pipelines_too(
    services: Services, hold: threading.Event
) -> None:
    hold.set()  # dev takes the release too, with the fake deployer: let it through
    services.releases.create(CI, service="shop", version="1.0.0", artifact=artifact("a"))
    recorded = services.promotion.promote(CI, "shop", "1.0.0", "production")
    # a pipeline stored before `deployer:` was required has none: it deploys as record
    legacy = PipelineSpec.model_validate({"environments": [{"name": "dev"}, {"name": "qa"}]})
    services.pipelines.apply(ADMIN, ServicePipeline(service="old", pipeline=legacy, source="x"))
    services.releases.create(CI, service="old", version="1.0.0", artifact=artifact("b"))
    old = services.promotion.promote(CI, "old", "1.0.0", "qa")
    drain(services)

    for view in (recorded, old):
        done = services.promotion.deployment(CI, view.id)
        assert done.state == "succeeded"
        assert "recorded only (deployer: record)" in done.outcome
        assert done.deployer == "record"
    statuses = {(s.service, s.environment): s.deployer for s in services.promotion.status(CI)}
    assert statuses[("shop", "production")] == "record"
    assert statuses[("old", "qa")] == "record"
    with services.uow() as uow:
        count = uow.session.scalar(select(func.count()).select_from(OutboxRow))
    assert count is not None and count > 0
