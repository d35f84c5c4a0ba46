"""A flag's configuration in words, for a person reading the flags page (pure).

Strategies, constraints and variants are the stored Unleash JSON objects
(``relgate.flags.unleash_format``); these functions only put them into short
sentences (``25% by userId if plan in pro, team``) and never raise on a
malformed one (it is shown as its name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

# how many values of a constraint the summary names before "and 7 more"
SHOWN_VALUES: Final = 5

_OPERATORS: Final = {
    "IN": "in",
    "NOT_IN": "not in",
    "STR_CONTAINS": "contains",
    "STR_STARTS_WITH": "starts with",
    "STR_ENDS_WITH": "ends with",
    "NUM_EQ": "=",
    "NUM_GT": ">",
    "NUM_GTE": "≥",
    "NUM_LT": "<",
    "NUM_LTE": "≤",
    "DATE_AFTER": "after",
    "DATE_BEFORE": "before",
    "SEMVER_EQ": "= version",
    "SEMVER_GT": "> version",
    "SEMVER_LT": "< version",
    "REGEX": "matches",
}

_GRADUAL: Final = {
    "gradualRolloutUserId": "of user ids",
    "gradualRolloutSessionId": "of sessions",
    "gradualRolloutRandom": "at random",
}


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _values(values: Sequence[Any]) -> str:
    shown = ", ".join(str(v) for v in values[:SHOWN_VALUES])
    more = len(values) - SHOWN_VALUES
    return f"{shown} and {more} more" if more > 0 else shown


def _csv(value: object) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def active(strategies: Sequence[Any]) -> list[Mapping[str, Any]]:
    """Return the strategies that take part in evaluation (not ``disabled``)."""
    return [s for s in strategies if isinstance(s, Mapping) and s.get("disabled") is not True]


def percentage(strategy: Mapping[str, Any]) -> int | None:
    """Return the share of traffic a strategy admits (before constraints), or None if not one.

    ``default`` admits 100; ``flexibleRollout`` its ``rollout``; the older
    gradual strategies their ``percentage``; the others (user ids, hosts) none.
    """
    name = strategy.get("name")
    parameters = _mapping(strategy.get("parameters"))
    if name == "default":
        return 100
    raw = parameters.get("rollout") if name == "flexibleRollout" else None
    if name in _GRADUAL:
        raw = parameters.get("percentage")
    try:
        return None if raw is None or isinstance(raw, bool) else int(float(raw))
    except (TypeError, ValueError):
        return None


def rollout(strategies: Sequence[Any]) -> int | None:
    """Return the rollout % of an environment: its one active rollout strategy's share.

    None when no active strategy has a share or several do (then the
    strategies say it, one by one).
    """
    shares = [p for p in (percentage(s) for s in active(strategies)) if p is not None]
    return shares[0] if len(shares) == 1 else None


def constraint(item: object) -> str:
    """``plan in pro, team``, ``country not in DE``, ``email ends with @x.io (any case)``."""
    raw = _mapping(item)
    name = str(raw.get("contextName") or "?")
    operator = str(raw.get("operator") or "?")
    words = _OPERATORS.get(operator, operator)
    if raw.get("inverted") is True:
        words = {"in": "not in", "not in": "in"}.get(words, f"not {words}")
    values = _list(raw.get("values"))
    if raw.get("value") is not None and not values:
        values = [raw.get("value")]
    text = f"{name} {words} {_values(values)}".rstrip()
    if raw.get("caseInsensitive") is True:
        text += " (any case)"
    return text


def strategy(item: object, segments: Mapping[int, str] | None = None) -> str:
    """One strategy in words: what it admits, then its constraints and segments.

    ``25% by userId if plan in pro and in segment beta-testers``; a disabled
    one ends with ``(disabled)``. ``segments`` maps segment ids to names.
    """
    raw = _mapping(item)
    name = str(raw.get("name") or "?")
    parameters = _mapping(raw.get("parameters"))
    share = percentage(raw)
    if name == "default":
        text = "everyone"
    elif name == "flexibleRollout":
        stickiness = parameters.get("stickiness") or "default"
        text = f"{share if share is not None else '?'}%"
        if stickiness != "default":
            text += f" by {stickiness}"
    elif name in _GRADUAL:
        text = f"{share if share is not None else '?'}% {_GRADUAL[name]}"
    elif name == "userWithId":
        text = f"users {_values(_csv(parameters.get('userIds')))}"
    elif name == "remoteAddress":
        text = f"addresses {_values(_csv(parameters.get('IPs')))}"
    elif name == "applicationHostname":
        text = f"hosts {_values(_csv(parameters.get('hostNames')))}"
    else:
        text = name
    title = raw.get("title")
    if isinstance(title, str) and title:
        text = f"{title}: {text}"
    conditions = [constraint(c) for c in _list(raw.get("constraints"))]
    names = segments or {}
    conditions += [
        f"in segment {names.get(s, s) if isinstance(s, int) else s}"
        for s in _list(raw.get("segments"))
    ]
    if conditions:
        text += " if " + " and ".join(conditions)
    own_variants = _list(raw.get("variants"))
    if own_variants:
        text += f" (variants {variants(own_variants)})"
    if raw.get("disabled") is True:
        text += " (disabled)"
    return text


def strategies(items: Sequence[Any], segments: Mapping[int, str] | None = None) -> list[str]:
    """Each strategy in words, in evaluation order (the flag is on if any admits the user)."""
    return [strategy(item, segments) for item in items]


def variants(items: Sequence[Any]) -> str:
    """``blue 50%, green 50%``: the variants and their weights (out of 1000, shown in %)."""
    parts = []
    for item in items:
        raw = _mapping(item)
        weight = raw.get("weight")
        name = str(raw.get("name") or "?")
        if isinstance(weight, int | float) and not isinstance(weight, bool):
            share = weight / 10
            parts.append(f"{name} {share:g}%")
        else:
            parts.append(name)
    return ", ".join(parts)
