"""Custom resources in the FAKE Kubernetes API server (fake_kube_api.py): a generic store.

Enough for the kubernetes router: a test adds objects of a custom resource (a
Gateway API ``HTTPRoute``); the fake then lists the group in ``/apis`` and its
resources in ``/apis/GROUP/VERSION`` (the legacy discovery kubectl falls back
to), answers GET of one object, and takes a JSON merge PATCH with the
``metadata.resourceVersion`` precondition (409 Conflict when stale) as the
real server does for custom resources (no strategic merge for them: 415).
A changed spec bumps ``metadata.generation``; the status is left as it was,
as no controller runs here (a test sets it).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.support.fake_kube_wire import merge, status_object


@dataclass(frozen=True)
class CustomResource:
    group: str
    version: str
    plural: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}"


HTTPROUTE = CustomResource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")


class CustomObjects:
    """Objects of custom resources by (group, plural, namespace, name); the caller holds a lock."""

    def __init__(self, next_rv: Callable[[], str]) -> None:
        self._next_rv = next_rv
        self.resources: dict[tuple[str, str], CustomResource] = {}
        self.objects: dict[tuple[str, str, str, str], dict[str, Any]] = {}
        self._before_patch: list[Callable[[], None]] = []

    def add(self, resource: CustomResource, obj: dict[str, Any]) -> None:
        self.resources[(resource.group, resource.version)] = resource
        meta = obj.setdefault("metadata", {})
        obj["apiVersion"] = resource.api_version
        obj["kind"] = resource.kind
        meta.setdefault("namespace", "production")
        meta.setdefault("generation", 1)
        meta["resourceVersion"] = self._next_rv()
        self.objects[(resource.group, resource.plural, meta["namespace"], meta["name"])] = obj

    def get_object(self, resource: CustomResource, name: str, namespace: str) -> dict[str, Any]:
        return copy.deepcopy(self.objects[(resource.group, resource.plural, namespace, name)])

    def write_between(self, resource: CustomResource, name: str, namespace: str) -> None:
        """Before the next PATCH, write the object as someone else would (new resourceVersion)."""

        def write() -> None:
            obj = self.objects[(resource.group, resource.plural, namespace, name)]
            obj["metadata"]["resourceVersion"] = self._next_rv()

        self._before_patch.append(write)

    # ------------------------------------------------------------------ discovery

    def groups(self) -> list[dict[str, Any]]:
        """The APIGroup entries ``/apis`` adds for the custom resources."""
        versions: dict[str, list[str]] = {}
        for group, version in self.resources:
            versions.setdefault(group, []).append(version)
        return [
            {
                "name": group,
                "versions": [{"groupVersion": f"{group}/{v}", "version": v} for v in found],
                "preferredVersion": {"groupVersion": f"{group}/{found[0]}", "version": found[0]},
            }
            for group, found in versions.items()
        ]

    def resource_list(self, parts: list[str]) -> dict[str, Any] | None:
        """``/apis/GROUP/VERSION``: its APIResourceList, or None when it is not a custom group."""
        if len(parts) != 3 or parts[0] != "apis":
            return None
        resource = self.resources.get((parts[1], parts[2]))
        if resource is None:
            return None
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": resource.api_version,
            "resources": [
                {
                    "name": resource.plural,
                    "singularName": resource.kind.lower(),
                    "namespaced": True,
                    "kind": resource.kind,
                    "verbs": ["get", "list", "watch", "patch", "update"],
                }
            ],
        }

    # ------------------------------------------------------------------ objects

    def _key(self, parts: list[str]) -> tuple[str, str, str, str] | None:
        # apis/{group}/{version}/namespaces/{namespace}/{plural}/{name}
        if (
            len(parts) == 7
            and parts[0] == "apis"
            and parts[3] == "namespaces"
            and (parts[1], parts[2]) in self.resources
        ):
            return parts[1], parts[5], parts[4], parts[6]
        return None

    def get(self, parts: list[str]) -> tuple[int, dict[str, Any]] | None:
        """Answer a GET of one object, or None when the path is not a custom object's."""
        key = self._key(parts)
        if key is None:
            return None
        obj = self.objects.get(key)
        if obj is None:
            return 404, status_object(404, "NotFound", f'{key[1]}.{key[0]} "{key[3]}" not found')
        return 200, copy.deepcopy(obj)

    def patch(
        self, parts: list[str], patch: Any, content_type: str
    ) -> tuple[int, dict[str, Any]] | None:
        """Apply a JSON merge patch, or None when the path is not a custom object's."""
        key = self._key(parts)
        if key is None:
            return None
        if content_type != "application/merge-patch+json":
            return 415, status_object(
                415,
                "UnsupportedMediaType",
                f"the body of the request was in an unknown format: {content_type}",
            )
        for write in self._before_patch:
            write()
        self._before_patch.clear()
        obj = self.objects.get(key)
        if obj is None:
            return 404, status_object(404, "NotFound", f'{key[1]}.{key[0]} "{key[3]}" not found')
        wanted = (
            (patch.get("metadata") or {}).get("resourceVersion")
            if isinstance(patch, dict)
            else None
        )
        if wanted is not None and wanted != obj["metadata"]["resourceVersion"]:
            return 409, status_object(
                409,
                "Conflict",
                f'Operation cannot be fulfilled on {key[1]}.{key[0]} "{key[3]}": the object has '
                "been modified; please apply your changes to the latest version and try again",
            )
        merged = merge(obj, patch, strategic=False)
        merged["metadata"]["resourceVersion"] = self._next_rv()
        if merged.get("spec") != obj.get("spec"):
            merged["metadata"]["generation"] = obj["metadata"]["generation"] + 1
        self.objects[key] = merged
        return 200, copy.deepcopy(merged)
