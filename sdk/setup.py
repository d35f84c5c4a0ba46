"""relgate-sdk ships only the modules named in modules.txt (setup.py of the server: the rest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.sdist import sdist

HERE = Path(__file__).resolve().parent

ONLY_A_WHEEL = (
    "relgate-sdk is built from a checkout of relgate (its modules are ../src), as a wheel "
    "only: pip wheel ./sdk, or python -m build --wheel sdk"
)

if not (HERE.parent / "src" / "relgate" / "flags" / "evaluate.py").is_file():
    raise SystemExit(ONLY_A_WHEEL)


def sdk_modules() -> frozenset[str]:
    lines = (HERE / "modules.txt").read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class SdkModulesOnly(build_py):
    """Keep the modules of modules.txt, drop every other module of the listed packages."""

    def find_package_modules(self, package: str, package_dir: str) -> list[Any]:
        keep = sdk_modules()
        found = super().find_package_modules(package, package_dir)
        return [
            entry
            for entry in found
            if (entry[0] if entry[1] == "__init__" else f"{entry[0]}.{entry[1]}") in keep
        ]


class NoSdist(sdist):
    """An sdist cannot hold ../src (setuptools would copy it beside, not into, the archive)."""

    def run(self) -> None:
        raise SystemExit(ONLY_A_WHEEL)


setup(cmdclass={"build_py": SdkModulesOnly, "sdist": NoSdist})
