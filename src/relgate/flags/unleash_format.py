"""Unleash's JSON shapes as relgate stores and exchanges them (pure).

Two jobs: check and normalise the strategy, constraint, variant and dependency
objects an administrator sends (``normalize_*``: a malformed shape raises
``InvalidFlagDefinition`` naming its path, such as
``strategies[0].constraints[1].values[2]``); and read and write Unleash's
export format (``read_import``, ``build_export``), the JSON of Unleash's
``/api/admin/features-batch/export``, so a team can move over from Unleash or
back. ``read_import`` also takes a client API features payload
(``/api/client/features``).

An unknown constraint operator is accepted and stored: the evaluator treats it
as never matching, as Unleash SDKs do, so a definition written for a newer
Unleash still loads.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from relgate.errors import InvalidFlagDefinition
from relgate.flags.regex import regex_refusal
from relgate.flags.variants import fix_variant_weights

FLAG_TYPES: Final = ("release", "experiment", "operational", "kill-switch", "permission")

STRATEGY_NAMES: Final = (
    "default",
    "userWithId",
    "flexibleRollout",
    "remoteAddress",
    "applicationHostname",
)

OPERATORS: Final = frozenset(
    {
        "IN",
        "NOT_IN",
        "STR_CONTAINS",
        "STR_STARTS_WITH",
        "STR_ENDS_WITH",
        "NUM_EQ",
        "NUM_GT",
        "NUM_GTE",
        "NUM_LT",
        "NUM_LTE",
        "DATE_AFTER",
        "DATE_BEFORE",
        "SEMVER_EQ",
        "SEMVER_GT",
        "SEMVER_LT",
        "SEMVER_GTE",
        "SEMVER_LTE",
        "REGEX",
        "IN_CIDR",
    }
)

PAYLOAD_TYPES: Final = ("string", "json", "number", "csv")

_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}", re.ASCII)

# the context fields every Unleash SDK knows; export lists only the others
_STANDARD_CONTEXT: Final = frozenset(
    {"userId", "sessionId", "remoteAddress", "environment", "appName", "currentTime"}
)


def check_key(key: object, where: str = "key") -> str:
    """Return ``key`` if it is a valid flag key (Unleash's URL-friendly names).

    Letters, digits, ``-``, ``_`` and ``.``, 1 to 100 characters, not ``.``
    or ``..``. Raises ``InvalidFlagDefinition`` naming ``where`` otherwise.
    """
    if not isinstance(key, str) or not _KEY.fullmatch(key) or key in {".", ".."}:
        raise InvalidFlagDefinition(
            f"{where}: {key!r} is not a valid flag key: use 1 to 100 letters, digits, "
            "'-', '_' or '.'"
        )
    return key


def check_type(flag_type: object, where: str = "type") -> str:
    """Return ``flag_type`` if it is a known flag type; raise ``InvalidFlagDefinition`` if not."""
    if flag_type not in FLAG_TYPES:
        raise InvalidFlagDefinition(
            f"{where}: {flag_type!r} is not a flag type: expected one of {', '.join(FLAG_TYPES)}"
        )
    return str(flag_type)


def _object(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {_kind(raw)}")
    return raw


def _array(raw: object, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list | tuple):
        raise InvalidFlagDefinition(f"{where}: expected a list, got {_kind(raw)}")
    return list(raw)


def _kind(raw: object) -> str:
    return {
        type(None): "null",
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "an object",
    }.get(type(raw), type(raw).__name__)


def _text(raw: object, where: str, *, required: bool = True) -> str:
    """A string; numbers are accepted and written as Unleash writes them."""
    if isinstance(raw, str):
        if required and not raw:
            raise InvalidFlagDefinition(f"{where}: must not be empty")
        return raw
    if isinstance(raw, bool) or raw is None or not isinstance(raw, int | float):
        if raw is None and not required:
            return ""
        raise InvalidFlagDefinition(f"{where}: expected a string, got {_kind(raw)}")
    return str(raw)


def _flag(raw: object, where: str) -> bool:
    if raw is None:
        return False
    if not isinstance(raw, bool):
        raise InvalidFlagDefinition(f"{where}: expected true or false, got {_kind(raw)}")
    return raw


def normalize_constraint(raw: object, where: str) -> dict[str, Any]:
    """Return a constraint in its stored form: contextName, operator, values or value, flags.

    Raises ``InvalidFlagDefinition`` naming the path of a malformed field.
    """
    item = _object(raw, where)
    constraint: dict[str, Any] = {
        "contextName": _text(item.get("contextName"), f"{where}.contextName"),
        "operator": _text(item.get("operator"), f"{where}.operator"),
    }
    values = _array(item.get("values"), f"{where}.values")
    constraint["values"] = [
        _text(v, f"{where}.values[{i}]", required=False) for i, v in enumerate(values)
    ]
    if item.get("value") is not None:
        constraint["value"] = _text(item.get("value"), f"{where}.value", required=False)
    constraint["inverted"] = _flag(item.get("inverted"), f"{where}.inverted")
    constraint["caseInsensitive"] = _flag(item.get("caseInsensitive"), f"{where}.caseInsensitive")
    if constraint["operator"] == "REGEX":
        _check_regex(constraint, where)
    return constraint


def _check_regex(constraint: Mapping[str, Any], where: str) -> None:
    """Refuse a REGEX pattern the linear-time engine cannot take, naming the constraint.

    Stored, such a pattern would match nobody, or everybody when inverted. The
    pattern is ``value``, or the first of ``values`` as some clients send it.
    """
    if "value" in constraint:
        value, field_name = constraint["value"], "value"
    elif constraint["values"]:
        value, field_name = constraint["values"][0], "values[0]"
    else:
        raise InvalidFlagDefinition(f"{where}.value: a REGEX constraint needs a pattern")
    reason = regex_refusal(value)
    if reason is not None:
        raise InvalidFlagDefinition(
            f"{where}.{field_name}: {value!r} cannot be a REGEX constraint: {reason}"
        )


def normalize_constraints(raw: object, where: str) -> list[dict[str, Any]]:
    """Return the normalised constraints of a list; raises ``InvalidFlagDefinition``."""
    return [normalize_constraint(c, f"{where}[{i}]") for i, c in enumerate(_array(raw, where))]


def normalize_variants(raw: object, where: str = "variants") -> list[dict[str, Any]]:
    """Return variants with weights fixed (total 1000) and in Unleash's order.

    Each variant: name, weight, weightType, stickiness (default ``default``),
    optional payload ``{type: string|json|number|csv, value}`` and overrides
    ``[{contextName, values}]``. Raises ``InvalidFlagDefinition`` naming the path.
    """
    variants: list[dict[str, Any]] = []
    for index, entry in enumerate(_array(raw, where)):
        here = f"{where}[{index}]"
        item = _object(entry, here)
        variant: dict[str, Any] = {
            "name": _text(item.get("name"), f"{here}.name"),
            "weightType": item.get("weightType") or "variable",
            "stickiness": _text(item.get("stickiness") or "default", f"{here}.stickiness"),
        }
        if "weight" in item:
            variant["weight"] = item["weight"]
        payload = item.get("payload")
        if payload is not None:
            body = _object(payload, f"{here}.payload")
            kind = body.get("type")
            if kind not in PAYLOAD_TYPES:
                raise InvalidFlagDefinition(
                    f"{here}.payload.type: {kind!r} is not one of {', '.join(PAYLOAD_TYPES)}"
                )
            variant["payload"] = {
                "type": kind,
                "value": _text(body.get("value"), f"{here}.payload.value", required=False),
            }
        overrides = []
        for o_index, o_raw in enumerate(_array(item.get("overrides"), f"{here}.overrides")):
            o_here = f"{here}.overrides[{o_index}]"
            override = _object(o_raw, o_here)
            overrides.append(
                {
                    "contextName": _text(override.get("contextName"), f"{o_here}.contextName"),
                    "values": [
                        _text(v, f"{o_here}.values[{i}]", required=False)
                        for i, v in enumerate(_array(override.get("values"), f"{o_here}.values"))
                    ],
                }
            )
        variant["overrides"] = overrides
        variants.append(variant)
    try:
        return fix_variant_weights(variants)
    except InvalidFlagDefinition as exc:
        # fix_variant_weights names "variants[i]"; say where those variants are
        prefix = where.removesuffix("variants")
        raise InvalidFlagDefinition(prefix + exc.message) from None


def _rollout(raw: object, where: str) -> str:
    text = _text(raw, where)
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 100 or value != int(value):
        raise InvalidFlagDefinition(f"{where}: {text!r} is not a whole percentage from 0 to 100")
    return str(int(value))


def normalize_strategy(raw: object, where: str, *, flag_key: str) -> dict[str, Any]:
    """Return a strategy in its stored form; ``flag_key`` is the default rollout groupId.

    Known strategies: default, userWithId, flexibleRollout, remoteAddress,
    applicationHostname. Parameters are strings (numbers are accepted);
    ``flexibleRollout`` needs ``rollout`` (0 to 100) and gets ``stickiness:
    default`` and ``groupId: <flag key>`` when they are missing. ``segments``
    holds segment ids. Raises ``InvalidFlagDefinition`` naming the path.
    """
    item = _object(raw, where)
    name = item.get("name")
    if name not in STRATEGY_NAMES:
        raise InvalidFlagDefinition(
            f"{where}.name: {name!r} is not a strategy relgate knows: expected one of "
            f"{', '.join(STRATEGY_NAMES)}"
        )
    params_raw = _object(item.get("parameters") or {}, f"{where}.parameters")
    parameters: dict[str, str] = {}
    for key, value in params_raw.items():
        here = f"{where}.parameters.{key}"
        if isinstance(value, bool):
            parameters[str(key)] = "true" if value else "false"
        else:
            parameters[str(key)] = _text(value, here, required=False)
    if name == "flexibleRollout":
        if "rollout" not in parameters:
            raise InvalidFlagDefinition(f"{where}.parameters.rollout: required, 0 to 100")
        parameters["rollout"] = _rollout(parameters["rollout"], f"{where}.parameters.rollout")
        parameters["stickiness"] = parameters.get("stickiness") or "default"
        parameters["groupId"] = parameters.get("groupId") or flag_key
    required = {"userWithId": "userIds", "remoteAddress": "IPs", "applicationHostname": "hostNames"}
    if name in required and required[name] not in parameters:
        raise InvalidFlagDefinition(
            f"{where}.parameters.{required[name]}: required by the {name} strategy "
            "(a comma-separated list)"
        )
    segments: list[int] = []
    for index, segment in enumerate(_array(item.get("segments"), f"{where}.segments")):
        if isinstance(segment, bool) or not isinstance(segment, int):
            raise InvalidFlagDefinition(
                f"{where}.segments[{index}]: expected a segment id (an integer), "
                f"got {_kind(segment)}"
            )
        segments.append(segment)
    strategy: dict[str, Any] = {
        "name": name,
        "parameters": parameters,
        "constraints": normalize_constraints(item.get("constraints"), f"{where}.constraints"),
        "segments": segments,
        "variants": normalize_variants(item.get("variants"), f"{where}.variants"),
        "disabled": _flag(item.get("disabled"), f"{where}.disabled"),
    }
    for optional in ("id", "title"):
        if item.get(optional) is not None:
            strategy[optional] = _text(item[optional], f"{where}.{optional}", required=False)
    return strategy


def normalize_strategies(raw: object, *, flag_key: str, where: str = "strategies") -> list[Any]:
    """Return the ordered, normalised strategies of a list; raises ``InvalidFlagDefinition``."""
    return [
        normalize_strategy(s, f"{where}[{i}]", flag_key=flag_key)
        for i, s in enumerate(_array(raw, where))
    ]


def normalize_dependencies(raw: object, where: str = "dependencies") -> list[Any]:
    """Return dependencies ``[{feature, enabled, variants}]`` (enabled defaults to true).

    Raises ``InvalidFlagDefinition`` naming the path of a malformed entry.
    """
    dependencies: list[dict[str, Any]] = []
    for index, entry in enumerate(_array(raw, where)):
        here = f"{where}[{index}]"
        item = _object(entry, here)
        enabled = item.get("enabled")
        dependency: dict[str, Any] = {
            "feature": check_key(item.get("feature"), f"{here}.feature"),
            "enabled": True if enabled is None else _flag(enabled, f"{here}.enabled"),
        }
        variants = [
            _text(v, f"{here}.variants[{i}]")
            for i, v in enumerate(_array(item.get("variants"), f"{here}.variants"))
        ]
        if variants:
            dependency["variants"] = variants
        dependencies.append(dependency)
    return dependencies


LIST_OPERATORS: Final = frozenset(
    {"IN", "NOT_IN", "STR_CONTAINS", "STR_STARTS_WITH", "STR_ENDS_WITH", "IN_CIDR"}
)


def parse_constraint_text(text: str) -> dict[str, Any]:
    """Return the constraint written as ``'field OPERATOR a,b,c'`` (``NOT`` before inverts).

    ``userTier IN premium,gold`` and ``appVersion SEMVER_GTE 2.0.0`` are
    examples; list operators (``IN``, ``STR_*``, ``IN_CIDR``...) split the
    values on commas, the others take one value. Unlike stored definitions,
    written text must use an operator relgate knows (a typo would match
    nobody). Raises ``InvalidFlagDefinition`` naming the text and what is wrong.
    """
    parts = text.split(None, 2)
    inverted = False
    if len(parts) == 3 and parts[1].upper() == "NOT":
        rest = parts[2].split(None, 1)
        parts = [parts[0], *rest]
        inverted = True
    if len(parts) != 3:
        raise InvalidFlagDefinition(
            f"constraint {text!r}: write it as 'FIELD OPERATOR VALUE[,VALUE...]', "
            "for example 'userTier IN premium,gold'"
        )
    field_name, operator, values = parts
    operator = operator.upper()
    if operator not in OPERATORS:
        raise InvalidFlagDefinition(
            f"constraint {text!r}: unknown operator {parts[1]!r}: expected one of "
            f"{', '.join(sorted(OPERATORS))}"
        )
    constraint: dict[str, Any] = {
        "contextName": field_name,
        "operator": operator,
        "values": [],
        "inverted": inverted,
        "caseInsensitive": False,
    }
    if operator in LIST_OPERATORS:
        constraint["values"] = [v.strip() for v in values.split(",") if v.strip()]
        if not constraint["values"]:
            raise InvalidFlagDefinition(
                f"constraint {text!r}: {operator} needs at least one value (a,b,c)"
            )
    else:
        constraint["value"] = values.strip()
    return constraint


def constraint_text(constraint: Mapping[str, Any]) -> str:
    """Write a stored constraint as ``parse_constraint_text`` reads it (``NOT`` when inverted)."""
    values = constraint.get("values") or [constraint.get("value", "")]
    negation = "NOT " if constraint.get("inverted") else ""
    return (
        f"{constraint.get('contextName')} {negation}{constraint.get('operator')} "
        f"{','.join(str(v) for v in values)}"
    )


# --------------------------------------------------------------------------- import


@dataclass(frozen=True)
class ImportedSegment:
    """A segment as the file names it; ``constraints`` is None when the file leaves them out."""

    id: int
    name: str
    description: str
    constraints: list[Any] | None


@dataclass(frozen=True)
class ImportedEnvironment:
    enabled: bool
    # strategies still refer to the file's segment ids
    strategies: list[Any]
    variants: list[Any]


@dataclass(frozen=True)
class ImportedFlag:
    key: str
    type: str
    description: str
    impression_data: bool
    archived: bool
    tags: list[str]
    dependencies: list[Any]
    environments: dict[str, ImportedEnvironment] = field(default_factory=dict)


@dataclass(frozen=True)
class ImportPlan:
    flags: list[ImportedFlag]
    segments: list[ImportedSegment]


def read_import(document: object, *, environment: str | None = None) -> ImportPlan:
    """Return what an Unleash export (or a client API features payload) defines.

    An export (``features``, ``featureStrategies``, ``featureEnvironments``,
    ``segments``, ``featureTags``, ``dependencies``...) may hold several
    environments when each strategy names its ``environment`` (relgate's
    exports do); Unleash's own exports hold one. ``environment`` imports a
    one-environment file into that environment instead. A client payload has
    no environment of its own unless ``query.environment`` says it, so it needs
    ``environment`` otherwise. Raises ``InvalidFlagDefinition`` naming the path
    of what is malformed, or when the target environment is ambiguous.
    """
    doc = _object(document, "document")
    if "featureStrategies" in doc or "featureEnvironments" in doc:
        return _read_export(doc, environment)
    if "features" in doc:
        return _read_client_payload(doc, environment)
    raise InvalidFlagDefinition(
        "document: neither an Unleash export (features, featureStrategies, "
        "featureEnvironments) nor a client features payload (features with strategies)"
    )


def _segments(raw: object, where: str) -> list[ImportedSegment]:
    segments: list[ImportedSegment] = []
    for index, entry in enumerate(_array(raw, where)):
        here = f"{where}[{index}]"
        item = _object(entry, here)
        segment_id = item.get("id")
        if isinstance(segment_id, bool) or not isinstance(segment_id, int):
            raise InvalidFlagDefinition(f"{here}.id: required, an integer")
        constraints = (
            normalize_constraints(item["constraints"], f"{here}.constraints")
            if "constraints" in item
            else None
        )
        name = item.get("name")
        segments.append(
            ImportedSegment(
                id=segment_id,
                name=_text(name, f"{here}.name") if name is not None else f"segment-{segment_id}",
                description=_text(item.get("description"), f"{here}.description", required=False),
                constraints=constraints,
            )
        )
    return segments


def _tags(raw: object, where: str) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    for index, entry in enumerate(_array(raw, where)):
        here = f"{where}[{index}]"
        item = _object(entry, here)
        feature = _text(item.get("featureName"), f"{here}.featureName")
        tag_type = _text(item.get("tagType") or item.get("type") or "simple", f"{here}.tagType")
        value = _text(item.get("tagValue") or item.get("value"), f"{here}.tagValue")
        tags.setdefault(feature, []).append(
            value if tag_type == "simple" else f"{tag_type}:{value}"
        )
    return tags


def _flag_type(raw: object, where: str) -> str:
    # Unleash has no other types; a missing one is a release flag, as in Unleash
    return check_type(raw or "release", where)


def _read_export(doc: Mapping[str, Any], environment: str | None) -> ImportPlan:
    features = _array(doc.get("features"), "features")
    strategies = _array(doc.get("featureStrategies"), "featureStrategies")
    feature_envs = _array(doc.get("featureEnvironments"), "featureEnvironments")
    file_envs: list[str] = []
    for index, entry in enumerate(feature_envs):
        item = _object(entry, f"featureEnvironments[{index}]")
        env = item.get("environment")
        if env is not None:
            env = _text(env, f"featureEnvironments[{index}].environment")
            if env not in file_envs:
                file_envs.append(env)
    for index, entry in enumerate(strategies):
        item = _object(entry, f"featureStrategies[{index}]")
        env = item.get("environment")
        if env is not None and env not in file_envs:
            file_envs.append(_text(env, f"featureStrategies[{index}].environment"))
    if environment is not None and len(file_envs) > 1:
        raise InvalidFlagDefinition(
            f"the file holds several environments ({', '.join(file_envs)}): import it "
            "without an environment, each goes to its own"
        )
    sole = environment or (file_envs[0] if len(file_envs) == 1 else None)

    def target(raw_env: object, where: str) -> str:
        if environment is not None:
            return environment
        if isinstance(raw_env, str) and raw_env:
            return raw_env
        if sole is None:
            raise InvalidFlagDefinition(f"{where}: names no environment; give one to import into")
        return sole

    tags = _tags(doc.get("featureTags"), "featureTags")
    dependencies: dict[str, list[Any]] = {}
    for index, entry in enumerate(_array(doc.get("dependencies"), "dependencies")):
        here = f"dependencies[{index}]"
        item = _object(entry, here)
        child = check_key(item.get("feature"), f"{here}.feature")
        dependencies[child] = normalize_dependencies(
            item.get("dependencies"), f"{here}.dependencies"
        )
    flags: dict[str, ImportedFlag] = {}
    for index, entry in enumerate(features):
        here = f"features[{index}]"
        item = _object(entry, here)
        key = check_key(item.get("name"), f"{here}.name")
        flags[key] = ImportedFlag(
            key=key,
            type=_flag_type(item.get("type"), f"{here}.type"),
            description=_text(item.get("description"), f"{here}.description", required=False),
            impression_data=_flag(item.get("impressionData"), f"{here}.impressionData"),
            archived=_flag(item.get("archived"), f"{here}.archived"),
            tags=tags.get(key, []),
            dependencies=dependencies.get(key, []),
        )

    def config(key: str, env: str, where: str) -> ImportedEnvironment:
        if key not in flags:
            raise InvalidFlagDefinition(f"{where}.featureName: {key!r} is not in features")
        envs = flags[key].environments
        if env not in envs:
            envs[env] = ImportedEnvironment(enabled=False, strategies=[], variants=[])
        return envs[env]

    for index, entry in enumerate(feature_envs):
        here = f"featureEnvironments[{index}]"
        item = _object(entry, here)
        key = _text(item.get("featureName") or item.get("name"), f"{here}.featureName")
        env = target(item.get("environment"), here)
        current = config(key, env, here)
        flags[key].environments[env] = ImportedEnvironment(
            enabled=_flag(item.get("enabled"), f"{here}.enabled"),
            strategies=current.strategies,
            variants=normalize_variants(item.get("variants"), f"{here}.variants"),
        )
    linked_segments: dict[object, list[Any]] = {}
    links = _array(doc.get("featureStrategySegments"), "featureStrategySegments")
    for index, entry in enumerate(links):
        item = _object(entry, f"featureStrategySegments[{index}]")
        linked_segments.setdefault(item.get("featureStrategyId"), []).append(item.get("segmentId"))
    ordered: list[tuple[int, int, str, str, dict[str, Any]]] = []
    for index, entry in enumerate(strategies):
        here = f"featureStrategies[{index}]"
        item = _object(entry, here)
        key = _text(item.get("featureName"), f"{here}.featureName")
        env = target(item.get("environment"), here)
        config(key, env, here)
        sort_order = item.get("sortOrder")
        order = (
            sort_order if isinstance(sort_order, int) and not isinstance(sort_order, bool) else 0
        )
        raw = dict(item)
        # Unleash's older state export names the strategy "strategyName" and links
        # segments in a table of its own
        if "name" not in raw and "strategyName" in raw:
            raw["name"] = raw["strategyName"]
        if not raw.get("segments") and raw.get("id") in linked_segments:
            raw["segments"] = linked_segments[raw["id"]]
        strategy = normalize_strategy(raw, here, flag_key=key)
        ordered.append((order, index, key, env, strategy))
    for _order, _index, key, env, strategy in sorted(ordered, key=lambda s: (s[0], s[1])):
        flags[key].environments[env].strategies.append(strategy)
    return ImportPlan(
        flags=list(flags.values()), segments=_segments(doc.get("segments"), "segments")
    )


def _read_client_payload(doc: Mapping[str, Any], environment: str | None) -> ImportPlan:
    query = doc.get("query")
    env = environment
    if env is None and isinstance(query, Mapping) and isinstance(query.get("environment"), str):
        env = query["environment"]
    if not env:
        raise InvalidFlagDefinition(
            "a client features payload does not say which environment it is: "
            "give one to import into"
        )
    flags: list[ImportedFlag] = []
    for index, entry in enumerate(_array(doc.get("features"), "features")):
        here = f"features[{index}]"
        item = _object(entry, here)
        key = check_key(item.get("name"), f"{here}.name")
        flags.append(
            ImportedFlag(
                key=key,
                type=_flag_type(item.get("type"), f"{here}.type"),
                description=_text(item.get("description"), f"{here}.description", required=False),
                impression_data=_flag(item.get("impressionData"), f"{here}.impressionData"),
                archived=False,
                tags=[],
                dependencies=normalize_dependencies(
                    item.get("dependencies"), f"{here}.dependencies"
                ),
                environments={
                    env: ImportedEnvironment(
                        enabled=_flag(item.get("enabled"), f"{here}.enabled"),
                        strategies=normalize_strategies(
                            item.get("strategies"), flag_key=key, where=f"{here}.strategies"
                        ),
                        variants=normalize_variants(item.get("variants"), f"{here}.variants"),
                    )
                },
            )
        )
    return ImportPlan(flags=flags, segments=_segments(doc.get("segments"), "segments"))


# --------------------------------------------------------------------------- export


@dataclass(frozen=True)
class ExportedFlag:
    """What ``build_export`` needs of one flag.

    ``environments`` maps each environment to (enabled, strategies, variants).
    """

    key: str
    type: str
    description: str
    impression_data: bool
    stale: bool
    tags: Sequence[str]
    dependencies: Sequence[Mapping[str, Any]]
    environments: Mapping[str, tuple[bool, Sequence[Mapping[str, Any]], Sequence[Any]]]


def _split_tag(tag: str) -> tuple[str, str]:
    kind, sep, value = tag.partition(":")
    return (kind, value) if sep and kind and value else ("simple", tag)


def build_export(
    flags: Iterable[ExportedFlag], segments: Iterable[Mapping[str, Any]]
) -> dict[str, Any]:
    """Return the Unleash export document of ``flags`` (and the ``segments`` they use).

    Each strategy names its ``environment`` so one file can carry several;
    segments carry their ``constraints`` (Unleash's own exports leave them out
    and match segments by name on import).
    """
    features: list[dict[str, Any]] = []
    strategies: list[dict[str, Any]] = []
    environments: list[dict[str, Any]] = []
    feature_tags: list[dict[str, Any]] = []
    dependencies: list[dict[str, Any]] = []
    context_fields: set[str] = set()
    used_segments: set[int] = set()
    tag_types: set[str] = set()
    for flag in flags:
        features.append(
            {
                "name": flag.key,
                "type": flag.type,
                "description": flag.description,
                "project": "default",
                "stale": flag.stale,
                "impressionData": flag.impression_data,
                "archived": False,
            }
        )
        for env, (enabled, env_strategies, variants) in flag.environments.items():
            environments.append(
                {
                    "name": flag.key,
                    "featureName": flag.key,
                    "environment": env,
                    "enabled": enabled,
                    "variants": list(variants),
                }
            )
            for order, strategy in enumerate(env_strategies):
                exported = {"featureName": flag.key, "environment": env, **strategy}
                exported["sortOrder"] = order
                strategies.append(exported)
                used_segments.update(strategy.get("segments") or [])
                context_fields.update(c["contextName"] for c in strategy.get("constraints") or [])
        for tag in flag.tags:
            kind, value = _split_tag(tag)
            tag_types.add(kind)
            feature_tags.append({"featureName": flag.key, "tagType": kind, "tagValue": value})
        if flag.dependencies:
            dependencies.append(
                {"feature": flag.key, "dependencies": [dict(d) for d in flag.dependencies]}
            )
    exported_segments = []
    for segment in segments:
        if segment["id"] in used_segments:
            exported_segments.append(dict(segment))
            context_fields.update(c["contextName"] for c in segment.get("constraints") or [])
    return {
        "features": features,
        "featureStrategies": strategies,
        "featureEnvironments": environments,
        "contextFields": [{"name": n} for n in sorted(context_fields - _STANDARD_CONTEXT)],
        "featureTags": feature_tags,
        "tagTypes": [{"name": t} for t in sorted(tag_types)],
        "segments": exported_segments,
        "dependencies": dependencies,
    }
