"""How commands and health checks are named in messages."""

from __future__ import annotations

from relgate.deploy.command import program_name
from relgate.deploy.ports import DeployRequest
from relgate.deploy.verify import expand, redact

REQUEST = DeployRequest(
    deployment_id="d-1",
    service="payments",
    environment="staging",
    version="1.4.0",
    artifact="registry.example/payments@sha256:" + "a" * 64,
    previous_artifact=None,
    reason="promote",
)


def test_the_program_of_a_shell_line_is_its_first_word() -> None:
    assert program_name("./deploy.sh --env prod") == "./deploy.sh"


def test_leading_assignments_are_not_the_program() -> None:
    assert program_name("REGION=eu ./deploy.sh") == "./deploy.sh"


def test_the_program_of_an_argv_is_its_first_item() -> None:
    assert program_name(["helm", "upgrade"]) == "helm"


def test_an_unparsable_shell_line_is_named_whole() -> None:
    assert program_name("echo 'unterminated") == "echo 'unterminated"


def test_placeholders_are_replaced_from_the_request_and_other_braces_kept() -> None:
    assert (
        expand("http://{service}.{environment}/v?q={version}&x={other}", REQUEST)
        == "http://payments.staging/v?q=1.4.0&x={other}"
    )


def test_a_password_in_a_health_url_is_hidden() -> None:
    assert redact("https://ops:s3cret@status.example/healthz") == (
        "https://ops:***@status.example/healthz"
    )


def test_a_url_without_password_is_shown_as_it_is() -> None:
    assert redact("http://127.0.0.1:8080/healthz?x=1") == "http://127.0.0.1:8080/healthz?x=1"
