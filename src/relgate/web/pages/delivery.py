"""The delivery page: the DORA measures of a service in an environment over a period.

It parses the GET form, asks relgate.delivery for the report (which checks role
and scope), lays out the charts and renders the numbers and the rows behind them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from relgate import limits
from relgate.api.deps import ServicesDep
from relgate.delivery import text
from relgate.delivery.model import DeliveryReport
from relgate.delivery.period import DEFAULT_DAYS, period
from relgate.web import charts
from relgate.web.render import env, page
from relgate.web.session import Changing, Viewer, mark_web, safe_next

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_web)])

Measure = Literal["all", "frequency", "lead-time", "fail-rate", "recovery", "rework"]
MEASURES: dict[str, str] = {
    "frequency": "Deployment frequency",
    "lead-time": "Change lead time",
    "fail-rate": "Change fail rate",
    "recovery": "Failed deployment recovery time",
    "rework": "Deployment rework rate",
}

env.filters["duration"] = text.duration
env.filters["rate"] = text.rate
env.filters["per_week"] = text.per_week


def _frequency_chart(report: DeliveryReport) -> charts.Chart:
    weeks = report.frequency.by_week
    return charts.bars(
        [
            (
                f"{w.start:%m-%d}",
                float(w.deployments),
                f"week from {w.start:%Y-%m-%d}: {w.deployments} deployments "
                f"on {w.deployment_days} days",
                False,
            )
            for w in weeks
        ]
    )


def _lead_chart(report: DeliveryReport) -> charts.Chart:
    shown = [d for d in report.lead_time.deployments if d.median_seconds is not None]
    largest = max((d.median_seconds or 0.0 for d in shown), default=0.0)
    return charts.bars(
        [
            (
                d.version,
                (d.median_seconds or 0.0) / 3600,
                f"deployment {d.deployment_id} ({d.version}): median lead time "
                f"{text.duration(d.median_seconds)} over {d.commits} commits ({d.basis})",
                d.basis != "commit list",
            )
            for d in shown
        ],
        top_label=text.duration(largest),
    )


@router.get("/delivery")
def delivery(
    request: Request,
    services: ServicesDep,
    session: Viewer,
    service: Annotated[str | None, Query(max_length=limits.SERVICE)] = None,
    environment: Annotated[str | None, Query(max_length=limits.ENVIRONMENT)] = None,
    since: Annotated[str | None, Query(max_length=40)] = None,
    until: Annotated[str | None, Query(max_length=40)] = None,
    measure: Measure = "all",
) -> Response:
    me = session.principal
    choices = services.delivery.choices(me)
    chosen = service or (choices[0].service if choices else None)
    envs = next((c.environments for c in choices if c.service == chosen), [])
    environment = environment or ("production" if "production" in envs else None)
    environment = environment or (envs[-1] if envs else None)
    now = services.clock.now()
    # the form speaks in whole days: by default the 28 days up to and including today
    until = until or f"{now:%Y-%m-%d}"
    since = since or f"{now - timedelta(days=DEFAULT_DAYS - 1):%Y-%m-%d}"
    start, end = period(since, until, now)
    report = None
    open_incidents = []
    if chosen is not None and environment is not None:
        report = services.delivery.report(me, chosen, environment, start, end)
        open_incidents = services.delivery.incidents(
            me, service=chosen, environment=environment, open_only=True
        )
    context = {
        "choices": choices,
        "service": chosen,
        "environment": environment,
        "environments": envs,
        "since": since,
        "until": until,
        "measure": measure,
        "measures": MEASURES,
        "report": report,
        "frequency_chart": _frequency_chart(report) if report else None,
        "lead_chart": _lead_chart(report) if report else None,
        "open_incidents": open_incidents,
        "here": _here(request),
    }
    return page(request, "delivery.html", context, session=session)


def _here(request: Request) -> str:
    """This page's path and query, to come back to after a form."""
    path = request.url.path
    return path + ("?" + request.url.query if request.url.query else "")


@router.post("/delivery/incidents")
def open_incident(
    services: ServicesDep,
    session: Changing,
    deployment: Annotated[int, Form()],
    summary: Annotated[str, Form(max_length=limits.INCIDENT_SUMMARY)] = "",
    back: Annotated[str, Form(max_length=2000)] = "/delivery",
) -> Response:
    """Open an incident against a deployment (the service checks role and scope)."""
    services.delivery.open_incident(session.principal, deployment, summary=summary)
    return RedirectResponse(safe_next(back), status_code=303)


@router.post("/delivery/incidents/{incident_id}/resolve")
def resolve_incident(
    incident_id: int,
    services: ServicesDep,
    session: Changing,
    back: Annotated[str, Form(max_length=2000)] = "/delivery",
) -> Response:
    services.delivery.resolve_incident(session.principal, incident_id)
    return RedirectResponse(safe_next(back), status_code=303)
