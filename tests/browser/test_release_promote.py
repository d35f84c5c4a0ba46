"""The release page and its promote view in Chromium: what changes, gates, promote, approve.

Releases are registered through the REST API with the changelog text CI would
send (rendered by relgate's own changelog writer from Conventional Commits).
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Any

import httpx
from playwright.sync_api import Page, expect

from relgate.versioning.changelog import render_section
from relgate.versioning.commits import CommitEntry, RawCommit, read_changes
from relgate.versioning.semver import Version
from tests.browser.conftest import Web, sign_in

PIPELINE = """\
service: {service}
environments:
  - name: dev
    deployer: {{type: record}}
  - name: staging
    gates:
      - type: coverage
        min: 80
    deployer: {{type: record}}
  - name: production
    gates:
      - type: approval
    deployer: {{type: record}}
"""
AUTHOR_EMAIL = "alice@example.com"


def changelog(version: str, *messages: str, first: int) -> str:
    entries: list[CommitEntry] = []
    for n, message in enumerate(messages, start=first):
        raw = RawCommit(f"{n:x}" * 40, ("f" * 40,), "Alice", AUTHOR_EMAIL, 0, message)
        entries.extend(read_changes(raw))
    return render_section(Version.parse(version), entries, date=datetime.date(2026, 12, 1))


RELEASES = {
    "1.0.0": changelog("1.0.0", "feat: the first screen", first=1),
    "1.1.0": changelog("1.1.0", "feat(search): search orders", "fix: escape the query", first=2),
    "2.0.0": changelog(
        "2.0.0",
        "feat(api)!: orders by cursor\n\nBREAKING CHANGE: the page parameter is gone",
        "fix(ui): no flicker on reload",
        first=4,
    ),
}


def service_with_releases(web: Web, service: str) -> None:
    web.api("POST", "/api/v1/pipelines", json={"source": PIPELINE.format(service=service)})
    for n, (version, text) in enumerate(RELEASES.items(), start=1):
        body = {
            "service": service,
            "version": version,
            "artifact": f"registry.example.com/{service}@sha256:{str(n) * 64}",
            "commit": str(n) * 40,
            "changelog": text,
            "author": "Alice",
            "author_email": AUTHOR_EMAIL,
        }
        web.api("POST", "/api/v1/releases", json=body)


def deployed(web: Web, service: str, version: str, environment: str) -> dict[str, Any]:
    body = {"service": service, "version": version, "environment": environment}
    deployment = web.api("POST", "/api/v1/deployments", json=body)
    deadline = time.monotonic() + 60
    while deployment["state"] not in ("succeeded", "failed", "waiting_for_approval"):
        assert time.monotonic() < deadline, f"deployment still {deployment['state']}"
        time.sleep(0.05)
        deployment = web.api("GET", f"/api/v1/deployments/{deployment['id']}")
    return dict(deployment)


def test_the_promote_view_shows_what_changes_breaking_first(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop")
    deployed(web, "shop", "1.0.0", "dev")
    page = browser_page

    sign_in(page, web, web.admin, "/releases/shop/2.0.0/promote?environment=dev")

    expect(page.get_by_role("heading", name="shop 2.0.0 → dev")).to_be_visible()
    expect(page.locator(".summary")).to_contain_text("From 1.0.0 to 2.0.0: 2 releases")
    sections = page.locator("section.changes h3")
    expect(sections.first).to_contain_text("Breaking changes")
    expect(sections).to_have_text(
        [re.compile("^Breaking changes"), "Features", "Bug fixes"], use_inner_text=True
    )
    breaking = page.locator("section.changes.breaking")
    expect(breaking).to_contain_text("the page parameter is gone")
    expect(breaking).to_contain_text("2.0.0")
    changes = page.locator("section.changes")
    # the entries of both later releases, and not what runs already
    for text in ("search orders", "escape the query", "orders by cursor", "no flicker on reload"):
        expect(changes.filter(has_text=text)).to_have_count(1)
    expect(page.get_by_text("the first screen")).to_have_count(0)
    between = page.locator("table.between tbody th")
    expect(between).to_have_text(["1.1.0", "2.0.0"])
    # admin may promote: the form; the gate table of dev has no gate
    expect(page.get_by_role("button", name="Promote 2.0.0 to dev")).to_be_visible()

    # nothing runs in production yet: the candidate's own changelog
    page.goto(web.url + "/releases/shop/2.0.0/promote?environment=production")
    expect(page.locator(".summary")).to_contain_text("First deployment")
    expect(page.locator("section.changes h3").first).to_contain_text("Breaking changes")
    expect(page.get_by_text("search orders")).to_have_count(0)


def test_a_rollback_direction_is_said(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop-back")
    deployed(web, "shop-back", "2.0.0", "dev")
    page = browser_page

    sign_in(page, web, web.admin, "/releases/shop-back/1.0.0/promote?environment=dev")

    expect(page.locator(".summary")).to_contain_text("older than the running 2.0.0")
    expect(page.locator("table.between caption")).to_have_text("Releases taken out")


def test_a_failing_gate_refuses_the_promotion_on_the_page(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop-gated")
    page = browser_page
    sign_in(page, web, web.admin, "/releases/shop-gated/1.1.0/promote?environment=staging")

    expect(page.locator("section.gate-check table.gates")).to_contain_text("coverage")
    page.get_by_label("Reason").fill("ship search")
    page.get_by_role("button", name="Promote 1.1.0 to staging").click()

    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("cannot enter staging")
    expect(page.locator(".refusal table.gates")).to_contain_text("coverage")
    expect(page.get_by_label("Reason")).to_have_value("ship search")
    gate_check = page.locator("section.gate-check")
    expect(gate_check.locator("h2 .badge")).to_have_text("fail")
    expect(gate_check.locator("table.gates")).to_contain_text("no coverage report")
    answer = httpx.get(web.url + "/api/v1/services/shop-gated/history", headers=_bearer(web.admin))
    assert answer.json() == []


def test_an_approver_approves_and_the_waiting_deployment_starts(
    browser_page: Page, web: Web
) -> None:
    service_with_releases(web, "shop-approve")
    waiting = deployed(web, "shop-approve", "1.1.0", "production")
    assert waiting["state"] == "waiting_for_approval"
    bob = web.token("bob-approver", "approver", emails=["bob@example.com"])
    page = browser_page

    sign_in(page, web, bob, "/releases/shop-approve/1.1.0/promote?environment=production")

    expect(page.locator(".approve")).to_contain_text("waits for approval in production")
    expect(page.get_by_role("button", name="Promote")).to_have_count(0)  # approver: no promote
    page.get_by_label("Comment").fill("looks good")
    page.get_by_role("button", name="Approve").click()

    state = page.locator("#release-deployment [data-state]")
    expect(state).to_have_text(re.compile("deploying|verifying|succeeded|requested"))
    expect(state).to_have_text("succeeded")
    expect(page.locator("#release-deployment")).to_contain_text("approved by bob-approver")
    link = page.locator("#release-deployment a").first
    expect(link).to_have_attribute("href", f"/deployments/{waiting['id']}")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    final = web.api("GET", f"/api/v1/deployments/{waiting['id']}")
    assert final["state"] == "succeeded"


def test_an_approver_rejects_with_a_comment(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop-reject")
    waiting = deployed(web, "shop-reject", "2.0.0", "production")
    carol = web.token("carol-approver", "approver")
    page = browser_page

    sign_in(page, web, carol, "/releases/shop-reject/2.0.0/promote?environment=production")
    page.get_by_label("Comment").fill("not during the sale")
    page.get_by_role("button", name="Reject").click()

    state = page.locator("#release-deployment [data-state]")
    expect(state).to_have_text("rejected")
    expect(page.locator("#release-deployment")).to_contain_text("not during the sale")
    assert web.api("GET", f"/api/v1/deployments/{waiting['id']}")["state"] == "rejected"


def test_the_author_sees_why_they_cannot_approve_and_no_button(
    browser_page: Page, web: Web
) -> None:
    service_with_releases(web, "shop-author")
    deployed(web, "shop-author", "1.1.0", "production")
    alice = web.token("alice-approver", "approver", emails=[AUTHOR_EMAIL])
    page = browser_page

    sign_in(page, web, alice, "/releases/shop-author/1.1.0/promote?environment=production")

    expect(page.locator(".approve .needs")).to_contain_text(
        "is the author of shop-author@1.1.0 and cannot approve it"
    )
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    expect(page.get_by_role("button", name="Reject")).to_have_count(0)

    # the rule is the server's, not the page's: a hand-made decision is refused too
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    forged = page.request.post(
        web.url + "/releases/shop-author/1.1.0/decision",
        form={"csrf_token": csrf or "", "environment": "production", "decision": "approve"},
        headers={"Accept": "text/html"},
    )
    assert forged.status == 403
    assert "is the author of" in forged.text()
    assert web.api("GET", "/api/v1/deployments/" + waiting_id(web, "shop-author"))["state"] == (
        "waiting_for_approval"
    )


def test_a_ci_token_sees_no_approve_button_but_what_it_needs(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop-ci")
    deployed(web, "shop-ci", "1.1.0", "production")
    ci = web.token("ci-web", "ci")
    page = browser_page

    sign_in(page, web, ci, "/releases/shop-ci/1.1.0/promote?environment=production")

    expect(page.locator(".approve .needs")).to_contain_text("to approve needs the role approver")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    # ci may promote, but the waiting deployment holds production
    expect(page.locator(".promote .notice")).to_contain_text("holds production")


def test_the_release_page_shows_the_release_evidence_and_gates(
    browser_page: Page, web: Web
) -> None:
    service_with_releases(web, "shop-page")
    _coverage(web, "shop-page", "1.1.0", 91.0)
    page = browser_page

    sign_in(page, web, web.admin, "/releases/shop-page/1.1.0")

    expect(page.get_by_role("heading", name="shop-page 1.1.0")).to_be_visible()
    facts = page.locator(".facts")
    expect(facts).to_contain_text("sha256:" + "2" * 64)
    expect(facts).to_contain_text("2" * 40)
    expect(facts).to_contain_text(f"Alice <{AUTHOR_EMAIL}>")
    expect(page.locator("section.changes")).to_have_count(2)
    evidence = page.locator("#evidence + .scroll table")
    expect(evidence).to_contain_text("coverage.json")
    expect(evidence).to_contain_text("91")
    staging = page.locator("section.environment").filter(has_text="staging")
    expect(staging.locator("table.gates")).to_contain_text("pass")
    production = page.locator("section.environment").filter(has_text="production")
    expect(production.locator("table.gates")).to_contain_text("approval")


def test_the_evidence_download_is_an_attachment_never_html_and_scoped(web: Web) -> None:
    service_with_releases(web, "shop-files")
    hostile = (
        b'<?xml version="1.0"?><testsuite name="x" tests="1"><testcase name="t">'
        b"<system-out><html><script>alert(1)</script></html></system-out>"
        b"</testcase></testsuite>"
    )
    added = web.api(
        "POST",
        "/api/v1/releases/shop-files/1.0.0/evidence",
        params={"kind": "tests", "filename": "report.html"},
        content=hostile,
    )
    cookies = _session(web, web.admin)

    answer = httpx.get(
        web.url + f"/releases/shop-files/1.0.0/evidence/{added['id']}",
        cookies=cookies,
        headers={"Accept": "text/html"},
    )

    assert answer.status_code == 200
    assert answer.content == hostile
    assert answer.headers["content-type"].startswith("application/xml")
    assert answer.headers["content-disposition"].startswith('attachment; filename="report.html"')
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in answer.headers["content-security-policy"]

    api = httpx.get(
        web.url + f"/api/v1/releases/shop-files/1.0.0/evidence/{added['id']}/report",
        headers=_bearer(web.admin),
    )
    assert api.status_code == 200 and api.content == hostile
    assert "attachment" in api.headers["content-disposition"]

    # another release's path, an id that does not exist, another service's token
    other_release = httpx.get(
        web.url + f"/releases/shop-files/1.1.0/evidence/{added['id']}", cookies=cookies
    )
    assert other_release.status_code == 404
    assert httpx.get(
        web.url + "/releases/shop-files/1.0.0/evidence/99999999999999999999", cookies=cookies
    ).status_code in (400, 404)
    outsider = web.token("ci-other-files", "ci", services=["shop"])
    refused = httpx.get(
        web.url + f"/releases/shop-files/1.0.0/evidence/{added['id']}",
        cookies=_session(web, outsider),
        headers={"Accept": "text/html"},
    )
    assert refused.status_code == 403
    assert hostile not in refused.content
    api_refused = httpx.get(
        web.url + f"/api/v1/releases/shop-files/1.0.0/evidence/{added['id']}/report",
        headers=_bearer(outsider),
    )
    assert api_refused.status_code == 403


def test_hostile_names_get_a_page_not_a_trace(web: Web) -> None:
    cookies = _session(web, web.admin)
    for path in (
        "/releases/nope/1.0.0",
        "/releases/shop/9.9.9/promote?environment=dev",
        "/releases/shop/1.0.0/promote?environment=" + "x" * 500,
        "/releases/shop/1.0.0/promote?environment=qa",
        "/releases/shop/1.0.0/promote",
        "/releases/" + "s" * 300 + "/1.0.0",
        "/releases/shop/%F0%9F%92%A5/promote?environment=dev",
    ):
        answer = httpx.get(web.url + path, cookies=cookies, headers={"Accept": "text/html"})
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        assert answer.headers["content-type"].startswith("text/html"), path
        assert "Traceback" not in answer.text


def waiting_id(web: Web, service: str) -> str:
    history = web.api("GET", f"/api/v1/services/{service}/history?environment=production")
    return str(history[0]["id"])


def test_the_pages_fit_a_narrow_screen(browser_page: Page, web: Web) -> None:
    service_with_releases(web, "shop-narrow")
    deployed(web, "shop-narrow", "1.0.0", "dev")
    page = browser_page
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, web, web.admin, "/releases/shop-narrow/2.0.0/promote?environment=dev")

    for path in (
        "/releases/shop-narrow/2.0.0/promote?environment=dev",
        "/releases/shop-narrow/2.0.0",
    ):
        page.goto(web.url + path)
        expect(page.locator("h1")).to_be_visible()
        # nothing wider than the screen: long digests wrap, tables scroll in their box
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path


def _coverage(web: Web, service: str, version: str, percent: float) -> None:
    import json

    report = {"meta": {"version": "7.5.0"}, "totals": {"percent_covered": percent}, "files": {}}
    web.api(
        "POST",
        f"/api/v1/releases/{service}/{version}/evidence",
        params={"kind": "coverage", "filename": "coverage.json"},
        content=json.dumps(report).encode(),
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _session(web: Web, token: str) -> httpx.Cookies:
    answer = httpx.post(web.url + "/sign-in", data={"token": token}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return answer.cookies
