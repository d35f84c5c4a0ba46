"""The deployer: and verify: keys of relgate.yaml."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from relgate.deploy.config import (
    CommandDeployerSpec,
    CommandVerifySpec,
    DeployerSpec,
    HttpVerifySpec,
    VerifySpec,
)
from relgate.errors import InvalidConfig
from relgate.manifest.loader import load_text


class Environment(BaseModel):
    """How an environment of relgate.yaml embeds the two keys."""

    model_config = ConfigDict(extra="forbid")

    deployer: DeployerSpec
    verify: VerifySpec | None = None


def load(text: str) -> Environment:
    return load_text(Environment, text, "relgate.yaml")


def test_a_full_command_deployer_and_http_verify_load_with_their_values() -> None:
    env = load(
        """\
deployer:
  type: command
  command: ./deploy.sh
  timeout_seconds: 120
  cwd: ops
  env: {REGION: eu-west-1}
verify:
  type: http
  url: http://127.0.0.1:8080/healthz
  timeout_seconds: 30
  interval_seconds: 2
  expect_status: 204
  expect_body_contains: ok
  consecutive_successes: 3
"""
    )
    assert env.deployer == CommandDeployerSpec(
        type="command",
        command="./deploy.sh",
        timeout_seconds=120,
        cwd="ops",
        env={"REGION": "eu-west-1"},
    )
    assert isinstance(env.verify, HttpVerifySpec)
    assert env.verify.expect_status == 204
    assert env.verify.consecutive_successes == 3


def test_defaults_match_the_documented_ones() -> None:
    env = load("deployer: {type: command, command: ./deploy.sh}\n")
    assert env.deployer.timeout_seconds == 300
    assert env.deployer.cwd is None
    assert env.deployer.env == {}
    assert env.verify is None
    http = HttpVerifySpec(type="http", url="http://127.0.0.1/healthz")
    assert (http.timeout_seconds, http.interval_seconds, http.expect_status) == (60, 1, 200)
    assert http.consecutive_successes == 1
    assert http.expect_body_contains is None


def test_a_command_may_be_a_list_of_arguments() -> None:
    env = load("deployer: {type: command, command: [helm, upgrade, --install, web, ./chart]}\n")
    assert env.deployer.command == ["helm", "upgrade", "--install", "web", "./chart"]


def test_a_command_verify_is_chosen_by_its_type() -> None:
    env = load(
        "deployer: {type: command, command: ./deploy.sh}\n"
        "verify: {type: command, command: ./smoke.sh, timeout_seconds: 5}\n"
    )
    assert env.verify == CommandVerifySpec(type="command", command="./smoke.sh", timeout_seconds=5)


def test_numbers_in_env_become_text() -> None:
    env = load("deployer: {type: command, command: x, env: {PORT: 8080, RATIO: 0.5}}\n")
    assert env.deployer.env == {"PORT": "8080", "RATIO": "0.5"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "deployer:\n  type: ftp\n",
            "relgate.yaml:2: deployer: give `ref: NAME` (a deployer registered on the server), "
            "`type: command`, `type: kubernetes`, `type: gitops`, or `type: record`",
        ),
        (
            "deployer: {type: gitops, repository: /srv/config.git, format: helm, key: image,\n"
            "  file: ../../etc/passwd}\n",
            "'../../etc/passwd' must be a file path inside the repository",
        ),
        (
            "deployer: {type: command, command: x}\nverify:\n  type: ftp\n",
            "relgate.yaml:3: verify: type must be one of: http, command",
        ),
        (
            "deployer: {type: command, command: x}\nverify:\n  url: http://x/\n",
            "relgate.yaml:3: verify: type must be one of: http, command",
        ),
        (
            "deployer:\n  type: command\n  command: '  '\n",
            "must not be empty",
        ),
        (
            "deployer:\n  type: command\n  command: []\n",
            "must name a program to run",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  timeout_seconds: 0\n",
            "timeout_seconds: must be greater than 0 (got 0)",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  env:\n    RELGATE_VERSION: '1'\n",
            "RELGATE_VERSION is set by relgate from the deployment and cannot be set",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  env:\n    'BAD-NAME': '1'\n",
            "'BAD-NAME' is not a valid environment variable name",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  env_allow: [RELGATE_DATABASE_URL]\n",
            "RELGATE_DATABASE_URL cannot be passed: RELGATE_* variables of the server are "
            "relgate's own settings",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  env_allow: [relgate_token]\n",
            "relgate_token cannot be passed",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  env_allow: ['A B']\n",
            "'A B' is not a valid environment variable name",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  secrets: {RELGATE_REASON: x}\n",
            "RELGATE_REASON is set by relgate from the deployment and cannot be set",
        ),
        (
            "deployer:\n  type: command\n  command: x\n  run_as: 'root; rm'\n",
            "'root; rm' is not a valid user name",
        ),
        (
            "deployer: {type: command, command: x}\nverify:\n  type: http\n  url: ftp://host/\n",
            "must be an http:// or https:// address",
        ),
        (
            "deployer: {type: command, command: x}\n"
            "verify: {type: http, url: 'http://h/', consecutive_successes: 0}\n",
            "consecutive_successes: must be greater than or equal to 1 (got 0)",
        ),
        (
            "deployer: {type: command, command: x}\n"
            "verify: {type: http, url: 'http://h/', expect_status: 700}\n",
            "expect_status: must be less than or equal to 599 (got 700)",
        ),
    ],
)
def test_invalid_settings_are_refused_with_a_message_naming_them(text: str, expected: str) -> None:
    with pytest.raises(InvalidConfig) as caught:
        load(text)
    assert expected in str(caught.value)
    assert str(caught.value).startswith("relgate.yaml:")


def test_an_unknown_key_is_refused_naming_the_key() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load("deployer:\n  type: command\n  command: x\n  timeout: 5\n")
    assert "timeout" in caught.value.field
    assert "unknown key (a typo?)" in str(caught.value)


def test_a_true_or_false_env_value_must_be_quoted() -> None:
    with pytest.raises(InvalidConfig) as caught:
        load("deployer: {type: command, command: x, env: {DEBUG: yes}}\n")
    assert "env.DEBUG" in caught.value.field


def test_specs_survive_a_round_trip_through_plain_data() -> None:
    # the worker stores an environment's spec as data and validates it again
    env = load(
        "deployer: {type: command, command: [./deploy.sh, prod], env: {PORT: 8080}}\n"
        "verify: {type: http, url: 'http://127.0.0.1/healthz', expect_body_contains: ok}\n"
    )
    assert Environment.model_validate(env.model_dump()) == env
    assert Environment.model_validate_json(env.model_dump_json()) == env
