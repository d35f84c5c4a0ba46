"""A FAKE Kubernetes API server for the kubernetes deployer's wire-contract tests.

No real API server can run on this machine, so the tests start this fake on
127.0.0.1 (plain http, which kubectl accepts from a kubeconfig) and drive the
real ``kubectl`` against it. It is a fake, not a cluster: it serves only what
``kubectl get``, ``kubectl patch`` and the deployer need —

- discovery: ``/version``, ``/api``, ``/apis``, ``/api/v1``, ``/apis/apps/v1``
  (the legacy documents: kubectl falls back to them when the answer is plain JSON);
- GET of deployments, statefulsets, daemonsets and pods (a pod list filtered by
  ``labelSelector``, equality and ``in`` terms); a list and a watch of workloads by
  ``metadata.name`` (what ``kubectl rollout status`` asks for);
- PATCH of a workload in strategic-merge (containers merged by ``name``) or
  JSON-merge form, with the ``metadata.resourceVersion`` precondition answered
  by a 409 Conflict ``Status`` as the real server answers it;
- a simulated controller that advances a rollout by one step each time the
  workload is read (never by the clock, so tests do not depend on timing),
  behaving as one of: ``rollout`` (succeeds), ``stuck`` (ends with the
  Progressing condition's ``ProgressDeadlineExceeded``), ``crashloop`` (the new
  pod's container waits in ``CrashLoopBackOff``).

Custom resources (a Gateway API HTTPRoute) are held by fake_kube_custom.py:
``add_custom`` adds one; GET and JSON-merge PATCH of it are served.

Every request is recorded (method, path, query, content type, body) so a test
can assert what went over the wire.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.fake_kube_custom import CustomObjects, CustomResource
from tests.support.fake_kube_wire import (
    API_V1,
    APPS_V1,
    RESOURCES,
    merge,
    selected,
    status_object,
)

Behaviour = str  # "rollout" | "stuck" | "crashloop"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    content_type: str
    body: Any


@dataclass
class _Workload:
    obj: dict[str, Any]
    behaviour: Behaviour
    old_containers: list[dict[str, Any]]
    new_containers: list[dict[str, Any]] = field(default_factory=list)
    new_image: str | None = None
    step: int = 0
    stuck_polls: int = 2
    pods: list[dict[str, Any]] = field(default_factory=list)


class FakeKubeApi:
    """A fake API server holding workloads in memory; ``start()`` serves it on 127.0.0.1."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._workloads: dict[tuple[str, str, str], _Workload] = {}
        self._rv = 100
        self.requests: list[Recorded] = []
        self._before_patch: list[Callable[[], None]] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.custom = CustomObjects(self._next_rv)

    # ------------------------------------------------------------------ set-up by tests

    def add_custom(self, resource: CustomResource, obj: dict[str, Any]) -> None:
        """Add an object of a custom resource (its apiVersion, kind, resourceVersion set)."""
        with self._lock:
            self.custom.add(resource, obj)

    def add_workload(
        self,
        name: str,
        *,
        namespace: str = "production",
        kind: str = "Deployment",
        containers: dict[str, str] | None = None,
        replicas: int = 3,
        behaviour: Behaviour = "rollout",
        annotations: dict[str, str] | None = None,
    ) -> None:
        """Add a workload whose rollout of the current image is complete."""
        containers = containers or {name: f"registry.example/{name}@sha256:{'0' * 64}"}
        labels = {"app": name}
        spec: dict[str, Any] = {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": n, "image": i} for n, i in containers.items()]},
            },
        }
        status: dict[str, Any] = {"observedGeneration": 1}
        if kind == "DaemonSet":
            spec["updateStrategy"] = {"type": "RollingUpdate"}
            status.update(
                desiredNumberScheduled=replicas,
                currentNumberScheduled=replicas,
                updatedNumberScheduled=replicas,
                numberAvailable=replicas,
                numberReady=replicas,
            )
        else:
            spec["replicas"] = replicas
            status.update(
                replicas=replicas,
                updatedReplicas=replicas,
                readyReplicas=replicas,
                availableReplicas=replicas,
            )
            if kind == "StatefulSet":
                spec["updateStrategy"] = {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"partition": 0},
                }
                status.update(
                    currentReplicas=replicas,
                    currentRevision=f"{name}-1",
                    updateRevision=f"{name}-1",
                )
            else:
                status["conditions"] = [
                    {
                        "type": "Progressing",
                        "status": "True",
                        "reason": "NewReplicaSetAvailable",
                    },
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                ]
        with self._lock:
            obj = {
                "apiVersion": "apps/v1",
                "kind": kind,
                "metadata": {
                    "name": name,
                    "namespace": namespace,
                    "uid": f"uid-{name}",
                    "generation": 1,
                    "resourceVersion": self._next_rv(),
                    "labels": dict(labels),
                    "annotations": dict(annotations or {}),
                },
                "spec": spec,
                "status": status,
            }
            workload = _Workload(
                obj, behaviour, old_containers=copy.deepcopy(spec["template"]["spec"]["containers"])
            )
            self._workloads[(namespace, kind, name)] = workload
            workload.pods = [self._pod(workload, i, new=False, ready=True) for i in range(replicas)]

    def workload(
        self, name: str, *, namespace: str = "production", kind: str = "Deployment"
    ) -> dict[str, Any]:
        """A copy of the workload as the fake holds it now."""
        with self._lock:
            return copy.deepcopy(self._workloads[(namespace, kind, name)].obj)

    def write_between(
        self,
        name: str,
        *,
        annotations: dict[str, str],
        namespace: str = "production",
        kind: str = "Deployment",
    ) -> None:
        """Before the next PATCH, write the workload as someone else would (new resourceVersion)."""

        def write() -> None:
            workload = self._workloads[(namespace, kind, name)]
            workload.obj["metadata"]["annotations"].update(annotations)
            workload.obj["metadata"]["resourceVersion"] = self._next_rv()

        self._before_patch.append(write)

    def stall(self, name: str, *, namespace: str = "production", kind: str = "Deployment") -> None:
        """Make a ``stuck`` rollout stay stuck without ever passing its progress deadline."""
        with self._lock:
            self._workloads[(namespace, kind, name)].stuck_polls = 10**9

    def patches(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "PATCH"]

    # ------------------------------------------------------------------ serving

    def start(self) -> str:
        """Serve on a free port of 127.0.0.1; return the server's address."""
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self.url

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(
        self, path: Path, *, context: str = "fake", namespace: str | None = None
    ) -> Path:
        """Write a kubeconfig whose context ``context`` points at this fake (no credentials)."""
        ctx: dict[str, Any] = {"cluster": "fake", "user": "fake"}
        if namespace:
            ctx["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {}}],
            "contexts": [{"name": context, "context": ctx}],
            "current-context": context,
        }
        path.write_text(json.dumps(config))
        return path

    # ------------------------------------------------------------------ the simulated cluster

    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def _pod(
        self, workload: _Workload, index: int, *, new: bool, ready: bool, crash: bool = False
    ) -> dict[str, Any]:
        """A pod of the workload's old or new template (its containers, their images)."""
        meta = workload.obj["metadata"]
        containers = workload.new_containers if new else workload.old_containers
        statuses = []
        for container in containers:
            state: dict[str, Any] = {"running": {"startedAt": "2026-01-01T00:00:00Z"}}
            if crash:
                state = {
                    "waiting": {
                        "reason": "CrashLoopBackOff",
                        "message": f"back-off 40s restarting failed container={container['name']}",
                    }
                }
            statuses.append(
                {
                    "name": container["name"],
                    "image": container["image"],
                    "ready": ready,
                    "restartCount": 4 if crash else 0,
                    "state": state,
                }
            )
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": f"{meta['name']}-{'new' if new else 'old'}-{index}",
                "namespace": meta["namespace"],
                "labels": dict(workload.obj["spec"]["template"]["metadata"]["labels"]),
            },
            "spec": {"containers": copy.deepcopy(containers)},
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                "containerStatuses": statuses,
            },
        }

    def _advance(self, workload: _Workload) -> None:
        """One step of the simulated controller, taken each time the workload is read."""
        obj = workload.obj
        meta, spec, status = obj["metadata"], obj["spec"], obj["status"]
        if workload.new_image is None or (
            status.get("observedGeneration") == meta["generation"] and self._complete(workload)
        ):
            return
        workload.step += 1
        kind = obj["kind"]
        desired = (
            spec.get("replicas", 1) if kind != "DaemonSet" else status["desiredNumberScheduled"]
        )
        if workload.step == 1:
            return  # the first read after the write: the spec update is not observed yet
        status["observedGeneration"] = meta["generation"]
        if workload.behaviour == "rollout":
            updated = min(desired, workload.step - 1)
            available = max(0, min(desired, workload.step - 2))  # one step behind
        else:
            updated, available = 1, 0
        new_pods = [
            self._pod(
                workload,
                i,
                new=True,
                ready=i < available,
                crash=workload.behaviour == "crashloop",
            )
            for i in range(updated)
        ]
        old_count = desired - updated
        workload.pods = [
            self._pod(workload, i, new=False, ready=True) for i in range(old_count)
        ] + new_pods
        if kind == "Deployment":
            status.update(
                replicas=updated + old_count,
                updatedReplicas=updated,
                readyReplicas=available + old_count,
                availableReplicas=available + old_count,
            )
            if workload.behaviour == "stuck" and workload.step - 1 > workload.stuck_polls:
                status["conditions"] = [
                    {
                        "type": "Progressing",
                        "status": "False",
                        "reason": "ProgressDeadlineExceeded",
                        "message": f'ReplicaSet "{meta["name"]}-new" has timed out progressing.',
                    }
                ]
            elif available == desired:
                status["conditions"] = [
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                ]
        elif kind == "StatefulSet":
            status.update(
                replicas=desired,
                updatedReplicas=updated,
                readyReplicas=available + old_count,
                availableReplicas=available + old_count,
            )
            if available == desired:
                status.update(currentReplicas=desired, currentRevision=status["updateRevision"])
        else:
            status.update(
                updatedNumberScheduled=updated,
                numberAvailable=available + old_count,
                numberReady=available + old_count,
            )

    @staticmethod
    def _complete(workload: _Workload) -> bool:
        status = workload.obj["status"]
        if workload.obj["kind"] == "DaemonSet":
            return bool(
                status.get("numberAvailable")
                == status.get("desiredNumberScheduled")
                == status.get("updatedNumberScheduled")
            )
        replicas = workload.obj["spec"].get("replicas", 1)
        return bool(
            status.get("updatedReplicas") == replicas
            and status.get("availableReplicas") == replicas
            and status.get("replicas") == replicas
        )

    def _patch(
        self, key: tuple[str, str, str], patch: dict[str, Any], strategic: bool
    ) -> tuple[int, dict[str, Any]]:
        for write in self._before_patch:
            write()
        self._before_patch.clear()
        workload = self._workloads[key]
        obj = workload.obj
        wanted_rv = (patch.get("metadata") or {}).get("resourceVersion")
        if wanted_rv is not None and wanted_rv != obj["metadata"]["resourceVersion"]:
            resource = {v: k for k, v in RESOURCES.items()}[key[1]]
            return 409, status_object(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {resource}.apps "{key[2]}": the object has been '
                "modified; please apply your changes to the latest version and try again",
            )
        before_spec = copy.deepcopy(obj["spec"])
        merged = merge(obj, patch, strategic=strategic)
        merged["metadata"]["resourceVersion"] = self._next_rv()
        if merged["spec"] != before_spec:
            merged["metadata"]["generation"] += 1
            containers = merged["spec"]["template"]["spec"]["containers"]
            if workload.new_containers:
                # a second rollout: what ran new is now the old template
                workload.old_containers = workload.new_containers
            workload.new_containers = copy.deepcopy(containers)
            workload.new_image = "set"
            workload.step = 0
            if merged["kind"] == "StatefulSet":
                merged["status"]["updateRevision"] = f"{key[2]}-{merged['metadata']['generation']}"
        workload.obj = merged
        return 200, copy.deepcopy(merged)


class _Handler(BaseHTTPRequestHandler):
    api: FakeKubeApi
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the requests are recorded instead

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _record(self, body: Any = None) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        with self.api._lock:
            self.api.requests.append(
                Recorded(
                    self.command, parts.path, query, self.headers.get("Content-Type", ""), body
                )
            )
        return parts.path, query

    def do_GET(self) -> None:
        path, query = self._record()
        api = self.api
        if path == "/version":
            self._send(200, {"major": "1", "minor": "37", "gitVersion": "v1.37.0-fake"})
        elif path == "/api":
            self._send(
                200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}
            )
        elif path == "/apis":
            version = {"groupVersion": "apps/v1", "version": "v1"}
            self._send(
                200,
                {
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": [
                        {"name": "apps", "versions": [version], "preferredVersion": version},
                        *api.custom.groups(),
                    ],
                },
            )
        elif path == "/api/v1":
            self._send(200, API_V1)
        elif path == "/apis/apps/v1":
            self._send(200, APPS_V1)
        else:
            parts = path.strip("/").split("/")
            with api._lock:
                custom = api.custom.resource_list(parts) or api.custom.get(parts)
            if isinstance(custom, tuple):
                self._send(*custom)
                return
            if custom is not None:
                self._send(200, custom)
                return
            # /api/v1/namespaces/{ns}/pods
            if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
                selector = (query.get("labelSelector") or [""])[0]
                with api._lock:
                    pods = [
                        copy.deepcopy(pod)
                        for (ns, _, _), w in api._workloads.items()
                        if ns == parts[3]
                        for pod in w.pods
                        if selected(pod["metadata"]["labels"], selector)
                    ]
                self._send(
                    200,
                    {
                        "kind": "PodList",
                        "apiVersion": "v1",
                        "metadata": {"resourceVersion": str(api._rv)},
                        "items": pods,
                    },
                )
                return
            # /api/v1/namespaces/{ns}: kubectl asks after a 404, to tell which is missing
            if len(parts) == 4 and parts[:3] == ["api", "v1", "namespaces"]:
                with api._lock:
                    known = any(ns == parts[3] for ns, _, _ in api._workloads) or any(
                        ns == parts[3] for _, _, ns, _ in api.custom.objects
                    )
                if known:
                    self._send(
                        200,
                        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": parts[3]}},
                    )
                else:
                    self._send(
                        404, status_object(404, "NotFound", f'namespaces "{parts[3]}" not found')
                    )
                return
            # /apis/apps/v1/namespaces/{ns}/{resource}?fieldSelector=metadata.name=N[&watch=1]
            if (
                len(parts) == 6
                and parts[:4] == ["apis", "apps", "v1", "namespaces"]
                and parts[5] in RESOURCES
            ):
                self._list_or_watch(parts[4], parts[5], query)
                return
            # /apis/apps/v1/namespaces/{ns}/{resource}/{name}
            key = self._workload_key(parts)
            if key is None:
                self._send(
                    404,
                    status_object(
                        404,
                        "NotFound",
                        f"the server could not find the requested resource ({path})",
                    ),
                )
                return
            with api._lock:
                workload = api._workloads.get(key)
                if workload is not None:
                    api._advance(workload)
                    obj = copy.deepcopy(workload.obj)
            if workload is None:
                self._not_found(parts)
            else:
                self._send(200, obj)

    def _list_or_watch(self, namespace: str, resource: str, query: dict[str, list[str]]) -> None:
        """A list of workloads by ``metadata.name``, or a watch (``kubectl rollout status``).

        A streaming list starts with ADDED events and the initial-events-end bookmark;
        then a watch streams one MODIFIED event each time the simulated controller
        moves the rollout on (a step every 50 ms while it is watched), and ends
        after ``timeoutSeconds`` (default 30) or when the client goes away.
        """
        api, kind = self.api, RESOURCES[resource]
        selector = (query.get("fieldSelector") or [""])[0]
        name = selector.removeprefix("metadata.name=") if selector else None

        def matching() -> list[dict[str, Any]]:
            return [
                copy.deepcopy(w.obj)
                for (ns, k, n), w in api._workloads.items()
                if ns == namespace and k == kind and (name is None or n == name)
            ]

        if (query.get("watch") or [""])[0] not in ("1", "true"):
            with api._lock:
                items = matching()
            self._send(
                200,
                {
                    "kind": f"{kind}List",
                    "apiVersion": "apps/v1",
                    "metadata": {"resourceVersion": str(api._rv)},
                    "items": items,
                },
            )
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        deadline = time.monotonic() + float((query.get("timeoutSeconds") or ["30"])[0])
        last: dict[str, Any] | None = None

        def event(kind_of_event: str, obj: dict[str, Any]) -> None:
            line = json.dumps({"type": kind_of_event, "object": obj}).encode() + b"\n"
            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        try:
            if (query.get("sendInitialEvents") or [""])[0] == "true":
                # a streaming list (kubectl 1.3x): the objects as ADDED, then the bookmark
                # that says the initial events are over
                with api._lock:
                    initial, version = matching(), str(api._rv)
                for obj in initial:
                    event("ADDED", obj)
                    last = obj
                bookmark_meta = {
                    "resourceVersion": version,
                    "annotations": {"k8s.io/initial-events-end": "true"},
                }
                event(
                    "BOOKMARK",
                    {"kind": kind, "apiVersion": "apps/v1", "metadata": bookmark_meta},
                )
            while time.monotonic() < deadline:
                with api._lock:
                    workload = api._workloads.get((namespace, kind, name or ""))
                    if workload is not None:
                        api._advance(workload)
                        obj = copy.deepcopy(workload.obj)
                if workload is not None and obj != last:
                    event("MODIFIED", obj)
                    last = obj
                time.sleep(0.05)
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client has seen what it waited for

    def do_PATCH(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        try:
            patch = json.loads(raw)
        except ValueError:
            self._record(raw.decode(errors="replace"))
            self._send(400, status_object(400, "BadRequest", "the patch is not JSON"))
            return
        path, _ = self._record(patch)
        content_type = self.headers.get("Content-Type", "")
        with self.api._lock:
            custom = self.api.custom.patch(path.strip("/").split("/"), patch, content_type)
        if custom is not None:
            self._send(*custom)
            return
        key = self._workload_key(path.strip("/").split("/"))
        if key is None:
            self._send(
                405, status_object(405, "MethodNotAllowed", "the fake patches workloads only")
            )
            return
        if content_type not in (
            "application/strategic-merge-patch+json",
            "application/merge-patch+json",
        ):
            self._send(
                415,
                status_object(
                    415, "UnsupportedMediaType", f"the fake does not take {content_type}"
                ),
            )
            return
        with self.api._lock:
            if key not in self.api._workloads:
                workload_missing = True
            else:
                workload_missing = False
                code, body = self.api._patch(
                    key, patch, strategic=content_type == "application/strategic-merge-patch+json"
                )
        if workload_missing:
            self._not_found(path.strip("/").split("/"))
        else:
            self._send(code, body)

    def _not_found(self, parts: list[str]) -> None:
        self._send(404, status_object(404, "NotFound", f'{parts[5]}.apps "{parts[6]}" not found'))

    @staticmethod
    def _workload_key(parts: list[str]) -> tuple[str, str, str] | None:
        # apis/apps/v1/namespaces/{namespace}/{resource}/{name}
        if (
            len(parts) == 7
            and parts[:4] == ["apis", "apps", "v1", "namespaces"]
            and parts[5] in RESOURCES
        ):
            return parts[4], RESOURCES[parts[5]], parts[6]
        return None
