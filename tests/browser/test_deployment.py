"""The deployment page in Chromium: live states and output, Roll back, Cancel, and roles."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Web, sign_in

DIGEST = "sha256:" + "d" * 64
FINAL = ("succeeded", "failed", "rejected", "cancelled", "rolled_back")


def gated_command(gate: Path) -> str:
    """A deploy command that prints a line, waits until ``gate`` exists, then prints HTML."""
    return (
        f"echo step one; n=0; while [ ! -e {gate} ] && [ $n -lt 600 ]; "
        "do sleep 0.1; n=$((n+1)); done; echo 'step two <b>bold</b>'"
    )


def apply(web: Web, service: str, command: str) -> None:
    source = (
        f"service: {service}\n"
        "environments:\n"
        "  - name: dev\n"
        "    protected: false\n"
        f'    deployer: {{type: command, command: "{command}", timeout_seconds: 90}}\n'
    )
    web.api("POST", "/api/v1/pipelines", json={"source": source})


def release(web: Web, service: str, version: str) -> None:
    body = {"service": service, "version": version, "artifact": f"reg/{service}@{DIGEST}"}
    web.api("POST", "/api/v1/releases", json=body)


def promote(web: Web, service: str, version: str) -> dict[str, Any]:
    body = {"service": service, "version": version, "environment": "dev"}
    deployment: dict[str, Any] = web.api("POST", "/api/v1/deployments", json=body)
    return deployment


def wait_until_done(web: Web, deployment_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while True:
        deployment: dict[str, Any] = web.api("GET", f"/api/v1/deployments/{deployment_id}")
        if deployment["state"] in FINAL:
            return deployment
        assert time.monotonic() < deadline, f"deployment still {deployment['state']}"
        time.sleep(0.05)


def wait_until_deploying(web: Web, deployment_id: int) -> None:
    deadline = time.monotonic() + 60
    while web.api("GET", f"/api/v1/deployments/{deployment_id}")["state"] != "deploying":
        assert time.monotonic() < deadline, "the deployment did not start"
        time.sleep(0.05)


def current_version(web: Web, service: str) -> str | None:
    rows = web.api("GET", f"/api/v1/status?service={service}")
    row = next(r for r in rows if r["environment"] == "dev")
    return row["current"]  # type: ignore[no-any-return]


def test_the_output_and_the_state_arrive_while_the_page_is_open(
    browser_page: Page, web: Web
) -> None:
    gate = web.workdir / "live-gate"
    apply(web, "web-live", gated_command(gate))
    release(web, "web-live", "1.0.0")
    page = browser_page
    sign_in(page, web, web.admin)
    deployment = promote(web, "web-live", "1.0.0")
    wait_until_deploying(web, deployment["id"])

    page.goto(f"{web.url}/deployments/{deployment['id']}")
    page.evaluate("window.notReloaded = true")
    log = page.locator("#deployment-log")
    badge = page.locator("#deployment-state-badge")

    expect(badge).to_have_text("deploying")
    expect(log).to_contain_text("step one")
    expect(log).not_to_contain_text("step two")
    gate.touch()  # the command goes on

    expect(log).to_contain_text("step two <b>bold</b>")
    expect(badge).to_have_text("succeeded")
    expect(page.locator(".timeline")).to_contain_text("deploying")
    # the deployer's HTML is text on the page, never markup
    expect(log.locator("b")).to_have_count(0)
    assert page.evaluate("window.notReloaded") is True
    expect(page.get_by_role("link", name="1.0.0")).to_have_attribute(
        "href", "/releases/web-live/1.0.0"
    )


def test_a_long_output_keeps_its_newest_part_on_the_page(browser_page: Page, web: Web) -> None:
    gate = web.workdir / "burst-gate"
    # eight bursts of about 36,000 characters each, a second apart: 290,000 in all
    command = (
        f"echo start; n=0; while [ ! -e {gate} ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n+1)); "
        'done; for i in 1 2 3 4 5 6 7 8; do seq -f \\"burst $i line %g\\" 1 2000; '
        "sleep 1; done; echo all done"
    )
    apply(web, "web-long", command)
    release(web, "web-long", "1.0.0")
    page = browser_page
    sign_in(page, web, web.admin)
    deployment = promote(web, "web-long", "1.0.0")
    wait_until_deploying(web, deployment["id"])
    page.goto(f"{web.url}/deployments/{deployment['id']}")
    log = page.locator("#deployment-log")
    expect(log).to_contain_text("start")
    gate.touch()

    expect(log).to_contain_text("all done", timeout=60_000)
    text: str = log.evaluate("element => element.textContent")
    assert "burst 8 line 2000" in text
    assert "burst 1 line 1\n" not in text  # the oldest output left the page
    assert len(text) <= 200_000 + 64_000  # the page's cap, plus the last slice


def test_roll_back_from_the_page_redeploys_the_version_it_names(
    browser_page: Page, web: Web
) -> None:
    apply(web, "web-rollback", "echo deployed $RELGATE_VERSION")
    for version in ("1.0.0", "2.0.0"):
        release(web, "web-rollback", version)
    wait_until_done(web, promote(web, "web-rollback", "1.0.0")["id"])
    second = wait_until_done(web, promote(web, "web-rollback", "2.0.0")["id"])
    assert second["state"] == "succeeded"
    assert current_version(web, "web-rollback") == "2.0.0"
    # the page names what the API says a rollback would deploy
    target = web.api("GET", "/api/v1/services/web-rollback/environments/dev/rollback-target")
    assert target["version"] == "1.0.0"
    page = browser_page
    sign_in(page, web, web.admin, f"/deployments/{second['id']}")

    button = page.get_by_role("button", name="Roll back to 1.0.0")
    expect(button).to_be_visible()
    expect(page.locator(".rollback .help")).to_contain_text("1.0.0")
    page.get_by_label("Why roll back dev (required)").fill("2.0.0 breaks checkout")
    button.click()

    expect(page).not_to_have_url(f"{web.url}/deployments/{second['id']}")
    expect(page).to_have_url(re.compile(r"/deployments/\d+$"))
    expect(page.locator("h1")).to_contain_text("1.0.0")
    expect(page.locator(".facts")).to_contain_text("rollback")
    expect(page.locator(".facts")).to_contain_text("2.0.0 breaks checkout")
    expect(page.locator("#deployment-state-badge")).to_have_text("succeeded")
    assert current_version(web, "web-rollback") == "1.0.0"


def test_a_rollback_without_a_reason_is_refused(browser_page: Page, web: Web) -> None:
    apply(web, "web-noreason", "echo ok")
    for version in ("1.0.0", "2.0.0"):
        release(web, "web-noreason", version)
    wait_until_done(web, promote(web, "web-noreason", "1.0.0")["id"])
    second = wait_until_done(web, promote(web, "web-noreason", "2.0.0")["id"])
    page = browser_page
    sign_in(page, web, web.admin, f"/deployments/{second['id']}")
    page.get_by_label("Why roll back dev (required)").fill("   ")

    page.get_by_role("button", name="Roll back to 1.0.0").click()

    expect(page.locator("#flash")).to_contain_text("a rollback needs a reason")
    assert current_version(web, "web-noreason") == "2.0.0"


def test_an_approver_reads_the_deployment_but_neither_its_log_nor_a_roll_back_button(
    browser_page: Page, web: Web
) -> None:
    apply(web, "web-approver", "echo secret-ish output")
    release(web, "web-approver", "1.0.0")
    release(web, "web-approver", "2.0.0")
    wait_until_done(web, promote(web, "web-approver", "1.0.0")["id"])
    second = wait_until_done(web, promote(web, "web-approver", "2.0.0")["id"])
    approver = web.token("web-approver-person", "approver")
    page = browser_page
    sign_in(page, web, approver, f"/deployments/{second['id']}")

    expect(page.locator("#deployment-state-badge")).to_have_text("succeeded")
    expect(page.get_by_role("button", name=re.compile("Roll back"))).to_have_count(0)
    expect(page.locator(".needs").first).to_be_visible()
    expect(page.locator("main")).to_contain_text("to roll back needs the role admin or ci")
    expect(page.locator("main")).to_contain_text("to promote needs the role admin or ci")
    expect(page.locator("#deployment-log")).to_have_count(0)
    expect(page.locator("main")).not_to_contain_text("secret-ish output")


def test_cancel_from_the_page_stops_a_running_deployment(browser_page: Page, web: Web) -> None:
    gate = web.workdir / "never-opened"
    apply(web, "web-cancel", gated_command(gate))
    release(web, "web-cancel", "1.0.0")
    page = browser_page
    sign_in(page, web, web.admin)
    deployment = promote(web, "web-cancel", "1.0.0")
    wait_until_deploying(web, deployment["id"])
    page.goto(f"{web.url}/deployments/{deployment['id']}")
    expect(page.locator("#deployment-log")).to_contain_text("step one")

    page.get_by_label("Why cancel (optional)").fill("wrong window")
    page.get_by_role("button", name="Cancel this deployment").click()

    expect(page.locator("#deployment-state-badge")).to_have_text("failed")
    expect(page.locator(".state-panel")).to_contain_text("cancelled by admin: wrong window")
    expect(page.get_by_role("button", name="Cancel this deployment")).to_have_count(0)


def test_odd_ids_and_other_scopes_get_an_error_page(browser_page: Page, web: Web) -> None:
    apply(web, "web-scoped", "echo ok")
    release(web, "web-scoped", "1.0.0")
    done = wait_until_done(web, promote(web, "web-scoped", "1.0.0")["id"])
    other = web.token("web-other-ci", "ci", services=["web-live"])
    page = browser_page
    sign_in(page, web, other)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    for path, status in (
        ("/deployments/999999", 404),
        ("/deployments/99999999999999999999", 404),
        ("/deployments/abc", 400),
        (f"/deployments/{done['id']}", 403),
        (f"/deployments/{done['id']}/events", 403),
    ):
        answer = httpx.get(
            web.url + path, cookies=cookies, headers={"Accept": "text/html"}, timeout=10
        )
        assert answer.status_code == status, (path, answer.status_code, answer.text[:200])
        assert "Traceback" not in answer.text
    page.goto(f"{web.url}/deployments/{done['id']}")
    expect(page.get_by_role("alert")).to_contain_text("scoped to the services web-live")


def test_a_rollback_post_without_the_csrf_token_is_refused(browser_page: Page, web: Web) -> None:
    apply(web, "web-forged", "echo ok")
    for version in ("1.0.0", "2.0.0"):
        release(web, "web-forged", version)
    wait_until_done(web, promote(web, "web-forged", "1.0.0")["id"])
    second = wait_until_done(web, promote(web, "web-forged", "2.0.0")["id"])
    page = browser_page
    sign_in(page, web, web.admin)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}

    forged = httpx.post(
        f"{web.url}/deployments/{second['id']}/rollback",
        cookies=cookies,
        data={"reason": "forged", "to_version": "1.0.0"},
        headers={"Accept": "text/html"},
        timeout=10,
    )

    assert forged.status_code == 403
    assert current_version(web, "web-forged") == "2.0.0"


def test_the_event_stream_ends_with_the_deployment_and_carries_no_log_for_an_approver(
    browser_page: Page, web: Web
) -> None:
    apply(web, "web-stream", "echo printed by the deployer")
    release(web, "web-stream", "1.0.0")
    done = wait_until_done(web, promote(web, "web-stream", "1.0.0")["id"])
    streams = {}
    for name, token in (("admin", web.admin), ("approver", web.token("web-reader", "approver"))):
        sign_in(browser_page, web, token)
        cookies = {c["name"]: c["value"] for c in browser_page.context.cookies()}
        browser_page.context.clear_cookies()
        answer = httpx.get(
            f"{web.url}/deployments/{done['id']}/events?offset=0&state=succeeded",
            cookies=cookies,
            timeout=30,
        )
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        streams[name] = answer.text
        for odd in (b"\xb2", b"-1", b"9" * 40, b"abc"):  # a reconnect's Last-Event-ID
            resumed = httpx.get(
                f"{web.url}/deployments/{done['id']}/events",
                cookies=cookies,
                headers={"Last-Event-ID": odd},
                timeout=30,
            )
            assert resumed.status_code == 200, (odd, resumed.text[:200])
            assert resumed.text.endswith("event: end\ndata: \n\n")

    assert "event: log\nid: " in streams["admin"]
    assert "printed by the deployer" in streams["admin"]
    assert "event: log" not in streams["approver"]
    assert "printed by the deployer" not in streams["approver"]
    for stream in streams.values():
        assert stream.endswith("event: end\ndata: \n\n")


def test_an_overlong_reason_or_version_gets_a_400_and_changes_nothing(
    browser_page: Page, web: Web
) -> None:
    apply(web, "web-long-input", "echo ok")
    for version in ("1.0.0", "2.0.0"):
        release(web, "web-long-input", version)
    wait_until_done(web, promote(web, "web-long-input", "1.0.0")["id"])
    second = wait_until_done(web, promote(web, "web-long-input", "2.0.0")["id"])
    page = browser_page
    sign_in(page, web, web.admin, f"/deployments/{second['id']}")
    csrf = page.locator(".rollback input[name=csrf_token]").get_attribute("value")
    assert csrf

    answers = [
        page.request.post(
            f"{web.url}/deployments/{second['id']}/rollback",
            form=form,
            headers={"X-CSRF-Token": csrf, "Accept": "text/html"},
        )
        for form in (
            {"reason": "x" * 10_001, "to_version": "1.0.0"},
            {"reason": "fine", "to_version": "1" * 201},
            {"reason": "fine", "to_version": "9.9.9"},
        )
    ]

    assert [a.status for a in answers] == [400, 400, 404]
    assert "Traceback" not in "".join(a.text() for a in answers)
    assert current_version(web, "web-long-input") == "2.0.0"
