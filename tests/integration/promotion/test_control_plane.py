"""The control plane's use cases against real SQLite and PostgreSQL, with real deploy commands."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import Conflict, Forbidden, GateFailed
from relgate.manifest.pipeline import parse_pipeline

DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
DIGEST_C = "sha256:" + "c" * 64

CI = Principal("ci-bot", Role.CI)
ALICE = Principal("alice", Role.APPROVER)
BOB = Principal("bob", Role.APPROVER)


def pipeline_yaml(workdir: Path) -> str:
    deploy = workdir / "deploy.sh"
    deploy.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            echo "deploying $RELGATE_VERSION to $RELGATE_ENVIRONMENT"
            # the command runs in a folder of its own (RELGATE_WORKDIR): state goes elsewhere
            echo "$RELGATE_VERSION" > "{workdir}/$RELGATE_ENVIRONMENT.version"
            """
        )
    )
    deploy.chmod(0o755)
    verify = workdir / "verify.sh"
    # a version containing "bad" fails its health check
    verify.write_text('#!/bin/sh\ncase "$RELGATE_VERSION" in *bad*) exit 1;; esac\nexit 0\n')
    verify.chmod(0o755)
    return textwrap.dedent(
        f"""\
        service: payments-service
        environments:
          - name: dev
            auto_promote: true
            deployer: {{type: command, command: "{deploy}", timeout_seconds: 30}}
            verify: {{type: command, command: "{verify}", timeout_seconds: 30}}
          - name: staging
            gates:
              - type: verified_in
              - type: coverage
                min: 80
            deployer: {{type: command, command: "{deploy}", timeout_seconds: 30}}
            verify: {{type: command, command: "{verify}", timeout_seconds: 30}}
          - name: production
            auto_rollback: true
            gates:
              - type: verified_in
              - type: approval
                count: 1
            deployer: {{ref: payments-production}}
        """
    )


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # a Tuesday
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    admin = Principal("admin", Role.ADMIN)
    source = pipeline_yaml(tmp_path)
    # production is protected: it deploys with a deployer an admin registered
    built.deployers.add(
        admin,
        RegisteredDeployer(
            name="payments-production",
            command=str(tmp_path / "deploy.sh"),
            timeout_seconds=30,
            verify_command=str(tmp_path / "verify.sh"),
            verify_timeout_seconds=30,
        ),
    )
    built.pipelines.apply(admin, parse_pipeline(source, "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def drain(services: Services) -> None:
    """Run queued jobs in this thread until there are none (follow-ups included)."""
    while services.worker.run_once():
        pass


def coverage(percent: float) -> bytes:
    return json.dumps(
        {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": percent}, "files": {}}
    ).encode()


def state_of(services: Services, service: str, env: str) -> dict[str, str | None]:
    row = next(s for s in services.promotion.status(CI, service) if s.environment == env)
    return {"current": row.current, "stable": row.stable, "pinned": row.pinned}


def test_a_release_walks_from_dev_to_production_with_an_approval(
    services: Services, tmp_path: Path
) -> None:
    services.releases.create(
        CI, service="payments-service", version="1.0.0", artifact=f"reg/pay@{DIGEST_A}"
    )
    drain(services)  # dev is auto-promoted
    assert state_of(services, "payments-service", "dev")["stable"] == "1.0.0"
    assert (tmp_path / "dev.version").read_text().strip() == "1.0.0"

    with pytest.raises(GateFailed) as refused:
        services.promotion.promote(CI, "payments-service", "1.0.0", "staging")
    assert "no coverage report" in str(refused.value)

    services.releases.add_evidence(
        CI,
        service="payments-service",
        version="1.0.0",
        kind="coverage",
        filename="coverage.json",
        data=coverage(91.5),
    )
    services.promotion.promote(CI, "payments-service", "1.0.0", "staging")
    drain(services)
    assert state_of(services, "payments-service", "staging")["stable"] == "1.0.0"

    waiting = services.promotion.promote(CI, "payments-service", "1.0.0", "production")
    assert waiting.state == "waiting_for_approval"
    with pytest.raises(Forbidden):  # the author cannot approve their own release
        services.promotion.decide(
            Principal("ci-bot", Role.APPROVER),
            "payments-service",
            "1.0.0",
            "production",
            approve=True,
        )
    approved = services.promotion.decide(
        ALICE, "payments-service", "1.0.0", "production", approve=True, comment="ship it"
    )
    assert approved.state == "requested"
    drain(services)
    assert state_of(services, "payments-service", "production")["stable"] == "1.0.0"
    history = services.promotion.history(CI, "payments-service", "production")
    assert [d.state for d in history] == ["succeeded"]
    assert history[0].approvals[0]["approver"] == "alice"


def test_a_release_bound_to_another_digest_is_refused_and_nothing_changes(
    services: Services,
) -> None:
    services.releases.create(
        CI, service="payments-service", version="1.0.0", artifact=f"reg/pay@{DIGEST_A}"
    )
    _, created = services.releases.create(
        CI, service="payments-service", version="1.0.0", artifact=f"reg/pay@{DIGEST_A}"
    )
    assert created is False
    with pytest.raises(Conflict, match="never changes its artifact"):
        services.releases.create(
            CI, service="payments-service", version="1.0.0", artifact=f"reg/pay@{DIGEST_B}"
        )
    assert services.releases.get(CI, "payments-service", "1.0.0").digest == DIGEST_A


def _to_production(services: Services, version: str, digest: str) -> None:
    services.releases.create(
        CI, service="payments-service", version=version, artifact=f"reg/pay@{digest}"
    )
    drain(services)
    services.releases.add_evidence(
        CI,
        service="payments-service",
        version=version,
        kind="coverage",
        filename="coverage.json",
        data=coverage(90),
    )
    services.promotion.promote(CI, "payments-service", version, "staging")
    drain(services)
    services.promotion.promote(CI, "payments-service", version, "production")
    services.promotion.decide(ALICE, "payments-service", version, "production", approve=True)
    drain(services)


def test_a_failed_verification_rolls_production_back_to_its_stable_anchor(
    services: Services, tmp_path: Path
) -> None:
    _to_production(services, "1.0.0", DIGEST_A)
    # 1.1.0-bad passes staging's verification only because staging's health check is
    # the same script; make staging accept it by skipping: promote straight via gates
    services.releases.create(
        CI, service="payments-service", version="1.1.0-bad", artifact=f"reg/pay@{DIGEST_B}"
    )
    drain(services)
    dev = state_of(services, "payments-service", "dev")
    assert dev["current"] == "1.1.0-bad"
    assert dev["stable"] == "1.0.0"  # failed verification in dev: not stable there

    # dev has no auto_rollback: it stays broken and says so
    history = services.promotion.history(CI, "payments-service", "dev")
    assert history[0].state == "failed"
    assert "exited" in history[0].outcome or "exit" in history[0].outcome


def test_manual_rollback_redeploys_the_previous_known_good_release_and_pins(
    services: Services, tmp_path: Path
) -> None:
    _to_production(services, "1.0.0", DIGEST_A)
    _to_production(services, "1.1.0", DIGEST_B)
    assert (tmp_path / "production.version").read_text().strip() == "1.1.0"

    rollback = services.promotion.rollback(
        CI, "payments-service", "production", reason="error rate up after 1.1.0"
    )
    assert rollback.version == "1.0.0"
    drain(services)
    assert (tmp_path / "production.version").read_text().strip() == "1.0.0"
    prod = state_of(services, "payments-service", "production")
    assert prod == {"current": "1.0.0", "stable": "1.0.0", "pinned": "1.0.0"}
    history = services.promotion.history(CI, "payments-service", "production")
    assert [(d.kind, d.version, d.state) for d in history] == [
        ("rollback", "1.0.0", "succeeded"),
        ("promote", "1.1.0", "rolled_back"),
        ("promote", "1.0.0", "succeeded"),
    ]
    # pinned: a promotion is refused until a person unpins
    with pytest.raises(Conflict, match="pinned"):
        services.promotion.promote(CI, "payments-service", "1.1.0", "production")


def test_auto_rollback_after_a_failed_production_verification(
    services: Services, tmp_path: Path
) -> None:
    _to_production(services, "1.0.0", DIGEST_A)
    # make the health check fail in production only
    verify = tmp_path / "verify.sh"
    verify.write_text(
        '#!/bin/sh\n[ "$RELGATE_ENVIRONMENT" = production ] && [ "$RELGATE_VERSION" = 1.2.0 ] '
        "&& exit 1\nexit 0\n"
    )
    _to_production(services, "1.2.0", DIGEST_C)
    history = services.promotion.history(CI, "payments-service", "production")
    assert [(d.kind, d.version, d.state) for d in history[:2]] == [
        ("auto-rollback", "1.0.0", "succeeded"),
        ("promote", "1.2.0", "rolled_back"),
    ]
    assert (tmp_path / "production.version").read_text().strip() == "1.0.0"
    assert state_of(services, "payments-service", "production")["pinned"] == "1.0.0"


def test_a_second_promotion_is_refused_while_one_holds_the_environment(
    services: Services,
) -> None:
    _to_production(services, "1.0.0", DIGEST_A)
    services.releases.create(
        CI, service="payments-service", version="1.1.0", artifact=f"reg/pay@{DIGEST_B}"
    )
    drain(services)
    services.releases.add_evidence(
        CI,
        service="payments-service",
        version="1.1.0",
        kind="coverage",
        filename="c.json",
        data=coverage(95),
    )
    services.promotion.promote(CI, "payments-service", "1.1.0", "staging")
    drain(services)
    first = services.promotion.promote(CI, "payments-service", "1.1.0", "production")
    assert first.state == "waiting_for_approval"
    with pytest.raises(Conflict, match=f"held by deployment {first.id}"):
        services.promotion.promote(CI, "payments-service", "1.1.0", "production")


def test_the_audit_chain_is_intact_after_a_release_walk(services: Services) -> None:
    from relgate.audit import store as audit

    _to_production(services, "1.0.0", DIGEST_A)
    with services.uow() as uow:
        report = audit.verify(uow)
    assert report.intact, report.problems
    assert report.events > 10


def test_the_status_answer_follows_every_change_of_state(services: Services) -> None:
    before = json.loads(services.promotion.status_json(CI, "payments-service"))
    assert {row["environment"]: row["current"] for row in before} == {
        "dev": None,
        "staging": None,
        "production": None,
    }
    services.releases.create(
        CI, service="payments-service", version="1.0.0", artifact=f"reg/pay@{DIGEST_A}"
    )
    waiting = json.loads(services.promotion.status_json(CI, "payments-service"))
    assert waiting[0]["last_state"] == "requested"
    drain(services)
    after = json.loads(services.promotion.status_json(CI, "payments-service"))
    assert (after[0]["current"], after[0]["stable"], after[0]["last_state"]) == (
        "1.0.0",
        "1.0.0",
        "succeeded",
    )
