"""The state-changing use cases of a deployment, over any DeploymentStore.

Each function loads what it needs, calls the lifecycle objects, saves them;
the caller owns the transaction, appends the audit events and drains
``store.events()`` into the outbox before it commits. The services run these
over ``SqlDeployments``; unit tests over ``MemoryDeployments``.
"""

from __future__ import annotations

from datetime import datetime

from relgate.promotion.lifecycle import Deployment, Environment, FollowUp, ReleaseRef
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec
from relgate.promotion.repository import DeploymentStore, apply_spec


def open_deployment(
    store: DeploymentStore, env: Environment, deployment: Deployment, now: datetime
) -> None:
    """Store ``deployment``, let it hold ``env`` and queue its job when it may run now.

    Raises Conflict when another deployment holds the environment (the store's
    conditional hold decides between concurrent transactions).
    """
    env.refuse_pinned(deployment.release)
    store.add(deployment)
    env.hold(deployment, now)
    store.save(env, deployment)
    if deployment.state is DeploymentState.REQUESTED:
        store.queue_job(deployment, now)


def start(store: DeploymentStore, deployment_id: int, now: datetime) -> Deployment | None:
    """requested → deploying; None when the deployment is no longer waiting to start."""
    deployment = store.deployment(deployment_id)
    if deployment.state is not DeploymentState.REQUESTED:
        return None
    env = store.environment(deployment.service, deployment.environment)
    env.start(deployment, now)
    store.save(deployment, env)
    return deployment


def verifying(store: DeploymentStore, deployment_id: int, now: datetime) -> bool:
    """deploying → verifying; False when it was finished meanwhile (reconciled)."""
    deployment = store.deployment(deployment_id)
    if deployment.state is not DeploymentState.DEPLOYING:
        return False
    deployment.verifying(now)
    store.save(deployment)
    return True


def complete(
    store: DeploymentStore,
    deployment_id: int,
    *,
    succeeded: bool,
    reason: str,
    now: datetime,
    spec: EnvironmentSpec | None = None,
) -> tuple[Deployment, FollowUp] | None:
    """A running deployment ended: succeeded (verified) or failed; None when not running.

    Frees the environment; a verified success moves the stable anchor and a
    succeeded rollback marks the deployment it replaced rolled back.
    """
    deployment = store.deployment(deployment_id)
    if not deployment.running:
        return None  # reconciled meanwhile by another process
    env = apply_spec(store.environment(deployment.service, deployment.environment), spec)
    replaced: Deployment | None = None
    if succeeded:
        if deployment.is_rollback and deployment.replaces is not None:
            replaced = store.deployment(deployment.replaces)
        follow_up = env.succeeded(deployment, now, reason, replaced)
    else:
        follow_up = env.failed(deployment, now, reason)
    store.save(deployment, env, *([replaced] if replaced is not None else []))
    return deployment, follow_up


def cancel(
    store: DeploymentStore,
    deployment: Deployment,
    outcome: str,
    now: datetime,
    spec: EnvironmentSpec | None = None,
) -> FollowUp:
    """Cancel a deployment that has not started; Conflict once it runs."""
    env = apply_spec(store.environment(deployment.service, deployment.environment), spec)
    follow_up = env.cancelled(deployment, now, outcome)
    store.save(deployment, env)
    return follow_up


def approve(
    store: DeploymentStore,
    deployment: Deployment,
    approver: str,
    comment: str,
    *,
    gates_pass: bool,
    now: datetime,
) -> bool:
    """Record an approval; return whether the deployment was queued to run."""
    deployment.approve(now, approver, comment, gates_pass=gates_pass)
    store.save(deployment)
    if deployment.state is DeploymentState.REQUESTED:
        store.queue_job(deployment, now)
        return True
    return False


def reject(
    store: DeploymentStore,
    deployment: Deployment,
    approver: str,
    comment: str,
    now: datetime,
    spec: EnvironmentSpec | None = None,
) -> FollowUp:
    """The approver said no: the deployment is rejected and the environment freed."""
    env = apply_spec(store.environment(deployment.service, deployment.environment), spec)
    follow_up = env.rejected(deployment, now, approver, comment)
    store.save(deployment, env)
    return follow_up


def make_room_for_rollback(
    store: DeploymentStore, env: Environment, reason: str, now: datetime
) -> Deployment | None:
    """Cancel a deployment holding ``env`` that has not started; Conflict if one runs.

    Returns the cancelled deployment, if there was one.
    """
    if env.holder is None:
        return None
    holder = store.deployment(env.holder)
    if holder.state not in (DeploymentState.REQUESTED, DeploymentState.WAITING_FOR_APPROVAL):
        env.refuse_held(holder)
        return None
    env.cancelled(holder, now, f"cancelled by a rollback: {reason}")
    store.save(holder, env)
    return holder


def new_rollback(
    env: Environment,
    *,
    target: ReleaseRef,
    replaces: int | None,
    kind: DeploymentKind,
    actor: str,
    actor_identity: str | None,
    reason: str,
    revision: int,
    now: datetime,
) -> Deployment:
    """A rollback of ``env`` to ``target``, not yet stored (no gates: it once passed them)."""
    return Deployment.request(
        service=env.service,
        environment=env.name,
        release=target,
        kind=kind,
        actor=actor,
        actor_identity=actor_identity,
        now=now,
        pipeline_revision=revision,
        previous=env.current,
        reason=reason,
        gate_results=[
            {
                "gate": "rollback",
                "status": "pass",
                "reason": f"{target.version} passed {env.name}'s gates when it was first deployed",
            }
        ],
        replaces=replaces,
    )


def open_rollback(
    store: DeploymentStore, env: Environment, deployment: Deployment, now: datetime
) -> None:
    """Open the rollback and pin ``env`` to its release until a person unpins."""
    env.unpin()  # a rollback goes where it must, whatever was pinned before
    open_deployment(store, env, deployment, now)
    env.pin(deployment.release, deployment.reason)
    store.save(env)
