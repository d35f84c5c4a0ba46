"""The deployment page's event stream: how a log slice is framed and escaped."""

from __future__ import annotations

from relgate.promotion.views import LogSlice
from relgate.web.pages.deployments import GAP, _log_html
from relgate.web.sse import event as _sse


def parse(stream: str) -> list[dict[str, str]]:
    """Read server-sent events as an EventSource does (fields, data lines joined by LF)."""
    events = []
    for block in stream.split("\n\n"):
        if not block:
            continue
        fields: dict[str, str] = {}
        data: list[str] = []
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        fields["data"] = "\n".join(data)
        events.append(fields)
    return events


def test_a_log_slice_is_escaped_text() -> None:
    html = str(_log_html(LogSlice('<script>alert(1)</script> & "x"\n', 40)))

    assert html == "<span>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;x&#34;\n</span>"


def test_a_slice_that_skips_starts_with_the_gap_mark() -> None:
    html = str(_log_html(LogSlice("tail\n", 900, skipped=True)))

    assert html == GAP + "<span>tail\n</span>"


def test_an_event_carries_every_line_and_its_offset() -> None:
    text = str(_log_html(LogSlice("one\ntwo\n\nfour", 14)))

    events = parse(_sse("log", text, 14))

    assert events == [{"event": "log", "id": "14", "data": text}]


def test_a_carriage_return_in_the_output_cannot_end_a_field_or_forge_an_event() -> None:
    hostile = str(_log_html(LogSlice("a\r\nevent: state\rdata: <b>x</b>\n", 30)))

    stream = _sse("log", hostile, 30)

    assert "\r" not in stream
    assert [e["event"] for e in parse(stream)] == ["log"]
    assert "<b>" not in parse(stream)[0]["data"]
