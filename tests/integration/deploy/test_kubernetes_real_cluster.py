"""Opt-in: the kubernetes deployer against a REAL cluster, when ``KUBECONFIG`` is set.

The other kubernetes tests run against a fake API server (tests/support/
fake_kube_api.py); this one checks that a real API server and controller agree
with what the fake taught the deployer. It is skipped unless ``KUBECONFIG``
names a kubeconfig whose current context (or ``KUBE_TEST_CONTEXT``) may create
and delete a namespace. It creates ``relgate-test-<random>`` with a two-replica
Deployment of the pause image, deploys a second digest of it through the
deployer, checks the rollout and the annotation, and deletes the namespace.
``KUBE_TEST_IMAGE_A`` / ``KUBE_TEST_IMAGE_B`` override the two digest-pinned
images (for a cluster that cannot pull from registry.k8s.io).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from relgate.deploy.config import KubernetesDeployerSpec
from relgate.deploy.kubectl import find_kubectl
from relgate.deploy.kubernetes import KubernetesDeployer
from relgate.deploy.ports import DeployRequest

pytestmark = pytest.mark.skipif(
    not os.environ.get("KUBECONFIG"),
    reason="KUBECONFIG is not set: the real-cluster test runs only against a cluster you name",
)

IMAGE_A = os.environ.get(
    "KUBE_TEST_IMAGE_A",
    "registry.k8s.io/pause@sha256:7031c1b283388d2c2e09b57badb803c05ebed362dc88d84b480cc47f72a21097",
)
IMAGE_B = os.environ.get(
    "KUBE_TEST_IMAGE_B",
    "registry.k8s.io/pause@sha256:ee6521f290b2168b6e0935a181d4cff9be1ac3f505666ef0e3c98fae8199917a",
)


def _kubectl(*args: str, stdin: str | None = None) -> str:
    argv = [find_kubectl(None, base_dir=Path.cwd()), *args]
    if os.environ.get("KUBE_TEST_CONTEXT"):
        argv += ["--context", os.environ["KUBE_TEST_CONTEXT"]]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"relgate-test-{secrets.token_hex(4)}"
    _kubectl("create", "namespace", name)
    try:
        yield name
    finally:
        _kubectl("delete", "namespace", name, "--wait=false")


def test_a_real_cluster_rolls_out_the_new_digest(namespace: str, tmp_path: Path) -> None:
    manifest = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "pause", "namespace": namespace},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "pause"}},
            "template": {
                "metadata": {"labels": {"app": "pause"}},
                "spec": {"containers": [{"name": "pause", "image": IMAGE_A}]},
            },
        },
    }
    _kubectl("apply", "-f", "-", stdin=json.dumps(manifest))
    _kubectl("rollout", "status", "deployment/pause", "-n", namespace, "--timeout=180s")
    spec = KubernetesDeployerSpec(
        type="kubernetes",
        workload="pause",
        namespace=namespace,
        context=os.environ.get("KUBE_TEST_CONTEXT"),
        timeout_seconds=180,
    )
    request = DeployRequest(
        deployment_id="1",
        service="pause",
        environment="test",
        version="1.0.1",
        artifact=IMAGE_B,
        previous_artifact=IMAGE_A,
        reason="promote",
        fence="1.1",
    )
    lines: list[str] = []
    outcome = KubernetesDeployer(spec, base_dir=tmp_path, environ=dict(os.environ)).deploy(
        request, lines.append
    )
    assert outcome.succeeded, (outcome, lines)
    assert 'deployment "pause" successfully rolled out' in lines
    deployed = json.loads(_kubectl("get", "deployment/pause", "-n", namespace, "-o", "json"))
    assert deployed["spec"]["template"]["spec"]["containers"][0]["image"] == IMAGE_B
    assert deployed["metadata"]["annotations"]["relgate.dev/deployment"] == "1.1"
