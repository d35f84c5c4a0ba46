"""A deployment's timeline: the states it went through, in order, from its view (pure)."""

from __future__ import annotations

from datetime import datetime

from relgate.promotion.model import FINAL_STATES, DeploymentState
from relgate.promotion.views import DeploymentView, TimelineStep

# a final state only reached through verifying (a rolled-back one may have failed before)
_AFTER_VERIFYING = frozenset({DeploymentState.SUCCEEDED})


def timeline(view: DeploymentView) -> list[TimelineStep]:
    """Return the steps ``view`` went through, oldest first; the last one is its state now.

    Requested (by whom, why), waiting for approval and each decision when it
    waited, deploying once started, verifying when the deployer succeeded (the
    store keeps no time for it), and the final state with its outcome. A state
    the deployment is in is ``current``.
    """
    state = DeploymentState(view.state)
    steps = [
        TimelineStep(
            DeploymentState.REQUESTED.value,
            view.created_at,
            f"{view.kind} by {view.requested_by}" + (f": {view.reason}" if view.reason else ""),
            current=state is DeploymentState.REQUESTED,
        )
    ]
    waited = state is DeploymentState.WAITING_FOR_APPROVAL or bool(view.approvals)
    if waited:
        steps.append(
            TimelineStep(
                DeploymentState.WAITING_FOR_APPROVAL.value,
                None,
                current=state is DeploymentState.WAITING_FOR_APPROVAL,
            )
        )
        for approval in view.approvals:
            steps.append(
                TimelineStep(
                    str(approval.get("decision", "")),
                    _parse(approval.get("at")),
                    f"by {approval.get('approver', '?')}"
                    + (f": {approval['comment']}" if approval.get("comment") else ""),
                )
            )
    if view.started_at is not None:
        steps.append(
            TimelineStep(
                DeploymentState.DEPLOYING.value,
                view.started_at,
                f"with {view.deployer}" if view.deployer else "",
                current=state is DeploymentState.DEPLOYING,
            )
        )
    if state is DeploymentState.VERIFYING or state in _AFTER_VERIFYING:
        steps.append(
            TimelineStep(
                DeploymentState.VERIFYING.value,
                None,
                current=state is DeploymentState.VERIFYING,
            )
        )
    if state in FINAL_STATES:
        steps.append(TimelineStep(state.value, view.finished_at, view.outcome, current=True))
    return steps


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
