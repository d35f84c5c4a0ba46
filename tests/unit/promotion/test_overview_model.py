"""The overview's pure parts: column order, which service an audit event is about, precedence."""

from __future__ import annotations

from relgate.promotion.overview import audit_services, badges, column_order, is_newer
from relgate.promotion.views import GateView


def test_columns_keep_every_pipeline_order() -> None:
    assert column_order([["dev", "production"], ["dev", "qa", "production"]]) == [
        "dev",
        "qa",
        "production",
    ]
    assert column_order([["dev", "staging", "production"], ["staging", "perf"]]) == [
        "dev",
        "staging",
        "perf",
        "production",
    ]
    assert column_order([]) == []


def test_an_audit_subject_names_its_service_or_every_service() -> None:
    deployments = {7: "payments"}
    assert audit_services("deployment/7", deployments) == "payments"
    assert audit_services("deployment/8", deployments) is None
    assert audit_services("release/search@1.2.0-rc.1", deployments) == "search"
    assert audit_services("environment/search/production", deployments) == "search"
    assert audit_services("service/search", deployments) == "*"
    assert audit_services("flag/new-checkout", deployments) == "*"
    assert audit_services("token/ci", deployments) is None
    assert audit_services("deployment/x'; drop", deployments) is None


def test_newer_follows_semver_precedence_not_registration_order() -> None:
    assert is_newer((3, "1.10.0"), (2, "1.9.0"))
    assert not is_newer((5, "1.1.5"), (4, "1.2.0"))
    assert not is_newer((6, "2.0.0-rc.1"), (1, "2.0.0"))
    assert is_newer((1, "1.0.0"), None)


def test_badges_count_each_status() -> None:
    counted = badges(
        [
            GateView("verified_in", "pass", "ok"),
            GateView("coverage", "fail", "low"),
            GateView("approval", "missing", "none"),
            GateView("tests_passed", "pass", "ok"),
        ]
    )
    assert (counted.passed, counted.failed, counted.missing, counted.total) == (2, 1, 1, 4)
