"""Gates as the promotion service applies them, on real databases."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.clock import FixedClock
from relgate.config import Settings
from relgate.errors import BadInput, GateFailed
from relgate.manifest.pipeline import parse_pipeline

CI = Principal("ci-bot", Role.CI)
ALICE = Principal("alice", Role.APPROVER)
DIGEST = "sha256:" + "d" * 64

PIPELINE = """\
service: shop
environments:
  - name: staging
    deployer: {type: record}
  - name: production
    deployer: {type: record}
    gates:
      - type: performance
        metric: p95_ms
        max_regression_percent: 5
        baseline_environment: production
        pass_without_baseline: true
      - type: vulnerabilities
        max: {critical: 0}
      - type: freeze
        timezone: Europe/Berlin
        windows:
          - {start: "Fri 16:00", end: "Mon 08:00"}
      - type: approval
        count: 1
"""

TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)
FRIDAY_EVENING = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)  # 17:30 in Berlin


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(TUESDAY)


@pytest.fixture
def services(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Services]:
    built = build(Settings(database_url=database_url), clock=clock, base_dir=tmp_path)
    built.pipelines.apply(Principal("admin", Role.ADMIN), parse_pipeline(PIPELINE, "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


def trivy(digest: str, critical: int) -> bytes:
    vulns = [
        {
            "VulnerabilityID": f"CVE-2026-{1000 + n}",
            "PkgName": "openssl",
            "InstalledVersion": "3.0.1",
            "Severity": "CRITICAL",
        }
        for n in range(critical)
    ]
    return json.dumps(
        {
            "SchemaVersion": 2,
            "ArtifactName": f"reg/shop@{digest}",
            "ArtifactType": "container_image",
            "Metadata": {"RepoDigests": [f"reg/shop@{digest}"]},
            "Results": [{"Target": "reg/shop (debian 12)", "Vulnerabilities": vulns}],
        }
    ).encode()


def perf(p95: float) -> bytes:
    return json.dumps({"metrics": {"p95_ms": p95}}).encode()


def release(services: Services, version: str, digest: str, p95: float, critical: int = 0) -> None:
    services.releases.create(CI, service="shop", version=version, artifact=f"reg/shop@{digest}")
    for kind, data in (("performance", perf(p95)), ("vulnerabilities", trivy(digest, critical))):
        services.releases.add_evidence(
            CI, service="shop", version=version, kind=kind, filename=f"{kind}.json", data=data
        )


def ship(services: Services, version: str) -> None:
    services.promotion.promote(CI, "shop", version, "production")
    services.promotion.decide(ALICE, "shop", version, "production", approve=True)
    while services.worker.run_once():
        pass


def test_a_vulnerability_report_of_another_image_is_refused_and_not_stored(
    services: Services,
) -> None:
    services.releases.create(CI, service="shop", version="1.0.0", artifact=f"reg/shop@{DIGEST}")
    other = "sha256:" + "e" * 64
    with pytest.raises(BadInput, match="another image"):
        services.releases.add_evidence(
            CI,
            service="shop",
            version="1.0.0",
            kind="vulnerabilities",
            filename="trivy.json",
            data=trivy(other, 0),
        )
    assert services.releases.list_evidence(CI, "shop", "1.0.0") == []


@pytest.mark.parametrize(
    ("artifact_name", "repo_digests", "expected"),
    [
        # scanned by tag, no digest recorded anywhere
        ("reg/shop:1.0.0", [], "names no image digest (expected this release's sha256:"),
        # the release's digest in RepoDigests, another image in ArtifactName
        ("reg/other@sha256:" + "e" * 64, None, "names the image sha256:" + "e" * 64),
    ],
)
def test_a_vulnerability_report_not_naming_only_the_release_digest_is_refused(
    services: Services, artifact_name: str, repo_digests: list[str] | None, expected: str
) -> None:
    services.releases.create(CI, service="shop", version="1.0.0", artifact=f"reg/shop@{DIGEST}")
    document = json.loads(trivy(DIGEST, 0))
    document["ArtifactName"] = artifact_name
    if repo_digests is not None:
        document["Metadata"]["RepoDigests"] = repo_digests
    with pytest.raises(BadInput) as caught:
        services.releases.add_evidence(
            CI,
            service="shop",
            version="1.0.0",
            kind="vulnerabilities",
            filename="trivy.json",
            data=json.dumps(document).encode(),
        )
    assert str(caught.value).startswith("trivy.json: the vulnerability report ")
    assert expected in str(caught.value)
    assert services.releases.list_evidence(CI, "shop", "1.0.0") == []


def test_a_critical_vulnerability_stops_the_release(services: Services) -> None:
    release(services, "1.0.0", DIGEST, p95=100, critical=1)
    with pytest.raises(GateFailed, match="CRITICAL"):
        services.promotion.promote(CI, "shop", "1.0.0", "production")


def test_a_performance_regression_against_production_stops_the_release(
    services: Services,
) -> None:
    release(services, "1.0.0", DIGEST, p95=100)
    ship(services, "1.0.0")
    release(services, "1.1.0", "sha256:" + "f" * 64, p95=109)
    check = services.promotion.check_gates(CI, "shop", "1.1.0", "production")
    performance = next(g for g in check.gates if g.gate == "performance")
    assert performance.status == "fail"
    assert "9" in performance.reason and "5" in performance.reason
    release(services, "1.1.1", "sha256:" + "1" * 64, p95=103)
    check = services.promotion.check_gates(CI, "shop", "1.1.1", "production")
    assert next(g for g in check.gates if g.gate == "performance").status == "pass"


def test_the_freeze_window_stops_production_deploys_on_friday_evening(
    services: Services, clock: FixedClock
) -> None:
    release(services, "1.0.0", DIGEST, p95=100)
    clock._at = FRIDAY_EVENING
    with pytest.raises(GateFailed, match="frozen until Mon 08:00 Europe/Berlin"):
        services.promotion.promote(CI, "shop", "1.0.0", "production")
    clock._at = TUESDAY
    assert services.promotion.promote(CI, "shop", "1.0.0", "production").state == (
        "waiting_for_approval"
    )


def test_a_rejection_ends_the_deployment_and_frees_the_environment(services: Services) -> None:
    release(services, "1.0.0", DIGEST, p95=100)
    services.promotion.promote(CI, "shop", "1.0.0", "production")
    rejected = services.promotion.decide(
        ALICE, "shop", "1.0.0", "production", approve=False, comment="not during the sale"
    )
    assert rejected.state == "rejected"
    assert "not during the sale" in rejected.outcome
    again = services.promotion.promote(CI, "shop", "1.0.0", "production")
    assert again.state == "waiting_for_approval"
