"""The overview in Chromium: cells that change by themselves, the approval queue, the scope."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Web, sign_in

DIGEST = "sha256:" + "e" * 64

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: command, command: "sleep 4", timeout_seconds: 60}}
  - name: production
    deployer: {{type: record}}
    gates:
      - type: approval
"""


def _service(web: Web, name: str, version: str = "1.0.0") -> None:
    web.api("POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service=name)})
    web.api(
        "POST",
        "/api/v1/releases",
        json={"service": name, "version": version, "artifact": f"reg/{name}@{DIGEST}"},
    )


def _promote(web: Web, token: str, service: str, version: str, environment: str) -> int:
    body = {"service": service, "version": version, "environment": environment}
    return int(web.api("POST", "/api/v1/deployments", token=token, json=body)["id"])


def test_a_cell_shows_deploying_then_the_new_version_without_a_reload(
    browser_page: Page, web: Web
) -> None:
    _service(web, "live-shop")
    ci = web.token("live-ci", "ci", services=["live-shop"])
    page = browser_page
    sign_in(page, web, web.admin)
    row = page.locator("tbody#svc-live-shop")
    dev = row.locator('td[data-env="dev"]')
    expect(dev).to_contain_text("nothing yet")
    expect(dev.locator(".next")).to_contain_text("next 1.0.0")
    # a mark in the page: a reload would wipe it
    page.evaluate("window.relgateMark = 'not reloaded'")

    deployment = _promote(web, ci, "live-shop", "1.0.0", "dev")

    state = dev.locator("a.state")
    expect(state).to_have_text(re.compile(r"^(requested|deploying|verifying)"))
    expect(state).to_have_attribute("href", f"/deployments/{deployment}")
    expect(state).to_have_text("succeeded", timeout=30_000)
    expect(dev.locator("a.version")).to_have_text("1.0.0")
    expect(dev.locator("a.version")).to_have_attribute("href", "/releases/live-shop/1.0.0")
    expect(dev).to_contain_text("stable")
    expect(dev).to_contain_text("sha256:eeeeeeeeeeee")
    assert page.evaluate("window.relgateMark") == "not reloaded"

    # production waits for an approver: the queue on top shows it, still without a reload
    waiting = _promote(web, ci, "live-shop", "1.0.0", "production")
    queue = page.locator("section#queue")
    entry = queue.locator("tr", has_text="live-shop")
    expect(entry).to_contain_text("production")
    expect(entry).to_contain_text("1.0.0")
    expect(entry).to_contain_text("live-ci")
    link = entry.get_by_role("link", name=re.compile("See the request|Approve or reject"))
    expect(link).to_have_attribute(
        "href", "/releases/live-shop/1.0.0/promote?environment=production"
    )
    # an admin may not approve (separation of duties): the queue says which role it takes
    expect(queue.locator(".needs")).to_contain_text("needs the role approver")
    production = row.locator('td[data-env="production"]')
    expect(production.locator("a.state")).to_have_text("waiting for approval 1.0.0")
    expect(production.locator("a.state")).to_have_attribute("href", f"/deployments/{waiting}")
    expect(production.locator(".gates")).to_contain_text("1 missing")
    assert page.evaluate("window.relgateMark") == "not reloaded"


def test_a_token_scoped_to_one_service_sees_only_that_service(browser_page: Page, web: Web) -> None:
    _service(web, "scoped-alpha")
    _service(web, "scoped-beta")
    web.api("POST", "/api/v1/deployments", json={
        "service": "scoped-alpha", "version": "1.0.0", "environment": "production",
    })  # fmt: skip
    beta_only = web.token("beta-viewer", "approver", services=["scoped-beta"])
    page = browser_page
    sign_in(page, web, beta_only)

    expect(page.locator("tbody#svc-scoped-beta")).to_be_visible()
    expect(page.locator("tbody#svc-scoped-alpha")).to_have_count(0)
    expect(page.locator("section#queue")).not_to_contain_text("scoped-alpha")
    expect(page.locator(".matrix")).not_to_contain_text("live-shop")

    cookie = next(c for c in page.context.cookies() if c["name"] == "relgate_session")
    fragment = httpx.get(
        web.url + "/fragments/overview", cookies={"relgate_session": cookie["value"]}
    )
    assert fragment.status_code == 200
    assert "scoped-beta" in fragment.text
    assert "scoped-alpha" not in fragment.text


def test_on_a_narrow_screen_each_service_is_a_card_of_named_environments(
    browser_page: Page, web: Web
) -> None:
    _service(web, "narrow-shop")
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, web, web.admin)

    cell = page.locator("tbody#svc-narrow-shop td[data-env='production']")
    expect(cell).to_be_visible()
    box = cell.bounding_box()
    assert box is not None
    assert box["x"] >= 0
    assert box["x"] + box["width"] <= 375
    assert page.evaluate("document.documentElement.scrollWidth") <= 375


def test_the_event_stream_needs_a_session(web: Web) -> None:
    answer = httpx.get(web.url + "/events/overview", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")
    bad = httpx.get(
        web.url + "/fragments/overview?since=-1",
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    assert bad.status_code == 303
