"""Deployers defined in the server's configuration (RELGATE_DEPLOYERS_FILE)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import build
from relgate.config import Settings
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import Conflict, InvalidConfig
from relgate.manifest.pipeline import parse_pipeline

ADMIN = Principal("admin", Role.ADMIN)


def test_a_configured_deployer_is_listed_used_and_cannot_be_changed_through_the_api(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "deployers.yaml"
    config.write_text(
        "deployers:\n"
        "  - name: prod\n"
        "    command: ./ops/deploy.sh\n"
        "    env_allow: [KUBECONFIG]\n"
        "    secret_env: {DB_PASSWORD: PAYMENTS_DB_PASSWORD}\n"
    )
    services = build(Settings(database_url=database_url, deployers_file=config), base_dir=tmp_path)
    try:
        listed = services.deployers.list_deployers(ADMIN)
        applied = services.pipelines.apply(
            ADMIN,
            parse_pipeline(
                "service: shop\nenvironments:\n  - name: production\n    deployer: {ref: prod}\n",
                "relgate.yaml",
            ),
        )
        with pytest.raises(Conflict) as add:
            services.deployers.add(ADMIN, RegisteredDeployer(name="prod", command="./x.sh"))
        with pytest.raises(Conflict) as remove:
            services.deployers.remove(ADMIN, "prod")
    finally:
        services.uow.engine.dispose()

    assert [(d["name"], d["source"], d["secret_env"]) for d in listed] == [
        ("prod", "configuration", {"DB_PASSWORD": "PAYMENTS_DB_PASSWORD"})
    ]
    assert applied.status == "active"
    assert str(add.value) == (
        "deployer 'prod' is defined in the server configuration (RELGATE_DEPLOYERS_FILE); "
        "change it there"
    )
    assert "remove it there" in str(remove.value)


def test_an_invalid_deployers_file_is_refused_naming_file_line_and_field(
    database_url: str, tmp_path: Path
) -> None:
    config = tmp_path / "deployers.yaml"
    config.write_text("deployers:\n  - name: prod\n    command: ./x.sh\n    timeout_seconds: 0\n")

    with pytest.raises(InvalidConfig) as refused:
        build(Settings(database_url=database_url, deployers_file=config))

    assert str(refused.value) == (
        f"{config}:4: deployers[0].timeout_seconds: must be greater than 0 (got 0)"
    )


def test_the_deployers_file_is_named_by_relgate_deployers_file() -> None:
    settings = Settings.from_env({"RELGATE_DEPLOYERS_FILE": "/etc/relgate/deployers.yaml"})

    assert settings.deployers_file == Path("/etc/relgate/deployers.yaml")
    assert Settings.from_env({}).deployers_file is None
