"""The Argo CD health check of the gitops deployer: synced at the pushed commit, and healthy.

Argo CD's REST API (``GET /api/v1/applications/{name}``, a bearer token)
reports an application's sync status and the revision it synced to, its
health, and the last sync operation. The deployment is live when the sync
status is ``Synced`` *at the commit relgate pushed* (an application still
synced at the previous commit says nothing about the new image) and its
health is ``Healthy``. ``Degraded`` at that commit, or a failed sync of it,
fails at once; anything else is waited for until the timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from relgate.deploy.config import ArgoCdHealthSpec
from relgate.deploy.ports import LogSink, StepOutcome, pause
from relgate.deploy.verify import redact

MAX_BODY_BYTES = 4 * 1024 * 1024


class ArgoCdHealth:
    """Polls one Argo CD application until it runs ``revision`` healthily."""

    def __init__(self, spec: ArgoCdHealthSpec, environ: Mapping[str, str]) -> None:
        self._spec = spec
        self._environ = environ

    def wait(
        self, revision: str, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Wait for the application to be Synced at ``revision`` and Healthy.

        Returns a failed outcome naming the application when it is Degraded at
        ``revision``, its sync of ``revision`` failed, the token is missing or
        refused, the application does not exist, or ``timeout_seconds`` pass
        first; ``cancelled`` when ``cancel`` is set. Never raises.
        """
        spec = self._spec
        token = self._environ.get(spec.token_env)
        if not token:
            return StepOutcome(
                False,
                f"argocd: the server's variable {spec.token_env} (the Argo CD token) is not set "
                "where relgate runs",
            )
        url = f"{spec.url}/api/v1/applications/{quote(spec.application, safe='')}"
        shown = redact(url)
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        deadline = time.monotonic() + spec.timeout_seconds
        last = "gave no answer"
        first = True
        with httpx.Client(follow_redirects=False, headers=headers) as client:
            while True:
                if cancel is not None and cancel.is_set():
                    return StepOutcome(False, "cancelled")
                remaining = deadline - time.monotonic()
                timeout = max(min(spec.request_timeout_seconds, remaining), 0.001)
                # the first poll asks Argo CD to look at the repository now, not in 3 minutes
                params = {"refresh": "normal"} if first else {}
                first = False
                verdict, last = self._poll(client, url, params, timeout, revision)
                log(f"argocd {spec.application}: {last}")
                if verdict is not None:
                    return verdict
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if pause(min(spec.interval_seconds, remaining), cancel):
                    return StepOutcome(False, "cancelled")
                if deadline - time.monotonic() <= 0:
                    break
        return StepOutcome(
            False,
            f"argocd application {spec.application} ({shown}) not synced at {revision[:12]} "
            f"and healthy within {spec.timeout_seconds:g} s: {last}",
        )

    def _poll(
        self,
        client: httpx.Client,
        url: str,
        params: dict[str, str],
        timeout: float,
        revision: str,
    ) -> tuple[StepOutcome | None, str]:
        """One GET; return (a final outcome or None to go on waiting, what it said in words)."""
        name = self._spec.application
        try:
            with client.stream("GET", url, params=params, timeout=timeout) as response:
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > MAX_BODY_BYTES:
                        return None, f"answered more than {MAX_BODY_BYTES // 1024} KiB"
        except httpx.TimeoutException:
            return None, f"gave no answer within {self._spec.request_timeout_seconds:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return None, f"could not be reached ({exc or type(exc).__name__})"
        status = response.status_code
        if status in (401, 403):
            return StepOutcome(
                False,
                f"argocd refused the token in {self._spec.token_env} ({status}): it needs "
                f"`applications, get` on {name}",
            ), f"answered {status}"
        if status == 404:
            return StepOutcome(
                False, f"argocd has no application {name!r} (404)"
            ), f"answered {status}"
        if status != 200:
            return None, f"answered {status}"
        try:
            app = json.loads(bytes(body))
        except ValueError:
            return None, "answered 200 with a body that is not JSON"
        return _judge(app if isinstance(app, dict) else {}, revision, name)


def _get(data: Any, *keys: str) -> Any:
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def _at(revision: str, synced: Any) -> bool:
    """Whether Argo CD's revision (or one of a multi-source app's revisions) is ``revision``."""
    candidates = synced if isinstance(synced, list) else [synced]
    return any(isinstance(item, str) and item and item == revision for item in candidates)


def _judge(app: dict[str, Any], revision: str, name: str) -> tuple[StepOutcome | None, str]:
    sync_status = _get(app, "status", "sync", "status") or "Unknown"
    synced_revision = _get(app, "status", "sync", "revision") or _get(
        app, "status", "sync", "revisions"
    )
    health = _get(app, "status", "health", "status") or "Unknown"
    health_message = _get(app, "status", "health", "message")
    phase = _get(app, "status", "operationState", "phase")
    operation_revision = _get(app, "status", "operationState", "syncResult", "revision")
    at_revision = _at(revision, synced_revision)
    shown_revision = (
        synced_revision[:12] if isinstance(synced_revision, str) and synced_revision else "?"
    )
    said = f"sync {sync_status} at {shown_revision}, health {health}"
    if phase:
        said += f", last operation {phase}"
    short = revision[:12]
    if at_revision and sync_status == "Synced" and health == "Healthy":
        return StepOutcome(True, f"argocd application {name} synced at {short} and healthy"), said
    if at_revision and health == "Degraded":
        detail = f": {health_message}" if isinstance(health_message, str) and health_message else ""
        return StepOutcome(False, f"argocd application {name} is Degraded at {short}{detail}"), said
    if phase in ("Failed", "Error") and _at(revision, operation_revision):
        message = _get(app, "status", "operationState", "message")
        detail = f": {message}" if isinstance(message, str) and message else ""
        return StepOutcome(False, f"argocd sync of {name} to {short} {phase.lower()}{detail}"), said
    return None, said
