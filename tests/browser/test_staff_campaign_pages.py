"""Newsletter campaigns in the back office, in a real Chromium.

A member of staff given the marketing role by an admin composes a campaign, previews it
(the HTML as escaped source: nothing of it runs or renders), sends a test to themself (it
arrives in the Maildir, to their address only, and the campaign stays a draft), sends it to
every subscriber (after ten minutes the page asks for the password again first) and
watches the page update itself without JavaScript until it says "Sent", with the final
counts matching the subscribers. A member with the accounting role is refused every
campaign page and form. Every campaign page passes axe at desktop and phone width, has the
security headers and asks nothing of another origin.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from playwright.sync_api import Browser, BrowserContext, Error, Page, Response
from pymongo import MongoClient

from lethe.common.v1 import audit_pb2
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe_common.staff import ADMIN
from lethe_common.store.steps import Step, StepLog
from lethe_testing import Browser as WebClient
from lethe_testing import (
    Stack,
    mail_text,
    mails_in,
    start_stack,
    stop_stack,
    unique,
    wait_for,
    wait_for_mail,
)
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems
from lethe_testing.staff import staff_metadata

PASSWORD = "a long staff passphrase here"
SUBSCRIBERS = 3
TEST_KIND = "newsletter-campaign-test"
CAMPAIGN_KIND = "newsletter-campaign"
CAMPAIGN_URL = re.compile(r"/staff/campaigns/(cmp_[0-9a-f]{32})(\?.*)?$")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("bc")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"chief-{run}@staff.example",
        # Slow enough that the page is seen updating itself while the campaign goes out.
        NEWSLETTER_SEND_RATE="0.4",
        NEWSLETTER_BATCH_SIZE="1",
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def chief(stack: Stack) -> str:
    email = f"chief-{stack.run_id}@staff.example"
    WebClient(stack.gateway_url).sign_up(email, PASSWORD, name="Chris Chief")
    return email


@dataclass(frozen=True)
class Member:
    email: str
    account_id: str


def member(stack: Stack, chief: str, role: str) -> Member:
    """A new account that the admin gives ``role`` through the JSON API (a fresh log-in of
    the admin each time: the step-up test ages every session)."""
    email = f"{unique('st')}-{stack.run_id}@staff.example".lower()
    account = WebClient(stack.gateway_url).sign_up(email, PASSWORD, name="Sam Staff")
    admin = WebClient(stack.gateway_url)
    assert admin.post("/api/v1/session", json={"email": chief, "password": PASSWORD}).status_code == 200
    granted = admin.post(
        "/api/v1/admin/staff/roles",
        json={"email": email, "role": role, "grant": True, "reason": f"joins {role}"},
    )
    assert granted.status_code == 200, granted.text
    assert role in granted.json()["roles"]
    admin.close()
    return Member(email, str(account["id"]))


@pytest.fixture(scope="module")
def marketer(stack: Stack, chief: str) -> Member:
    return member(stack, chief, "marketing")


@pytest.fixture(scope="module")
def subscribers(stack: Stack) -> list[str]:
    """People who subscribed and confirmed through the API, as tests/test_newsletter.py does."""
    reader = WebClient(stack.gateway_url)
    addresses = [f"{unique('n')}-{stack.run_id}@reader.example".lower() for _ in range(SUBSCRIBERS)]
    for email in addresses:
        asked = reader.post(
            "/api/v1/newsletter/subscriptions",
            json={"email": email, "consent_version": reader.current_version("newsletter")},
        )
        assert asked.status_code == 202, asked.text
        found = re.search(
            r"token=([A-Za-z0-9_.%-]+)", mail_text(wait_for_mail(email, "newsletter-confirmation"))
        )
        assert found is not None
        confirmed = reader.post("/api/v1/newsletter/confirm", json={"token": unquote(found.group(1))})
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "active", confirmed.text
    reader.close()
    return addresses


def logged_in(chromium: Browser, stack: Stack, email: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = new_context(chromium, locale="en", **options)
    page = context.new_page()
    page.goto(stack.gateway_url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))
    return context, page


def maildir() -> Path:
    return Path(os.environ["LETHE_MAILDIR"])


def of_campaign(campaign_id: str, kind: str) -> list[EmailMessage]:
    return [m for m in mails_in(maildir(), kind=kind) if m["X-Lethe-Campaign"] == campaign_id]


def notice(page: Page) -> str:
    return page.get_by_role("status").or_(page.get_by_role("alert")).first.inner_text()


def api_client(stack: Stack, email: str) -> WebClient:
    """A fresh JSON-API session of ``email`` (the CSRF header set as the pages set it)."""
    client = WebClient(stack.gateway_url)
    logged_in = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert logged_in.status_code == 200, logged_in.text
    return client


def api_campaign(stack: Stack, email: str, subject: str, html_body: str = "") -> str:
    """A draft made through the JSON API by a member of staff: its id."""
    client = api_client(stack, email)
    created = client.post(
        "/api/v1/admin/newsletter/campaigns",
        json={"subject": subject, "text_body": "Hello from the shop.", "html_body": html_body},
    )
    assert created.status_code == 201, created.text
    client.close()
    return str(created.json()["id"])


def test_a_marketer_composes_previews_tests_and_sends_a_campaign_and_watches_it_go_out(
    chromium: Browser, stack: Stack, marketer: Member, subscribers: list[str], mongo_client: MongoClient
) -> None:
    context, page = logged_in(chromium, stack, marketer.email)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(stack.gateway_url + "/staff/campaigns")
    assert page.get_by_role("heading", level=1).inner_text() == "Newsletter campaigns"

    # Compose.
    subject = f"Spring news {uuid.uuid4().hex[:6]}"
    page.get_by_label("Subject").fill(subject)
    page.get_by_label("Text version").fill("Our spring collection is here.\nSee you soon.")
    page.get_by_label("HTML version (optional)").fill(
        '<p>Our <b id="bold">spring</b> collection.</p><script>alert("ran")</script>'
    )
    page.get_by_label("Start with a greeting").check()
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(CAMPAIGN_URL)
    found = CAMPAIGN_URL.search(page.url)
    assert found is not None
    campaign_id = found.group(1)
    assert notice(page) == "The draft has been saved."
    assert page.locator("#campaign-status").inner_text() == "Draft"

    # Preview: the text as written, the HTML as escaped source that neither renders nor runs.
    assert page.locator("#preview-text").inner_text() == "Our spring collection is here.\nSee you soon."
    source = page.locator("#preview-html").inner_text()
    assert '<b id="bold">spring</b>' in source and '<script>alert("ran")</script>' in source
    assert page.locator("#bold").count() == 0 and dialogs == []
    assert "Starts with a greeting" in page.locator("main").inner_text()

    # A test to myself: in the Maildir, to my address only; the campaign is still a draft.
    assert marketer.email in page.locator("#test-hint").inner_text()
    page.get_by_role("button", name="Send a test to me").click()
    page.wait_for_url(CAMPAIGN_URL)
    assert notice(page) == f"A test has been sent to {marketer.email}."
    [test_mail] = wait_for(lambda: of_campaign(campaign_id, TEST_KIND), 20, what="the test mail")
    assert test_mail["To"] == marketer.email and str(test_mail["Subject"]) == f"[TEST] {subject}"
    assert "Our spring collection is here." in mail_text(test_mail)
    time.sleep(1.0)
    assert [m["To"] for m in of_campaign(campaign_id, TEST_KIND)] == [marketer.email]
    assert of_campaign(campaign_id, CAMPAIGN_KIND) == []  # no subscriber got anything
    assert page.locator("#campaign-status").inner_text() == "Draft"

    # Ten minutes later: the password again before sending.
    identity = mongo_client[stack.backends["identity"].db_name]
    identity["sessions"].update_many({}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=11)}})
    identity["session_confirmations"].delete_many({})
    page.get_by_role("button", name="Send to all subscribers").click()
    assert notice(page) == "Please enter your password again to send the campaign."
    assert page.get_by_label("Your password").get_attribute("aria-required") == "true"
    assert page.locator("#campaign-status").inner_text() == "Draft"
    page.get_by_label("Your password").fill("not my password at all")
    page.get_by_role("button", name="Send to all subscribers").click()
    assert page.get_by_label("Your password").get_attribute("aria-invalid") == "true"
    assert page.locator("#campaign-status").inner_text() == "Draft"

    # The right password: sending starts, and the page updates itself until it is sent.
    answers: list[tuple[str, str | None]] = []

    def seen(response: Response) -> None:
        if response.request.method == "GET" and f"/staff/campaigns/{campaign_id}" in response.url:
            answers.append((response.url, response.headers.get("refresh")))

    page.on("response", seen)
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Send to all subscribers").click()
    page.wait_for_url(re.compile(r"\?done=started$"))
    snapshots: list[dict[str, str]] = []

    def current() -> dict[str, str] | None:
        try:  # one read of one document: the page reloads itself, field by field could mix two
            read = page.evaluate(
                """() => Object.fromEntries(
                    ["campaign-status", "progress-recipients", "progress-sent", "progress-failed",
                     "progress-dropped", "progress-remaining"].map((id) => [
                        id.replace(/^(campaign|progress)-/, ""), document.getElementById(id)?.innerText,
                    ]))"""
            )
        except Error:  # the page is being reloaded just now
            return None
        if not isinstance(read, dict) or None in read.values():
            return None
        shown = {name: str(value).strip() for name, value in read.items()}
        snapshots.append(shown)
        return shown if shown["status"] == "Sent" else None

    final = wait_for(current, 90, interval=0.3, what="the page to say the campaign was sent")
    page.remove_listener("response", seen)
    sending = [s for s in snapshots if s["status"] == "Sending"]
    assert sending, "the page never showed the campaign being sent"
    assert any(int(s["remaining"]) > 0 for s in sending)
    for s in sending:  # each count accounted for (all 0 before the sender's first count)
        assert sum(int(s[name]) for name in ("sent", "failed", "dropped", "remaining")) == int(
            s["recipients"]
        )
    # The page reloaded itself (the Refresh header, only while sending): nobody reloaded it.
    refreshed = [(url, header) for url, header in answers if "done=" not in url]
    assert refreshed, "the page never reloaded itself"
    assert answers[0][1] == f"3; url=/staff/campaigns/{campaign_id}"
    assert answers[-1][1] is None  # sent: no more reloading
    assert page.locator("#campaign-refresh").count() == 0
    assert final == {
        "status": "Sent",
        "recipients": str(SUBSCRIBERS),
        "sent": str(SUBSCRIBERS),
        "failed": "0",
        "dropped": "0",
        "remaining": "0",
    }
    delivered = of_campaign(campaign_id, CAMPAIGN_KIND)
    assert sorted(str(m["To"]) for m in delivered) == sorted(subscribers)
    assert marketer.email not in [m["To"] for m in delivered]

    # The list shows it, and the newsletter's audit trail names the marketer for each step.
    page.get_by_role("link", name="All campaigns").click()
    row = page.locator("#campaigns").get_by_role("row", name=re.compile(re.escape(subject)))
    assert "Sent" in row.inner_text() and str(SUBSCRIBERS) in row.inner_text()
    with stack.backends["newsletter"].channel() as channel:
        trail = newsletter_pb2_grpc.NewsletterServiceStub(channel).ListAuditEntries(
            audit_pb2.AuditListRequest(page_size=200),
            metadata=staff_metadata(f"acc_{uuid.uuid4().hex}", ADMIN),
            timeout=10,
        )
    ours = [(e.action, e.actor_account_id) for e in reversed(trail.entries) if e.target == campaign_id]
    assert ours == [
        ("campaign.created", marketer.account_id),
        ("campaign.test_sent", marketer.account_id),
        ("campaign.sent", marketer.account_id),
    ]
    context.close()


def test_a_draft_can_be_cancelled_and_a_bad_form_is_answered_on_the_page(
    chromium: Browser, stack: Stack, marketer: Member
) -> None:
    context, page = logged_in(chromium, stack, marketer.email)
    page.goto(stack.gateway_url + "/staff/campaigns/new")
    page.get_by_label("Subject").fill("x" * 201)
    page.get_by_role("button", name="Create draft").click()
    assert page.get_by_label("Subject").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Text version").get_attribute("aria-invalid") == "true"
    page.get_by_label("Subject").fill("To be cancelled")
    page.get_by_label("Text version").fill("Never sent.")
    page.get_by_role("button", name="Create draft").click()
    page.wait_for_url(CAMPAIGN_URL)
    page.get_by_role("button", name="Cancel campaign").click()
    page.wait_for_url(re.compile(r"\?done=cancelled$"))
    assert notice(page) == "The campaign has been cancelled."
    assert page.locator("#campaign-status").inner_text() == "Cancelled"
    assert page.get_by_role("button", name="Send a test to me").count() == 0
    assert page.get_by_role("button", name="Send to all subscribers").count() == 0
    context.close()


def test_a_member_with_another_role_is_refused_every_campaign_page_and_form(
    chromium: Browser, stack: Stack, chief: str, marketer: Member
) -> None:
    accountant = member(stack, chief, "accounting")
    campaign_id = api_campaign(stack, marketer.email, "Not for accounting")
    context, page = logged_in(chromium, stack, accountant.email)
    for path in ("/staff/campaigns", "/staff/campaigns/new", f"/staff/campaigns/{campaign_id}"):
        answer = page.goto(stack.gateway_url + path)
        assert answer is not None and answer.status == 403, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not for this account"
    context.close()

    # The forms, posted with the accountant's own valid CSRF token: refused, nothing done.
    client = api_client(stack, accountant.email)
    token = client.http.cookies.get("lethe_csrf")
    assert token
    for path, data in (
        (f"/staff/campaigns/{campaign_id}/test", {}),
        (f"/staff/campaigns/{campaign_id}/send", {"password": PASSWORD}),
        (f"/staff/campaigns/{campaign_id}/cancel", {}),
        ("/staff/campaigns/new", {"subject": "Sneaky", "text_body": "Hi"}),
    ):
        answer = client.http.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert answer.status_code == 403, path
    client.close()
    with stack.backends["newsletter"].channel() as channel:
        trail = newsletter_pb2_grpc.NewsletterServiceStub(channel).ListAuditEntries(
            audit_pb2.AuditListRequest(page_size=200),
            metadata=staff_metadata(f"acc_{uuid.uuid4().hex}", ADMIN),
            timeout=10,
        )
    assert [e.action for e in trail.entries if e.target == campaign_id] == ["campaign.created"]
    assert not any(e.actor_account_id == accountant.account_id for e in trail.entries)
    time.sleep(1.0)
    assert of_campaign(campaign_id, TEST_KIND) == []


def campaign_pages(stack: Stack, marketer: Member, mongo_client: MongoClient) -> list[str]:
    """One of each campaign page: the list, the form, a draft, one being sent, one sent."""
    draft = api_campaign(stack, marketer.email, "A draft to look at", "<p>Hello <em>there</em></p>")
    sending = api_campaign(stack, marketer.email, "One being sent")
    # Started, but never listed for the senders: it stays "sending" while the pages are checked.
    StepLog(mongo_client[stack.backends["newsletter"].db_name]["campaign_steps"]).append(
        sending, 1, Step({"kind": "sending", "at": datetime.now(UTC), "by": marketer.account_id})
    )
    return [
        "/staff/campaigns",
        "/staff/campaigns/new",
        f"/staff/campaigns/{draft}",
        f"/staff/campaigns/{sending}",
    ]


def test_every_campaign_page_passes_axe_has_the_headers_and_stays_on_its_origin(
    chromium: Browser, stack: Stack, marketer: Member, mongo_client: MongoClient
) -> None:
    paths = campaign_pages(stack, marketer, mongo_client)
    sending = paths[-1]
    found: list[str] = []
    for viewport in ("desktop", "phone"):
        context, page = logged_in(chromium, stack, marketer.email, viewport=viewport)
        recorder = PageRecorder(page)
        for path in paths:
            response = page.goto(stack.gateway_url + path)
            assert response is not None and response.status == 200, path
            assert (response.headers.get("refresh") is not None) == (path == sending), path
            found += [f"{viewport} {path}: {p}" for p in security_header_problems(response)]
        found += [
            f"{viewport}: request to another origin {url}" for url in recorder.foreign(stack.gateway_url)
        ]
        found += [f"{viewport}: CSP violation {text}" for text in recorder.csp_violations]
        context.close()
        # axe is injected into the page, which the CSP forbids: its own context may bypass it.
        context, page = logged_in(chromium, stack, marketer.email, bypass_csp=True, viewport=viewport)
        for path in paths:
            # The page being sent without its reloading, which would cut axe's run short.
            page.goto(stack.gateway_url + path + ("?refresh=off" if path == sending else ""))
            found += [f"{viewport} {path}: {v}" for v in axe_violations(page)]
        # The refused step-up: the form with its error.
        page.goto(stack.gateway_url + paths[2])
        page.get_by_label("Your password").fill("not my password at all")
        page.get_by_role("button", name="Send to all subscribers").click()
        page.get_by_role("alert").first.wait_for()
        found += [f"{viewport} step-up error: {v}" for v in axe_violations(page)]
        context.close()
    assert found == []


def test_a_test_sent_from_the_page_without_javascript_unsubscribes_no_one(
    stack: Stack, marketer: Member
) -> None:
    """A test mail's unsubscribe link carries no token: the gateway refuses it."""
    campaign_id = api_campaign(stack, marketer.email, "Link check")
    client = api_client(stack, marketer.email)
    page = client.get(f"/staff/campaigns/{campaign_id}")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    sent = client.http.post(
        f"/staff/campaigns/{campaign_id}/test", data={"csrf_token": token[1]}, follow_redirects=False
    )
    assert sent.status_code == 303 and sent.headers["location"].endswith("?done=test")
    [mail] = wait_for(lambda: of_campaign(campaign_id, TEST_KIND), 20, what="the test mail")
    assert mail["To"] == marketer.email
    assert re.findall(r"token=[^\s\"<>]*", mail_text(mail)) == ["token=test-send-no-token"]
    refused = client.post("/api/v1/newsletter/unsubscribe", json={"token": "test-send-no-token"})
    assert refused.status_code == 422, refused.text
    client.close()
