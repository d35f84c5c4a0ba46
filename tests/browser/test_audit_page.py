"""The audit page in Chromium: a kill and its reason, the filters, paging, the chain's head."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Web, sign_in

PIPELINE = """
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: production
    deployer: {{type: record}}
"""


def _kill_from_the_flags_page(page: Page, web: Web, key: str, reason: str) -> None:
    page.goto(web.url + "/flags")
    page.get_by_label(f"Reason to kill {key}").fill(reason)
    page.get_by_role("button", name=f"Kill {key}").click()
    expect(page.locator(f"#flag-{key}")).to_contain_text(f"{key} killed")


def test_the_audit_page_lists_the_kill_with_its_reason_and_filters(
    browser_page: Page, web: Web
) -> None:
    web.api("POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service="ledger")})
    web.api("POST", "/api/v1/flags", json={"key": "fast-refunds"})
    web.api("POST", "/api/v1/flags/fast-refunds/environments/dev/enable")
    web.api("POST", "/api/v1/flags/fast-refunds/environments/production/enable")
    operator = web.token("web-operator", "admin")
    page = browser_page
    sign_in(page, web, operator, "/flags")
    _kill_from_the_flags_page(page, web, "fast-refunds", "refunds double-paid <script>x</script>")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit").click()
    expect(page.get_by_role("heading", name="The chain verifies")).to_be_visible()
    newest = page.locator("tr.event").first
    expect(newest.locator(".action")).to_have_text("flag.killed")
    expect(newest.locator(".actor")).to_have_text("web-operator")
    expect(newest.locator(".subject")).to_have_text("flag/fast-refunds")
    # the reason is shown as text, escaped: no element was made of it
    expect(newest.locator(".changes")).to_contain_text(
        'reason: "refunds double-paid <script>x</script>"'
    )
    expect(newest.locator(".changes script")).to_have_count(0)
    expect(newest.locator(".changes")).to_contain_text("enabled.production: true → false")

    # the head shown is the chain's head, as the API verifies it
    verified = web.api("GET", "/api/v1/audit/verify")
    assert verified["intact"] is True
    expect(page.locator(".head-hash")).to_have_text(verified["head"])
    head_seq = web.api("GET", "/api/v1/audit", params={"limit": 1})[0]["seq"]
    expect(page.locator(".head-seq")).to_have_text(str(head_seq))

    # by actor: only the operator's events (its kill, and signing in)
    page.get_by_label("Actor").fill("web-operator")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"actor=web-operator"))
    expect(page.locator("tr.event .actor")).to_have_text(["web-operator", "web-operator"])
    expect(page.locator("tr.event .action")).to_have_text(["flag.killed", "session.signed_in"])
    expect(page.get_by_label("Actor")).to_have_value("web-operator")

    # by action, as a prefix: every flag event of this flag and the other tests'
    page.get_by_label("Actor").fill("")
    page.get_by_label("Action").fill("flag.enabled")
    page.get_by_role("button", name="Filter").click()
    actions = page.locator("tr.event .action")
    expect(actions.first).to_have_text("flag.enabled")
    assert set(actions.all_inner_texts()) == {"flag.enabled"}
    expect(page.locator("tr.event .subject").first).to_have_text("flag/fast-refunds")

    page.get_by_label("Action").fill("flag.")
    page.get_by_label("Environment").fill("production")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr.event .action")).to_have_text(["flag.killed", "flag.enabled"])

    page.get_by_role("link", name="Clear").click()
    expect(page).to_have_url(re.compile(r"/audit$"))


def test_older_events_are_a_page_away(browser_page: Page, web: Web) -> None:
    for index in range(55):
        web.api("POST", "/api/v1/flags", json={"key": f"paged-{index:02d}"})
    page = browser_page
    sign_in(page, web, web.admin, "/audit?action=flag.created")

    expect(page.locator("tr.event")).to_have_count(50)
    expect(page.locator("tr.event .subject").first).to_have_text("flag/paged-54")
    page.get_by_role("link", name="Older").click()
    expect(page).to_have_url(re.compile(r"action=flag.created&before=\d+"))
    subjects = page.locator("tr.event .subject").all_inner_texts()
    assert subjects[:5] == [f"flag/paged-{n:02d}" for n in (4, 3, 2, 1, 0)]
    assert "flag/paged-05" not in subjects and "flag/paged-54" not in subjects
    page.get_by_role("link", name="Newest").click()
    expect(page.locator("tr.event .subject").first).to_have_text("flag/paged-54")


def test_a_scoped_token_is_refused_the_trail_as_the_api_refuses_it(
    browser_page: Page, web: Web
) -> None:
    ci_dev = web.token("web-audit-ci-dev", "ci", environments=["dev"])
    api = httpx.get(
        web.url + "/api/v1/audit", headers={"Authorization": f"Bearer {ci_dev}"}, timeout=10
    )
    assert api.status_code == 403
    page = browser_page
    sign_in(page, web, web.admin, "/flags")  # a live browser first, then the scoped person
    page.get_by_role("button", name="Sign out").click()
    page.goto(web.url + "/sign-in?next=/audit")
    page.get_by_label("API token").fill(ci_dev)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("every service and environment")
    answer = page.goto(web.url + "/audit")
    assert answer is not None and answer.status == 403


def test_hostile_filters_get_a_page(browser_page: Page, web: Web) -> None:
    page = browser_page
    sign_in(page, web, web.admin, "/audit")
    answer = page.goto(web.url + "/audit?actor=" + "a" * 201)
    assert answer is not None and answer.status == 400
    expect(page.get_by_role("alert")).to_contain_text("actor")
    answer = page.goto(web.url + "/audit?before=-3")
    assert answer is not None and answer.status == 400
    answer = page.goto(web.url + "/audit?environment=%22%3E%3Cb%3Eq%3C%2Fb%3E&service=%25")
    assert answer is not None and answer.status == 200
    expect(page.get_by_label("Environment")).to_have_value('"><b>q</b>')
    expect(page.locator("main b")).to_have_count(0)
    expect(page.locator("tbody")).to_contain_text("No event matches these filters")
