"""relgate flags …: feature flags on the relgate server.

create, update, list, show, enable, disable, kill, rollout, archive, revive,
import, export here; lint (flags_lint.py), segments (flag_segments.py), strategies,
variants and depend (flag_strategies.py) register on the same group. Each
takes ``--url`` and ``--token`` (else RELGATE_URL / RELGATE_TOKEN,
else the `relgate login` file) and ``--json`` to print the server's answer for
machines. Exit codes: 0 ok, 1 conflict or the server could not be reached,
2 bad input (an unknown flag included).

Only Typer is imported at module level, so ``relgate version`` stays fast.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from relgate.cli.main import app
from relgate.cli.options import JsonOption, TokenOption, UrlOption, when
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg

if TYPE_CHECKING:
    pass

flags_app = typer.Typer(
    help="Feature flags: create, toggle, roll out, kill, import/export, lint.",
    no_args_is_help=True,
)
app.add_typer(flags_app, name="flags")

KeyArgument = Annotated[str, typer.Argument(metavar="KEY", help="The flag's key.")]
EnvOption = Annotated[
    str, typer.Option("--env", help="The environment, e.g. production.", show_default=False)
]


# ---------------------------------------------------------------------------- helpers


def _when(value: object) -> str:
    return when(value, seconds=False)


def _rollout(environment: dict[str, Any]) -> str:
    """``on``, ``on 25%`` (the first active gradual rollout) or ``off``."""
    if not environment.get("enabled"):
        return "off"
    for strategy in environment.get("strategies") or []:
        if strategy.get("name") == "flexibleRollout" and not strategy.get("disabled"):
            rollout = (strategy.get("parameters") or {}).get("rollout")
            if rollout is not None and str(rollout) != "100":
                return f"on {rollout}%"
    return "on"


def _last_seen(flag: dict[str, Any]) -> str:
    seen = [m.get("last_seen_at") for m in (flag.get("metrics") or {}).values()]
    latest = max((s for s in seen if s), default=None)
    return _when(latest)


def _done(flag: dict[str, Any], json_output: bool, message: str) -> None:
    from relgate.cli.output import escape, print_json

    if json_output:
        print_json(flag)
        return
    _out(escape(message))


def _expiry(text: str | None) -> tuple[bool, str | None]:
    """Return (given, ISO date or None for "never") of --expires."""
    if text is None:
        return False, None
    if text.lower() == "never":
        return True, None
    from datetime import date

    from relgate.errors import BadInput

    try:
        return True, date.fromisoformat(text).isoformat()
    except ValueError:
        raise BadInput(f"--expires: {text!r} is not a date YYYY-MM-DD (or 'never')") from None


@contextlib.contextmanager
def _past_expiry(expires: str | None, what: str) -> Iterator[None]:
    """Tell the server's refusal of an expiry not in the future in the CLI's words."""
    from relgate.errors import BadInput

    try:
        yield
    except BadInput as exc:
        if exc.message.startswith("expires_at:") and "not in the future" in exc.message:
            raise BadInput(
                f"--expires {expires}: the date is not in the future, so {what} already "
                "expired (stale); give a later date, 'never', or --force-expired to set it anyway"
            ) from None
        raise


def _warn_expired(flag: dict[str, Any], done: str) -> None:
    expired = [r for r in flag.get("stale_reasons") or [] if r.startswith("expired")]
    if expired:
        typer.echo(f"warning: {flag['key']} {done} already {expired[0]}: it is stale", err=True)


ForceExpiredOption = Annotated[
    bool,
    typer.Option(
        "--force-expired",
        help="Accept an --expires date that is not in the future: the flag is then already "
        "expired (stale), with a warning.",
    ),
]


# ---------------------------------------------------------------------------- commands


@flags_app.command("create")
def create(
    key: KeyArgument,
    flag_type: Annotated[
        str,
        typer.Option(
            "--type",
            help="release, experiment, operational, kill-switch or permission; sets the "
            "default expiry (30, 30, 7 days, never, never).",
        ),
    ] = "release",
    description: Annotated[str, typer.Option("--description", help="What it is for.")] = "",
    owner: Annotated[
        str | None, typer.Option("--owner", help="Who removes it when it is done.")
    ] = None,
    tags: Annotated[
        list[str] | None, typer.Option("--tag", help="A tag (repeatable); 'type:value' or 'value'.")
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="Expiry date YYYY-MM-DD (midnight UTC, in the future), or 'never' "
            "[default: by type].",
        ),
    ] = None,
    force_expired: ForceExpiredOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create a flag, off in every environment."""
    body: dict[str, Any] = {
        "key": key,
        "type": flag_type,
        "description": description,
        "owner": owner,
        "tags": tags or [],
    }
    given, expiry = _expiry(expires)
    if given:
        body["expires_at"] = expiry
    if force_expired:
        body["force_expired"] = True
    with _client(url, token) as client, _past_expiry(expires, f"{key} would be created"):
        flag = client.post("/api/v1/flags", json=body)
    _warn_expired(flag, "is created")
    expiry_text = flag["expires_at"][:10] if flag.get("expires_at") else "never"
    _done(
        flag,
        json_output,
        f"created {flag['type']} flag {key}, off everywhere; expires {expiry_text}",
    )


@flags_app.command("update")
def update(
    key: KeyArgument,
    flag_type: Annotated[
        str | None,
        typer.Option("--type", help="release, experiment, operational, kill-switch or permission."),
    ] = None,
    description: Annotated[
        str | None, typer.Option("--description", help="What it is for.", show_default=False)
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option("--owner", help="Who removes it ('' for nobody).", show_default=False),
    ] = None,
    tags: Annotated[
        list[str] | None,
        typer.Option("--tag", help="Replace the tags (repeatable); 'type:value' or 'value'."),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="New expiry date YYYY-MM-DD (midnight UTC, in the future), or 'never'.",
            show_default=False,
        ),
    ] = None,
    force_expired: ForceExpiredOption = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Change a flag's metadata: only the options given."""
    from relgate.errors import BadInput

    body: dict[str, Any] = {}
    for name, value in (("type", flag_type), ("description", description), ("tags", tags)):
        if value is not None:
            body[name] = value
    if owner is not None:
        body["owner"] = owner or None
    given, expiry = _expiry(expires)
    if given:
        body["expires_at"] = expiry
    if not body:
        raise BadInput("nothing to change: give --type, --description, --owner, --tag or --expires")
    if force_expired:
        body["force_expired"] = True
    with _client(url, token) as client, _past_expiry(expires, f"{key} would be"):
        flag = client.patch(f"/api/v1/flags/{_seg(key)}", json=body)
    _warn_expired(flag, "is")
    expiry_text = flag["expires_at"][:10] if flag.get("expires_at") else "never"
    _done(flag, json_output, f"updated {key}; expires {expiry_text}")


@flags_app.command("list")
def list_flags(
    archived: Annotated[bool, typer.Option("--archived", help="Include archived flags.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """List flags: type, owner, on/off (and rollout %) per environment, stale, last seen."""
    from relgate.cli.output import escape, print_json, print_table, table

    with _client(url, token) as client:
        flags = client.get("/api/v1/flags", params={"archived": "true" if archived else None})
    if json_output:
        print_json(flags)
        return
    if not flags:
        _out("no flags yet: create one with `relgate flags create KEY --type release`")
        return
    environments = sorted({name for flag in flags for name in flag["environments"]})
    rendered = table(["key", "type", "owner", *environments, "stale", "last seen"], [])
    for flag in flags:
        envs = flag["environments"]
        cells = [_rollout(envs[name]) if name in envs else "-" for name in environments]
        stale = "stale" if flag["stale"] else ""
        if flag.get("archived_at"):
            stale = "archived"
        rendered.add_row(
            escape(flag["key"]),
            escape(flag["type"]),
            escape(flag.get("owner") or "-"),
            *cells,
            f"[yellow]{stale}[/yellow]" if stale else "",
            _last_seen(flag),
        )
    print_table(rendered)


@flags_app.command("show")
def show(
    key: KeyArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Show a flag: environments, strategies, variants, usage and why it may be stale."""
    import json

    from relgate.cli.output import escape, print_json

    with _client(url, token) as client:
        flag = client.get(f"/api/v1/flags/{_seg(key)}")
    if json_output:
        print_json(flag)
        return
    lines = [
        f"flag {flag['key']} ({flag['type']})",
        f"  description: {flag['description'] or '-'}",
        f"  owner: {flag.get('owner') or '-'}",
        f"  tags: {', '.join(flag['tags']) or '-'}",
        f"  created: {_when(flag['created_at'])}   expires: {_when(flag.get('expires_at'))}",
    ]
    if flag.get("archived_at"):
        lines.append(f"  archived: {_when(flag['archived_at'])}")
    for dependency in flag.get("dependencies") or []:
        state = "on" if dependency.get("enabled", True) else "off"
        variants = dependency.get("variants")
        lines.append(
            f"  depends on: {dependency['feature']} being {state}"
            + (f" with variant {', '.join(variants)}" if variants else "")
        )
    if flag["stale"]:
        lines.append("  potentially stale:")
        lines.extend(f"    - {reason}" for reason in flag["stale_reasons"])
    if not flag["environments"]:
        lines.append("  environments: none configured (off everywhere)")
    for name, env in flag["environments"].items():
        lines.append(f"  {name}: {_rollout(env)}")
        if env.get("fully_rolled_out_since"):
            lines.append(f"    on for everyone since {_when(env['fully_rolled_out_since'])}")
        for index, strategy in enumerate(env["strategies"]):
            disabled = " (disabled)" if strategy.get("disabled") else ""
            lines.append(
                f"    strategy {index + 1}: {strategy['name']}{disabled} "
                f"{json.dumps(strategy.get('parameters') or {})}"
            )
            for constraint in strategy.get("constraints") or []:
                values = constraint.get("values") or [constraint.get("value", "")]
                negation = "NOT " if constraint.get("inverted") else ""
                lines.append(
                    f"      if {constraint['contextName']} {negation}{constraint['operator']} "
                    f"{','.join(str(v) for v in values)}"
                )
            if strategy.get("segments"):
                lines.append(f"      segments: {', '.join(map(str, strategy['segments']))}")
        for variant in env["variants"]:
            lines.append(f"    variant {variant['name']}: {variant['weight'] / 10:g}%")
        usage = (flag.get("metrics") or {}).get(name)
        if usage:
            lines.append(
                f"    usage: {usage['yes']} yes, {usage['no']} no, last seen "
                f"{_when(usage.get('last_seen_at'))}"
            )
    _out(escape("\n".join(lines)))


@flags_app.command("enable")
def enable(
    key: KeyArgument,
    env: EnvOption,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Turn a flag on in one environment (for everyone, unless it has a rollout)."""
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/environments/{_seg(env)}/enable")
    _done(flag, json_output, f"{key} is {_rollout(flag['environments'][env])} in {env}")


@flags_app.command("disable")
def disable(
    key: KeyArgument,
    env: EnvOption,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Turn a flag off in one environment, keeping its strategies."""
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/environments/{_seg(env)}/disable")
    _done(flag, json_output, f"{key} is off in {env}")


@flags_app.command("kill")
def kill(
    key: KeyArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why; kept in the audit trail.")] = "",
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Turn a flag off in every environment at once."""
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/kill", json={"reason": reason})
    names = ", ".join(flag["environments"]) or "no environment (it was never on)"
    _done(flag, json_output, f"killed {key}: off in {names}")


@flags_app.command("rollout")
def rollout(
    key: KeyArgument,
    percentage: Annotated[int, typer.Argument(metavar="PERCENT", min=0, max=100, help="0 to 100.")],
    env: EnvOption,
    stickiness: Annotated[
        str | None,
        typer.Option(
            "--stickiness",
            help="The context field that keeps a user in or out: default (userId, then "
            "sessionId, then random), userId, sessionId, random or any field.",
        ),
    ] = None,
    constraints: Annotated[
        list[str] | None,
        typer.Option(
            "--constraint",
            help="Only for contexts matching 'FIELD OPERATOR VALUE[,VALUE]', e.g. "
            "'userTier IN premium,gold' (repeatable; all must hold).",
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Roll a flag out to PERCENT % of users in one environment, and turn it on there."""
    from relgate.flags.unleash_format import parse_constraint_text

    body: dict[str, Any] = {"percentage": percentage, "stickiness": stickiness}
    if constraints:
        body["constraints"] = [parse_constraint_text(text) for text in constraints]
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/environments/{_seg(env)}/rollout", json=body)
    _done(flag, json_output, f"{key} is {_rollout(flag['environments'][env])} in {env}")


@flags_app.command("archive")
def archive(
    key: KeyArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Archive a flag: SDKs no longer receive it; `relgate flags revive` brings it back."""
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/archive")
    _done(flag, json_output, f"archived {key}")


@flags_app.command("revive")
def revive(
    key: KeyArgument,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Bring an archived flag back with its last configuration."""
    with _client(url, token) as client:
        flag = client.post(f"/api/v1/flags/{_seg(key)}/revive")
    _done(flag, json_output, f"revived {key}")


@flags_app.command("import")
def import_flags(
    file: Annotated[
        Path,
        typer.Argument(
            metavar="FILE", help="An Unleash export (JSON), or a client API features payload."
        ),
    ],
    env: Annotated[
        str | None,
        typer.Option(
            "--env",
            help="Import a one-environment file into this environment [default: the file's].",
            show_default=False,
        ),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Create or update flags and segments from Unleash's export format (all or nothing)."""
    import json

    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput, InvalidConfig

    try:
        document = json.loads(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BadInput(f"{file}: cannot be read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise BadInput(f"{file}: is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise InvalidConfig(
            f"not JSON: {exc.msg} (column {exc.colno})", file=str(file), line=exc.lineno
        ) from None
    if not isinstance(document, dict):
        raise InvalidConfig("expected a JSON object (an Unleash export)", file=str(file), line=1)
    with _client(url, token) as client:
        try:
            summary = client.post(
                "/api/v1/flags-import", json=document, params={"environment": env}
            )
        except BadInput as exc:
            raise BadInput(f"{file}: {exc.message}") from None
    if json_output:
        print_json(summary)
        return
    _out(
        escape(
            f"imported {file}: {len(summary['created'])} flags created, "
            f"{len(summary['updated'])} updated, {len(summary['segments_created'])} segments "
            f"created; environments: {', '.join(summary['environments']) or '-'}"
        )
    )


@flags_app.command("export")
def export_flags(
    envs: Annotated[
        list[str] | None,
        typer.Option("--env", help="Only this environment (repeatable) [default: all]."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Write to this file instead of stdout."),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Write every live flag in Unleash's export format (for `import` here or in Unleash)."""
    import json

    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    with _client(url, token) as client:
        document = client.get("/api/v1/flags-export", params={"environment": envs or None})
    if output is None:
        print_json(document)
        return
    try:
        output.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", "utf-8")
    except OSError as exc:
        raise BadInput(f"{output}: cannot be written: {exc.strerror}") from None
    summary = {"file": str(output), "flags": len(document["features"])}
    if json_output:
        print_json(summary)
        return
    _out(escape(f"exported {summary['flags']} flags to {output}"))


# `relgate flags lint`, segments, strategies, variants and depend live in their own modules
with contextlib.suppress(ImportError):
    from relgate.cli import flags_lint  # noqa: F401
from relgate.cli import flag_segments, flag_strategies  # noqa: E402, F401
