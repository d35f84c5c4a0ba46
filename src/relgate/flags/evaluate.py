"""Flag evaluation: pure functions over a compiled ``Snapshot``.

They give the answers an Unleash SDK gives for the same definitions (the
Unleash client specification is run against them): a flag is on when its
dependencies are satisfied, it is enabled, and it has no strategies or one of
its strategies matches, in order. The variant comes from the first matching
strategy's variants when it has some, otherwise from the flag's variants.

Nothing here raises for an unknown flag or a context that matches nothing:
``is_enabled`` returns the caller's default and ``get_variant`` the
``disabled`` variant.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

import mmh3

from relgate.clock import Clock, SystemClock
from relgate.flags.model import (
    VARIANT_SEED,
    CompiledFlag,
    Context,
    Snapshot,
    Strategy,
    VariantDefinition,
    VariantGroup,
    variant_seed,
)

__all__ = ["DISABLED_VARIANT_NAME", "Variant", "get_variant", "is_enabled", "select_variant"]

DISABLED_VARIANT_NAME: Final = "disabled"

_SYSTEM_CLOCK: Final = SystemClock()


@dataclass(frozen=True, slots=True)
class Variant:
    """The variant a context gets, as Unleash SDKs return it.

    ``feature_enabled`` tells whether the flag itself is on for the context:
    a flag that is on but has no variants gives the ``disabled`` variant with
    ``feature_enabled=True``. ``payload`` is ``{"type": ..., "value": ...}``
    (type ``string``, ``json``, ``number`` or ``csv``, value always a string).
    """

    name: str
    enabled: bool
    feature_enabled: bool
    payload: dict[str, str] | None = None

    def to_unleash_dict(self) -> dict[str, Any]:
        """Return the variant as the Unleash client specification spells it."""
        result: dict[str, Any] = {"name": self.name, "enabled": self.enabled}
        if self.payload is not None:
            result["payload"] = dict(self.payload)
        result["feature_enabled"] = self.feature_enabled
        return result


_DISABLED_OFF: Final = Variant(DISABLED_VARIANT_NAME, enabled=False, feature_enabled=False)
_DISABLED_ON: Final = Variant(DISABLED_VARIANT_NAME, enabled=False, feature_enabled=True)


def is_enabled(
    snapshot: Snapshot,
    name: str,
    context: Context,
    default: bool = False,
    *,
    clock: Clock = _SYSTEM_CLOCK,
) -> bool:
    """Return whether flag ``name`` is on for ``context``; ``default`` if no such flag.

    ``clock`` gives the time for date constraints when ``context.current_time``
    is not set. Never raises for well-typed arguments.
    """
    flag = snapshot._flags.get(name)
    if flag is None:
        return default
    if flag.reads_current_time and context.current_time is None:
        context = replace(context, current_time=clock.now())
    # the common path of _matching, inlined: this is the SDK's hot call
    if not flag.enabled:
        return False
    if flag.dependencies and not _dependencies_hold(snapshot, flag, context, clock):
        return False
    strategies = flag.strategies
    if not strategies:
        return True
    # a plain loop: any() over a generator costs a frame per call on this path
    for strategy in strategies:  # noqa: SIM110
        if strategy.matches(context):
            return True
    return False


def get_variant(
    snapshot: Snapshot,
    name: str,
    context: Context,
    *,
    clock: Clock = _SYSTEM_CLOCK,
) -> Variant:
    """Return the variant of flag ``name`` for ``context``.

    Gives the ``disabled`` variant (``enabled=False``) when the flag is
    unknown or off (``feature_enabled=False``), or on without a variant for
    this context (``feature_enabled=True``). Never raises for well-typed
    arguments.
    """
    flag = snapshot._flags.get(name)
    if flag is None:
        return _DISABLED_OFF
    if flag.reads_current_time and context.current_time is None:
        context = replace(context, current_time=clock.now())
    return _variant(snapshot, flag, context, clock)


# A strategy or this marker: the flag is on without a strategy having matched
# (enabled with an empty strategy list).
_NO_STRATEGY: Final = Strategy("", lambda _c: True)


def _matching(
    snapshot: Snapshot, flag: CompiledFlag, context: Context, clock: Clock
) -> Strategy | None:
    """Return the strategy that turns ``flag`` on for ``context``, or ``None`` when it is off."""
    if not flag.enabled:
        return None
    if flag.dependencies and not _dependencies_hold(snapshot, flag, context, clock):
        return None
    if not flag.strategies:
        return _NO_STRATEGY
    for strategy in flag.strategies:
        if strategy.matches(context):
            return strategy
    return None


def _variant(snapshot: Snapshot, flag: CompiledFlag, context: Context, clock: Clock) -> Variant:
    strategy = _matching(snapshot, flag, context, clock)
    if strategy is None:
        return _DISABLED_OFF
    chosen = None
    if strategy.variants is not None:
        chosen = select_variant(strategy.variants, context)
    # strategy variants that give none (weights adding up to 0) leave the
    # choice to the flag's variants, as Unleash SDKs do
    if chosen is None and flag.variants is not None:
        chosen = select_variant(flag.variants, context)
    if chosen is None:
        return _DISABLED_ON
    payload = None if chosen.payload is None else dict(chosen.payload)
    return Variant(chosen.name, enabled=True, feature_enabled=True, payload=payload)


def _dependencies_hold(
    snapshot: Snapshot, flag: CompiledFlag, context: Context, clock: Clock
) -> bool:
    for dependency in flag.dependencies:
        parent = snapshot._flags.get(dependency.feature)
        # Unleash allows one level of dependencies: a parent that has its own
        # parents (a chain or a cycle) never satisfies its children.
        if parent is None or parent.dependencies:
            return False
        parent_context = context
        if parent.reads_current_time and context.current_time is None:
            parent_context = replace(context, current_time=clock.now())
        if not dependency.enabled:
            if _matching(snapshot, parent, parent_context, clock) is not None:
                return False
        elif dependency.variants:
            variant = _variant(snapshot, parent, parent_context, clock)
            if not (variant.feature_enabled and variant.name in dependency.variants):
                return False
        elif _matching(snapshot, parent, parent_context, clock) is None:
            return False
    return True


def select_variant(group: VariantGroup, context: Context) -> VariantDefinition | None:
    """Return the variant of ``group`` for ``context``, or ``None`` when weights sum to 0.

    Overrides are checked first, in variant order; otherwise the bucket is
    murmur3(``"groupId:stickiness"``, seed 86028157) ``% total + 1`` and the
    first variant whose cumulative weight reaches it wins.
    """
    if group.total_weight <= 0:
        return None
    for override, definition in group.overrides:
        if override.read(context) in override.values:
            return definition
    seed = variant_seed(group, context)
    target = (
        mmh3.hash(group.hash_prefix + seed, VARIANT_SEED, signed=False) % group.total_weight + 1
    )
    counter = 0
    for definition in group.variants:
        if definition.weight == 0:
            continue
        counter += definition.weight
        if counter >= target:
            return definition
    return None
