"""Prometheus metrics, read from the database at scrape time (``GET /metrics``).

Every figure is computed from what the store holds, not counted in a process:
several replicas behind a load balancer answer the same numbers, and a restart
loses nothing. Each scrape runs a handful of aggregate queries: counts grouped
over ``deployments`` and ``notify_deliveries`` (their state indexes), sums over
``flag_metrics`` (one row per flag, environment, app and hour), the approvals
joined to their deployments, and gate refusals read from the audit chain
incrementally (only the events after the last scrape's ``seq``; the first
scrape of a process reads them all once).

Metrics (all names start with ``relgate_``):

- ``deployments_total{service,environment,kind,state}``: deployments by result.
- ``rollbacks_total{service,environment,kind,state}``: rollback and auto-rollback deployments.
- ``gate_refusals_total{gate}``: promotions refused, per failing gate.
- ``approval_wait_seconds``: histogram of request → approval decision.
- ``outbox_backlog{stage}``: events to fan out, deliveries pending and delivering.
- ``notify_dead_deliveries``: deliveries that gave up (``relgate notify retry``).
- ``flag_evaluations_total{environment}``: flag evaluations SDKs reported (Unleash metrics).
"""

from __future__ import annotations

import hmac
import threading
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import func, select

from relgate.auth.model import Action, Principal
from relgate.store.tables import (
    ApprovalRow,
    AuditRow,
    DeliveryRow,
    DeploymentRow,
    FlagMetricRow,
    OutboxRow,
    ServiceRow,
)
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

APPROVAL_BUCKETS = (60.0, 300.0, 900.0, 3600.0, 4 * 3600.0, 24 * 3600.0, 7 * 24 * 3600.0)
ROLLBACK_KINDS = ("rollback", "auto-rollback")
REFUSED = "promotion.refused"
AUDIT_PAGE = 5000


class StoreCollector:
    """A prometheus_client collector whose every ``collect`` reads the database."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow
        self._lock = threading.Lock()
        self._refusals: Counter[str] = Counter()
        self._audit_seq = 0

    def collect(self) -> Iterator[Metric]:
        with self._uow() as uow:
            session = uow.session
            deployments = CounterMetricFamily(
                "relgate_deployments",
                "Deployments by service, environment, kind and state (the result when final).",
                labels=["service", "environment", "kind", "state"],
            )
            rollbacks = CounterMetricFamily(
                "relgate_rollbacks",
                "Rollback and auto-rollback deployments by state.",
                labels=["service", "environment", "kind", "state"],
            )
            for service, environment, kind, state, count in session.execute(
                select(
                    ServiceRow.name,
                    DeploymentRow.environment,
                    DeploymentRow.kind,
                    DeploymentRow.state,
                    func.count(),
                )
                .join(ServiceRow, ServiceRow.id == DeploymentRow.service_id)
                .group_by(
                    ServiceRow.name,
                    DeploymentRow.environment,
                    DeploymentRow.kind,
                    DeploymentRow.state,
                )
            ):
                labels = [service, environment, kind, state]
                deployments.add_metric(labels, count)
                if kind in ROLLBACK_KINDS:
                    rollbacks.add_metric(labels, count)
            yield deployments
            yield rollbacks

            refusals = CounterMetricFamily(
                "relgate_gate_refusals",
                "Promotions refused, counted once per failing gate.",
                labels=["gate"],
            )
            for gate, count in sorted(self._read_refusals(uow).items()):
                refusals.add_metric([gate], count)
            yield refusals

            yield self._approval_wait(uow)

            unfanned = session.scalar(
                select(func.count()).select_from(OutboxRow).where(OutboxRow.fanned_out_at.is_(None))
            )
            by_state: dict[str, int] = {
                state: count
                for state, count in session.execute(
                    select(DeliveryRow.state, func.count()).group_by(DeliveryRow.state)
                )
            }
            backlog = GaugeMetricFamily(
                "relgate_outbox_backlog",
                "Notification work not done: events to fan out, deliveries pending, delivering.",
                labels=["stage"],
            )
            backlog.add_metric(["fan_out"], unfanned or 0)
            backlog.add_metric(["pending"], by_state.get("pending", 0))
            backlog.add_metric(["delivering"], by_state.get("delivering", 0))
            yield backlog
            yield GaugeMetricFamily(
                "relgate_notify_dead_deliveries",
                "Deliveries that gave up after their attempts (relgate notify retry).",
                value=by_state.get("dead", 0),
            )

            evaluations = CounterMetricFamily(
                "relgate_flag_evaluations",
                "Flag evaluations reported by SDKs (Unleash client metrics), per environment.",
                labels=["environment"],
            )
            for environment, total in session.execute(
                select(
                    FlagMetricRow.environment, func.sum(FlagMetricRow.yes + FlagMetricRow.no)
                ).group_by(FlagMetricRow.environment)
            ):
                evaluations.add_metric([environment], float(total or 0))
            yield evaluations

    def _read_refusals(self, uow: UnitOfWork) -> Counter[str]:
        """Add the refusals audited since the last scrape to the running counts; return them."""
        with self._lock:
            while True:
                rows = uow.session.execute(
                    select(AuditRow.seq, AuditRow.action, AuditRow.after)
                    .where(AuditRow.seq > self._audit_seq)
                    .order_by(AuditRow.seq)
                    .limit(AUDIT_PAGE)
                ).all()
                for seq, action, after in rows:
                    self._audit_seq = seq
                    if action != REFUSED or not isinstance(after, dict):
                        continue
                    for gate in after.get("gates") or []:
                        if isinstance(gate, dict) and gate.get("status") not in ("pass", None):
                            self._refusals[str(gate.get("gate") or "?")[:100]] += 1
                if len(rows) < AUDIT_PAGE:
                    return Counter(self._refusals)

    @staticmethod
    def _approval_wait(uow: UnitOfWork) -> HistogramMetricFamily:
        waits = [
            max(0.0, (as_utc(decided) - as_utc(requested)).total_seconds())
            for decided, requested in uow.session.execute(
                select(ApprovalRow.created_at, DeploymentRow.created_at).join(
                    DeploymentRow, DeploymentRow.id == ApprovalRow.deployment_id
                )
            )
        ]
        buckets: list[tuple[str, float]] = [
            (_bound(bound), float(sum(1 for wait in waits if wait <= bound)))
            for bound in APPROVAL_BUCKETS
        ]
        buckets.append(("+Inf", float(len(waits))))
        return HistogramMetricFamily(
            "relgate_approval_wait_seconds",
            "Time from a deployment's request to its approval decision.",
            buckets=buckets,
            sum_value=sum(waits),
        )


def _bound(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def authorize_scrape(
    authorization: str | None,
    *,
    metrics_token: str,
    authenticate: Callable[[str | None], Principal],
) -> None:
    """Let a scrape through or raise Unauthorized / Forbidden.

    With RELGATE_METRICS_TOKEN set, that token alone is enough (Prometheus needs no
    relgate token); any other token must be an unrestricted read token (admin, ci,
    approver without a scope), since the figures cover every service.
    """
    token = (authorization or "").strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if metrics_token and token and hmac.compare_digest(token.encode(), metrics_token.encode()):
        return
    principal = authenticate(token or None)
    principal.require(Action.READ, everywhere=True)


def registry(uow: UnitOfWorkFactory) -> CollectorRegistry:
    """Return a registry holding only relgate's store collector (no process metrics)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StoreCollector(uow))
    return reg


def render(reg: CollectorRegistry) -> tuple[bytes, str]:
    """Return the text exposition of ``reg`` and its content type."""
    from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

    return generate_latest(reg), CONTENT_TYPE_LATEST
