"""Promotions through the kubernetes deployer: a real relgate server and worker, the real
CLI and the real kubectl, against a FAKE Kubernetes API server.

Wire-contract tests: tests/support/fake_kube_api.py stands in for a cluster on
127.0.0.1 (no real API server can run here); it answers as the real API server
does and simulates the rollout. They prove the whole path — relgate.yaml or a
registered deployer, the worker, kubectl's requests, the outcome and the log —
not that a real cluster agrees (tests/integration/deploy/test_kubernetes_real_cluster.py,
opt-in, checks that).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.control.conftest import RelgateServer, api, deploy, run_cli
from tests.support.fake_kube_api import FakeKubeApi

OLD = "registry.example.com/shop@sha256:" + "1" * 64
NEW = "registry.example.com/shop@sha256:" + "2" * 64


@pytest.fixture
def fake(tmp_path: Path) -> Iterator[FakeKubeApi]:
    api_server = FakeKubeApi()
    api_server.start()
    yield api_server
    api_server.stop()


def _release(server: RelgateServer, service: str, version: str, artifact: str) -> None:
    body = {"service": service, "version": version, "artifact": artifact, "author": "dora"}
    api(server, "POST", "/api/v1/releases", json=body)


def test_a_promotion_sets_the_image_in_the_environments_namespace_and_logs_the_rollout(
    fresh_relgate_server: RelgateServer, fake: FakeKubeApi, tmp_path: Path
) -> None:
    url, admin, _ = fresh_relgate_server
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig", context="fake")
    fake.add_workload("shop", namespace="dev", containers={"shop": OLD}, replicas=2)
    (tmp_path / "relgate.yaml").write_text(
        "service: shop\n"
        "environments:\n"
        "  - name: dev\n"
        "    protected: false\n"
        "    deployer:\n"
        "      type: kubernetes\n"
        f"      kubeconfig: {kubeconfig}\n"
        "      context: fake\n"
        "      interval_seconds: 0.05\n"
        "      timeout_seconds: 60\n"
    )
    applied = run_cli("apply", url=url, token=admin, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    _release(fresh_relgate_server, "shop", "1.1.0", NEW)

    promoted = run_cli(
        "promote", "shop@1.1.0", "--to", "dev", "--wait", "--json", url=url, token=admin
    )
    deployment = json.loads(promoted.stdout)
    logs = run_cli("deploy", "logs", str(deployment["id"]), url=url, token=admin)
    status = run_cli("status", "shop", "--json", url=url, token=admin)

    assert promoted.returncode == 0, (promoted.stdout, promoted.stderr)
    assert deployment["state"] == "succeeded"
    assert logs.returncode == 0, logs.stderr
    assert f"kubectl set image deployment/shop shop={NEW} -n dev --context fake" in logs.stdout
    assert (
        "kubectl rollout status deployment/shop -n dev --context fake --timeout=60s" in logs.stdout
    )
    assert 'Waiting for deployment "shop" rollout to finish: 1 out of 2 new replicas' in logs.stdout
    assert 'deployment "shop" successfully rolled out' in logs.stdout
    assert "2 of 2 pods ready: shop-new-0, shop-new-1" in logs.stdout
    workload = fake.workload("shop", namespace="dev")
    assert workload["spec"]["template"]["spec"]["containers"] == [{"name": "shop", "image": NEW}]
    assert workload["metadata"]["annotations"] == {
        "relgate.dev/deployment": f"{deployment['id']}.1",
        "relgate.dev/version": "1.1.0",
    }
    assert status.returncode == 0, status.stderr
    assert "1.1.0" in status.stdout


def test_a_protected_environment_deploys_through_a_registered_kubernetes_deployer(
    fresh_relgate_server: RelgateServer, fake: FakeKubeApi, tmp_path: Path
) -> None:
    url, admin, _ = fresh_relgate_server
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig", context="prod")
    fake.add_workload("shop-api", namespace="shop", containers={"api": OLD}, replicas=1)
    fake.add_workload(
        "shop-api", namespace="shop", kind="StatefulSet", containers={"api": OLD}, replicas=1
    )
    added = run_cli(
        "deployers", "add", "shop-prod", "--type", "kubernetes", "--workload", "shop-api",
        "--namespace", "shop", "--context", "prod", "--kubeconfig", str(kubeconfig),
        "--timeout", "60", url=url, token=admin,
    )  # fmt: skip
    shown = run_cli("deployers", "show", "shop-prod", url=url, token=admin)
    refused = run_cli(
        "deployers", "add", "shop-bad", "--type", "kubernetes", "--workload", "Shop_API",
        url=url, token=admin,
    )  # fmt: skip
    listed = run_cli("deployers", "list", url=url, token=admin)
    (tmp_path / "relgate.yaml").write_text(
        "service: shop\nenvironments:\n  - name: production\n    deployer: {ref: shop-prod}\n"
    )
    applied = run_cli("apply", url=url, token=admin, cwd=tmp_path)
    _release(fresh_relgate_server, "shop", "2.0.0", NEW)

    deployment = deploy(fresh_relgate_server, admin, "shop", "2.0.0", "production")
    logs = run_cli("deploy", "logs", str(deployment["id"]), url=url, token=admin)

    assert added.returncode == 0, added.stderr
    assert "registered deployer shop-prod" in added.stdout
    assert refused.returncode == 2
    assert "workload: 'Shop_API' is not a Kubernetes object name" in refused.stderr
    assert shown.returncode == 0, shown.stderr
    assert "type: kubernetes" in shown.stdout
    assert "workload: shop-api" in shown.stdout
    assert "namespace: shop" in shown.stdout
    assert "kubernetes deployment/shop-api in shop" in listed.stdout
    assert applied.returncode == 0, applied.stderr
    assert deployment["state"] == "succeeded", deployment
    assert "deployer: the registered deployer 'shop-prod'" in logs.stdout
    assert f"kubectl set image deployment/shop-api api={NEW} -n shop --context prod" in logs.stdout
    deployed = fake.workload("shop-api", namespace="shop")
    assert deployed["spec"]["template"]["spec"]["containers"][0]["image"] == NEW
    # the Deployment only: the StatefulSet of the same name is left as it was
    untouched = fake.workload("shop-api", namespace="shop", kind="StatefulSet")
    assert untouched["spec"]["template"]["spec"]["containers"][0]["image"] == OLD


def test_a_crash_looping_rollout_fails_the_deployment_with_the_pod_named(
    fresh_relgate_server: RelgateServer, fake: FakeKubeApi, tmp_path: Path
) -> None:
    url, admin, _ = fresh_relgate_server
    kubeconfig = fake.kubeconfig(tmp_path / "kubeconfig", context="fake")
    fake.add_workload("shop", namespace="dev", behaviour="crashloop")
    (tmp_path / "relgate.yaml").write_text(
        "service: shop\nenvironments:\n  - name: dev\n    protected: false\n    deployer:\n"
        f"      {{type: kubernetes, kubeconfig: {kubeconfig}, interval_seconds: 0.05}}\n"
    )
    applied = run_cli("apply", url=url, token=admin, cwd=tmp_path)
    assert applied.returncode == 0, applied.stderr
    _release(fresh_relgate_server, "shop", "1.2.0", NEW)

    promoted = run_cli("promote", "shop@1.2.0", "--to", "dev", "--wait", url=url, token=admin)
    history = api(fresh_relgate_server, "GET", "/api/v1/services/shop/history")

    assert promoted.returncode == 1
    assert (
        "pod shop-new-0: container shop is in CrashLoopBackOff" in promoted.stdout + promoted.stderr
    )
    assert history[0]["state"] == "failed"
