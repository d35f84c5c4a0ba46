"""A flag's lifecycle: its default expiry, and the rules that call it potentially stale.

Pure functions over plain data, shared by the flag service (``stale`` and
``stale_reasons`` of every flag it lists) and ``relgate flags lint``. They are
given ``now``; they never read a clock.

The expected lifetimes are Unleash's: a release or experiment flag is expected
to be gone 40 days after it was created, an operational flag after 7 days;
kill switches and permission flags live as long as the feature they guard. The
default expiry is a little shorter (30 and 7 days), so the owner is told
before the flag counts as debt.

Flag debt (``relgate flags lint``): ``flag_facts`` reads flag definitions
(the JSON of ``GET /api/v1/flags``, an Unleash export or client payload), and
``lint`` sets them against the references found in code
(``relgate.flags.references``) in a ``LintReport``.

Naive datetimes (as SQLite gives them back) are read as UTC.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from relgate.errors import BadInput, InvalidFlagDefinition
from relgate.flags.references import Reference, ScanResult

FLAG_TYPES: Final = ("release", "experiment", "operational", "kill-switch", "permission")

EXPECTED_LIFETIME_DAYS: Final[dict[str, int | None]] = {
    "release": 40,
    "experiment": 40,
    "operational": 7,
    "kill-switch": None,
    "permission": None,
}

DEFAULT_EXPIRY_DAYS: Final[dict[str, int | None]] = {
    "release": 30,
    "experiment": 30,
    "operational": 7,
    "kill-switch": None,
    "permission": None,
}

DEFAULT_ROLLED_OUT_DAYS: Final = 7


@dataclass(frozen=True)
class EnvironmentFacts:
    """What the stale rules need to know of a flag in one environment."""

    enabled: bool
    fully_rolled_out_since: datetime | None


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _known_type(flag_type: str) -> str:
    if flag_type not in EXPECTED_LIFETIME_DAYS:
        raise BadInput(f"unknown flag type {flag_type!r}: expected one of {', '.join(FLAG_TYPES)}")
    return flag_type


def default_expiry(flag_type: str, created_at: datetime) -> datetime | None:
    """Return when a flag of ``flag_type`` created at ``created_at`` expires by default.

    Release and experiment flags expire 30 days after creation, operational
    flags after 7; kill switches and permission flags never (None). Raises
    BadInput for an unknown flag type.
    """
    days = DEFAULT_EXPIRY_DAYS[_known_type(flag_type)]
    if days is None:
        return None
    return _utc(created_at) + timedelta(days=days)


def check_expiry(expires_at: datetime | None, now: datetime, *, force_expired: bool) -> None:
    """Refuse an expiry that is not in the future, unless ``force_expired``.

    A flag given such a date would be expired, hence stale, from the moment it
    is saved. Raises BadInput naming the field ``expires_at`` and the way out.
    """
    if expires_at is None or force_expired or _utc(expires_at) > _utc(now):
        return
    raise BadInput(
        f"expires_at: {_utc(expires_at).isoformat()} is not in the future (now "
        f"{_utc(now).isoformat(timespec='seconds')}): the flag would be expired from the "
        "start; send force_expired: true to set it anyway"
    )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _days(count: int) -> str:
    return f"{count} day" if count == 1 else f"{count} days"


def stale_reasons(
    flag_type: str,
    created_at: datetime,
    expires_at: datetime | None,
    environments: Mapping[str, EnvironmentFacts],
    now: datetime,
    *,
    rolled_out_days: int = DEFAULT_ROLLED_OUT_DAYS,
) -> list[str]:
    """Return why a flag is potentially stale, one sentence per rule; empty when it is not.

    The rules, in this order: the expiry date has passed (``expired on
    2026-10-01``); the flag is older than its type's expected lifetime; it has
    been on for everyone in every environment (it has at least one, and each
    is enabled with ``fully_rolled_out_since`` set) for more than
    ``rolled_out_days`` days, counted from the last environment to get there.
    Raises BadInput for an unknown flag type or a negative ``rolled_out_days``.
    """
    if rolled_out_days < 0:
        raise BadInput(f"rolled-out days must be 0 or more, got {rolled_out_days}")
    _known_type(flag_type)
    now = _utc(now)
    reasons = [
        reason
        for reason in (
            _expired_reason(expires_at, now),
            _lifetime_reason(flag_type, created_at, now),
        )
        if reason is not None
    ]
    since = _everywhere_since(environments)
    if since is not None and now - since > timedelta(days=rolled_out_days):
        reasons.append(_rolled_out_reason((now - since).days))
    return reasons


def _rolled_out_reason(days: int | None) -> str:
    how_long = "(since when is not known)" if days is None else f"for {_days(days)}"
    return f"on for everyone in every environment {how_long}: time to remove it"


def _everywhere_since(environments: Mapping[str, EnvironmentFacts]) -> datetime | None:
    """Return since when every environment has been fully rolled out, or None if one is not."""
    if not environments:
        return None
    latest: datetime | None = None
    for facts in environments.values():
        if not facts.enabled or facts.fully_rolled_out_since is None:
            return None
        since = _utc(facts.fully_rolled_out_since)
        if latest is None or since > latest:
            latest = since
    return latest


def _percentage(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _unconditional(strategy: Mapping[str, Any]) -> bool:
    return not strategy.get("constraints") and not strategy.get("segments")


def _on_for_everyone(strategy: Mapping[str, Any]) -> bool:
    if strategy.get("disabled") is True or not _unconditional(strategy):
        return False
    name = strategy.get("name")
    parameters = strategy.get("parameters") or {}
    if not isinstance(parameters, Mapping):
        return False
    if name == "default":
        return True
    if name == "flexibleRollout":
        rollout = _percentage(parameters.get("rollout"))
        return rollout is not None and rollout >= 100
    if name == "gradualRolloutRandom":
        percentage = _percentage(parameters.get("percentage"))
        return percentage is not None and percentage >= 100
    return False


def is_fully_rolled_out(enabled: bool, strategies: Sequence[Mapping[str, Any]]) -> bool:
    """Return True when a flag config is on for everyone in its environment.

    That is: enabled, and either no strategies at all (Unleash evaluates an
    enabled flag without strategies to true), or one active strategy with no
    constraints and no segments that is ``default``, ``flexibleRollout`` at 100
    or ``gradualRolloutRandom`` at 100. Strategies are Unleash JSON objects;
    malformed ones count as not rolling out to everyone. Never raises.
    """
    if not enabled:
        return False
    if not strategies:
        return True
    return any(isinstance(s, Mapping) and _on_for_everyone(s) for s in strategies)


# ---------------------------------------------------------------------------
# Flag debt: what `relgate flags lint` reports


@dataclass(frozen=True)
class FlagFacts:
    """What the lint needs of one defined flag, whatever document it came from.

    ``created_at`` is None when the document does not say (Unleash's exports
    and client payloads); ``marked_stale`` is Unleash's own ``stale`` mark.
    """

    key: str
    type: str
    owner: str | None
    created_at: datetime | None
    expires_at: datetime | None
    archived: bool
    environments: Mapping[str, EnvironmentFacts]
    fully_rolled_out: bool
    marked_stale: bool = False


@dataclass(frozen=True)
class FlagFinding:
    """One defined flag the lint has something to say about, and where code still uses it."""

    flag: FlagFacts
    reasons: list[str]
    references: list[Reference]
    rolled_out_since: datetime | None = None
    rolled_out_days: int | None = None


@dataclass(frozen=True)
class LintReport:
    """Flag debt: what code uses that is not defined, and what is defined that should go.

    ``undefined`` maps a key used in code but not defined (or archived) to its
    references; ``unreferenced`` are live flags no code uses; ``expired`` are
    past their expiry date; ``stale`` are older than their type's expected
    lifetime (or marked stale); ``rolled_out`` are on for everyone everywhere
    for more than the threshold (``rolled_out_days`` is None when the document
    does not say since when).
    """

    undefined: dict[str, list[Reference]]
    archived: frozenset[str]
    unreferenced: list[FlagFacts]
    expired: list[FlagFinding]
    stale: list[FlagFinding]
    rolled_out: list[FlagFinding]
    flags_defined: int
    references: list[Reference]
    files_scanned: int
    rolled_out_threshold_days: int

    @property
    def expired_in_use(self) -> list[FlagFinding]:
        """Return the expired flags code still refers to: the findings that fail the lint."""
        return [finding for finding in self.expired if finding.references]

    @property
    def ok(self) -> bool:
        """Return True unless an expired flag is still referenced."""
        return not self.expired_in_use


def _expired_reason(expires_at: datetime | None, now: datetime) -> str | None:
    if expires_at is not None and _utc(expires_at) <= _utc(now):
        return f"expired on {_utc(expires_at).date().isoformat()}"
    return None


def _lifetime_reason(flag_type: str, created_at: datetime, now: datetime) -> str | None:
    lifetime = EXPECTED_LIFETIME_DAYS[_known_type(flag_type)]
    if lifetime is not None and _utc(now) - _utc(created_at) > timedelta(days=lifetime):
        return (
            f"older than {_article(flag_type)} {flag_type} flag's expected lifetime "
            f"({_days(lifetime)})"
        )
    return None


def lint(
    flags: Sequence[FlagFacts],
    scan: ScanResult,
    now: datetime,
    *,
    rolled_out_days: int = DEFAULT_ROLLED_OUT_DAYS,
) -> LintReport:
    """Return the flag debt of code (``scan``) against the flag definitions ``flags`` at ``now``.

    Every list is sorted by flag key. Raises BadInput for a negative
    ``rolled_out_days`` or a flag of an unknown type.
    """
    if rolled_out_days < 0:
        raise BadInput(f"rolled-out days must be 0 or more, got {rolled_out_days}")
    by_key: dict[str, list[Reference]] = {}
    for reference in scan.references:
        by_key.setdefault(reference.key, []).append(reference)
    live = {flag.key: flag for flag in flags if not flag.archived}
    archived = frozenset(flag.key for flag in flags if flag.archived) - live.keys()
    undefined = {key: refs for key, refs in sorted(by_key.items()) if key not in live}
    unreferenced: list[FlagFacts] = []
    expired: list[FlagFinding] = []
    stale: list[FlagFinding] = []
    rolled_out: list[FlagFinding] = []
    for key in sorted(live):
        flag = live[key]
        references = by_key.get(key, [])
        if not references:
            unreferenced.append(flag)
        reason = _expired_reason(flag.expires_at, now)
        if reason is not None:
            expired.append(FlagFinding(flag, [reason], references))
        reasons: list[str] = []
        if flag.created_at is not None:
            lifetime = _lifetime_reason(flag.type, flag.created_at, now)
            reasons.extend([lifetime] if lifetime else [])
        else:
            _known_type(flag.type)
        if flag.marked_stale and not reasons:
            reasons.append("marked stale")
        if reasons:
            stale.append(FlagFinding(flag, reasons, references))
        since = _everywhere_since(flag.environments)
        if since is not None:
            if _utc(now) - since > timedelta(days=rolled_out_days):
                days = (_utc(now) - since).days
                rolled_out.append(
                    FlagFinding(
                        flag,
                        [_rolled_out_reason(days)],
                        references,
                        rolled_out_since=since,
                        rolled_out_days=days,
                    )
                )
        elif flag.fully_rolled_out:
            rolled_out.append(
                FlagFinding(
                    flag,
                    [_rolled_out_reason(None)],
                    references,
                )
            )
    return LintReport(
        undefined=undefined,
        archived=archived & undefined.keys(),
        unreferenced=unreferenced,
        expired=expired,
        stale=stale,
        rolled_out=rolled_out,
        flags_defined=len(live),
        references=scan.references,
        files_scanned=scan.files_scanned,
        rolled_out_threshold_days=rolled_out_days,
    )


# ---------------------------------------------------------------------------
# Reading flag definitions


def _date(raw: object, where: str) -> datetime | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):
        try:
            return _utc(datetime.fromisoformat(raw))
        except ValueError:
            pass
    raise InvalidFlagDefinition(f"{where}: {raw!r} is not an ISO 8601 date")


def _mapping(raw: object, where: str) -> Mapping[str, Any]:
    if not isinstance(raw, Mapping):
        raise InvalidFlagDefinition(f"{where}: expected an object, got {type(raw).__name__}")
    return raw


def _facts_from_view(raw: object, where: str) -> FlagFacts:
    """Read one FlagView (GET /api/v1/flags) as FlagFacts."""
    item = _mapping(raw, where)
    key = item.get("key")
    if not isinstance(key, str) or not key:
        raise InvalidFlagDefinition(f"{where}.key: required, the flag's key")
    flag_type = item.get("type") or "release"
    if not isinstance(flag_type, str) or flag_type not in EXPECTED_LIFETIME_DAYS:
        raise InvalidFlagDefinition(
            f"{where}.type: {flag_type!r} is not one of {', '.join(FLAG_TYPES)}"
        )
    owner = item.get("owner")
    environments: dict[str, EnvironmentFacts] = {}
    everywhere = True
    raw_envs = _mapping(item.get("environments") or {}, f"{where}.environments")
    for name, raw_env in raw_envs.items():
        here = f"{where}.environments.{name}"
        env = _mapping(raw_env, here)
        enabled = env.get("enabled") is True
        strategies = env.get("strategies") or []
        if not isinstance(strategies, list):
            raise InvalidFlagDefinition(f"{here}.strategies: expected a list")
        since = _date(env.get("fully_rolled_out_since"), f"{here}.fully_rolled_out_since")
        # the server's word when it gives one; else what the strategies say
        if "fully_rolled_out_since" in env:
            everywhere = everywhere and enabled and since is not None
        else:
            everywhere = everywhere and is_fully_rolled_out(enabled, strategies)
        environments[str(name)] = EnvironmentFacts(enabled=enabled, fully_rolled_out_since=since)
    return FlagFacts(
        key=key,
        type=flag_type,
        owner=owner if isinstance(owner, str) and owner else None,
        created_at=_date(item.get("created_at"), f"{where}.created_at"),
        expires_at=_date(item.get("expires_at"), f"{where}.expires_at"),
        archived=item.get("archived_at") not in (None, ""),
        environments=environments,
        fully_rolled_out=everywhere and bool(environments),
    )


def _facts_from_unleash(document: Mapping[str, Any]) -> list[FlagFacts]:
    """Read an Unleash export or client features payload (via relgate's Unleash import)."""
    from relgate.flags.unleash_format import read_import

    try:
        plan = read_import(document, environment=None)
    except InvalidFlagDefinition as first:
        # a one-environment file that does not name its environment: any name does for a lint
        try:
            plan = read_import(document, environment="default")
        except InvalidFlagDefinition:
            raise first from None
    raw_features: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for index, raw in enumerate(document.get("features") or []):
        if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
            raw_features[raw["name"]] = (f"features[{index}]", raw)
    facts: list[FlagFacts] = []
    for flag in plan.flags:
        where, raw = raw_features.get(flag.key, ("features", {}))
        environments = {
            name: EnvironmentFacts(enabled=env.enabled, fully_rolled_out_since=None)
            for name, env in flag.environments.items()
        }
        everywhere = bool(flag.environments) and all(
            is_fully_rolled_out(env.enabled, env.strategies) for env in flag.environments.values()
        )
        facts.append(
            FlagFacts(
                key=flag.key,
                type=flag.type,
                owner=None,
                created_at=_date(raw.get("createdAt"), f"{where}.createdAt"),
                expires_at=None,
                archived=flag.archived,
                environments=environments,
                fully_rolled_out=everywhere,
                marked_stale=raw.get("stale") is True,
            )
        )
    return facts


def flag_facts(document: object, source: str) -> list[FlagFacts]:
    """Return the flags a definitions document holds.

    ``document`` is decoded JSON: a list of FlagView objects (``GET
    /api/v1/flags``, also accepted as ``{"flags": [...]}``), an Unleash export
    (``features``, ``featureStrategies``, ``featureEnvironments``) or an Unleash
    client features payload (``{"version": 2, "features": [...]}``). Raises
    InvalidFlagDefinition naming ``source`` and the path inside it when the
    document is none of these or a value is malformed.
    """
    try:
        if isinstance(document, Mapping) and isinstance(document.get("flags"), list):
            document = document["flags"]
        if isinstance(document, list):
            return [_facts_from_view(raw, f"[{index}]") for index, raw in enumerate(document)]
        if isinstance(document, Mapping) and "features" in document:
            return _facts_from_unleash(document)
    except InvalidFlagDefinition as exc:
        raise InvalidFlagDefinition(f"{source}: {exc.message}") from None
    raise InvalidFlagDefinition(
        f"{source}: not a flags document: expected the list GET /api/v1/flags returns, "
        "an Unleash export or an Unleash client features payload"
    )
