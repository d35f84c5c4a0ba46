"""A migrations gate on a protected environment: removing or loosening it weakens it."""

from __future__ import annotations

from tests.unit.promotion.test_protection import base, changes, gates


def with_migrations(**fields: object) -> dict[str, object]:
    doc = base()
    gates(doc).append({"type": "migrations", **fields})
    return doc


def test_adding_the_gate_tightens_and_removing_it_weakens() -> None:
    assert changes(with_migrations()) == ([], ["production now checks migrations (migrations)"])
    assert changes(base(), before=with_migrations()) == (
        ["production no longer checks migrations (the migrations gate is removed)"],
        [],
    )


def test_allowing_more_rules_or_warnings_or_no_stable_release_weakens() -> None:
    before = with_migrations(allow=["ban-char-field"], fail_on="warning")
    after = with_migrations(
        allow=["ban-char-field", "create-index-non-concurrently"], pass_without_stable=True
    )

    weakened, tightened = changes(after, before=before)

    assert weakened == [
        "production migrations: now allows create-index-non-concurrently",
        "production migrations: warnings no longer fail the gate (fail_on)",
        "production migrations: contract changes now pass where no release is stable "
        "(pass_without_stable)",
    ]
    assert tightened == []
    assert changes(before, before=after)[0] == []


def test_two_gates_demand_what_the_stricter_one_says() -> None:
    one = with_migrations(allow=["ban-char-field"])
    two = with_migrations(allow=["ban-char-field"])
    gates(two).append({"type": "migrations"})

    assert changes(two, before=one) == (
        [],
        ["production migrations: no longer allows ban-char-field"],
    )
