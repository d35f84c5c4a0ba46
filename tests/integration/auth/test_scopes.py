"""A token's scope holds in every service call: writes are refused, reads filtered or refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from relgate.auth.model import Principal
from relgate.bootstrap import Services
from relgate.errors import Forbidden
from tests.integration.auth.conftest import MakeToken
from tests.integration.auth.pipeline import DIGEST, apply_pipeline, drain

SCOPE = "token 'ci-dev' is scoped to the environments dev, not 'production'"


@pytest.fixture
def ci_dev(services: Services, token: MakeToken, tmp_path: Path) -> Principal:
    apply_pipeline(services, tmp_path, "shop")
    apply_pipeline(services, tmp_path, "search")
    return token("ci-dev", "ci", environments=["dev"])


@pytest.fixture
def ci(token: MakeToken) -> Principal:
    return token("ci", "ci")


def _release(services: Services, ci: Principal, service: str = "shop") -> None:
    services.releases.create(
        ci, service=service, version="1.0.0", artifact=f"reg/{service}@{DIGEST}", author="zed"
    )


def test_a_dev_token_promotes_to_dev_but_not_to_production(
    services: Services, ci_dev: Principal, ci: Principal, tmp_path: Path
) -> None:
    _release(services, ci_dev)
    services.promotion.promote(ci_dev, "shop", "1.0.0", "dev")
    drain(services)
    assert (tmp_path / "dev.txt").read_text().strip() == "1.0.0"

    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.promote(ci_dev, "shop", "1.0.0", "production")
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.rollback(ci_dev, "shop", "production", reason="bad")
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.unpin(ci_dev, "shop", "production")
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.check_gates(ci_dev, "shop", "1.0.0", "production")
    assert not (tmp_path / "production.txt").exists()


def test_a_dev_token_cannot_attach_production_evidence(
    services: Services, ci_dev: Principal
) -> None:
    _release(services, ci_dev)
    report = json.dumps({"meta": {}, "totals": {"percent_covered": 90.0}, "files": {}}).encode()

    with pytest.raises(Forbidden, match=SCOPE):
        services.releases.add_evidence(
            ci_dev,
            service="shop",
            version="1.0.0",
            kind="coverage",
            filename="coverage.json",
            data=report,
            environment="production",
        )
    # evidence of the whole release would count in production's gates too
    with pytest.raises(Forbidden, match="counts in every environment's gates"):
        services.releases.add_evidence(
            ci_dev, service="shop", version="1.0.0", kind="coverage", filename="c.json", data=report
        )
    evidence = services.releases.add_evidence(
        ci_dev,
        service="shop",
        version="1.0.0",
        kind="coverage",
        filename="c.json",
        data=report,
        environment="dev",
    )
    assert evidence.environment == "dev"


def test_a_service_token_touches_only_its_service(
    services: Services, token: MakeToken, ci: Principal, tmp_path: Path
) -> None:
    apply_pipeline(services, tmp_path, "shop")
    apply_pipeline(services, tmp_path, "search")
    shop_ci = token("shop-ci", "ci", services=["shop"])
    _release(services, ci, "search")

    with pytest.raises(Forbidden, match=r"scoped to the services shop, not 'search'"):
        _release(services, shop_ci, "search")
    with pytest.raises(Forbidden, match=r"scoped to the services shop, not 'search'"):
        services.promotion.promote(shop_ci, "search", "1.0.0", "dev")
    with pytest.raises(Forbidden, match=r"not 'search'"):
        services.promotion.history(shop_ci, "search", None)
    with pytest.raises(Forbidden, match=r"not 'search'"):
        services.releases.list_releases(shop_ci, "search")
    assert {row.service for row in services.promotion.status(shop_ci)} == {"shop"}
    assert {row.service for row in services.promotion.status(ci)} == {"search", "shop"}


def test_status_and_history_show_a_scoped_token_only_its_environments(
    services: Services, ci_dev: Principal, ci: Principal, token: MakeToken
) -> None:
    _release(services, ci)
    services.promotion.promote(ci, "shop", "1.0.0", "dev")
    drain(services)
    services.promotion.promote(ci, "shop", "1.0.0", "production")

    assert {(r.service, r.environment) for r in services.promotion.status(ci_dev)} == {
        ("search", "dev"),
        ("shop", "dev"),
    }
    # the cached JSON answer is per scope too
    assert b"production" in services.promotion.status_json(ci)
    assert b"production" not in services.promotion.status_json(ci_dev)
    assert [d.environment for d in services.promotion.history(ci_dev, "shop", None)] == ["dev"]
    production = services.promotion.history(ci, "shop", "production")[0]
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.deployment(ci_dev, production.id)
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.deployment_log(ci_dev, production.id)
    with pytest.raises(Forbidden, match=SCOPE):
        services.promotion.cancel(ci_dev, production.id)


def test_an_approver_scoped_to_staging_cannot_approve_production(
    services: Services, ci: Principal, token: MakeToken, tmp_path: Path
) -> None:
    apply_pipeline(services, tmp_path, "shop")
    _release(services, ci)
    services.promotion.promote(ci, "shop", "1.0.0", "production")
    approver = token("sam", "approver", environments=["staging"])

    with pytest.raises(Forbidden, match=r"scoped to the environments staging, not 'production'"):
        services.promotion.decide(approver, "shop", "1.0.0", "production", approve=True)


def test_a_dev_token_cannot_apply_a_pipeline_that_sets_production_rules(
    services: Services, ci_dev: Principal
) -> None:
    from relgate.manifest.pipeline import parse_pipeline

    source = (
        "service: shop\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"
        "  - name: production\n    deployer: {type: record}\n"
    )
    with pytest.raises(Forbidden, match=SCOPE):
        services.pipelines.apply(ci_dev, parse_pipeline(source, "relgate.yaml"))


def test_a_dev_token_cannot_drop_production_from_the_pipeline(
    services: Services, ci_dev: Principal
) -> None:
    from relgate.manifest.pipeline import parse_pipeline

    source = (
        "service: shop\nenvironments:\n  - name: dev\n    protected: true\n"
        "    deployer: {type: record}\n"
    )
    with pytest.raises(Forbidden, match=SCOPE):
        services.pipelines.apply(ci_dev, parse_pipeline(source, "relgate.yaml"))
    environments = services.pipelines.pipeline(ci_dev, "shop")["spec"]["environments"]
    assert [env["name"] for env in environments] == ["dev", "production"]


def test_a_dev_token_changes_flags_in_dev_only(
    services: Services, ci_dev: Principal, ci: Principal
) -> None:
    flags = services.flags
    flags.create(ci_dev, "new-checkout")
    flags.enable(ci_dev, "new-checkout", "dev")
    flags.enable(ci, "new-checkout", "production")

    with pytest.raises(Forbidden, match=SCOPE):
        flags.enable(ci_dev, "new-checkout", "production")
    with pytest.raises(Forbidden, match=SCOPE):
        flags.disable(ci_dev, "new-checkout", "production")
    with pytest.raises(Forbidden, match=SCOPE):
        flags.rollout(ci_dev, "new-checkout", "production", 50)
    with pytest.raises(Forbidden, match=SCOPE):
        flags.set_strategies(ci_dev, "new-checkout", "production", [])
    with pytest.raises(Forbidden, match=SCOPE):
        flags.kill(ci_dev, "new-checkout")  # it is on in production
    with pytest.raises(Forbidden, match=r"touches every service and environment"):
        flags.archive(ci_dev, "new-checkout")
    with pytest.raises(Forbidden, match=r"touches every service and environment"):
        flags.import_unleash(ci_dev, {"version": 2, "features": []})
    assert flags.get_flag(ci, "new-checkout").environments["production"].enabled


def test_a_dev_token_reads_the_dev_configuration_of_flags_only(
    services: Services, ci_dev: Principal, ci: Principal
) -> None:
    services.flags.create(ci, "search-v2")
    services.flags.enable(ci, "search-v2", "dev")
    services.flags.enable(ci, "search-v2", "production")

    assert set(services.flags.get_flag(ci_dev, "search-v2").environments) == {"dev"}
    assert set(services.flags.list_flags(ci_dev)[0].environments) == {"dev"}
    assert set(services.flags.get_flag(ci, "search-v2").environments) == {"dev", "production"}
    with pytest.raises(Forbidden, match=SCOPE):
        services.flags.export_unleash(ci_dev, ["production"])
    exported = services.flags.export_unleash(ci_dev)
    assert "production" not in json.dumps(exported)
