"""The oldest release an environment's schema still serves, read from its migration evidence.

A release whose migrations drop or rename what older code uses declares it
(``-- relgate:contract after=VERSION``, see docs/migrations.md); once that
release has started deploying in an environment, its migrations may have run
there, and any release older than VERSION may fail against the schema. A
rollback must not go below that floor: the stable anchor never does (the
migrations gate let the contract in only once VERSION was stable), but
``rollback --to`` an older release, or an environment without the gate,
could.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from relgate.errors import InvalidVersion, RelgateError
from relgate.migrations.rules import RULES
from relgate.promotion.kinds import EvidenceKind
from relgate.store.tables import DeploymentRow, EvidenceRow, ReleaseRow
from relgate.versioning.semver import Version


@dataclass(frozen=True)
class SchemaFloor:
    """No release older than ``version`` may run in the environment any more."""

    version: Version
    release: str
    """The release whose contract migrations set the floor."""
    objects: tuple[str, ...]
    """What they drop or rename (``table.column``), for the message."""

    def refusal(self, service: str, environment: str, target: str) -> str | None:
        """Why a rollback to ``target`` is refused, or None when it is at or above the floor."""
        try:
            if not Version.parse(target) < self.version:
                return None
        except InvalidVersion:
            return None
        objects = ", ".join(self.objects) or "what older releases use"
        return (
            f"{service}@{target} is older than {self.version}: {self.release} has deployed in "
            f"{environment}, and its migrations drop or rename {objects} (contract after "
            f"{self.version}), which {target} may still use; roll back to {self.version} or "
            f"later (relgate rollback {service} --env {environment} --to {self.version})"
        )


def schema_floor(session: Session, service_id: int, environment: str) -> SchemaFloor | None:
    """The floor set by the contract migrations of every release that started in ``environment``."""
    from relgate.promotion.reports import MigrationReport, load_report

    started = (
        select(DeploymentRow.release_id)
        .where(
            DeploymentRow.service_id == service_id,
            DeploymentRow.environment == environment,
            DeploymentRow.started_at.is_not(None),
        )
        .distinct()
    )
    rows = session.execute(
        select(EvidenceRow.release_id, EvidenceRow.report, ReleaseRow.version)
        .join(ReleaseRow, ReleaseRow.id == EvidenceRow.release_id)
        .where(
            EvidenceRow.release_id.in_(started),
            EvidenceRow.kind == EvidenceKind.MIGRATIONS.value,
            (EvidenceRow.environment.is_(None)) | (EvidenceRow.environment == environment),
        )
        # the newest report of each release decides, as in the migrations gate
        .order_by(EvidenceRow.release_id, EvidenceRow.created_at, EvidenceRow.id)
    ).all()
    newest: dict[int, tuple[object, str]] = {}
    for release_id, stored, version in rows:
        newest[release_id] = (stored, version)
    floor: SchemaFloor | None = None
    for stored, version in newest.values():
        try:
            report = load_report(EvidenceKind.MIGRATIONS, stored)  # type: ignore[arg-type]
        except RelgateError:
            continue
        if not isinstance(report, MigrationReport):
            continue
        for finding in report.findings:
            rule = RULES.get(finding.rule)
            contract = rule.contract if rule is not None else finding.category == "contract"
            if not contract or not finding.contract_after:
                continue
            try:
                after = Version.parse(finding.contract_after)
            except InvalidVersion:
                continue
            shown = finding.object or finding.rule
            if floor is None or after > floor.version:
                floor = SchemaFloor(after, version, (shown,))
            elif after == floor.version and shown not in floor.objects:
                floor = SchemaFloor(after, floor.release, (*floor.objects, shown))
    return floor
