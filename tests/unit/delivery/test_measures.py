"""The delivery measures on constructed histories whose answers are known by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from relgate.delivery.measures import compute, median, percentile
from relgate.delivery.model import (
    CommitTime,
    DeploymentRecord,
    History,
    IncidentRecord,
    ReleaseRecord,
)

SINCE = datetime(2026, 10, 1, tzinfo=UTC)
UNTIL = datetime(2026, 10, 29, tzinfo=UTC)  # four weeks
HOUR = 3600.0


def at(day: int, hour: float = 0, month: int = 10) -> datetime:
    return datetime(2026, month, day, tzinfo=UTC) + timedelta(hours=hour)


def dep(
    id_: int,
    release: int,
    version: str,
    end: datetime,
    *,
    state: str = "succeeded",
    kind: str = "promote",
    env: str = "production",
    replaces: int | None = None,
    outcome: str = "",
    created: datetime | None = None,
) -> DeploymentRecord:
    started = end - timedelta(minutes=10)
    return DeploymentRecord(
        id=id_,
        environment=env,
        release_id=release,
        version=version,
        kind=kind,
        state=state,
        created_at=created or started,
        started_at=None if state in ("cancelled", "rejected") else started,
        finished_at=end,
        verified_at=end if state in ("succeeded", "rolled_back") else None,
        replaces=replaces,
        outcome=outcome,
    )


def rel(id_: int, version: str, *commits: tuple[str, datetime]) -> ReleaseRecord:
    return ReleaseRecord(
        id=id_,
        version=version,
        commit=commits[-1][0] if commits else None,
        commits=tuple(CommitTime(sha, when) for sha, when in commits),
        commit_count=len(commits),
    )


def history(deployments, releases=(), incidents=()) -> History:  # type: ignore[no-untyped-def]
    return History("payments", "production", tuple(deployments), tuple(releases), tuple(incidents))


# --------------------------------------------------------------------------- percentiles


def test_median_and_nearest_rank_p90_of_few_values() -> None:
    assert median([]) is None and percentile([], 90) is None
    assert median([5.0]) == 5.0 and percentile([5.0], 90) == 5.0
    assert percentile([3.0, 1.0, 2.0], 90) == 3.0  # rank ceil(2.7) = 3
    assert median([1.0, 2.0, 3.0, 4.0]) == 2.5
    assert percentile([float(v) for v in range(1, 11)], 90) == 9.0  # rank 9 of 10
    assert percentile([float(v) for v in range(1, 12)], 90) == 10.0  # rank ceil(9.9) = 10


# --------------------------------------------------------------------------- frequency


def test_frequency_counts_deployments_that_ran_and_their_days_per_week() -> None:
    report = compute(
        history(
            [
                dep(1, 1, "1.0.0", at(20, month=9)),  # before the period
                dep(2, 1, "1.0.0", at(2, 9)),
                dep(3, 2, "1.1.0", at(2, 15), state="failed", outcome="verify: exit 1"),
                dep(4, 2, "1.1.0", at(3, 9)),
                dep(5, 3, "1.2.0", at(3, 10), state="cancelled"),  # never ran
                dep(6, 3, "1.2.0", at(16, 9)),
                dep(7, 3, "1.2.0", at(17, 9), env="staging"),  # another environment
                dep(8, 3, "1.2.0", at(29, 0)),  # the period's end is excluded
            ]
        ),
        SINCE,
        UNTIL,
    )

    f = report.frequency
    assert (f.deployments, f.successful, f.deployment_days) == (4, 3, 3)
    assert f.weeks == 4.0
    assert f.deployments_per_week == 1.0
    assert f.deployment_days_per_week == 0.75
    assert [w.deployments for w in f.by_week] == [3, 0, 1, 0]
    assert [w.deployment_days for w in f.by_week] == [2, 0, 1, 0]
    assert [r.id for r in f.rows] == [2, 3, 4, 6]


def test_an_empty_period_has_no_rates_and_no_lead_time() -> None:
    report = compute(history([dep(1, 1, "1.0.0", at(20, month=9))]), SINCE, UNTIL)

    assert report.frequency.deployments == 0
    assert report.frequency.deployments_per_week == 0.0
    assert report.change_fail_rate.rate is None
    assert report.rework.rate is None
    assert report.lead_time.median_seconds is None and report.lead_time.p90_seconds is None
    assert report.recovery.median_seconds is None
    assert len(report.frequency.by_week) == 4


def test_a_period_with_deployments_elsewhere_but_none_in_production() -> None:
    report = compute(
        history(
            [dep(1, 1, "1.0.0", at(2), env="staging"), dep(2, 1, "1.0.0", at(3), env="dev")],
            [rel(1, "1.0.0", ("a", at(1)))],
        ),
        SINCE,
        UNTIL,
    )

    assert report.frequency.deployments == 0
    assert report.change_fail_rate.deployments == 0 and report.change_fail_rate.rate is None
    assert report.lead_time.commits == 0 and report.lead_time.baseline_deployment is None


def test_the_period_must_end_after_it_starts() -> None:
    with pytest.raises(ValueError, match="end after"):
        compute(history([]), UNTIL, SINCE)


# --------------------------------------------------------------------------- lead time


def test_lead_time_per_commit_to_the_deployment_that_first_shipped_it() -> None:
    releases = [
        rel(1, "1.0.0", ("a", at(1, month=9))),
        rel(2, "1.1.0", ("b", at(3, 0)), ("c", at(3, 12))),
        rel(3, "1.2.0", ("d", at(5, 0))),  # never promoted: 1.3.0 ships its commit
        rel(4, "1.3.0", ("e", at(6, 0))),
    ]
    deployments = [
        dep(1, 1, "1.0.0", at(2, 0)),  # the first production deployment: the baseline
        dep(2, 2, "1.1.0", at(4, 0)),
        dep(3, 4, "1.3.0", at(7, 0)),
        dep(4, 2, "1.1.0", at(8, 0), kind="rollback", replaces=3),
        dep(5, 4, "1.3.0", at(9, 0)),  # 1.3.0 again: nothing new to ship
    ]
    lead = compute(history(deployments, releases), SINCE, UNTIL).lead_time

    assert [(r.sha, r.deployment_id, r.seconds / HOUR) for r in lead.rows] == [
        ("b", 2, 24.0),
        ("c", 2, 12.0),
        ("d", 3, 48.0),
        ("e", 3, 24.0),
    ]
    assert lead.commits == 4
    assert lead.median_seconds == 24 * HOUR
    assert lead.p90_seconds == 48 * HOUR  # nearest rank ceil(3.6) = 4 of 4
    assert lead.baseline_deployment == 1
    bases = {d.deployment_id: d.basis for d in lead.deployments}
    assert bases == {
        1: "first production deployment (excluded)",
        2: "commit list",
        3: "commit list",
        5: "nothing new",
    }
    assert not lead.fewer_data


def test_the_first_deployment_does_not_swallow_a_year_of_commits() -> None:
    year = [(f"old{i}", at(1, month=10) - timedelta(days=365 - i % 365)) for i in range(1000)]
    releases = [rel(1, "1.0.0", *year), rel(2, "1.0.1", ("fix", at(10, 8)))]
    deployments = [dep(1, 1, "1.0.0", at(5)), dep(2, 2, "1.0.1", at(10, 10))]

    lead = compute(history(deployments, releases), SINCE, UNTIL).lead_time

    assert lead.baseline_deployment == 1
    assert [r.sha for r in lead.rows] == ["fix"]
    assert lead.median_seconds == 2 * HOUR and lead.p90_seconds == 2 * HOUR
    first = next(d for d in lead.deployments if d.deployment_id == 1)
    assert first.basis == "first production deployment (excluded)"
    assert first.excluded_commits == 1000


def test_the_baseline_before_the_period_still_excludes_its_commits() -> None:
    releases = [rel(1, "1.0.0", ("old", at(1, month=1))), rel(2, "1.1.0", ("new", at(2)))]
    deployments = [dep(1, 1, "1.0.0", at(15, month=9)), dep(2, 2, "1.1.0", at(3))]

    lead = compute(history(deployments, releases), SINCE, UNTIL).lead_time

    assert [r.sha for r in lead.rows] == ["new"]
    assert [d.deployment_id for d in lead.deployments] == [2]


def test_a_release_without_a_commit_list_uses_its_own_commit_time_and_says_so() -> None:
    releases = [
        rel(1, "1.0.0", ("a", at(1))),
        ReleaseRecord(id=2, version="1.1.0", commit="abc", committed_at=at(4, 0)),
        ReleaseRecord(id=3, version="1.2.0"),  # nothing known
    ]
    deployments = [
        dep(1, 1, "1.0.0", at(2)),
        dep(2, 2, "1.1.0", at(4, 6)),
        dep(3, 3, "1.2.0", at(6)),
    ]
    lead = compute(history(deployments, releases), SINCE, UNTIL).lead_time

    assert [(r.sha, r.seconds / HOUR, r.basis) for r in lead.rows] == [
        ("abc", 6.0, "release commit only")
    ]
    bases = {d.deployment_id: d.basis for d in lead.deployments}
    assert bases[2] == "release commit only"
    assert bases[3] == "no commit times"
    assert lead.fewer_data


def test_a_cut_commit_list_marks_the_lead_time_as_based_on_fewer_data() -> None:
    cut = ReleaseRecord(id=2, version="1.1.0", commits=(CommitTime("b", at(3)),), commit_count=7000)
    deployments = [dep(1, 1, "1.0.0", at(2)), dep(2, 2, "1.1.0", at(4))]
    lead = compute(history(deployments, [rel(1, "1.0.0"), cut]), SINCE, UNTIL).lead_time

    assert lead.commits == 1
    assert lead.fewer_data


# --------------------------------------------------------------------------- failures


def _failing_history() -> History:
    deployments = [
        dep(1, 1, "1.0.0", at(2, 0)),
        dep(2, 2, "1.1.0", at(3, 0), state="rolled_back", outcome="verify: exit 1"),
        dep(3, 1, "1.0.0", at(3, 1), kind="auto-rollback", replaces=2),
        dep(4, 3, "1.2.0", at(5, 0)),  # an incident is linked to it
        dep(5, 4, "1.3.0", at(6, 0), state="rolled_back"),
        dep(6, 3, "1.2.0", at(6, 2), kind="rollback", replaces=5, created=at(6, 1)),
        dep(7, 5, "1.3.1", at(8, 0), kind="hotfix"),
    ]
    # the failed deployment 2 never verified: it is failed and rolled back
    deployments[1] = DeploymentRecord(**{**deployments[1].__dict__, "verified_at": None})
    incidents = [IncidentRecord(1, 4, opened_at=at(5, 12), resolved_at=at(5, 20))]
    return history(deployments, incidents=incidents)


def test_change_fail_rate_counts_failed_rolled_back_and_incident_linked_deployments() -> None:
    cfr = compute(_failing_history(), SINCE, UNTIL).change_fail_rate

    assert (cfr.deployments, cfr.failed) == (7, 3)
    assert cfr.rate == pytest.approx(3 / 7)
    reasons = {r.id: r.failure_reasons for r in cfr.rows}
    assert reasons == {
        2: ["failed: verify: exit 1", "rolled back by deployment 3"],
        4: ["incident 1"],
        5: ["rolled back by deployment 6"],
    }
    assert [i.id for i in cfr.incidents] == [1]


def test_rework_rate_counts_rollbacks_and_hotfix_promotions() -> None:
    rework = compute(_failing_history(), SINCE, UNTIL).rework

    assert (rework.deployments, rework.rollbacks, rework.hotfixes) == (7, 2, 1)
    assert rework.rate == pytest.approx(3 / 7)
    assert [r.id for r in rework.rows] == [3, 6, 7]


def test_recovery_runs_from_the_failure_to_the_next_healthy_state() -> None:
    recovery = compute(_failing_history(), SINCE, UNTIL).recovery

    rows = {r.deployment_id: r for r in recovery.rows}
    # failed at its end, healthy again when the auto-rollback verified: 1 h
    assert rows[2].failed_at == at(3, 0) and rows[2].recovered_by == 3
    assert rows[2].seconds == 1 * HOUR
    # the incident opened at 12:00 and was resolved at 20:00, before the next deployment
    assert rows[4].failed_at == at(5, 12) and rows[4].recovered_by is None
    assert rows[4].how == "incidents resolved" and rows[4].seconds == 8 * HOUR
    # rolled back: failed when the rollback was asked for (01:00), healthy at 02:00
    assert rows[5].failed_at == at(6, 1) and rows[5].recovered_by == 6
    assert rows[5].seconds == 1 * HOUR
    assert (recovery.failures, recovery.recovered) == (3, 3)
    assert recovery.median_seconds == 1 * HOUR
    assert recovery.p90_seconds == 8 * HOUR


def test_an_open_incident_without_a_later_healthy_deployment_is_not_recovered() -> None:
    report = compute(
        history(
            [dep(1, 1, "1.0.0", at(2))],
            incidents=[IncidentRecord(1, 1, opened_at=at(3))],
        ),
        SINCE,
        UNTIL,
    )

    (row,) = report.recovery.rows
    assert row.recovered_at is None and row.how == "not recovered yet"
    assert report.recovery.median_seconds is None
    assert report.change_fail_rate.rate == 1.0


def test_an_incident_counts_only_against_the_deployment_it_is_linked_to() -> None:
    # opened after 1.1.0 was deployed, but linked to 1.0.0's deployment: no guessing by time
    report = compute(
        history(
            [dep(1, 1, "1.0.0", at(2)), dep(2, 2, "1.1.0", at(4))],
            incidents=[IncidentRecord(7, 1, opened_at=at(5))],
        ),
        SINCE,
        UNTIL,
    )

    assert [(r.id, r.failure_reasons) for r in report.change_fail_rate.rows] == [
        (1, ["incident 7"])
    ]
    # the next healthy state after the failure (opened on the 5th) is not yet there
    (row,) = report.recovery.rows
    assert row.recovered_at is None


def test_a_failure_of_the_period_that_recovered_after_it_has_its_recovery_time() -> None:
    report = compute(
        history(
            [
                dep(1, 1, "1.0.0", at(27, 0)),
                dep(2, 2, "1.1.0", at(28, 23), state="failed"),
                dep(3, 1, "1.0.0", at(29, 1), kind="rollback", replaces=2),  # after the period
            ]
        ),
        SINCE,
        UNTIL,
    )

    (row,) = report.recovery.rows
    assert row.recovered_by == 3 and row.seconds == 2 * HOUR
    assert report.frequency.deployments == 2  # the rollback is not a deployment of the period
