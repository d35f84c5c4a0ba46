"""The relgate server ships every module but those of relgate-sdk (sdk/modules.txt).

Those come from the relgate-sdk distribution, which the server depends on: each file of
src/relgate belongs to one distribution, so installing, upgrading or removing one never
overwrites or deletes a file of the other. docs/sdk.md, "Installing", explains it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from setuptools import setup
from setuptools.command.build_py import build_py

SDK_MODULES = Path(__file__).resolve().parent / "sdk" / "modules.txt"


def sdk_modules() -> frozenset[str]:
    lines = SDK_MODULES.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


class WithoutSdkModules(build_py):
    """Drop the modules of relgate-sdk, and its relgate/py.typed."""

    def find_package_modules(self, package: str, package_dir: str) -> list[Any]:
        drop = sdk_modules()
        found = super().find_package_modules(package, package_dir)
        return [
            entry
            for entry in found
            if (entry[0] if entry[1] == "__init__" else f"{entry[0]}.{entry[1]}") not in drop
        ]

    def find_data_files(self, package: str, src_dir: str) -> list[str]:
        files = super().find_data_files(package, src_dir)
        if package != "relgate":
            return files
        return [name for name in files if Path(name).relative_to(src_dir) != Path("py.typed")]


setup(cmdclass={"build_py": WithoutSdkModules})
