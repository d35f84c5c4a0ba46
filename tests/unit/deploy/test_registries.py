"""The registries file, OCI references and the stable tag of an environment (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.deploy.oci import RegistryClients, RegistryStableTagger
from relgate.deploy.ports import DeployRequest
from relgate.deploy.registries import (
    Registries,
    RegistryConfig,
    load_registries_file,
    parse_image,
)
from relgate.errors import BadInput, ExternalError, InvalidConfig
from relgate.manifest.pipeline import parse_pipeline

DIGEST = "sha256:" + "a" * 64


def test_a_reference_splits_into_host_repository_tag_and_digest() -> None:
    image = parse_image(f"registry.example.com:5000/team/app:1.4.0@{DIGEST}")

    assert (image.host, image.repository, image.tag, image.digest) == (
        "registry.example.com:5000",
        "team/app",
        "1.4.0",
        DIGEST,
    )
    assert image.pinned(DIGEST) == f"registry.example.com:5000/team/app@{DIGEST}"
    assert image.with_tag("stable") == "registry.example.com:5000/team/app:stable"


def test_a_reference_without_a_host_is_on_docker_hub() -> None:
    image = parse_image("nginx:1.27")

    assert (image.host, image.repository, image.tag) == ("docker.io", "library/nginx", "1.27")


@pytest.mark.parametrize(
    ("reference", "says"),
    [
        ("ghcr.io/Team/App:1", "is not a repository name"),
        ("ghcr.io/team/app:-bad", "is not a valid tag"),
        ("ghcr.io/team/app@sha256:abc", "the digest must be sha256"),
        ("ghcr.io/team/app", "names neither a tag nor a digest"),
    ],
)
def test_a_malformed_reference_is_refused_naming_it(reference: str, says: str) -> None:
    with pytest.raises(BadInput, match=says) as caught:
        parse_image(reference)

    assert reference in str(caught.value)


def test_a_registry_defaults_to_https_and_plain_http_is_only_for_loopback() -> None:
    assert RegistryConfig(host="ghcr.io").url == "https://ghcr.io"
    assert RegistryConfig(host="127.0.0.1:5000", url="http://127.0.0.1:5000/").url == (
        "http://127.0.0.1:5000"
    )
    with pytest.raises(ValueError, match="plain http only for a loopback"):
        RegistryConfig(host="registry.example.com", url="http://registry.example.com")
    assert RegistryConfig(
        host="registry.example.com", url="http://registry.example.com", insecure=True
    ).url.startswith("http://")


def test_the_registries_file_names_line_and_field_of_a_mistake(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text("registries:\n  - host: ghcr.io\n    auth: {type: basic, username_env: U}\n")

    with pytest.raises(InvalidConfig) as caught:
        load_registries_file(path)

    message = str(caught.value)
    assert f"{path}:3" in message
    assert "registries[0].auth" in message
    assert "password_env" in message


def test_a_host_listed_twice_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text("registries:\n  - host: ghcr.io\n  - host: GHCR.io\n")

    with pytest.raises(InvalidConfig, match=r"'ghcr\.io' is listed twice"):
        load_registries_file(path)


def test_credentials_come_from_the_named_server_variables() -> None:
    config = RegistryConfig.model_validate(
        {"host": "ghcr.io", "auth": {"type": "basic", "username_env": "U", "password_env": "P"}}
    )

    assert config.credentials({"U": "ci", "P": "secret"}) == ("ci", "secret")
    with pytest.raises(ExternalError, match="the server variable P"):
        config.credentials({"U": "ci"})


def test_only_references_on_a_configured_host_find_a_registry() -> None:
    registries = Registries([RegistryConfig(host="127.0.0.1:5000", url="http://127.0.0.1:5000")])

    assert registries.for_reference(f"127.0.0.1:5000/app@{DIGEST}") is not None
    assert registries.for_reference(f"ghcr.io/app@{DIGEST}") is None
    assert registries.for_reference(f"app@{DIGEST}") is None


def test_the_stable_tagger_leaves_an_unconfigured_registry_alone() -> None:
    tagger = RegistryStableTagger(RegistryClients(Registries([]), {}))
    lines: list[str] = []
    request = DeployRequest("1", "app", "production", "1.0.0", f"ghcr.io/app@{DIGEST}", None, "")

    outcome = tagger.move_stable(request, "stable", lines.append)

    assert outcome.succeeded
    assert lines == [outcome.reason]
    assert "not configured" in outcome.reason


PIPELINE = """\
service: app
environments:
  - name: dev
    deployer: {type: record}
  - name: staging
    deployer: {type: record}
    stable_tag: staging-stable
  - name: production
    deployer: {type: record}
"""


def test_the_last_environment_moves_stable_by_default_and_others_name_their_own() -> None:
    spec = parse_pipeline(PIPELINE, "relgate.yaml").pipeline

    assert [env.stable_tag for env in spec.environments] == [None, "staging-stable", "stable"]


@pytest.mark.parametrize("off", ["false", "null"])
def test_the_last_environment_can_turn_its_stable_tag_off(off: str) -> None:
    spec = parse_pipeline(PIPELINE + f"    stable_tag: {off}\n", "relgate.yaml").pipeline

    assert spec.environments[-1].stable_tag is None


def test_a_stored_pipeline_keeps_its_stable_tags_when_read_again() -> None:
    from relgate.promotion.pipeline import PipelineSpec

    spec = parse_pipeline(PIPELINE + "    stable_tag: false\n", "relgate.yaml").pipeline

    again = PipelineSpec.model_validate(spec.model_dump(mode="json"))

    assert [env.stable_tag for env in again.environments] == [None, "staging-stable", None]


def test_a_stable_tag_that_is_no_oci_tag_is_refused_naming_the_line() -> None:
    with pytest.raises(InvalidConfig) as caught:
        parse_pipeline(PIPELINE + "    stable_tag: .hidden\n", "relgate.yaml")

    message = str(caught.value)
    assert "relgate.yaml:10" in message
    assert "stable_tag" in message
    assert "must be an OCI tag" in message
