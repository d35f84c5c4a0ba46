"""Workers: claim durable deployment jobs from the store and drive them to an end.

A job is claimed with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (SQLite's
writers are serialised by ``BEGIN IMMEDIATE``), so a job runs once even with
several ``relgate serve`` processes. While a job runs its worker refreshes the
job's heartbeat.

Reconciliation rule for interrupted work (a process killed mid-deployment):
a running job whose heartbeat is older than the lease (``RELGATE_JOB_LEASE_SECONDS``,
30 s by default) belongs to a dead worker. If its deployment was still
``requested`` the job is queued again. If it was ``deploying`` or
``verifying``, the deploy command is NOT run again (it may have half-run): the
deployment is marked ``failed`` with the reason "interrupted", the environment
is freed, and, where the environment says ``auto_rollback: true``, the stable
anchor is redeployed, exactly as for any other failure.

[procs] One deployment per environment, even when a server dies: such a
``deploying``/``verifying`` job is only reconciled once its heartbeat is older than
the lease *plus* the orphan grace (``RELGATE_ORPHAN_GRACE_SECONDS``, 30 s by
default, at least the longest ``kill_grace_seconds`` of a command). Until then the
environment stays held. The rule rests on the supervisor
(relgate.deploy.supervisor): when the server process is gone, its deploy or
verify command's whole process group gets SIGTERM at once and SIGKILL after
``kill_grace_seconds``, so by the end of lease + grace the orphan is gone and the
next deployment cannot overlap it. Writes of a reconciled attempt are refused by
its fencing token (relgate.promotion.attempts: ``holds``).

[procs] Shutdown (``stop``): no new job is claimed; running deployments get the
shutdown grace (``RELGATE_SHUTDOWN_GRACE_SECONDS``) to finish, then their cancel
event is set: the deployer stops its command and the deployment is recorded
failed with "cancelled: relgate shut down", freeing the environment.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.clock import Clock
from relgate.deploy.config import (
    CommandVerifySpec,
    DeployerRef,
    DeployerSpec,
    FakeDeployerSpec,
    RecordDeployerSpec,
    VerifySpec,
)
from relgate.deploy.factory import BuildContext, DeployerRegistry, default_registry
from relgate.deploy.ports import DeployRequest, StableTagger, StepOutcome
from relgate.errors import Conflict, Forbidden, NotFound, RelgateError
from relgate.notify import outbox
from relgate.promotion import transitions
from relgate.promotion.attempts import (
    LIVE_STATES,
    REQUESTED_REASON,
    SHUTDOWN_REASON,
    Attempt,
    Heartbeat,
    RunningAttempts,
    attempt_folder,
    holds,
    requeue,
)
from relgate.promotion.deployers import DeployerService
from relgate.promotion.lifecycle import Deployment, FollowUp
from relgate.promotion.model import DeploymentKind, DeploymentState
from relgate.promotion.pipeline import EnvironmentSpec, PipelineSpec
from relgate.promotion.repository import SqlDeployments
from relgate.promotion.service import PromotionService
from relgate.store import queries
from relgate.store.tables import DeploymentRow, JobRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

log = logging.getLogger("relgate.worker")

MAX_LOG_CHARS = limits.DEPLOYMENT_LOG
ROBOT = Principal(name="relgate", role=Role.ADMIN)


class Worker:
    """Runs deployment jobs in ``threads`` threads until stopped."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        promotion: PromotionService,
        *,
        deployers: DeployerService | None = None,
        registry: DeployerRegistry | None = None,
        tagger: StableTagger | None = None,
        base_dir: Path,
        threads: int = 2,
        lease_seconds: float = 30.0,
        poll_seconds: float = 0.5,
        shutdown_grace_seconds: float = 5.0,
        orphan_grace_seconds: float = 30.0,
        workdir_root: Path | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._promotion = promotion
        self._deployers = deployers
        self._registry = registry or default_registry()
        self._tagger = tagger
        self._base_dir = base_dir
        self._threads_wanted = max(1, threads)
        self._lease = lease_seconds
        self._poll = poll_seconds
        self.worker_id = f"worker-{uuid.uuid4().hex[:12]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # [procs] running attempts (cancel events), shutdown and orphan graces
        self._running = RunningAttempts()
        self._shutdown_grace = max(0.0, shutdown_grace_seconds)
        self._orphan_grace = max(0.0, orphan_grace_seconds)
        self._workdir_root = workdir_root
        promotion.on_job_queued(self.wake)

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        for index in range(self._threads_wanted):
            thread = threading.Thread(
                target=self._loop, name=f"relgate-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop claiming jobs; give running ones the shutdown grace, then cancel them.

        [procs] A cancelled deployment is recorded failed ("cancelled: relgate shut
        down") and frees its environment before this returns; ``timeout`` bounds
        the wait for each thread after the cancel (the deployer's kill grace).
        """
        self._stop.set()
        self._wake.set()
        if not self._running.wait_until_none(self._shutdown_grace):
            count = self._running.cancel_all(SHUTDOWN_REASON)
            log.warning("shutting down: cancelling %d running deployment(s)", count)
            # a cancelled command gets SIGTERM, then SIGKILL after its kill grace
            self._running.wait_until_none(max(timeout, self._orphan_grace))
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        next_reconcile = 0.0
        import time

        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_reconcile:
                    self.reconcile()
                    next_reconcile = time.monotonic() + max(1.0, self._lease / 3)
                if self.run_once():
                    continue
            except Exception:  # a worker thread must survive any single failure
                log.exception("worker iteration failed")
            self._wake.wait(self._poll)
            self._wake.clear()

    # ------------------------------------------------------------------ claiming

    def claim(self) -> int | None:
        """Claim the oldest queued job; return its id, or None when there is none."""
        if self._stop.is_set():  # [procs] a stopping worker claims nothing more
            return None
        now = self._clock.now()
        with self._uow() as uow:
            job = uow.session.scalar(
                select(JobRow)
                .where(JobRow.state == "queued")
                .order_by(JobRow.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if job is None:
                return None
            job.state = "running"
            job.claimed_by = self.worker_id
            job.heartbeat_at = now
            job.attempt = (job.attempt or 0) + 1
            uow.commit()
            return job.id

    def run_once(self) -> bool:
        """Claim and run one job; return whether there was one."""
        job_id = self.claim()
        if job_id is None:
            return False
        self._run(job_id)
        return True

    # ------------------------------------------------------------------ running

    def _run(self, job_id: int) -> None:
        with self._uow() as uow:
            job = uow.session.get(JobRow, job_id)
            assert job is not None
            deployment_id = job.deployment_id
            attempt = job.attempt or 0
        if deployment_id is None:
            self._finish_job(job_id, "done")
            return
        # [procs] the attempt: its cancel event, fencing token and folder of its own
        running = Attempt(job_id, deployment_id, attempt, self.worker_id)
        self._running.add(running)
        try:
            with attempt_folder(running, self._workdir_root) as folder:
                self._run_attempt(running, folder)
        finally:
            self._running.remove(running)

    def _run_attempt(self, running: Attempt, folder: Path) -> None:
        """[procs] Run one attempt; every write after the start is fenced by ``running``."""
        job_id, deployment_id = running.job_id, running.deployment_id
        if running.cancel.is_set():  # claimed as the server shut down: leave it to another
            with self._uow() as uow:
                requeue(uow.session, running)
                uow.commit()
            return
        prepared = self._start_deployment(deployment_id, fence=running.fence)
        if prepared is None:
            self._finish_job(job_id, "done")
            return
        request, env_spec_data = prepared
        request = replace(request, workdir=folder)
        heartbeat = Heartbeat(
            running, pulse=self.pulse, append_log=self._append_log, lease_seconds=self._lease
        )
        heartbeat.start()
        try:
            outcome = self._deploy_and_verify(deployment_id, request, env_spec_data, heartbeat)
        except Exception as exc:  # a deployer bug must not leave the deployment stuck
            log.exception("deployment %s crashed", deployment_id)
            outcome = StepOutcome(False, f"relgate error while deploying: {exc}")
        finally:
            heartbeat.stop()
        if running.cancel.is_set() and not outcome.succeeded:
            outcome = StepOutcome(False, self._cancel_reason(running), outcome.exit_code)
        self._complete(deployment_id, outcome, fence=running)
        with self._uow() as uow:
            ours = holds(uow.session, running)
        if ours:
            self._finish_job(job_id, "done")

    def _cancel_reason(self, running: Attempt) -> str:
        """[procs] Why a cancelled attempt ended: shutdown, lost lease, or who cancelled it."""
        if running.cancel_reason != REQUESTED_REASON:
            return running.cancel_reason
        with self._uow() as uow:
            row = uow.session.get(DeploymentRow, running.deployment_id)
            asked = row.outcome if row is not None else None
        return asked or REQUESTED_REASON

    def pulse(self, running: Attempt) -> str | None:
        """[procs] Refresh the heartbeat of ``running``'s job; its state, None when not held."""
        with self._uow() as uow:
            result = uow.session.execute(
                update(JobRow)
                .where(
                    JobRow.id == running.job_id,
                    JobRow.state.in_(LIVE_STATES),
                    JobRow.attempt == running.attempt,
                    JobRow.claimed_by == running.worker_id,
                )
                .values(heartbeat_at=self._clock.now())
            )
            state = None
            if getattr(result, "rowcount", 0):
                state = uow.session.scalar(select(JobRow.state).where(JobRow.id == running.job_id))
            uow.commit()
            return state

    def _start_deployment(
        self, deployment_id: int, *, fence: str = ""
    ) -> tuple[DeployRequest, dict[str, object]] | None:
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            store = SqlDeployments(session)
            deployment = transitions.start(store, deployment_id, now)
            if deployment is None:
                return None
            row = store.row(deployment)
            previous = deployment.previous
            pipeline = queries.pipeline_revision(session, row.service_id, row.pipeline_revision)
            spec = PipelineSpec.model_validate(pipeline.spec)
            env_spec = spec.environment(row.environment)
            audit.append(
                uow,
                actor="relgate",
                action="deployment.deploying",
                subject=f"deployment/{row.id}",
                at=now,
                before={"version": previous.version if previous else None},
                after={
                    "version": deployment.release.version,
                    "artifact": deployment.release.artifact,
                },
            )
            outbox.append(session, store.events())
            uow.commit()
            request = DeployRequest(
                deployment_id=str(row.id),
                service=deployment.service,
                environment=row.environment,
                version=deployment.release.version,
                artifact=deployment.release.artifact,
                previous_artifact=previous.artifact if previous else None,
                reason=row.kind,
                fence=fence,
                previous_version=previous.version if previous else None,
            )
            return request, env_spec.model_dump() if env_spec else {}

    def _deploy_and_verify(
        self,
        deployment_id: int,
        request: DeployRequest,
        env_spec_data: dict[str, object],
        heartbeat: Heartbeat,
    ) -> StepOutcome:
        env_spec = EnvironmentSpec.model_validate(env_spec_data) if env_spec_data else None
        try:
            deployer_spec, verify_spec = self._resolve(env_spec)
        except RelgateError as exc:
            return StepOutcome(False, str(exc))
        deployer = self._registry.deployer(deployer_spec, self._context())
        if env_spec is not None and isinstance(env_spec.deployer, DeployerRef):
            heartbeat.line(f"deployer: the registered deployer {env_spec.deployer.ref!r}")
        heartbeat.line(f"deploying {request.artifact} to {request.environment}")
        deploy = deployer.deploy(request, heartbeat.line, cancel=heartbeat.cancel)
        if not deploy.succeeded:
            return deploy
        with self._uow() as uow:
            now = self._clock.now()
            # still deploying, unless the reconciler failed it meanwhile (then
            # _complete leaves it as it is)
            # [procs] ... and only while this attempt still holds the job (its fence)
            held = holds(uow.session, heartbeat.attempt)
            if held and transitions.verifying(SqlDeployments(uow.session), deployment_id, now):
                audit.append(
                    uow,
                    actor="relgate",
                    action="deployment.verifying",
                    subject=f"deployment/{deployment_id}",
                    at=now,
                    before={"state": DeploymentState.DEPLOYING.value},
                    after={"state": DeploymentState.VERIFYING.value},
                )
                uow.commit()
        verifier = self._registry.verifier(verify_spec, self._context())
        if verifier is None:
            verified = StepOutcome(True, f"{deploy.reason}; no verification configured")
        else:
            heartbeat.line("verifying")
            verified = verifier.verify(request, heartbeat.line, cancel=heartbeat.cancel)  # [procs]
        if verified.succeeded:
            self._move_stable_tag(request, env_spec, heartbeat)
        return verified

    def _context(self) -> BuildContext:
        environ = self._deployers.environ if self._deployers is not None else {}
        return BuildContext(base_dir=self._base_dir, environ=environ)

    def _move_stable_tag(
        self, request: DeployRequest, env_spec: EnvironmentSpec | None, heartbeat: Heartbeat
    ) -> None:
        """Move the environment's stable tag in the registry, when it names one.

        The deployment has verified healthy: a registry that refuses the tag is
        logged, not a failure of the deployment (the release runs and is relgate's
        stable anchor either way).
        """
        tag = getattr(env_spec, "stable_tag", None) if env_spec is not None else None
        if self._tagger is None or not tag:
            return
        moved_tag = self._tagger.move_stable(request, str(tag), heartbeat.line)
        heartbeat.line(moved_tag.reason)

    def _resolve(self, env_spec: EnvironmentSpec | None) -> tuple[DeployerSpec, VerifySpec | None]:
        """Return the deployer and verifier to run, a ``{ref: NAME}`` looked up now.

        A registered deployer's verify command runs when the environment has no
        ``verify:`` of its own. A pipeline stored before ``deployer:`` was
        required, without one, deploys as ``record``. Raises NotFound when the
        name is no longer registered, BadInput when a secret's server variable
        is not set.
        """
        if env_spec is None:
            return RecordDeployerSpec(type="record"), None
        if env_spec.protected and isinstance(env_spec.verify, CommandVerifySpec):
            raise Forbidden(_OWN_COMMAND.format(env=env_spec.name, what="verify command"))
        if not isinstance(env_spec.deployer, DeployerRef):
            if env_spec.protected and not isinstance(
                env_spec.deployer, RecordDeployerSpec | FakeDeployerSpec | None
            ):
                # a pipeline stored before protection existed: fail closed, never run it
                raise Forbidden(_OWN_COMMAND.format(env=env_spec.name, what="deploy command"))
            return env_spec.deployer or RecordDeployerSpec(type="record"), env_spec.verify
        name = env_spec.deployer.ref
        definition = self._deployers.resolve(name) if self._deployers is not None else None
        if definition is None:
            raise NotFound(
                f"the deployer {name!r} is not registered on this server: an admin registers "
                f"it with `relgate deployers add {name} ...`"
            )
        environ = self._deployers.environ if self._deployers is not None else {}
        verify = env_spec.verify
        if verify is None:
            verify = definition.verify_spec(environ)
        return definition.deployer_spec(environ), verify

    def _complete(
        self, deployment_id: int, outcome: StepOutcome, *, fence: Attempt | None = None
    ) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            session = uow.session
            if not holds(session, fence):  # [procs] a late write of a reconciled attempt
                log.warning(
                    "attempt %s lost its job: its outcome is dropped", fence and fence.fence
                )
                return
            store = SqlDeployments(session)
            rules = self._rules(session, deployment_id)
            done = transitions.complete(
                store,
                deployment_id,
                succeeded=outcome.succeeded,
                reason=outcome.reason,
                now=now,
                spec=rules,
            )
            if done is None:
                return  # reconciled meanwhile by another process
            deployment, follow_up = done
            action = (
                "rollback.succeeded"
                if outcome.succeeded and deployment.is_rollback
                else f"deployment.{deployment.state}"
            )
            audit.append(
                uow,
                actor="relgate",
                action=action,
                subject=f"deployment/{deployment_id}",
                at=now,
                before={"version": deployment.previous.version if deployment.previous else None},
                after={
                    "version": deployment.release.version,
                    "state": deployment.state.value,
                    "outcome": deployment.outcome,
                    "environment": deployment.environment,
                    "service": deployment.service,
                },
            )
            outbox.append(session, store.events())
            uow.commit()
        self._follow(deployment, follow_up)

    def _rules(self, session: Session, deployment_id: int) -> EnvironmentSpec | None:
        """The environment's rules in the pipeline revision the deployment runs under."""
        row = session.get(DeploymentRow, deployment_id)
        if row is None:
            return None
        try:
            pipeline = queries.pipeline_revision(session, row.service_id, row.pipeline_revision)
        except NotFound:
            return None
        return PipelineSpec.model_validate(pipeline.spec).environment(row.environment)

    def _follow(self, deployment: Deployment, follow_up: FollowUp) -> None:
        """After the commit: an auto-rollback the environment wants, else auto-promotion."""
        if follow_up.auto_rollback:
            self._auto_rollback(deployment.number, follow_up.reason)
        self._promotion.after(deployment.service, deployment.environment, follow_up)

    def _auto_rollback(self, deployment_id: int, why: str) -> None:
        with self._uow() as uow:
            deployment = SqlDeployments(uow.session).deployment(deployment_id)
        try:
            self._promotion.rollback(
                ROBOT,
                deployment.service,
                deployment.environment,
                reason=f"auto-rollback: deployment {deployment_id} failed: {why}",
                kind=DeploymentKind.AUTO_ROLLBACK,
            )
        except (Conflict, NotFound) as exc:
            self._append_log(deployment_id, f"auto-rollback not possible: {exc}")

    def _finish_job(self, job_id: int, state: str) -> None:
        with self._uow() as uow:
            uow.session.execute(
                update(JobRow)
                .where(JobRow.id == job_id)
                .values(state=state, finished_at=self._clock.now())
            )
            uow.commit()

    def _append_log(self, deployment_id: int, text: str, fence: Attempt | None = None) -> None:
        with self._uow() as uow:
            if not holds(uow.session, fence):  # [procs] a reconciled attempt's log is dropped
                return
            row = uow.session.get(DeploymentRow, deployment_id)
            if row is None:
                return
            combined = (row.log or "") + text + ("\n" if not text.endswith("\n") else "")
            row.log = combined[-MAX_LOG_CHARS:]
            uow.commit()

    def beat(self, job_id: int) -> None:
        with self._uow() as uow:
            uow.session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.state == "running")
                .values(heartbeat_at=self._clock.now())
            )
            uow.commit()

    # ------------------------------------------------------------------ reconciling

    def reconcile(self) -> int:
        """Apply the reconciliation rule to jobs whose worker stopped; return how many."""
        now = self._clock.now()
        cutoff = now - timedelta(seconds=self._lease)
        # [procs] a started deployment holds its environment for the orphan grace too
        hold_cutoff = cutoff - timedelta(seconds=self._orphan_grace)
        failed: list[tuple[Deployment, FollowUp]] = []
        count = 0
        with self._uow() as uow:
            session = uow.session
            jobs = session.scalars(
                select(JobRow)
                .where(JobRow.state.in_(LIVE_STATES), JobRow.heartbeat_at < cutoff)
                .with_for_update(skip_locked=True)
            ).all()
            for job in jobs:
                row = session.get(DeploymentRow, job.deployment_id) if job.deployment_id else None
                if row is None or row.state == DeploymentState.REQUESTED.value:
                    count += 1
                    job.state = "queued"
                    job.claimed_by = None
                    continue
                started = row.state in (
                    DeploymentState.DEPLOYING.value,
                    DeploymentState.VERIFYING.value,
                )
                beat = as_utc(job.heartbeat_at) if job.heartbeat_at else None
                if started and beat is not None and beat >= as_utc(hold_cutoff):
                    continue  # [procs] its command may still be stopping: keep holding
                count += 1
                job.state = "failed"
                job.finished_at = now
                if row.state not in (
                    DeploymentState.DEPLOYING.value,
                    DeploymentState.VERIFYING.value,
                ):
                    continue
                heartbeat = as_utc(job.heartbeat_at) if job.heartbeat_at else now
                reason = (
                    f"interrupted: the relgate process running it stopped while {row.state} "
                    f"(no heartbeat since {heartbeat:%Y-%m-%d %H:%M:%S} UTC); "
                    "the deploy command was not run again"
                )
                store = SqlDeployments(session)
                done = transitions.complete(
                    store,
                    row.id,
                    succeeded=False,
                    reason=reason,
                    now=now,
                    spec=self._rules(session, row.id),
                )
                audit.append(
                    uow,
                    actor="relgate",
                    action="deployment.interrupted",
                    subject=f"deployment/{row.id}",
                    at=now,
                    after={"state": DeploymentState.FAILED.value, "outcome": reason},
                )
                outbox.append(session, store.events())
                if done is not None:
                    failed.append(done)
            uow.commit()
        for deployment, follow_up in failed:
            try:
                self._follow(deployment, follow_up)
            except RelgateError:
                log.exception("auto-rollback after interruption failed")
        return count


_ROLLBACK_KINDS = (DeploymentKind.ROLLBACK.value, DeploymentKind.AUTO_ROLLBACK.value)
_OWN_COMMAND = (
    "{env} is protected and its pipeline brings a {what} of its own, which relgate does not "
    "run there: register a deployer (`relgate deployers add NAME ...`), name it in relgate.yaml "
    "as `deployer: {{ref: NAME}}` and apply it"
)
