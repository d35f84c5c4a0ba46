"""The gate table as Markdown, for a CI job summary (`relgate gates check --markdown`).

GitHub renders $GITHUB_STEP_SUMMARY as GitHub-flavoured Markdown; GitLab keeps
the same file as a job artifact. Every text from the server is escaped, so a
gate's reason cannot break the table or add links, images or HTML to the page.
"""

from __future__ import annotations

import re
from typing import Any

_STATUS = {"pass": "✅ pass", "fail": "❌ fail", "missing": "⚠️ missing"}
# What starts or ends inline markup inside a line (code, emphasis, links, strike-through,
# GitHub's $math$) and '|', a cell's end; '<' and '>' become entities first
_SPECIAL = re.compile(r"([\\`*_\[\]|~$])")


def cell(text: object) -> str:
    """Return ``text`` as one table cell: markup escaped, HTML neutralised, on one line."""
    value = " ".join(str(text).split())
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _SPECIAL.sub(r"\\\1", value) or " "


def gate_table(check: dict[str, Any]) -> str:
    """Return the Markdown of one gate check (the API's GateCheck): a heading, table, verdict.

    The verdict is the sentence `relgate gates check` prints for people.
    """
    release, environment = str(check["release"]), str(check["environment"])
    lines = [
        f"### relgate gates: {cell(release)} → {cell(environment)}",
        "",
        "| gate | status | reason |",
        "| --- | --- | --- |",
    ]
    for gate in check["gates"]:
        status = str(gate.get("status", "?"))
        lines.append(
            f"| {cell(gate.get('gate', '?'))} | {_STATUS.get(status, cell(status))} "
            f"| {cell(gate.get('reason') or '')} |"
        )
    if not check["gates"]:
        lines.append("| (no gates) | ✅ pass | the environment has no gates |")
    lines.append("")
    lines.append(f"**{cell(verdict(check))}**")
    return "\n".join(lines) + "\n"


def verdict(check: dict[str, Any]) -> str:
    """Return the one sentence that says whether the release may enter the environment."""
    release, environment = check["release"], check["environment"]
    if check["passed"]:
        return f"{release} may enter {environment}: every gate passes"
    if check.get("waiting_for_approval"):
        return f"{release} waits only for an approval to enter {environment}"
    return f"{release} cannot enter {environment} now"
