"""What an analysis produces: verdicts, actions, readings and measurements (plain data)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Verdict(StrEnum):
    """The verdict of one measurement, of one metric over a run, or of a whole run.

    ``pass`` and ``fail`` are judgements on data; ``inconclusive`` means there was
    data but not enough to judge (too few requests or samples, a failure not yet
    confirmed, a provider that could not be read); ``nodata`` means the metric had
    no value at all (no traffic: an empty or NaN answer, never read as zero).
    """

    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"
    NODATA = "nodata"

    @property
    def severity(self) -> int:
        """How bad: fail 3 > inconclusive 2 > nodata 1 > pass 0 (the run takes the worst)."""
        return _SEVERITY[self]


_SEVERITY = {Verdict.PASS: 0, Verdict.NODATA: 1, Verdict.INCONCLUSIVE: 2, Verdict.FAIL: 3}


def worst(verdicts: list[Verdict]) -> Verdict:
    """Return the most severe of ``verdicts`` (pass when there are none)."""
    return max(verdicts, key=lambda verdict: verdict.severity, default=Verdict.PASS)


class Action(StrEnum):
    """What the rollout does with a run's verdict (the ``on:`` table)."""

    CONTINUE = "continue"
    PAUSE = "pause"
    ABORT = "abort"


class Side(StrEnum):
    """Which version a reading is of."""

    CANARY = "canary"
    STABLE = "stable"


@dataclass(frozen=True)
class AnalysisContext:
    """What the queries are templated with: the rollout's service, environment and versions."""

    service: str
    environment: str
    stable_version: str
    canary_version: str

    def version(self, side: Side) -> str:
        """Return the version of ``side``."""
        return self.canary_version if side is Side.CANARY else self.stable_version


@dataclass(frozen=True)
class MetricQuery:
    """One reading asked of a provider: which side, over which window, ending when."""

    context: AnalysisContext
    side: Side
    window_seconds: float
    at: datetime
    # the statistical judge needs the samples of the window, not one value
    samples: bool = False
    # a comparative criterion with min_requests needs the window's request count
    requests: bool = False

    @property
    def version(self) -> str:
        """The version this reading is of."""
        return self.context.version(self.side)


@dataclass(frozen=True)
class Reading:
    """What a provider read: a value (None: no data), samples, and the requests behind them."""

    value: float | None = None
    samples: tuple[float, ...] = ()
    requests: float | None = None

    def __post_init__(self) -> None:
        # NaN is Prometheus's (and a division's) way of saying "nothing to compute from"
        if self.value is not None and math.isnan(self.value):
            object.__setattr__(self, "value", None)
        object.__setattr__(
            self, "samples", tuple(sample for sample in self.samples if not math.isnan(sample))
        )
        if self.requests is not None and math.isnan(self.requests):
            object.__setattr__(self, "requests", None)

    @property
    def empty(self) -> bool:
        """True when there is neither a value nor a sample."""
        return self.value is None and not self.samples


@dataclass(frozen=True)
class Judgement:
    """The verdict of one measurement and why, in words a person understands."""

    verdict: Verdict
    reason: str
    p_value: float | None = None


@dataclass(frozen=True)
class Measurement:
    """One metric measured in one window: what was read, the verdict and its reason."""

    metric: str
    window: int
    at: datetime
    verdict: Verdict
    reason: str
    canary: Reading | None = None
    stable: Reading | None = None
    p_value: float | None = None
    # set when the provider could not be read (the verdict is then inconclusive)
    error: str | None = None


@dataclass(frozen=True)
class MetricOutcome:
    """One metric's verdict over the run, with the rule that gave it."""

    metric: str
    verdict: Verdict
    reason: str


@dataclass(frozen=True)
class AnalysisResult:
    """A run's verdict, the action the ``on:`` table gives it, and every measurement."""

    verdict: Verdict
    action: Action
    reason: str
    metrics: tuple[MetricOutcome, ...] = ()
    measurements: tuple[Measurement, ...] = field(default=(), repr=False)
    windows: int = 0
    cancelled: bool = False
