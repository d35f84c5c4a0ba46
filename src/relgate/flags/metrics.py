"""What SDKs tell relgate: who they are (register) and how often each flag was asked (metrics).

Unleash SDKs send ``POST /api/client/register`` when they start and
``POST /api/client/metrics`` every interval with a bucket of counts per flag.
Registrations are kept per (app, instance, environment) with their last-seen
time; counts are added into one row per (flag, environment, app, hour), so
storage grows with hours, not with requests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from relgate import limits
from relgate.clock import Clock
from relgate.store.tables import ClientApplicationRow, FlagMetricRow
from relgate.store.uow import UnitOfWorkFactory, as_utc

_T = TypeVar("_T")

# a count or an interval that an INTEGER column holds (and a BIGINT sum of them)
Count = Annotated[int, Field(ge=0, le=limits.MAX_ID)]


class _Payload(BaseModel):
    # SDKs add fields over time (connectionId, platformName, impactMetrics...): ignore them
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ClientRegistration(_Payload):
    """The body of ``POST /api/client/register``."""

    app_name: str = Field(alias="appName", min_length=1, max_length=200)
    instance_id: str = Field(default="default", alias="instanceId", min_length=1, max_length=200)
    sdk_version: str | None = Field(default=None, alias="sdkVersion", max_length=100)
    strategies: list[str] = Field(default_factory=list)
    started: datetime | None = None
    interval: Count | None = None


class ToggleCounts(_Payload):
    """How often one flag was evaluated in a bucket."""

    yes: Count = 0
    no: Count = 0
    variants: dict[str, Count] = Field(default_factory=dict)


class MetricsBucket(_Payload):
    start: datetime
    stop: datetime
    toggles: dict[str, ToggleCounts] = Field(default_factory=dict)

    @field_validator("toggles")
    @classmethod
    def _drop_impossible_keys(cls, toggles: dict[str, ToggleCounts]) -> dict[str, ToggleCounts]:
        # a key longer than any flag's names no flag: its counts are dropped, not stored
        return {key: counts for key, counts in toggles.items() if len(key) <= limits.FLAG_KEY}


class ClientMetrics(_Payload):
    """The body of ``POST /api/client/metrics``."""

    app_name: str = Field(alias="appName", min_length=1, max_length=200)
    instance_id: str = Field(default="default", alias="instanceId", min_length=1, max_length=200)
    # None: the SDK sent only metrics relgate does not keep (impact metrics)
    bucket: MetricsBucket | None = None


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


def _hour(at: datetime) -> datetime:
    return as_utc(at).replace(minute=0, second=0, microsecond=0)


class ClientMetricsService:
    """Stores registrations and usage counts of flag clients."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

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

        Returns how many flags' counts were stored. The hour is the bucket's
        start. Raises ExternalError when the store fails.
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
            names = sorted(bucket.toggles)
            existing = {
                row.flag_key: row
                for row in session.scalars(
                    select(FlagMetricRow).where(
                        FlagMetricRow.flag_key.in_(names),
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
                row.yes = (row.yes or 0) + counts.yes
                row.no = (row.no or 0) + counts.no
                variants = dict(row.variants or {})
                for variant, count in counts.variants.items():
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
