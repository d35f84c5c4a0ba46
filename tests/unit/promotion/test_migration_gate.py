"""The migrations gate: evidence missing, unsafe findings, and contract changes against the
release stable in the environment."""

from __future__ import annotations

import dataclasses

import pytest
from pydantic import ValidationError

from relgate.migrations.checks import check_text
from relgate.migrations.report import MigrationReport
from relgate.promotion.gates import GateStatus, evaluate_gate
from relgate.promotion.migration_gate import StableRelease
from relgate.promotion.reports import EvidenceKind
from tests.unit.promotion.builders import context, evidence, gate

LOCK = "SET lock_timeout = '5s';\n"
CONTRACT = LOCK + "-- relgate:contract after=1.4.0\nALTER TABLE users DROP COLUMN email;\n"


def checked(sql: str) -> MigrationReport:
    result = check_text(sql, "db/0007_drop_email.sql")
    return MigrationReport(files=[result.file], findings=result.findings)


def run(
    sql: str,
    *,
    stable: StableRelease | None = None,
    release: str = "shop@1.5.0",
    **spec: object,
) -> tuple[GateStatus, str]:
    ctx = context(evidence=[evidence(EvidenceKind.MIGRATIONS, checked(sql))], release=release)
    result = evaluate_gate(gate(type="migrations", **spec), dataclasses.replace(ctx, stable=stable))
    assert result.gate == "migrations"
    return result.status, result.reason


def test_without_evidence_the_gate_is_missing_and_says_how_to_attach_it() -> None:
    result = evaluate_gate(gate(type="migrations"), context(release="shop@1.5.0"))

    assert result.status is GateStatus.MISSING
    assert "relgate evidence add shop@1.5.0 --kind migrations --file migrations.json" in (
        result.reason
    )


def test_clean_migrations_pass() -> None:
    status, reason = run(LOCK + "ALTER TABLE users ADD COLUMN nickname text;\n")

    assert status is GateStatus.PASSED
    assert reason == "no unsafe migration change (1 file: 0 errors, 0 warnings)"


def test_an_unsafe_change_fails_naming_rule_file_and_line() -> None:
    status, reason = run(LOCK + "CREATE INDEX ix_users_a ON users (a);\n")

    assert status is GateStatus.FAILED
    assert reason == (
        "1 unsafe migration change: create-index-non-concurrently ix_users_a at "
        "db/0007_drop_email.sql:2:1"
    )


def test_an_allowed_rule_does_not_fail_and_warnings_fail_only_when_asked() -> None:
    index = LOCK + "CREATE INDEX ix_users_a ON users (a);\n"
    char = LOCK + "ALTER TABLE users ADD COLUMN code char(2);\n"

    assert run(index, allow=["create-index-non-concurrently"])[0] is GateStatus.PASSED
    assert (
        "allowed: create-index-non-concurrently"
        in run(index, allow=["create-index-non-concurrently"])[1]
    )
    assert run(char)[0] is GateStatus.PASSED
    assert run(char, fail_on="warning")[0] is GateStatus.FAILED


def test_a_drop_without_a_contract_annotation_fails_and_says_how_to_mark_it() -> None:
    status, reason = run(LOCK + "ALTER TABLE users DROP COLUMN email;\n")

    assert status is GateStatus.FAILED
    assert "drop-column users.email at db/0007_drop_email.sql:2:1" in reason
    assert "`-- relgate:contract after=N`" in reason


def test_a_contract_change_waits_until_the_expand_release_is_stable_in_the_environment() -> None:
    older = run(CONTRACT, stable=StableRelease("1.3.9", verified=True))
    same = run(CONTRACT, stable=StableRelease("1.4.0", verified=True))
    later = run(CONTRACT, stable=StableRelease("1.4.2", verified=True))

    assert older == (
        GateStatus.FAILED,
        "drops or renames users.email (contract after 1.4.0), but production runs 1.3.9, "
        "which may still use them: relgate promote shop@1.4.0 --to production first",
    )
    assert same[0] is GateStatus.PASSED
    assert later == (
        GateStatus.PASSED,
        "contract changes safe: users.email (after 1.4.0); production runs 1.4.2, "
        "deployed and verified",
    )


def test_a_prerelease_of_the_expand_version_is_not_enough() -> None:
    status, _ = run(CONTRACT, stable=StableRelease("1.4.0-rc.1", verified=True))

    assert status is GateStatus.FAILED


def test_a_stable_release_that_never_verified_there_does_not_count() -> None:
    status, reason = run(CONTRACT, stable=StableRelease("1.4.0", verified=False))

    assert status is GateStatus.FAILED
    assert "never deployed and verified there" in reason


def test_with_no_stable_release_a_contract_fails_unless_the_gate_allows_a_new_environment() -> None:
    refused = run(CONTRACT)
    allowed = run(CONTRACT, pass_without_stable=True)

    assert refused[0] is GateStatus.FAILED
    assert "no release is stable in production" in refused[1]
    assert allowed[0] is GateStatus.PASSED
    assert "pass_without_stable" in allowed[1]


def test_the_annotation_must_name_an_older_release_than_this_one() -> None:
    status, reason = run(
        CONTRACT, stable=StableRelease("1.4.0", verified=True), release="shop@1.4.0"
    )

    assert status is GateStatus.FAILED
    assert "not older than this release 1.4.0" in reason


def test_the_newest_annotation_version_of_several_is_needed() -> None:
    sql = CONTRACT + "-- relgate:contract after=1.4.3\nDROP TABLE sessions;\n"

    status, reason = run(sql, stable=StableRelease("1.4.2", verified=True))

    assert status is GateStatus.FAILED
    assert "contract after 1.4.3" in reason


def test_a_report_claiming_a_lower_level_than_the_rule_has_still_fails() -> None:
    report = checked(LOCK + "CREATE INDEX ix ON users (a);\n")
    forged = MigrationReport(
        files=report.files,
        findings=[f.model_copy(update={"level": "warning"}) for f in report.findings],
    )
    ctx = context(evidence=[evidence(EvidenceKind.MIGRATIONS, forged)], release="shop@1.5.0")

    result = evaluate_gate(gate(type="migrations"), ctx)

    assert result.status is GateStatus.FAILED


def test_the_gate_refuses_unknown_rules_in_allow() -> None:
    with pytest.raises(ValidationError, match="unknown rule drop-colum"):
        gate(type="migrations", allow=["drop-colum"])


def test_evidence_attached_for_another_environment_does_not_count() -> None:
    clean = checked(LOCK + "SELECT 1;\n")
    for_dev = evidence(EvidenceKind.MIGRATIONS, clean, environment="dev")
    for_here = evidence(EvidenceKind.MIGRATIONS, clean, environment="production")

    elsewhere = evaluate_gate(
        gate(type="migrations"), context(evidence=[for_dev], release="shop@1.5.0")
    )
    here = evaluate_gate(
        gate(type="migrations"), context(evidence=[for_dev, for_here], release="shop@1.5.0")
    )

    assert elsewhere.status is GateStatus.MISSING
    assert here.status is GateStatus.PASSED


def test_the_newest_evidence_decides() -> None:
    unsafe = evidence(EvidenceKind.MIGRATIONS, checked("DROP TABLE t;\n"), age_minutes=5)
    fixed = evidence(EvidenceKind.MIGRATIONS, checked(LOCK + "SELECT 1;\n"), age_minutes=1)

    result = evaluate_gate(
        gate(type="migrations"), context(evidence=[fixed, unsafe], release="shop@1.5.0")
    )

    assert result.status is GateStatus.PASSED
