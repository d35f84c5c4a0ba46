"""Use cases of the release registry: create releases, attach evidence."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import defer

from relgate import limits
from relgate.audit import store as audit
from relgate.auth.model import Action, Principal
from relgate.clock import Clock
from relgate.delivery.period import utc
from relgate.errors import BadInput, Conflict, Forbidden, NotFound, TooLarge
from relgate.limits import id_in_range
from relgate.notify import outbox
from relgate.notify.events import DomainEvent, EventType
from relgate.releases.authorship import MAX_CO_AUTHORS, Person, check_person, parse_person
from relgate.releases.changes import MAX_RELEASES, ReleaseText, WhatChanges, what_changes
from relgate.releases.model import Release, parse_artifact
from relgate.releases.ports import ArtifactResolver
from relgate.store import queries
from relgate.store.tables import EvidenceRow, ReleaseRow, ServiceRow
from relgate.store.uow import UnitOfWork, UnitOfWorkFactory, as_utc

MAX_EVIDENCE_BYTES = 50 * 1024 * 1024

ReleaseListener = Callable[[str, str], None]


@dataclass(frozen=True)
class Evidence:
    id: int
    release: str
    kind: str
    environment: str | None
    filename: str
    sha256: str
    format: str
    summary: str
    created_by: str
    created_at: datetime

    @property
    def media_type(self) -> str:
        """The media type its report is served as (JSON, XML, else bytes; never HTML)."""
        return REPORT_MEDIA_TYPES.get(self.format, "application/octet-stream")


# report format -> how a download of it is typed
REPORT_MEDIA_TYPES = {
    "coverage.py-json": "application/json",
    "custom-json": "application/json",
    "metrics-json": "application/json",
    "trivy": "application/json",
    "grype": "application/json",
    "sarif": "application/sarif+json",
    "cobertura": "application/xml",
    "junit": "application/xml",
    "relgate-migrations": "application/json",
}


def to_release(row: ReleaseRow, service: str) -> Release:
    return Release(
        id=row.id,
        service=service,
        version=row.version,
        artifact=row.artifact,
        digest=row.digest,
        commit=row.commit_sha,
        changelog=row.changelog,
        author=row.author,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
        author_email=row.author_email,
        co_authors=tuple(
            str(Person(name=p.get("name", ""), email=p.get("email", "")))
            for p in row.co_authors or []
        ),
        committed_at=as_utc(row.committed_at) if row.committed_at else None,
        commit_count=row.commit_count,
    )


_SHA = re.compile(r"^[0-9a-f]{4,64}\Z")


def check_commits(
    commits: Sequence[tuple[str, datetime]] | None,
    commit_count: int | None,
    committed_at: datetime | None,
) -> list[dict[str, str]] | None:
    """Validate a release's commit list; return it as stored (JSON). Raises BadInput."""
    if committed_at is not None:
        utc("committed_at", committed_at)
    if commits is None:
        if commit_count is not None:
            raise BadInput("commit_count: only with a commits list")
        return None
    if len(commits) > limits.RELEASE_COMMITS:
        raise BadInput(
            f"commits: at most {limits.RELEASE_COMMITS} (the newest), got {len(commits)}; "
            "give the range's size in commit_count"
        )
    if commit_count is not None and commit_count < len(commits):
        raise BadInput(f"commit_count {commit_count} is less than the {len(commits)} commits sent")
    stored = []
    for index, (sha, when) in enumerate(commits):
        if not _SHA.match(sha):
            raise BadInput(f"commits[{index}].sha {sha[:80]!r}: a lowercase hex commit id")
        when_utc = utc(f"commits[{index}].committed_at", when)
        stored.append({"sha": sha, "committed_at": when_utc.isoformat()})
    return stored


def _created_event(row: ReleaseRow, service: str, actor: str, now: datetime) -> DomainEvent:
    """``release.created``: what a notification about a new release needs."""
    return DomainEvent(
        type=EventType.RELEASE_CREATED,
        subject=f"release/{service}@{row.version}",
        time=now,
        service=service,
        actor=actor,
        data={
            "service": service,
            "version": row.version,
            "artifact": row.artifact,
            "commit": row.commit_sha,
            "author": row.author,
            "actor": actor,
        },
    )


class ReleaseService:
    def __init__(
        self, uow: UnitOfWorkFactory, clock: Clock, *, resolver: ArtifactResolver | None = None
    ) -> None:
        self._uow = uow
        self._clock = clock
        # checks the artifact in its registry, when the server configures that registry
        self._resolver = resolver
        self._listeners: list[ReleaseListener] = []

    def subscribe(self, listener: ReleaseListener) -> None:
        """Call ``listener(service, version)`` after a release or its evidence changed."""
        self._listeners.append(listener)

    def _changed(self, service: str, version: str) -> None:
        for listener in self._listeners:
            listener(service, version)

    def create(
        self,
        principal: Principal,
        *,
        service: str,
        version: str,
        artifact: str,
        commit: str | None = None,
        changelog: str | None = None,
        author: str | None = None,
        author_email: str | None = None,
        co_authors: Sequence[str] = (),
        commits: Sequence[tuple[str, datetime]] | None = None,
        commit_count: int | None = None,
        committed_at: datetime | None = None,
    ) -> tuple[Release, bool]:
        """Register ``service@version`` bound to a digest-pinned artifact.

        The author (name and email, default the caller) and co-authors
        (``Name <email>``) are stored with the keys of the known identities they
        name: none of them may approve the release. Returns the release and
        whether it was created now (False: the same binding existed, nothing
        changed). With the artifact's registry configured on the server, the
        digest must be in it and a tag (``reg/app:1.4.0``) is recorded as the
        digest it points to. Raises BadInput for an invalid version, an artifact
        without a digest (or a tag its configured registry lacks) or a malformed
        author, ExternalError when a configured registry cannot be asked,
        Conflict when the version is bound to another digest, NotFound for an
        unknown service, Forbidden outside the token's scope.

        ``commits`` (sha, commit time) are the commits since the previous release
        tag, newest first, at most ``limits.RELEASE_COMMITS`` of ``commit_count``;
        ``committed_at`` is the release commit's time. The change lead time of the
        delivery measures is computed from them.
        """
        principal.require(Action.CREATE_RELEASE, service=service)
        stored_commits = check_commits(commits, commit_count, committed_at)
        for name, value, limit in (
            ("service", service, limits.SERVICE),
            ("version", version, limits.VERSION),
            ("artifact", artifact, limits.ARTIFACT),
            ("commit", commit, limits.COMMIT),
            ("changelog", changelog, limits.CHANGELOG),
            ("author", author, limits.AUTHOR),
            ("author_email", author_email, limits.EMAIL),
        ):
            limits.check_text(name, value, limit)
        from relgate.auth import identities
        from relgate.versioning.semver import Version

        Version.parse(version)
        # without a name or an email the caller is the author; an email alone names one
        default = principal.name if not author_email else ""
        main = check_person(author or default, author_email or "")
        if len(co_authors) > MAX_CO_AUTHORS:
            raise BadInput(f"co_authors: at most {MAX_CO_AUTHORS} people, got {len(co_authors)}")
        others = list(dict.fromkeys(parse_person(text) for text in co_authors))
        # a configured registry must hold the digest; it turns a tag into its digest
        ref = parse_artifact((self._resolver and self._resolver.resolve(artifact)) or artifact)
        now = self._clock.now()
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            existing = self._existing(uow, svc, version)
            if existing is not None:
                return self._same_or_conflict(existing, svc, str(ref)), False
            row = ReleaseRow(
                service_id=svc.id,
                version=version,
                artifact=str(ref),
                digest=ref.digest,
                commit_sha=commit,
                changelog=changelog,
                author=main.name or None,
                author_email=main.email or None,
                co_authors=[p.as_dict() for p in others],
                author_identities=identities.keys_of(
                    uow.session,
                    [main.name, main.email, *(t for p in others for t in (p.name, p.email))],
                ),
                created_by=principal.name,
                created_at=now,
                commits=stored_commits,
                commit_count=(
                    None
                    if stored_commits is None
                    else commit_count
                    if commit_count is not None
                    else len(stored_commits)
                ),
                committed_at=utc("committed_at", committed_at) if committed_at else None,
            )
            uow.session.add(row)
            try:
                uow.session.flush()
            except IntegrityError:
                # another request created the same version between our read and write
                uow.session.rollback()
                existing = self._existing(uow, svc, version)
                assert existing is not None
                return self._same_or_conflict(existing, svc, str(ref)), False
            audit.append(
                uow,
                actor=principal.name,
                action="release.created",
                subject=f"release/{service}@{version}",
                at=now,
                after={
                    "artifact": str(ref),
                    "requested_artifact": artifact if artifact.strip() != str(ref) else None,
                    "commit": commit,
                    "author": str(main),
                    "co_authors": [str(p) for p in others],
                    "author_identities": row.author_identities,
                    "commit_count": row.commit_count,
                },
            )
            outbox.append(uow.session, [_created_event(row, service, principal.name, now)])
            uow.commit()
            release = to_release(row, service)
        self._changed(service, version)
        return release, True

    @staticmethod
    def _existing(uow: UnitOfWork, svc: ServiceRow, version: str) -> ReleaseRow | None:
        return uow.session.scalar(
            select(ReleaseRow).where(ReleaseRow.service_id == svc.id, ReleaseRow.version == version)
        )

    @staticmethod
    def _same_or_conflict(existing: ReleaseRow, svc: ServiceRow, artifact: str) -> Release:
        if existing.artifact != artifact:
            raise Conflict(
                f"{svc.name}@{existing.version} is bound to {existing.artifact}; a release never "
                f"changes its artifact, so {artifact} needs a new version"
            )
        return to_release(existing, svc.name)

    def get(self, principal: Principal, service: str, version: str) -> Release:
        """Return ``service@version``; raises NotFound, Forbidden outside the token's scope."""
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            return to_release(queries.release_by_version(uow.session, svc, version), service)

    def list_releases(self, principal: Principal, service: str, limit: int = 50) -> list[Release]:
        """Return the newest releases of ``service`` first; Forbidden outside the token's scope."""
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            rows = uow.session.scalars(
                select(ReleaseRow)
                .where(ReleaseRow.service_id == svc.id)
                .order_by(ReleaseRow.id.desc())
                .limit(limit)
            ).all()
            return [to_release(row, service) for row in rows]

    def add_evidence(
        self,
        principal: Principal,
        *,
        service: str,
        version: str,
        kind: str,
        filename: str,
        data: bytes,
        environment: str | None = None,
    ) -> Evidence:
        """Parse and attach a report to a release (optionally for one environment).

        Raises InvalidReport (BadInput) naming the file for a malformed report,
        BadInput when a vulnerability report names no image digest or
        another image than the release's digest, NotFound for an unknown release
        or environment, Forbidden outside the token's scope. A refused report is
        not stored.
        """
        principal.require(Action.ADD_EVIDENCE, service=service, environment=environment)
        if environment is None and principal.environments is not None:
            # release-wide evidence counts in the gates of every environment: a token
            # scoped to dev must not make production's tests or scan gates pass
            raise Forbidden(
                f"evidence without an environment counts in every environment's gates; "
                f"token {principal.name!r} is scoped to {principal.scope_text()}: attach it "
                f"for one of those environments (--env)"
            )
        from relgate.promotion.reports import VulnerabilityReport, parse_report

        limits.check_text("filename", filename, limits.EVIDENCE_FILENAME)
        limits.check_text("kind", kind, limits.EVIDENCE_KIND)
        limits.check_text("environment", environment, limits.ENVIRONMENT)
        if len(data) > MAX_EVIDENCE_BYTES:
            raise TooLarge(f"{filename}: larger than {MAX_EVIDENCE_BYTES // 2**20} MiB")
        if data.lstrip()[:1] in (b"{", b"["):
            # a parser would recurse into every level: refuse a hostile depth first
            limits.check_json_depth(data, filename)
        report = parse_report(kind, data, filename)
        now = self._clock.now()
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            release = queries.release_by_version(uow.session, svc, version)
            if environment is not None:
                queries.environment(uow.session, svc, environment)
            if isinstance(report, VulnerabilityReport):
                problem = report.digest_problem(release.digest)
                if problem is not None:
                    raise BadInput(f"{filename}: {problem}")
            row = EvidenceRow(
                release_id=release.id,
                kind=str(kind),
                environment=environment,
                filename=filename,
                sha256=hashlib.sha256(data).hexdigest(),
                format=report.format,
                summary=report.summary(),
                report=report.model_dump(mode="json"),
                content=data,
                created_by=principal.name,
                created_at=now,
            )
            uow.session.add(row)
            uow.session.flush()
            audit.append(
                uow,
                actor=principal.name,
                action="evidence.added",
                subject=f"release/{service}@{version}",
                at=now,
                after={
                    "kind": str(kind),
                    "environment": environment,
                    "sha256": row.sha256,
                    "summary": row.summary,
                },
            )
            uow.commit()
            evidence = _evidence(row, f"{service}@{version}")
        self._changed(service, version)
        return evidence

    def list_evidence(self, principal: Principal, service: str, version: str) -> list[Evidence]:
        """Return the release's evidence; raises NotFound, Forbidden outside the token's scope."""
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            release = queries.release_by_version(uow.session, svc, version)
            rows = uow.session.scalars(
                select(EvidenceRow)
                .options(defer(EvidenceRow.content), defer(EvidenceRow.report))
                .where(EvidenceRow.release_id == release.id)
                .order_by(EvidenceRow.id)
            ).all()
            return [_evidence(row, f"{service}@{version}") for row in rows]

    def evidence_report(
        self, principal: Principal, service: str, version: str, evidence_id: int
    ) -> tuple[Evidence, bytes]:
        """Return one piece of the release's evidence and the report's bytes as they were stored.

        Scoped like ``list_evidence``; raises NotFound for an id that is not
        evidence of ``service@version`` (another release's too), Forbidden outside
        the token's scope.
        """
        principal.require(Action.READ, service=service)
        with self._uow() as uow:
            svc = queries.service_by_name(uow.session, service)
            release = queries.release_by_version(uow.session, svc, version)
            row = uow.session.get(EvidenceRow, evidence_id) if id_in_range(evidence_id) else None
            if row is None or row.release_id != release.id:
                raise NotFound(f"{service}@{version} has no evidence {evidence_id}")
            return _evidence(row, f"{service}@{version}"), bytes(row.content)

    def what_changes(
        self, principal: Principal, service: str, version: str, environment: str
    ) -> WhatChanges:
        """What deploying ``service@version`` into ``environment`` changes there.

        Read from the changelogs of the stored releases between the version that
        runs in ``environment`` and the candidate (see ``releases.changes``).
        Raises NotFound for an unknown service, release or environment,
        Forbidden outside the token's scope.
        """
        principal.require(Action.READ, service=service, environment=environment)
        with self._uow() as uow:
            session = uow.session
            svc = queries.service_by_name(session, service)
            candidate = queries.release_by_version(session, svc, version)
            env = queries.environment(session, svc, environment)
            running = (
                session.get(ReleaseRow, env.current_release_id)
                if env.current_release_id is not None
                else None
            )
            ids, skipped = _ids_in_range(
                session.execute(
                    select(ReleaseRow.id, ReleaseRow.version).where(ReleaseRow.service_id == svc.id)
                ).all(),
                candidate.version,
                running.version if running else None,
            )
            rows = session.scalars(select(ReleaseRow).where(ReleaseRow.id.in_(ids))).all()
            return what_changes(
                _text(candidate),
                _text(running) if running else None,
                [_text(r) for r in rows],
                skipped=skipped,
            )


def _text(row: ReleaseRow) -> ReleaseText:
    return ReleaseText(
        version=row.version,
        changelog=row.changelog,
        commit=row.commit_sha,
        created_at=as_utc(row.created_at),
    )


def _ids_in_range(
    versions: Sequence[tuple[int, str]], candidate: str, running: str | None
) -> tuple[list[int], int]:
    """The ids of the newest ``MAX_RELEASES`` releases between the two versions; how many more."""
    from relgate.versioning.semver import Version

    if running is None:
        return [], 0
    a, b = Version.parse(candidate), Version.parse(running)
    low, high = min(a, b), max(a, b)
    found: list[tuple[Version, int]] = []
    for id_, text in versions:
        try:
            parsed = Version.parse(text)
        except BadInput:
            continue
        if low < parsed <= high:
            found.append((parsed, id_))
    found.sort()
    kept = found[-MAX_RELEASES:]
    return [id_ for _, id_ in kept], len(found) - len(kept)


def _evidence(row: EvidenceRow, release: str) -> Evidence:
    return Evidence(
        id=row.id,
        release=release,
        kind=row.kind,
        environment=row.environment,
        filename=row.filename,
        sha256=row.sha256,
        format=row.format,
        summary=row.summary,
        created_by=row.created_by,
        created_at=as_utc(row.created_at),
    )
