"""Deployments: their states and the transitions allowed between them (pure)."""

from __future__ import annotations

from enum import StrEnum

from relgate.errors import Conflict


class DeploymentState(StrEnum):
    REQUESTED = "requested"
    WAITING_FOR_APPROVAL = "waiting_for_approval"
    DEPLOYING = "deploying"
    VERIFYING = "verifying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class DeploymentKind(StrEnum):
    PROMOTE = "promote"
    AUTO_PROMOTE = "auto-promote"
    # a promotion that fixes what broke production: counted as rework (relgate.delivery)
    HOTFIX = "hotfix"
    ROLLBACK = "rollback"
    AUTO_ROLLBACK = "auto-rollback"


FINAL_STATES = frozenset(
    {
        DeploymentState.SUCCEEDED,
        DeploymentState.FAILED,
        DeploymentState.ROLLED_BACK,
        DeploymentState.REJECTED,
        DeploymentState.CANCELLED,
    }
)

TRANSITIONS: dict[DeploymentState, frozenset[DeploymentState]] = {
    DeploymentState.REQUESTED: frozenset(
        {
            DeploymentState.WAITING_FOR_APPROVAL,
            DeploymentState.DEPLOYING,
            DeploymentState.FAILED,
            DeploymentState.CANCELLED,
        }
    ),
    DeploymentState.WAITING_FOR_APPROVAL: frozenset(
        {
            DeploymentState.REQUESTED,
            DeploymentState.DEPLOYING,
            DeploymentState.REJECTED,
            DeploymentState.CANCELLED,
            DeploymentState.FAILED,
        }
    ),
    DeploymentState.DEPLOYING: frozenset({DeploymentState.VERIFYING, DeploymentState.FAILED}),
    DeploymentState.VERIFYING: frozenset({DeploymentState.SUCCEEDED, DeploymentState.FAILED}),
    # a succeeded deployment is marked rolled back when a later rollback replaces it
    DeploymentState.SUCCEEDED: frozenset({DeploymentState.ROLLED_BACK}),
    DeploymentState.FAILED: frozenset({DeploymentState.ROLLED_BACK}),
    DeploymentState.ROLLED_BACK: frozenset(),
    DeploymentState.REJECTED: frozenset(),
    DeploymentState.CANCELLED: frozenset(),
}


def moved(current: str, target: DeploymentState, deployment: int) -> str:
    """Return ``target``'s stored value; every state change of a deployment goes through here.

    Raises Conflict when the table above does not allow ``current`` -> ``target``.
    """
    if target not in TRANSITIONS[DeploymentState(current)]:
        raise Conflict(f"deployment {deployment} is {current}; it cannot become {target}")
    return target.value
