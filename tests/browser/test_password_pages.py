"""The password pages in a real Chromium (Debian's, driven by Playwright): a forgotten password
from the log-in page to the mailed link and back, and the change in the profile, with
JavaScript and without; every page passes the checks of lethe_testing.browser."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page

from lethe_testing import Browser as WebClient
from lethe_testing import Stack, mail_text, mails_to, unique, wait_for_mail
from lethe_testing.browser import (
    PageRecorder,
    axe_violations,
    new_context,
    security_header_problems,
    unnecessary_cookies,
)

PASSWORD = "a long passphrase in the browser"
NEW_PASSWORD = "another long passphrase for later"
PUBLIC_PAGES = ["/forgot-password", "/reset-password?token=abc", "/reset-password", "/login"]


def address() -> str:
    return f"{unique('pwpage')}@example.com"


@pytest.fixture
def clients() -> Iterator[list[WebClient]]:
    opened: list[WebClient] = []
    yield opened
    for client in opened:
        client.close()


def signed_up(stack: Stack, clients: list[WebClient]) -> tuple[WebClient, str]:
    """A verified person, logged in on another device (an HTTP client), and their address."""
    client, email = WebClient(stack.gateway_url), address()
    clients.append(client)
    client.sign_up(email, PASSWORD)
    return client, email


def reset_link(email: str, count: int = 1) -> str:
    found = re.search(
        r"https?://\S+/reset-password\?token=[\w-]+", mail_text(wait_for_mail(email, "password-reset", count))
    )
    assert found, "the mail links to the reset-password page"
    return found[0]


def problems_of(page: Page, origin: str, path: str) -> list[str]:
    recorder = PageRecorder(page)
    response = page.goto(origin + path)
    assert response is not None
    found = [f"{path}: {p}" for p in security_header_problems(response)]
    found += [f"{path}: request to another origin {url}" for url in recorder.foreign(origin)]
    found += [f"{path}: analytics request {url}" for url in recorder.analytics()]
    found += [f"{path}: CSP violation {text}" for text in recorder.csp_violations]
    return found


def test_the_pages_have_the_headers_and_ask_nothing_of_another_origin(
    chromium: Browser, stack: Stack
) -> None:
    context = new_context(chromium, locale="en")
    page = context.new_page()
    problems = [p for path in PUBLIC_PAGES for p in problems_of(page, stack.gateway_url, path)]
    assert problems == []
    assert unnecessary_cookies(context) == []
    context.close()


def log_in(page: Page, origin: str, email: str, password: str, labels: dict[str, str]) -> None:
    page.goto(origin + "/login")
    page.get_by_label(labels["email"]).fill(email)
    page.get_by_label(labels["password"], exact=True).fill(password)
    page.get_by_role("button", name=labels["submit"]).click()


ENGLISH = {"email": "E-mail address", "password": "Password", "submit": "Log in"}
GERMAN = {"email": "E-Mail-Adresse", "password": "Passwort", "submit": "Anmelden"}


def test_a_forgotten_password_from_the_log_in_page_to_the_mailed_link_and_back(
    chromium: Browser, stack: Stack, clients: list[WebClient]
) -> None:
    other_device, email = signed_up(stack, clients)
    context = new_context(chromium, locale="en")
    page = context.new_page()
    recorder = PageRecorder(page)
    page.goto(stack.gateway_url + "/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(re.compile(r"/forgot-password$"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_role("button", name="Send the link").click()
    assert page.get_by_role("status").inner_text().startswith("Please check your mail")

    page.goto(reset_link(email))
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD + " typo")
    page.get_by_role("button", name="Set the new password").click()
    repeat = page.get_by_label("Repeat the new password")
    assert repeat.get_attribute("aria-invalid") == "true"
    assert "f-repeat_password-error" in (repeat.get_attribute("aria-describedby") or "")
    assert page.locator("#f-repeat_password-error").inner_text() == "The two passwords are not the same."
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set the new password").click()
    assert page.get_by_role("status").inner_text().startswith("Your new password is set.")
    assert other_device.get("/api/v1/me").status_code == 401  # every session ended
    page.get_by_role("main").get_by_role("link", name="Log in").click()
    log_in(page, stack.gateway_url, email, NEW_PASSWORD, ENGLISH)
    page.wait_for_url(re.compile(r"/account$"))
    assert email in page.get_by_role("main").inner_text()
    assert recorder.foreign(stack.gateway_url) == [] and recorder.analytics() == []
    assert mails_to(email, kind="password-changed")  # the notice went out
    context.close()


def test_without_javascript_a_reset_and_a_change_in_the_profile_work(
    chromium: Browser, stack: Stack, clients: list[WebClient]
) -> None:
    other_device, email = signed_up(stack, clients)
    no_js = new_context(chromium, javascript=False, viewport="phone", locale="de")
    page = no_js.new_page()
    page.goto(stack.gateway_url + "/forgot-password")
    page.get_by_label("E-Mail-Adresse").fill("kaputt")
    page.get_by_role("button", name="Link senden").click()
    assert page.get_by_label("E-Mail-Adresse").get_attribute("aria-invalid") == "true"
    page.get_by_label("E-Mail-Adresse").fill(email)
    page.get_by_role("button", name="Link senden").click()
    assert page.get_by_role("status").inner_text().startswith("Bitte sehen Sie in Ihr Postfach")

    link = reset_link(email)
    page.goto(link)
    page.get_by_label("Neues Passwort", exact=True).fill(PASSWORD)  # the password it has: fine by the policy
    page.get_by_label("Neues Passwort wiederholen").fill(PASSWORD)
    page.get_by_role("button", name="Neues Passwort festlegen").click()
    assert "Ihr neues Passwort gilt" in page.get_by_role("status").inner_text()
    assert other_device.get("/api/v1/me").status_code == 401
    page.goto(link)  # a second time: the link is used up
    page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Neues Passwort festlegen").click()
    assert "abgelaufen oder wurde schon benutzt" in page.get_by_role("alert").inner_text()

    second = WebClient(stack.gateway_url)  # another device, logged in before the change
    clients.append(second)
    assert second.post("/api/v1/session", json={"email": email, "password": PASSWORD}).status_code == 200
    log_in(page, stack.gateway_url, email, PASSWORD, GERMAN)
    page.get_by_role("link", name="Passwort ändern").click()
    page.get_by_label("Bisheriges Passwort").fill("nicht mein Passwort")
    page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Passwort ändern").click()
    current = page.get_by_label("Bisheriges Passwort")
    assert current.get_attribute("aria-invalid") == "true"
    assert page.locator("#f-current_password-error").inner_text() == "Das ist nicht Ihr bisheriges Passwort."
    current.fill(PASSWORD)
    page.get_by_label("Neues Passwort", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("Neues Passwort wiederholen").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Passwort ändern").click()
    assert "Ihr neues Passwort gilt" in page.get_by_role("status").inner_text()
    assert second.get("/api/v1/me").status_code == 401  # every other session ended
    page.goto(stack.gateway_url + "/account")
    assert email in page.get_by_role("main").inner_text()  # this one stays
    no_js.close()


def test_axe_finds_no_serious_or_critical_violation_on_the_password_pages(
    chromium: Browser, stack: Stack, clients: list[WebClient]
) -> None:
    _, email = signed_up(stack, clients)
    found: list[str] = []
    for viewport in ("desktop", "phone"):
        for locale in ("en", "de"):
            for_axe = new_context(chromium, bypass_csp=True, viewport=viewport, locale=locale)
            page = for_axe.new_page()

            def check(what: str) -> None:
                found.extend(f"{viewport} {locale} {what}: {v}" for v in axe_violations(page))  # noqa: B023

            for path in PUBLIC_PAGES:
                page.goto(stack.gateway_url + path)
                check(path)
            page.goto(stack.gateway_url + "/reset-password?token=" + "x" * 43)
            page.locator("#f-new_password").fill("short")
            page.locator("button.primary").click()
            check("reset page with field errors")
            page.locator("#f-new_password").fill(NEW_PASSWORD)
            page.locator("#f-repeat_password").fill(NEW_PASSWORD)
            page.locator("button.primary").click()
            check("reset page, link gone")
            log_in(page, stack.gateway_url, email, PASSWORD, ENGLISH if locale == "en" else GERMAN)
            page.goto(stack.gateway_url + "/account")
            check("/account")
            page.goto(stack.gateway_url + "/account/password")
            check("/account/password")
            page.locator("button.primary").click()
            check("change page with field errors")
            for_axe.close()
    assert found == []
