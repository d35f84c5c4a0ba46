"""A rollout's states and the transitions allowed between them (pure)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from relgate.errors import Conflict


class RolloutState(StrEnum):
    """Where a rollout is. Canary: progressing, analysing, promoting, promoted. Blue-green:
    previewing, switched, finished, reverted. Both: pending, paused, aborted."""

    PENDING = "pending"
    PROGRESSING = "progressing"
    ANALYSING = "analysing"
    PAUSED = "paused"
    PROMOTING = "promoting"
    PROMOTED = "promoted"
    ABORTED = "aborted"
    PREVIEWING = "previewing"
    SWITCHED = "switched"
    REVERTED = "reverted"
    FINISHED = "finished"


class PausedBy(StrEnum):
    """Who holds a paused rollout."""

    PERSON = "person"
    """Someone ran pause; resume goes back to where it was."""
    ANALYSIS = "analysis"
    """An analysis verdict whose action is ``pause``; resume goes on as if it had passed."""
    STEP = "step"
    """The configuration: a ``pause: manual`` step, or a blue-green ``auto_promote: false``;
    resume goes on."""


class AnalysisPhase(StrEnum):
    """Which analysis of a rollout runs."""

    STEP = "step"
    PRE_PROMOTION = "pre_promotion"
    POST_PROMOTION = "post_promotion"


FINAL_STATES: Final = frozenset(
    {RolloutState.PROMOTED, RolloutState.ABORTED, RolloutState.REVERTED, RolloutState.FINISHED}
)
STABLE_MOVED: Final = frozenset({RolloutState.PROMOTED, RolloutState.FINISHED})
"""The states in which the new release is the stable anchor."""

_S = RolloutState
TRANSITIONS: Final[dict[RolloutState, frozenset[RolloutState]]] = {
    _S.PENDING: frozenset({_S.PROGRESSING, _S.PAUSED, _S.PREVIEWING, _S.SWITCHED, _S.ABORTED}),
    _S.PROGRESSING: frozenset({_S.PROGRESSING, _S.ANALYSING, _S.PAUSED, _S.PROMOTING, _S.ABORTED}),
    _S.ANALYSING: frozenset({_S.PROGRESSING, _S.PAUSED, _S.PROMOTING, _S.ABORTED}),
    # resume goes back or on; a person may also promote or abort a paused rollout
    _S.PAUSED: frozenset(
        {
            _S.PROGRESSING,
            _S.ANALYSING,
            _S.PAUSED,
            _S.PROMOTING,
            _S.ABORTED,
            _S.PREVIEWING,
            _S.SWITCHED,
            _S.FINISHED,
            _S.REVERTED,
        }
    ),
    _S.PROMOTING: frozenset({_S.PROMOTED, _S.ABORTED}),
    _S.PREVIEWING: frozenset({_S.SWITCHED, _S.PAUSED, _S.ABORTED}),
    # switched → switched: the post-promotion analysis starts
    _S.SWITCHED: frozenset({_S.SWITCHED, _S.FINISHED, _S.PAUSED, _S.REVERTED}),
    _S.PROMOTED: frozenset(),
    _S.ABORTED: frozenset(),
    _S.REVERTED: frozenset(),
    _S.FINISHED: frozenset(),
}


def moved(current: RolloutState, target: RolloutState, what: str) -> RolloutState:
    """Return ``target``; every state change of a rollout goes through here.

    Raises Conflict when the table above does not allow ``current`` -> ``target``.
    """
    if target not in TRANSITIONS[current]:
        raise Conflict(f"{what} is {current}; it cannot become {target}")
    return target
