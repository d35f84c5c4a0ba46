"""A custom check's verdict: any tool that can write ``{"passed": true, "summary": "..."}``."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from relgate.errors import InvalidReport
from relgate.promotion.reports.reading import check_size, json_type, looks_like_xml, parse_json

_EXPECTED = 'expected {"passed": true, "summary": "..."}'
_MAX_MESSAGE = 1000


class CustomReport(BaseModel):
    """A pass/fail verdict with a line of explanation.

    The input's ``summary`` key is stored as ``message``, because ``summary()``
    is the one-line description every report model has.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    format: Literal["custom-json"] = "custom-json"
    passed: bool
    message: str = ""

    def summary(self) -> str:
        """Return e.g. ``passed: 12 contract checks green`` or ``failed: ...``."""
        verdict = "passed" if self.passed else "failed"
        return f"{verdict}: {self.message}" if self.message else verdict


def parse_custom(data: bytes, filename: str) -> CustomReport:
    """Return the verdict of the JSON report in ``data``.

    Raises InvalidReport naming the file when ``passed`` is not a boolean or
    ``summary`` is not a string.
    """
    check_size(data, filename)
    if looks_like_xml(data):
        raise InvalidReport(f"{filename}: not a custom JSON report ({_EXPECTED})")
    document = parse_json(data, filename)
    if not isinstance(document, dict):
        raise InvalidReport(
            f"{filename}: a custom report must be a JSON object, not {json_type(document)} "
            f"({_EXPECTED})"
        )
    if "passed" not in document:
        raise InvalidReport(f"{filename}: no 'passed' ({_EXPECTED})")
    passed = document["passed"]
    if not isinstance(passed, bool):
        raise InvalidReport(f"{filename}: 'passed' must be true or false, not {json_type(passed)}")
    message = document.get("summary", "")
    if message is None:
        message = ""
    if not isinstance(message, str):
        raise InvalidReport(f"{filename}: 'summary' must be a string, not {json_type(message)}")
    message = message.strip()
    if len(message) > _MAX_MESSAGE:
        message = message[: _MAX_MESSAGE - 1] + "…"
    return CustomReport(passed=passed, message=message)
