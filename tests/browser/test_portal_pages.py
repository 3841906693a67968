"""The portal in a real Chromium (Debian's, driven by Playwright): every page passes the
checks of lethe_testing.browser, and a new person signs up by clicking and typing, with
JavaScript and without."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from lethe_testing import Stack
from lethe_testing.browser import (
    CONSENT_CHOICE_COOKIE,
    PageRecorder,
    axe_violations,
    new_context,
    security_header_problems,
    unnecessary_cookies,
)
from lethe_testing.maildir import token_in, wait_for_mail

PASSWORD = "a long passphrase in the browser"
PAGES = ["/", "/register", "/login", "/cookies", "/verify-email?token=abc", "/products/prd_missing"]


@pytest.fixture(scope="module")
def pages(stack: Stack) -> list[str]:
    """The portal's pages a visitor reaches without an account, a product's page among them."""
    home = httpx.get(stack.gateway_url + "/")
    product = re.search(r'href="(/products/[^"]+)"', home.text)
    assert product, "the start page lists products"
    return [*PAGES, product[1]]


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    opened = new_context(chromium, locale="en")
    yield opened
    opened.close()


def problems_of(context: BrowserContext, origin: str, path: str) -> list[str]:
    page = context.new_page()
    recorder = PageRecorder(page)
    response = page.goto(origin + path)
    assert response is not None
    found = [f"{path}: {p}" for p in security_header_problems(response)]
    found += [f"{path}: request to another origin {url}" for url in recorder.foreign(origin)]
    found += [f"{path}: analytics request {url}" for url in recorder.analytics()]
    found += [f"{path}: CSP violation {text}" for text in recorder.csp_violations]
    page.close()
    return found


def test_every_page_has_the_headers_and_asks_nothing_of_another_origin(
    context: BrowserContext, stack: Stack, pages: list[str]
) -> None:
    problems = [p for path in pages for p in problems_of(context, stack.gateway_url, path)]
    assert problems == []
    assert unnecessary_cookies(context) == []  # before any choice: necessary cookies only


def test_axe_finds_no_serious_or_critical_violation(
    chromium: Browser, stack: Stack, pages: list[str]
) -> None:
    found: list[str] = []
    for viewport in ("desktop", "phone"):
        for locale in ("en", "de"):
            for_axe = new_context(chromium, bypass_csp=True, viewport=viewport, locale=locale)
            page = for_axe.new_page()
            for path in pages:
                page.goto(stack.gateway_url + path)
                found += [f"{viewport} {locale} {path}: {v}" for v in axe_violations(page)]
            for_axe.close()
    assert found == []


def sign_up(page: Page, origin: str, email: str) -> None:
    """Register, open the mailed link, activate and log in, all by clicking and typing."""
    page.goto(origin + "/")
    page.get_by_role("link", name="Register").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Your name").fill("Ada Browser")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("I have read this text and agree to it").check()
    page.get_by_role("button", name="Register").click()
    assert page.get_by_role("status").inner_text().startswith("Almost done")
    link = re.search(r"https?://\S+/verify-email\?token=[\w-]+", _mail_text(email))
    assert link, "the mail links to the verify-e-mail page"
    page.goto(origin + "/verify-email?" + link[0].split("?", 1)[1])  # the mail's link, on this stack
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Activate").click()
    assert "account is active" in page.get_by_role("status").inner_text()
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Keep me logged in on this device").check()
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))


def _mail_text(email: str) -> str:
    message = wait_for_mail(email, "verification")
    assert token_in(message)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content())


def test_a_new_person_signs_up_and_declines_analytics_in_the_browser(
    context: BrowserContext, stack: Stack
) -> None:
    page = context.new_page()
    recorder = PageRecorder(page)
    email = f"browser-{uuid.uuid4().hex[:8]}@example.com"
    sign_up(page, stack.gateway_url, email)
    assert email in page.get_by_role("main").inner_text()
    page.get_by_role("button", name="Decline").click()  # the banner, on the account page
    assert page.get_by_role("button", name="Decline").count() == 0  # the banner is gone
    names = {c["name"] for c in context.cookies()}
    assert names == {"lethe_session", "lethe_csrf", CONSENT_CHOICE_COOKIE}
    page.get_by_role("link", name="Cookie settings").click()
    assert "You declined analytics." in page.get_by_role("main").inner_text()
    assert recorder.foreign(stack.gateway_url) == [] and recorder.analytics() == []
    page.get_by_role("button", name="Log out").click()
    assert "You are logged out." in page.get_by_role("status").inner_text()


def test_every_form_works_without_javascript(chromium: Browser, stack: Stack) -> None:
    no_js = new_context(chromium, javascript=False, viewport="phone", locale="de")
    page = no_js.new_page()
    email = f"nojs-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(stack.gateway_url + "/register")
    page.get_by_label("E-Mail-Adresse").fill("kaputt")
    page.get_by_role("button", name="Registrieren").click()
    assert page.get_by_label("E-Mail-Adresse").get_attribute("aria-invalid") == "true"
    assert "Bitte korrigieren Sie die markierten Felder." in page.get_by_role("alert").inner_text()
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Ihr Name").fill("Ohne Skript")
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_label("Ich habe diesen Text gelesen und stimme zu").check()
    page.get_by_role("button", name="Registrieren").click()
    assert page.get_by_role("status").inner_text().startswith("Fast geschafft")
    page.goto(stack.gateway_url + "/verify-email?token=" + token_in(wait_for_mail(email, "verification")))
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Aktivieren").click()
    page.goto(stack.gateway_url + "/login")
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_label("Passwort").fill(PASSWORD)
    page.get_by_role("button", name="Anmelden").click()
    assert email in page.get_by_role("main").inner_text()
    page.get_by_role("button", name="Statistik erlauben").click()
    assert {c["name"]: c["value"] for c in no_js.cookies()}[CONSENT_CHOICE_COOKIE] == "accepted"
    consents = no_js.request.get(stack.gateway_url + "/api/v1/me/consents").json()
    assert "analytics" in str(consents)  # the choice of a logged-in person is in the ledger
    no_js.close()


def test_global_privacy_control_counts_as_a_decline(chromium: Browser, stack: Stack) -> None:
    gpc = new_context(chromium, locale="en", extra_http_headers={"Sec-GPC": "1"})
    page = gpc.new_page()
    page.goto(stack.gateway_url + "/cookies")
    text = page.get_by_role("main").inner_text()
    assert "Global Privacy Control" in text and "You declined analytics." in text
    assert page.get_by_role("button", name="Accept analytics").count() == 0
    page.goto(stack.gateway_url + "/")
    assert page.get_by_role("button", name="Accept analytics").count() == 0  # no banner either
    gpc.close()
