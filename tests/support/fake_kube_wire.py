"""What the FAKE Kubernetes API server (fake_kube_api.py) answers with: pure helpers.

Status objects, the strategic-merge and JSON-merge patch as the fake applies
them, label-selector matching, and the legacy discovery documents kubectl reads.
"""

from __future__ import annotations

import copy
from typing import Any

RESOURCES = {"deployments": "Deployment", "statefulsets": "StatefulSet", "daemonsets": "DaemonSet"}


def status_object(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def merge(target: Any, patch: Any, *, strategic: bool) -> Any:
    """Merge ``patch`` into a copy of ``target`` (JSON merge; strategic: containers by name)."""
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif strategic and key == "containers" and isinstance(value, list):
            by_name = {c["name"]: c for c in out.get(key, [])}
            for item in value:
                name = item.get("name")
                by_name[name] = merge(by_name.get(name, {}), item, strategic=True)
            out[key] = list(by_name.values())
        else:
            out[key] = merge(out.get(key), value, strategic=strategic)
    return out


def selected(labels: dict[str, str], selector: str) -> bool:
    """Whether ``labels`` match a label selector (equality, ``in`` and existence terms)."""
    for term in filter(None, _split_terms(selector)):
        if " in " in term:
            key, _, values = term.partition(" in ")
            if labels.get(key.strip()) not in {v.strip() for v in values.strip("() ").split(",")}:
                return False
        elif "!=" in term:
            key, _, value = term.partition("!=")
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, _, value = term.partition("=")
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    terms, depth, current = [], 0, ""
    for char in selector:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            terms.append(current.strip())
            current = ""
        else:
            current += char
    terms.append(current.strip())
    return terms


API_V1 = {
    "kind": "APIResourceList",
    "groupVersion": "v1",
    "resources": [
        {
            "name": "pods",
            "singularName": "pod",
            "namespaced": True,
            "kind": "Pod",
            "verbs": ["get", "list", "watch"],
            "shortNames": ["po"],
        },
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
            "verbs": ["get", "list"],
            "shortNames": ["ns"],
        },
    ],
}
APPS_V1 = {
    "kind": "APIResourceList",
    "apiVersion": "v1",
    "groupVersion": "apps/v1",
    "resources": [
        {
            "name": plural,
            "singularName": plural[:-1],
            "namespaced": True,
            "kind": kind,
            "verbs": ["get", "list", "watch", "patch", "update"],
            "shortNames": {
                "deployments": ["deploy"],
                "statefulsets": ["sts"],
                "daemonsets": ["ds"],
            }[plural],
        }
        for plural, kind in RESOURCES.items()
    ],
}
