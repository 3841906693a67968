"""A new person's whole journey through the portal in a real Chromium (Debian's, driven by
Playwright), every step by clicking and typing:

registers, follows the link from the Maildir, activates, logs in, orders a download with a
sandbox card on the payment provider's own card page and downloads the file; grants and
withdraws analytics; downloads their data export; erases their account and follows the
request to every service's receipt, after which the old password no longer logs in.

Throughout, every request of the page is recorded (``PageRecorder``): none leaves the
gateway's origin except to the provider's sandbox during the payment step, none is an
analytics request while analytics is not agreed to, and the browser reports no CSP
violation. The card number is typed into the sandbox's page only: no request to the
gateway carries it, in its address, headers or body (``CardWatch``). Chromium reports a
download (the bought file, the export) to neither of the two: those are checked by what
was saved instead.

The order stays paid, not completed: a download needs no staff step (the download right
comes with the payment), and an open order is what makes the shop defer its part of the
erasure (Art. 17(3)(b) GDPR), which the follow page must say.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Download,
    Locator,
    Page,
    Request,
    expect,
)

from lethe_testing import Stack
from lethe_testing.browser import (
    PageRecorder,
    is_analytics,
    new_context,
    origin_of,
    same_origin,
    unnecessary_cookies,
)
from lethe_testing.maildir import mail_text, wait_for_mail
from lethe_testing.waiting import wait_for

PASSWORD = "a journey through the portal"
NAME = "Ada Journey"
PRODUCT = "Lethe Analyzer 3.2 for Linux"  # the seeded download (lethe_shop.seed)
FILE = "lethe-analyzer-3.2-linux-x86_64.tar.gz"
CARD = "4242424242424242"  # a sandbox test card that pays (tools/fakes/payment_sandbox.py)
SERVICES = ("identity", "consent", "shop", "newsletter", "analytics")  # each answers an erasure
DOWNLOAD_LINK = re.compile(r"/api/v1/downloads/file\?token=")


@dataclass
class CardWatch:
    """Every request of the browser context to the gateway, with its headers and body, so a
    test can show that a secret typed into another origin's page never reached it."""

    context: BrowserContext
    gateway: str
    seen: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.context.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if same_origin(request.url, self.gateway):
            headers = " ".join(f"{k}: {v}" for k, v in request.headers.items())
            self.seen.append(f"{request.method} {request.url}\n{headers}\n{request.post_data or ''}")

    def carrying(self, secret: str) -> list[str]:
        """The first line of every request to the gateway that carries ``secret`` (or its
        first eight digits, spaced or not)."""
        needles = {secret, secret[:8], " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))}
        return [s.splitlines()[0] for s in self.seen if any(n in s for n in needles)]


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    opened = new_context(chromium, locale="en", accept_downloads=True)
    opened.set_default_timeout(15_000)
    yield opened
    opened.close()


def site_nav(page: Page) -> Locator:
    """The site's own navigation in the page's header (the privacy centre has one more)."""
    return page.get_by_role("banner").get_by_role("navigation", name="Lethe", exact=True)


def reload_until(page: Page, shown: Locator, what: str, timeout: float = 30) -> None:
    """Reload the page (it has no script that updates it) until ``shown`` is visible."""

    def visible() -> bool:
        page.reload()
        return shown.is_visible()

    wait_for(visible, timeout, interval=0.3, what=what)


def saved(download: Download) -> bytes:
    assert download.failure() is None, download.failure()
    return Path(download.path()).read_bytes()


# -- 1 and 2: register, activate from the mail, log in --------------------------------------------
def register(page: Page, gateway: str, email: str) -> None:
    page.goto(gateway + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Software for your business")
    page.get_by_role("link", name="Register", exact=True).click()
    expect(page).to_have_url(gateway + "/register")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Your name").fill(NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("I have read this text and agree to it").check()
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_role("status")).to_contain_text("Almost done: we sent a link to your address")
    expect(page.get_by_label("E-mail address")).to_have_count(0)  # the form is gone


def activate_from_the_mail(page: Page, gateway: str, email: str) -> None:
    text = mail_text(wait_for_mail(email, "verification"))
    link = re.search(r"https?://\S+/verify-email\?token=[\w-]+", text)
    assert link, "the mail links to the activation page"
    assert link[0].startswith(gateway + "/verify-email?"), "the mail's link points to this portal"
    page.goto(link[0])  # as if clicked in the mail program
    expect(page.get_by_role("heading", level=1)).to_have_text("Activate your account")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Activate").click()
    expect(page.get_by_role("status")).to_have_text("Your account is active. You can log in now.")


def log_in(page: Page, gateway: str, email: str) -> None:
    page.get_by_role("main").get_by_role("link", name="Log in", exact=True).click()
    expect(page).to_have_url(re.compile(r"/login"))
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(gateway + "/account")
    facts = page.get_by_role("main").locator("dl.facts")
    expect(facts).to_contain_text(email)
    expect(facts).to_contain_text(NAME)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


# -- 3: order the download with a sandbox card, download the file -----------------------------------
def add_to_cart(page: Page, gateway: str) -> None:
    site_nav(page).get_by_role("link", name="Shop", exact=True).click()
    page.get_by_role("link", name=PRODUCT).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(PRODUCT)
    expect(page.get_by_role("main")).to_contain_text(FILE)  # the included file is named
    page.get_by_role("button", name="Add to cart").click()
    expect(page).to_have_url(gateway + "/cart?done=added")
    expect(page.get_by_role("status")).to_have_text("The product is in your cart.")
    expect(page.get_by_role("table", name="Your cart")).to_contain_text(PRODUCT)


def fill_billing_address(page: Page) -> None:
    page.get_by_role("link", name="Go to checkout").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout: addresses")
    expect(page.get_by_text("Delivery address")).to_have_count(0)  # a download: nothing to deliver
    expect(page.get_by_label("Full name")).to_have_value(NAME)  # filled in from the account
    page.get_by_label("Street and number").fill("Hauptstraße 1")
    page.get_by_label("Postcode").fill("10115")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Country code").fill("de")
    page.get_by_role("button", name="Continue to payment").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Checkout: payment")
    expect(page.get_by_role("main")).to_contain_text("Nothing to deliver")
    expect(page.locator("address").first).to_contain_text("Hauptstraße 1")


def pay_on_the_providers_page(page: Page, sandbox: str) -> str:
    """From the summary to the provider's card page, the card typed there, and back to the
    placed order; returns the order's id."""
    gross = page.locator("dl.orders-totals dd").last.inner_text()  # "EUR 236.81"
    amount = re.sub(r"[^\d.]", "", gross)
    page.get_by_role("link", name=re.compile(r"^Pay .+ with the payment provider$")).click()
    expect(page).to_have_url(re.compile("^" + re.escape(sandbox + "/v1/checkout?")))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Pay {amount} EUR")
    page.get_by_label("Card number").press_sequentially(CARD)
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2030")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(re.compile(r"/orders/ord_[0-9a-f]{32}\?placed=1$"))
    expect(page.get_by_role("status")).to_contain_text("Thank you, your order is placed.")
    found = re.search(r"/orders/(ord_[0-9a-f]{32})", page.url)
    assert found
    return found[1]


def wait_until_paid(page: Page, order_id: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Order {order_id}")
    reload_until(
        page,
        page.locator('#order-status[data-status="paid"]'),
        "the order page to show the order paid",
    )
    expect(page.locator("#order-status")).to_have_text("Paid")
    expect(page.locator("#payment-status")).to_contain_text("paid")
    expect(page.get_by_role("table", name="Products")).to_contain_text(PRODUCT)


def download_the_file(page: Page, gateway: str) -> None:
    page.get_by_role("link", name="My downloads").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My downloads")
    link = page.get_by_role("link", name=f"Download {FILE}")
    reload_until(page, link, "the download link of the paid order")
    expect(page.get_by_role("row", name=re.compile(re.escape(PRODUCT)))).to_be_visible()
    with page.expect_download() as downloading:
        link.click()
    download = downloading.value
    assert same_origin(download.url, gateway) and DOWNLOAD_LINK.search(download.url), download.url
    # Chromium hands a download neither to page.route nor to the response events, so its
    # headers are judged by what the browser made of them: the link has an empty download
    # attribute and its path ends in /file, so the file's name can only come from the
    # response's Content-Disposition.
    assert download.suggested_filename == FILE
    assert saved(download) == (Path(os.environ["SHOP_DOWNLOADS_DIR"]) / FILE).read_bytes()


# -- 4: analytics granted in the banner, withdrawn in the privacy centre ------------------------------
def accept_analytics_in_the_banner(page: Page) -> None:
    banner = page.get_by_role("region", name="Cookies and analytics")
    expect(banner).to_be_visible()  # no choice yet: the banner is on every page
    before = page.url
    banner.get_by_role("button", name="Accept analytics").click()
    expect(page).to_have_url(before)  # back to the page it was clicked on
    expect(banner).to_have_count(0)
    page.get_by_role("link", name="Cookie settings").click()
    expect(page.locator("p.current")).to_have_text("You accepted analytics.")
    # The page views are now kept under a pseudonymous visitor: its first-party cookie.
    assert "lethe_visitor" in {c.get("name") for c in page.context.cookies()}


def analytics_section(page: Page) -> Locator:
    site_nav(page).get_by_role("link", name="Privacy centre", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Privacy centre")
    page.get_by_role("main").get_by_role("link", name="My consents").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My consents")
    return page.locator("section#purpose-analytics")


def withdraw_analytics_in_the_privacy_centre(page: Page) -> None:
    section = analytics_section(page)
    expect(section.locator("p.state")).to_contain_text("Granted: version")  # the banner's choice
    account = page.locator("section#purpose-account")
    expect(account.locator("p.state")).to_contain_text("Granted: version")  # from the registration
    section.get_by_role("button", name=re.compile(r"^Withdraw: ")).click()
    expect(page.get_by_role("status")).to_have_text("Your withdrawal is recorded.")
    section = page.locator("section#purpose-analytics")
    expect(section.locator("p.state")).to_contain_text("Withdrawn")
    expect(section.get_by_role("button", name=re.compile(r"^Agree: "))).to_be_visible()
    history = section.locator("ol.history > li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("Withdrawn")  # newest first
    expect(history.nth(1)).to_contain_text("Agreed")


def cookie_settings_follow_the_withdrawal(page: Page) -> None:
    """This browser's own choice follows the ledger: the cookie settings say declined, and
    the banner does not come back."""
    page.get_by_role("link", name="Cookie settings").click()
    expect(page.locator("p.current")).to_have_text("You declined analytics.")
    expect(page.get_by_role("region", name="Cookies and analytics")).to_have_count(0)
    assert "lethe_visitor" not in {c.get("name") for c in page.context.cookies()}  # gone with it


# -- 5: the export -----------------------------------------------------------------------------------
def download_the_export(page: Page, email: str, order_id: str) -> None:
    site_nav(page).get_by_role("link", name="Privacy centre", exact=True).click()
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download my data (JSON)").click()
    download = downloading.value
    assert re.fullmatch(r"lethe-data-export-.+\.json", download.suggested_filename), download
    document: dict[str, Any] = json.loads(saved(download))
    assert document["format"] == "lethe-data-export/1"
    assert document["email"] == email
    assert document["complete"] is True, document["missing"]
    parts = {part["service"]: part for part in document["services"]}
    assert set(parts) >= set(SERVICES)
    orders = parts["shop"]["data"]["orders"]
    assert [order["id"] for order in orders] == [order_id]
    assert PRODUCT in json.dumps(orders)
    shop = parts["shop"]["data"]
    assert [right["order_id"] for right in shop["download_rights"]] == [order_id]
    assert [d["file"] for d in shop["download_history"]] == [FILE]  # the download of step 3
    assert CARD not in json.dumps(document)
    consents = json.dumps(parts["consent"]["data"])
    assert "analytics" in consents and "withdraw" in consents  # the withdrawal is in the record


# -- 6: erasure, followed to every service's receipt ----------------------------------------------------
def erase_the_account(page: Page, gateway: str, email: str) -> None:
    """Erase from the privacy centre, then open the follow page the answer (and the mail) links to."""
    site_nav(page).get_by_role("link", name="Privacy centre", exact=True).click()
    page.get_by_role("main").get_by_role("link", name="Erase my account").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase my account")
    expect(page.get_by_role("main")).to_contain_text("Art. 17(3)(b) GDPR")  # open orders wait
    page.get_by_role("button", name="Erase my account").click()  # not yet confirmed
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.get_by_text("Please tick the box to confirm the erasure.")).to_be_visible()
    page.get_by_label("I understand that my account is deleted and that I cannot undo this").check()
    page.get_by_role("button", name="Erase my account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your request is received")
    expect(page.get_by_role("status")).to_have_text("We have received your request: Erasure.")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)  # no more account pages
    follow = page.get_by_role("link", name="Follow this request")
    href = follow.get_attribute("href")
    assert href and re.fullmatch(r"/privacy-requests/pr_[0-9a-f]{32}\?token=\S+", href), href
    mailed = re.search(
        r"https?://\S+/privacy-requests/pr_\S+", mail_text(wait_for_mail(email, "privacy-request"))
    )
    assert mailed and mailed[0] == gateway + href, "the mail links to the same follow page"
    follow.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your privacy request")


def receipts_on_the_follow_page(page: Page) -> None:
    """Once every service has answered: the request is deferred, since the paid order is
    open; every other service erased at once, and the shop says why it waits and what it
    keeps until when."""
    receipts = page.locator("ul.receipts > li")
    status = page.locator("dd.status")

    def answered() -> dict[str, str]:
        page.reload()
        if status.inner_text() in ("Open", "In progress"):
            return {}
        return {item.locator("strong").first.inner_text(): item.inner_text() for item in receipts.all()}

    by_service = wait_for(answered, 45, interval=0.5, what="a receipt from every service")
    assert set(by_service) >= set(SERVICES), by_service
    for service, receipt in by_service.items():
        if service != "shop":
            assert receipt.startswith(f"{service}: done"), receipt
    shop = by_service["shop"]
    assert shop.startswith("shop: deferred"), shop
    assert "Art. 17(3)(b)" in shop and "until the open orders are fulfilled" in shop
    assert "until until" not in shop  # a phrase, not a date: no second "until" before it
    expect(status).to_have_text("Deferred")
    facts = page.locator("dl.facts").first
    expect(facts).to_contain_text("Erasure")
    expect(facts).to_contain_text("open order(s) are kept until the contract is fulfilled")  # why


def old_password_no_longer_logs_in(page: Page, gateway: str, email: str) -> None:
    page.goto(gateway + "/")
    expect(page.get_by_role("button", name="Log out")).to_have_count(0)
    page.get_by_role("link", name="Log in", exact=True).click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert")).to_have_text(
        "The address or the password is wrong, or the account is not active yet."
    )
    expect(page).to_have_url(re.compile(r"/login"))
    expect(page.get_by_role("link", name="My account")).to_have_count(0)


# -- the journey -------------------------------------------------------------------------------------
@pytest.mark.timeout(300)
def test_a_new_person_from_registration_to_erasure_in_the_browser(
    context: BrowserContext, stack: Stack
) -> None:
    gateway = stack.gateway_url
    sandbox = origin_of(os.environ["LETHE_GATEWAY_PAYMENT_PAGE_URL"])
    assert not same_origin(sandbox, gateway)
    email = f"journey-{uuid.uuid4().hex[:10]}@example.com"
    page = context.new_page()
    recorder = PageRecorder(page)
    watch = CardWatch(context, gateway)

    register(page, gateway, email)
    activate_from_the_mail(page, gateway, email)
    log_in(page, gateway, email)

    add_to_cart(page, gateway)
    fill_billing_address(page)
    before_payment = len(recorder.requests)
    order_id = pay_on_the_providers_page(page, sandbox)
    after_payment = len(recorder.requests)
    wait_until_paid(page, order_id)
    download_the_file(page, gateway)
    assert unnecessary_cookies(context) == []  # the checkout's cookie is gone with the order

    accept_analytics_in_the_banner(page)
    granted_from = len(recorder.requests)
    withdraw_analytics_in_the_privacy_centre(page)
    withdrawn_from = len(recorder.requests)
    cookie_settings_follow_the_withdrawal(page)

    download_the_export(page, email, order_id)
    erase_the_account(page, gateway, email)
    receipts_on_the_follow_page(page)
    old_password_no_longer_logs_in(page, gateway, email)

    # Only the payment step left the gateway's origin, and only for the provider's own page.
    outside = [i for i, r in enumerate(recorder.requests) if not same_origin(r.url, gateway)]
    assert outside, "the payment step went to the provider's page"
    assert all(before_payment <= i < after_payment for i in outside), recorder.foreign(gateway)
    assert all(same_origin(url, sandbox) for url in recorder.foreign(gateway)), recorder.foreign(gateway)
    # No analytics request while analytics was not agreed to.
    unagreed = recorder.requests[:granted_from] + recorder.requests[withdrawn_from:]
    assert [r.url for r in unagreed if is_analytics(r.url, r.resource_type)] == []
    assert recorder.csp_violations == []
    # The card number went to the provider only.
    assert watch.seen, "no request to the gateway was recorded"
    assert watch.carrying(CARD) == []
    assert all(CARD not in str(cookie.get("value", "")) for cookie in context.cookies())
