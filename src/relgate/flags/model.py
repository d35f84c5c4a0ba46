"""Compiled feature flags: an immutable snapshot built once from Unleash's JSON.

``Snapshot.from_unleash_features`` is the single entry point: it takes the
client API v2 document (``{"version": 2, "features": [...], "segments": [...]}``)
and compiles every flag into frozen objects whose rules are plain callables
over a ``Context``. Everything that can be parsed ahead of time is parsed here
(operator functions, sets for ``IN`` lists, CIDR networks, SemVer precedence
keys, dates, regular expressions, ``"groupId:"`` hash prefixes), so evaluation
(``relgate.flags.evaluate``) does no parsing.

A definition that Unleash would ignore or treat as "never matches" (an unknown
operator or strategy, a bad regex, CIDR, number, date or SemVer value, a
missing segment) compiles to a rule that is false, logged once at debug level
(``compile_constraint`` tells how ``inverted`` applies); only a document whose
shape is wrong (not an object, a flag without a name...) raises
``InvalidFlagDefinition``.

Where Unleash SDKs disagree on an edge (number and date syntax, rollout
percentages such as "50.5"), relgate follows Yggdrasil, the engine that
Unleash's Python, Ruby, .NET, PHP and Java SDKs embed.
"""

from __future__ import annotations

import copy
import ipaddress
import logging
import random
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from operator import attrgetter
from types import MappingProxyType
from typing import Any, Final

import mmh3

from relgate.errors import InvalidFlagContext, InvalidFlagDefinition, InvalidVersion
from relgate.flags.regex import RegexRefusal, compile_rust_regex
from relgate.versioning.semver import PrecedenceKey, Version

logger = logging.getLogger(__name__)

STRATEGY_SEED: Final = 0
VARIANT_SEED: Final = 86028157

_EMPTY_PROPERTIES: Final[Mapping[str, str]] = MappingProxyType({})

# ---------------------------------------------------------------------------
# Context


@dataclass(frozen=True, slots=True)
class Context:
    """What an application knows about the current request, as Unleash defines it.

    ``properties`` holds every other field (``properties.*`` in Unleash), such as
    ``hostname`` for the ``applicationHostname`` strategy.
    """

    user_id: str | None = None
    session_id: str | None = None
    remote_address: str | None = None
    environment: str | None = None
    app_name: str | None = None
    current_time: datetime | None = None
    properties: Mapping[str, str] = field(default_factory=lambda: _EMPTY_PROPERTIES)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Context:
        """Return the context an Unleash SDK would build from ``data`` (camelCase keys).

        Unknown top-level keys become properties, as in Unleash SDKs; ``None``
        values are dropped and other values are turned into strings.
        ``currentTime`` may be a ``datetime`` or an ISO 8601 string.

        Raises ``InvalidFlagContext`` when ``data`` is not a mapping, when
        ``properties`` is not a mapping or when ``currentTime`` is not a date.
        """
        if not isinstance(data, Mapping):
            raise InvalidFlagContext(f"context: expected an object, got {type(data).__name__}")
        known: dict[str, str | None] = {}
        properties: dict[str, str] = {}
        current_time: datetime | None = None
        for key, value in data.items():
            if value is None:
                continue
            if key == "properties":
                if not isinstance(value, Mapping):
                    raise InvalidFlagContext(
                        f"context.properties: expected an object, got {type(value).__name__}"
                    )
                properties.update((str(k), _to_text(v)) for k, v in value.items() if v is not None)
            elif key == "currentTime":
                current_time = _context_time(value)
            elif key in _CONTEXT_ATTRIBUTES:
                known[_CONTEXT_ATTRIBUTES[key]] = _to_text(value)
            else:
                properties[str(key)] = _to_text(value)
        return cls(
            user_id=known.get("user_id"),
            session_id=known.get("session_id"),
            remote_address=known.get("remote_address"),
            environment=known.get("environment"),
            app_name=known.get("app_name"),
            current_time=current_time,
            properties=MappingProxyType(properties) if properties else _EMPTY_PROPERTIES,
        )


_CONTEXT_ATTRIBUTES: Final = {
    "userId": "user_id",
    "sessionId": "session_id",
    "remoteAddress": "remote_address",
    "environment": "environment",
    "appName": "app_name",
}


def _to_text(value: object) -> str:
    if isinstance(value, bool):
        # JavaScript's String(true) is "true"; Python's str(True) is "True"
        return "true" if value else "false"
    return str(value)


def _context_time(value: object) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = parse_date(str(value))
    if parsed is None:
        raise InvalidFlagContext(f"context.currentTime: {value!r} is not an ISO 8601 date")
    return parsed


ContextGetter = Callable[[Context], str | None]
Predicate = Callable[[Context], bool]


def _current_time_text(context: Context) -> str | None:
    at = context.current_time
    return None if at is None else at.isoformat()


def context_getter(name: str) -> ContextGetter:
    """Return the function that reads the context field ``name`` (Unleash's spelling).

    Standard fields (``userId``, ``sessionId``...) are attributes; any other
    name is looked up in ``properties``.
    """
    attribute = _CONTEXT_ATTRIBUTES.get(name)
    if attribute is not None:
        getter: ContextGetter = attrgetter(attribute)
        return getter
    if name == "currentTime":
        return _current_time_text

    def from_properties(context: Context) -> str | None:
        return context.properties.get(name)

    return from_properties


# ---------------------------------------------------------------------------
# Values parsed ahead of time

# Numbers and dates are read as Unleash's evaluation engine (Yggdrasil, behind
# the Python, Ruby, .NET... SDKs) reads them: a constraint's value must be a
# plain decimal (surrounding blanks allowed) and a date RFC 3339 with an offset,
# or the constraint never holds; a context value is read as Rust's f64 parser
# does (no blanks, no hex, "inf"/"NaN" allowed).
_VALUE_NUMBER = re.compile(r"[+-]?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?", re.ASCII)
_CONTEXT_NUMBER = re.compile(
    r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|infinity|nan)",
    re.ASCII | re.IGNORECASE,
)
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII
)
_PERCENTAGE = re.compile(r"\d{1,9}", re.ASCII)


def parse_value_number(text: str) -> float | None:
    """Return the number in a constraint's ``value``, or ``None`` if not a plain decimal."""
    stripped = text.strip()
    return float(stripped) if _VALUE_NUMBER.fullmatch(stripped) else None


def parse_context_number(text: str) -> float | None:
    """Return the number a context field holds, or ``None`` if it is not one."""
    return float(text) if _CONTEXT_NUMBER.fullmatch(text) else None


def parse_rfc3339(text: str) -> datetime | None:
    """Return the instant of an RFC 3339 date-time with an offset, or ``None`` if it is not one."""
    stripped = text.strip()
    if not _RFC3339.fullmatch(stripped):
        return None
    # fromisoformat takes at most 6 fraction digits; finer ones cannot matter here
    head, dot, rest = stripped.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        stripped = f"{head}.{rest[: min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(stripped)
    except ValueError:
        return None


def parse_date(text: str) -> datetime | None:
    """Return the timezone-aware instant of an ISO 8601 date, or ``None`` if it is not one.

    Laxer than ``parse_rfc3339``, for contexts: a date without an offset is UTC.
    """
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _semver_key(text: str) -> PrecedenceKey | None:
    try:
        return Version.parse(text).precedence_key()
    except InvalidVersion:
        return None


# Context versions repeat (an app sends its own version on every call), so
# their parse is cached; the cache is bounded so hostile input cannot grow it.
_context_semver_key = lru_cache(maxsize=4096)(_semver_key)


def _context_address(
    text: str,
) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


_context_address_cached = lru_cache(maxsize=4096)(_context_address)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(entries: Iterable[str], where: str) -> tuple[Network, ...]:
    """Return the networks among ``entries`` (IPs or CIDR ranges), skipping invalid ones."""
    networks: list[Network] = []
    for entry in entries:
        text = entry.strip()
        if not text:
            continue
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            _log_once(f"{where}: {text!r} is not an IP address or CIDR range; ignored")
    return tuple(networks)


def _in_networks(networks: tuple[Network, ...], text: str | None) -> bool:
    if not text:
        return False
    address = _context_address_cached(text)
    if address is None:
        return False
    # "in" across IP versions is simply False, so mixed lists need no split
    return any(address in network for network in networks)


_logged: set[str] = set()


def _log_once(message: str) -> None:
    if message not in _logged and len(_logged) < 10_000:
        _logged.add(message)
        logger.debug(message)


# ---------------------------------------------------------------------------
# Constraints


def _never(_context: Context) -> bool:
    return False


def _always(_context: Context) -> bool:
    return True


def _text_list(raw: Mapping[str, Any], where: str) -> list[str]:
    values = raw.get("values")
    if values is None:
        return []
    if not isinstance(values, list):
        raise InvalidFlagDefinition(f"{where}.values: expected a list, got {type(values).__name__}")
    return [_to_text(v) for v in values if v is not None]


def _single_value(raw: Mapping[str, Any]) -> str | None:
    value = raw.get("value")
    if value is None:
        values = raw.get("values")
        # Unleash's UI stores single values in "value", some clients send "values"
        if isinstance(values, list) and values and values[0] is not None:
            return _to_text(values[0])
        return None
    return _to_text(value)


def _clean(values: list[str]) -> list[str]:
    # as Unleash SDKs: drop empty entries, trim the others
    return [v.strip() for v in values if v]


def _in_operator(getter: ContextGetter, values: list[str], negate: bool) -> Predicate:
    members = frozenset(_clean(values))
    if negate:
        return lambda c: getter(c) not in members
    return lambda c: getter(c) in members


def _string_operator(
    getter: ContextGetter, operator: str, values: list[str], case_insensitive: bool
) -> Predicate:
    cleaned = _clean(values)
    if case_insensitive:
        cleaned = [v.lower() for v in cleaned]
    needles = tuple(cleaned)

    def read(c: Context) -> str | None:
        value = getter(c)
        return value.lower() if case_insensitive and value is not None else value

    if operator == "STR_STARTS_WITH":
        return lambda c: (v := read(c)) is not None and v.startswith(needles)
    if operator == "STR_ENDS_WITH":
        return lambda c: (v := read(c)) is not None and v.endswith(needles)
    return lambda c: (v := read(c)) is not None and any(n in v for n in needles)


_NUMBER_TESTS: Final[dict[str, Callable[[float, float], bool]]] = {
    "NUM_EQ": lambda a, b: a == b,
    "NUM_GT": lambda a, b: a > b,
    "NUM_GTE": lambda a, b: a >= b,
    "NUM_LT": lambda a, b: a < b,
    "NUM_LTE": lambda a, b: a <= b,
}


def _number_operator(
    getter: ContextGetter, operator: str, value: str | None, where: str
) -> Predicate:
    target = None if value is None else parse_value_number(value)
    if target is None:
        _log_once(f"{where}: {value!r} is not a number; the constraint never holds")
        return _never
    test = _NUMBER_TESTS[operator]

    def holds(c: Context) -> bool:
        text = getter(c)
        if text is None:
            return False
        number = parse_context_number(text)
        return number is not None and test(number, target)

    return holds


def _date_operator(operator: str, value: str | None, where: str) -> Predicate:
    target = None if value is None else parse_rfc3339(value)
    if target is None:
        _log_once(f"{where}: {value!r} is not an RFC 3339 date-time; the constraint never holds")
        return _never
    # the evaluator fills current_time from its clock when the caller did not
    if operator == "DATE_AFTER":
        return lambda c: c.current_time is not None and c.current_time > target
    return lambda c: c.current_time is not None and c.current_time < target


_SEMVER_TESTS: Final[dict[str, Callable[[PrecedenceKey, PrecedenceKey], bool]]] = {
    "SEMVER_EQ": lambda a, b: a == b,
    "SEMVER_GT": lambda a, b: a > b,
    "SEMVER_LT": lambda a, b: a < b,
    # relgate extensions, also exercised by the Unleash specification
    "SEMVER_GTE": lambda a, b: a >= b,
    "SEMVER_LTE": lambda a, b: a <= b,
}


def _semver_operator(
    getter: ContextGetter, operator: str, value: str | None, where: str
) -> Predicate:
    target = None if value is None else _semver_key(value.strip())
    if target is None:
        _log_once(f"{where}: {value!r} is not a SemVer version; the constraint never holds")
        return _never
    test = _SEMVER_TESTS[operator]

    def holds(c: Context) -> bool:
        text = getter(c)
        if not text:
            return False
        key = _context_semver_key(text)
        return key is not None and test(key, target)

    return holds


def _no_match(_context: Context) -> bool:
    # an operator that cannot match anything; unlike _never, inversion applies
    return False


def _regex_operator(
    getter: ContextGetter, value: str | None, case_insensitive: bool, where: str
) -> Predicate:
    compiled = (
        RegexRefusal("no value")
        if value is None
        else compile_rust_regex(value, case_insensitive=case_insensitive)
    )
    if isinstance(compiled, RegexRefusal):
        _log_once(
            f"{where}: {value!r} is not a supported regular expression ({compiled.reason}); "
            "matches nothing"
        )
        return _no_match
    matches = compiled.matches
    return lambda c: (v := getter(c)) is not None and matches(v)


def _cidr_operator(getter: ContextGetter, values: list[str], where: str) -> Predicate:
    networks = parse_networks(values, where)
    if not networks:
        return _no_match
    return lambda c: _in_networks(networks, getter(c))


@dataclass(frozen=True, slots=True)
class Constraint:
    """One compiled constraint: ``holds(context)`` already includes ``inverted``."""

    context_name: str
    operator: str
    holds: Predicate = field(compare=False, repr=False)
    reads_current_time: bool = False


def compile_constraint(raw: object, where: str) -> Constraint:
    """Return the compiled constraint of an Unleash constraint object.

    An unknown operator, or a number, date or SemVer value that cannot be
    parsed, gives a constraint that never holds, even inverted. An invalid
    regular expression or a list without a valid CIDR range matches nothing,
    so ``inverted`` makes it hold (Unleash's engine does the same). Raises
    ``InvalidFlagDefinition`` when ``raw`` is not an object or lacks
    ``contextName``.
    """
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    name = raw.get("contextName")
    if not isinstance(name, str) or not name:
        raise InvalidFlagDefinition(f"{where}.contextName: required, a non-empty string")
    operator = str(raw.get("operator", ""))
    inverted = bool(raw.get("inverted", False))
    case_insensitive = bool(raw.get("caseInsensitive", False))
    getter = context_getter(name)
    base: Predicate | None
    if operator in ("IN", "NOT_IN"):
        base = _in_operator(getter, _text_list(raw, where), negate=operator == "NOT_IN")
    elif operator in ("STR_STARTS_WITH", "STR_ENDS_WITH", "STR_CONTAINS"):
        base = _string_operator(getter, operator, _text_list(raw, where), case_insensitive)
    elif operator in _NUMBER_TESTS:
        base = _number_operator(getter, operator, _single_value(raw), where)
    elif operator in ("DATE_AFTER", "DATE_BEFORE"):
        base = _date_operator(operator, _single_value(raw), where)
    elif operator in _SEMVER_TESTS:
        base = _semver_operator(getter, operator, _single_value(raw), where)
    elif operator == "REGEX":
        base = _regex_operator(getter, _single_value(raw), case_insensitive, where)
    elif operator == "IN_CIDR":
        base = _cidr_operator(getter, _text_list(raw, where), where)
    else:
        _log_once(f"{where}.operator: unknown operator {operator!r}; the constraint never holds")
        base = None
    if base is None or base is _never:
        # an unknown operator or an unreadable number, date or version makes
        # Unleash drop the whole rule: inversion must not turn it into "always"
        return Constraint(name, operator, _never)
    holds: Predicate = (lambda c: not base(c)) if inverted else base
    return Constraint(
        name,
        operator,
        holds,
        reads_current_time=operator in ("DATE_AFTER", "DATE_BEFORE"),
    )


# ---------------------------------------------------------------------------
# Variants


@dataclass(frozen=True, slots=True)
class Override:
    """Give a variant to every context whose ``context_name`` is one of ``values``."""

    context_name: str
    values: frozenset[str]
    read: ContextGetter = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class VariantDefinition:
    """A variant as stored: ``payload`` is ``{"type": ..., "value": ...}`` or ``None``."""

    name: str
    weight: int
    payload: Mapping[str, str] | None = None
    stickiness: str | None = None
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True, slots=True)
class VariantGroup:
    """Variants drawn together: by a flag (group = flag name) or by one strategy."""

    variants: tuple[VariantDefinition, ...]
    hash_prefix: str  # "groupId:"
    stickiness: str  # "default", "random" or a context field
    total_weight: int
    overrides: tuple[tuple[Override, VariantDefinition], ...]
    seed: ContextGetter | None = field(compare=False, repr=False)


def _random_variant_seed() -> str:
    # Unleash SDKs: String(Math.round(Math.random() * 100000))
    return str(round(random.random() * 100000))


def variant_seed(group: VariantGroup, context: Context) -> str:
    """Return the stickiness value that places ``context`` in ``group``."""
    if group.seed is not None:
        value = group.seed(context)
        return value if value else _random_variant_seed()
    if group.stickiness == "default":
        return (
            context.user_id
            or context.session_id
            or context.remote_address
            or _random_variant_seed()
        )
    return _random_variant_seed()


def _compile_payload(raw: object, where: str) -> Mapping[str, str] | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise InvalidFlagDefinition(f"{where}.type: required, one of string, json, number, csv")
    value = raw.get("value")
    return MappingProxyType({"type": kind, "value": "" if value is None else _to_text(value)})


def compile_variants(
    raw: object, where: str, *, group_id: str, stickiness: str | None
) -> VariantGroup | None:
    """Return the compiled variant group, or ``None`` when there are no variants.

    ``stickiness`` is the strategy's stickiness for strategy variants, which
    wins over the variants' own (as in Yggdrasil); ``None`` for a flag's
    variants, which use the first variant's stickiness.
    Raises ``InvalidFlagDefinition`` when the list or a variant is malformed.
    """
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidFlagDefinition(f"{where}: expected a list, got {type(raw).__name__}")
    if not raw:
        return None
    variants: list[VariantDefinition] = []
    overrides: list[tuple[Override, VariantDefinition]] = []
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidFlagDefinition(f"{here}: expected an object, got {type(item).__name__}")
        name = item.get("name")
        if not isinstance(name, str):
            raise InvalidFlagDefinition(f"{here}.name: required, a string")
        weight = item.get("weight", 0)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            raise InvalidFlagDefinition(f"{here}.weight: expected a number, got {weight!r}")
        item_overrides: list[Override] = []
        for o_index, o_raw in enumerate(item.get("overrides") or ()):
            o_where = f"{here}.overrides[{o_index}]"
            if not isinstance(o_raw, Mapping) or not isinstance(o_raw.get("contextName"), str):
                raise InvalidFlagDefinition(f"{o_where}: expected {{contextName, values}}")
            context_name = o_raw["contextName"]
            item_overrides.append(
                Override(
                    context_name,
                    frozenset(_text_list(o_raw, o_where)),
                    context_getter(context_name),
                )
            )
        variant_stickiness = item.get("stickiness")
        definition = VariantDefinition(
            name=name,
            weight=int(weight),
            payload=_compile_payload(item.get("payload"), f"{here}.payload"),
            stickiness=variant_stickiness if isinstance(variant_stickiness, str) else None,
            overrides=tuple(item_overrides),
        )
        variants.append(definition)
        overrides.extend((o, definition) for o in item_overrides)
    chosen = stickiness or variants[0].stickiness or "default"
    seed = None if chosen in ("default", "random") else context_getter(chosen)
    return VariantGroup(
        variants=tuple(variants),
        hash_prefix=f"{group_id}:",
        stickiness=chosen,
        total_weight=sum(v.weight for v in variants),
        overrides=tuple(overrides),
        seed=seed,
    )


# ---------------------------------------------------------------------------
# Strategies


def _random_rollout_seed() -> str:
    # Unleash SDKs: `${Math.round(Math.random() * 10000) + 1}`
    return str(random.randint(1, 10_000))


def bucket(
    hash_prefix: str, stickiness_value: str, modulo: int = 100, seed: int = STRATEGY_SEED
) -> int:
    """Return murmur3 x86 32-bit of ``hash_prefix + value`` (UTF-8) ``% modulo + 1``."""
    return int(mmh3.hash(hash_prefix + stickiness_value, seed, signed=False)) % modulo + 1


def _percentage(raw: object, *, at_most: int | None = 100) -> int | None:
    # Yggdrasil reads percentages as whole numbers, of at most 100 for sticky
    # rollouts; anything else ("50.5", " 50", "101") turns the strategy off
    if raw is None:
        return None
    text = _to_text(raw)
    if not _PERCENTAGE.fullmatch(text) or (at_most is not None and int(text) > at_most):
        return None
    return int(text)


def _rollout_rule(parameters: Mapping[str, Any], flag_name: str) -> Predicate:
    percentage = _percentage(parameters.get("rollout"))
    if percentage is None or percentage <= 0:
        return _never
    group_id = parameters.get("groupId") or flag_name
    prefix = f"{_to_text(group_id)}:"
    stickiness = parameters.get("stickiness") or "default"
    hash32 = mmh3.hash

    if stickiness == "default":

        def rollout_default(c: Context) -> bool:
            value = c.user_id or c.session_id or _random_rollout_seed()
            return hash32(prefix + value, 0, signed=False) % 100 + 1 <= percentage

        return rollout_default
    if stickiness == "random":
        return lambda c: bucket(prefix, _random_rollout_seed()) <= percentage
    read = context_getter(str(stickiness))

    def rollout_field(c: Context) -> bool:
        value = read(c)
        if not value:
            # a missing stickiness field means "not in the rollout", never random
            return False
        return hash32(prefix + value, 0, signed=False) % 100 + 1 <= percentage

    return rollout_field


def _legacy_rollout_rule(parameters: Mapping[str, Any], read: ContextGetter) -> Predicate:
    percentage = _percentage(parameters.get("percentage"))
    group_id = parameters.get("groupId")
    if percentage is None or percentage <= 0 or group_id is None:
        return _never
    prefix = f"{_to_text(group_id)}:"

    def holds(c: Context) -> bool:
        value = read(c)
        return value is not None and value != "" and bucket(prefix, value) <= percentage

    return holds


def _random_rule(parameters: Mapping[str, Any]) -> Predicate:
    percentage = _percentage(parameters.get("percentage"), at_most=None)
    if percentage is None:
        return _never
    return lambda c: percentage >= random.randint(1, 100)


def _split_list(raw: object) -> list[str]:
    if raw is None:
        return []
    return [item.strip() for item in _to_text(raw).split(",")]


def _strategy_rule(name: str, parameters: Mapping[str, Any], where: str, flag: str) -> Predicate:
    if name == "default":
        return _always
    if name == "userWithId":
        ids = frozenset(i for i in _split_list(parameters.get("userIds")) if i)
        return lambda c: c.user_id in ids
    if name == "flexibleRollout":
        return _rollout_rule(parameters, flag)
    if name == "gradualRolloutUserId":
        return _legacy_rollout_rule(parameters, attrgetter("user_id"))
    if name == "gradualRolloutSessionId":
        return _legacy_rollout_rule(parameters, attrgetter("session_id"))
    if name == "gradualRolloutRandom":
        return _random_rule(parameters)
    if name == "remoteAddress":
        entries = _split_list(parameters.get("IPs"))
        exact = frozenset(entries)
        networks = parse_networks(entries, f"{where}.parameters.IPs")
        return lambda c: c.remote_address in exact or _in_networks(networks, c.remote_address)
    if name == "applicationHostname":
        hosts = frozenset(h.lower() for h in _split_list(parameters.get("hostNames")) if h)
        return lambda c: (h := c.properties.get("hostname")) is not None and h.lower() in hosts
    _log_once(f"{where}.name: unknown strategy {name!r}; it never matches")
    return _never


def _all_of(rule: Predicate, constraints: Sequence[Predicate]) -> Predicate:
    if not constraints:
        return rule
    if rule is _never:
        return _never
    if len(constraints) == 1:
        only = constraints[0]
        if rule is _always:
            return only
        return lambda c: only(c) and rule(c)
    checks = tuple(constraints)

    def holds(c: Context) -> bool:
        for check in checks:
            if not check(c):
                return False
        return rule(c)

    return holds


@dataclass(frozen=True, slots=True)
class Strategy:
    """One compiled strategy: ``matches`` is its rule AND its constraints AND its segments."""

    name: str
    matches: Predicate = field(compare=False, repr=False)
    variants: VariantGroup | None = None
    constraints: tuple[Constraint, ...] = ()


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _list(raw: object, where: str) -> list[Any]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InvalidFlagDefinition(f"{where}: expected a list, got {type(raw).__name__}")
    return raw


def compile_strategy(
    raw: object,
    where: str,
    flag_name: str,
    segments: Mapping[int, tuple[Constraint, ...]],
) -> Strategy:
    """Return the compiled strategy; a reference to a missing segment makes it never match.

    Raises ``InvalidFlagDefinition`` when the strategy object is malformed.
    """
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str):
        raise InvalidFlagDefinition(f"{where}.name: required, a string")
    parameters = _mapping(raw.get("parameters"), f"{where}.parameters")
    constraints = [
        compile_constraint(c, f"{where}.constraints[{i}]")
        for i, c in enumerate(_list(raw.get("constraints"), f"{where}.constraints"))
    ]
    missing_segment = False
    for index, segment_id in enumerate(_list(raw.get("segments"), f"{where}.segments")):
        segment = segments.get(segment_id) if isinstance(segment_id, int) else None
        if segment is None:
            _log_once(f"{where}.segments[{index}]: no segment {segment_id!r}; never matches")
            missing_segment = True
        else:
            constraints.extend(segment)
    rule = _strategy_rule(name, parameters, where, flag_name)
    matches = _never if missing_segment else _all_of(rule, [c.holds for c in constraints])
    stickiness = parameters.get("stickiness") or "default"
    variants = compile_variants(
        raw.get("variants"),
        f"{where}.variants",
        group_id=_to_text(parameters.get("groupId") or flag_name),
        stickiness=_to_text(stickiness),
    )
    return Strategy(name, matches, variants, tuple(constraints))


# ---------------------------------------------------------------------------
# Flags and the snapshot


@dataclass(frozen=True, slots=True)
class Dependency:
    """The parent a flag depends on.

    ``enabled=False`` asks for the parent to be off; ``variants`` (when not
    empty) asks for the parent to be on with one of these variants.
    """

    feature: str
    enabled: bool = True
    variants: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    """One flag of one environment, ready to evaluate."""

    name: str
    enabled: bool
    strategies: tuple[Strategy, ...]
    variants: VariantGroup | None
    dependencies: tuple[Dependency, ...] = ()
    impression_data: bool = False
    reads_current_time: bool = False


def _compile_dependencies(raw: object, where: str) -> tuple[Dependency, ...]:
    dependencies = []
    for index, item in enumerate(_list(raw, where)):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("feature"), str):
            raise InvalidFlagDefinition(f"{here}.feature: required, the parent flag's name")
        variants = item.get("variants") or []
        if not isinstance(variants, list):
            raise InvalidFlagDefinition(f"{here}.variants: expected a list of variant names")
        dependencies.append(
            Dependency(
                feature=item["feature"],
                enabled=item.get("enabled") is not False,
                variants=frozenset(_to_text(v) for v in variants),
            )
        )
    return tuple(dependencies)


def compile_flag(
    raw: object, where: str, segments: Mapping[int, tuple[Constraint, ...]]
) -> CompiledFlag:
    """Return the compiled flag of one Unleash feature object.

    Raises ``InvalidFlagDefinition`` naming the path of what is malformed.
    """
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidFlagDefinition(f"{where}.name: required, a non-empty string")
    where = f"{where} ({name})"
    strategies = tuple(
        compile_strategy(s, f"{where}.strategies[{i}]", name, segments)
        for i, s in enumerate(_list(raw.get("strategies"), f"{where}.strategies"))
    )
    variants = compile_variants(
        raw.get("variants"), f"{where}.variants", group_id=name, stickiness=None
    )
    return CompiledFlag(
        name=name,
        enabled=raw.get("enabled") is True,
        strategies=strategies,
        variants=variants,
        dependencies=_compile_dependencies(raw.get("dependencies"), f"{where}.dependencies"),
        impression_data=raw.get("impressionData") is True,
        reads_current_time=any(c.reads_current_time for s in strategies for c in s.constraints),
    )


def _compile_segments(raw: Iterable[object], where: str) -> dict[int, tuple[Constraint, ...]]:
    segments: dict[int, tuple[Constraint, ...]] = {}
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping) or isinstance(item.get("id"), bool):
            raise InvalidFlagDefinition(f"{here}: expected an object with an integer id")
        segment_id = item.get("id")
        if not isinstance(segment_id, int):
            raise InvalidFlagDefinition(f"{here}.id: required, an integer")
        segments[segment_id] = tuple(
            compile_constraint(c, f"{here}.constraints[{i}]")
            for i, c in enumerate(_list(item.get("constraints"), f"{here}.constraints"))
        )
    return segments


class Snapshot:
    """An immutable set of compiled flags for one environment.

    Build it with ``Snapshot.from_unleash_features`` (the client API's
    ``/api/client/features`` document) and derive new snapshots with
    ``apply_unleash_delta``; evaluate it with ``relgate.flags.evaluate``.
    """

    # relgate.flags.evaluate reads _flags directly: it is the hot path
    __slots__ = ("_features", "_flags", "_segments")

    def __init__(
        self,
        features: Mapping[str, Mapping[str, Any]],
        segments: Mapping[int, Mapping[str, Any]],
    ) -> None:
        self._features = dict(features)
        self._segments = dict(segments)
        compiled_segments = _compile_segments(self._segments.values(), "segments")
        self._flags: dict[str, CompiledFlag] = {}
        for index, (name, raw) in enumerate(self._features.items()):
            self._flags[name] = compile_flag(raw, f"features[{index}]", compiled_segments)

    @classmethod
    def from_unleash_features(cls, payload: Mapping[str, Any]) -> Snapshot:
        """Return the snapshot of an Unleash client features document.

        Accepts versions 1 and 2 (``{"version": 2, "features": [...],
        "segments": [...]}``). Raises ``InvalidFlagDefinition`` naming the
        path (``features[3] (my-flag).strategies[0]...``) of what is malformed.
        """
        if not isinstance(payload, Mapping):
            raise InvalidFlagDefinition(
                f"features document: expected an object, got {type(payload).__name__}"
            )
        features = _list(payload.get("features"), "features")
        segments = _list(payload.get("segments"), "segments")
        return cls(_index_features(features, "features"), _index_segments(segments, "segments"))

    @classmethod
    def empty(cls) -> Snapshot:
        """Return a snapshot without flags."""
        return cls({}, {})

    def apply_unleash_delta(self, payload: Mapping[str, Any]) -> Snapshot:
        """Return a new snapshot with the events of an Unleash delta document applied in order.

        Understands ``hydration``, ``feature-updated``, ``feature-removed``,
        ``segment-updated`` and ``segment-removed`` events; others are ignored,
        as Unleash SDKs do. Raises ``InvalidFlagDefinition`` when the document
        or an event is malformed.
        """
        if not isinstance(payload, Mapping):
            raise InvalidFlagDefinition(
                f"delta document: expected an object, got {type(payload).__name__}"
            )
        features = dict(self._features)
        segments = dict(self._segments)
        for index, event in enumerate(_list(payload.get("events"), "events")):
            here = f"events[{index}]"
            if not isinstance(event, Mapping):
                raise InvalidFlagDefinition(f"{here}: expected an object")
            kind = event.get("type")
            if kind == "hydration":
                features = _index_features(
                    _list(event.get("features"), f"{here}.features"), f"{here}.features"
                )
                segments = _index_segments(
                    _list(event.get("segments"), f"{here}.segments"), f"{here}.segments"
                )
            elif kind == "feature-updated":
                features.update(
                    _index_features([event.get("feature")], f"{here}.feature", single=True)
                )
            elif kind == "feature-removed":
                features.pop(str(event.get("featureName")), None)
            elif kind == "segment-updated":
                segments.update(_index_segments([event.get("segment")], f"{here}.segment"))
            elif kind == "segment-removed":
                segment_id = event.get("segmentId")
                if isinstance(segment_id, int):
                    segments.pop(segment_id, None)
        return Snapshot(features, segments)

    def flag(self, name: str) -> CompiledFlag | None:
        """Return the compiled flag called ``name``, or ``None`` if there is none."""
        return self._flags.get(name)

    @property
    def flags(self) -> Mapping[str, CompiledFlag]:
        """All compiled flags by name (read-only)."""
        return MappingProxyType(self._flags)

    @property
    def names(self) -> frozenset[str]:
        """The names of all flags."""
        return frozenset(self._flags)

    def __len__(self) -> int:
        return len(self._flags)

    def __iter__(self) -> Iterator[str]:
        return iter(self._flags)

    def __repr__(self) -> str:
        return f"Snapshot({len(self._flags)} flags, {len(self._segments)} segments)"


def _index_features(
    raw: list[Any], where: str, *, single: bool = False
) -> dict[str, Mapping[str, Any]]:
    indexed: dict[str, Mapping[str, Any]] = {}
    for index, item in enumerate(raw):
        here = where if single else f"{where}[{index}]"
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            raise InvalidFlagDefinition(f"{here}.name: required, a non-empty string")
        # a private copy: a later delta recompiles from it, whatever the caller changes
        indexed[item["name"]] = copy.deepcopy(item)
    return indexed


def _index_segments(raw: list[Any], where: str) -> dict[int, Mapping[str, Any]]:
    indexed: dict[int, Mapping[str, Any]] = {}
    for index, item in enumerate(raw):
        here = f"{where}[{index}]"
        if not isinstance(item, Mapping):
            raise InvalidFlagDefinition(f"{here}: expected an object")
        segment_id = item.get("id")
        if isinstance(segment_id, bool) or not isinstance(segment_id, int):
            raise InvalidFlagDefinition(f"{here}.id: required, an integer")
        indexed[segment_id] = copy.deepcopy(item)
    return indexed
