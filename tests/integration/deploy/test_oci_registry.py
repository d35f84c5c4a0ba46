"""The registry client and the release digest check against a real docker-registry on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from relgate.auth.model import Principal, Role
from relgate.bootstrap import Services, build, check_schema
from relgate.config import Settings
from relgate.deploy.oci import Manifest, RegistryClient
from relgate.deploy.registries import RegistryConfig
from relgate.errors import BadInput, ExternalError
from relgate.manifest.pipeline import parse_pipeline
from tests.support.registry import (
    RegistryServer,
    TokenService,
    running_registry,
    write_registries_file,
)
from tests.support.server import free_port

CI = Principal("ci-bot", Role.CI)
ADMIN = Principal("admin", Role.ADMIN)
MISSING = "sha256:" + "0" * 64


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegistryServer]:
    with running_registry(tmp_path_factory.mktemp("registry")) as server:
        yield server


def config_of(registry: RegistryServer, **extra: object) -> RegistryConfig:
    return RegistryConfig.model_validate({"host": registry.host, "url": registry.url, **extra})


def services_with(tmp_path: Path, *entries: dict[str, object]) -> Services:
    registries = write_registries_file(tmp_path / "registries.json", *entries)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'relgate.db'}", registries_file=registries
    )
    check_schema(settings)
    built = build(settings, base_dir=tmp_path)
    built.pipelines.apply(
        ADMIN,
        parse_pipeline(
            "service: app\nenvironments:\n  - name: dev\n    deployer: {type: record}\n",
            "relgate.yaml",
        ),
    )
    return built


def test_a_manifest_is_read_by_tag_and_by_digest_with_its_digest_checked(
    registry: RegistryServer,
) -> None:
    digest = registry.push_image("team/app", "1.0.0", layer=b"layer one")
    client = RegistryClient(config_of(registry), {})

    by_tag = client.get("team/app", "1.0.0")
    by_digest = client.get("team/app", digest)

    assert by_tag is not None and by_digest is not None
    assert by_tag.digest == by_digest.digest == digest
    assert by_digest.media_type == "application/vnd.oci.image.manifest.v1+json"
    assert client.head("team/app", "1.0.0") == digest
    assert client.get("team/app", MISSING) is None
    assert client.head("team/app", "no-such-tag") is None
    assert client.head("team/never-pushed", "1.0.0") is None


def test_putting_a_manifest_under_a_tag_moves_the_tag(registry: RegistryServer) -> None:
    first = registry.push_image("team/mover", "a", layer=b"first")
    second = registry.push_image("team/mover", "b", layer=b"second")
    client = RegistryClient(config_of(registry), {})
    manifest = client.get("team/mover", second)
    assert manifest is not None

    client.put("team/mover", "stable", manifest)
    assert registry.tag_digest("team/mover", "stable") == second
    back = client.get("team/mover", first)
    assert back is not None
    client.put("team/mover", "stable", back)

    assert registry.tag_digest("team/mover", "stable") == first


def test_a_manifest_whose_bytes_do_not_hash_to_the_digest_is_refused(
    registry: RegistryServer,
) -> None:
    digest = registry.push_image("team/honest", "1", layer=b"honest")
    client = RegistryClient(config_of(registry), {})
    real = client.get("team/honest", digest)
    assert real is not None

    forged = Manifest(digest=digest, media_type=real.media_type, content=real.content + b" ")
    with pytest.raises(ExternalError, match="stored as sha256:"):
        client.put("team/honest", "forged", forged)


def test_a_release_on_a_configured_registry_needs_its_digest_there(
    registry: RegistryServer, tmp_path: Path
) -> None:
    digest = registry.push_image("team/app", "1.1.0", layer=b"release 1.1.0")
    services = services_with(tmp_path, {"host": registry.host, "url": registry.url})

    release, created = services.releases.create(
        CI, service="app", version="1.1.0", artifact=f"{registry.host}/team/app@{digest}"
    )
    assert created and release.digest == digest

    artifact = f"{registry.host}/team/app@{MISSING}"
    with pytest.raises(BadInput) as caught:
        services.releases.create(CI, service="app", version="1.1.1", artifact=artifact)
    assert artifact in str(caught.value)
    assert "not in the registry" in str(caught.value)
    assert [r.version for r in services.releases.list_releases(CI, "app")] == ["1.1.0"]


def test_a_tag_is_resolved_and_the_release_records_the_digest(
    registry: RegistryServer, tmp_path: Path
) -> None:
    digest = registry.push_image("team/app", "1.4.0", layer=b"release 1.4.0")
    services = services_with(tmp_path, {"host": registry.host, "url": registry.url})

    release, _ = services.releases.create(
        CI, service="app", version="1.4.0", artifact=f"{registry.host}/team/app:1.4.0"
    )

    assert release.artifact == f"{registry.host}/team/app@{digest}"
    assert release.digest == digest
    stored = services.releases.get(CI, "app", "1.4.0")
    assert stored.artifact == release.artifact
    with pytest.raises(BadInput, match=r"the tag '9\.9\.9' is not in the registry"):
        services.releases.create(
            CI, service="app", version="9.9.9", artifact=f"{registry.host}/team/app:9.9.9"
        )


def test_an_unconfigured_registry_is_not_asked_and_a_tag_there_is_refused(
    registry: RegistryServer, tmp_path: Path
) -> None:
    services = services_with(tmp_path, {"host": registry.host, "url": registry.url})

    release, _ = services.releases.create(
        CI, service="app", version="2.0.0", artifact=f"ghcr.io/team/app@{MISSING}"
    )
    assert release.artifact == f"ghcr.io/team/app@{MISSING}"
    with pytest.raises(BadInput, match="is not pinned by digest"):
        services.releases.create(
            CI, service="app", version="2.0.1", artifact="ghcr.io/team/app:2.0.1"
        )


def test_a_registry_that_is_down_refuses_the_release_clearly(tmp_path: Path) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens there
    services = services_with(tmp_path, {"host": host, "url": f"http://{host}"})

    with pytest.raises(ExternalError) as caught:
        services.releases.create(
            CI, service="app", version="1.0.0", artifact=f"{host}/team/app@{MISSING}"
        )

    assert f"registry {host}" in str(caught.value)
    assert "cannot reach" in str(caught.value)
    assert services.releases.list_releases(CI, "app") == []


def test_a_registry_with_basic_auth_is_asked_with_the_server_credentials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_registry(tmp_path / "auth", credentials=("ci", "s3cret")) as secured:
        digest = secured.push_image("team/app", "3.0.0", layer=b"secured")
        auth = {"type": "basic", "username_env": "REG_USER", "password_env": "REG_PASSWORD"}
        monkeypatch.setenv("REG_USER", "ci")
        monkeypatch.setenv("REG_PASSWORD", "s3cret")
        services = services_with(tmp_path, {"host": secured.host, "url": secured.url, "auth": auth})

        release, _ = services.releases.create(
            CI, service="app", version="3.0.0", artifact=f"{secured.host}/team/app:3.0.0"
        )
        assert release.digest == digest

        anonymous = RegistryClient(config_of(secured), {})
        with pytest.raises(ExternalError, match="asks for a user name and password"):
            anonymous.get("team/app", digest)
        wrong = RegistryClient(
            config_of(secured, auth=auth), {"REG_USER": "ci", "REG_PASSWORD": "nope"}
        )
        with pytest.raises(ExternalError, match="refused the credentials"):
            wrong.get("team/app", digest)


def test_a_registry_with_token_auth_is_asked_through_its_token_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens = TokenService(tmp_path / "tokens", ("robot", "t0ken-pass"))
    try:
        with running_registry(tmp_path / "registry", tokens=tokens) as secured:
            first = secured.push_image("team/app", "4.0.0", layer=b"token one")
            second = secured.push_image("team/app", "4.1.0", layer=b"token two")
            auth = {"type": "basic", "username_env": "REG_USER", "password_env": "REG_PASSWORD"}
            monkeypatch.setenv("REG_USER", "robot")
            monkeypatch.setenv("REG_PASSWORD", "t0ken-pass")
            services = services_with(
                tmp_path, {"host": secured.host, "url": secured.url, "auth": auth}
            )

            release, _ = services.releases.create(
                CI, service="app", version="4.0.0", artifact=f"{secured.host}/team/app:4.0.0"
            )
            client = RegistryClient(
                config_of(secured, auth=auth), {"REG_USER": "robot", "REG_PASSWORD": "t0ken-pass"}
            )
            manifest = client.get("team/app", second)
            assert manifest is not None
            client.put("team/app", "stable", manifest)

            assert release.digest == first
            assert secured.tag_digest("team/app", "stable") == second
            # The registry words the push scope's actions in either order.
            asked = {
                (s.rsplit(":", 1)[0], frozenset(s.rsplit(":", 1)[1].split(",")))
                for s in tokens.scopes
            }
            assert ("repository:team/app", frozenset({"pull"})) in asked
            assert ("repository:team/app", frozenset({"pull", "push"})) in asked
            anonymous = RegistryClient(config_of(secured), {})
            with pytest.raises(ExternalError, match=r"token service .* answered 401"):
                anonymous.head("team/app", "4.0.0")
    finally:
        tokens.close()
