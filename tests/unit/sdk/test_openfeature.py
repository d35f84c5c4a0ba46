"""RelgateProvider: OpenFeature resolutions over a FlagClient, errors as error codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openfeature import api
from openfeature.evaluation_context import EvaluationContext
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from relgate.sdk import FlagClient
from relgate.sdk.openfeature import RelgateProvider


def _variant_flag(name: str, payload: dict[str, str] | None) -> dict[str, Any]:
    variant: dict[str, Any] = {"name": "only", "weight": 1000, "stickiness": "default"}
    if payload is not None:
        variant["payload"] = payload
    return {
        "name": name,
        "enabled": True,
        "strategies": [{"name": "default"}],
        "variants": [variant],
    }


FLAGS = {
    "version": 2,
    "features": [
        {"name": "on", "enabled": True, "strategies": [{"name": "default"}]},
        {"name": "off", "enabled": False, "strategies": [{"name": "default"}]},
        {
            "name": "for-42",
            "enabled": True,
            "strategies": [{"name": "userWithId", "parameters": {"userIds": "42"}}],
        },
        {
            "name": "pro-plan",
            "enabled": True,
            "strategies": [
                {
                    "name": "default",
                    "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro"]}],
                }
            ],
        },
        _variant_flag("text", {"type": "string", "value": "hello"}),
        _variant_flag("columns", {"type": "csv", "value": "a,b"}),
        _variant_flag("whole", {"type": "number", "value": "12"}),
        _variant_flag("ratio", {"type": "number", "value": "0.25"}),
        _variant_flag("not-a-number", {"type": "number", "value": "twelve"}),
        _variant_flag("config", {"type": "json", "value": '{"retries": 3}'}),
        _variant_flag("broken-json", {"type": "json", "value": "{retries"}),
        _variant_flag("scalar-json", {"type": "json", "value": "3"}),
        _variant_flag("bare", None),
        {"name": "no-variants", "enabled": True, "strategies": [{"name": "default"}]},
    ],
}


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[RelgateProvider]:
    client = FlagClient(
        "http://127.0.0.1:1", "t", "shop", bootstrap=FLAGS, cache_dir=tmp_path, start=False
    )
    try:
        yield RelgateProvider(client)
    finally:
        client.close()


def test_booleans_resolve_to_the_flags_answer(provider: RelgateProvider) -> None:
    on = provider.resolve_boolean_details("on", False)
    off = provider.resolve_boolean_details("off", True)

    assert (on.value, on.reason, on.error_code) == (True, Reason.TARGETING_MATCH, None)
    assert (off.value, off.reason) == (False, Reason.DISABLED)


def test_the_targeting_key_is_the_user_id(provider: RelgateProvider) -> None:
    assert provider.resolve_boolean_details("for-42", False, EvaluationContext("42")).value
    assert not provider.resolve_boolean_details("for-42", False, EvaluationContext("7")).value


def test_attributes_are_context_properties(provider: RelgateProvider) -> None:
    pro = EvaluationContext("1", {"plan": "pro"})
    free = EvaluationContext("1", {"plan": "free"})

    assert provider.resolve_boolean_details("pro-plan", False, pro).value is True
    assert provider.resolve_boolean_details("pro-plan", False, free).value is False


def test_an_unknown_flag_gives_the_default_and_flag_not_found(provider: RelgateProvider) -> None:
    details = provider.resolve_string_details("missing", "fallback")
    boolean = provider.resolve_boolean_details("missing", True)

    assert (details.value, details.error_code) == ("fallback", ErrorCode.FLAG_NOT_FOUND)
    assert details.reason == Reason.ERROR
    assert (boolean.value, boolean.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)


def test_payloads_resolve_by_their_type(provider: RelgateProvider) -> None:
    assert provider.resolve_string_details("text", "").value == "hello"
    assert provider.resolve_string_details("columns", "").value == "a,b"
    assert provider.resolve_integer_details("whole", 0).value == 12
    assert provider.resolve_float_details("ratio", 0.0).value == 0.25
    assert provider.resolve_float_details("whole", 0.0).value == 12.0
    assert provider.resolve_object_details("config", {}).value == {"retries": 3}
    text = provider.resolve_string_details("text", "")
    assert (text.variant, text.reason) == ("only", Reason.TARGETING_MATCH)


def test_a_variant_without_payload_resolves_to_its_name_as_a_string(
    provider: RelgateProvider,
) -> None:
    assert provider.resolve_string_details("bare", "").value == "only"


@pytest.mark.parametrize(
    ("kind", "key", "default", "code"),
    [
        ("integer", "text", 5, ErrorCode.TYPE_MISMATCH),
        ("integer", "ratio", 5, ErrorCode.TYPE_MISMATCH),
        ("float", "config", 1.5, ErrorCode.TYPE_MISMATCH),
        ("string", "whole", "x", ErrorCode.TYPE_MISMATCH),
        ("object", "text", {"a": 1}, ErrorCode.TYPE_MISMATCH),
        ("object", "scalar-json", {"a": 1}, ErrorCode.TYPE_MISMATCH),
        ("integer", "bare", 5, ErrorCode.TYPE_MISMATCH),
        ("float", "not-a-number", 1.5, ErrorCode.PARSE_ERROR),
        ("object", "broken-json", {"a": 1}, ErrorCode.PARSE_ERROR),
    ],
)
def test_a_payload_of_the_wrong_shape_gives_the_default_and_an_error_code(
    provider: RelgateProvider, kind: str, key: str, default: Any, code: ErrorCode
) -> None:
    details = getattr(provider, f"resolve_{kind}_details")(key, default)

    assert details.value == default
    assert details.error_code == code
    assert key in details.error_message


def test_a_flag_off_or_without_variants_gives_the_default_without_error(
    provider: RelgateProvider,
) -> None:
    off = provider.resolve_string_details("off", "fallback")
    plain = provider.resolve_string_details("no-variants", "fallback")

    assert (off.value, off.reason, off.error_code) == ("fallback", Reason.DISABLED, None)
    assert (plain.value, plain.reason, plain.error_code) == ("fallback", Reason.DEFAULT, None)


def test_the_openfeature_client_uses_the_provider(provider: RelgateProvider) -> None:
    api.set_provider(provider, domain="relgate-test")
    try:
        client = api.get_client("relgate-test")

        assert client.get_boolean_value("on", False) is True
        assert client.get_integer_value("whole", 0) == 12
        details = client.get_string_details("missing", "fallback")
        assert details.error_code == ErrorCode.FLAG_NOT_FOUND
    finally:
        api.clear_providers()
