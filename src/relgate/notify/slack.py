"""Slack incoming-webhook messages (Block Kit JSON) for domain events (pure).

A rollback gets the fields the runbook asks for ("a silent rollback is a
sneaky rollback"): service, environment, rolled back FROM, rolled back TO,
executed by, time, and a link to the deployment. Other events get one line of
text and the same context. ``text`` is always set: Slack shows it in
notifications and where blocks cannot be drawn.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from relgate.notify.events import DomainEvent, EventType

ROLLBACK_KINDS = frozenset({"rollback", "auto-rollback", "auto_rollback"})
MAX_TEXT = 2900  # Slack caps a section's text at 3000 characters


def is_rollback(event: DomainEvent) -> bool:
    """Whether ``event`` reports a rollback: a rollback that succeeded, or one rolled back."""
    if event.type is EventType.DEPLOYMENT_ROLLED_BACK:
        return True
    kind = str(event.data.get("kind") or "")
    return event.type is EventType.DEPLOYMENT_SUCCEEDED and kind in ROLLBACK_KINDS


def deployment_link(event: DomainEvent, public_url: str) -> str | None:
    """Return the API address of the event's deployment, or None without a base URL or id."""
    deployment_id = event.data.get("deployment_id")
    if deployment_id is None and event.subject.startswith("deployment/"):
        deployment_id = event.subject.split("/", 1)[1]
    if not public_url or deployment_id in (None, ""):
        return None
    return f"{public_url.rstrip('/')}/api/v1/deployments/{deployment_id}"


def message(event: DomainEvent, public_url: str = "") -> dict[str, Any]:
    """Return the JSON body to POST to a Slack incoming webhook for ``event``."""
    link = deployment_link(event, public_url)
    if is_rollback(event):
        return _rollback(event, link)
    summary = _clip(_summary(event))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": summary}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text": _clip(_context(event, link))}]},
    ]
    return {"text": summary, "blocks": blocks}


def rollback_fields(event: DomainEvent) -> dict[str, str]:
    """Return the runbook's fields of a rollback event, in order, '-' for what it does not say.

    The event is the rollback deployment's own (``deployment.rolled_back``, or a
    ``deployment.succeeded`` of kind rollback / auto-rollback; relgate.promotion.lifecycle):
    it went FROM what ran (``previous_version``, ``rolled_back_from``) TO the stable
    release it restored (``version``, ``rolled_back_to``).
    """
    data = event.data
    from_version = data.get("rolled_back_from") or data.get("previous_version")
    from_artifact = data.get("previous_artifact")
    to_version = data.get("rolled_back_to") or data.get("version")
    to_artifact = data.get("artifact")
    return {
        "Service": event.service or "-",
        "Environment": event.environment or "-",
        "Rolled back FROM": _version(from_version, from_artifact),
        "Rolled back TO": _version(to_version, to_artifact),
        "Executed by": event.actor or str(data.get("requested_by") or "-"),
        "Time": event.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
    }


def _rollback(event: DomainEvent, link: str | None) -> dict[str, Any]:
    fields = rollback_fields(event)
    title = f"Rollback: {fields['Service']} in {fields['Environment']}"
    text = (
        f"{title}: {fields['Rolled back FROM']} → {fields['Rolled back TO']} "
        f"by {fields['Executed by']} at {fields['Time']}"
    )
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150], "emoji": False}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _clip(f"*{name}*\n{_escape(value)}", 1900)}
                for name, value in fields.items()
            ],
        },
    ]
    reason = event.data.get("reason")
    if reason:
        blocks.append(
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": _clip(f"*Why*\n{_escape(str(reason))}")},
            }
        )
    if link:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open the deployment"},
                        "url": link,
                    }
                ],
            }
        )
    return {"text": _clip(text), "blocks": blocks}


def _summary(event: DomainEvent) -> str:
    data = event.data
    where = " in ".join(part for part in (event.service, event.environment) if part)
    version = data.get("version")
    what = {
        EventType.RELEASE_CREATED: "Release created",
        EventType.DEPLOYMENT_STARTED: "Deployment started",
        EventType.DEPLOYMENT_SUCCEEDED: "Deployment succeeded",
        EventType.DEPLOYMENT_FAILED: "Deployment failed",
        EventType.DEPLOYMENT_ROLLED_BACK: "Deployment rolled back",
        EventType.APPROVAL_REQUESTED: "Approval requested",
        EventType.APPROVAL_GIVEN: "Approval given",
        EventType.APPROVAL_REJECTED: "Approval rejected",
        EventType.FLAG_CHANGED: "Flag changed",
    }.get(event.type, str(event.type))
    details = [_escape(where)] if where else []
    if version:
        details.append(_escape(f"version {version}"))
    line = f"*{what}*" + (": " + ", ".join(details) if details else "")
    outcome = data.get("outcome") or data.get("reason")
    if outcome and event.type is EventType.DEPLOYMENT_FAILED:
        line += "\n" + _escape(str(outcome))
    return line


def _context(event: DomainEvent, link: str | None) -> str:
    when = event.time.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    parts = [_escape(event.subject), when]
    if event.actor:
        parts.append("by " + _escape(event.actor))
    if link:
        parts.append(f"<{link}|open>")
    return " · ".join(parts)


def _version(version: object, artifact: object) -> str:
    if version and artifact:
        return f"{version} ({artifact})"
    return str(version or artifact or "-")


def _escape(text: str) -> str:
    """Escape what Slack's mrkdwn reads as markup: &, < and >."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int = MAX_TEXT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
