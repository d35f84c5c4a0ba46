"""What SDKs tell relgate: who they are (register) and how often each flag was asked (metrics).

Unleash SDKs send ``POST /api/client/register`` when they start and
``POST /api/client/metrics`` every interval with a bucket of counts per flag.
Registrations are kept per (app, instance, environment) with their last-seen
time; counts are added into one row per (flag, environment, app, hour), so
storage grows with hours, not with requests.

Both bodies are bounded (:data:`MAX_TOGGLES` flags a bucket, :data:`MAX_VARIANTS`
variants a flag, :data:`MAX_COUNT` a count, text lengths): :func:`parse_metrics`
and :func:`parse_registration` refuse a body past a bound with BadInput naming
the field, before building anything large from it. Counts of flags relgate does
not know are dropped when stored, never kept.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Final, NotRequired, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from typing_extensions import TypedDict

from relgate.clock import Clock
from relgate.errors import BadInput
from relgate.store.tables import ClientApplicationRow, FlagMetricRow, FlagRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

_T = TypeVar("_T")
_P = TypeVar("_P", bound="_Payload")

# far above what an application evaluates, far below what would hold a worker
MAX_TOGGLES: Final = 10_000
MAX_VARIANTS: Final = 100
MAX_STRATEGIES: Final = 100
# one SDK bucket's count of one flag; the sums stay far inside a 64-bit column
MAX_COUNT: Final = 10**12
MAX_NAME_LENGTH: Final = 200
# register's interval, in milliseconds: a day
MAX_INTERVAL_MS: Final = 86_400_000

Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]


class _Payload(BaseModel):
    # SDKs add fields over time (connectionId, platformName, impactMetrics...): ignore them
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ClientRegistration(_Payload):
    """The body of ``POST /api/client/register``."""

    app_name: str = Field(alias="appName", min_length=1, max_length=200)
    instance_id: str = Field(default="default", alias="instanceId", min_length=1, max_length=200)
    sdk_version: str | None = Field(default=None, alias="sdkVersion", max_length=100)
    strategies: list[Name] = Field(default_factory=list, max_length=MAX_STRATEGIES)
    started: datetime | None = None
    interval: int | None = Field(default=None, ge=0, le=MAX_INTERVAL_MS)


class ToggleCounts(TypedDict):
    """How often one flag was evaluated in a bucket (absent counts are 0).

    A TypedDict, not a model: a bucket may hold 10,000 of them, and validating
    dicts is about five times cheaper than building as many model objects, time
    during which the interpreter serves no other request.
    """

    yes: NotRequired[Count]
    no: NotRequired[Count]
    variants: NotRequired[Annotated[dict[Name, Count], Field(max_length=MAX_VARIANTS)]]


class MetricsBucket(_Payload):
    start: datetime
    stop: datetime
    toggles: dict[Name, ToggleCounts] = Field(default_factory=dict, max_length=MAX_TOGGLES)


class ClientMetrics(_Payload):
    """The body of ``POST /api/client/metrics``."""

    app_name: str = Field(alias="appName", min_length=1, max_length=200)
    instance_id: str = Field(default="default", alias="instanceId", min_length=1, max_length=200)
    # None: the SDK sent only metrics relgate does not keep (impact metrics)
    bucket: MetricsBucket | None = None


def _decode(raw: bytes, what: str) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadInput(f"the {what} body is not valid JSON: {exc}") from None


def _validated(model: type[_P], data: Any, what: str) -> _P:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors()[:5]:
            where = ".".join(str(part) for part in error.get("loc", ()))
            problems.append(f"{where}: {error['msg']}" if where else str(error["msg"]))
        more = exc.error_count() - len(problems)
        if more > 0:
            problems.append(f"and {more} more")
        raise BadInput(f"the {what} body is not valid: " + "; ".join(problems)) from None


def parse_metrics(raw: bytes) -> ClientMetrics:
    """Return the ``POST /api/client/metrics`` body in ``raw``, validated and bounded.

    Raises BadInput naming the field for a malformed body, and naming the
    bound for more than MAX_TOGGLES flags (checked before any is validated).
    """
    data = _decode(raw, "metrics")
    bucket = data.get("bucket") if isinstance(data, dict) else None
    toggles = bucket.get("toggles") if isinstance(bucket, dict) else None
    if isinstance(toggles, dict) and len(toggles) > MAX_TOGGLES:
        raise BadInput(
            f"the metrics body is not valid: bucket.toggles: {len(toggles)} flags, "
            f"at most {MAX_TOGGLES} are taken in one bucket"
        )
    return _validated(ClientMetrics, data, "metrics")


def parse_registration(raw: bytes) -> ClientRegistration:
    """Return the ``POST /api/client/register`` body in ``raw``, validated and bounded.

    Raises BadInput naming the field that is wrong or past its bound.
    """
    return _validated(ClientRegistration, _decode(raw, "register"), "register")


@dataclass(frozen=True)
class FlagUsage:
    """Counts of one flag in one environment, summed over every hour and application."""

    yes: int
    no: int
    variants: dict[str, int]
    last_seen_at: datetime


@dataclass(frozen=True)
class ClientApplication:
    app_name: str
    instance_id: str
    environment: str
    sdk_version: str | None
    strategies: list[str]
    interval_ms: int | None
    started_at: datetime | None
    last_seen_at: datetime


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    # one IN list per 500 names: SQLite and PostgreSQL cap a statement's parameters
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _hour(at: datetime) -> datetime:
    return as_utc(at).replace(minute=0, second=0, microsecond=0)


class ClientMetricsService:
    """Stores registrations and usage counts of flag clients."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        # every flag key, with the (count, newest id) of the flags table it was read at:
        # a bucket of 10,000 names is filtered in memory, not by 20 IN queries
        self._keys: tuple[tuple[int, int], frozenset[str]] = ((-1, -1), frozenset())
        self._keys_lock = threading.Lock()

    def _known_keys(self, session: Session) -> frozenset[str]:
        """Return every flag key (archived ones too); re-read only when a flag came or went."""
        count, newest = session.execute(select(func.count(), func.max(FlagRow.id))).one()
        version = (int(count), int(newest or 0))
        with self._keys_lock:
            if self._keys[0] == version:
                return self._keys[1]
        keys = frozenset(session.scalars(select(FlagRow.key)))
        with self._keys_lock:
            self._keys = (version, keys)
        return keys

    def register(self, environment: str, registration: ClientRegistration) -> None:
        """Record (or refresh) an SDK instance in ``environment``. Raises ExternalError."""
        self._retrying(lambda: self._register(environment, registration))

    def _register(self, environment: str, registration: ClientRegistration) -> None:
        now = self._clock.now()
        with self._uow() as uow:
            row = self._application(
                uow.session, registration.app_name, registration.instance_id, environment, now
            )
            row.sdk_version = registration.sdk_version
            row.strategies = list(registration.strategies)
            row.interval_ms = registration.interval
            row.started_at = registration.started
            uow.commit()

    def record(self, environment: str, metrics: ClientMetrics) -> int:
        """Add a metrics bucket's counts to the hourly rows of ``environment``.

        Returns how many flags' counts were stored: counts of flags relgate
        does not know (archived ones it does) are dropped. The hour is the
        bucket's start. Raises ExternalError when the store fails.
        """
        return self._retrying(lambda: self._record(environment, metrics))

    def _record(self, environment: str, metrics: ClientMetrics) -> int:
        now = self._clock.now()
        bucket = metrics.bucket
        with self._uow() as uow:
            session = uow.session
            self._application(session, metrics.app_name, metrics.instance_id, environment, now)
            if bucket is None or not bucket.toggles:
                uow.commit()
                return 0
            hour = _hour(bucket.start)
            known = self._known_keys(session)
            names = sorted(key for key in bucket.toggles if key in known)
            if not names:
                uow.commit()
                return 0
            existing = {
                row.flag_key: row
                for chunk in _chunks(names)
                for row in session.scalars(
                    select(FlagMetricRow).where(
                        FlagMetricRow.flag_key.in_(chunk),
                        FlagMetricRow.environment == environment,
                        FlagMetricRow.app_name == metrics.app_name,
                        FlagMetricRow.hour == hour,
                    )
                )
            }
            for name in names:
                counts = bucket.toggles[name]
                row = existing.get(name)
                if row is None:
                    row = FlagMetricRow(
                        flag_key=name,
                        environment=environment,
                        app_name=metrics.app_name,
                        hour=hour,
                        yes=0,
                        no=0,
                        variants={},
                        last_seen_at=now,
                    )
                    session.add(row)
                row.yes = (row.yes or 0) + counts.get("yes", 0)
                row.no = (row.no or 0) + counts.get("no", 0)
                variants = dict(row.variants or {})
                for variant, count in counts.get("variants", {}).items():
                    variants[variant] = int(variants.get(variant, 0)) + count
                row.variants = variants
                row.last_seen_at = now
            uow.commit()
            return len(names)

    @staticmethod
    def _application(
        session: Session, app_name: str, instance_id: str, environment: str, now: datetime
    ) -> ClientApplicationRow:
        row = session.scalar(
            select(ClientApplicationRow).where(
                ClientApplicationRow.app_name == app_name,
                ClientApplicationRow.instance_id == instance_id,
                ClientApplicationRow.environment == environment,
            )
        )
        if row is None:
            row = ClientApplicationRow(
                app_name=app_name,
                instance_id=instance_id,
                environment=environment,
                strategies=[],
                last_seen_at=now,
            )
            session.add(row)
        row.last_seen_at = now
        return row

    @staticmethod
    def _retrying(work: Callable[[], _T]) -> _T:
        # two SDK instances may insert the same new row at once: the loser's
        # unique constraint fails, and a second attempt finds the row and adds to it
        for attempt in range(3):
            try:
                result = work()
                return result
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def usage(self, keys: Iterable[str] | None = None) -> dict[str, dict[str, FlagUsage]]:
        """Return ``{flag: {environment: FlagUsage}}`` summed over all hours and applications."""
        with self._uow() as uow:
            query = select(
                FlagMetricRow.flag_key,
                FlagMetricRow.environment,
                func.sum(FlagMetricRow.yes),
                func.sum(FlagMetricRow.no),
                func.max(FlagMetricRow.last_seen_at),
            ).group_by(FlagMetricRow.flag_key, FlagMetricRow.environment)
            variant_query = select(
                FlagMetricRow.flag_key, FlagMetricRow.environment, FlagMetricRow.variants
            )
            if keys is not None:
                wanted = list(keys)
                query = query.where(FlagMetricRow.flag_key.in_(wanted))
                variant_query = variant_query.where(FlagMetricRow.flag_key.in_(wanted))
            variants: dict[tuple[str, str], dict[str, int]] = {}
            for key, environment, counts in uow.session.execute(variant_query):
                total = variants.setdefault((key, environment), {})
                for name, count in (counts or {}).items():
                    total[name] = total.get(name, 0) + int(count)
            result: dict[str, dict[str, FlagUsage]] = {}
            for key, environment, yes, no, last_seen in uow.session.execute(query):
                result.setdefault(key, {})[environment] = FlagUsage(
                    yes=int(yes or 0),
                    no=int(no or 0),
                    variants=variants.get((key, environment), {}),
                    last_seen_at=as_utc(last_seen),
                )
            return result

    def applications(self, environment: str | None = None) -> list[ClientApplication]:
        """Return the registered SDK instances (of one environment when given), newest first."""
        with self._uow() as uow:
            query = select(ClientApplicationRow).order_by(
                ClientApplicationRow.last_seen_at.desc(), ClientApplicationRow.id
            )
            if environment is not None:
                query = query.where(ClientApplicationRow.environment == environment)
            return [
                ClientApplication(
                    app_name=row.app_name,
                    instance_id=row.instance_id,
                    environment=row.environment,
                    sdk_version=row.sdk_version,
                    strategies=list(row.strategies or []),
                    interval_ms=row.interval_ms,
                    started_at=as_utc(row.started_at) if row.started_at else None,
                    last_seen_at=as_utc(row.last_seen_at),
                )
                for row in uow.session.scalars(query)
            ]
