"""The flags page in Chromium: a toggle per environment, the kill switch, what a scope allows."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SHOWN_WITHIN_MS, Web, sign_in

PIPELINE = """
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: staging
    deployer: {{type: record}}
  - name: production
    deployer: {{type: record}}
"""


@pytest.fixture(scope="module")
def flags_web(web: Web) -> Web:
    """The server with a pipeline (dev, staging, production) and flags configured in them."""
    web.api("POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service="shop")})
    web.api("POST", "/api/v1/flags", json={"key": "new-checkout", "owner": "payments"})
    for environment in ("dev", "staging", "production"):
        web.api("POST", f"/api/v1/flags/new-checkout/environments/{environment}/enable")
    web.api(
        "POST",
        "/api/v1/flags/new-checkout/environments/production/rollout",
        json={
            "percentage": 25,
            "constraints": [{"contextName": "plan", "operator": "IN", "values": ["pro", "team"]}],
        },
    )
    web.api("POST", "/api/v1/flags", json={"key": "dark-mode", "type": "permission"})
    web.api("POST", "/api/v1/flags/dark-mode/environments/dev/enable")
    web.api(
        "PUT",
        "/api/v1/flags/dark-mode/environments/dev/variants",
        json=[{"name": "blue", "weight": 500}, {"name": "green", "weight": 500}],
    )
    web.api("POST", "/api/v1/flags", json={"key": "old-banner"})
    web.api("POST", "/api/v1/flags/old-banner/archive")
    return web


def _client_features(web: Web, token: str) -> dict[str, Any]:
    answer = httpx.get(
        web.url + "/api/client/features", headers={"Authorization": token}, timeout=10
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _served_enabled(web: Web, token: str, key: str) -> bool:
    (feature,) = [f for f in _client_features(web, token)["features"] if f["name"] == key]
    return bool(feature["enabled"])


def _wait_served(web: Web, token: str, key: str, enabled: bool) -> None:
    """Wait (bounded) until the client endpoint serves ``key`` as ``enabled``."""
    deadline = time.monotonic() + SHOWN_WITHIN_MS / 1000
    while _served_enabled(web, token, key) is not enabled:
        assert time.monotonic() < deadline, f"{key} still served as {not enabled}"
        time.sleep(0.1)


def _cell(page: Page, key: str, environment: str) -> Any:
    return page.locator(f"#flag-{key} td[data-environment='{environment}']")


def test_the_page_shows_every_flag_in_every_environment(browser_page: Page, flags_web: Web) -> None:
    page = browser_page
    sign_in(page, flags_web, flags_web.admin, "/flags")

    expect(page.get_by_role("heading", name="Flags", exact=True)).to_be_visible()
    headers = page.locator("table.flags thead th.env")
    expect(headers).to_have_text(["dev", "staging", "production"])
    row = page.locator("#flag-new-checkout")
    expect(row).to_contain_text("payments")
    expect(row).to_contain_text("release")
    production = _cell(page, "new-checkout", "production")
    expect(production.locator(".state")).to_have_text("on")
    expect(production.locator(".rollout")).to_have_text("25%")
    expect(production).to_contain_text("25% if plan in pro, team")
    expect(_cell(page, "dark-mode", "dev")).to_contain_text("variants: blue 50%, green 50%")
    expect(_cell(page, "dark-mode", "staging")).to_contain_text("not set")
    # archived flags are hidden unless asked for
    expect(page.locator("#flag-old-banner")).to_have_count(0)
    page.get_by_role("link", name="show them").click()
    expect(page.locator("#flag-old-banner")).to_contain_text("archived")
    expect(page.locator("#flag-old-banner button")).to_have_count(0)

    page.get_by_role("link", name="new-checkout").click()
    expect(page.get_by_role("heading", name="Flag new-checkout")).to_be_visible()
    expect(page.locator(".constraints")).to_contain_text("plan in pro, team")


def test_a_toggle_changes_its_cell_only(browser_page: Page, flags_web: Web) -> None:
    page = browser_page
    sign_in(page, flags_web, flags_web.admin, "/flags")
    before = {env: _cell(page, "dark-mode", env).inner_text() for env in ("staging", "production")}
    others = page.locator("#flag-new-checkout").inner_text()

    page.get_by_role("switch", name="dark-mode in dev").click()

    expect(_cell(page, "dark-mode", "dev").locator(".state")).to_have_text("off")
    expect(page.get_by_role("switch", name="dark-mode in dev")).to_have_attribute(
        "aria-checked", "false"
    )
    expect(page.locator("#flag-dark-mode")).to_contain_text("dark-mode turned off in dev")
    for env, text in before.items():
        expect(_cell(page, "dark-mode", env)).to_have_text(text)
    expect(page.locator("#flag-new-checkout")).to_have_text(others)
    flag = flags_web.api("GET", "/api/v1/flags/dark-mode")
    assert flag["environments"]["dev"]["enabled"] is False
    # its variants were kept; turning it on again restores it
    page.get_by_role("switch", name="dark-mode in dev").click()
    expect(_cell(page, "dark-mode", "dev").locator(".state")).to_have_text("on")
    expect(_cell(page, "dark-mode", "dev")).to_contain_text("blue 50%")


def test_the_kill_switch_turns_the_flag_off_for_the_unleash_clients(
    browser_page: Page, flags_web: Web
) -> None:
    web = flags_web
    sdk = web.token("web-sdk-production", "client", environment="production")
    assert _served_enabled(web, sdk, "new-checkout") is True
    page = browser_page
    sign_in(page, web, web.admin, "/flags")

    page.get_by_label("Reason to kill new-checkout").fill("checkout errors <b>spiking</b>")
    page.get_by_role("button", name="Kill new-checkout").click()

    row = page.locator("#flag-new-checkout")
    expect(row).to_contain_text("new-checkout killed: off in dev, production, staging")
    expect(row.locator(".state")).to_have_text(["off", "off", "off"])
    _wait_served(web, sdk, "new-checkout", enabled=False)
    # the strategies are kept: turning it on again restores the 25% rollout
    expect(_cell(page, "new-checkout", "production").locator(".rollout")).to_have_text("25%")
    events = web.api("GET", "/api/v1/audit", params={"action": "flag.killed"})
    assert events[0]["after"]["reason"] == "checkout errors <b>spiking</b>"
    assert events[0]["subject"] == "flag/new-checkout"


def test_a_ci_token_scoped_to_dev_sees_toggles_for_dev_only(
    browser_page: Page, flags_web: Web
) -> None:
    web = flags_web
    web.api("POST", "/api/v1/flags", json={"key": "dev-only"})
    ci_dev = web.token("web-ci-dev", "ci", environments=["dev"])
    page = browser_page
    sign_in(page, web, ci_dev, "/flags")

    expect(page.locator("table.flags thead th.env")).to_have_text(["dev"])
    expect(page.get_by_role("switch", name="new-checkout in dev")).to_be_visible()
    expect(page.get_by_role("switch", name=re.compile(r" in (staging|production)$"))).to_have_count(
        0
    )
    # a flag configured beyond the scope cannot be killed by it: the service's reason is shown
    expect(page.locator("#flag-new-checkout .needs")).to_contain_text(
        "scoped to the environments dev"
    )
    expect(page.get_by_role("button", name="Kill dev-only")).to_be_visible()

    page.get_by_role("switch", name="dev-only in dev").click()
    expect(_cell(page, "dev-only", "dev").locator(".state")).to_have_text("on")

    # forged: production is out of its scope, and the service says so on the page
    page.evaluate(
        """() => {
            const form = document.querySelector("#flag-dev-only form[hx-post]");
            const url = "/flags/dev-only/environments/production/enable";
            form.setAttribute("hx-post", url);
            htmx.process(form);
        }"""
    )
    page.get_by_role("switch", name="dev-only in dev").click()
    expect(page.locator("#flash")).to_contain_text("scoped to the environments dev")
    flag = web.api("GET", "/api/v1/flags/dev-only")
    assert "production" not in flag["environments"]


def test_an_approver_sees_the_flags_but_no_button(browser_page: Page, flags_web: Web) -> None:
    approver = flags_web.token("web-approver-flags", "approver")
    page = browser_page
    sign_in(page, flags_web, approver, "/flags")

    expect(page.locator("#flag-new-checkout")).to_be_visible()
    expect(page.locator("table.flags button")).to_have_count(0)
    expect(page.locator(".needs").first).to_contain_text(
        "to manage feature flags needs the role admin or ci"
    )


def test_hostile_input_gets_a_page_not_a_traceback(browser_page: Page, flags_web: Web) -> None:
    page = browser_page
    sign_in(page, flags_web, flags_web.admin, "/flags")

    answer = page.goto(flags_web.url + "/flags/no-such-flag")
    assert answer is not None and answer.status == 404
    expect(page.get_by_role("alert")).to_contain_text("no flag 'no-such-flag'")
    answer = page.goto(flags_web.url + "/flags/" + "x" * 300)
    assert answer is not None and answer.status == 400
    page.goto(flags_web.url + "/flags")
    cookie = next(c for c in page.context.cookies() if c["name"] == "relgate_session")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    long_reason = httpx.post(
        flags_web.url + "/flags/dark-mode/kill",
        data={"csrf_token": csrf, "reason": "x" * 501},
        cookies={"relgate_session": cookie["value"]},
        headers={"accept": "text/html"},
    )
    assert long_reason.status_code == 400
    assert "reason" in long_reason.text
    assert _cell_enabled(flags_web, "dark-mode", "dev")


def _cell_enabled(web: Web, key: str, environment: str) -> bool:
    return bool(web.api("GET", f"/api/v1/flags/{key}")["environments"][environment]["enabled"])


def test_the_pages_fit_a_narrow_screen(browser_page: Page, flags_web: Web) -> None:
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, flags_web, flags_web.admin, "/flags")
    for path in ("/flags", "/flags/new-checkout", "/audit"):
        page.goto(flags_web.url + path)
        expect(page.locator("h1")).to_be_visible()
        # the wide tables scroll in their own box; the page itself does not
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide"
