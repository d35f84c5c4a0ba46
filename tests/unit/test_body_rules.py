"""Which limit and which token rule apply to a request (pure parts of relgate.api.limits)."""

from __future__ import annotations

from relgate.api.limits import DEFAULT_MAX_BYTES, MIB, credentials, needs_token, rule_for


def test_the_evidence_route_takes_50_mib_and_other_routes_the_default() -> None:
    evidence = rule_for("POST", "/api/v1/releases/shop/1.2.3/evidence")

    assert evidence is not None and evidence.max_bytes == 50 * MIB
    assert rule_for("POST", "/api/v1/releases") is None
    assert rule_for("GET", "/api/v1/releases/shop/1.2.3/evidence") is None
    assert DEFAULT_MAX_BYTES == 1 * MIB


def test_a_template_segment_matches_one_path_segment_only() -> None:
    assert rule_for("POST", "/ofrep/v1/evaluate/flags/a-flag") is not None
    assert rule_for("POST", "/ofrep/v1/evaluate/flags/a/b") is None


def test_every_api_route_needs_a_token_but_the_openapi_document() -> None:
    assert needs_token("/api/v1/releases")
    assert needs_token("/api/client/metrics")
    assert needs_token("/ofrep/v1/evaluate/flags")
    assert not needs_token("/api/v1/openapi.json")
    assert not needs_token("/api/v1/docs")
    assert not needs_token("/healthz")


def test_credentials_take_bearer_or_a_bare_token_and_ofrep_also_takes_x_api_key() -> None:
    assert credentials("/api/v1/x", {"authorization": "Bearer rg_a"}) == "rg_a"
    assert credentials("/api/client/metrics", {"authorization": "rg_b"}) == "rg_b"
    assert credentials("/ofrep/v1/evaluate/flags", {"x-api-key": "rg_c"}) == "rg_c"
    assert credentials("/api/v1/x", {"x-api-key": "rg_c"}) is None
    assert credentials("/api/v1/x", {"authorization": "Bearer "}) is None
