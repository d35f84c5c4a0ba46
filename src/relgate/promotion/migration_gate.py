"""The ``migrations`` gate: expand-contract, checked against the environment's history.

The release's ``migrations`` evidence (the JSON of ``relgate migrations
check --json``) decides:

- no evidence: missing, with the command that attaches it;
- a finding at error level (a rule not listed in ``allow``), a syntax error,
  or a contract change (drop or rename of a column or table) without a
  ``relgate:contract after=VERSION`` annotation: fail, naming file and line;
- contract changes annotated ``after=VERSION``: pass only when the release
  stable in the environment is VERSION or later and deployed and verified
  there, so the code running when the migration drops something no longer uses
  it, and a rollback to that stable anchor stays safe. VERSION must be older
  than the release itself (it is the expand release that came before).

Pure, like every gate: the stable release comes in GateContext.stable.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from relgate.migrations.rules import RULES

if TYPE_CHECKING:
    from relgate.migrations.report import MigrationFinding, MigrationReport
    from relgate.promotion.gates import GateContext, GateResult

_GATE = "migrations"
_LISTED = 3


@dataclass(frozen=True)
class StableRelease:
    """The release stable in an environment: its version, and whether it verified there."""

    version: str
    verified: bool


class MigrationsGate(BaseModel):
    """The release's migrations are safe for the release running in the environment."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["migrations"]
    allow: list[str] = Field(
        default_factory=list,
        description="Rules whose findings do not fail the gate (e.g. create-index-non-"
        "concurrently for a service whose tables are small). Contract rules listed here "
        "pass without an annotation.",
    )
    fail_on: Literal["error", "warning"] = Field(
        default="error", description="Lowest finding level that fails the gate."
    )
    pass_without_stable: bool = Field(
        default=False,
        description="Let contract changes pass where no release is stable yet (a new "
        "environment, whose database no running code uses).",
    )

    @field_validator("allow")
    @classmethod
    def _known_rules(cls, value: list[str]) -> list[str]:
        unknown = [name for name in value if name not in RULES]
        if unknown:
            raise ValueError(
                f"unknown rule {', '.join(unknown)}; `relgate migrations rules` lists them"
            )
        return value


def evaluate_migrations(spec: MigrationsGate, ctx: GateContext) -> GateResult:
    """Return whether the release's migration evidence lets it into ``ctx.environment``."""
    from relgate.promotion.gates import GateResult, GateStatus
    from relgate.promotion.kinds import EvidenceKind
    from relgate.promotion.reports import MigrationReport

    # release-wide evidence, or evidence for this environment: never another environment's,
    # which a token scoped to that environment could attach
    items = [
        item
        for item in ctx.evidence
        if item.kind == EvidenceKind.MIGRATIONS and item.environment in (None, ctx.environment)
    ]
    release = ctx.release or "SERVICE@VERSION"
    if not items:
        return GateResult(
            _GATE,
            GateStatus.MISSING,
            "no migration check attached: relgate migrations check --json MIGRATIONS > "
            f"migrations.json && relgate evidence add {release} --kind migrations "
            "--file migrations.json",
        )
    # the newest; of two with the same time, the later attached
    item = max(enumerate(items), key=lambda entry: (entry[1].created_at, entry[0]))[1]
    report = item.report
    if not isinstance(report, MigrationReport):
        return GateResult(
            _GATE, GateStatus.FAILED, "the newest migrations evidence is not a migration report"
        )
    blocking, contracts, allowed = _sort(spec, report)
    if blocking:
        listed = _listed([finding.label() for finding in blocking])
        unannotated = any(RULES.get(f.rule) and RULES[f.rule].contract for f in blocking)
        hint = (
            "; mark a drop or rename made after the expand release N with "
            "`-- relgate:contract after=N`"
            if unannotated
            else ""
        )
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"{len(blocking)} unsafe migration change{_s(blocking)}: {listed}{hint}",
        )
    if not contracts:
        reason = f"no unsafe migration change ({report.summary()})"
        if allowed:
            reason += f"; allowed: {_listed(list(dict.fromkeys(allowed)))}"
        return GateResult(_GATE, GateStatus.PASSED, reason)
    return _contracts(spec, ctx, contracts)


def _sort(
    spec: MigrationsGate, report: MigrationReport
) -> tuple[list[MigrationFinding], list[MigrationFinding], list[str]]:
    """(findings that fail the gate, annotated contract changes, rules allowed)."""
    levels = ("error",) if spec.fail_on == "error" else ("error", "warning")
    blocking: list[MigrationFinding] = []
    contracts: list[MigrationFinding] = []
    allowed: list[str] = []
    for finding in report.findings:
        if finding.rule in spec.allow:
            allowed.append(finding.rule)
            continue
        rule = RULES.get(finding.rule)
        # the catalog decides for the rules it knows, whatever level the report claims
        contract = rule.contract if rule is not None else finding.category == "contract"
        level = rule.level if rule is not None else finding.level
        if contract:
            (contracts if finding.contract_after else blocking).append(finding)
        elif level in levels or (rule is None and finding.level not in ("warning", "note")):
            blocking.append(finding)
    return blocking, contracts, allowed


def _contracts(
    spec: MigrationsGate, ctx: GateContext, contracts: list[MigrationFinding]
) -> GateResult:
    from relgate.errors import InvalidVersion
    from relgate.promotion.gates import GateResult, GateStatus
    from relgate.versioning.semver import Version

    env = ctx.environment
    objects = _listed([f.object or f.label() for f in contracts])
    needed: Version | None = None
    for finding in contracts:
        try:
            after = Version.parse(finding.contract_after or "")
        except InvalidVersion:
            return GateResult(
                _GATE,
                GateStatus.FAILED,
                f"contract annotation after={finding.contract_after!r} at {finding.where()} is "
                "not a SemVer version",
            )
        needed = after if needed is None or after > needed else needed
    assert needed is not None
    service, _, own = (ctx.release or "").rpartition("@")
    try:
        own_version = Version.parse(own) if own else None
    except InvalidVersion:
        own_version = None
    if own_version is not None and not needed < own_version:
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"the contract changes ({objects}) name after={needed}, which is not older than "
            f"this release {own}: name the earlier expand release that stopped using them",
        )
    promote = f"relgate promote {service or 'SERVICE'}@{needed} --to {env}"
    stable = ctx.stable
    if stable is None:
        if spec.pass_without_stable:
            return GateResult(
                _GATE,
                GateStatus.PASSED,
                f"no release is stable in {env} yet: contract changes ({objects}) accepted "
                "(pass_without_stable)",
            )
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"drops or renames {objects} (contract after {needed}), but no release is stable in "
            f"{env}: deploy the expand release first ({promote}), or set pass_without_stable: "
            "true for a new environment",
        )
    try:
        running = Version.parse(stable.version)
    except InvalidVersion:
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"the release stable in {env}, {stable.version!r}, is not a SemVer version: cannot "
            f"tell that it no longer uses {objects}",
        )
    if running < needed:
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"drops or renames {objects} (contract after {needed}), but {env} runs "
            f"{stable.version}, which may still use them: {promote} first",
        )
    if not stable.verified:
        return GateResult(
            _GATE,
            GateStatus.FAILED,
            f"{stable.version} is stable in {env} but never deployed and verified there: "
            f"verify it before dropping {objects}",
        )
    return GateResult(
        _GATE,
        GateStatus.PASSED,
        f"contract changes safe: {objects} (after {needed}); {env} runs {stable.version}, "
        "deployed and verified",
    )


def _listed(labels: list[str]) -> str:
    unique = list(dict.fromkeys(labels))
    text = ", ".join(unique[:_LISTED])
    if len(unique) > _LISTED:
        text += f" and {len(unique) - _LISTED} more"
    return text


def _s(items: list[MigrationFinding]) -> str:
    return "" if len(items) == 1 else "s"


def protection_changes(
    before: list[MigrationsGate], after: list[MigrationsGate]
) -> list[tuple[bool, str]]:
    """(weakens, text) for what ``after``'s migrations gates demand less or more than before.

    Several gates on one environment demand what the strictest of each setting says:
    only the rules every gate allows, warnings fail if one gate says so, and no stable
    release is accepted unless every gate accepts it.
    """
    old, new = _demands(before), _demands(after)
    if old is None and new is None:
        return []
    if new is None:
        return [(True, "no longer checks migrations (the migrations gate is removed)")]
    if old is None:
        return [(False, "now checks migrations (migrations)")]
    changes: list[tuple[bool, str]] = []
    if new[0] - old[0]:
        changes.append((True, f"migrations: now allows {', '.join(sorted(new[0] - old[0]))}"))
    if old[0] - new[0]:
        changes.append(
            (False, f"migrations: no longer allows {', '.join(sorted(old[0] - new[0]))}")
        )
    if old[1] and not new[1]:
        changes.append((True, "migrations: warnings no longer fail the gate (fail_on)"))
    elif new[1] and not old[1]:
        changes.append((False, "migrations: warnings now fail the gate (fail_on: warning)"))
    if new[2] and not old[2]:
        changes.append(
            (True, "migrations: contract changes now pass where no release is stable "
             "(pass_without_stable)")
        )  # fmt: skip
    elif old[2] and not new[2]:
        changes.append((False, "migrations: contract changes need a stable release everywhere"))
    return changes


def _demands(gates: list[MigrationsGate]) -> tuple[frozenset[str], bool, bool] | None:
    """(rules allowed by every gate, warnings fail, passes without a stable release)."""
    if not gates:
        return None
    allowed = frozenset.intersection(*(frozenset(gate.allow) for gate in gates))
    warnings_fail = any(gate.fail_on == "warning" for gate in gates)
    lenient = all(gate.pass_without_stable for gate in gates)
    return allowed, warnings_fail, lenient
