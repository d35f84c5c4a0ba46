"""relgate flags strategies set, variants set, depend: a flag's configuration from the CLI.

Each maps onto the admin API (``PUT …/strategies``, ``PUT …/variants``, ``PUT
…/dependencies``), which checks and normalises what it receives; here the
options and files are read. In files, a constraint may be written as text
(``appName IN web,ios``) and a strategy's ``segments`` may be names.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from relgate.cli.flags import EnvOption, KeyArgument, flags_app
from relgate.cli.options import JsonOption, TokenOption, UrlOption
from relgate.cli.options import client as _client
from relgate.cli.options import say as _out
from relgate.cli.options import segment as _seg

strategies_app = typer.Typer(
    help="A flag's strategies in one environment (who gets it on).", no_args_is_help=True
)
variants_app = typer.Typer(
    help="A flag's variants in one environment (which variant each user gets).",
    no_args_is_help=True,
)
flags_app.add_typer(strategies_app, name="strategies")
flags_app.add_typer(variants_app, name="variants")

FileOption = Annotated[
    Path | None, typer.Option("--file", help="A JSON or YAML file.", show_default=False)
]


def _strategy_text(strategy: dict[str, Any], segments: dict[int, str]) -> str:
    from relgate.flags.unleash_format import constraint_text

    parameters = strategy.get("parameters") or {}
    text = str(strategy["name"])
    if "rollout" in parameters:
        text += f" {parameters['rollout']}% by {parameters.get('stickiness', 'default')}"
    others = {k: v for k, v in parameters.items() if k not in ("rollout", "stickiness", "groupId")}
    if others:
        text += " " + " ".join(f"{k}={v}" for k, v in others.items())
    rules = [constraint_text(c) for c in strategy.get("constraints") or []]
    rules += [f"segment {segments.get(s, s)}" for s in strategy.get("segments") or []]
    if rules:
        text += " if " + " and ".join(rules)
    if strategy.get("disabled"):
        text += " (disabled)"
    return text


def _state(flag: dict[str, Any], env: str) -> str:
    if flag["environments"].get(env, {}).get("enabled"):
        return ""
    return f" (off in {env}: `relgate flags enable {flag['key']} --env {env}` turns it on)"


# ---------------------------------------------------------------------------- strategies


@strategies_app.command("set")
def set_strategies(
    key: KeyArgument,
    env: EnvOption,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="JSON or YAML: the ordered list of Unleash strategy objects (or an object "
            "with 'strategies'); constraints may be texts, segments names.",
            show_default=False,
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--strategy",
            help="One strategy instead of a file: flexibleRollout, default, userWithId, "
            "remoteAddress or applicationHostname.",
            show_default=False,
        ),
    ] = None,
    rollout: Annotated[
        int | None,
        typer.Option("--rollout", min=0, max=100, help="flexibleRollout: 0 to 100 %."),
    ] = None,
    stickiness: Annotated[
        str | None,
        typer.Option(
            "--stickiness", help="flexibleRollout: default, userId, sessionId, random or a field."
        ),
    ] = None,
    group_id: Annotated[
        str | None,
        typer.Option("--group-id", help="flexibleRollout: the bucket group [default: the key]."),
    ] = None,
    params: Annotated[
        list[str] | None,
        typer.Option(
            "--param", help="Another parameter KEY=VALUE, e.g. userIds=u1,u2 (repeatable)."
        ),
    ] = None,
    constraints: Annotated[
        list[str] | None,
        typer.Option(
            "--constraint",
            help="'FIELD [NOT] OPERATOR VALUE[,VALUE...]', e.g. 'appName IN web,ios' "
            "(repeatable; all must hold).",
        ),
    ] = None,
    segments: Annotated[
        list[str] | None,
        typer.Option("--segment", help="A segment's name (repeatable; all must hold)."),
    ] = None,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace the flag's strategies in ENV: those of --file, or the one of --strategy.

    An empty list in the file removes them all. The flag's on/off state is
    kept: `relgate flags enable` turns it on.
    """
    from relgate.cli import flag_input
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    one_strategy_options = (rollout, stickiness, group_id, params, constraints, segments)
    lines: flag_input.Lines = {}
    at: tuple[str | int, ...] = ()
    if file is not None:
        if name is not None or any(option for option in one_strategy_options):
            raise BadInput("give --file or --strategy and its options, not both")
        document, lines = flag_input.read_document(file)
        strategies, at = flag_input.list_in(document, "strategies", file, lines)
        for index, strategy in enumerate(strategies):
            if isinstance(strategy, dict) and isinstance(strategy.get("constraints"), list):
                strategy["constraints"] = flag_input.constraints_in(
                    strategy["constraints"], file, lines, (*at, index, "constraints")
                )
    elif name is not None:
        parameters: dict[str, Any] = {}
        for text in params or []:
            parameters.update(flag_input.pairs(text, "--param"))
        for option, value in (("rollout", rollout), ("stickiness", stickiness)):
            if value is not None:
                parameters[option] = str(value)
        if group_id is not None:
            parameters["groupId"] = group_id
        strategies = [
            {
                "name": name,
                "parameters": parameters,
                "constraints": [flag_input.constraint(text) for text in constraints or []],
                "segments": list(segments or []),
            }
        ]
    else:
        raise BadInput("give --file FILE or --strategy NAME (with --rollout, --constraint…)")
    with _client(url, token) as client:
        for index, strategy in enumerate(strategies):
            if isinstance(strategy, dict) and isinstance(strategy.get("segments"), list):
                line = lines.get((*at, index, "segments"))
                place = f"{file}:{line}" if line is not None else str(file)
                where = f"{place}: strategies[{index}].segments" if file else "--segment"
                strategy["segments"] = flag_input.segment_ids(client, strategy["segments"], where)
        with flag_input.with_file_lines(file, lines, at, "strategies"):
            flag = client.put(
                f"/api/v1/flags/{_seg(key)}/environments/{_seg(env)}/strategies", json=strategies
            )
        names = {s["id"]: s["name"] for s in client.get("/api/v1/segments")}
    if json_output:
        print_json(flag)
        return
    stored = flag["environments"][env]["strategies"]
    described = "; ".join(_strategy_text(s, names) for s in stored) or "none"
    _out(escape(f"{key} in {env}: {described}{_state(flag, env)}"))


# ---------------------------------------------------------------------------- variants


@variants_app.command("set")
def set_variants(
    key: KeyArgument,
    env: EnvOption,
    file: Annotated[
        Path | None,
        typer.Option(
            "--file",
            help="JSON or YAML: a list of Unleash variant objects (or an object with "
            "'variants'); weights in thousandths.",
            show_default=False,
        ),
    ] = None,
    variants: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            help="NAME[=PERCENT][,stickiness=FIELD][,payload=TYPE:VALUE] (repeatable), e.g. "
            '\'blue=25,payload=json:{"color":"#00f"}\'; variants without a weight share the '
            "rest evenly.",
        ),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every variant.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Replace the flag's variants in ENV (weights are fixed to total 100 % by the server)."""
    from relgate.cli import flag_input
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    lines: flag_input.Lines = {}
    at: tuple[str | int, ...] = ()
    if sum((file is not None, bool(variants), clear)) != 1:
        raise BadInput("give one of --file FILE, --variant NAME=PERCENT… or --clear")
    if file is not None:
        document, lines = flag_input.read_document(file)
        body, at = flag_input.list_in(document, "variants", file, lines)
    else:
        body = flag_input.variants(variants or [])
    with _client(url, token) as client, flag_input.with_file_lines(file, lines, at, "variants"):
        flag = client.put(f"/api/v1/flags/{_seg(key)}/environments/{_seg(env)}/variants", json=body)
    if json_output:
        print_json(flag)
        return
    stored = flag["environments"][env]["variants"]
    described = ", ".join(f"{v['name']} {v['weight'] / 10:g}%" for v in stored) or "none"
    _out(escape(f"{key} variants in {env}: {described}"))


# ---------------------------------------------------------------------------- dependencies


@flags_app.command("depend")
def depend(
    key: KeyArgument,
    on: Annotated[
        list[str] | None,
        typer.Option(
            "--on",
            help="PARENT[:VARIANT,...]: on only when PARENT is on (with one of those "
            "variants); repeatable.",
        ),
    ] = None,
    off: Annotated[
        list[str] | None,
        typer.Option("--off", help="PARENT: on only when PARENT is off (repeatable)."),
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove every dependency.")] = False,
    url: UrlOption = None,
    token: TokenOption = None,
    json_output: JsonOption = False,
) -> None:
    """Make a flag depend on parent flags, in every environment (replaces its dependencies)."""
    from relgate.cli import flag_input
    from relgate.cli.output import escape, print_json
    from relgate.errors import BadInput

    if clear == bool(on or off):
        raise BadInput("give --on PARENT / --off PARENT, or --clear")
    body = [flag_input.parent(text, True, "--on") for text in on or []]
    body += [flag_input.parent(text, False, "--off") for text in off or []]
    with _client(url, token) as client:
        flag = client.put(f"/api/v1/flags/{_seg(key)}/dependencies", json=body)
    if json_output:
        print_json(flag)
        return
    parts = []
    for dependency in flag["dependencies"]:
        state = "on" if dependency.get("enabled", True) else "off"
        variants = dependency.get("variants")
        parts.append(
            f"{dependency['feature']} {state}"
            + (f" with variant {', '.join(variants)}" if variants else "")
        )
    _out(escape(f"{key} depends on " + ("; ".join(parts) or "nothing")))
