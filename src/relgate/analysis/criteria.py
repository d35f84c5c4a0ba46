"""The verdict of one measurement: thresholds, comparisons with stable, Mann-Whitney U.

Pure functions over readings, each returning a Judgement with a reason a person
understands. No data (an empty reading, no requests) is ``nodata``; too little
to judge (fewer requests or samples than required) is ``inconclusive``; only a
measured value past its bound, or a significant difference in the worse
direction, is ``fail``.
"""

from __future__ import annotations

import math
from statistics import median

from relgate.analysis.config import ComparativeSpec, JudgeSpec, MetricSpec, ThresholdSpec
from relgate.analysis.model import Judgement, Reading, Verdict


def number(value: float) -> str:
    """A value as a person reads it: 4 significant digits."""
    return f"{value:.4g}"


def judge_threshold(spec: ThresholdSpec, canary: Reading) -> Judgement:
    """Judge the canary's value against absolute bounds."""
    value = canary.value
    if value is None:
        return Judgement(Verdict.NODATA, "no data: the query answered nothing for the canary")
    if spec.max is not None and value > spec.max:
        return Judgement(Verdict.FAIL, f"{number(value)} is above the maximum {number(spec.max)}")
    if spec.min is not None and value < spec.min:
        return Judgement(Verdict.FAIL, f"{number(value)} is below the minimum {number(spec.min)}")
    bounds = " and ".join(
        f"{word} {number(bound)}"
        for word, bound in (("at least", spec.min), ("at most", spec.max))
        if bound is not None
    )
    return Judgement(Verdict.PASS, f"{number(value)} is {bounds}")


def _requests(spec: ComparativeSpec, side: str, reading: Reading) -> Judgement | None:
    needed = spec.min_requests
    if needed is None:
        return None
    served = reading.requests or 0.0
    if served <= 0:
        return Judgement(Verdict.NODATA, f"no data: the {side} served no requests in the window")
    if served < needed:
        return Judgement(
            Verdict.INCONCLUSIVE,
            f"the {side} served {number(served)} requests in the window, "
            f"fewer than the {needed} needed to compare",
        )
    return None


def judge_comparative(spec: ComparativeSpec, canary: Reading, stable: Reading) -> Judgement:
    """Judge the canary's value against the stable's, read over the same window."""
    for side, reading in (("canary", canary), ("stable", stable)):
        if reading.value is None:
            return Judgement(Verdict.NODATA, f"no data: the query answered nothing for the {side}")
    for side, reading in (("canary", canary), ("stable", stable)):
        too_few = _requests(spec, side, reading)
        if too_few is not None:
            return too_few
    assert canary.value is not None and stable.value is not None
    ours, theirs = canary.value, stable.value
    if spec.max_ratio_to_stable is not None:
        bound = theirs * spec.max_ratio_to_stable
        if ours > bound:
            return Judgement(
                Verdict.FAIL,
                f"canary {number(ours)} is above stable {number(theirs)} × "
                f"{number(spec.max_ratio_to_stable)} = {number(bound)}",
            )
    if spec.min_ratio_to_stable is not None:
        bound = theirs * spec.min_ratio_to_stable
        if ours < bound:
            return Judgement(
                Verdict.FAIL,
                f"canary {number(ours)} is below stable {number(theirs)} × "
                f"{number(spec.min_ratio_to_stable)} = {number(bound)}",
            )
    ratio = f"{number(ours / theirs)} × stable" if theirs else "stable is 0"
    return Judgement(
        Verdict.PASS, f"canary {number(ours)} against stable {number(theirs)} ({ratio})"
    )


_ALTERNATIVE = {"higher_is_worse": "greater", "lower_is_worse": "less", "either": "two-sided"}


def _worse_by_more_than(spec: JudgeSpec, ours: float, theirs: float) -> bool:
    """True when the canary's median is worse than the allowed ratio lets it be."""
    if spec.allowed_ratio == 1.0:
        return True
    higher = ours > theirs * spec.allowed_ratio
    lower = ours * spec.allowed_ratio < theirs
    if spec.direction == "higher_is_worse":
        return higher
    if spec.direction == "lower_is_worse":
        return lower
    return higher or lower


def judge_mann_whitney(spec: JudgeSpec, canary: Reading, stable: Reading) -> Judgement:
    """Test the canary's samples against the stable's with the Mann-Whitney U test.

    ``higher_is_worse`` tests whether the canary's values tend to be greater
    (a one-sided test), ``lower_is_worse`` smaller, ``either`` different.
    """
    from scipy.stats import mannwhitneyu

    for side, reading in (("canary", canary), ("stable", stable)):
        if not reading.samples:
            return Judgement(Verdict.NODATA, f"no data: no samples of the {side} in the window")
    for side, reading in (("canary", canary), ("stable", stable)):
        if len(reading.samples) < spec.min_samples:
            return Judgement(
                Verdict.INCONCLUSIVE,
                f"{len(reading.samples)} samples of the {side}, fewer than the "
                f"{spec.min_samples} the test needs",
            )
    result = mannwhitneyu(canary.samples, stable.samples, alternative=_ALTERNATIVE[spec.direction])
    p_value = float(result.pvalue)
    if math.isnan(p_value):
        # every sample the same value on both sides: no difference to find
        p_value = 1.0
    ours, theirs = median(canary.samples), median(stable.samples)
    medians = (
        f"median {number(ours)} against {number(theirs)}, "
        f"{len(canary.samples)} and {len(stable.samples)} samples"
    )
    if p_value >= spec.alpha:
        return Judgement(
            Verdict.PASS,
            f"no significant difference from stable ({medians}; Mann-Whitney U "
            f"p={p_value:.3g} ≥ alpha {spec.alpha:g})",
            p_value,
        )
    how = "higher" if ours > theirs else "lower" if ours < theirs else "different"
    if not _worse_by_more_than(spec, ours, theirs):
        return Judgement(
            Verdict.PASS,
            f"the canary's values are {how} than stable's ({medians}; p={p_value:.3g}) "
            f"but within the allowed ratio {spec.allowed_ratio:g}",
            p_value,
        )
    return Judgement(
        Verdict.FAIL,
        f"the canary's values are {how} than stable's ({medians}; Mann-Whitney U "
        f"p={p_value:.3g} < alpha {spec.alpha:g})",
        p_value,
    )


def judge(metric: MetricSpec, canary: Reading, stable: Reading | None) -> Judgement:
    """Judge one measurement of ``metric`` by its criterion."""
    if metric.threshold is not None:
        return judge_threshold(metric.threshold, canary)
    assert stable is not None, "comparative and judge metrics read the stable version too"
    if metric.comparative is not None:
        return judge_comparative(metric.comparative, canary, stable)
    assert metric.judge is not None
    return judge_mann_whitney(metric.judge, canary, stable)
