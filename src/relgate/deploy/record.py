"""The ``record`` deployer: nothing is deployed, the deployment is only recorded.

An environment relgate tracks without deploying to it (another tool does)
says ``deployer: {type: record}``; a deployment there succeeds at once and its
log says that nothing was deployed, so a record-only production is never
mistaken for a deployed one.
"""

from __future__ import annotations

import threading

from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome

RECORDED = "recorded only (deployer: record): nothing was deployed"


class RecordDeployer:
    """A Deployer that deploys nothing and succeeds, saying so in the log."""

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Log that ``request`` is recorded only; succeed (unless already cancelled)."""
        if cancel is not None and cancel.is_set():
            return StepOutcome(False, "cancelled")
        log(f"recorded only: {request.service}@{request.version} in {request.environment}")
        return StepOutcome(True, RECORDED, 0)
