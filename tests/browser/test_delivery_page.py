"""The delivery page on a history built through the API: record deployers, incidents, rework."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import Web, sign_in

PIPELINE = """\
service: shop
environments:
  - name: staging
    deployer: {type: record}
  - name: production
    protected: false
    deployer: {type: record}
"""


def _wait(web: Web, deployment: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while deployment["state"] not in ("succeeded", "failed", "rejected", "cancelled"):
        assert time.monotonic() < deadline, f"deployment still {deployment['state']}"
        time.sleep(0.05)
        deployment = web.api("GET", f"/api/v1/deployments/{deployment['id']}")
    return deployment


def _release(web: Web, version: str, digit: str, commits: list[tuple[str, datetime]]) -> None:
    web.api(
        "POST",
        "/api/v1/releases",
        json={
            "service": "shop",
            "version": version,
            "artifact": f"reg.example/shop@sha256:{digit * 64}",
            "commit": commits[0][0],
            "committed_at": commits[0][1].isoformat(),
            "commits": [{"sha": sha, "committed_at": at.isoformat()} for sha, at in commits],
        },
    )


def _promote(web: Web, version: str, *, hotfix: bool = False) -> int:
    body = {"service": "shop", "version": version, "environment": "production", "hotfix": hotfix}
    done = _wait(web, web.api("POST", "/api/v1/deployments", json=body))
    assert done["state"] == "succeeded", done
    return int(done["id"])


@pytest.fixture(scope="module")
def history(web: Web) -> dict[str, int]:
    """Five production deployments: a baseline, 1.1.0, 1.2.0 (an incident, rolled back),
    the rollback, and the hotfix 1.2.1. The incident was first put on 1.1.0 by mistake."""
    web.api("POST", "/api/v1/pipelines", json={"source": PIPELINE})
    now = datetime.now(UTC)
    ids: dict[str, int] = {}
    _release(web, "1.0.0", "1", [("a" * 40, now - timedelta(days=300))])
    ids["1.0.0"] = _promote(web, "1.0.0")
    _release(
        web,
        "1.1.0",
        "2",
        [("c" * 40, now - timedelta(hours=1)), ("b" * 40, now - timedelta(hours=3))],
    )
    ids["1.1.0"] = _promote(web, "1.1.0")
    _release(web, "1.2.0", "3", [("d" * 40, now - timedelta(minutes=30))])
    ids["1.2.0"] = _promote(web, "1.2.0")
    wrong = web.api(
        "POST", "/api/v1/incidents", json={"deployment_id": ids["1.1.0"], "summary": "carts lost"}
    )
    web.api(
        "POST",
        f"/api/v1/incidents/{wrong['id']}/link",
        json={"deployment_id": ids["1.2.0"], "reason": "the cart change shipped in 1.2.0"},
    )
    ids["incident"] = int(wrong["id"])
    rollback = web.api(
        "POST",
        "/api/v1/rollbacks",
        json={"service": "shop", "environment": "production", "reason": "carts lost"},
    )
    ids["rollback"] = int(_wait(web, rollback)["id"])
    web.api("POST", f"/api/v1/incidents/{wrong['id']}/resolve", json={})
    web.api("POST", "/api/v1/services/shop/environments/production/unpin")
    _release(web, "1.2.1", "4", [("e" * 40, now - timedelta(minutes=10))])
    ids["1.2.1"] = _promote(web, "1.2.1", hotfix=True)
    return ids


def test_the_delivery_page_shows_the_measures_and_the_rows_behind_them(
    browser_page: Page, web: Web, history: dict[str, int]
) -> None:
    reader = web.token("delivery-reader", "approver")
    page = browser_page
    sign_in(page, web, reader, "/delivery?service=shop&environment=production")

    expect(page.get_by_role("heading", name="Delivery", exact=True)).to_be_visible()
    # 5 deployments in the 28 days up to today: 1.25 a week
    expect(page.locator('[data-measure="deployments-per-week"]')).to_contain_text("1.25")
    # 1.2.0 only: the incident was moved there from 1.1.0, and 1.2.0 was rolled back
    expect(page.locator('[data-measure="change-fail-rate"]')).to_have_text("20.0 %")
    # the rollback and the hotfix
    expect(page.locator('[data-measure="rework-rate"]')).to_have_text("40.0 %")
    # b (3 h), c (1 h), d (30 min), e (10 min): median 45 min; 1.0.0 is the baseline
    expect(page.locator('[data-measure="lead-time-median"]')).to_contain_text("45 min")
    expect(page.locator('[data-measure="lead-time-p90"]')).to_have_text(
        re.compile(r"^3 h 0\d min$")
    )
    chart = page.locator("svg[aria-labelledby=chart-frequency-title] > title")
    expect(chart).to_contain_text(": 5")

    page.get_by_role("link", name="The failed deployments").click()

    expect(page).to_have_url(re.compile(r"measure=fail-rate"))
    # the drill-down keeps the period: the same numbers
    expect(page.locator('[data-measure="deployments-per-week"]')).to_contain_text("1.25")
    tables = page.locator("#rows-fail-rate table")
    failed = tables.first.locator("tbody tr")
    expect(failed).to_have_count(1)
    expect(failed.first).to_contain_text(f"#{history['1.2.0']}")
    expect(failed.first).to_contain_text(f"incident {history['incident']}")
    expect(failed.first).to_contain_text(f"rolled back by deployment {history['rollback']}")
    # the incident behind it, with its summary
    expect(tables.nth(1).locator("tbody tr")).to_contain_text(["carts lost"])
    expect(page.locator("#rows-lead-time")).to_have_count(0)

    page.get_by_role("link", name="The commits").click()
    commit = page.locator("#rows-lead-time tbody tr", has_text="bbbbbbbbbbbb")
    expect(commit).to_contain_text(f"#{history['1.1.0']}")
    expect(commit).to_contain_text("commit list")
    expect(page.locator("#rows-lead-time")).to_contain_text("first production deployment")


def test_the_period_form_and_bad_input_on_the_delivery_page(
    browser_page: Page, web: Web, history: dict[str, int]
) -> None:
    page = browser_page
    sign_in(page, web, web.admin, "/delivery")

    # the first service and its production are chosen; an old period has no deployment
    expect(page.get_by_label("Service", exact=True)).to_have_value("shop")
    page.get_by_label("From", exact=True).fill("2025-01-01")
    page.get_by_label("Until (included)").fill("2025-01-28")
    page.get_by_role("button", name="Show").click()

    expect(page).to_have_url(re.compile(r"since=2025-01-01"))
    expect(page.locator('[data-measure="change-fail-rate"]')).to_have_text("—")
    expect(page.locator('[data-measure="deployments-per-week"]')).to_contain_text("0.00")
    expect(page.locator("#rows-frequency")).to_contain_text("No deployment ended")

    page.goto(web.url + "/delivery?service=shop&since=not-a-date")
    expect(page.get_by_role("alert")).to_contain_text("since")
    page.goto(web.url + "/delivery?service=" + "x" * 300)
    expect(page.get_by_role("alert")).to_be_visible()
    page.goto(web.url + "/delivery?service=nope&environment=production")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()


def test_a_token_of_another_service_does_not_see_shop(
    browser_page: Page, web: Web, history: dict[str, int]
) -> None:
    other = web.token("delivery-other-team", "approver", services=["search"])
    page = browser_page
    sign_in(page, web, other, "/delivery")

    expect(page.locator(".notice")).to_contain_text("No service to measure yet")
    page.goto(web.url + "/delivery?service=shop&environment=production")
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("scoped to the services search")


def test_an_incident_opened_and_resolved_on_the_page_counts_against_its_deployment(
    browser_page: Page, web: Web, history: dict[str, int]
) -> None:
    oncall = web.token("delivery-oncall", "approver")
    page = browser_page
    sign_in(page, web, oncall, "/delivery?service=shop&environment=production")
    expect(page.locator('[data-measure="change-fail-rate"]')).to_have_text("20.0 %")

    page.get_by_label("Deployment that caused it").select_option(str(history["1.2.1"]))
    page.get_by_label("What broke").fill("refunds twice")
    page.get_by_role("button", name="Open incident").click()

    expect(page.locator('[data-measure="change-fail-rate"]')).to_have_text("40.0 %")
    row = page.locator("#incidents tbody tr", has_text="refunds twice")
    expect(row).to_contain_text(f"#{history['1.2.1']}")
    expect(row).to_contain_text("by delivery-oncall")
    failed = page.locator("#rows-fail-rate table").first.locator(
        "tbody tr", has_text=f"#{history['1.2.1']}"
    )
    expect(failed).to_contain_text("incident")

    row.get_by_role("button").click()

    expect(page.locator("#incidents tbody tr", has_text="refunds twice")).to_have_count(0)
    # resolved, it still counts: the deployment failed; the incident now has an end
    expect(page.locator('[data-measure="change-fail-rate"]')).to_have_text("40.0 %")
    incidents = web.api("GET", "/api/v1/incidents?service=shop")
    mine = next(i for i in incidents if i["summary"] == "refunds twice")
    assert mine["opened_by"] == "delivery-oncall" and mine["resolved_by"] == "delivery-oncall"


def test_the_delivery_page_fits_a_narrow_screen(
    browser_page: Page, web: Web, history: dict[str, int]
) -> None:
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, web, web.admin, "/delivery?service=shop&environment=production")

    expect(page.locator('[data-measure="rework-rate"]')).to_have_text("40.0 %")
    # wide tables scroll inside their own box; the page itself does not scroll sideways
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    expect(page.locator("svg[aria-labelledby=chart-lead-title]")).to_be_visible()
