"""The light SDK package: the relgate-sdk wheel built from this checkout, installed into a
fresh virtual environment, installs none of the server's dependencies and runs the checkout
example (examples/payments-service/app/checkout.py) against a real `relgate serve`.

The wheels are built with pip (build isolation: setuptools from the local index) from a
copy of the checkout's sources, so the build writes nothing into the checkout.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from relgate.auth.model import Principal, Role
from relgate.bootstrap import build
from relgate.config import Settings
from tests.support.server import start_server

pytestmark = pytest.mark.slow  # two wheel builds, two virtual environments: about 90 s

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "payments-service" / "app" / "checkout.py"
ADMIN = Principal("tester", Role.ADMIN)
CHECKOUT = "express-checkout-v2"


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=600
    )
    assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _requirement_names(requirements: list[str]) -> set[str]:
    return {canonicalize_name(Requirement(r).name) for r in requirements}


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The relgate-sdk and relgate wheels of this checkout."""
    source = tmp_path_factory.mktemp("source")
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "build")
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=ignore)
    shutil.copytree(ROOT / "sdk", source / "sdk", ignore=ignore)
    out = tmp_path_factory.mktemp("wheels")
    pip = (sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", out)
    _run(*pip, source / "sdk", cwd=source)
    _run(*pip, source, cwd=source)
    [sdk] = out.glob("relgate_sdk-*.whl")
    [server] = out.glob("relgate-*.whl")
    return {"sdk": sdk, "server": server}


@pytest.fixture(scope="module")
def sdk_venv(tmp_path_factory: pytest.TempPathFactory, wheels: dict[str, Path]) -> Path:
    """A fresh virtual environment with the relgate-sdk wheel and what pip pulls in for it."""
    venv = tmp_path_factory.mktemp("venv") / "sdk"
    _run(sys.executable, "-m", "venv", venv, cwd=venv.parent)
    _run(
        venv / "bin" / "python",
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        wheels["sdk"],
        cwd=venv.parent,
    )
    return venv


def _python_files(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return {n for n in archive.namelist() if n.startswith("relgate/")}


def test_the_two_wheels_share_no_file_and_together_hold_every_module(
    wheels: dict[str, Path],
) -> None:
    sdk, server = _python_files(wheels["sdk"]), _python_files(wheels["server"])
    sources = {
        str(p.relative_to(ROOT / "src"))
        for p in (ROOT / "src" / "relgate").rglob("*.py")
        if "__pycache__" not in p.parts
    }

    assert not sdk & server
    assert "relgate/flags/evaluate.py" in sdk
    assert "relgate/flags/service.py" in server
    assert sources <= sdk | server
    assert {n for n in sdk | server if n.endswith(".py")} == sources


def _closure(names: set[str], venv: Path) -> set[str]:
    """The distributions `names` need, themselves included, as installed in `venv`."""
    probe = (
        "import json, sys\n"
        "from importlib import metadata\n"
        "from pip._vendor.packaging.requirements import Requirement\n"
        "from pip._vendor.packaging.utils import canonicalize_name\n"
        "seen, todo = set(), list(sys.argv[1:])\n"
        "while todo:\n"
        "    name = canonicalize_name(todo.pop())\n"
        "    if name in seen: continue\n"
        "    seen.add(name)\n"
        "    for line in metadata.requires(name) or []:\n"
        "        r = Requirement(line)\n"
        "        if r.marker is None or r.marker.evaluate({'extra': ''}): todo.append(r.name)\n"
        "print(json.dumps(sorted(seen)))\n"
    )
    return set(json.loads(_run(venv / "bin" / "python", "-c", probe, *names, cwd=venv)))


def test_installing_the_sdk_installs_none_of_the_servers_dependencies(sdk_venv: Path) -> None:
    python = sdk_venv / "bin" / "python"
    listed = json.loads(_run(python, "-m", "pip", "list", "--format", "json", cwd=sdk_venv))
    installed = {canonicalize_name(d["name"]) for d in listed}
    server_toml = tomllib.loads((ROOT / "pyproject.toml").read_text())
    sdk_toml = tomllib.loads((ROOT / "sdk" / "pyproject.toml").read_text())
    server = _requirement_names(server_toml["project"]["dependencies"])
    sdk = _requirement_names(sdk_toml["project"]["dependencies"])
    needed = _closure({"relgate-sdk"}, sdk_venv)

    assert sdk | {"relgate-sdk"} <= installed
    # only relgate-sdk, what it needs and the venv's own pip: nothing else rides along
    assert installed - needed <= {"pip", "setuptools"}, installed - needed
    # the server's own dependencies (those the SDK's do not need themselves) are absent
    server_only = server - needed
    assert {"fastapi", "sqlalchemy", "alembic", "psycopg", "uvicorn", "pglast", "scipy"} <= (
        server_only
    )
    assert not installed & server_only, installed & server_only
    _run(python, "-m", "pip", "check", cwd=sdk_venv)


def test_the_installed_sdk_has_no_server_module(sdk_venv: Path) -> None:
    probe = (
        "import importlib.util, relgate.sdk; print(relgate.sdk.__file__);"
        "print([m for m in ('relgate.cli', 'relgate.store', 'relgate.api', 'relgate.flags.service')"
        " if importlib.util.find_spec(m) is not None])"
    )
    out = _run(sdk_venv / "bin" / "python", "-c", probe, cwd=sdk_venv)
    where, server_modules = out.splitlines()[:2]

    assert where.startswith(str(sdk_venv))
    assert server_modules == "[]"
    assert not (sdk_venv / "bin" / "relgate").exists()


@pytest.fixture
def checkout_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """A real `relgate serve` (SQLite) with the checkout flag on for premium customers."""
    from relgate.store import db

    workdir = tmp_path / "server"
    workdir.mkdir()
    url = f"sqlite:///{workdir / 'relgate.db'}"
    engine = db.make_engine(url)
    db.upgrade(engine)
    engine.dispose()
    services = build(Settings(database_url=url))
    _, token = services.tokens.create(
        "checkout-light", "client", "tester", environment="production"
    )
    services.flags.create(ADMIN, CHECKOUT, description="one-click checkout")
    strategy = {
        "name": "default",
        "parameters": {},
        "constraints": [{"contextName": "userTier", "operator": "IN", "values": ["premium"]}],
    }
    services.flags.set_strategies(ADMIN, CHECKOUT, "production", [strategy])
    services.flags.enable(ADMIN, CHECKOUT, "production")
    services.uow.engine.dispose()
    process = start_server(workdir, {"RELGATE_DATABASE_URL": url})
    try:
        yield process.url, token
    finally:
        process.stop()


def test_the_checkout_example_runs_on_the_light_package_against_relgate_serve(
    sdk_venv: Path, checkout_server: tuple[str, str], tmp_path: Path
) -> None:
    url, token = checkout_server
    env = {
        k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")
    }
    env.update(RELGATE_URL=url, FLAGS_TOKEN=token, XDG_CACHE_HOME=str(tmp_path / "cache"))

    out = _run(sdk_venv / "bin" / "python", EXAMPLE, cwd=tmp_path, env=env)

    assert out.splitlines() == [
        "premium customer u-1: express checkout",
        "free customer u-2: classic checkout",
    ]


def test_the_server_and_the_sdk_installed_together_then_the_server_removed(
    wheels: dict[str, Path], tmp_path: Path
) -> None:
    venv = tmp_path / "both"
    _run(sys.executable, "-m", "venv", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        wheels["sdk"],
        wheels["server"],
        cwd=tmp_path,
    )

    _run(python, "-m", "pip", "check", cwd=tmp_path)
    assert "Usage: relgate" in _run(venv / "bin" / "relgate", "--help", cwd=tmp_path)
    _run(python, "-c", "import relgate.flags.service, relgate.store.db, relgate.sdk", cwd=tmp_path)

    # each file belongs to one distribution: removing the server leaves the SDK whole
    _run(python, "-m", "pip", "uninstall", "--quiet", "--yes", "relgate", cwd=tmp_path)
    probe = (
        "import importlib.util, relgate.sdk, relgate.flags.evaluate;"
        "print(importlib.util.find_spec('relgate.cli'))"
    )
    assert _run(python, "-c", probe, cwd=tmp_path).strip() == "None"
    assert not (venv / "bin" / "relgate").exists()
