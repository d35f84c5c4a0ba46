"""A freeze window stops promotions through the CLI, on a real server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.e2e.control.conftest import RelgateServer, api, run_cli

PIPELINE = """\
service: frozen-shop
environments:
  - name: production
    deployer: {{type: record}}
    gates:
      - type: freeze
        timezone: UTC
        dates:
          - {{start: "{start}", end: "{end}", reason: "end-of-year freeze"}}
"""


def test_a_promotion_inside_a_freeze_window_is_refused_naming_its_end(
    relgate_server: RelgateServer, tmp_path: Path
) -> None:
    url, admin, _ = relgate_server
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    start, end = now - timedelta(hours=1), now + timedelta(days=2)
    source = PIPELINE.format(start=start.isoformat(), end=end.isoformat())
    (tmp_path / "relgate.yaml").write_text(source)
    assert run_cli("apply", url=url, token=admin, cwd=tmp_path).returncode == 0
    api(
        relgate_server,
        "POST",
        "/api/v1/releases",
        json={"service": "frozen-shop", "version": "2.0.0", "artifact": "r/s@sha256:" + "f" * 64},
    )

    refused = run_cli("promote", "frozen-shop@2.0.0", "--to", "production", url=url, token=admin)

    assert refused.returncode == 1, refused.stdout + refused.stderr
    output = refused.stdout + refused.stderr
    assert "freeze" in output
    day = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")[end.weekday()]
    assert f"production is frozen until {day} {end:%H:%M} UTC" in output
    assert "end-of-year freeze" in output
    history = api(relgate_server, "GET", "/api/v1/services/frozen-shop/history")
    assert history == []
