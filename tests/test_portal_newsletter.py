"""The newsletter pages through the real system: subscribe with the consent text shown in
full, confirm from the mailed link, unsubscribe with a newsletter's link; and the switch on
the account page for a logged-in person."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from markupsafe import escape

from lethe_testing import Browser, Stack, mail_text, mails_to, start_stack, stop_stack, unique, wait_for
from lethe_testing.maildir import wait_for_mail
from lethe_testing.web import csrf_of

PASSWORD = "a long passphrase for letters"
CONFIRMATION = "newsletter-confirmation"
CAMPAIGN = "newsletter-campaign"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("pn")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"editor-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def editor(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"editor-{stack.run_id}@staff.example", PASSWORD, name="Ed Itor")
    yield browser
    browser.close()


def link_in(message: Any, path: str) -> tuple[str, str]:
    """The path and token of the link to ``path`` in a mail."""
    found = re.search(
        r"https?://[^/\s]+(" + re.escape(path) + r")\?token=([A-Za-z0-9_.%-]+)", mail_text(message)
    )
    assert found, f"no {path} link in the mail"
    return found[1], unquote(found[2])


def send_campaign(editor: Browser, subject: str) -> str:
    created = editor.post(
        "/api/v1/admin/newsletter/campaigns", json={"subject": subject, "text_body": "News"}
    )
    assert created.status_code == 201, created.text
    campaign_id = str(created.json()["id"])
    assert editor.post(f"/api/v1/admin/newsletter/campaigns/{campaign_id}/send").status_code == 202

    def finished() -> bool:
        return bool(
            editor.get(f"/api/v1/admin/newsletter/campaigns/{campaign_id}").json()["status"] == "sent"
        )

    wait_for(finished, 30, what="the campaign to be sent")
    return campaign_id


def test_subscribe_confirm_from_the_mail_and_unsubscribe_with_the_newsletters_link(
    stack: Stack, editor: Browser
) -> None:
    c = httpx.Client(base_url=stack.gateway_url, timeout=30)
    texts = c.get("/api/v1/consent-texts").json()
    current = next(t for t in texts if t["purpose"] == "newsletter")
    form = c.get("/newsletter")
    assert form.status_code == 200
    assert (
        escape(current["texts"]["en"]["body"]) in form.text and current["version"] in form.text
    )  # in full, with its version
    email = f"pn-{uuid.uuid4().hex[:10]}@reader.example"

    unticked = c.post(
        "/newsletter",
        data={"csrf_token": csrf_of(form), "email": email, "name": "", "consent_version": current["version"]},
    )
    assert unticked.status_code == 422 and 'id="f-consent-error"' in unticked.text
    sent = c.post(
        "/newsletter",
        data={
            "csrf_token": csrf_of(form),
            "email": email,
            "name": "Rea Der",
            "consent_version": current["version"],
            "consent": "yes",
        },
    )
    assert sent.status_code == 200 and "confirmation link is on its way" in sent.text

    path, token = link_in(wait_for_mail(email, CONFIRMATION), "/newsletter/confirm")
    assert path == "/newsletter/confirm"  # the mail's link is this portal page
    landing = c.get(f"{path}?token={token}")
    assert landing.status_code == 200 and "Please confirm that you want the newsletter" in landing.text
    confirmed = c.post(path, data={"csrf_token": csrf_of(landing), "token": token})
    assert confirmed.status_code == 200 and "your subscription is confirmed" in confirmed.text

    campaign = send_campaign(editor, f"Pages {uuid.uuid4().hex[:6]}")
    [message] = [m for m in mails_to(email, kind=CAMPAIGN) if m["X-Lethe-Campaign"] == campaign]
    _, leave = link_in(message, "/newsletter/unsubscribe")  # the portal's page, not the API
    page = c.get(f"/newsletter/unsubscribe?token={leave}")
    assert page.status_code == 200 and "stop receiving the newsletter" in page.text
    forged = c.post("/newsletter/unsubscribe", data={"csrf_token": "forged", "token": leave})
    assert forged.status_code == 403
    left = c.post("/newsletter/unsubscribe", data={"csrf_token": csrf_of(page), "token": leave})
    assert left.status_code == 200 and "You are unsubscribed" in left.text
    later = send_campaign(editor, f"Later {uuid.uuid4().hex[:6]}")
    assert [m for m in mails_to(email, kind=CAMPAIGN) if m["X-Lethe-Campaign"] == later] == []


def test_a_broken_link_says_so_and_changes_nothing(stack: Stack) -> None:
    c = httpx.Client(base_url=stack.gateway_url, timeout=30)
    assert c.get("/newsletter/confirm").status_code == 422
    landing = c.get("/newsletter/confirm?token=made.up.token")
    assert landing.status_code == 200
    refused = c.post("/newsletter/confirm", data={"csrf_token": csrf_of(landing), "token": "made.up.token"})
    assert refused.status_code == 422 and 'class="alert error"' in refused.text
    assert c.get("/newsletter/unsubscribe?token=made.up.token").status_code == 422


def test_the_account_pages_newsletter_switch(stack: Stack) -> None:
    email = f"pn-{uuid.uuid4().hex[:10]}@reader.example"
    me = Browser(stack.gateway_url)
    me.sign_up(email, PASSWORD, name="Pat Reader")
    page = me.http.get("/account")
    assert "You do not receive the newsletter." in page.text
    version = re.search(r'name="consent_version" value="([^"]+)"', page.text)
    assert version
    asked = me.http.post(
        "/account/newsletter",
        data={"csrf_token": csrf_of(page), "consent_version": version[1], "consent": "yes"},
    )
    assert asked.status_code == 303
    assert me.get("/api/v1/me/newsletter").json()["status"] == "pending"
    assert "waiting for you to open the confirmation link" in me.http.get("/account").text

    path, token = link_in(wait_for_mail(email, CONFIRMATION), "/newsletter/confirm")
    landing = me.http.get(f"{path}?token={token}")
    assert me.http.post(path, data={"csrf_token": csrf_of(landing), "token": token}).status_code == 200
    page = me.http.get("/account")
    assert me.get("/api/v1/me/newsletter").json()["status"] == "active"
    assert 'action="/account/newsletter/leave"' in page.text
    left = me.http.post("/account/newsletter/leave", data={"csrf_token": csrf_of(page)})
    assert left.status_code == 303 and left.headers["location"] == "/account?done=unsubscribed"
    assert me.get("/api/v1/me/newsletter").json()["status"] in ("unsubscribed", "none")
    assert "You do not receive the newsletter." in me.http.get("/account").text
