"""Gates as relgate.yaml declares them: every type, its defaults, and clear errors."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from pydantic import BaseModel, ConfigDict

from relgate.errors import InvalidConfig
from relgate.manifest.loader import load_text
from relgate.promotion.gates import (
    ApprovalGate,
    CoverageGate,
    FreezeGate,
    GateSpec,
    PerformanceGate,
    SmokeTestsGate,
    TestsPassedGate,
    VerifiedInGate,
    VulnerabilitiesGate,
)

EVERY_GATE = """
gates:
  - type: tests_passed
  - type: coverage
    min: 80
  - type: vulnerabilities
    max: {critical: 0, High: 5}
    accept:
      - {id: CVE-2024-3094, expires: 2026-12-31, reason: "not reachable"}
  - type: performance
    metric: p95_ms
    max_regression_percent: 5
  - type: verified_in
  - type: smoke_tests
    environment: staging
  - type: approval
    count: 2
  - type: freeze
    timezone: Europe/Berlin
    windows:
      - {start: "Fri 16:00", end: "Mon 08:00"}
    dates:
      - {start: 2026-12-20T00:00, end: 2027-01-02T00:00}
"""


class Environment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    gates: list[GateSpec]


def test_every_gate_type_reads_from_yaml_with_its_defaults() -> None:
    gates = load_text(Environment, EVERY_GATE, "relgate.yaml").gates

    assert [type(spec) for spec in gates] == [
        TestsPassedGate,
        CoverageGate,
        VulnerabilitiesGate,
        PerformanceGate,
        VerifiedInGate,
        SmokeTestsGate,
        ApprovalGate,
        FreezeGate,
    ]
    vulnerabilities, performance, freeze = gates[2], gates[3], gates[7]
    assert isinstance(vulnerabilities, VulnerabilitiesGate)
    assert vulnerabilities.max == {"CRITICAL": 0, "HIGH": 5}
    assert vulnerabilities.accept[0].expires == date(2026, 12, 31)
    assert isinstance(performance, PerformanceGate)
    assert performance.baseline_environment == "production"
    assert performance.pass_without_baseline is False
    assert performance.higher_is_better is False
    assert isinstance(freeze, FreezeGate)
    assert freeze.dates[0].start == datetime(2026, 12, 20)


def test_an_unknown_gate_type_names_the_file_line_and_valid_types() -> None:
    text = "gates:\n  - type: tests_passed\n  - type: sign_off\n"

    with pytest.raises(InvalidConfig) as caught:
        load_text(Environment, text, "relgate.yaml")

    message = str(caught.value)
    assert message.startswith("relgate.yaml:3: gates[1].type: must be one of ")
    assert "'sign_off'" in message
    assert "'tests_passed', 'coverage', 'vulnerabilities'" in message


def test_an_unknown_key_on_a_gate_is_refused_with_its_line() -> None:
    text = "gates:\n  - type: coverage\n    min: 80\n    skip: true\n"

    with pytest.raises(InvalidConfig) as caught:
        load_text(Environment, text, "relgate.yaml")

    assert "gates[0].skip: unknown key (a typo?)" in str(caught.value)
    assert str(caught.value).startswith("relgate.yaml:")


def test_a_malformed_freeze_window_names_the_window() -> None:
    text = (
        "gates:\n  - type: freeze\n    windows:\n      - {start: 'Fry 16:00', end: 'Mon 08:00'}\n"
    )

    with pytest.raises(InvalidConfig) as caught:
        load_text(Environment, text, "relgate.yaml")

    assert "gates[0].windows[0].start" in str(caught.value)
    assert "'Fry' is not a day: use Mon, Tue, Wed, Thu, Fri, Sat or Sun" in str(caught.value)


def test_a_coverage_minimum_over_100_is_refused() -> None:
    with pytest.raises(InvalidConfig, match=r"min.*less than or equal to 100"):
        load_text(Environment, "gates:\n  - type: coverage\n    min: 180\n", "relgate.yaml")


def test_an_acceptance_needs_a_reason() -> None:
    text = (
        "gates:\n  - type: vulnerabilities\n    accept:\n"
        "      - {id: CVE-2024-3094, expires: 2026-12-31}\n"
    )

    with pytest.raises(InvalidConfig, match=r"accept\[0\]\.reason: required, but missing"):
        load_text(Environment, text, "relgate.yaml")
