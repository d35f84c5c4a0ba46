"""The ``analysis:`` block of a rollout in relgate.yaml (docs/analysis.md is its reference).

analysis:
  interval: 1m            # one measurement per interval
  count: 5                # windows in a run
  consecutive: 2          # failing windows in a row that fail the run
  metrics:
    - name: error-ratio
      provider: {type: prometheus, address: http://127.0.0.1:9090, query: "..."}
      threshold: {max: 0.01}
  on: {fail: abort, inconclusive: pause, nodata: pause, pass: continue}

Each metric has one provider (prometheus | scrape | command, chosen by ``type``:
relgate.analysis.providers) and one criterion: ``threshold`` (absolute),
``comparative`` (against the stable version) or ``judge`` (a statistical test of
the samples of both versions).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import re2
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from relgate.analysis.durations import Duration
from relgate.analysis.model import Action, Verdict
from relgate.analysis.templating import VARIABLES, check_plain, check_promql, render_plain
from relgate.manifest.tagged import by_type

METRIC_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\Z")
PROMETHEUS_NAME = re.compile(r"^[A-Za-z_:][A-Za-z0-9_:]{0,199}\Z")
LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,199}\Z")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
MAX_QUERY = 10_000
MAX_METRICS = 50
MAX_COUNT = 10_000
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc or len(value) > 2000:
        raise ValueError(f"must be an http:// or https:// address of {what}")
    return value


def _query(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    if len(value) > MAX_QUERY:
        raise ValueError(f"must be at most {MAX_QUERY} characters")
    problem = check_promql(value)
    if problem:
        raise ValueError(problem)
    return value


class PrometheusProviderSpec(BaseModel):
    """Read a PromQL query from a Prometheus server's HTTP API (relgate.analysis.providers)."""

    model_config = _STRICT

    type: Literal["prometheus"]
    address: str = Field(description="The Prometheus server, e.g. http://127.0.0.1:9090.")
    query: str = Field(
        description="A PromQL query templated with {{service}}, {{environment}}, "
        "{{stable_version}}, {{canary_version}}, {{version}} (the version read) and "
        "{{window}}; it must answer one series or a scalar (aggregate with sum(...))."
    )
    requests_query: str | None = Field(
        default=None,
        description="A query for the requests of the window, templated the same way; "
        "needed by `comparative.min_requests`.",
    )
    step: Duration = Field(
        default=5.0,
        description="The resolution of range queries (the samples of a `judge`).",
    )
    timeout: Duration = Field(default=10.0, description="How long one query may take.")
    max_response_bytes: int = Field(
        default=1024 * 1024,
        ge=1024,
        le=MAX_RESPONSE_BYTES,
        description="Longer answers are refused (a query that selects too much).",
    )
    bearer_token_env: str | None = Field(
        default=None,
        description="A variable of the server's environment holding a bearer token for "
        "Prometheus; the token is never in relgate.yaml.",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        return _http_url(value, "the Prometheus server").rstrip("/")

    @field_validator("query", "requests_query")
    @classmethod
    def _promql(cls, value: str | None) -> str | None:
        return None if value is None else _query(value)

    @field_validator("bearer_token_env")
    @classmethod
    def _token_env(cls, value: str | None) -> str | None:
        if value is not None and (
            not ENV_NAME.match(value) or value.upper().startswith("RELGATE_")
        ):
            raise ValueError(f"{value!r} is not a variable name outside RELGATE_*")
        return value


class ScrapeTargets(BaseModel):
    """The ``/metrics`` address of each version's instance."""

    model_config = _STRICT

    stable: str = Field(description="The stable version's instance, e.g. http://10.0.0.5/metrics.")
    canary: str = Field(description="The canary version's instance.")

    @field_validator("stable", "canary")
    @classmethod
    def _url(cls, value: str) -> str:
        return _http_url(value, "an instance's metrics")


Selection = dict[str, str]


class ScrapeProviderSpec(BaseModel):
    """Scrape Prometheus text from each version's instance and measure between two scrapes."""

    model_config = _STRICT

    type: Literal["scrape"]
    targets: ScrapeTargets
    metric: str = Field(
        description="The metric's name: a counter's sample name (http_requests_total) for "
        "increase and ratio, a gauge's for gauge, a histogram's base name "
        "(http_request_duration_seconds) for quantile."
    )
    measure: Literal["increase", "ratio", "gauge", "quantile"] = Field(
        description="increase: the selected counters' increase between two scrapes; ratio: "
        "that increase over the increase of `total`; gauge: the selected samples' sum; "
        "quantile: the `quantile` of a histogram's observations between two scrapes."
    )
    select: Selection = Field(
        default_factory=dict,
        description="Label name -> regular expression (RE2, whole value) the samples must "
        "match; values are templated like queries, e.g. {version: '{{version}}'}.",
    )
    total: Selection | None = Field(
        default=None,
        description="ratio: the selection of the denominator, like `select` (default: "
        "every sample of `metric`).",
    )
    quantile: float | None = Field(
        default=None, gt=0, lt=1, description="quantile: which one, e.g. 0.95."
    )
    timeout: Duration = Field(default=5.0, description="How long one scrape may take.")
    max_response_bytes: int = Field(default=4 * 1024 * 1024, ge=1024, le=MAX_RESPONSE_BYTES)

    @field_validator("metric")
    @classmethod
    def _metric(cls, value: str) -> str:
        if not PROMETHEUS_NAME.match(value):
            raise ValueError(f"{value!r} is not a Prometheus metric name")
        return value

    @field_validator("select", "total")
    @classmethod
    def _selection(cls, value: Selection | None) -> Selection | None:
        for label, pattern in (value or {}).items():
            if not LABEL_NAME.match(label):
                raise ValueError(f"{label!r} is not a Prometheus label name")
            if len(pattern) > 1000:
                raise ValueError(f"the pattern of {label} is longer than 1000 characters")
            problem = check_plain(pattern)
            if problem:
                raise ValueError(problem)
            try:
                re2.compile(render_plain(pattern, dict.fromkeys(VARIABLES, "x")))
            except re2.error as exc:
                raise ValueError(
                    f"the pattern of {label} is not a regular expression: {exc}"
                ) from None
        return value

    @model_validator(mode="after")
    def _measure_settings(self) -> ScrapeProviderSpec:
        if self.measure == "quantile" and self.quantile is None:
            raise ValueError("measure quantile needs `quantile`, e.g. 0.95")
        if self.measure != "quantile" and self.quantile is not None:
            raise ValueError("`quantile` goes with measure: quantile")
        if self.measure != "ratio" and self.total is not None:
            raise ValueError("`total` goes with measure: ratio")
        return self


class CommandProviderSpec(BaseModel):
    """Run a program (no shell) that prints the value: a number or JSON."""

    model_config = _STRICT

    type: Literal["command"]
    command: list[str] = Field(
        min_length=1,
        max_length=200,
        description="The program and its arguments; each is templated like a query "
        "(no shell reads them, so nothing needs quoting).",
    )
    timeout: Duration = Field(default=30.0, description="The command is killed after this long.")
    max_output_bytes: int = Field(default=64 * 1024, ge=16, le=16 * 1024 * 1024)
    env: dict[str, str] = Field(default_factory=dict, description="Variables set for it.")
    cwd: str | None = Field(default=None, description="Where it starts (the server's folder).")

    @field_validator("command")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        if not value[0]:
            raise ValueError("must name a program to run")
        for word in value:
            if "\x00" in word or len(word) > 10_000:
                raise ValueError("an argument holds NUL or is longer than 10000 characters")
            problem = check_plain(word)
            if problem:
                raise ValueError(problem)
        return value

    @field_validator("env")
    @classmethod
    def _env(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not ENV_NAME.match(name) or name.upper().startswith("RELGATE_"):
                raise ValueError(f"{name!r} is not a variable name outside RELGATE_*")
        return value


ProviderSpec = Annotated[
    Annotated[PrometheusProviderSpec, Tag("prometheus")]
    | Annotated[ScrapeProviderSpec, Tag("scrape")]
    | Annotated[CommandProviderSpec, Tag("command")],
    Field(discriminator=by_type("prometheus", "scrape", "command")),
]
"""A metric's ``provider:``."""


class ThresholdSpec(BaseModel):
    """An absolute bound on the canary's value: ``{max: 0.01}``, ``{min: 0.99}`` or both."""

    model_config = _STRICT

    max: float | None = Field(default=None, description="The value must be at most this.")
    min: float | None = Field(default=None, description="The value must be at least this.")

    @model_validator(mode="after")
    def _bounds(self) -> ThresholdSpec:
        if self.max is None and self.min is None:
            raise ValueError("give `max`, `min` or both")
        if self.max is not None and self.min is not None and self.min > self.max:
            raise ValueError("`min` is larger than `max`")
        return self


class ComparativeSpec(BaseModel):
    """The canary's value against the stable version's, read over the same window."""

    model_config = _STRICT

    max_ratio_to_stable: float | None = Field(
        default=None,
        gt=0,
        description="The canary's value must be at most the stable's times this (1.05: 5 % worse).",
    )
    min_ratio_to_stable: float | None = Field(
        default=None,
        gt=0,
        description="The canary's value must be at least the stable's times this (0.95).",
    )
    min_requests: int | None = Field(
        default=None,
        ge=1,
        description="Each version must have served at least this many requests in the "
        "window; fewer is inconclusive (none: no data).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> ComparativeSpec:
        if self.max_ratio_to_stable is None and self.min_ratio_to_stable is None:
            raise ValueError("give `max_ratio_to_stable`, `min_ratio_to_stable` or both")
        return self


class JudgeSpec(BaseModel):
    """A statistical test of the canary's samples against the stable's (as Kayenta's)."""

    model_config = _STRICT

    type: Literal["mann_whitney"] = Field(
        description="mann_whitney: the Mann-Whitney U test (scipy.stats.mannwhitneyu)."
    )
    alpha: float = Field(
        default=0.05,
        gt=0,
        le=0.5,
        description="The significance level: a p-value below it is a real difference.",
    )
    direction: Literal["higher_is_worse", "lower_is_worse", "either"] = Field(
        default="higher_is_worse",
        description="Which difference fails: higher canary values (errors, latency), lower "
        "ones (throughput, success), or either.",
    )
    min_samples: int = Field(
        default=10, ge=3, le=100_000, description="Fewer samples on a side is inconclusive."
    )
    allowed_ratio: float = Field(
        default=1.0,
        ge=1.0,
        description="A significant difference fails only when the canary's median is worse "
        "than the stable's by more than this ratio (1.1: 10 %); 1.0: any.",
    )


class ActionTable(BaseModel):
    """``on:``: what the rollout does for each run verdict.

    The defaults keep a person in the loop: no data and an inconclusive run pause
    (never an abort for want of traffic, nor a promotion without evidence). A
    failed run can abort or pause, never continue; a pass can continue or pause.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    fail: Literal["abort", "pause"] = Field(
        default="abort", description="A failed run: abort (all traffic to stable) or pause."
    )
    inconclusive: Literal["continue", "pause", "abort"] = Field(
        default="pause", description="An inconclusive run: pause for a person by default."
    )
    nodata: Literal["continue", "pause", "abort"] = Field(
        default="pause", description="A run without data (no traffic): pause by default."
    )
    pass_: Literal["continue", "pause"] = Field(
        default="continue", alias="pass", description="A passed run: continue, or pause."
    )

    def action(self, verdict: Verdict) -> Action:
        """Return the action for ``verdict``."""
        word = {
            Verdict.FAIL: self.fail,
            Verdict.INCONCLUSIVE: self.inconclusive,
            Verdict.NODATA: self.nodata,
            Verdict.PASS: self.pass_,
        }[verdict]
        return Action(word)


class MetricSpec(BaseModel):
    """One metric: where it is read and the criterion it is judged by (exactly one)."""

    model_config = _STRICT

    name: str = Field(description="Unique in the analysis; shown in every measurement.")
    provider: ProviderSpec
    threshold: ThresholdSpec | None = None
    comparative: ComparativeSpec | None = None
    judge: JudgeSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not METRIC_NAME.match(value):
            raise ValueError(
                "must be letters, digits, '.', '_' or '-', starting with a letter or digit"
            )
        return value

    @model_validator(mode="after")
    def _one_criterion(self) -> MetricSpec:
        given = [
            name
            for name in ("threshold", "comparative", "judge")
            if getattr(self, name) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of `threshold`, `comparative` or `judge`"
                + (f" (got {' and '.join(given)})" if given else "")
            )
        provider = self.provider
        if self.judge is not None and isinstance(provider, ScrapeProviderSpec):
            raise ValueError(
                "a judge needs samples: use a prometheus provider (a range query) or a "
                "command that prints a JSON list; a scrape gives one value per window"
            )
        if self.comparative is not None and self.comparative.min_requests is not None:
            if isinstance(provider, PrometheusProviderSpec) and provider.requests_query is None:
                raise ValueError("comparative.min_requests needs the provider's `requests_query`")
            if isinstance(provider, ScrapeProviderSpec) and provider.measure not in (
                "ratio",
                "quantile",
            ):
                raise ValueError(
                    "comparative.min_requests needs a scrape that counts requests: "
                    "measure ratio (the total) or quantile (the observations)"
                )
        return self

    @property
    def needs_stable(self) -> bool:
        """True when the stable version is read too (comparative and judge)."""
        return self.threshold is None


class AnalysisSpec(BaseModel):
    """``analysis:``: the metrics read at each interval and what their verdict does."""

    model_config = _STRICT

    interval: Duration = Field(default=60.0, description="Time between two measurements.")
    window: Duration | None = Field(
        default=None,
        description="The span each measurement reads ({{window}}, a range query's span); "
        "the interval when left out.",
    )
    count: int = Field(default=5, ge=1, le=MAX_COUNT, description="Windows measured in a run.")
    consecutive: int = Field(
        default=1,
        ge=1,
        le=MAX_COUNT,
        description="K: a metric fails the run after K failing windows in a row, and passes "
        "only when its last K windows passed.",
    )
    metrics: list[MetricSpec] = Field(min_length=1, max_length=MAX_METRICS)
    on: ActionTable = Field(default_factory=ActionTable)

    @model_validator(mode="before")
    @classmethod
    def _yaml_on(cls, data: Any) -> Any:
        # YAML 1.1 (PyYAML) reads a bare `on` key as true, as GitHub Actions users know
        if isinstance(data, dict) and True in data and "on" not in data:
            data = {("on" if key is True else key): value for key, value in data.items()}
        return data

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisSpec:
        if self.consecutive > self.count:
            raise ValueError(
                f"consecutive ({self.consecutive}) is more than count ({self.count}): "
                "the run could never fail"
            )
        names = [metric.name for metric in self.metrics]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two metrics are named {name!r}")
        return self

    @property
    def window_seconds(self) -> float:
        """The span each measurement reads."""
        return self.window if self.window is not None else self.interval
