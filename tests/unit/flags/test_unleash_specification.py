"""Every case of the Unleash client specification, one test id per case."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from relgate.flags import Context, Snapshot, get_variant, is_enabled

SPECIFICATION = Path(__file__).parents[2] / "fixtures" / "unleash-client-specification"


def _spec_files() -> list[str]:
    return list(json.loads((SPECIFICATION / "index.json").read_text(encoding="utf-8")))


@cache
def _load(file_name: str) -> dict[str, Any]:
    return dict(json.loads((SPECIFICATION / file_name).read_text(encoding="utf-8")))


@cache
def _snapshot(file_name: str) -> Snapshot:
    state = _load(file_name)["state"]
    if "events" in state:
        return Snapshot.empty().apply_unleash_delta(state)
    return Snapshot.from_unleash_features(state)


def _cases(kind: str) -> list[Any]:
    params = []
    for file_name in _spec_files():
        for index, case in enumerate(_load(file_name).get(kind, [])):
            case_id = f"{file_name.removesuffix('.json')}:{index:02d}:{case['description']}"
            params.append(pytest.param(file_name, case, id=case_id))
    return params


def test_the_vendored_specification_has_every_case_of_version_6_1_0() -> None:
    files = _spec_files()
    assert len(files) == 22
    assert sum(len(_load(f).get("tests", [])) for f in files) == 227
    assert sum(len(_load(f).get("variantTests", [])) for f in files) == 52


@pytest.mark.parametrize(("file_name", "case"), _cases("tests"))
def test_is_enabled_gives_the_specified_answer(file_name: str, case: dict[str, Any]) -> None:
    context = Context.from_dict(case["context"])
    assert is_enabled(_snapshot(file_name), case["toggleName"], context) is case["expectedResult"]


@pytest.mark.parametrize(("file_name", "case"), _cases("variantTests"))
def test_get_variant_gives_the_specified_variant(file_name: str, case: dict[str, Any]) -> None:
    context = Context.from_dict(case["context"])
    variant = get_variant(_snapshot(file_name), case["toggleName"], context)
    assert variant.to_unleash_dict() == case["expectedResult"]
