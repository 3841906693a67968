"""The privacy centre through the real system: consents granted and withdrawn on the page with
their history, the export saved as a file, restriction and its lifting, objection, erasure
followed to its end on the mailed follow page, a request without an account confirmed from
the mail; every form refused without its CSRF field and every page asking for a log-in."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from lethe_testing import Stack
from lethe_testing.maildir import mail_text, wait_for_mail
from lethe_testing.waiting import wait_for
from lethe_testing.web import csrf_of, member_on_pages

PASSWORD = "a long passphrase for privacy"
LOGIN_PAGES = (
    "/privacy",
    "/privacy/consents",
    "/privacy/export",
    "/privacy/erase",
    "/privacy/restriction",
    "/privacy/objection",
    "/privacy/requests",
)
POSTS = ("/privacy/consents", "/privacy/erase", "/privacy/restriction", "/privacy/objection")


def client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, follow_redirects=False, timeout=30)


def member(stack: Stack) -> tuple[httpx.Client, str]:
    """A new person, registered, activated and logged in through the pages."""
    email = f"privacy-{uuid.uuid4().hex[:10]}@example.com"
    return member_on_pages(stack.gateway_url, email, PASSWORD, "Privacy Person"), email


def states(browser: httpx.Client) -> dict[str, Any]:
    reply = browser.get("/api/v1/me/consents")
    assert reply.status_code == 200, reply.text
    return {s["purpose"]: s for s in reply.json()["states"]}


def purpose_section(page: httpx.Response, purpose: str) -> str:
    found = re.search(rf'<section class="purpose" id="purpose-{purpose}".*?</section>', page.text, re.S)
    assert found, f"no section for {purpose}"
    return found[0]


def follow_link(page: httpx.Response) -> str:
    found = re.search(r'href="(/privacy-requests/pr_[0-9a-f]{32}\?token=[^"]+)"', page.text)
    assert found, "the page has no follow link"
    return found[1].replace("&amp;", "&")


def followed_to(stack: Stack, link: str, status: str) -> str:
    """The follow page (no log-in) once it shows ``status``."""
    anonymous = client(stack)

    def shown() -> str:
        page = anonymous.get(link)
        assert page.status_code == 200, page.text
        return page.text if f'<dd class="status"><strong>{status}</strong>' in page.text else ""

    return wait_for(shown, 30, interval=0.5, what=f"the follow page to show {status}")


def test_consents_are_granted_and_withdrawn_on_the_page_with_their_history(stack: Stack) -> None:
    browser, _ = member(stack)
    page = browser.get("/privacy/consents")
    assert page.status_code == 200
    analytics = purpose_section(page, "analytics")
    version = re.search(r'name="version" value="([^"]+)"', analytics)
    assert version and 'value="grant"' in analytics and "Not given" in analytics
    # The account consent is granted at registration; withdrawing it leads to the erase page.
    account = purpose_section(page, "account")
    assert "Granted: version" in account and 'href="/privacy/erase"' in account
    assert 'value="withdraw"' not in account

    granted = browser.post(
        "/privacy/consents",
        data={"csrf_token": csrf_of(page), "action": "grant", "purpose": "analytics", "version": version[1]},
    )
    assert granted.status_code == 303 and granted.headers["location"].startswith(
        "/privacy/consents?done=granted"
    )
    assert states(browser)["analytics"]["state"] == "granted"
    page = browser.get(granted.headers["location"])
    analytics = purpose_section(page, "analytics")
    assert "Your consent is recorded." in page.text
    assert f"Granted: version {version[1]}" in analytics and 'value="withdraw"' in analytics

    withdrawn = browser.post(
        "/privacy/consents", data={"csrf_token": csrf_of(page), "action": "withdraw", "purpose": "analytics"}
    )
    assert withdrawn.status_code == 303
    assert states(browser)["analytics"]["state"] == "withdrawn"
    analytics = purpose_section(browser.get("/privacy/consents"), "analytics")
    history = analytics.split("History", 1)[1]
    assert "<strong>Agreed</strong>" in history and "<strong>Withdrawn</strong>" in history
    assert f"The exact text of version {version[1]}" in history  # the text agreed to, in full

    to_erase = browser.post(
        "/privacy/consents", data={"csrf_token": csrf_of(page), "action": "withdraw", "purpose": "account"}
    )
    assert to_erase.status_code == 303 and to_erase.headers["location"] == "/privacy/erase"
    assert states(browser)["account"]["state"] == "granted"  # nothing withdrawn by that


def test_the_export_downloads_as_a_file(stack: Stack) -> None:
    browser, email = member(stack)
    overview = browser.get("/privacy")
    assert overview.status_code == 200 and 'href="/privacy/export"' in overview.text
    export = browser.get("/privacy/export")
    assert export.status_code == 200
    assert export.headers["content-disposition"].startswith('attachment; filename="lethe-data-export-')
    assert export.headers["cache-control"] == "no-store"
    document = export.json()
    assert document["email"] == email and document["format"] == "lethe-data-export/1"
    assert {s["service"] for s in document["services"]} >= {"identity", "consent", "shop", "newsletter"}


def test_restriction_and_its_lifting_and_the_requests_page(stack: Stack) -> None:
    browser, _ = member(stack)
    page = browser.get("/privacy/restriction")
    assert page.status_code == 200 and "is not restricted" in page.text
    restricted = browser.post(
        "/privacy/restriction", data={"csrf_token": csrf_of(page), "action": "restrict", "reason": "checking"}
    )
    assert restricted.status_code == 202, restricted.text
    assert "Restriction of processing" in restricted.text
    followed_to(stack, follow_link(restricted), "Complete")
    wait_for(lambda: browser.get("/api/v1/me").json()["restricted"] is True, 20, what="the restriction")
    page = wait_for(
        lambda: (
            (p := browser.get("/privacy/restriction")).status_code == 200 and 'value="lift"' in p.text and p
        ),
        20,
        what="the page to offer lifting",
    )
    lifted = browser.post("/privacy/restriction", data={"csrf_token": csrf_of(page), "action": "lift"})
    assert lifted.status_code == 202 and "Lifting the restriction" in lifted.text
    wait_for(lambda: browser.get("/api/v1/me").json()["restricted"] is False, 20, what="the lifting")

    requests = browser.get("/privacy/requests")
    assert requests.status_code == 200
    assert "Restriction of processing: Complete" in requests.text
    assert "Lifting the restriction" in requests.text
    assert "<strong>identity</strong>" in requests.text  # a service's receipt
    assert "Due by" in requests.text


def test_an_objection_is_filed_from_its_page(stack: Stack) -> None:
    browser, _ = member(stack)
    page = browser.get("/privacy/objection")
    assert page.status_code == 200 and 'value="access_logs"' in page.text
    missing = browser.post(
        "/privacy/objection", data={"csrf_token": csrf_of(page), "purpose": "", "reason": ""}
    )
    assert missing.status_code == 422 and 'id="f-purpose-error"' in missing.text
    filed = browser.post(
        "/privacy/objection",
        data={"csrf_token": csrf_of(page), "purpose": "access_logs", "reason": "I do not want to be logged"},
    )
    assert filed.status_code == 202, filed.text
    mine = browser.get("/api/v1/me/privacy-requests").json()
    assert [(r["kind"], r["purpose"]) for r in mine] == [("objection", "access_logs")]


def test_erasure_from_the_page_is_followed_to_complete_on_the_mailed_page(stack: Stack) -> None:
    browser, email = member(stack)
    page = browser.get("/privacy/erase")
    assert page.status_code == 200 and "HGB §257" in page.text and "8 years" in page.text
    unconfirmed = browser.post("/privacy/erase", data={"csrf_token": csrf_of(page), "reason": ""})
    assert unconfirmed.status_code == 422 and 'id="f-confirm-error"' in unconfirmed.text
    assert browser.get("/api/v1/me").status_code == 200  # nothing happened

    erased = browser.post(
        "/privacy/erase", data={"csrf_token": csrf_of(page), "confirm": "yes", "reason": ""}
    )
    assert erased.status_code == 202, erased.text
    request_id = re.search(r"<dd>(pr_[0-9a-f]{32})</dd>", erased.text)
    assert request_id
    link = follow_link(erased)
    assert link.startswith(f"/privacy-requests/{request_id[1]}?token=")

    # The mail links to the same page.
    mailed = re.search(
        r"https?://[^/\s]+(/privacy-requests/pr_[0-9a-f]{32}\?token=\S+)",
        mail_text(wait_for_mail(email, "privacy-request")),
    )
    assert mailed and mailed[1] == link

    done = followed_to(stack, link, "Complete")
    for service in ("identity", "consent", "shop", "newsletter", "analytics"):
        assert f"<strong>{service}</strong>" in done
    assert "Proof of erasure" in done
    # A GET may reuse the session's answer for LETHE_GATEWAY_SESSION_CACHE_SECONDS (2 s).
    wait_for(lambda: browser.get("/api/v1/me").status_code == 401, 10, what="the session to end")
    assert client(stack).get(link.split("?")[0] + "?token=" + "x" * 43).status_code == 404


def test_a_request_without_an_account_is_confirmed_from_the_mail(stack: Stack) -> None:
    visitor = client(stack)
    email = f"nobody-{uuid.uuid4().hex[:10]}@example.com"
    form = visitor.get("/privacy/request")
    assert form.status_code == 200
    bad = visitor.post(
        "/privacy/request", data={"csrf_token": csrf_of(form), "email": "nope", "kind": "access"}
    )
    assert bad.status_code == 422 and 'id="f-email-error"' in bad.text
    sent = visitor.post(
        "/privacy/request", data={"csrf_token": csrf_of(form), "email": email, "kind": "access"}
    )
    assert sent.status_code == 202 and "We sent a link" in sent.text
    text = mail_text(wait_for_mail(email, "privacy-request-confirmation"))
    confirm = re.search(r"https?://[^/\s]+(/privacy-requests/confirm\?token=\S+)", text)
    follow = re.search(r"https?://[^/\s]+(/privacy-requests/pr_[0-9a-f]{32}\?token=\S+)", text)
    assert confirm and follow
    assert "Waiting for your confirmation" in visitor.get(follow[1]).text
    landing = visitor.get(confirm[1])
    assert landing.status_code == 200 and "Confirm the request" in landing.text
    token = re.search(r'name="token" value="([^"]+)"', landing.text)
    assert token
    confirmed = visitor.post(
        "/privacy-requests/confirm", data={"csrf_token": csrf_of(landing), "token": token[1]}
    )
    assert confirmed.status_code == 200 and "Your request is confirmed." in confirmed.text
    assert '<dd class="status"><strong>In progress</strong>' in visitor.get(follow[1]).text


def test_posts_without_the_csrf_field_are_refused(stack: Stack) -> None:
    browser, _ = member(stack)
    version = states(browser)["analytics"]["current_version"]
    forged: dict[str, dict[str, str]] = {
        "/privacy/consents": {"action": "grant", "purpose": "analytics", "version": version},
        "/privacy/erase": {"confirm": "yes"},
        "/privacy/restriction": {"action": "restrict"},
        "/privacy/objection": {"purpose": "access_logs", "reason": "forged"},
    }
    assert set(forged) == set(POSTS)
    for path, data in forged.items():
        for token in ({}, {"csrf_token": "forged"}):
            refused = browser.post(path, data={**data, **token})
            assert refused.status_code == 403, (path, token)
    assert states(browser)["analytics"]["state"] == "not_given"
    assert browser.get("/api/v1/me/privacy-requests").json() == []
    assert browser.get("/api/v1/me").status_code == 200


@pytest.mark.parametrize("path", LOGIN_PAGES)
def test_a_logged_out_visitor_is_sent_to_the_login(stack: Stack, path: str) -> None:
    visitor = client(stack)
    page = visitor.get(path)
    assert page.status_code == 303 and page.headers["location"] == f"/login?next={path}"
    if path in POSTS:
        token = csrf_of(visitor.get("/privacy/request"))
        posted = visitor.post(path, data={"csrf_token": token})
        assert posted.status_code == 303 and posted.headers["location"].startswith("/login?next=")
