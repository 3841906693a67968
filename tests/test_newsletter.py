"""The newsletter through the gateway (issue 5).

Real gateway, identity, consent and newsletter (API and worker each), store,
broker and SMTP sink. Campaigns are sent by the newsletter worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe_common.store.keys import under
from lethe_common.subject import subject_key
from lethe_newsletter.lifecycle import Life, fold, subscriber_id
from lethe_testing import (
    Browser,
    Stack,
    mail_text,
    mails_to,
    start_stack,
    stop_stack,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "copper kettle marmalade 9"
CONFIRMATION = "newsletter-confirmation"
CAMPAIGN = "newsletter-campaign"
LINK_TOKEN = re.compile(r"token=([A-Za-z0-9_.%-]+)")
SEEN: list[str] = []  # addresses and link tokens used: none may reach a log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("nl")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"editor-{run}@staff.example",
        NEWSLETTER_CONFIRMATION_RESEND_SECONDS="3600",
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def newsletter_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["newsletter"].db_name]


@pytest.fixture(scope="module")
def consent_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["consent"].db_name]


@pytest.fixture(scope="module")
def editor(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"editor-{stack.run_id}@staff.example", PASSWORD, name="Ed Itor")
    yield browser
    browser.close()


@pytest.fixture()
def anonymous(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    yield browser
    browser.close()


def address(stack: Stack) -> str:
    email = f"{unique('n')}-{stack.run_id}@reader.example".lower()
    SEEN.append(email)
    return email


def link_token(message: EmailMessage) -> str:
    found = LINK_TOKEN.search(mail_text(message))
    assert found is not None, "no link with a token in the mail"
    SEEN.append(unquote(found.group(1)))
    return unquote(found.group(1))


def local(url: str) -> str:
    """A link from a mail (made for the public address) as a path on the test gateway."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def subscribe(browser: Browser, email: str, name: str = "") -> Any:
    return browser.post(
        "/api/v1/newsletter/subscriptions",
        json={"email": email, "name": name, "consent_version": browser.current_version("newsletter")},
    )


def subscribed(browser: Browser, email: str, name: str = "") -> None:
    """Subscribe and confirm from the Maildir."""
    assert subscribe(browser, email, name).status_code == 202
    token = link_token(wait_for_mail(email, CONFIRMATION))
    confirmed = browser.post("/api/v1/newsletter/confirm", json={"token": token})
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["status"] == "active"


def send_campaign(editor: Browser, subject: str, greeting: bool = False) -> dict[str, Any]:
    """Create and send a campaign, and wait until the worker has finished it."""
    created = editor.post(
        "/api/v1/admin/newsletter/campaigns",
        json={
            "subject": subject,
            "text_body": f"News: {subject}",
            "html_body": f"<p>{subject}</p>",
            "greeting": greeting,
        },
    )
    assert created.status_code == 201, created.text
    campaign_id = created.json()["id"]
    started = editor.post(f"/api/v1/admin/newsletter/campaigns/{campaign_id}/send")
    assert started.status_code == 202, started.text

    def finished() -> dict[str, Any] | None:
        campaign = editor.get(f"/api/v1/admin/newsletter/campaigns/{campaign_id}").json()
        return campaign if campaign["status"] == "sent" else None

    return wait_for(finished, 30, what="the campaign to be sent")


def life_of(db: Database, subscriber: str) -> Life:
    """The subscriber as the newsletter reads it: its steps, folded."""
    return fold(subscriber, list(db["subscriber_steps"].find({"_id": under(subscriber)}, sort=[("_id", 1)])))


def campaign_mails(email: str, campaign_id: str) -> list[EmailMessage]:
    return [m for m in mails_to(email, kind=CAMPAIGN) if m["X-Lethe-Campaign"] == campaign_id]


def test_subscribe_confirm_receive_and_leave_with_one_click(
    stack: Stack, editor: Browser, anonymous: Browser, consent_db: Database
) -> None:
    email, bystander = address(stack), address(stack)
    subscribed(anonymous, email, name="Grace Hopper")
    subscribed(anonymous, bystander)
    campaign = send_campaign(editor, "Spring release", greeting=True)
    [message] = campaign_mails(email, campaign["id"])
    assert "Grace Hopper" in mail_text(message)
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = message["List-Unsubscribe"].strip("<>")
    # The text links to the portal's page with the same token; the header to the one-click API.
    assert url.replace("/api/v1/newsletter/", "/newsletter/") in mail_text(message)

    # A mail client's RFC 8058 one-click POST: the token in the address, a form body.
    one_click = anonymous.http.post(
        local(url),
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert one_click.status_code == 200, one_click.text

    later = send_campaign(editor, "Summer release")
    assert campaign_mails(email, later["id"]) == []
    assert len(campaign_mails(bystander, later["id"])) == 1  # it did go out
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    records = list(
        consent_db["consent_records"].find(
            {"subject_key": key, "purpose": "newsletter"}, sort=[("recorded_at", 1)]
        )
    )
    assert [(r["action"], r["channel"]) for r in records] == [
        ("grant", "double_opt_in"),
        ("withdrawal", "unsubscribe_link"),
    ]


def test_only_confirmed_subscribers_get_campaigns_and_links_cannot_be_forged(
    stack: Stack, editor: Browser, anonymous: Browser, newsletter_db: Database
) -> None:
    waiting, reader = address(stack), address(stack)
    assert subscribe(anonymous, waiting).status_code == 202
    confirmation = link_token(wait_for_mail(waiting, CONFIRMATION))
    subscribed(anonymous, reader)
    campaign = send_campaign(editor, "Autumn release")
    assert campaign_mails(waiting, campaign["id"]) == []
    assert [m["To"] for m in mails_to(waiting)] == [waiting]  # the confirmation mail alone
    [message] = campaign_mails(reader, campaign["id"])
    token = unquote(link_token(message))

    subscriber, mac = token.split(".")
    other_id = "sub_" + "0" * 32
    for forged in (
        f"{subscriber}.{mac[:-2]}{'AA' if mac[-2:] != 'AA' else 'BB'}",
        f"{other_id}.{mac}",
        subscriber,
        confirmation,
    ):
        refused = anonymous.post("/api/v1/newsletter/unsubscribe", json={"token": forged})
        assert refused.status_code == 422, refused.text
        assert "not valid" in refused.json()["error"]["message"]
    altered = confirmation[:-1] + ("A" if confirmation[-1] != "A" else "B")
    assert anonymous.post("/api/v1/newsletter/confirm", json={"token": altered}).status_code == 422

    # Link scanners fetch links: a GET shows a page and changes nothing.
    page = anonymous.get(local(message["List-Unsubscribe"].strip("<>")))
    assert page.status_code == 200
    assert '<form method="post"' in page.text
    assert life_of(newsletter_db, subscriber).status == "active"


def test_every_subscription_request_gets_the_same_answer_and_one_mail(
    stack: Stack, anonymous: Browser, editor: Browser
) -> None:
    new, active = address(stack), address(stack)
    subscribed(anonymous, active)
    answers = {
        (r.status_code, r.text)
        for r in (subscribe(anonymous, new), subscribe(anonymous, new), subscribe(anonymous, active))
    }
    assert len(answers) == 1 and next(iter(answers))[0] == 202
    wait_for_mail(new, CONFIRMATION)
    # the second request fell inside the resend interval, the active one needs nothing
    assert len(mails_to(new)) == 1 and len(mails_to(active)) == 1

    outdated = anonymous.post(
        "/api/v1/newsletter/subscriptions", json={"email": address(stack), "consent_version": "1999-01"}
    )
    assert outdated.status_code == 422
    for body in (
        {"email": "not an address", "consent_version": "x"},
        {"email": new},
        {"email": new, "consent_version": "x", "role": "admin"},
    ):
        assert anonymous.post("/api/v1/newsletter/subscriptions", json=body).status_code == 422
    assert anonymous.post("/api/v1/newsletter/unsubscribe").status_code == 422


def test_withdrawing_the_consent_in_the_portal_unsubscribes_within_seconds(
    stack: Stack, editor: Browser, newsletter_db: Database
) -> None:
    browser = Browser(stack.gateway_url)
    email = address(stack)
    browser.sign_up(email, PASSWORD, name="Hedy Lamarr")
    version = browser.current_version("newsletter")
    assert browser.post("/api/v1/me/newsletter", json={"consent_version": version}).status_code == 202
    assert browser.get("/api/v1/me/newsletter").json()["status"] == "pending"
    token = link_token(wait_for_mail(email, CONFIRMATION))
    assert browser.post("/api/v1/newsletter/confirm", json={"token": token}).status_code == 200
    assert browser.get("/api/v1/me/newsletter").json()["status"] == "active"
    consents = browser.get("/api/v1/me/consents").json()
    assert {s["purpose"]: s["state"] for s in consents["states"]}["newsletter"] == "granted"

    assert browser.delete("/api/v1/me/consents/newsletter").status_code == 200
    wait_for(
        lambda: browser.get("/api/v1/me/newsletter").json()["status"] == "none",
        10,
        what="the newsletter to end the subscription",
    )
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    assert not life_of(newsletter_db, subscriber_id(key)).live
    assert [
        step["kind"] for step in newsletter_db["subscriber_steps"].find({"_id": under(subscriber_id(key))})
    ] == ["ended"], "only the tombstone is left"
    campaign = send_campaign(editor, "After the withdrawal")
    assert campaign_mails(email, campaign["id"]) == []
    browser.close()


def test_erasure_deletes_subscriber_and_send_log_and_suppresses_the_address(
    stack: Stack, editor: Browser, anonymous: Browser, newsletter_db: Database
) -> None:
    browser = Browser(stack.gateway_url)
    email = address(stack)
    browser.sign_up(email, PASSWORD)
    subscribed(anonymous, email)
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    subscriber = subscriber_id(key)
    first = send_campaign(editor, "Before the erasure")
    assert len(campaign_mails(email, first["id"])) == 1
    assert newsletter_db["send_log"].count_documents({"_id": under(subscriber)}) == 1

    opened = browser.post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request = opened.json()

    def complete() -> dict[str, Any] | None:
        followed = anonymous.get(
            f"/api/v1/privacy-requests/{request['request']['id']}", params={"token": request["follow_token"]}
        ).json()
        return followed if followed["status"] == "complete" else None

    done = wait_for(complete, 30, what="the erasure to complete")
    assert any(r["service"] == "newsletter" for r in done["receipts"])
    # The receipt this stack's newsletter sent. (The one consent shows may come from a
    # newsletter of another test run on the same broker: every run's workers receive
    # consent's events, and one holding nothing answers "nothing held" first.)
    sent = newsletter_db["privacy_receipts_sent"].find_one(
        {"_id": f"{request['request']['id']}/erasure/done"}
    )
    assert sent is not None and any("suppression" in kept for kept in sent["receipt"]["kept"])
    assert not life_of(newsletter_db, subscriber).live
    assert newsletter_db["send_log"].count_documents({"_id": under(subscriber)}) == 0
    assert "reader.example" not in str(
        list(newsletter_db["subscriber_steps"].find({"_id": under(subscriber)}))
    )
    assert newsletter_db["suppression"].find_one({"_id": key}) is not None

    # Only the person can lift it: a new request gets the one mail it asked for, and
    # until it is confirmed, campaigns pass the address by.
    before = len(mails_to(email, kind=CONFIRMATION))
    assert subscribe(anonymous, email).status_code == 202
    token = link_token(wait_for_mail(email, CONFIRMATION, count=before + 1))
    pending = send_campaign(editor, "While suppressed")
    assert campaign_mails(email, pending["id"]) == []
    assert anonymous.post("/api/v1/newsletter/confirm", json={"token": token}).status_code == 200
    assert newsletter_db["suppression"].find_one({"_id": key}) is None
    after = send_campaign(editor, "After confirming again")
    assert len(campaign_mails(email, after["id"])) == 1
    browser.close()


def test_a_restriction_stops_sends_until_it_is_lifted(
    stack: Stack, editor: Browser, anonymous: Browser
) -> None:
    browser = Browser(stack.gateway_url)
    email = address(stack)
    browser.sign_up(email, PASSWORD)
    subscribed(anonymous, email)
    assert browser.post("/api/v1/me/restriction", json={}).status_code == 202
    wait_for(
        lambda: browser.get("/api/v1/me/newsletter").json()["restricted"],
        10,
        what="the newsletter to restrict the subscription",
    )
    held = send_campaign(editor, "During the restriction")
    assert campaign_mails(email, held["id"]) == []
    assert held["progress"]["dropped"] >= 1
    assert browser.delete("/api/v1/me/restriction").status_code == 202
    wait_for(
        lambda: not browser.get("/api/v1/me/newsletter").json()["restricted"],
        10,
        what="the newsletter to lift the restriction",
    )
    after = send_campaign(editor, "After the restriction")
    assert len(campaign_mails(email, after["id"])) == 1
    browser.close()


def test_a_double_confirm_records_one_consent_grant(
    stack: Stack, anonymous: Browser, consent_db: Database
) -> None:
    """Six clicks on one link at once, spread over both API replicas: one grant, and every
    click answers with the confirmed subscription."""
    email = address(stack)
    assert subscribe(anonymous, email).status_code == 202
    token = link_token(wait_for_mail(email, CONFIRMATION))

    def click(_: int) -> Any:
        browser = Browser(stack.gateway_url)
        try:
            return browser.post("/api/v1/newsletter/confirm", json={"token": token})
        finally:
            browser.close()

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(click, range(6)))
    assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
    assert {a.json()["status"] for a in answers} == {"active"}
    key = subject_key(stack.gateway.env["LETHE_SUBJECT_PEPPER"], email)
    grants = consent_db["consent_records"].count_documents(
        {"subject_key": key, "purpose": "newsletter", "action": "grant"}
    )
    assert grants == 1


def test_the_staff_list_comes_in_pages(editor: Browser) -> None:
    for n in range(3):
        assert (
            editor.post(
                "/api/v1/admin/newsletter/campaigns", json={"subject": f"Paged {n}", "text_body": "x"}
            ).status_code
            == 201
        )
    first = editor.get("/api/v1/admin/newsletter/campaigns", params={"limit": 2})
    assert first.status_code == 200 and len(first.json()) == 2
    assert first.json()[0]["subject"] == "Paged 2", "newest first"
    follow = first.headers["Link"].split(";")[0].strip("<>")
    second = editor.get(follow)
    assert second.status_code == 200 and second.json()[0]["subject"] == "Paged 0"
    ids = [c["id"] for c in first.json() + second.json()]
    assert len(ids) == len(set(ids))
    junk = editor.get("/api/v1/admin/newsletter/campaigns", params={"page_token": "junk-token"})
    assert junk.status_code == 422


def test_campaign_routes_are_for_staff_only(stack: Stack, anonymous: Browser) -> None:
    body = {"subject": "x", "text_body": "y"}
    assert anonymous.post("/api/v1/admin/newsletter/campaigns", json=body).status_code == 401
    member = Browser(stack.gateway_url)
    member.sign_up(address(stack), PASSWORD)
    assert member.post("/api/v1/admin/newsletter/campaigns", json=body).status_code == 403
    assert member.get("/api/v1/admin/newsletter/campaigns").status_code == 403
    member.close()


def test_no_address_name_or_link_token_reaches_any_log(stack: Stack) -> None:
    logs = "".join(process.log() for process in stack.processes())
    assert len(SEEN) > 10 and not [value for value in SEEN if value in logs]
    assert "Grace Hopper" not in logs and "Hedy Lamarr" not in logs
    assert "Traceback" not in logs
