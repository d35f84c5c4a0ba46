"""The rollback_rehearsed gate over in-memory deployment histories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

import pytest

from relgate.errors import InvalidConfig
from relgate.manifest.pipeline import parse_pipeline
from relgate.promotion.gates import GateStatus, evaluate_gate
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.pipeline import PipelineSpec
from relgate.promotion.protection import compare_protection
from relgate.promotion.rehearsal import (
    RanDeployment,
    RehearsalFacts,
    Step,
    find_rehearsals,
    is_major_bump,
)
from tests.unit.promotion.builders import NOW, context, gate

PROMOTE = DeploymentKind.PROMOTE
ROLLBACK = DeploymentKind.ROLLBACK
OK = DeploymentState.SUCCEEDED
FAILED = DeploymentState.FAILED
ROLLED_BACK = DeploymentState.ROLLED_BACK


def ran(
    id_: int,
    version: str,
    kind: DeploymentKind = PROMOTE,
    state: DeploymentState = OK,
    *,
    by: str = "ci",
    replaces: int | None = None,
    outcome: str = "",
) -> RanDeployment:
    at = NOW - timedelta(hours=1) + timedelta(minutes=id_)
    return RanDeployment(
        id=id_,
        version=version,
        kind=kind,
        state=state,
        requested_by=by,
        started_at=at,
        verified_at=at + timedelta(seconds=30) if state in (OK, ROLLED_BACK) else None,
        replaces=replaces,
        outcome=outcome,
    )


# 1.4.0 stable in staging, then 2.0.0 deployed, rolled back to 1.4.0, deployed again
REHEARSED = [
    ran(1, "1.4.0"),
    ran(2, "2.0.0", state=ROLLED_BACK),
    ran(3, "1.4.0", ROLLBACK, replaces=2, by="alice"),
    ran(4, "2.0.0"),
]


def check(
    history: Sequence[RanDeployment],
    *,
    version: str = "2.0.0",
    stable: str | None = "1.4.0",
    where: str = "staging",
    gate_in: str = "staging",
) -> tuple[GateStatus, str]:
    spec = gate(type="rollback_rehearsed", **{"in": gate_in})
    facts = RehearsalFacts(version=version, stable=stable, histories={where: history})
    result = evaluate_gate(spec, replace(context(release=f"pay@{version}"), rehearsal=facts))
    assert result.gate == "rollback_rehearsed"
    return result.status, result.reason


def test_a_major_release_rehearsed_in_staging_passes_and_names_the_three_deployments() -> None:
    status, reason = check(REHEARSED)

    assert status is GateStatus.PASSED
    assert reason == (
        "rehearsed in staging 2026-11-25 09:04:30 UTC: "
        "deployed #2 (ci, 2026-11-25 09:02:30), "
        "rolled back to 1.4.0 #3 (alice, 2026-11-25 09:03:30), "
        "redeployed #4 (ci, 2026-11-25 09:04:30)"
    )


def test_a_minor_release_passes_without_a_rehearsal() -> None:
    assert check([], version="1.5.0") == (GateStatus.PASSED, "not a major bump over 1.4.0")


def test_a_first_release_in_production_has_nothing_to_roll_back_to() -> None:
    status, reason = check([], stable=None)

    assert status is GateStatus.PASSED
    assert reason == "production has no stable release yet: nothing to roll back to there"


def test_a_major_release_without_a_rehearsal_is_missing_one_and_says_how_to_rehearse() -> None:
    status, reason = check([ran(1, "1.4.0")])

    assert status is GateStatus.MISSING
    assert reason == (
        "2.0.0 is a major bump over 1.4.0 (production's stable release): rehearse its "
        "rollback first (no rehearsal in staging): relgate rehearse pay@2.0.0 --env staging"
    )


@pytest.mark.parametrize(
    ("history", "progress"),
    [
        (REHEARSED[:2], "deployed #2 in staging, not rolled back since"),
        (
            REHEARSED[:3],
            "deployed #2 and rolled back to 1.4.0 #3 in staging, not deployed again since",
        ),
    ],
)
def test_a_rehearsal_missing_a_step_does_not_count(
    history: list[RanDeployment], progress: str
) -> None:
    status, reason = check(history)

    assert status is GateStatus.MISSING
    assert f"({progress})" in reason


def test_a_rollback_that_failed_fails_the_gate() -> None:
    history = [
        ran(1, "1.4.0"),
        ran(2, "2.0.0"),
        ran(3, "1.4.0", ROLLBACK, FAILED, replaces=2, outcome="migration 42 cannot be undone"),
    ]

    status, reason = check(history)

    assert status is GateStatus.FAILED
    assert "the rollback #3 of 1.4.0 in staging failed: migration 42 cannot be undone" in reason


def test_a_redeploy_that_failed_does_not_complete_the_rehearsal() -> None:
    history = [*REHEARSED[:3], ran(4, "2.0.0", state=FAILED, outcome="crash loop")]

    status, reason = check(history)

    assert status is GateStatus.FAILED
    assert "the deployment #4 of 2.0.0 in staging failed: crash loop" in reason


def test_a_rehearsal_in_another_environment_does_not_count() -> None:
    status, _ = check(REHEARSED, where="dev", gate_in="staging")

    assert status is GateStatus.MISSING


def test_a_rollback_to_an_older_release_than_the_previous_stable_does_not_count() -> None:
    history = [
        ran(1, "1.3.0"),
        ran(2, "1.4.0"),
        ran(3, "2.0.0", state=ROLLED_BACK),
        ran(4, "1.3.0", ROLLBACK, replaces=3),
        ran(5, "2.0.0"),
    ]

    status, _ = check(history)

    assert status is GateStatus.MISSING
    assert find_rehearsals("2.0.0", "staging", history).rehearsals == ()


def test_a_deployment_between_the_steps_breaks_the_rehearsal() -> None:
    history = [
        ran(1, "1.4.0"),
        ran(2, "2.0.0", state=ROLLED_BACK),
        ran(3, "1.4.0", ROLLBACK, replaces=2),
        ran(4, "1.4.1"),
        ran(5, "2.0.0"),
    ]

    assert check(history)[0] is GateStatus.MISSING


def test_a_rollback_from_another_deployment_does_not_count() -> None:
    history = [*REHEARSED[:2], ran(3, "1.4.0", ROLLBACK, replaces=1), REHEARSED[3]]

    assert check(history)[0] is GateStatus.MISSING


def test_a_rehearsal_that_did_not_cross_the_major_boundary_fails() -> None:
    # staging ran a release candidate of 2.0.0 before: rolling back to it rehearses nothing
    history = [
        ran(1, "2.0.0-rc.1"),
        ran(2, "2.0.0", state=ROLLED_BACK),
        ran(3, "2.0.0-rc.1", ROLLBACK, replaces=2),
        ran(4, "2.0.0"),
    ]

    status, reason = check(history)

    assert status is GateStatus.FAILED
    assert "rolled back to 2.0.0-rc.1, which is not a major release behind" in reason


def test_later_deployments_do_not_undo_a_rehearsal() -> None:
    history = [*REHEARSED, ran(5, "2.1.0"), ran(6, "2.0.1", DeploymentKind.HOTFIX)]

    assert check(history)[0] is GateStatus.PASSED


def test_cancelled_requests_never_ran_and_are_not_in_the_history() -> None:
    # the store passes only deployments that started; the order of the list does not matter
    assert check(list(reversed(REHEARSED)))[0] is GateStatus.PASSED


def test_the_next_step_of_a_rehearsal_follows_the_history() -> None:
    assert find_rehearsals("2.0.0", "staging", REHEARSED[:1]).next_step is Step.DEPLOY
    assert find_rehearsals("2.0.0", "staging", REHEARSED[:1]).rollback_to == "1.4.0"
    assert find_rehearsals("2.0.0", "staging", REHEARSED[:2]).next_step is Step.ROLL_BACK
    assert find_rehearsals("2.0.0", "staging", REHEARSED[:2]).rollback_to == "1.4.0"
    assert find_rehearsals("2.0.0", "staging", REHEARSED[:3]).next_step is Step.REDEPLOY
    assert find_rehearsals("2.0.0", "staging", REHEARSED).next_step is Step.DONE


def test_a_rehearsal_cannot_start_without_a_stable_release_to_go_back_to() -> None:
    found = find_rehearsals("2.0.0", "staging", [])

    assert found.rollback_to is None
    assert found.problem.startswith("staging has no stable release other than 2.0.0 to roll back")


@pytest.mark.parametrize(
    ("version", "over", "major"),
    [
        ("2.0.0", "1.4.0", True),
        ("2.0.0-rc.1", "1.9.9", True),
        ("1.5.0", "1.4.0", False),
        ("1.4.0", "2.0.0", False),
        ("0.5.0", "0.4.2", True),
        ("0.4.3", "0.4.2", False),
        ("1.0.0", "0.9.0", True),
        ("2.0.0", "2.0.0-rc.1", False),
    ],
)
def test_what_a_major_bump_is(version: str, over: str, major: bool) -> None:
    assert is_major_bump(version, over) is major


PIPELINE = """\
service: pay
environments:
  - name: staging
    deployer: {type: record}
  - name: production
    deployer: {type: record}
    gates:
      - type: rollback_rehearsed
        in: %s
"""


def test_relgate_yaml_names_the_rehearsal_environment_with_in() -> None:
    applied = parse_pipeline(PIPELINE % "staging", "relgate.yaml")

    dumped = applied.pipeline.model_dump(mode="json")
    assert dumped["environments"][1]["gates"] == [{"type": "rollback_rehearsed", "in": "staging"}]
    assert PipelineSpec.model_validate(dumped) == applied.pipeline


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("qa", "names 'qa', which is not an environment before 'production'"),
        ("production", "rollback_rehearsed in 'production' names its own environment"),
    ],
)
def test_the_rehearsal_environment_must_come_earlier(where: str, message: str) -> None:
    with pytest.raises(InvalidConfig) as raised:
        parse_pipeline(PIPELINE % where, "relgate.yaml")

    assert "relgate.yaml:9" in raised.value.message
    assert message in raised.value.message


def test_removing_the_gate_from_a_protected_environment_weakens_it() -> None:
    with_gate = parse_pipeline(PIPELINE % "staging", "relgate.yaml").pipeline
    without = parse_pipeline(
        PIPELINE.split("    gates:", maxsplit=1)[0].replace("%s", "staging"), "relgate.yaml"
    ).pipeline

    removed = compare_protection(with_gate, without)
    added = compare_protection(without, with_gate)

    assert [c.message for c in removed.weakenings] == [
        "production no longer needs a rollback rehearsal in staging (rollback_rehearsed)"
    ]
    assert [c.message for c in added.tightenings] == [
        "production now needs a rollback rehearsal in staging (rollback_rehearsed)"
    ]


def test_a_finished_rehearsal_is_what_the_progress_says() -> None:
    found = find_rehearsals("2.0.0", "staging", [*REHEARSED, ran(5, "2.1.0")])

    assert found.next_step is Step.DEPLOY
    assert found.progress() == found.rehearsals[-1].describe()


def test_deploying_the_release_twice_before_the_rollback_still_rolls_back_to_the_one_before() -> (
    None
):
    history = [ran(1, "1.4.0"), ran(2, "2.0.0"), ran(3, "2.0.0")]

    found = find_rehearsals("2.0.0", "staging", history)
    rehearsed = [*history, ran(4, "1.4.0", ROLLBACK, replaces=3), ran(5, "2.0.0")]

    assert (found.next_step, found.rollback_to, found.problem) == (Step.ROLL_BACK, "1.4.0", "")
    assert check(rehearsed)[0] is GateStatus.PASSED


def test_a_rehearsal_with_the_record_deployer_deployed_nothing_and_fails() -> None:
    history = [replace(d, deployer="record") if d.id == 3 else d for d in REHEARSED]

    status, reason = check(history)

    assert status is GateStatus.FAILED
    assert "the rehearsal in staging ran with the record deployer" in reason
    assert "nothing was deployed, so no rollback was tried" in reason
