"""Bar charts as plain geometry for server-rendered SVG (presentation only, no rules).

The template draws each bar as a ``<rect>`` with presentation attributes (no
style attribute: the CSP forbids inline styles) and a ``<title>`` that says
what it shows, so a screen reader and a hover both read the number.
"""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 640
HEIGHT = 180
PAD_LEFT = 44
PAD_BOTTOM = 28
PAD_TOP = 18
MAX_BAR = 56.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    title: str
    highlight: bool = False


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    baseline: float
    top_label: str
    """The value at the top of the axis, e.g. ``"3"`` or ``"48 h"``."""
    left: int = PAD_LEFT
    top: int = PAD_TOP
    label_every: int = 1


def bars(
    values: list[tuple[str, float, str, bool]],
    *,
    top_label: str | None = None,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """Lay out ``(label, value, title, highlight)`` as bars scaled to the largest value."""
    inner_w = width - PAD_LEFT - 8
    inner_h = height - PAD_TOP - PAD_BOTTOM
    baseline = float(PAD_TOP + inner_h)
    largest = max((v for _, v, _, _ in values), default=0.0)
    scale = inner_h / largest if largest > 0 else 0.0
    slot = inner_w / len(values) if values else inner_w
    gap = min(6.0, slot * 0.2)
    laid = []
    for index, (label, value, title, highlight) in enumerate(values):
        h = max(value, 0.0) * scale
        laid.append(
            Bar(
                x=round(PAD_LEFT + index * slot + gap / 2, 1),
                y=round(baseline - h, 1),
                width=round(min(max(slot - gap, 1.0), MAX_BAR), 1),
                height=round(h, 1),
                label=label,
                title=title,
                highlight=highlight,
            )
        )
    return Chart(
        width=width,
        height=height,
        bars=laid,
        baseline=baseline,
        top_label=top_label if top_label is not None else f"{largest:g}",
        label_every=max(1, len(values) // 10 + (1 if len(values) % 10 else 0)),
    )
