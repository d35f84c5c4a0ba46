"""A deployer registered on the server: what it shows, and the command spec it stands for."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from relgate.deploy.config import GitopsDeployerSpec
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import BadInput


def definition(**fields: object) -> RegisteredDeployer:
    return RegisteredDeployer.model_validate(
        {"name": "payments-prod", "command": "./deploy.sh", **fields}
    )


def test_its_public_view_names_secrets_but_never_shows_their_values() -> None:
    registered = definition(secrets={"API_TOKEN": "s3cret", "DB_PASSWORD": "hunter2"})

    public = registered.public()

    assert public["secrets"] == ["API_TOKEN", "DB_PASSWORD"]
    assert "s3cret" not in repr(public) + repr(registered)
    assert "hunter2" not in repr(public) + repr(registered)


def test_it_stands_for_a_command_spec_with_its_allow_list_and_secrets() -> None:
    registered = definition(
        timeout_seconds=30,
        env={"REGION": "eu-west-1"},
        env_allow=["KUBECONFIG"],
        secrets={"API_TOKEN": "s3cret"},
        secret_env={"DEPLOY_KEY": "RELGATE_DEMO_KEY"},
        verify_command=["./smoke.sh", "--quick"],
        run_as="deploy",
    )

    spec = registered.deployer_spec({"RELGATE_DEMO_KEY": "from-the-server"})
    verify = registered.verify_spec({"RELGATE_DEMO_KEY": "from-the-server"})

    assert (spec.command, spec.timeout_seconds, spec.env) == (
        "./deploy.sh",
        30,
        {"REGION": "eu-west-1"},
    )
    assert spec.env_allow == ["KUBECONFIG"]
    assert spec.secrets == {"API_TOKEN": "s3cret", "DEPLOY_KEY": "from-the-server"}
    assert verify is not None
    assert (verify.command, verify.timeout_seconds) == (["./smoke.sh", "--quick"], 60)
    assert verify.secrets == spec.secrets
    assert (spec.run_as, verify.run_as) == ("deploy", "deploy")


def test_without_a_verify_command_it_has_no_verifier() -> None:
    assert definition().verify_spec({}) is None


def test_a_secret_from_an_unset_server_variable_is_a_clear_error() -> None:
    registered = definition(secret_env={"DEPLOY_KEY": "DEPLOY_KEY_OF_THE_SERVER"})

    with pytest.raises(BadInput) as caught:
        registered.deployer_spec({})

    assert str(caught.value) == (
        "deployer 'payments-prod': secret DEPLOY_KEY comes from the server's variable "
        "DEPLOY_KEY_OF_THE_SERVER, which is not set where relgate runs"
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"name": "Payments Prod"}, "must be lowercase letters"),
        ({"command": "  "}, "must not be empty"),
        ({"env_allow": ["BAD-NAME"]}, "env_allow: 'BAD-NAME' is not a valid environment variable"),
        ({"secrets": {"RELGATE_VERSION": "x"}}, "secrets: RELGATE_VERSION is set by relgate"),
        (
            {"env_allow": ["RELGATE_DATABASE_URL"]},
            "env_allow: RELGATE_DATABASE_URL cannot be passed",
        ),
        (
            {"secrets": {"TOKEN": "x"}, "secret_env": {"TOKEN": "SERVER_TOKEN"}},
            "TOKEN is given both as a secret and as a secret_env",
        ),
        ({"type": "ftp"}, "Input should be 'command', 'kubernetes' or 'gitops'"),
        ({"type": "gitops"}, "a deployer of type gitops needs its `gitops` settings"),
        ({"command": None}, "a deployer of type command needs a command"),
        ({"run_as": "root; rm -rf /"}, "is not a user name"),
    ],
)
def test_an_invalid_definition_is_refused_naming_what_is_wrong(
    fields: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        definition(**fields)

    assert expected in str(caught.value)


GITOPS = {
    "repository": "git@git.example:platform/config.git",
    "file": "apps/payments/values.yaml",
    "format": "helm",
    "digest_key": "image.digest",
    "health": {
        "type": "argocd",
        "url": "https://argocd.example",
        "application": "payments-prod",
        "token_env": "ARGOCD_TOKEN",
    },
}


def test_a_registered_gitops_deployer_stands_for_the_gitops_spec_it_holds() -> None:
    registered = RegisteredDeployer.model_validate(
        {"name": "payments-config", "type": "gitops", "gitops": GITOPS}
    )

    spec = registered.deployer_spec({})

    assert isinstance(spec, GitopsDeployerSpec)
    assert spec.type == "gitops"
    assert spec.repository == "git@git.example:platform/config.git"
    assert spec.branch == "main"
    assert spec.digest_key == "image.digest"
    assert registered.verify_spec({}) is None
    # stored as JSON in the database and read back the same
    again = RegisteredDeployer.model_validate(registered.model_dump(mode="json"))
    assert again == registered
    assert again.public()["gitops"]["health"]["token_env"] == "ARGOCD_TOKEN"


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({"file": "/etc/passwd"}, "must be a file path inside the repository"),
        ({"repository": "ext::sh -c id"}, "transport helpers (TRANSPORT::) are not allowed"),
        (
            {
                "health": {
                    "type": "argocd",
                    "url": "https://a",
                    "application": "x",
                    "token_env": "RELGATE_DATABASE_URL",
                }
            },
            "RELGATE_* variables are relgate's own",
        ),
    ],
)
def test_a_registered_gitops_deployer_with_bad_settings_is_refused(
    settings: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        RegisteredDeployer.model_validate(
            {"name": "payments-config", "type": "gitops", "gitops": {**GITOPS, **settings}}
        )

    assert expected in str(caught.value)


def test_a_gitops_deployer_without_its_settings_is_refused() -> None:
    with pytest.raises(ValidationError) as caught:
        RegisteredDeployer.model_validate({"name": "payments-config", "type": "gitops"})

    assert "a deployer of type gitops needs its `gitops` settings" in str(caught.value)


def test_the_servers_deployers_file_may_define_a_gitops_deployer(tmp_path: Path) -> None:
    from relgate.promotion.deployers import load_deployers_file

    file = tmp_path / "deployers.yaml"
    file.write_text(
        "deployers:\n"
        "  - name: payments-config\n"
        "    type: gitops\n"
        "    gitops:\n"
        "      repository: git@git.example:platform/config.git\n"
        "      file: apps/payments/kustomization.yaml\n"
        "      format: kustomize\n"
        "      image: payments\n"
        "      health: {type: http, url: 'https://payments.example/healthz'}\n"
    )

    [loaded] = load_deployers_file(file)

    spec = loaded.deployer_spec({})
    assert isinstance(spec, GitopsDeployerSpec)
    assert (spec.format, spec.image, spec.branch) == ("kustomize", "payments", "main")


def test_a_deployers_file_with_a_hostile_gitops_path_names_file_line_and_field(
    tmp_path: Path,
) -> None:
    from relgate.errors import InvalidConfig
    from relgate.promotion.deployers import load_deployers_file

    file = tmp_path / "deployers.yaml"
    file.write_text(
        "deployers:\n"
        "  - name: payments-config\n"
        "    type: gitops\n"
        "    gitops: {repository: /srv/config.git, file: /etc/passwd, format: helm, key: image}\n"
    )

    with pytest.raises(InvalidConfig) as caught:
        load_deployers_file(file)

    message = str(caught.value)
    assert message.startswith(f"{file}:4: deployers[0].gitops.file: ")
    assert "must be a file path inside the repository" in message
