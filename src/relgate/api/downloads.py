"""A stored report as a download: never rendered by the browser, whatever it contains.

Evidence is whatever CI uploaded: a JUnit file may hold ``<script>``, a JSON
report any text. It is served with the media type of its format (JSON, XML,
else octet-stream; never HTML), as an attachment, with ``nosniff`` and a
sandboxing content security policy, so opening the link downloads the file
and nothing in it runs on relgate's origin.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from fastapi.responses import Response

from relgate.releases.service import Evidence

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def attachment_name(filename: str) -> str:
    """The ``Content-Disposition`` value: an ASCII fallback and the UTF-8 name (RFC 6266)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    plain = _UNSAFE.sub("_", base).strip("._")[:120] or "report"
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(base[:200], safe='')}"


def report_response(evidence: Evidence, content: bytes) -> Response:
    """The report's bytes as stored, for download."""
    return Response(
        content,
        media_type=evidence.media_type,
        headers={
            "Content-Disposition": attachment_name(evidence.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cache-Control": "no-store",
            "X-Evidence-SHA256": evidence.sha256,
        },
    )
