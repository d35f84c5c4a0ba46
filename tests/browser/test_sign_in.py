"""Signing in with a token, the session cookie, signing out, expiry and CSRF, in Chromium."""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import Page, expect

from tests.browser.conftest import Web, sign_in


def test_a_person_signs_in_with_a_token_and_out_again(browser_page: Page, web: Web) -> None:
    page = browser_page
    page.goto(web.url + "/")

    expect(page).to_have_url(re.compile(r"/sign-in\?next=/$"))
    page.get_by_label("API token").fill(web.admin)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("admin")
    cookie = next(c for c in page.context.cookies() if c["name"] == "relgate_session")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Lax"
    assert cookie["secure"] is False  # plain http on 127.0.0.1
    assert web.admin not in cookie["value"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.goto(web.url + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    # the old cookie is dead on the server, not only forgotten by the browser
    answer = httpx.get(
        web.url + "/", cookies={"relgate_session": cookie["value"]}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/sign-in")


def test_a_wrong_token_is_refused_on_the_page(browser_page: Page, web: Web) -> None:
    page = browser_page
    page.goto(web.url + "/sign-in")
    page.get_by_label("API token").fill("rg_not-a-token")
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("unknown or revoked")
    assert not [c for c in page.context.cookies() if c["name"] == "relgate_session"]


def test_a_flag_client_token_cannot_sign_in(browser_page: Page, web: Web) -> None:
    client = web.token("web-sdk-dev", "client", environment="dev")
    page = browser_page
    page.goto(web.url + "/sign-in")
    page.get_by_label("API token").fill(client)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("alert")).to_contain_text("flag client token")


def test_revoking_the_token_ends_its_sessions(browser_page: Page, web: Web) -> None:
    token = web.token("web-revoked-ci", "ci")
    page = browser_page
    sign_in(page, web, token)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    web.api("DELETE", "/api/v1/tokens/web-revoked-ci")
    page.reload()

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.locator(".notice")).to_contain_text("revoked")


def test_a_form_post_without_the_csrf_token_is_refused(browser_page: Page, web: Web) -> None:
    page = browser_page
    sign_in(page, web, web.admin)
    cookie = next(c for c in page.context.cookies() if c["name"] == "relgate_session")

    # the browser's own cookie, but no CSRF token: what a forged cross-site form sends
    forged = httpx.post(
        web.url + "/sign-out",
        cookies={"relgate_session": cookie["value"]},
        headers={"Accept": "text/html"},
        follow_redirects=False,
    )
    wrong = httpx.post(
        web.url + "/sign-out",
        cookies={"relgate_session": cookie["value"]},
        data={"csrf_token": "guessed"},
        follow_redirects=False,
    )
    other_site = httpx.post(
        web.url + "/sign-out",
        cookies={"relgate_session": cookie["value"]},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )

    assert forged.status_code == 403
    assert "CSRF token is missing or wrong" in forged.text
    assert wrong.status_code == 403
    assert other_site.status_code == 403
    # none of them signed the person out
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()


def test_pages_forbid_framing_and_foreign_scripts(web: Web) -> None:
    answer = httpx.get(web.url + "/sign-in")

    assert answer.status_code == 200
    policy = answer.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert answer.headers["cache-control"] == "no-store"
    assert httpx.get(web.url + "/static/htmx-2.0.11.min.js").status_code == 200


def test_after_sign_in_the_page_asked_for_is_shown_and_never_another_site(
    browser_page: Page, web: Web
) -> None:
    page = browser_page
    page.goto(web.url + "/sign-in?next=//evil.example/x")
    page.get_by_label("API token").fill(web.admin)
    page.get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(web.url + "/")
