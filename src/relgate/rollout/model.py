"""A progressive rollout as a plain object: canary steps or a blue-green switch.

:class:`Rollout` owns the rules of docs/rollout.md: which state may follow which
(``relgate.rollout.states.TRANSITIONS``), what each analysis verdict does (the
``on:`` table of the phase's AnalysisSpec), what a person may do in each state,
that an abort sends all traffic back to stable first, and that the stable
anchor moves only after a full promotion. Each operation returns the router
commands to issue, in order (relgate.rollout.commands), and records a
:class:`RolloutEvent` in ``events``; time is always given (``now``), never read.

No I/O: the deployment worker (not yet wired) runs the commands through the
environment's TrafficRouter, runs the analysis :attr:`Rollout.analysis_request`
asks for, calls :meth:`Rollout.step_elapsed` at :attr:`Rollout.wake_at`, and
keeps :meth:`Rollout.to_dict` in a JSON column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from relgate.analysis.config import AnalysisSpec
from relgate.analysis.model import Action, AnalysisResult, Verdict
from relgate.errors import BadInput, Conflict
from relgate.rollout.commands import (
    AllToStable,
    RolloutEvent,
    RolloutEventType,
    RouterCommand,
    ScaleDownOld,
    SetCanaryWeight,
    SwitchTo,
)
from relgate.rollout.config import BlueGreenSpec, CanarySpec, ProgressiveSpec
from relgate.rollout.states import (
    FINAL_STATES,
    STABLE_MOVED,
    AnalysisPhase,
    PausedBy,
    RolloutState,
    moved,
)
from relgate.routing.ports import Colour

ANALYSIS_ACTOR = "analysis"
SYSTEM_ACTOR = "relgate"

_S = RolloutState
_PERSON_PAUSABLE = frozenset({_S.PROGRESSING, _S.ANALYSING, _S.PREVIEWING, _S.SWITCHED})


@dataclass(frozen=True)
class AnalysisRequest:
    """The analysis the worker must run now; ``attempt`` tells a new run from an old one."""

    phase: AnalysisPhase
    attempt: int
    spec: AnalysisSpec
    step: int | None = None


@dataclass
class Rollout:
    """One progressive rollout of ``canary_version`` over ``stable_version`` in an environment.

    Canary: ``step`` (0-based) and ``canary_weight`` (the share last ordered).
    Blue-green: ``stable_colour`` served the stable release when it started, the
    new release is on ``new_colour``, ``live`` is the colour last ordered to
    take every request. Build one with :meth:`create`.
    """

    spec: ProgressiveSpec
    service: str
    environment: str
    stable_version: str
    canary_version: str
    state: RolloutState
    created_at: datetime
    updated_at: datetime
    step: int | None = None
    canary_weight: int = 0
    step_until: datetime | None = None
    remaining_seconds: float | None = None
    stable_colour: Colour | None = None
    live: Colour | None = None
    switched_at: datetime | None = None
    scale_down_at: datetime | None = None
    paused_by: PausedBy | None = None
    paused_from: RolloutState | None = None
    pause_reason: str = ""
    paused_actor: str = ""
    analysis_phase: AnalysisPhase | None = None
    analysis_attempt: int = 0
    analysis_running: bool = False
    last_verdict: Verdict | None = None
    last_analysis_reason: str = ""
    outcome: str = ""
    finished_at: datetime | None = None
    events: list[RolloutEvent] = field(default_factory=list, repr=False, compare=False)

    @classmethod
    def create(
        cls,
        spec: ProgressiveSpec,
        *,
        service: str,
        environment: str,
        stable_version: str,
        canary_version: str,
        now: datetime,
        live: Colour = Colour.BLUE,
    ) -> Rollout:
        """A pending rollout. Blue-green: ``live`` is the colour serving stable now; the new
        release must already run on the other one (the idle colour) before :meth:`start`."""
        if not isinstance(spec, CanarySpec | BlueGreenSpec):
            raise BadInput(
                f"strategy {spec.strategy} has no rollout: the release is deployed as is"
            )
        blue_green = isinstance(spec, BlueGreenSpec)
        return cls(
            spec=spec,
            service=service,
            environment=environment,
            stable_version=stable_version,
            canary_version=canary_version,
            state=_S.PENDING,
            created_at=now,
            updated_at=now,
            stable_colour=live if blue_green else None,
            live=live if blue_green else None,
        )

    # ------------------------------------------------------------------ reading

    @property
    def name(self) -> str:
        return f"the rollout of {self.service} {self.canary_version} to {self.environment}"

    @property
    def strategy(self) -> str:
        return self.spec.strategy

    @property
    def finished(self) -> bool:
        return self.state in FINAL_STATES

    @property
    def moves_stable(self) -> bool:
        """True once the new release is the stable anchor: promoted, or a finished switch."""
        return self.state in STABLE_MOVED

    @property
    def new_colour(self) -> Colour | None:
        return None if self.stable_colour is None else self.stable_colour.other

    @property
    def wake_at(self) -> datetime | None:
        """When the worker should call :meth:`step_elapsed` next (None: nothing is timed)."""
        if self.state is _S.PROGRESSING:
            return self.step_until
        if self.state is _S.SWITCHED and not self.analysis_running:
            return self.scale_down_at
        return None

    @property
    def analysis_request(self) -> AnalysisRequest | None:
        """The analysis to run now, or None; any other run of this rollout must be cancelled."""
        if not self.analysis_running or self.analysis_phase is None:
            return None
        spec = self._analysis_spec(self.analysis_phase)
        assert spec is not None
        return AnalysisRequest(self.analysis_phase, self.analysis_attempt, spec, self.step)

    def describe(self) -> str:
        """The state in a few words: ``paused by analysis at step 1 of 3 (5 %): ...``."""
        where = ""
        if isinstance(self.spec, CanarySpec) and self.step is not None:
            where = f" at step {self.step + 1} of {len(self.spec.steps)} ({self.canary_weight} %)"
        elif self.live is not None and self.state is not _S.PENDING:
            where = f" (traffic on {self.live})"
        text = f"{self.state}{where}"
        if self.state is _S.PAUSED:
            text = f"paused by {self.paused_by}{where}: {self.pause_reason}"
        elif self.analysis_running:
            text += f", {self.analysis_phase} analysis running"
        elif self.finished and self.outcome:
            text += f": {self.outcome}"
        return text

    # ------------------------------------------------------------------ operations

    def start(self, now: datetime, actor: str = SYSTEM_ACTOR) -> list[RouterCommand]:
        """pending → the first step (canary) or the preview (blue-green)."""
        self._need(_S.PENDING, "start", "it has already started")
        self._record(RolloutEventType.STARTED, now, actor, f"{self.strategy} started")
        if isinstance(self.spec, CanarySpec):
            return self._enter_step(0, now, actor)
        return self._preview(now, actor)

    def step_elapsed(self, now: datetime) -> list[RouterCommand]:
        """A timer fired: end a step's pause, or scale the old colour down once due.

        Never refused: early, late or stale calls (a person paused meanwhile) do nothing.
        """
        if self.state is _S.PROGRESSING and self.step_until is not None and now >= self.step_until:
            return self._end_pause(now, SYSTEM_ACTOR)
        if (
            self.state is _S.SWITCHED
            and not self.analysis_running
            and self.scale_down_at is not None
            and now >= self.scale_down_at
        ):
            return self._finish(now, SYSTEM_ACTOR, self.scale_down_at)
        return []

    def analysis_finished(
        self, result: AnalysisResult, now: datetime, attempt: int | None = None
    ) -> list[RouterCommand]:
        """Apply the phase's ``on:`` table to ``result.verdict``: continue, pause or abort.

        Conflict when no analysis runs, or ``attempt`` names an earlier run.
        """
        if not self.analysis_running or self.analysis_phase is None:
            raise Conflict(f"{self.name} runs no analysis: it is {self.describe()}")
        if attempt is not None and attempt != self.analysis_attempt:
            raise Conflict(
                f"{self.name}: analysis {attempt} was replaced by analysis {self.analysis_attempt}"
            )
        phase = self.analysis_phase
        spec = self._analysis_spec(phase)
        assert spec is not None
        action = spec.on.action(result.verdict)
        self.analysis_running = False
        self.last_verdict = result.verdict
        self.last_analysis_reason = result.reason
        self._record(
            RolloutEventType.ANALYSIS_FINISHED,
            now,
            ANALYSIS_ACTOR,
            f"{phase} analysis: {result.verdict} → {action}: {result.reason}",
            verdict=result.verdict.value,
            action=action.value,
            phase=phase.value,
            attempt=self.analysis_attempt,
        )
        if action is Action.ABORT:
            return self._abort(now, ANALYSIS_ACTOR, f"analysis {result.verdict}: {result.reason}")
        if action is Action.PAUSE:
            self._pause(
                PausedBy.ANALYSIS,
                f"analysis {result.verdict}: {result.reason}",
                ANALYSIS_ACTOR,
                now,
                paused_from=self.state,
            )
            return []
        return self._go_on(now, ANALYSIS_ACTOR)

    def pause(self, actor: str, reason: str, now: datetime) -> list[RouterCommand]:
        """A person holds the rollout where it is (traffic stays); a running analysis stops."""
        if self.state is _S.PAUSED:
            raise Conflict(f"{self.name} is already {self.describe()}")
        if self.state not in _PERSON_PAUSABLE:
            raise Conflict(f"cannot pause {self.name}: it is {self.describe()}")
        if self.state is _S.PROGRESSING and self.step_until is not None:
            self.remaining_seconds = max(0.0, (self.step_until - now).total_seconds())
        self._pause(PausedBy.PERSON, reason or "paused by a person", actor, now, self.state)
        return []

    def resume(self, actor: str, now: datetime) -> list[RouterCommand]:
        """Paused → on. A person's pause goes back to where it was (a step's timer keeps
        the time it had left, an interrupted analysis runs again); a pause by analysis
        or by the configuration goes on as if the step had passed."""
        if self.state is not _S.PAUSED:
            raise Conflict(f"cannot resume {self.name}: it is {self.describe()}, not paused")
        by, back_to = self.paused_by, self.paused_from
        self._record(RolloutEventType.RESUMED, now, actor, f"resumed ({self.pause_reason})")
        self._clear_pause()
        if by is PausedBy.PERSON:
            assert back_to is not None
            return self._back_to(back_to, now, actor)
        if by is PausedBy.STEP:
            if back_to is _S.PREVIEWING:
                return self._switch(now, actor)
            return self._end_pause(now, actor, paused=True)
        return self._go_on(now, actor, paused=True)

    def promote_fully(self, actor: str, now: datetime) -> list[RouterCommand]:
        """Skip what remains: a canary goes to 100 % (promoting); blue-green switches now,
        or, once switched, scales the old colour down now (finished)."""
        if self.finished or self.state in (_S.PENDING, _S.PROMOTING):
            raise Conflict(f"cannot promote {self.name}: it is {self.describe()}")
        position = self.paused_from if self.state is _S.PAUSED else self.state
        self._clear_pause()
        self.analysis_running = False
        if isinstance(self.spec, CanarySpec):
            return self._promoting(now, actor)
        if position is _S.SWITCHED:
            return self._finish(now, actor, now)
        return self._switch(now, actor)

    def abort(self, actor: str, reason: str, now: datetime) -> list[RouterCommand]:
        """All traffic back to stable at once; final (aborted, or reverted after a switch)."""
        if self.finished:
            raise Conflict(f"cannot abort {self.name}: it is {self.describe()}")
        return self._abort(now, actor, reason or f"aborted by {actor}")

    def complete(self, now: datetime, actor: str = SYSTEM_ACTOR) -> list[RouterCommand]:
        """promoting → promoted: the worker made the canary's release the stable one.

        The stable anchor moves here (``moves_stable`` on the event), never before.
        """
        self._need(_S.PROMOTING, "complete", "it is not promoting")
        self._move(_S.PROMOTED, now)
        self.finished_at = now
        self.outcome = f"promoted {self.canary_version}"
        self._record(RolloutEventType.PROMOTED, now, actor, self.outcome, moves_stable=True)
        return []

    # ------------------------------------------------------------------ canary

    def _enter_step(self, index: int, now: datetime, actor: str) -> list[RouterCommand]:
        assert isinstance(self.spec, CanarySpec)
        step = self.spec.steps[index]
        self.step = index
        self.canary_weight = step.weight
        commands: list[RouterCommand] = [SetCanaryWeight(step.weight)]
        self._record(
            RolloutEventType.STEP_STARTED,
            now,
            actor,
            f"step {index + 1} of {len(self.spec.steps)}: {step.weight} % to the canary",
            commands=commands,
            step=index,
            weight=step.weight,
        )
        if step.pause_seconds is None:
            self.step_until = None
            self._pause(
                PausedBy.STEP,
                f"step {index + 1} waits for a person (pause: manual)",
                actor,
                now,
                paused_from=_S.PROGRESSING,
            )
        else:
            self._move(_S.PROGRESSING, now)
            self.step_until = now + timedelta(seconds=step.pause_seconds)
        return commands

    def _end_pause(self, now: datetime, actor: str, *, paused: bool = False) -> list[RouterCommand]:
        """The step held long enough: analyse it, or go to the next step."""
        if isinstance(self.spec, CanarySpec) and self.spec.analysis is not None:
            self._analyse(AnalysisPhase.STEP, _S.ANALYSING, now)
            return []
        return self._go_on(now, actor, paused=paused)

    def _promoting(self, now: datetime, actor: str) -> list[RouterCommand]:
        self._move(_S.PROMOTING, now)
        self.step_until = None
        self.remaining_seconds = None
        self.canary_weight = 100
        commands: list[RouterCommand] = [SetCanaryWeight(100)]
        self._record(
            RolloutEventType.PROMOTING, now, actor, "100 % to the canary", commands=commands
        )
        return commands

    # ------------------------------------------------------------------ blue-green

    def _preview(self, now: datetime, actor: str) -> list[RouterCommand]:
        assert isinstance(self.spec, BlueGreenSpec)
        if self.spec.pre_promotion_analysis is not None:
            self._analyse(AnalysisPhase.PRE_PROMOTION, _S.PREVIEWING, now)
            return []
        return self._ready_to_switch(now, actor)

    def _ready_to_switch(self, now: datetime, actor: str) -> list[RouterCommand]:
        assert isinstance(self.spec, BlueGreenSpec)
        if self.spec.auto_promote:
            return self._switch(now, actor)
        self._pause(
            PausedBy.STEP,
            f"{self.new_colour} is ready; auto_promote is false: waiting for a person to promote",
            actor,
            now,
            paused_from=_S.PREVIEWING,
        )
        return []

    def _switch(self, now: datetime, actor: str) -> list[RouterCommand]:
        assert isinstance(self.spec, BlueGreenSpec) and self.new_colour is not None
        self._move(_S.SWITCHED, now)
        self.live = self.new_colour
        self.switched_at = now
        self.scale_down_at = now + timedelta(seconds=self.spec.scale_down_delay)
        commands: list[RouterCommand] = [SwitchTo(self.new_colour)]
        self._record(
            RolloutEventType.SWITCHED,
            now,
            actor,
            f"all traffic to {self.new_colour}; {self.stable_colour} stays up until "
            f"{self.scale_down_at.isoformat()}",
            commands=commands,
        )
        if self.spec.post_promotion_analysis is not None:
            self._analyse(AnalysisPhase.POST_PROMOTION, _S.SWITCHED, now)
        return commands

    def _finish(self, now: datetime, actor: str, at: datetime) -> list[RouterCommand]:
        assert self.stable_colour is not None
        self._move(_S.FINISHED, now)
        self.analysis_running = False
        self.finished_at = now
        self.outcome = (
            f"{self.canary_version} on {self.new_colour}; {self.stable_colour} scaled down"
        )
        commands: list[RouterCommand] = [ScaleDownOld(self.stable_colour, at)]
        self._record(
            RolloutEventType.SCALED_DOWN,
            now,
            actor,
            self.outcome,
            commands=commands,
            moves_stable=True,
        )
        return commands

    # ------------------------------------------------------------------ shared

    def _go_on(self, now: datetime, actor: str, *, paused: bool = False) -> list[RouterCommand]:
        """What follows a passed (or accepted) stage."""
        if isinstance(self.spec, CanarySpec):
            assert self.step is not None
            if self.step + 1 < len(self.spec.steps):
                return self._enter_step(self.step + 1, now, actor)
            return self._promoting(now, actor)
        if self.live == self.stable_colour:
            # before the switch: a person who resumes a paused preview has decided
            return self._switch(now, actor) if paused else self._ready_to_switch(now, actor)
        # after the switch: the post-promotion analysis passed; wait for the scale-down
        if self.state is not _S.SWITCHED:
            self._move(_S.SWITCHED, now)
        assert self.scale_down_at is not None
        if now >= self.scale_down_at:
            return self._finish(now, actor, self.scale_down_at)
        return []

    def _back_to(self, state: RolloutState, now: datetime, actor: str) -> list[RouterCommand]:
        """Resume a person's pause where it was."""
        if state is _S.PROGRESSING:
            self._move(_S.PROGRESSING, now)
            self.step_until = now + timedelta(seconds=self.remaining_seconds or 0.0)
            self.remaining_seconds = None
            return self.step_elapsed(now)
        if state is _S.ANALYSING:
            self._analyse(AnalysisPhase.STEP, _S.ANALYSING, now)
            return []
        if state is _S.PREVIEWING:
            self._analyse(AnalysisPhase.PRE_PROMOTION, _S.PREVIEWING, now)
            return []
        # switched: an interrupted post-promotion analysis runs again
        if self.analysis_phase is AnalysisPhase.POST_PROMOTION and self.last_verdict is None:
            self._analyse(AnalysisPhase.POST_PROMOTION, _S.SWITCHED, now)
            return []
        self._move(_S.SWITCHED, now)
        return self.step_elapsed(now)

    def _analyse(self, phase: AnalysisPhase, state: RolloutState, now: datetime) -> None:
        self._move(state, now)
        self.analysis_phase = phase
        self.analysis_attempt += 1
        self.analysis_running = True
        self.last_verdict = None
        self.last_analysis_reason = ""
        self._record(
            RolloutEventType.ANALYSIS_STARTED,
            now,
            SYSTEM_ACTOR,
            f"{phase} analysis {self.analysis_attempt}",
            phase=phase.value,
            attempt=self.analysis_attempt,
        )

    def _abort(self, now: datetime, actor: str, reason: str) -> list[RouterCommand]:
        self.analysis_running = False
        self.step_until = None
        self.remaining_seconds = None
        self._clear_pause()
        self.outcome = reason
        self.finished_at = now
        if isinstance(self.spec, CanarySpec):
            self._move(_S.ABORTED, now)
            self.canary_weight = 0
            commands: list[RouterCommand] = [AllToStable()]
            kind = RolloutEventType.ABORTED
        else:
            assert self.stable_colour is not None
            switched = self.live != self.stable_colour
            self._move(_S.REVERTED if switched else _S.ABORTED, now)
            self.live = self.stable_colour
            commands = [SwitchTo(self.stable_colour)]
            kind = RolloutEventType.REVERTED if switched else RolloutEventType.ABORTED
        self._record(kind, now, actor, reason, commands=commands)
        return commands

    def _pause(
        self,
        by: PausedBy,
        reason: str,
        actor: str,
        now: datetime,
        paused_from: RolloutState,
    ) -> None:
        self._move(_S.PAUSED, now)
        self.analysis_running = False
        self.paused_by = by
        self.paused_from = paused_from
        self.pause_reason = reason
        self.paused_actor = actor
        self._record(RolloutEventType.PAUSED, now, actor, reason, by=by.value)

    def _clear_pause(self) -> None:
        self.paused_by = None
        self.paused_from = None
        self.pause_reason = ""
        self.paused_actor = ""

    def _analysis_spec(self, phase: AnalysisPhase) -> AnalysisSpec | None:
        if isinstance(self.spec, CanarySpec):
            return self.spec.analysis
        if phase is AnalysisPhase.PRE_PROMOTION:
            return self.spec.pre_promotion_analysis
        return self.spec.post_promotion_analysis

    def _need(self, state: RolloutState, operation: str, otherwise: str) -> None:
        if self.state is not state:
            raise Conflict(f"cannot {operation} {self.name}: {otherwise} ({self.describe()})")

    def _move(self, target: RolloutState, now: datetime) -> None:
        self.state = moved(self.state, target, self.name)
        self.updated_at = now

    def _record(
        self,
        type_: RolloutEventType,
        now: datetime,
        actor: str,
        detail: str,
        *,
        commands: list[RouterCommand] | None = None,
        moves_stable: bool = False,
        **data: Any,
    ) -> None:
        self.events.append(
            RolloutEvent(
                type=type_,
                at=now,
                actor=actor,
                state=self.state.value,
                detail=detail,
                commands=tuple(commands or ()),
                moves_stable=moves_stable,
                data=data,
            )
        )

    def drain(self) -> list[RolloutEvent]:
        """Take the recorded events out, in the order they happened."""
        events = list(self.events)
        self.events.clear()
        return events

    # ------------------------------------------------------------------ snapshot

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (events excluded: drain them with the save)."""
        from relgate.rollout.snapshot import dump

        return dump(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Rollout:
        """Read back :meth:`to_dict`; BadInput naming the field when it is not one."""
        from relgate.rollout.snapshot import load

        return load(data)
