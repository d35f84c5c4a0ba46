"""Writing the version into pyproject.toml, package.json and Chart.yaml, changing nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from relgate.errors import InvalidConfig
from relgate.versioning.files import write_version

PYPROJECT = """\
[build-system]
requires = ["setuptools"]

[project]
name = "payments"
# bumped by relgate
version = "1.4.2"  # keep this comment
dependencies = ["requests"]

[tool.other]
version = "9.9.9"
"""


def test_pyproject_project_version_is_replaced_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    assert write_version(path, "1.5.0") is True
    assert path.read_text() == PYPROJECT.replace('"1.4.2"', '"1.5.0"')


def test_poetry_version_is_replaced_keeping_single_quotes(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.poetry]\nname = 'x'\nversion = '0.1.0'\n\n[tool.poetry.dependencies]\n")
    write_version(path, "0.2.0-rc.1")
    assert path.read_text() == (
        "[tool.poetry]\nname = 'x'\nversion = '0.2.0-rc.1'\n\n[tool.poetry.dependencies]\n"
    )


def test_same_version_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text(PYPROJECT)
    assert write_version(path, "1.4.2") is False


def test_pyproject_with_a_dynamic_version_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\ndynamic = ["version"]\n')
    with pytest.raises(InvalidConfig) as caught:
        write_version(path, "1.0.0")
    assert str(path) in str(caught.value)
    assert "dynamic" in str(caught.value)


def test_package_json_top_level_version_only_and_formatting_kept(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    text = (
        '{\n    "name": "web",\n    "config": {"version": "x"},\n'
        '    "version" :  "1.4.2",\n    "tags": ["version"]\n}\n'
    )
    path.write_text(text)
    write_version(path, "2.0.0")
    assert path.read_text() == text.replace('"1.4.2"', '"2.0.0"')


def test_package_json_without_version_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_text('{"name": "web", "dependencies": {"version": "1.0.0"}}')
    with pytest.raises(InvalidConfig, match=r"package\.json: version: no top-level"):
        write_version(path, "2.0.0")


def test_invalid_package_json_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "package.json"
    path.write_text('{\n  "version": "1.0.0",\n}\n')
    with pytest.raises(InvalidConfig, match=r"package\.json:3: not valid JSON"):
        write_version(path, "2.0.0")


def test_chart_version_and_app_version_keep_their_quotes(tmp_path: Path) -> None:
    path = tmp_path / "Chart.yaml"
    text = (
        "apiVersion: v2\nname: payments\nversion: 1.4.2  # chart\n"
        'appVersion: "1.4.2"\ndependencies:\n  - name: redis\n    version: 17.0.0\n'
    )
    path.write_text(text)
    write_version(path, "1.5.0")
    assert path.read_text() == text.replace("version: 1.4.2 ", "version: 1.5.0 ").replace(
        '"1.4.2"', '"1.5.0"'
    )


def test_chart_without_version_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "Chart.yaml"
    path.write_text("apiVersion: v2\nname: payments\n")
    with pytest.raises(InvalidConfig, match=r"Chart\.yaml: version: no top-level version"):
        write_version(path, "1.0.0")


def test_unsupported_or_missing_files_are_errors_naming_them(tmp_path: Path) -> None:
    with pytest.raises(InvalidConfig, match=r"setup\.cfg.*pyproject\.toml, package\.json"):
        write_version(tmp_path / "setup.cfg", "1.0.0")
    with pytest.raises(InvalidConfig, match=r"package\.json: file not found"):
        write_version(tmp_path / "package.json", "1.0.0")
