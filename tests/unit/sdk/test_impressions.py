"""ImpressionLogger: one structured log line per evaluation."""

from __future__ import annotations

import json
import logging

import pytest

from relgate.sdk import ImpressionEvent, ImpressionLogger

EVENT: ImpressionEvent = {
    "event_type": "getVariant",
    "flag": "new-checkout",
    "enabled": True,
    "variant": "blue",
    "user_id": "42",
    "app_name": "shop",
    "environment": "production",
    "time": "2026-11-26T08:00:00.000+00:00",
}


def test_a_json_line_carries_every_field(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="relgate.sdk.impressions")

    ImpressionLogger()(EVENT)

    record = caplog.records[0]
    assert json.loads(record.getMessage()) == {"event": "flag_impression", **EVENT}
    assert record.relgate_impression["flag"] == "new-checkout"


def test_a_logfmt_line_reads_as_key_value_pairs() -> None:
    line = ImpressionLogger(style="logfmt").format({**EVENT, "user_id": "a b", "variant": None})

    assert line.startswith("event=flag_impression event_type=getVariant flag=new-checkout")
    assert 'enabled=true variant="" user_id="a b" app_name=shop' in line


def test_nothing_is_formatted_when_the_level_is_off(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="relgate.sdk.impressions")

    ImpressionLogger()(EVENT)

    assert caplog.records == []
