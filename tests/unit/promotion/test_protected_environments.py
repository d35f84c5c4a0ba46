"""Which environments are protected, and what relgate.yaml may not say about them."""

from __future__ import annotations

import textwrap

import pytest

from relgate.deploy.config import DeployerRef, RecordDeployerSpec
from relgate.errors import InvalidConfig
from relgate.manifest.pipeline import parse_pipeline


def parse(body: str) -> object:
    return parse_pipeline("service: shop\nenvironments:\n" + textwrap.dedent(body), "relgate.yaml")


def protected(body: str) -> dict[str, bool]:
    applied = parse_pipeline(
        "service: shop\nenvironments:\n" + textwrap.dedent(body), "relgate.yaml"
    )
    return {env.name: bool(env.protected) for env in applied.pipeline.environments}


def refusal(body: str) -> str:
    with pytest.raises(InvalidConfig) as caught:
        parse(body)
    return str(caught.value)


def test_the_last_environment_is_protected_by_default_and_the_others_are_not() -> None:
    record = "    deployer: {type: record}\n"
    body = f"  - name: dev\n{record}  - name: staging\n{record}  - name: production\n{record}"
    assert protected(body) == {
        "dev": False,
        "staging": False,
        "production": True,
    }


def test_any_environment_can_be_protected_and_the_last_can_say_it_is_not() -> None:
    body = "  - name: staging\n    protected: true\n    deployer: {type: record}\n"
    body += "  - name: live\n    protected: false\n    deployer: {type: record}\n"

    assert protected(body) == {"staging": True, "live": False}


def test_the_resolved_protection_is_stored_with_the_pipeline() -> None:
    applied = parse_pipeline(
        "service: shop\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"
        "  - name: production\n    deployer: {type: record}\n",
        "relgate.yaml",
    )

    dumped = applied.pipeline.model_dump(mode="json")["environments"]

    assert [env["protected"] for env in dumped] == [False, True]


def test_a_protected_environment_may_use_a_registered_deployer_and_an_http_check() -> None:
    applied = parse_pipeline(
        textwrap.dedent(
            """\
            service: shop
            environments:
              - name: production
                deployer: {ref: payments-prod}
                verify: {type: http, url: "http://127.0.0.1:8803/healthz"}
            """
        ),
        "relgate.yaml",
    )

    production = applied.pipeline.environments[0]
    assert production.deployer == DeployerRef(ref="payments-prod")
    assert applied.pipeline.deployer_refs() == [(0, "payments-prod")]


def test_a_command_of_its_own_in_a_protected_environment_is_refused_naming_line_and_field() -> None:
    message = refusal(
        """\
          - name: dev
            deployer: {type: command, command: ./deploy.sh}
          - name: production
            deployer: {type: command, command: ./deploy.sh}
        """
    )

    assert message == (
        "relgate.yaml:6: environments[1].deployer: production is protected: its deployer must "
        "be one an admin registered on the server (`relgate deployers add NAME --type command "
        "--command ...` or `--type kubernetes --workload ...`), named here as "
        "`deployer: {ref: NAME}`; a deployer of relgate.yaml's own is not run there"
    )


def test_a_kubernetes_deployer_of_its_own_in_a_protected_environment_is_refused() -> None:
    message = refusal(
        """\
          - name: dev
            deployer: {type: command, command: ./deploy.sh}
          - name: production
            deployer: {type: kubernetes, workload: payments}
        """
    )

    assert message.startswith(
        "relgate.yaml:6: environments[1].deployer: production is protected: its deployer must "
        "be one an admin registered on the server"
    )


def test_a_verify_command_of_its_own_in_a_protected_environment_is_refused() -> None:
    message = refusal(
        """\
          - name: production
            deployer: {ref: prod}
            verify: {type: command, command: ./smoke.sh}
        """
    )

    assert message.startswith(
        "relgate.yaml:5: environments[0].verify: production is protected: it may not run a "
        "verify command of relgate.yaml's own"
    )


def test_an_unprotected_environment_keeps_its_own_command() -> None:
    body = "  - name: production\n    protected: false\n"
    body += "    deployer: {type: command, command: ./deploy.sh}\n"

    assert protected(body) == {"production": False}


def test_a_reference_must_be_a_deployer_name() -> None:
    message = refusal("  - name: production\n    deployer: {ref: 'Not A Name'}\n")

    assert message.startswith("relgate.yaml:4: environments[0].deployer.ref: ")
    assert "must be lowercase letters" in message


def test_a_reference_cannot_carry_a_command() -> None:
    message = refusal("  - name: production\n    deployer: {ref: prod, command: ./x.sh}\n")

    assert message.startswith("relgate.yaml:4: environments[0].deployer.command: ")


def test_a_protected_environment_may_not_bring_a_gitops_deployer_of_its_own() -> None:
    message = refusal(
        "  - name: production\n"
        "    deployer:\n"
        "      type: gitops\n"
        "      repository: /srv/config.git\n"
        "      file: values.yaml\n"
        "      format: helm\n"
        "      digest_key: image.digest\n"
    )

    assert "production is protected: its deployer must be one an admin registered" in message
    assert "a deployer of relgate.yaml's own is not run there" in message


def test_an_environment_without_a_deployer_is_refused_naming_it_and_the_record_type() -> None:
    message = refusal("  - name: dev\n    deployer: {type: record}\n  - name: production\n")

    assert message.startswith("relgate.yaml:5: environments[1]: environment 'production' has no")
    assert "`deployer: {type: record}`" in message


def test_a_record_environment_may_be_protected() -> None:
    applied = parse("  - name: production\n    deployer: {type: record}\n")

    assert applied.pipeline.environments[0].deployer == RecordDeployerSpec(type="record")  # type: ignore[attr-defined]
