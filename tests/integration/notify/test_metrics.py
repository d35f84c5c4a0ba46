"""GET /metrics figures computed from the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client.parser import text_string_to_metric_families

from relgate import metrics
from relgate.audit import store as audit
from relgate.auth.model import Principal, Role
from relgate.errors import Forbidden
from relgate.store.tables import (
    ApprovalRow,
    DeploymentRow,
    FlagMetricRow,
    ReleaseRow,
    ServiceRow,
)
from relgate.store.uow import UnitOfWorkFactory
from tests.integration.notify.conftest import append_events

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def seed(uow: UnitOfWorkFactory) -> None:
    with uow() as unit:
        session = unit.session
        svc = ServiceRow(name="payments", created_at=T0)
        session.add(svc)
        session.flush()
        release = ReleaseRow(
            service_id=svc.id,
            version="1.0.0",
            artifact="r/p@sha256:" + "a" * 64,
            digest="sha256:" + "a" * 64,
            created_by="ci",
            created_at=T0,
        )
        session.add(release)
        session.flush()
        rows = [
            ("production", "promote", "succeeded"),
            ("production", "promote", "failed"),
            ("production", "auto-rollback", "succeeded"),
            ("staging", "promote", "succeeded"),
            ("staging", "promote", "succeeded"),
        ]
        for environment, kind, state in rows:
            session.add(
                DeploymentRow(
                    service_id=svc.id,
                    environment=environment,
                    release_id=release.id,
                    version="1.0.0",
                    pipeline_revision=1,
                    kind=kind,
                    state=state,
                    requested_by="ci",
                    gate_results=[],
                    created_at=T0,
                    updated_at=T0,
                )
            )
        session.flush()
        first = session.query(DeploymentRow).order_by(DeploymentRow.id).first()
        assert first is not None
        session.add(
            ApprovalRow(
                release_id=release.id,
                environment="production",
                deployment_id=first.id,
                approver="alice",
                decision="approved",
                created_at=T0 + timedelta(seconds=120),
            )
        )
        session.add(
            FlagMetricRow(
                flag_key="checkout",
                environment="production",
                app_name="web",
                hour=T0,
                yes=30,
                no=12,
                variants={},
                last_seen_at=T0,
            )
        )
        audit.append(
            unit,
            actor="ci",
            action="promotion.refused",
            subject="release/payments@1.0.0",
            at=T0,
            after={
                "environment": "production",
                "gates": [
                    {"gate": "coverage", "status": "fail"},
                    {"gate": "tests", "status": "pass"},
                    {"gate": "junit", "status": "missing"},
                ],
            },
        )
        unit.commit()
    append_events(uow, 3)


def samples(
    uow: UnitOfWorkFactory, registry: object | None = None
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reg = registry or metrics.registry(uow)
    body, content_type = metrics.render(reg)  # type: ignore[arg-type]
    assert content_type.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def test_the_metrics_are_read_from_the_store(uow: UnitOfWorkFactory) -> None:
    seed(uow)
    found = samples(uow)
    prod = (("environment", "production"), ("kind", "promote"), ("service", "payments"))
    assert found[("relgate_deployments_total", tuple(sorted((*prod, ("state", "failed")))))] == 1
    staging = (
        ("environment", "staging"),
        ("kind", "promote"),
        ("service", "payments"),
        ("state", "succeeded"),
    )
    assert found[("relgate_deployments_total", staging)] == 2
    rollback = (
        ("environment", "production"),
        ("kind", "auto-rollback"),
        ("service", "payments"),
        ("state", "succeeded"),
    )
    assert found[("relgate_rollbacks_total", rollback)] == 1
    assert found[("relgate_gate_refusals_total", (("gate", "coverage"),))] == 1
    assert found[("relgate_gate_refusals_total", (("gate", "junit"),))] == 1
    assert ("relgate_gate_refusals_total", (("gate", "tests"),)) not in found
    assert found[("relgate_approval_wait_seconds_bucket", (("le", "60"),))] == 0
    assert found[("relgate_approval_wait_seconds_bucket", (("le", "300"),))] == 1
    assert found[("relgate_approval_wait_seconds_sum", ())] == 120
    assert found[("relgate_outbox_backlog", (("stage", "fan_out"),))] == 3
    assert found[("relgate_flag_evaluations_total", (("environment", "production"),))] == 42


def test_refusals_counted_incrementally_match_a_fresh_count(uow: UnitOfWorkFactory) -> None:
    seed(uow)
    registry = metrics.registry(uow)
    samples(uow, registry)
    with uow() as unit:
        audit.append(
            unit,
            actor="ci",
            action="promotion.refused",
            subject="release/payments@1.0.0",
            at=T0,
            after={"gates": [{"gate": "coverage", "status": "fail"}]},
        )
        unit.commit()
    key = ("relgate_gate_refusals_total", (("gate", "coverage"),))
    assert samples(uow, registry)[key] == 2
    assert samples(uow)[key] == 2  # another replica, starting from nothing, agrees


def test_a_scrape_needs_the_metrics_token_or_an_unrestricted_read_token() -> None:
    def authenticate(token: str | None) -> Principal:
        if token == "rg_admin":
            return Principal("admin", Role.ADMIN)
        if token == "rg_scoped":
            return Principal("ci", Role.CI, services=frozenset({"payments"}))
        from relgate.errors import Unauthorized

        raise Unauthorized("no such token")

    metrics.authorize_scrape("Bearer prom", metrics_token="prom", authenticate=authenticate)
    metrics.authorize_scrape("Bearer rg_admin", metrics_token="", authenticate=authenticate)
    with pytest.raises(Forbidden, match="touches every service"):
        metrics.authorize_scrape("Bearer rg_scoped", metrics_token="", authenticate=authenticate)
    from relgate.errors import Unauthorized

    with pytest.raises(Unauthorized):
        metrics.authorize_scrape("Bearer wrong", metrics_token="prom", authenticate=authenticate)
