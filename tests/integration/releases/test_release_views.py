"""The release page's reads on both stores: what changes, the evidence's bytes, approval refusal."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.errors import Forbidden, NotFound
from relgate.manifest.pipeline import parse_pipeline
from relgate.releases.changes import Direction

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
ALICE = Principal("alice", Role.APPROVER, emails=frozenset({"alice@example.com"}))
BOB = Principal("bob", Role.APPROVER)
OTHER = Principal("other-ci", Role.CI, services=frozenset({"other"}))
PIPELINE = """\
service: shop
environments:
  - name: dev
    deployer: {type: record}
  - name: production
    gates:
      - type: approval
    deployer: {type: record}
"""
CHANGELOGS = {
    "1.0.0": "## 1.0.0\n\n### Features\n\n- first screen (1111111)\n",
    "1.1.0": "## 1.1.0\n\n### Features\n\n- **api:** search (2222222)\n",
    "2.0.0": (
        "## 2.0.0\n\n### Breaking changes\n\n- /v1 is gone (3333333)\n\n"
        "### Bug fixes\n\n- escape the query (4444444)\n"
    ),
}


def drain(services: Services) -> None:
    while services.worker.run_once():
        pass


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build(Settings(database_url=database_url))
    built.pipelines.apply(ADMIN, parse_pipeline(PIPELINE, "relgate.yaml"))
    for n, (version, changelog) in enumerate(CHANGELOGS.items(), start=1):
        built.releases.create(
            CI,
            service="shop",
            version=version,
            artifact=f"reg/shop@sha256:{str(n) * 64}",
            commit=str(n) * 40,
            changelog=changelog,
            author="Alice",
            author_email="alice@example.com",
        )
    yield built
    built.uow.engine.dispose()


def test_what_changes_reads_the_stored_releases_between_running_and_candidate(
    services: Services,
) -> None:
    services.promotion.promote(CI, "shop", "1.0.0", "dev")
    drain(services)

    changes = services.releases.what_changes(BOB, "shop", "2.0.0", "dev")

    assert changes.direction is Direction.UPGRADE
    assert changes.running == "1.0.0"
    assert [r.version for r in changes.releases] == ["1.1.0", "2.0.0"]
    assert [s.title for s in changes.sections] == ["Breaking changes", "Features", "Bug fixes"]
    assert changes.releases[1].commit == "3" * 40

    first = services.releases.what_changes(BOB, "shop", "2.0.0", "production")
    assert first.direction is Direction.FIRST
    assert [s.title for s in first.sections] == ["Breaking changes", "Bug fixes"]

    back = services.releases.what_changes(BOB, "shop", "1.0.0", "dev")
    assert back.direction is Direction.SAME


def test_what_changes_is_scoped_and_names_what_does_not_exist(services: Services) -> None:
    with pytest.raises(Forbidden):
        services.releases.what_changes(OTHER, "shop", "2.0.0", "dev")
    scoped = Principal("dev-ci", Role.CI, environments=frozenset({"dev"}))
    with pytest.raises(Forbidden):
        services.releases.what_changes(scoped, "shop", "2.0.0", "production")
    with pytest.raises(NotFound, match="no environment 'qa'"):
        services.releases.what_changes(BOB, "shop", "2.0.0", "qa")
    with pytest.raises(NotFound):
        services.releases.what_changes(BOB, "shop", "9.9.9", "dev")


def test_the_evidence_report_is_served_as_stored_and_only_for_its_own_release(
    services: Services,
) -> None:
    data = json.dumps(
        {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": 91.0}, "files": {}}
    ).encode()
    added = services.releases.add_evidence(
        CI, service="shop", version="1.1.0", kind="coverage", filename="coverage.json", data=data
    )

    evidence, content = services.releases.evidence_report(BOB, "shop", "1.1.0", added.id)

    assert content == data
    assert evidence.filename == "coverage.json"
    assert evidence.format == "coverage.py-json"
    # another release's id, an id no row can have, another service's token
    with pytest.raises(NotFound):
        services.releases.evidence_report(BOB, "shop", "2.0.0", added.id)
    with pytest.raises(NotFound):
        services.releases.evidence_report(BOB, "shop", "1.1.0", 2**70)
    with pytest.raises(Forbidden):
        services.releases.evidence_report(OTHER, "shop", "1.1.0", added.id)


def test_approval_refusal_says_what_decide_would_raise_without_deciding(
    services: Services,
) -> None:
    promotion = services.promotion
    nothing = promotion.approval_refusal(BOB, "shop", "1.1.0", "production")
    assert nothing == "no deployment of shop@1.1.0 waits for approval in production"

    waiting = promotion.promote(CI, "shop", "1.1.0", "production")
    assert waiting.state == "waiting_for_approval"

    needs_role = promotion.approval_refusal(CI, "shop", "1.1.0", "production")
    assert needs_role is not None and "needs the role approver" in needs_role
    author = promotion.approval_refusal(ALICE, "shop", "1.1.0", "production")
    with pytest.raises(Forbidden) as raised:
        promotion.decide(ALICE, "shop", "1.1.0", "production", approve=True)
    assert author == raised.value.message
    assert "is the author of shop@1.1.0" in author
    # asking changed nothing: bob may still decide, once
    assert promotion.approval_refusal(BOB, "shop", "1.1.0", "production") is None
    assert promotion.deployment(BOB, waiting.id).state == "waiting_for_approval"

    approved = promotion.decide(BOB, "shop", "1.1.0", "production", approve=True)
    assert approved.state in ("requested", "deploying", "verifying", "succeeded")
    after = promotion.approval_refusal(BOB, "shop", "1.1.0", "production")
    assert after is not None
    with pytest.raises(NotFound):
        promotion.approval_refusal(BOB, "shop", "1.1.0", "qa")
