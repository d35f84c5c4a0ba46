"""Names checked with a regular expression end where the text ends.

``$`` also matches before a trailing newline, so ``re.match(r"^[a-z]+$",
"payments\\n")`` passes: a name with a newline would reach kubectl, git, an
HAProxy runtime-API line or a URL. Every name pattern ends in ``\\Z``.
"""

from __future__ import annotations

import re

import pytest

from relgate.deploy import config as deploy_config
from relgate.deploy import registries
from relgate.manifest import model as manifest_model
from relgate.notify import subscribers
from relgate.routing import config as routing_config

PATTERNS: dict[str, tuple[re.Pattern[str], str]] = {
    "kubernetes name": (deploy_config.K8S_NAME, "payments"),
    "kubernetes label": (deploy_config.K8S_LABEL, "payments"),
    "deployer name": (deploy_config.DEPLOYER_NAME, "prod-cluster"),
    "environment variable": (deploy_config.ENV_NAME, "RELGATE_VERSION"),
    "unix user": (deploy_config.USER_NAME, "deploy"),
    "git branch": (deploy_config.BRANCH_NAME, "main"),
    "manifest key path": (deploy_config.KEY_PATH, "spec.image"),
    "service name": (manifest_model.SERVICE_NAME, "payments"),
    "image repository": (registries.REPOSITORY, "acme/payments"),
    "image tag": (registries.TAG, "stable"),
    "subscriber name": (subscribers.NAME, "team-slack"),
    "haproxy name": (routing_config.HAPROXY_NAME, "canary"),
}


@pytest.mark.parametrize("what", sorted(PATTERNS))
def test_a_name_with_a_trailing_newline_is_refused(what: str) -> None:
    pattern, good = PATTERNS[what]

    assert pattern.match(good)
    assert not pattern.match(good + "\n")
    assert not pattern.match(good + "\n; rm -rf /")
