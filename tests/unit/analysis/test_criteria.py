"""The verdict of one measurement: thresholds, comparisons with stable, Mann-Whitney U."""

from __future__ import annotations

import pytest

from relgate.analysis.config import ComparativeSpec, JudgeSpec, ThresholdSpec
from relgate.analysis.criteria import judge_comparative, judge_mann_whitney, judge_threshold
from relgate.analysis.model import Reading, Verdict


@pytest.mark.parametrize(
    ("bounds", "value", "verdict", "reason"),
    [
        ({"max": 0.01}, 0.002, Verdict.PASS, "0.002 is at most 0.01"),
        ({"max": 0.01}, 0.01, Verdict.PASS, "0.01 is at most 0.01"),
        ({"max": 0.01}, 0.05, Verdict.FAIL, "0.05 is above the maximum 0.01"),
        ({"max": 0.3}, float("inf"), Verdict.FAIL, "inf is above the maximum 0.3"),
        ({"min": 0.99}, 0.98, Verdict.FAIL, "0.98 is below the minimum 0.99"),
        ({"min": 1, "max": 2}, 1.5, Verdict.PASS, "1.5 is at least 1 and at most 2"),
        ({"max": 0.01}, None, Verdict.NODATA, "no data: the query answered nothing for the canary"),
        # NaN (0 / 0: no requests) is no data, never zero
        ({"max": 0.01}, float("nan"), Verdict.NODATA, "no data"),
    ],
)
def test_thresholds(bounds: dict, value: float | None, verdict: Verdict, reason: str) -> None:
    judgement = judge_threshold(ThresholdSpec(**bounds), Reading(value=value))
    assert judgement.verdict is verdict
    assert judgement.reason.startswith(reason)


def compare(canary: Reading, stable: Reading, **spec: float) -> tuple[Verdict, str]:
    judgement = judge_comparative(ComparativeSpec(**spec), canary, stable)  # type: ignore[arg-type]
    return judgement.verdict, judgement.reason


def test_comparative_bounds_the_canary_by_the_stable() -> None:
    within = compare(Reading(0.31), Reading(0.30), max_ratio_to_stable=1.05)
    above = compare(Reading(0.32), Reading(0.30), max_ratio_to_stable=1.05)
    below = compare(Reading(90), Reading(100), min_ratio_to_stable=0.95)
    assert within == (Verdict.PASS, "canary 0.31 against stable 0.3 (1.033 × stable)")
    assert above == (Verdict.FAIL, "canary 0.32 is above stable 0.3 × 1.05 = 0.315")
    assert below == (Verdict.FAIL, "canary 90 is below stable 100 × 0.95 = 95")
    assert compare(Reading(0.0), Reading(0.0), max_ratio_to_stable=1.05) == (
        Verdict.PASS,
        "canary 0 against stable 0 (stable is 0)",
    )


def test_comparative_needs_data_and_enough_requests_on_both_sides() -> None:
    spec = {"max_ratio_to_stable": 1.05, "min_requests": 100}
    assert compare(Reading(None), Reading(0.3), **spec) == (
        Verdict.NODATA,
        "no data: the query answered nothing for the canary",
    )
    assert compare(Reading(0.3, requests=0), Reading(0.3, requests=500), **spec) == (
        Verdict.NODATA,
        "no data: the canary served no requests in the window",
    )
    assert compare(Reading(0.3, requests=500), Reading(0.3, requests=40), **spec) == (
        Verdict.INCONCLUSIVE,
        "the stable served 40 requests in the window, fewer than the 100 needed to compare",
    )
    assert compare(Reading(0.3, requests=100), Reading(0.3, requests=100), **spec)[0] is (
        Verdict.PASS
    )


def whitney(canary: list[float], stable: list[float], **spec: object):
    judge = JudgeSpec.model_validate({"type": "mann_whitney", **spec})
    return judge_mann_whitney(judge, Reading(samples=tuple(canary)), Reading(samples=tuple(stable)))


SLOW = [130.0 + i % 7 for i in range(20)]
FAST = [100.0 + i % 7 for i in range(20)]


def test_mann_whitney_fails_a_canary_worse_in_the_given_direction() -> None:
    slower = whitney(SLOW, FAST)
    assert slower.verdict is Verdict.FAIL
    assert slower.p_value is not None and slower.p_value < 1e-6
    assert slower.reason.startswith(
        "the canary's values are higher than stable's (median 133 against 103, "
        "20 and 20 samples; Mann-Whitney U p="
    )
    # faster is no failure when higher is worse, but is with lower_is_worse or either
    assert whitney(FAST, SLOW).verdict is Verdict.PASS
    assert whitney(FAST, SLOW, direction="lower_is_worse").verdict is Verdict.FAIL
    assert whitney(FAST, SLOW, direction="either").verdict is Verdict.FAIL


def test_mann_whitney_passes_the_same_distribution_and_identical_samples() -> None:
    same = whitney(FAST, list(reversed(FAST)))
    zeros = whitney([0.0] * 12, [0.0] * 12)
    assert same.verdict is Verdict.PASS and same.p_value is not None and same.p_value > 0.4
    assert (zeros.verdict, zeros.p_value) == (Verdict.PASS, 1.0)
    assert zeros.reason.startswith("no significant difference from stable (median 0 against 0")


def test_mann_whitney_allows_a_significant_but_small_difference_when_told() -> None:
    slightly = [value * 1.05 for value in FAST]
    assert whitney(slightly, FAST).verdict is Verdict.FAIL
    within = whitney(slightly, FAST, allowed_ratio=1.1)
    assert within.verdict is Verdict.PASS
    assert "but within the allowed ratio 1.1" in within.reason
    assert whitney(SLOW, FAST, allowed_ratio=1.1).verdict is Verdict.FAIL


def test_mann_whitney_needs_samples_on_both_sides() -> None:
    assert whitney([], FAST).reason == "no data: no samples of the canary in the window"
    assert whitney([], FAST).verdict is Verdict.NODATA
    few = whitney(SLOW, FAST[:5])
    assert (few.verdict, few.reason) == (
        Verdict.INCONCLUSIVE,
        "5 samples of the stable, fewer than the 10 the test needs",
    )
    # NaN samples are dropped (a quantile of an empty window)
    nan = whitney([float("nan")] * 20, FAST)
    assert nan.verdict is Verdict.NODATA
