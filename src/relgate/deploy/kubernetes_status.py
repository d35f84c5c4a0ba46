"""What a workload's status and its pods say about a rollout: pure functions over API objects.

The rollout rules are the ones ``kubectl rollout status`` applies (its status
viewers for Deployments, StatefulSets and DaemonSets), with its messages word
for word, so the deployment's log reads as a runbook's terminal does. The pod
check goes one step further: every replica's pod running the new image must be
Ready, and a container waiting in ``CrashLoopBackOff`` (or unable to pull its
image) fails the rollout at once, naming the pod.

The fencing token's order lives here too: ``"<deployment id>.<attempt>"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

FENCE_ANNOTATION = "relgate.dev/deployment"
VERSION_ANNOTATION = "relgate.dev/version"

# a container waiting for one of these will not become ready by waiting longer
FATAL_WAITING = frozenset(
    {
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
        "RunContainerError",
    }
)

Obj = Mapping[str, Any]


@dataclass(frozen=True)
class RolloutStatus:
    """One look at a rollout: the line kubectl would print, and whether it is over."""

    message: str
    done: bool = False
    failed: bool = False


def _int(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _section(obj: Obj, key: str) -> Mapping[str, Any]:
    value = obj.get(key)
    return value if isinstance(value, Mapping) else {}


def rollout_status(obj: Obj) -> RolloutStatus:
    """Return what ``kubectl rollout status`` would say of ``obj`` (a workload as JSON).

    ``failed`` is set for a Deployment whose Progressing condition says
    ``ProgressDeadlineExceeded``, and for a StatefulSet or DaemonSet whose update
    strategy is not RollingUpdate (kubectl cannot follow those either).
    """
    kind = obj.get("kind")
    if kind == "StatefulSet":
        return _statefulset(obj)
    if kind == "DaemonSet":
        return _daemonset(obj)
    return _deployment(obj)


def _deployment(obj: Obj) -> RolloutStatus:
    meta, spec, status = _section(obj, "metadata"), _section(obj, "spec"), _section(obj, "status")
    name = meta.get("name", "")
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutStatus("Waiting for deployment spec update to be observed...")
    for condition in status.get("conditions") or []:
        if (
            isinstance(condition, Mapping)
            and condition.get("type") == "Progressing"
            and condition.get("reason") == "ProgressDeadlineExceeded"
        ):
            return RolloutStatus(
                f'deployment "{name}" exceeded its progress deadline', done=True, failed=True
            )
    replicas = _int(spec.get("replicas"), 1)
    updated = _int(status.get("updatedReplicas"))
    total = _int(status.get("replicas"))
    available = _int(status.get("availableReplicas"))
    waiting = f'Waiting for deployment "{name}" rollout to finish: '
    if updated < replicas:
        return RolloutStatus(
            f"{waiting}{updated} out of {replicas} new replicas have been updated..."
        )
    if total > updated:
        return RolloutStatus(f"{waiting}{total - updated} old replicas are pending termination...")
    if available < updated:
        return RolloutStatus(f"{waiting}{available} of {updated} updated replicas are available...")
    return RolloutStatus(f'deployment "{name}" successfully rolled out', done=True)


def _daemonset(obj: Obj) -> RolloutStatus:
    meta, spec, status = _section(obj, "metadata"), _section(obj, "spec"), _section(obj, "status")
    name = meta.get("name", "")
    strategy = _section(spec, "updateStrategy").get("type", "RollingUpdate")
    if strategy != "RollingUpdate":
        return RolloutStatus(
            f"rollout status is only available for RollingUpdate strategy type "
            f"(daemon set {name!r} uses {strategy})",
            done=True,
            failed=True,
        )
    if _int(meta.get("generation")) > _int(status.get("observedGeneration")):
        return RolloutStatus("Waiting for daemon set spec update to be observed...")
    desired = _int(status.get("desiredNumberScheduled"))
    updated = _int(status.get("updatedNumberScheduled"))
    available = _int(status.get("numberAvailable"))
    waiting = f'Waiting for daemon set "{name}" rollout to finish: '
    if updated < desired:
        return RolloutStatus(f"{waiting}{updated} out of {desired} new pods have been updated...")
    if available < desired:
        return RolloutStatus(f"{waiting}{available} of {desired} updated pods are available...")
    return RolloutStatus(f'daemon set "{name}" successfully rolled out', done=True)


def _statefulset(obj: Obj) -> RolloutStatus:
    meta, spec, status = _section(obj, "metadata"), _section(obj, "spec"), _section(obj, "status")
    name = meta.get("name", "")
    strategy = _section(spec, "updateStrategy")
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        return RolloutStatus(
            f"rollout status is only available for RollingUpdate strategy type "
            f"(statefulset {name!r} uses {strategy.get('type')})",
            done=True,
            failed=True,
        )
    observed = _int(status.get("observedGeneration"))
    if observed == 0 or _int(meta.get("generation")) > observed:
        return RolloutStatus("Waiting for statefulset spec update to be observed...")
    replicas = _int(spec.get("replicas"), 1)
    ready = _int(status.get("readyReplicas"))
    if ready < replicas:
        return RolloutStatus(f"Waiting for {replicas - ready} pods to be ready...")
    rolling = _section(strategy, "rollingUpdate")
    partition = rolling.get("partition")
    if isinstance(partition, int) and partition > 0:
        updated = _int(status.get("updatedReplicas"))
        if updated < replicas - partition:
            return RolloutStatus(
                f"Waiting for partitioned roll out to finish: {updated} out of "
                f"{replicas - partition} new pods have been updated..."
            )
        return RolloutStatus(
            f"partitioned roll out complete: {updated} new pods have been updated...", done=True
        )
    update_revision = status.get("updateRevision")
    if update_revision != status.get("currentRevision"):
        return RolloutStatus(
            f"waiting for statefulset rolling update to complete "
            f"{_int(status.get('updatedReplicas'))} pods at revision {update_revision}..."
        )
    return RolloutStatus(
        f"statefulset rolling update complete {_int(status.get('currentReplicas'))} pods "
        f"at revision {status.get('currentRevision')}...",
        done=True,
    )


def desired_pods(obj: Obj) -> int:
    """How many pods the workload wants (a DaemonSet: as many as nodes it is scheduled on)."""
    if obj.get("kind") == "DaemonSet":
        return _int(_section(obj, "status").get("desiredNumberScheduled"))
    return _int(_section(obj, "spec").get("replicas"), 1)


def label_selector(obj: Obj) -> str | None:
    """Return the workload's ``spec.selector`` as a ``-l`` selector, or None without one."""
    selector = _section(_section(obj, "spec"), "selector")
    terms = [f"{key}={value}" for key, value in sorted(_section(selector, "matchLabels").items())]
    for expression in selector.get("matchExpressions") or []:
        if not isinstance(expression, Mapping):
            continue
        key, operator = expression.get("key"), expression.get("operator")
        values = ",".join(str(v) for v in expression.get("values") or [])
        if operator == "In":
            terms.append(f"{key} in ({values})")
        elif operator == "NotIn":
            terms.append(f"{key} notin ({values})")
        elif operator == "Exists":
            terms.append(str(key))
        elif operator == "DoesNotExist":
            terms.append(f"!{key}")
    return ",".join(terms) or None


@dataclass(frozen=True)
class PodsReport:
    """The pods running the new image: how many are ready, and the first that cannot become so."""

    ready: list[str]
    not_ready: list[str]
    fatal: str | None
    """``pod NAME: container C is in CrashLoopBackOff (...)``, or None."""


def check_pods(pods: Sequence[Obj], *, container: str, image: str) -> PodsReport:
    """Look at the pods whose ``container`` runs ``image`` (pods being deleted are left out).

    A container (or init container) waiting for a reason in FATAL_WAITING makes
    ``fatal`` name the pod, the container, the reason and its message.
    """
    ready: list[str] = []
    not_ready: list[str] = []
    fatal: str | None = None
    for pod in pods:
        meta, spec, status = (
            _section(pod, "metadata"),
            _section(pod, "spec"),
            _section(pod, "status"),
        )
        if meta.get("deletionTimestamp"):
            continue
        images = {
            c.get("name"): c.get("image")
            for c in spec.get("containers") or []
            if isinstance(c, Mapping)
        }
        if images.get(container) != image:
            continue
        name = str(meta.get("name", "?"))
        statuses = [
            *(status.get("initContainerStatuses") or []),
            *(status.get("containerStatuses") or []),
        ]
        for item in statuses:
            if not isinstance(item, Mapping):
                continue
            waiting = _section(_section(item, "state"), "waiting")
            reason = waiting.get("reason")
            if fatal is None and reason in FATAL_WAITING:
                detail = waiting.get("message")
                restarts = _int(item.get("restartCount"))
                fatal = (
                    f"pod {name}: container {item.get('name')} is in {reason}"
                    + (f" ({detail})" if detail else "")
                    + (f" after {restarts} restarts" if restarts else "")
                )
        is_ready = any(
            isinstance(c, Mapping) and c.get("type") == "Ready" and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        (ready if is_ready else not_ready).append(name)
    return PodsReport(ready=sorted(ready), not_ready=sorted(not_ready), fatal=fatal)


def fence_order(fence: str) -> tuple[int, int] | None:
    """``"12.3"`` -> (12, 3): deployment id, then attempt; None when it is not a fence."""
    deployment, _, attempt = fence.strip().partition(".")
    if not deployment.isdigit() or not (attempt or "0").isdigit():
        return None
    return int(deployment), int(attempt or "0")


def is_newer_fence(theirs: str | None, ours: str) -> bool:
    """Whether the fence ``theirs`` (read from the workload) was written after ``ours``.

    A later deployment (a higher id), or a later attempt of the same one, is
    newer. Something that is not a fence (absent, or written by hand) is not.
    """
    if not theirs:
        return False
    their_order, our_order = fence_order(theirs), fence_order(ours)
    if their_order is None or our_order is None:
        return False
    return their_order > our_order
