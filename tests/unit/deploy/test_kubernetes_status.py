"""The rollout rules of ``kubectl rollout status``, the pod check and the fence order (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from relgate.deploy.config import KubernetesDeployerSpec
from relgate.deploy.kubernetes_status import (
    RolloutStatus,
    check_pods,
    desired_pods,
    is_newer_fence,
    label_selector,
    rollout_status,
)
from relgate.deploy.registered import RegisteredDeployer


def deployment(generation: int = 2, observed: int = 2, **status: Any) -> dict[str, Any]:
    return {
        "kind": "Deployment",
        "metadata": {"name": "payments", "generation": generation},
        "spec": {"replicas": 3},
        "status": {"observedGeneration": observed, **status},
    }


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        (
            deployment(generation=3, observed=2),
            RolloutStatus("Waiting for deployment spec update to be observed..."),
        ),
        (
            deployment(updatedReplicas=1, replicas=3, availableReplicas=2),
            RolloutStatus(
                'Waiting for deployment "payments" rollout to finish: 1 out of 3 new replicas '
                "have been updated..."
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=4, availableReplicas=3),
            RolloutStatus(
                'Waiting for deployment "payments" rollout to finish: 1 old replicas are '
                "pending termination..."
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=3, availableReplicas=1),
            RolloutStatus(
                'Waiting for deployment "payments" rollout to finish: 1 of 3 updated replicas '
                "are available..."
            ),
        ),
        (
            deployment(updatedReplicas=3, replicas=3, availableReplicas=3),
            RolloutStatus('deployment "payments" successfully rolled out', done=True),
        ),
        (
            deployment(
                updatedReplicas=1,
                conditions=[{"type": "Progressing", "reason": "ProgressDeadlineExceeded"}],
            ),
            RolloutStatus(
                'deployment "payments" exceeded its progress deadline', done=True, failed=True
            ),
        ),
    ],
)
def test_a_deployments_rollout_reads_as_kubectl_says_it(
    obj: dict[str, Any], expected: RolloutStatus
) -> None:
    assert rollout_status(obj) == expected


def test_a_statefulset_waits_for_its_update_revision() -> None:
    obj = {
        "kind": "StatefulSet",
        "metadata": {"name": "db", "generation": 2},
        "spec": {"replicas": 2, "updateStrategy": {"type": "RollingUpdate"}},
        "status": {
            "observedGeneration": 2,
            "readyReplicas": 2,
            "updatedReplicas": 1,
            "currentRevision": "db-1",
            "updateRevision": "db-2",
        },
    }
    assert rollout_status(obj) == RolloutStatus(
        "waiting for statefulset rolling update to complete 1 pods at revision db-2..."
    )


def test_a_daemonset_that_is_not_rolling_update_cannot_be_followed() -> None:
    obj = {
        "kind": "DaemonSet",
        "metadata": {"name": "agent", "generation": 1},
        "spec": {"updateStrategy": {"type": "OnDelete"}},
        "status": {},
    }
    status = rollout_status(obj)
    assert status.failed
    assert status.message.startswith("rollout status is only available for RollingUpdate")


def test_desired_pods_of_a_daemonset_are_its_scheduled_nodes() -> None:
    assert desired_pods({"kind": "DaemonSet", "status": {"desiredNumberScheduled": 5}}) == 5
    assert desired_pods({"kind": "Deployment", "spec": {}}) == 1


def test_the_selector_joins_labels_and_expressions() -> None:
    obj = {
        "spec": {
            "selector": {
                "matchLabels": {"tier": "web", "app": "payments"},
                "matchExpressions": [
                    {"key": "track", "operator": "In", "values": ["stable", "canary"]},
                    {"key": "legacy", "operator": "DoesNotExist"},
                ],
            }
        }
    }
    assert label_selector(obj) == "app=payments,tier=web,track in (stable,canary),!legacy"
    assert label_selector({"spec": {}}) is None


def pod(name: str, image: str, *, ready: bool, waiting: str | None = None) -> dict[str, Any]:
    state = {"waiting": {"reason": waiting, "message": "back-off"}} if waiting else {"running": {}}
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "app", "image": image}]},
        "status": {
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "app", "state": state, "restartCount": 2}],
        },
    }


def test_only_pods_of_the_new_image_count_and_a_crash_loop_names_the_pod() -> None:
    pods = [
        pod("old-1", "img@old", ready=False, waiting="CrashLoopBackOff"),
        pod("new-1", "img@new", ready=True),
        pod("new-2", "img@new", ready=False, waiting="CrashLoopBackOff"),
        {
            **pod("new-3", "img@new", ready=True),
            "metadata": {"name": "new-3", "deletionTimestamp": "x"},
        },
    ]
    report = check_pods(pods, container="app", image="img@new")
    assert report.ready == ["new-1"]
    assert report.not_ready == ["new-2"]
    assert (
        report.fatal
        == "pod new-2: container app is in CrashLoopBackOff (back-off) after 2 restarts"
    )


def test_a_pod_that_is_merely_starting_is_not_fatal() -> None:
    report = check_pods(
        [pod("new-1", "img@new", ready=False, waiting="ContainerCreating")],
        container="app",
        image="img@new",
    )
    assert report.fatal is None
    assert report.not_ready == ["new-1"]


@pytest.mark.parametrize(
    ("theirs", "ours", "newer"),
    [
        ("13.1", "12.4", True),
        ("12.2", "12.1", True),
        ("12.1", "12.1", False),
        ("11.9", "12.1", False),
        (None, "12.1", False),
        ("written by hand", "12.1", False),
        ("12.2", "", False),
    ],
)
def test_a_fence_is_newer_by_deployment_then_attempt(
    theirs: str | None, ours: str, newer: bool
) -> None:
    assert is_newer_fence(theirs, ours) is newer


def test_the_spec_refuses_names_kubernetes_would_refuse() -> None:
    with pytest.raises(ValidationError, match="is not a Kubernetes namespace"):
        KubernetesDeployerSpec(type="kubernetes", namespace="Prod_EU")
    with pytest.raises(ValidationError, match="kind"):
        KubernetesDeployerSpec.model_validate({"type": "kubernetes", "kind": "CronJob"})
    spec = KubernetesDeployerSpec(type="kubernetes")
    assert (spec.kind, spec.workload, spec.namespace, spec.timeout_seconds) == (
        "Deployment",
        None,
        None,
        300,
    )


def test_a_registered_kubernetes_deployer_stands_for_the_spec() -> None:
    definition = RegisteredDeployer(
        name="payments-prod",
        type="kubernetes",
        workload="payments",
        namespace="production",
        context="prod",
        kubeconfig="/etc/relgate/kubeconfig",
        timeout_seconds=120,
    )
    assert definition.deployer_spec({}) == KubernetesDeployerSpec(
        type="kubernetes",
        workload="payments",
        namespace="production",
        context="prod",
        kubeconfig="/etc/relgate/kubeconfig",
        timeout_seconds=120,
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"type": "kubernetes", "command": "./deploy.sh"},
            "command: a deployer of type kubernetes runs no deploy command",
        ),
        ({"type": "command"}, "command: a deployer of type command needs a command"),
        (
            {"command": "x", "workload": "payments"},
            "workload: only for a deployer of type kubernetes (--type kubernetes)",
        ),
        (
            {"type": "kubernetes", "container": "App"},
            "container: 'App' is not a Kubernetes container name",
        ),
    ],
)
def test_a_registered_deployer_of_the_wrong_shape_is_refused(
    fields: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        RegisteredDeployer.model_validate({"name": "d", **fields})
    assert str(caught.value.errors()[0]["msg"]).startswith(message)


def test_the_servers_deployers_file_defines_a_kubernetes_deployer(tmp_path: Path) -> None:
    from relgate.promotion.deployers import load_deployers_file

    path = tmp_path / "deployers.yaml"
    path.write_text(
        "deployers:\n  - name: payments-prod\n    type: kubernetes\n    workload: payments\n"
        "    namespace: production\n    kubeconfig: /etc/relgate/kubeconfig\n"
    )
    [definition] = load_deployers_file(path)
    assert definition.deployer_spec({}) == KubernetesDeployerSpec(
        type="kubernetes",
        workload="payments",
        namespace="production",
        kubeconfig="/etc/relgate/kubeconfig",
    )
