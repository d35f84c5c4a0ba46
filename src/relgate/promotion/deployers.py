"""Use cases of registered deployers: an admin adds, lists, shows and removes them.

Definitions come from two places: the database (`relgate deployers add`) and
the server configuration (``RELGATE_DEPLOYERS_FILE``, read at start, read-only
here). A name is defined in one place only. Secret values are never returned:
views list the secrets' names. The worker resolves a ``deployer: {ref: NAME}``
through ``resolve`` when it runs a job, so a changed definition applies to the
next deployment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.deploy.registered import RegisteredDeployer
from relgate.errors import Conflict, InvalidConfig, NotFound
from relgate.store.tables import DeployerRow
from relgate.store.uow import UnitOfWorkFactory, as_utc


def load_deployers_file(path: Path) -> list[RegisteredDeployer]:
    """Read the server's deployer definitions: ``deployers: [{name, command, ...}, ...]``.

    Raises InvalidConfig naming the file, line and field when it is unreadable
    or invalid, or names a deployer twice.
    """
    from pydantic import BaseModel, ConfigDict

    from relgate.manifest.loader import load_file

    class _File(BaseModel):
        model_config = ConfigDict(extra="forbid")
        deployers: list[RegisteredDeployer]

    loaded = load_file(_File, path)
    seen: set[str] = set()
    for index, definition in enumerate(loaded.deployers):
        if definition.name in seen:
            raise InvalidConfig(
                f"deployer {definition.name!r} is defined twice",
                file=str(path),
                field=f"deployers[{index}].name",
            )
        seen.add(definition.name)
    return loaded.deployers


class DeployerService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        configured: Sequence[RegisteredDeployer] = (),
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._uow = uow
        self._clock = clock
        self._configured = {definition.name: definition for definition in configured}
        self.environ: Mapping[str, str] = environ if environ is not None else {}

    def add(self, principal: Principal, definition: RegisteredDeployer) -> dict[str, Any]:
        """Register ``definition``; return its public view (secret names only).

        Raises Forbidden for a token that is not an admin's, Conflict when the
        name is taken (in the database or the server configuration).
        """
        principal.require(Action.MANAGE_DEPLOYERS)
        now = self._clock.now()
        if definition.name in self._configured:
            raise Conflict(
                f"deployer {definition.name!r} is defined in the server configuration "
                "(RELGATE_DEPLOYERS_FILE); change it there"
            )
        with self._uow() as uow:
            session = uow.session
            if self._row(session, definition.name) is not None:
                raise Conflict(
                    f"deployer {definition.name!r} is already registered: remove it first "
                    f"(`relgate deployers remove {definition.name}`)"
                )
            session.add(
                DeployerRow(
                    name=definition.name,
                    definition=definition.model_dump(mode="json"),
                    created_by=principal.name,
                    created_at=now,
                )
            )
            audit.append(
                uow,
                actor=principal.name,
                action="deployer.added",
                subject=f"deployer/{definition.name}",
                at=now,
                after=definition.public(),
            )
            uow.commit()
        return {**definition.public(), "source": "database", "created_by": principal.name}

    def list_deployers(self, principal: Principal) -> list[dict[str, Any]]:
        """Return every registered deployer (database and configuration), by name."""
        principal.require(Action.MANAGE_DEPLOYERS)
        out = [
            {**definition.public(), "source": "configuration"}
            for definition in self._configured.values()
        ]
        with self._uow() as uow:
            for row in uow.session.scalars(select(DeployerRow).order_by(DeployerRow.name)):
                out.append(self._public(row))
        return sorted(out, key=lambda item: str(item["name"]))

    def show(self, principal: Principal, name: str) -> dict[str, Any]:
        """Return one registered deployer; raises NotFound naming the ones there are."""
        principal.require(Action.MANAGE_DEPLOYERS)
        if name in self._configured:
            return {**self._configured[name].public(), "source": "configuration"}
        with self._uow() as uow:
            row = self._row(uow.session, name)
            if row is None:
                raise NotFound(self._unknown(uow.session, name))
            return self._public(row)

    def remove(self, principal: Principal, name: str) -> None:
        """Remove a deployer registered in the database.

        A pipeline still naming it fails its next deployment there with a clear
        reason. Raises NotFound for an unknown name, Conflict for one defined in
        the server configuration.
        """
        principal.require(Action.MANAGE_DEPLOYERS)
        if name in self._configured:
            raise Conflict(
                f"deployer {name!r} is defined in the server configuration "
                "(RELGATE_DEPLOYERS_FILE); remove it there"
            )
        with self._uow() as uow:
            session = uow.session
            row = self._row(session, name)
            if row is None:
                raise NotFound(self._unknown(session, name))
            before = self._public(row)
            session.delete(row)
            audit.append(
                uow,
                actor=principal.name,
                action="deployer.removed",
                subject=f"deployer/{name}",
                at=self._clock.now(),
                before=before,
            )
            uow.commit()

    # ------------------------------------------------------------------ for other services

    def is_registered(self, session: Session, name: str) -> bool:
        """Whether ``name`` is a registered deployer (read in the caller's transaction)."""
        return name in self._configured or self._row(session, name) is not None

    def resolve(self, name: str) -> RegisteredDeployer | None:
        """Return the definition registered as ``name`` (secrets included), or None."""
        if name in self._configured:
            return self._configured[name]
        with self._uow() as uow:
            row = self._row(uow.session, name)
            return RegisteredDeployer.model_validate(row.definition) if row is not None else None

    @staticmethod
    def _row(session: Session, name: str) -> DeployerRow | None:
        return session.scalar(select(DeployerRow).where(DeployerRow.name == name))

    def _unknown(self, session: Session, name: str) -> str:
        names = sorted({*self._configured, *session.scalars(select(DeployerRow.name)).all()})
        there = f" (there are: {', '.join(names)})" if names else " (there are none yet)"
        return f"no deployer {name!r} is registered{there}"

    @staticmethod
    def _public(row: DeployerRow) -> dict[str, Any]:
        definition = RegisteredDeployer.model_validate(row.definition)
        return {
            **definition.public(),
            "source": "database",
            "created_by": row.created_by,
            "created_at": as_utc(row.created_at).isoformat(),
        }
