"""Rollback rehearsals, found in an environment's own deployment history (pure).

A rehearsal of release R in environment E is three deployments in a row among
those that ran in E (started: a cancelled or rejected request never ran):

1. R deployed by a promotion and verified healthy;
2. a rollback (``rollback`` or ``auto-rollback``) to the release that was stable
   in E before step 1, verified healthy;
3. R deployed again by a promotion and verified healthy.

The ``rollback_rehearsed`` gate lets a release that is a major bump over the
gated environment's stable release in only when such a rehearsal exists in the
environment the gate names (``in:``), rolled back across the same major
boundary, and deployed something (no step ran with the ``record`` deployer).
Only the deployment history counts: its states and verification are written by
relgate's worker from what the deployer and verifier reported, and no API call
writes them; evidence, which any CI token may post, is never read.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_serializer

from relgate.promotion.model import DeploymentKind, DeploymentState

RECORD = "record"
PROMOTIONS = frozenset({DeploymentKind.PROMOTE, DeploymentKind.AUTO_PROMOTE, DeploymentKind.HOTFIX})
ROLLBACKS = frozenset({DeploymentKind.ROLLBACK, DeploymentKind.AUTO_ROLLBACK})


class RollbackRehearsedGate(BaseModel):
    """A major bump over the stable release enters only after a rollback rehearsal in ``in``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["rollback_rehearsed"]
    in_: str = Field(
        alias="in",
        min_length=1,
        description="The earlier environment where the release must have been deployed, rolled "
        "back to the release stable there before it, verified, and deployed again.",
    )

    @model_serializer(mode="wrap")
    def _as_written(self, handler: Any) -> Any:
        # stored and shown as relgate.yaml says it (`in`), not by the Python field name
        data = handler(self)
        if isinstance(data, dict) and "in_" in data:
            data["in"] = data.pop("in_")
        return data


def placement_problem(gate: RollbackRehearsedGate, environment: str, earlier: Sequence[str]) -> str:
    """Return why ``gate`` may not stand in ``environment`` (``earlier``: the names before it).

    An empty string when it may: ``in`` must name an environment earlier in the pipeline.
    """
    if gate.in_ in earlier:
        return ""
    if gate.in_ == environment:
        return (
            f"rollback_rehearsed in {environment!r} names its own environment; name an earlier one"
        )
    shown = ", ".join(earlier) or "none: it is the first environment"
    return (
        f"rollback_rehearsed names {gate.in_!r}, which is not an environment before "
        f"{environment!r} (earlier ones: {shown})"
    )


# ---------------------------------------------------------------------------- history


@dataclass(frozen=True)
class RanDeployment:
    """A deployment that started in the environment, as the history records it."""

    id: int
    version: str
    kind: DeploymentKind
    state: DeploymentState
    requested_by: str
    started_at: datetime
    verified_at: datetime | None = None
    replaces: int | None = None
    outcome: str = ""
    deployer: str = ""
    """How the environment deployed it (``record``: nothing was deployed), '' when unknown."""

    @property
    def healthy(self) -> bool:
        """It verified healthy (a deployment later replaced by a rollback stays so)."""
        return self.verified_at is not None

    def promoted(self, version: str) -> bool:
        return self.kind in PROMOTIONS and self.version == version

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for the API."""
        return {
            "id": self.id,
            "version": self.version,
            "kind": self.kind.value,
            "state": self.state.value,
            "requested_by": self.requested_by,
            "started_at": self.started_at.isoformat(),
            "verified_at": self.verified_at.isoformat() if self.verified_at else None,
            "deployer": self.deployer or None,
        }


@dataclass(frozen=True)
class Rehearsal:
    """A complete rehearsal: deployed, rolled back to the stable release before it, redeployed."""

    environment: str
    version: str
    rolled_back_to: str
    deployed: RanDeployment
    rolled_back: RanDeployment
    redeployed: RanDeployment

    @property
    def finished_at(self) -> datetime:
        assert self.redeployed.verified_at is not None
        return self.redeployed.verified_at

    @property
    def recorded_only(self) -> bool:
        """A step ran with the ``record`` deployer: nothing was deployed, nothing rolled back."""
        return any(d.deployer == RECORD for d in (self.deployed, self.rolled_back, self.redeployed))

    def describe(self) -> str:
        """``deployed #12 (ci, 15:04:10), rolled back to 1.4.0 #13 (...), redeployed #14 (...)``."""
        return (
            f"rehearsed in {self.environment} {_moment(self.finished_at)}: "
            f"deployed #{self.deployed.id} ({_step(self.deployed)}), "
            f"rolled back to {self.rolled_back_to} #{self.rolled_back.id} "
            f"({_step(self.rolled_back)}), "
            f"redeployed #{self.redeployed.id} ({_step(self.redeployed)})"
        )


class Step(StrEnum):
    """What a rehearsal in progress needs next."""

    DEPLOY = "deploy"
    ROLL_BACK = "roll back"
    REDEPLOY = "redeploy"
    DONE = "done"


@dataclass(frozen=True)
class RehearsalFinding:
    """What the history of one environment says about the rehearsal of one release.

    ``rehearsals``: every complete one, oldest first. ``next_step`` and
    ``rollback_to`` say how the newest attempt goes on (``rollback_to``: the
    release step 2 goes back to, None when there is none); ``done``: the steps
    of that attempt already in the history; ``failed``: its step that failed,
    if the last thing that ran there was one; ``problem``: why it cannot go on.
    """

    environment: str
    version: str
    rehearsals: tuple[Rehearsal, ...]
    next_step: Step
    rollback_to: str | None
    done: tuple[RanDeployment, ...] = ()
    failed: RanDeployment | None = None
    problem: str = ""

    @property
    def newest(self) -> Rehearsal | None:
        return self.rehearsals[-1] if self.rehearsals else None

    def progress(self) -> str:
        """Where the newest attempt stands, in a sentence."""
        where = self.environment
        if self.failed is not None:
            what = "rollback" if self.failed.kind in ROLLBACKS else "deployment"
            told = f": {self.failed.outcome}" if self.failed.outcome else ""
            return f"the {what} #{self.failed.id} of {self.failed.version} in {where} failed{told}"
        if self.next_step is Step.REDEPLOY:
            deployed, rolled_back = self.done
            return (
                f"deployed #{deployed.id} and rolled back to {rolled_back.version} "
                f"#{rolled_back.id} in {where}, not deployed again since"
            )
        if self.next_step is Step.ROLL_BACK:
            return f"deployed #{self.done[0].id} in {where}, not rolled back since"
        if self.newest is not None:
            return self.newest.describe()
        return f"no rehearsal in {where}"


def find_rehearsals(
    version: str, environment: str, history: Sequence[RanDeployment]
) -> RehearsalFinding:
    """Return the rehearsals of ``version`` in ``history`` and how the newest attempt goes on.

    ``history``: the deployments that ran in ``environment``, in any order; those
    that never started are ignored. Never raises for what the history holds.
    """
    ran = sorted(history, key=lambda d: d.id)
    found: list[Rehearsal] = []
    for index in range(len(ran) - 2):
        rehearsal = _rehearsal(version, environment, ran[:index], *ran[index : index + 3])
        if rehearsal is not None:
            found.append(rehearsal)
    rehearsals = tuple(found)
    if rehearsals and rehearsals[-1].redeployed is ran[-1]:
        return RehearsalFinding(environment, version, rehearsals, Step.DONE, None)

    def finding(step: Step, before: Sequence[RanDeployment], **kw: Any) -> RehearsalFinding:
        target = _stable(before, version)
        return RehearsalFinding(environment, version, rehearsals, step, target, **kw)

    nothing = (
        f"{environment} has no stable release other than {version} to roll back to: deploy "
        "the release that runs in production there first"
    )
    if len(ran) >= 2 and _first_two(version, ran[:-2], ran[-2], ran[-1]):
        return finding(Step.REDEPLOY, ran[:-2], done=(ran[-2], ran[-1]))
    if ran and ran[-1].promoted(version) and ran[-1].healthy:
        problem = "" if _stable(ran[:-1], version) else nothing
        return finding(Step.ROLL_BACK, ran[:-1], done=(ran[-1],), problem=problem)
    problem = "" if _stable(ran, version) else nothing
    return finding(Step.DEPLOY, ran, failed=_failed_step(version, ran), problem=problem)


def _rehearsal(
    version: str,
    environment: str,
    before: Sequence[RanDeployment],
    deployed: RanDeployment,
    rolled_back: RanDeployment,
    redeployed: RanDeployment,
) -> Rehearsal | None:
    if not _first_two(version, before, deployed, rolled_back):
        return None
    if not (redeployed.promoted(version) and redeployed.healthy):
        return None
    return Rehearsal(environment, version, rolled_back.version, deployed, rolled_back, redeployed)


def _first_two(
    version: str, before: Sequence[RanDeployment], deployed: RanDeployment, back: RanDeployment
) -> bool:
    """``deployed`` put ``version`` in healthy; ``back`` rolled it back to the stable before."""
    if not (deployed.promoted(version) and deployed.healthy):
        return False
    if back.kind not in ROLLBACKS or not back.healthy:
        return False
    if back.replaces is not None and back.replaces != deployed.id:
        return False
    stable = _stable(before, version)
    return stable is not None and back.version == stable


def _stable(before: Sequence[RanDeployment], version: str) -> str | None:
    """The release stable before ``version`` came: the newest healthy one of another release.

    Deploying ``version`` twice in a row does not make it its own previous release.
    """
    return next((d.version for d in reversed(before) if d.healthy and d.version != version), None)


def _failed_step(version: str, ran: Sequence[RanDeployment]) -> RanDeployment | None:
    """The last deployment that ran, when it is a failed step of a rehearsal of ``version``."""
    if not ran or ran[-1].healthy:
        return None
    last = ran[-1]
    if last.promoted(version):
        return last
    if last.kind in ROLLBACKS and len(ran) >= 2 and ran[-2].promoted(version):
        return last
    return None


# ---------------------------------------------------------------------------- the gate


@dataclass(frozen=True)
class RehearsalFacts:
    """What the gate reads: the release, the gated environment's stable release, histories.

    ``histories``: environment -> the deployments that ran there (for each ``in`` of a gate).
    """

    version: str
    stable: str | None
    histories: Mapping[str, Sequence[RanDeployment]] = field(default_factory=dict)


def is_major_bump(version: str, over: str) -> bool:
    """Whether ``version`` is a major bump over ``over`` (below 1.0.0: a minor bump is one).

    Versions that do not parse as SemVer count as a major bump unless equal: the
    gate errs on the side of asking for a rehearsal.
    """
    from relgate.versioning.semver import Version

    try:
        new, old = Version.parse(version), Version.parse(over)
    except Exception:
        return version != over
    if new.major != old.major:
        return new.major > old.major
    # major-zero: a breaking change bumps the minor
    return new.major == 0 and new.minor > old.minor


def judge(
    spec: RollbackRehearsedGate,
    facts: RehearsalFacts | None,
    environment: str,
    release: str | None,
) -> tuple[Literal["pass", "fail", "missing"], str]:
    """Return the gate's status and a reason a person can act on; never raises."""
    where = spec.in_
    if facts is None:
        return "missing", f"the deployment history of {where} was not read"
    version, stable = facts.version, facts.stable
    if stable is None:
        return "pass", f"{environment} has no stable release yet: nothing to roll back to there"
    if not is_major_bump(version, stable):
        return "pass", f"not a major bump over {stable}"
    finding = find_rehearsals(version, where, facts.histories.get(where, ()))
    crossing = [r for r in finding.rehearsals if is_major_bump(version, r.rolled_back_to)]
    deployed = [r for r in crossing if not r.recorded_only]
    if deployed:
        return "pass", deployed[-1].describe()
    hint = f"relgate rehearse {release or 'SERVICE@VERSION'} --env {where}"
    head = f"{version} is a major bump over {stable} ({environment}'s stable release)"
    if crossing:
        return "fail", (
            f"{head}; the rehearsal in {where} ran with the record deployer "
            f"({crossing[-1].describe()}): nothing was deployed, so no rollback was tried; "
            f"give {where} a deployer and rehearse again: {hint}"
        )
    if finding.rehearsals:
        newest = finding.rehearsals[-1]
        return "fail", (
            f"{head}; the rehearsal in {where} rolled back to {newest.rolled_back_to}, which is "
            f"not a major release behind: rehearse from the previous major: {hint}"
        )
    if finding.failed is not None:
        return "fail", f"{head}; {finding.progress()}: fix it and rehearse again: {hint}"
    return "missing", f"{head}: rehearse its rollback first ({finding.progress()}): {hint}"


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _step(deployment: RanDeployment) -> str:
    at = deployment.verified_at or deployment.started_at
    return f"{deployment.requested_by}, {at.astimezone(UTC):%Y-%m-%d %H:%M:%S}"
