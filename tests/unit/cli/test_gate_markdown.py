"""The gate table as Markdown (`relgate gates check --markdown`), for CI job summaries."""

from __future__ import annotations

from relgate.cli.markdown import cell, gate_table, verdict


def _check(
    gates: list[dict[str, str]], *, passed: bool, waiting: bool = False
) -> dict[str, object]:
    return {
        "release": "payments@1.4.0",
        "environment": "production",
        "gates": gates,
        "passed": passed,
        "waiting_for_approval": waiting,
    }


def test_the_table_has_a_heading_a_row_per_gate_and_the_verdict() -> None:
    check = _check(
        [
            {"gate": "verified_in", "status": "pass", "reason": "deployed and verified in staging"},
            {"gate": "approval", "status": "missing", "reason": "needs 1 approval, has 0"},
        ],
        passed=False,
        waiting=True,
    )

    assert gate_table(check) == (
        "### relgate gates: payments@1.4.0 → production\n"
        "\n"
        "| gate | status | reason |\n"
        "| --- | --- | --- |\n"
        "| verified\\_in | ✅ pass | deployed and verified in staging |\n"
        "| approval | ⚠️ missing | needs 1 approval, has 0 |\n"
        "\n"
        "**payments@1.4.0 waits only for an approval to enter production**\n"
    )


def test_a_failed_gate_is_marked_and_the_verdict_says_it_cannot_enter() -> None:
    check = _check(
        [{"gate": "tests_passed", "status": "fail", "reason": "1 failure"}], passed=False
    )

    table = gate_table(check)

    assert "| tests\\_passed | ❌ fail | 1 failure |" in table
    assert table.endswith("**payments@1.4.0 cannot enter production now**\n")


def test_an_environment_without_gates_says_so() -> None:
    table = gate_table(_check([], passed=True))

    assert "| (no gates) | ✅ pass | the environment has no gates |" in table
    assert verdict(_check([], passed=True)) == (
        "payments@1.4.0 may enter production: every gate passes"
    )


def test_a_reason_cannot_break_the_table_or_add_markup() -> None:
    hostile = "a | b\nnew line <img src=x onerror=alert(1)> [link](https://evil) `code` *em* $x$"

    assert cell(hostile) == (
        "a \\| b new line &lt;img src=x onerror=alert(1)&gt; \\[link\\](https://evil) "
        "\\`code\\` \\*em\\* \\$x\\$"
    )


def test_an_unknown_status_and_an_empty_reason_still_make_a_row() -> None:
    table = gate_table(
        _check([{"gate": "custom", "status": "odd|one", "reason": ""}], passed=False)
    )

    assert "| custom | odd\\|one |   |" in table
