"""Scripted deployers and verifiers for tests of the deployment state machine.

They record every request and answer with the outcomes they were given. A test
that runs a server or a worker adds them to its registry with :func:`register`
(pipelines then say ``deployer: {type: fake, name: NAME}``); bootstrap never
registers them, so a real server refuses ``type: fake`` when it deploys.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from relgate.deploy.ports import DeployRequest, LogSink, StepOutcome

if TYPE_CHECKING:
    from relgate.deploy.factory import DeployerRegistry

DEPLOYED = StepOutcome(True, "fake deploy succeeded", 0)
VERIFIED = StepOutcome(True, "fake verification succeeded")

Script = Iterable[StepOutcome] | Callable[[DeployRequest], StepOutcome]


class _Scripted:
    def __init__(
        self,
        outcomes: Script,
        *,
        default: StepOutcome,
        log_lines: Sequence[str],
        hold: threading.Event | None,
    ) -> None:
        self._lock = threading.Lock()
        self._decide: Callable[[DeployRequest], StepOutcome] | None = None
        self._queue: deque[StepOutcome] = deque()
        if callable(outcomes):
            self._decide = outcomes
        else:
            self._queue.extend(outcomes)
        self._default = default
        self._log_lines = tuple(log_lines)
        self._hold = hold
        self._requests: list[DeployRequest] = []

    @property
    def requests(self) -> list[DeployRequest]:
        """Every request received so far, oldest first (a copy)."""
        with self._lock:
            return list(self._requests)

    def _run(
        self, request: DeployRequest, log: LogSink, cancel: threading.Event | None
    ) -> StepOutcome:
        with self._lock:
            self._requests.append(request)
            if self._decide is not None:
                outcome = self._decide(request)
            elif self._queue:
                outcome = self._queue.popleft()
            else:
                outcome = self._default
        for line in self._log_lines:
            log(line)
        if self._hold is not None:
            # wait for the test to release the step, or for a cancel
            while not self._hold.wait(0.01):
                if cancel is not None and cancel.is_set():
                    return StepOutcome(False, "cancelled")
        if cancel is not None and cancel.is_set():
            return StepOutcome(False, "cancelled")
        return outcome


class FakeDeployer(_Scripted):
    """A Deployer that answers with scripted outcomes and records requests.

    ``outcomes`` is a sequence consumed one per call (then ``default``), or a
    function of the request. ``log_lines`` are logged on every call. With
    ``hold``, each call waits until the event is set (or its cancel is).
    """

    def __init__(
        self,
        outcomes: Script = (),
        *,
        default: StepOutcome = DEPLOYED,
        log_lines: Sequence[str] = (),
        hold: threading.Event | None = None,
    ) -> None:
        super().__init__(outcomes, default=default, log_lines=log_lines, hold=hold)

    def deploy(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Record ``request``; return the next scripted outcome (``cancelled`` when cancelled)."""
        return self._run(request, log, cancel)


class FakeVerifier(_Scripted):
    """A Verifier that answers with scripted outcomes and records requests (see FakeDeployer)."""

    def __init__(
        self,
        outcomes: Script = (),
        *,
        default: StepOutcome = VERIFIED,
        log_lines: Sequence[str] = (),
        hold: threading.Event | None = None,
    ) -> None:
        super().__init__(outcomes, default=default, log_lines=log_lines, hold=hold)

    def verify(
        self, request: DeployRequest, log: LogSink, *, cancel: threading.Event | None = None
    ) -> StepOutcome:
        """Record ``request``; return the next scripted outcome (``cancelled`` when cancelled)."""
        return self._run(request, log, cancel)


def register(registry: DeployerRegistry, deployers: dict[str, FakeDeployer]) -> None:
    """Offer ``type: fake`` in ``registry``: ``name`` picks one of ``deployers``."""
    from relgate.deploy.config import FakeDeployerSpec

    def build(spec: object, _context: object) -> FakeDeployer:
        if not isinstance(spec, FakeDeployerSpec):
            raise TypeError(f"expected a FakeDeployerSpec, got {type(spec).__name__}")
        if spec.name not in deployers:
            raise KeyError(f"no fake deployer named {spec.name!r} was registered")
        return deployers[spec.name]

    registry.add_deployer("fake", build)
