"""Re-authentication on the portal's pages in a real Chromium (issue 18): with a log-in more
than 10 minutes old, the erasure form and the e-mail change form ask for the current
password, keep what was typed, refuse a wrong one at its field, and go ahead with the
right one. Every page on the way passes axe (desktop, English) or works without
JavaScript (phone, German)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, Page, expect
from pymongo import MongoClient

from lethe_testing import Browser as WebClient
from lethe_testing import Stack, unique
from lethe_testing.browser import axe_violations, new_context

PASSWORD = "a long passphrase for the step-up"


@pytest.fixture
def clients() -> Iterator[list[WebClient]]:
    opened: list[WebClient] = []
    yield opened
    for client in opened:
        client.close()


def signed_up(stack: Stack, clients: list[WebClient]) -> tuple[WebClient, str, str]:
    """A verified person, logged in on another device (an HTTP client): that client, the
    address and the account id."""
    client, email = WebClient(stack.gateway_url), f"{unique('reauthpage')}@example.com"
    clients.append(client)
    account = client.sign_up(email, PASSWORD, name="Paula Page")
    return client, email, str(account["id"])


def log_in(page: Page, origin: str, email: str, labels: tuple[str, str, str]) -> None:
    email_label, password_label, submit = labels
    page.goto(origin + "/login")
    page.get_by_label(email_label).fill(email)
    page.get_by_label(password_label, exact=True).fill(PASSWORD)
    page.get_by_role("button", name=submit).click()
    page.wait_for_url(re.compile(r"/account$"))


def log_in_long_ago(stack: Stack, mongo_client: MongoClient, account_id: str) -> None:
    """Every session of the account started 11 minutes ago, no password entered since."""
    identity = mongo_client[stack.backends["identity"].db_name]
    sessions = [s["_id"] for s in identity["sessions"].find({"account_id": account_id}, {"_id": 1})]
    assert sessions
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    identity["sessions"].update_many({"account_id": account_id}, {"$set": {"created_at": long_ago}})
    identity["session_confirmations"].delete_many({"_id": {"$in": sessions}})


def test_the_erasure_form_with_an_old_log_in_asks_for_the_password_and_proceeds_with_it(
    chromium: Browser, stack: Stack, mongo_client: MongoClient, clients: list[WebClient]
) -> None:
    other_device, email, account_id = signed_up(stack, clients)
    context = new_context(chromium, locale="en", bypass_csp=True)  # bypass_csp: for axe only
    page = context.new_page()
    log_in(page, stack.gateway_url, email, ("E-mail address", "Password", "Log in"))
    page.goto(stack.gateway_url + "/privacy/erase")
    password = page.get_by_label("Your current password")
    assert password.get_attribute("aria-required") is None  # not needed right after log-in
    assert axe_violations(page) == []

    log_in_long_ago(stack, mongo_client, account_id)
    page.get_by_label("Reason (optional)").fill("moving to another vendor")
    confirm = page.get_by_label("I understand that my account is deleted and that I cannot undo this")
    confirm.check()
    page.get_by_role("button", name="Erase my account").click()
    expect(page.get_by_role("alert").first).to_have_text(
        "For your security, please enter your current password again: "
        "you last entered it more than 10 minutes ago."
    )
    assert password.get_attribute("aria-required") == "true"
    assert page.get_by_label("Reason (optional)").input_value() == "moving to another vendor"
    assert confirm.is_checked()
    assert axe_violations(page) == []
    assert other_device.get("/api/v1/me/privacy-requests").json() == []  # nothing was opened

    password.fill("not my password at all")
    page.get_by_role("button", name="Erase my account").click()
    assert password.get_attribute("aria-invalid") == "true"
    expect(page.locator("#f-password-error")).to_have_text("This is not your current password.")
    assert page.get_by_label("Reason (optional)").input_value() == "moving to another vendor"
    assert axe_violations(page) == []

    password.fill(PASSWORD)
    page.get_by_role("button", name="Erase my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is received")
    expect(page.get_by_role("status")).to_have_text("We have received your request: Erasure.")
    context.close()


def test_the_email_change_form_with_an_old_log_in_asks_for_the_password_and_proceeds_with_it(
    chromium: Browser, stack: Stack, mongo_client: MongoClient, clients: list[WebClient]
) -> None:
    other_device, email, account_id = signed_up(stack, clients)
    new = f"{unique('reauthmoved')}@example.com"
    no_js = new_context(chromium, javascript=False, viewport="phone", locale="de")
    page = no_js.new_page()
    log_in(page, stack.gateway_url, email, ("E-Mail-Adresse", "Passwort", "Anmelden"))
    log_in_long_ago(stack, mongo_client, account_id)

    # A name change needs no password.
    page.get_by_label("Name").fill("Paula Neu")
    page.get_by_role("button", name="Speichern").click()
    page.wait_for_url(re.compile(r"/account\?done=profile$"))

    page.get_by_label("Neue E-Mail-Adresse").fill(new)
    page.get_by_role("button", name="Link senden").click()
    expect(page.get_by_role("alert").first).to_have_text(
        "Bitte geben Sie zu Ihrer Sicherheit Ihr aktuelles Passwort erneut ein: "
        "Sie haben es vor mehr als 10 Minuten zuletzt eingegeben."
    )
    password = page.get_by_label("Ihr aktuelles Passwort")
    assert password.get_attribute("aria-required") == "true"
    assert page.get_by_label("Neue E-Mail-Adresse").input_value() == new  # kept
    assert other_device.get("/api/v1/me").json()["pending_email"] is None  # nothing changed

    password.fill("nicht mein Passwort")
    page.get_by_role("button", name="Link senden").click()
    assert password.get_attribute("aria-invalid") == "true"
    expect(page.locator("#f-password-error")).to_have_text("Das ist nicht Ihr aktuelles Passwort.")
    assert page.get_by_label("Neue E-Mail-Adresse").input_value() == new

    password.fill(PASSWORD)
    page.get_by_role("button", name="Link senden").click()
    page.wait_for_url(re.compile(r"/account\?done=email$"))
    expect(page.locator(".alert.ok")).to_contain_text("Wir haben einen Link an die neue Adresse geschickt.")
    expect(page.get_by_role("main")).to_contain_text(new)  # the pending address
    no_js.close()
