"""`relgate version --calibrate`: render a calibration (text or JSON) and write the proposal."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from relgate.manifest.model import Manifest
    from relgate.versioning.calibrate import Calibration, Outcome, Replay, Rules

# A person reads the first disagreements; --json lists them all.
_SHOWN = 30


def run_calibration(
    repo: Path, manifest: Manifest, config_path: Path, *, write: bool, json_output: bool
) -> None:
    """Replay the release tags, print the outcome, write the proposal when asked."""
    from relgate.versioning.calibrate import calibrate

    def progress(line: str) -> None:
        if not json_output:
            print(line, file=sys.stderr, flush=True)

    progress("reading the release tags (each is replayed from the release tag before it)")
    result = calibrate(repo, manifest, progress)
    written: bool | None = None
    if write:
        from relgate.versioning.calibrate_write import write_rules

        written = write_rules(config_path, result.proposal.rules)
    if json_output:
        from relgate.cli.output import print_json

        print_json(calibration_json(result, config_path if write else None, written))
        return
    _print(result, config_path, written)


def _rules_json(rules: Rules) -> dict[str, Any]:
    return rules.as_config()


def _replay_json(replay: Replay) -> dict[str, Any]:
    return {
        "tag": replay.tag,
        "base_tag": replay.base_tag,
        "expected": str(replay.expected),
        "computed": str(replay.computed) if replay.computed else None,
        "bump": replay.bump.label,
        "commits": replay.commits,
        "matched": replay.matched,
        "why": replay.why or None,
    }


def _outcome_json(outcome: Outcome) -> dict[str, Any]:
    return {
        "matched": outcome.matched,
        "replayed": len(outcome.replays),
        "rate": round(outcome.rate, 4),
        "rules": _rules_json(outcome.rules),
        "disagreements": [_replay_json(r) for r in outcome.disagreements],
    }


def calibration_json(
    result: Calibration, written_to: Path | None, written: bool | None
) -> dict[str, Any]:
    """Return the ``relgate version --calibrate --json`` document."""
    return {
        "tags": result.tags,
        "replayed": len(result.current.replays),
        "skipped": [{"tag": tag, "reason": why} for tag, why in result.skipped],
        "current": _outcome_json(result.current),
        "proposal": {**_outcome_json(result.proposal), "changes": _changes(result)},
        "candidates_evaluated": result.evaluated,
        "written": None if written_to is None else {"path": str(written_to), "changed": written},
    }


def _changes(result: Calibration) -> list[str]:
    """Return what the proposal changes in the current rules, one "key: old -> new" each."""
    from relgate.versioning.bump import BumpKind

    before, after = result.current.rules, result.proposal.rules
    changes: list[str] = []
    for name in sorted(set(before.types) | set(after.types)):
        old = before.types.get(name, BumpKind.NONE)
        new = after.types.get(name, BumpKind.NONE)
        if old != new:
            changes.append(f"types.{name}: {old.label} -> {new.label}")
    if before.dependency_updates != after.dependency_updates:
        changes.append(
            f"dependency_updates: {before.dependency_updates.label} -> "
            f"{after.dependency_updates.label}"
        )
    if before.squash.bullets != after.squash.bullets:
        changes.append(f"squash.bullets: {before.squash.bullets} -> {after.squash.bullets}")
    if before.squash.breaking_in_bullets != after.squash.breaking_in_bullets:
        old_flag = str(before.squash.breaking_in_bullets).lower()
        new_flag = str(after.squash.breaking_in_bullets).lower()
        changes.append(f"squash.breaking_in_bullets: {old_flag} -> {new_flag}")
    return changes


def _rate(outcome: Outcome) -> str:
    return f"{outcome.matched}/{len(outcome.replays)} releases ({outcome.rate:.0%})"


def _print(result: Calibration, config_path: Path, written: bool | None) -> None:
    from relgate.cli.output import console, escape

    out = console()
    replayed = len(result.current.replays)
    out.print(f"Replayed {replayed} of {result.tags} release tag(s).")
    for tag, why in result.skipped[:5]:
        out.print(f"  not replayed: {escape(tag)} ({escape(why)})", style="dim")
    if len(result.skipped) > 5:
        out.print(f"  … and {len(result.skipped) - 5} more not replayed (see --json)", style="dim")
    out.print(f"[bold]Current rules[/bold]: {_rate(result.current)} give the released version.")
    _disagreements(result.current)
    changes = _changes(result)
    if not changes:
        out.print("The current rules reproduce the history best: nothing to propose.")
        return
    out.print(
        f"[bold]Proposed rules[/bold]: {_rate(result.proposal)} "
        f"(best of {result.evaluated} rule sets):"
    )
    for change in changes:
        out.print(f"  {escape(change)}")
    _disagreements(result.proposal)
    if written is None:
        out.print(f"Put them into {escape(str(config_path))}: relgate version --calibrate --write")
    elif written:
        out.print(
            f"wrote the proposed rules into the versioning section of {escape(str(config_path))}"
        )
    else:
        out.print(f"{escape(str(config_path))} already holds the proposed rules")


def _disagreements(outcome: Outcome) -> None:
    from relgate.cli.output import console, escape, table

    wrong = outcome.disagreements
    if not wrong:
        return
    rows = [
        [
            escape(r.tag),
            escape(r.base_tag),
            str(r.expected),
            str(r.computed) if r.computed else "(none)",
            escape(r.why),
        ]
        for r in wrong[:_SHOWN]
    ]
    console().print(table(["tag", "since", "released", "computed", "why"], rows))
    if len(wrong) > _SHOWN:
        console().print(f"… and {len(wrong) - _SHOWN} more disagreements (see --json)")
