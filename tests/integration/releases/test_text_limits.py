"""Text limits in the services (what the CLI and every caller goes through), on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build
from relgate.config import Settings
from relgate.errors import BadInput, NotFound
from relgate.manifest.pipeline import parse_pipeline

ADMIN = Principal("admin", Role.ADMIN)
CI = Principal("ci-bot", Role.CI)
ARTIFACT = "registry.example.com/shop@sha256:" + "a" * 64
PIPELINE = "service: shop\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"


@pytest.fixture
def services(database_url: str) -> Iterator[Services]:
    built = build(Settings(database_url=database_url))
    built.pipelines.apply(ADMIN, parse_pipeline(PIPELINE, "relgate.yaml"))
    yield built
    built.uow.engine.dispose()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("commit", "a" * 65),
        ("author", "a" * 201),
        ("version", "1.0.0-" + "a" * 200),
        ("artifact", "registry.example.com/" + "x" * 1000 + "@sha256:" + "a" * 64),
    ],
)
def test_creating_a_release_with_a_field_over_its_limit_names_the_field_and_stores_nothing(
    services: Services, field: str, value: str
) -> None:
    fields = {"service": "shop", "version": "1.0.0", "artifact": ARTIFACT, field: value}

    with pytest.raises(BadInput) as raised:
        services.releases.create(CI, **fields)

    assert raised.value.message.startswith(f"{field}: at most ")
    assert services.releases.list_releases(CI, "shop") == []


def test_evidence_with_a_600_character_file_name_names_the_field(services: Services) -> None:
    services.releases.create(CI, service="shop", version="1.0.0", artifact=ARTIFACT)

    with pytest.raises(BadInput) as raised:
        services.releases.add_evidence(
            CI,
            service="shop",
            version="1.0.0",
            kind="tests",
            filename="r" * 600,
            data=b"<testsuite tests='1'><testcase name='a'/></testsuite>",
        )

    assert raised.value.message == "filename: at most 500 characters, got 600"
    assert services.releases.list_evidence(CI, "shop", "1.0.0") == []


def test_a_client_token_for_a_101_character_environment_names_the_field(
    services: Services,
) -> None:
    with pytest.raises(BadInput) as raised:
        services.tokens.create("reader", "client", "admin", "e" * 101)

    assert raised.value.message == "environment: at most 100 characters, got 101"
    assert [t.name for t in services.tokens.list_tokens()] == []


def test_a_flag_owner_over_its_limit_names_the_field(services: Services) -> None:
    with pytest.raises(BadInput) as raised:
        services.flags.create(ADMIN, "checkout", owner="o" * 201)

    assert raised.value.message.startswith("owner: at most 200 characters")


def test_a_deployment_id_no_row_can_have_is_not_found(services: Services) -> None:
    for deployment_id in (0, 2**31, 2**63, 2**80):
        with pytest.raises(NotFound):
            services.promotion.deployment(CI, deployment_id)
