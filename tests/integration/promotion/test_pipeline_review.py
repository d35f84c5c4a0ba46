"""Protected environments on real SQLite and PostgreSQL: pending revisions, review, deployers."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import Conflict, Forbidden, InvalidConfig, NotFound
from relgate.manifest.pipeline import ServicePipeline, parse_pipeline
from relgate.promotion.pipeline import PipelineSpec
from relgate.promotion.pipelines import ApplyResult

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("carol", Role.CI)
CAROL_APPROVING = Principal("Carol ", Role.APPROVER)  # the same person, another token
ALICE = Principal("alice", Role.APPROVER)
DAVE = Principal("dave", Role.APPROVER)
DIGEST = "sha256:" + "e" * 64

PRODUCTION_GATES = """\
      - type: verified_in
      - type: approval
        count: 1
"""


def pipeline(production_gates: str = PRODUCTION_GATES, extra: str = "") -> str:
    return (
        textwrap.dedent(
            """\
            service: shop
            environments:
              - name: staging
                deployer: {type: record}
              - name: production
                auto_rollback: true
                deployer: {ref: shop-production}
                gates:
            """
        )
        + production_gates
        + extra
    )


@pytest.fixture
def services(database_url: str, tmp_path: Path) -> Iterator[Services]:
    clock = FixedClock(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    script = tmp_path / "deploy.sh"
    # the command runs in a folder of its own (RELGATE_WORKDIR): it records where the test looks
    script.write_text(
        f'#!/bin/sh\necho "$RELGATE_VERSION" > "{tmp_path}/$RELGATE_ENVIRONMENT.version"\n'
    )
    script.chmod(0o755)
    built.deployers.add(
        ADMIN, RegisteredDeployer(name="shop-production", command=str(script), timeout_seconds=30)
    )
    built.pipelines.apply(ADMIN, parse_pipeline(pipeline(), "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def apply(services: Services, who: Principal, text: str, author: str | None = None) -> ApplyResult:
    return services.pipelines.apply(who, parse_pipeline(text, "relgate.yaml"), author=author)


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


def verified_in_staging(services: Services, version: str) -> None:
    services.releases.create(CI, service="shop", version=version, artifact=f"reg/shop@{DIGEST}")
    services.promotion.promote(CI, "shop", version, "staging")
    drain(services)


def actions(services: Services) -> list[str]:
    with services.uow() as uow:
        events = audit.events(uow, subject="service/shop", limit=100)
    return sorted(e.action for e in events)


def test_removing_the_production_approval_from_a_ci_token_is_pending_and_the_old_rules_hold(
    services: Services,
) -> None:
    result = services.pipelines.apply(
        CI, parse_pipeline(pipeline("      - type: verified_in\n"), "relgate.yaml")
    )

    assert (result.status, result.revision, result.in_force, result.changed) == (
        "pending",
        2,
        1,
        True,
    )
    assert [c["message"] for c in result.weakens] == [
        "production no longer needs an approval (the approval gate needing 1 approval is removed)"
    ]
    assert result.message.startswith(
        "shop pipeline revision 2 weakens a protected environment: it is pending review and "
        "revision 1 stays in force"
    )
    assert services.pipelines.pipeline(CI, "shop")["revision"] == 1
    assert services.pipelines.pipeline(CI, "shop")["pending"] == [2]
    verified_in_staging(services, "1.0.0")
    waiting = services.promotion.promote(CI, "shop", "1.0.0", "production")
    assert waiting.state == "waiting_for_approval"
    assert "pipeline.pending" in actions(services)


def test_the_applier_and_the_author_cannot_approve_but_another_approver_can(
    services: Services, tmp_path: Path
) -> None:
    weaker = pipeline("      - type: verified_in\n")
    apply(services, CI, weaker, author="Dave <dave@example.com>")

    with pytest.raises(Forbidden) as applier:
        services.pipelines.decide(CAROL_APPROVING, "shop", 2, approve=True)
    with pytest.raises(Forbidden) as author:
        services.pipelines.decide(DAVE, "shop", 2, approve=True)
    approved = services.pipelines.decide(ALICE, "shop", 2, approve=True, comment="hotfix week")

    assert str(applier.value) == (
        "Carol  applied revision 2 of shop and cannot approve it: another approver must"
    )
    assert str(author.value) == (
        "dave wrote revision 2 of shop (author Dave <dave@example.com>) and cannot approve it: "
        "another approver must"
    )
    assert (approved.status, approved.reviewed_by, approved.review_comment, approved.in_force) == (
        "active",
        "alice",
        "hotfix week",
        2,
    )
    assert services.pipelines.pipeline(CI, "shop")["revision"] == 2
    verified_in_staging(services, "1.0.0")
    # the new rules are in force: no approval is needed any more
    requested = services.promotion.promote(CI, "shop", "1.0.0", "production")
    assert requested.state == "requested"
    drain(services)
    assert (tmp_path / "production.version").read_text() == "1.0.0\n"
    assert "pipeline.approved" in actions(services)


def test_an_approver_scoped_to_staging_cannot_let_production_s_protection_go(
    services: Services,
) -> None:
    apply(services, CI, pipeline("      - type: verified_in\n"))
    staging_only = Principal("erin", Role.APPROVER, environments=frozenset({"staging"}))

    with pytest.raises(Forbidden) as refused:
        services.pipelines.decide(staging_only, "shop", 2, approve=True)

    assert str(refused.value) == (
        "token 'erin' is scoped to the environments staging, not 'production'"
    )
    assert services.pipelines.pipeline(CI, "shop")["revision"] == 1
    assert [r.revision for r in services.pipelines.pending(ALICE)] == [2]


def test_a_ci_token_cannot_approve_and_a_rejected_revision_never_takes_effect(
    services: Services,
) -> None:
    apply(services, CI, pipeline("      - type: verified_in\n"))

    with pytest.raises(Forbidden):
        services.pipelines.decide(CI, "shop", 2, approve=True)
    rejected = services.pipelines.decide(ALICE, "shop", 2, approve=False, comment="no")
    with pytest.raises(Conflict) as again:
        services.pipelines.decide(DAVE, "shop", 2, approve=True)

    assert (rejected.status, rejected.in_force) == ("rejected", 1)
    assert str(again.value) == "revision 2 of shop was rejected by alice"
    assert services.pipelines.pipeline(CI, "shop")["revision"] == 1
    assert services.pipelines.pending(ALICE) == []


def test_tightening_applies_at_once(services: Services) -> None:
    stricter = PRODUCTION_GATES.replace("count: 1", "count: 2") + "      - type: tests_passed\n"

    result = apply(services, CI, pipeline(stricter))

    assert (result.status, result.in_force, result.weakens) == ("active", 2, [])
    assert [c["message"] for c in result.tightens] == [
        "production now needs passing tests (tests_passed)",
        "production approvals needed raised from 1 to 2",
    ]
    assert services.pipelines.pipeline(CI, "shop")["revision"] == 2


def test_reordering_and_reformatting_apply_at_once_with_no_protection_change(
    services: Services,
) -> None:
    reordered = "      - {count: 1, type: approval}\n      - {type: verified_in}\n"

    result = apply(services, CI, "# reformatted\n" + pipeline(reordered))

    assert (result.status, result.changed, result.weakens, result.tightens) == (
        "active",
        True,
        [],
        [],
    )


def test_an_admin_weakens_directly_and_the_audit_says_so(services: Services) -> None:
    result = apply(services, ADMIN, pipeline("      - type: verified_in\n"))

    assert (result.status, result.in_force) == ("active", 2)
    with services.uow() as uow:
        applied = [
            e
            for e in audit.events(uow, subject="service/shop", limit=10)
            if e.action == "pipeline.applied" and (e.after or {}).get("revision") == 2
        ]
    assert len(applied) == 1
    assert applied[0].actor == "admin"
    assert applied[0].after["weakened_protection"] == [
        "production no longer needs an approval (the approval gate needing 1 approval is removed)"
    ]


def test_a_newer_apply_supersedes_a_pending_revision(services: Services) -> None:
    apply(services, CI, pipeline("      - type: verified_in\n"))
    same = apply(services, CI, pipeline("      - type: verified_in\n"))
    newer = apply(services, CI, pipeline("      - type: approval\n"))

    with pytest.raises(Conflict) as old:
        services.pipelines.decide(ALICE, "shop", 2, approve=True)

    assert (same.status, same.revision, same.changed) == ("pending", 2, False)
    assert (newer.status, newer.revision, newer.superseded) == ("pending", 3, [2])
    assert str(old.value) == "revision 2 of shop was superseded by revision 3; nothing to decide"
    assert [r.revision for r in services.pipelines.pending(ALICE, "shop")] == [3]
    assert "pipeline.superseded" in actions(services)


def test_re_applying_the_pipeline_in_force_withdraws_a_pending_revision(
    services: Services,
) -> None:
    apply(services, CI, pipeline("      - type: verified_in\n"))

    back = apply(services, CI, pipeline())

    assert (back.status, back.changed, back.revision, back.superseded) == ("active", False, 1, [2])
    assert services.pipelines.pending(ALICE) == []


def test_an_unregistered_deployer_is_refused_naming_file_line_and_field(
    services: Services,
) -> None:
    text = pipeline().replace("ref: shop-production", "ref: nobody")

    with pytest.raises(InvalidConfig) as refused:
        apply(services, ADMIN, text)

    assert str(refused.value).startswith(
        "relgate.yaml:7: environments[1].deployer.ref: no deployer 'nobody' is registered on "
        "this server: an admin registers it with `relgate deployers add nobody"
    )


def test_a_removed_deployer_fails_the_deployment_with_a_reason(services: Services) -> None:
    verified_in_staging(services, "1.0.0")
    services.promotion.promote(CI, "shop", "1.0.0", "production")
    services.promotion.decide(ALICE, "shop", "1.0.0", "production", approve=True)
    services.deployers.remove(ADMIN, "shop-production")

    drain(services)

    failed = services.promotion.history(CI, "shop", "production")[0]
    assert failed.state == "failed"
    assert failed.outcome == (
        "the deployer 'shop-production' is not registered on this server: an admin registers "
        "it with `relgate deployers add shop-production ...`"
    )


def test_only_an_admin_manages_deployers_and_secrets_are_never_shown(
    services: Services,
) -> None:
    secret = RegisteredDeployer(
        name="with-secret", command="./x.sh", secrets={"TOKEN": "s3cret"}, env_allow=["KUBECONFIG"]
    )

    with pytest.raises(Forbidden):
        services.deployers.add(CI, secret)
    added = services.deployers.add(ADMIN, secret)
    with pytest.raises(Conflict):
        services.deployers.add(ADMIN, secret)
    listed = services.deployers.list_deployers(ADMIN)
    shown = services.deployers.show(ADMIN, "with-secret")
    with pytest.raises(Forbidden):
        services.deployers.list_deployers(CI)

    assert added["secrets"] == ["TOKEN"]
    assert [d["name"] for d in listed] == ["shop-production", "with-secret"]
    assert (shown["secrets"], shown["env_allow"], shown["source"]) == (
        ["TOKEN"],
        ["KUBECONFIG"],
        "database",
    )
    assert "s3cret" not in repr(listed) + repr(shown)
    resolved = services.deployers.resolve("with-secret")
    assert resolved is not None and resolved.secrets == {"TOKEN": "s3cret"}
    with services.uow() as uow:
        events = audit.events(uow, subject="deployer/with-secret", limit=10)
    assert [e.action for e in events] == ["deployer.added"]
    assert "s3cret" not in repr(events)
    with pytest.raises(NotFound) as unknown:
        services.deployers.show(ADMIN, "nope")
    assert str(unknown.value) == (
        "no deployer 'nope' is registered (there are: shop-production, with-secret)"
    )


def test_a_protected_environment_stored_with_its_own_command_is_never_run(
    services: Services, tmp_path: Path
) -> None:
    # as a pipeline applied before protected environments existed: never validated by them
    marker = tmp_path / "ran"
    legacy = PipelineSpec.model_validate(
        {
            "environments": [
                {"name": "staging"},
                {
                    "name": "production",
                    "deployer": {"type": "command", "command": f"touch {marker}"},
                },
            ]
        }
    )
    services.pipelines.apply(ADMIN, ServicePipeline(service="shop", pipeline=legacy, source="x"))
    services.releases.create(CI, service="shop", version="1.0.0", artifact=f"reg/shop@{DIGEST}")

    services.promotion.promote(CI, "shop", "1.0.0", "production")
    drain(services)

    failed = services.promotion.history(CI, "shop", "production")[0]
    assert failed.state == "failed"
    assert failed.outcome == (
        "production is protected and its pipeline brings a deploy command of its own, which "
        "relgate does not run there: register a deployer (`relgate deployers add NAME ...`), "
        "name it in relgate.yaml as `deployer: {ref: NAME}` and apply it"
    )
    assert not marker.exists()
