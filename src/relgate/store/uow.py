"""The unit of work: one transaction that rolls back unless told to commit."""

from __future__ import annotations

from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from relgate.errors import ExternalError


class UnitOfWork:
    """``with uow: ...; uow.commit()`` — leaving the block without commit rolls back."""

    def __init__(self, factory: sessionmaker[Session]) -> None:
        self._factory = factory
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use `with uow:`")
        return self._session

    @property
    def dialect(self) -> str:
        return self.session.get_bind().dialect.name

    def __enter__(self) -> Self:
        self._session = self._factory()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._session is not None
        try:
            self._session.rollback()
        finally:
            self._session.close()
            self._session = None
        if isinstance(exc, OperationalError):
            raise ExternalError(f"database error: {exc.orig}") from exc

    def commit(self) -> None:
        self.session.commit()


class UnitOfWorkFactory:
    """Makes a fresh UnitOfWork per use case; thread-safe."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(bind=engine, expire_on_commit=False)

    def __call__(self) -> UnitOfWork:
        return UnitOfWork(self._factory)


def as_utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes; everything relgate stores is UTC."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
