"""What the flag commands read: variant and dependency options, files, server paths to lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import pytest

from relgate.cli.flag_input import (
    constraints_in,
    list_in,
    parent,
    read_document,
    segment_ids,
    variant,
    variants,
    with_file_lines,
)
from relgate.errors import BadInput, InvalidConfig


def test_a_variant_option_reads_name_weight_stickiness_and_a_json_payload_with_commas() -> None:
    assert variant('blue=25.5%,stickiness=userId,payload=json:{"a":1,"b":[2,3]}') == {
        "name": "blue",
        "weight": 255,
        "weightType": "fix",
        "stickiness": "userId",
        "payload": {"type": "json", "value": '{"a":1,"b":[2,3]}'},
    }
    assert variant("green") == {"name": "green"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("=50", "starts with the variant's name"),
        ("a=150", "weight '150' is not a percentage 0 to 100"),
        ("a=12.34", "0.1 steps"),
        ("a,color=red", "'color=red': expected stickiness=FIELD or payload=TYPE:VALUE"),
        ("a,payload=yaml:x", "TYPE string, json, number or csv"),
        ("a,payload=json:{", "the json payload is not JSON"),
    ],
)
def test_a_malformed_variant_option_is_refused_naming_it(text: str, message: str) -> None:
    with pytest.raises(BadInput, match=r"^--variant ") as refused:
        variant(text)

    assert message in refused.value.message


def test_when_every_variant_has_a_weight_the_last_takes_the_rest() -> None:
    chosen = variants(["a=70", "b=30"])

    assert chosen[0] == {"name": "a", "weight": 700, "weightType": "fix"}
    assert chosen[1] == {"name": "b", "weightType": "variable"}
    with pytest.raises(BadInput, match=r"add up to 90%, not 100%"):
        variants(["a=70", "b=20"])


def test_a_dependency_option_reads_the_parent_and_its_variants() -> None:
    assert parent("checkout:blue, green", True, "--on") == {
        "feature": "checkout",
        "enabled": True,
        "variants": ["blue", "green"],
    }
    assert parent("checkout", False, "--off") == {"feature": "checkout", "enabled": False}
    with pytest.raises(BadInput, match=r"only with --on"):
        parent("checkout:blue", False, "--off")
    with pytest.raises(BadInput, match=r"expected PARENT"):
        parent(":blue", True, "--on")


def test_a_file_is_json_or_yaml_and_its_errors_name_the_file_and_line(tmp_path: Path) -> None:
    good = tmp_path / "s.json"
    good.write_text('{"strategies": [{"name": "default"}]}')
    bad = tmp_path / "s.yaml"
    bad.write_text("- name: default\n  parameters: {a: [1}\n")
    empty = tmp_path / "e.yaml"
    empty.write_text("# nothing\n")

    document, lines = read_document(good)
    assert list_in(document, "strategies", good, lines) == ([{"name": "default"}], ("strategies",))
    with pytest.raises(InvalidConfig, match=rf"^{bad}:2: not valid YAML"):
        read_document(bad)
    with pytest.raises(InvalidConfig, match=rf"^{empty}:1: the file is empty"):
        read_document(empty)
    with pytest.raises(InvalidConfig, match=r"file not found"):
        read_document(tmp_path / "missing.yaml")
    with pytest.raises(InvalidConfig, match=r"expected a list of strategies"):
        list_in({"other": []}, "strategies", good, lines)


def test_constraint_texts_in_a_file_are_read_and_bad_ones_named_by_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("- country IN NO,SE\n- {contextName: plan, operator: IN, values: [pro]}\n- x\n")
    document, lines = read_document(path)

    with pytest.raises(InvalidConfig, match=rf"^{path}:3: constraint 'x': write it as"):
        constraints_in(document, path, lines, ())
    read = constraints_in(document[:2], path, lines, ())
    assert read[0]["values"] == ["NO", "SE"]
    assert read[1] == {"contextName": "plan", "operator": "IN", "values": ["pro"]}


def test_a_server_error_naming_a_path_is_told_with_the_files_line(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "strategies:\n  - name: default\n  - name: flexibleRollout\n"
        "    parameters:\n      rollout: lots\n"
    )
    _, lines = read_document(path)

    with (
        pytest.raises(BadInput) as told,
        with_file_lines(path, lines, ("strategies",), "strategies"),
    ):
        raise BadInput("strategies[1].parameters.rollout: 'lots' is not a whole percentage")
    assert told.value.message == (
        f"{path}:5: strategies[1].parameters.rollout: 'lots' is not a whole percentage"
    )
    # another message goes through as it is
    with (
        pytest.raises(BadInput, match=r"^no flag 'x'\Z"),
        with_file_lines(path, lines, (), "strategies"),
    ):
        raise BadInput("no flag 'x'")


class _Segments:
    """Answers GET /api/v1/segments as a server would; counts the requests."""

    def __init__(self) -> None:
        self.asked = 0

    def get(self, path: str) -> list[dict[str, Any]]:
        assert path == "/api/v1/segments"
        self.asked += 1
        return [{"name": "beta", "id": 4}, {"name": "2024", "id": 9}]


def test_segments_are_named_or_given_by_id_and_a_name_wins_over_digits() -> None:
    server = _Segments()
    client = cast(Any, server)

    assert segment_ids(client, [1, 2], "--segment") == [1, 2]
    assert server.asked == 0
    assert segment_ids(client, ["beta", "2024", "7", 3], "--segment") == [4, 9, 7, 3]
    with pytest.raises(BadInput, match=r"^--segment: no segment 'gamma' \(segments: 2024, beta\)"):
        segment_ids(client, ["gamma"], "--segment")
