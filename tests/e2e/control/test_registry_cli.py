"""`relgate release create` with a tag, against a real server configured with a real registry."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.control.conftest import RelgateServer, api, run_cli, start_server, stop_server
from tests.support.registry import RegistryServer, running_registry, write_registries_file

PIPELINE = "service: shop\nenvironments:\n  - name: dev\n    deployer: {type: record}\n"


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with running_registry(tmp_path / "registry") as server:
        yield server


@pytest.fixture
def server(tmp_path: Path, registry: RegistryServer) -> Iterator[RelgateServer]:
    workdir = tmp_path / "server"
    workdir.mkdir()
    registries = write_registries_file(
        workdir / "registries.json", {"host": registry.host, "url": registry.url}
    )
    proc, url, token = start_server(workdir, env={"RELGATE_REGISTRIES_FILE": str(registries)})
    try:
        yield url, token, workdir
    finally:
        stop_server(proc)


def test_release_create_with_a_tag_records_the_digest_the_registry_holds(
    server: RelgateServer, registry: RegistryServer
) -> None:
    url, admin, _ = server
    api(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE})
    digest = registry.push_image("shop/web", "1.4.0", layer=b"shop 1.4.0")

    created = run_cli(
        "release", "create", "shop", "--version", "1.4.0",
        "--artifact", f"{registry.host}/shop/web:1.4.0", url=url, token=admin,
    )  # fmt: skip
    shown = api(server, "GET", "/api/v1/releases/shop/1.4.0")

    assert created.returncode == 0, created.stderr
    assert f"{registry.host}/shop/web@{digest}" in created.stdout
    assert shown["artifact"] == f"{registry.host}/shop/web@{digest}"
    assert shown["digest"] == digest


def test_release_create_of_a_digest_the_registry_lacks_exits_2_naming_it(
    server: RelgateServer, registry: RegistryServer
) -> None:
    url, admin, _ = server
    api(server, "POST", "/api/v1/pipelines", json={"source": PIPELINE})
    artifact = f"{registry.host}/shop/web@sha256:{'e' * 64}"

    missing = run_cli(
        "release", "create", "shop", "--version", "1.5.0", "--artifact", artifact,
        url=url, token=admin,
    )  # fmt: skip
    registry.stop()
    down = run_cli(
        "release", "create", "shop", "--version", "1.5.1",
        "--artifact", f"{registry.host}/shop/web:1.5.1", url=url, token=admin,
    )  # fmt: skip

    assert missing.returncode == 2
    assert artifact in missing.stderr
    assert "not in the registry" in missing.stderr
    assert down.returncode == 1
    assert f"registry {registry.host}" in down.stderr
    assert "cannot reach" in down.stderr
    assert "Traceback" not in missing.stderr + down.stderr
    assert api(server, "GET", "/api/v1/services/shop/releases") == []
