"""How a stored report is offered for download (relgate.api.downloads)."""

from __future__ import annotations

from datetime import UTC, datetime

from relgate.api.downloads import attachment_name, report_response
from relgate.releases.service import Evidence


def evidence(filename: str, format: str) -> Evidence:
    return Evidence(
        id=1,
        release="shop@1.0.0",
        kind="tests",
        environment=None,
        filename=filename,
        sha256="a" * 64,
        format=format,
        summary="1 test",
        created_by="ci",
        created_at=datetime(2026, 12, 2, tzinfo=UTC),
    )


def test_a_hostile_file_name_cannot_break_out_of_the_header() -> None:
    value = attachment_name('../../x"; filename="evil.html\r\nSet-Cookie: a=b')

    assert "\r" not in value and "\n" not in value
    plain = value.split(";")[1]
    assert plain.count('"') == 2
    assert "/" not in plain
    assert value.startswith("attachment; ")


def test_a_unicode_name_is_kept_in_the_utf8_form_and_has_an_ascii_fallback() -> None:
    value = attachment_name("résultats de tests.xml")

    assert 'filename="r_sultats_de_tests.xml"' in value
    assert "filename*=UTF-8''r%C3%A9sultats%20de%20tests.xml" in value
    assert 'filename="report"' in attachment_name("…")


def test_reports_are_typed_by_their_format_and_never_as_html() -> None:
    for format, media in (
        ("junit", "application/xml"),
        ("coverage.py-json", "application/json"),
        ("sarif", "application/sarif+json"),
        ("something-new", "application/octet-stream"),
    ):
        answer = report_response(evidence("index.html", format), b"<html><script></script>")
        assert answer.media_type == media
        assert answer.headers["content-disposition"].startswith("attachment;")
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "sandbox" in answer.headers["content-security-policy"]
        assert "html" not in answer.headers["content-type"]
