"""The scripted deployer and verifier for unit tests of the state machine."""

from __future__ import annotations

import threading

from relgate.deploy.fake import FakeDeployer, FakeVerifier
from relgate.deploy.ports import Deployer, DeployRequest, StepOutcome, Verifier

REQUEST = DeployRequest(
    deployment_id="d-1",
    service="payments",
    environment="staging",
    version="1.4.0",
    artifact="registry.example/payments@sha256:" + "a" * 64,
    previous_artifact=None,
    reason="promote",
)


def test_a_fake_deployer_answers_its_script_in_order_then_the_default() -> None:
    failed = StepOutcome(False, "deploy command exited 3", 3)
    deployer: Deployer = FakeDeployer([failed])
    assert deployer.deploy(REQUEST, print) == failed
    assert deployer.deploy(REQUEST, print).succeeded


def test_a_fake_deployer_records_every_request_and_logs_its_lines() -> None:
    lines: list[str] = []
    deployer = FakeDeployer(log_lines=["pulling image", "done"])
    deployer.deploy(REQUEST, lines.append)
    assert deployer.requests == [REQUEST]
    assert lines == ["pulling image", "done"]


def test_a_fake_verifier_can_decide_from_the_request() -> None:
    verifier: Verifier = FakeVerifier(
        lambda request: StepOutcome(request.version != "1.4.0", f"checked {request.version}")
    )
    assert verifier.verify(REQUEST, print) == StepOutcome(False, "checked 1.4.0")


def test_a_held_fake_deployer_returns_cancelled_when_cancelled() -> None:
    cancel = threading.Event()
    deployer = FakeDeployer(hold=threading.Event(), log_lines=["started"])
    outcome = deployer.deploy(REQUEST, lambda line: cancel.set(), cancel=cancel)
    assert outcome == StepOutcome(False, "cancelled")


def test_a_held_fake_deployer_answers_once_released() -> None:
    hold = threading.Event()
    deployer = FakeDeployer(hold=hold, log_lines=["started"])
    outcome = deployer.deploy(REQUEST, lambda line: hold.set())
    assert outcome.succeeded
