"""The `record` deployer a server always offers, and the `fake` one only tests add."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.deploy import fake
from relgate.deploy.config import FakeDeployerSpec, RecordDeployerSpec
from relgate.deploy.factory import BuildContext, default_registry
from relgate.deploy.fake import FakeDeployer
from relgate.deploy.ports import DeployRequest

REQUEST = DeployRequest(
    deployment_id="3",
    service="shop",
    environment="production",
    version="1.0.0",
    artifact="reg/shop@sha256:" + "a" * 64,
    previous_artifact=None,
    reason="promote",
)


def test_record_deploys_nothing_and_says_so(tmp_path: Path) -> None:
    deployer = default_registry().deployer(
        RecordDeployerSpec(type="record"), BuildContext(base_dir=tmp_path)
    )
    lines: list[str] = []

    outcome = deployer.deploy(REQUEST, lines.append)

    assert outcome.succeeded
    assert outcome.reason.startswith("recorded only (deployer: record)")
    assert lines == ["recorded only: shop@1.0.0 in production"]


def test_fake_is_offered_only_once_a_test_registers_it(tmp_path: Path) -> None:
    registry = default_registry()
    spec = FakeDeployerSpec(type="fake", name="slow")
    assert "fake" not in registry.deployer_types
    with pytest.raises(KeyError, match="no deployer of type 'fake'"):
        registry.deployer(spec, BuildContext(base_dir=tmp_path))

    scripted = FakeDeployer()
    fake.register(registry, {"slow": scripted})

    assert registry.deployer(spec, BuildContext(base_dir=tmp_path)) is scripted
    with pytest.raises(KeyError, match="no fake deployer named 'other'"):
        registry.deployer(FakeDeployerSpec(type="fake", name="other"), BuildContext(tmp_path))
