"""Performance metrics: a JSON object of named numbers, e.g. from k6 or Locust post-processing."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from relgate.errors import InvalidReport
from relgate.promotion.reports.reading import (
    check_size,
    finite_number,
    json_type,
    looks_like_xml,
    parse_json,
)

_EXPECTED = 'expected {"metrics": {"p95_ms": 120.5, ...}} or {"p95_ms": 120.5, ...}'


class PerformanceReport(BaseModel):
    """Named measurements of one run; which direction is better is the gate's business."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["metrics-json"] = "metrics-json"
    metrics: dict[str, float]

    @field_validator("metrics")
    @classmethod
    def _not_empty(cls, value: dict[str, float]) -> dict[str, float]:
        if not value:
            raise ValueError("must hold at least one metric")
        return value

    def summary(self) -> str:
        """Return e.g. ``p95_ms=120.5, rps=900`` (at most 5 metrics, then a count)."""
        names = sorted(self.metrics)
        shown = ", ".join(f"{name}={self.metrics[name]:g}" for name in names[:5])
        if len(names) > 5:
            shown += f" (+{len(names) - 5} more)"
        return shown


def parse_performance(data: bytes, filename: str) -> PerformanceReport:
    """Return the metrics of the JSON report in ``data``.

    Accepts ``{"metrics": {...}}`` or a flat object of numbers. Raises
    InvalidReport naming the file and the offending metric when a value is not
    a finite number, or when there are no metrics.
    """
    check_size(data, filename)
    if looks_like_xml(data):
        raise InvalidReport(f"{filename}: not a performance metrics JSON report ({_EXPECTED})")
    document = parse_json(data, filename)
    if not isinstance(document, dict):
        raise InvalidReport(
            f"{filename}: a performance report must be a JSON object, not {json_type(document)} "
            f"({_EXPECTED})"
        )
    raw: Any = document.get("metrics", document)
    prefix = "metrics." if "metrics" in document else ""
    if not isinstance(raw, dict):
        raise InvalidReport(f"{filename}: 'metrics' must be an object, not {json_type(raw)}")
    if not raw:
        raise InvalidReport(f"{filename}: the report holds no metrics ({_EXPECTED})")
    metrics: dict[str, float] = {}
    for name, value in raw.items():
        number = finite_number(value)
        if number is None:
            raise InvalidReport(
                f"{filename}: {prefix}{name} must be a number, not {json_type(value)}"
            )
        metrics[name] = number
    return PerformanceReport(metrics=metrics)
