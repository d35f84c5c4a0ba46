"""The Unleash client specification, asked through FlagClient with the specification's dicts.

The evaluator passes every case on its own (tests/unit/flags); this checks
that the client's way from a dict context to an evaluation changes nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from relgate.sdk import FlagClient

SPECIFICATION = Path(__file__).parents[2] / "fixtures" / "unleash-client-specification"


def _cases(kind: str) -> list[Any]:
    params = []
    for file_name in json.loads((SPECIFICATION / "index.json").read_text(encoding="utf-8")):
        document = json.loads((SPECIFICATION / file_name).read_text(encoding="utf-8"))
        if "events" in document["state"]:
            continue  # a delta document: not a bootstrap
        for index, case in enumerate(document.get(kind, [])):
            case_id = f"{file_name.removesuffix('.json')}:{index:02d}"
            params.append(pytest.param(document["state"], case, id=case_id))
    return params


def _client(state: dict[str, Any], context: dict[str, Any], tmp_path: Path) -> FlagClient:
    # the client's app name must not stand in for one the case leaves out
    app_name = context.get("appName", "specification-runner")
    return FlagClient(
        "http://127.0.0.1:1", "t", app_name, bootstrap=state, cache_dir=tmp_path, start=False
    )


@pytest.mark.parametrize(("state", "case"), _cases("tests"))
def test_is_enabled_through_the_client_gives_the_specified_answer(
    state: dict[str, Any], case: dict[str, Any], tmp_path: Path
) -> None:
    with _client(state, case["context"], tmp_path) as client:
        answer = client.is_enabled(case["toggleName"], case["context"])

    assert answer is case["expectedResult"]


@pytest.mark.parametrize(("state", "case"), _cases("variantTests"))
def test_variant_through_the_client_gives_the_specified_variant(
    state: dict[str, Any], case: dict[str, Any], tmp_path: Path
) -> None:
    with _client(state, case["context"], tmp_path) as client:
        variant = client.variant(case["toggleName"], case["context"])

    assert variant.to_unleash_dict() == case["expectedResult"]
