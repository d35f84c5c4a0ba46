"""Delivery commands: `relgate metrics [delivery]` and `relgate incident ...` (over the API).

Only Typer is imported at module level, like every command module.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import when as _when
from relgate.cli.output import cell, print_rows

metrics_app = typer.Typer(
    help="The delivery (DORA) measures of a service in an environment, from relgate's history. "
    "`relgate metrics` and `relgate metrics delivery` are the same.",
    invoke_without_command=True,
)
incident_app = typer.Typer(
    help="Incidents: production failures linked to the deployment that caused them.",
    no_args_is_help=True,
)
app.add_typer(metrics_app, name="metrics")
app.add_typer(incident_app, name="incident")

ServiceOption = Annotated[
    str | None, typer.Option("--service", help="The service.", show_default=False)
]
EnvOption = Annotated[str, typer.Option("--env", help="The environment.")]
SinceOption = Annotated[
    str | None,
    typer.Option(
        "--since",
        help="Start: a date (2026-10-01, UTC) or a time with its offset [default: 28 days ago].",
        show_default=False,
    ),
]
UntilOption = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End: a date (included whole) or a time with its offset [default: now].",
        show_default=False,
    ),
]
RowsOption = Annotated[bool, typer.Option("--rows", help="Also list the rows behind each number.")]


@metrics_app.callback()
def _metrics(
    ctx: typer.Context,
    service: ServiceOption = None,
    env: EnvOption = "production",
    since: SinceOption = None,
    until: UntilOption = None,
    rows: RowsOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Deployment frequency, change lead time, change fail rate, recovery time, rework rate."""
    if ctx.invoked_subcommand is not None:
        return
    _report(service, env, since, until, rows, url, token, json_output)


@metrics_app.command("delivery")
def metrics_delivery(
    service: ServiceOption = None,
    env: EnvOption = "production",
    since: SinceOption = None,
    until: UntilOption = None,
    rows: RowsOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Deployment frequency, change lead time, change fail rate, recovery time, rework rate.

    Raw numbers; with --rows (or --json) also the deployments and commits behind them.
    """
    _report(service, env, since, until, rows, url, token, json_output)


def _report(
    service: str | None,
    env: str,
    since: str | None,
    until: str | None,
    rows: bool,
    url: str | None,
    token: str | None,
    json_output: bool,
) -> None:
    from relgate.cli.output import escape, print_json
    from relgate.delivery.text import duration, per_week, rate
    from relgate.errors import BadInput

    if not service:
        raise BadInput("--service is missing: which service's measures? e.g. --service payments")
    params = {"service": service, "environment": env, "since": since, "until": until}
    with _client(url, token) as client:
        report = client.get(
            "/api/v1/metrics/delivery", params={k: v for k, v in params.items() if v}
        )
    if json_output:
        print_json(report)
        return
    f, lead = report["frequency"], report["lead_time"]
    cfr, rec, rw = report["change_fail_rate"], report["recovery"], report["rework"]
    _out(
        escape(
            f"{report['service']} in {report['environment']}, "
            f"{_when(report['since'])} .. {_when(report['until'])} UTC ({f['weeks']:.1f} weeks)"
        )
    )
    fewer = (
        " (based on fewer data: some releases carry no commit list)" if lead["fewer_data"] else ""
    )
    print_rows(
        ["measure", "value", "from"],
        [
            [
                "deployments per week",
                per_week(f["deployments_per_week"]),
                f"{f['deployments']} deployments ({f['successful']} succeeded)",
            ],
            [
                "deployment days per week",
                per_week(f["deployment_days_per_week"]),
                f"{f['deployment_days']} days with a deployment",
            ],
            [
                "change lead time, median",
                duration(lead["median_seconds"]),
                f"{lead['commits']} commits{fewer}",
            ],
            ["change lead time, p90", duration(lead["p90_seconds"]), ""],
            [
                "change fail rate",
                rate(cfr["rate"]),
                f"{cfr['failed']} of {cfr['deployments']} deployments",
            ],
            [
                "failed deployment recovery time, median",
                duration(rec["median_seconds"]),
                f"{rec['recovered']} of {rec['failures']} failures recovered",
            ],
            ["failed deployment recovery time, p90", duration(rec["p90_seconds"]), ""],
            [
                "deployment rework rate",
                rate(rw["rate"]),
                f"{rw['rollbacks']} rollbacks, {rw['hotfixes']} hotfixes "
                f"of {rw['deployments']} deployments",
            ],
        ],
        empty="",
    )
    if not rows:
        return
    _out("")
    print_rows(
        ["deployment", "version", "kind", "state", "finished", "failed because", "rework"],
        [
            [
                r["id"],
                r["version"],
                r["kind"],
                r["state"],
                _when(r["finished_at"]),
                cell("; ".join(r["failure_reasons"])),
                "yes" if r["rework"] else "",
            ]
            for r in f["rows"]
        ],
        empty="no deployment in the period",
    )
    _out("")
    print_rows(
        ["commit", "committed", "deployment", "version", "lead time", "basis"],
        [
            [
                r["sha"][:12],
                _when(r["committed_at"]),
                r["deployment_id"],
                r["version"],
                duration(r["seconds"]),
                r["basis"],
            ]
            for r in lead["rows"]
        ],
        empty="no commit shipped in the period",
    )
    _out("")
    print_rows(
        ["failed deployment", "failed at", "recovered at", "how", "recovery time"],
        [
            [
                r["deployment_id"],
                _when(r["failed_at"]),
                _when(r["recovered_at"]),
                r["how"],
                duration(r["seconds"]),
            ]
            for r in rec["rows"]
        ],
        empty="no failed deployment in the period",
    )


# ---------------------------------------------------------------------------- incidents


def _incident_line(i: dict[str, Any]) -> str:
    from relgate.cli.output import escape

    state = f"resolved {_when(i['resolved_at'])}" if i.get("resolved_at") else "open"
    return escape(
        f"incident {i['id']}: deployment {i['deployment_id']} of {i['service']}"
        f"@{i.get('version') or '?'} in {i['environment']}, {state}"
    )


@incident_app.command("open")
def incident_open(
    deployment: Annotated[
        int,
        typer.Option("--deployment", help="The deployment that caused it.", show_default=False),
    ],
    summary: Annotated[str, typer.Option("--summary", help="What broke.")] = "",
    opened_at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="When the failure began, with its offset [default: now].",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Open an incident against the deployment that caused it (admin, ci or approver).

    The delivery measures count it against that deployment and no other.
    """
    from relgate.cli.output import print_json

    body: dict[str, Any] = {"deployment_id": deployment, "summary": summary}
    if opened_at:
        body["opened_at"] = opened_at
    with _client(url, token) as client:
        incident = client.post("/api/v1/incidents", json=body)
    if json_output:
        print_json(incident)
        return
    _out(_incident_line(incident))


@incident_app.command("resolve")
def incident_resolve(
    incident: Annotated[int, typer.Argument(metavar="ID", help="The incident.")],
    resolved_at: Annotated[
        str | None,
        typer.Option("--at", help="When it was resolved [default: now].", show_default=False),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Resolve an incident (exit 1 when it is resolved already)."""
    from relgate.cli.output import print_json

    body = {"resolved_at": resolved_at} if resolved_at else {}
    with _client(url, token) as client:
        found = client.post(f"/api/v1/incidents/{incident}/resolve", json=body)
    if json_output:
        print_json(found)
        return
    _out(_incident_line(found))


@incident_app.command("link")
def incident_link(
    incident: Annotated[int, typer.Argument(metavar="ID", help="The incident.")],
    deployment: Annotated[
        int,
        typer.Option(
            "--deployment", help="The deployment that really caused it.", show_default=False
        ),
    ],
    reason: Annotated[
        str, typer.Option("--reason", help="Why it moves, for the audit.", show_default=False)
    ],
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Move an incident to the deployment that really caused it (same service)."""
    from relgate.cli.output import print_json

    with _client(url, token) as client:
        found = client.post(
            f"/api/v1/incidents/{incident}/link",
            json={"deployment_id": deployment, "reason": reason},
        )
    if json_output:
        print_json(found)
        return
    _out(_incident_line(found))


@incident_app.command("list")
def incident_list(
    service: ServiceOption = None,
    env: Annotated[
        str | None, typer.Option("--env", help="One environment.", show_default=False)
    ] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only open incidents.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List incidents, newest first."""
    from relgate.cli.output import print_json

    params: dict[str, Any] = {"service": service, "environment": env}
    if open_only:
        params["open_only"] = "true"
    with _client(url, token) as client:
        found = client.get(
            "/api/v1/incidents", params={k: v for k, v in params.items() if v is not None}
        )
    if json_output:
        print_json(found)
        return
    print_rows(
        ["id", "service", "environment", "deployment", "version", "opened", "resolved", "summary"],
        [
            [
                i["id"],
                i["service"],
                i["environment"],
                i["deployment_id"],
                cell(i.get("version")),
                _when(i["opened_at"]),
                _when(i.get("resolved_at")),
                cell(i["summary"]),
            ]
            for i in found
        ],
        empty="no incident",
    )
