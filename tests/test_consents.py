"""Consents and privacy requests through the gateway (issue 4).

Real gateway and services (API and worker each), store, broker and SMTP sink.
The erasure fans out to identity, consent and newsletter, the services that
have their erasure handling so far (CONSENT_RECEIPT_SERVICES).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kombu import Connection
from pymongo import MongoClient
from pymongo.database import Database

from lethe_common.events.envelope import Envelope
from lethe_common.events.publisher import EventPublisher
from lethe_common.privacy import Receipt
from lethe_testing import (
    Browser,
    EventTap,
    Stack,
    mail_text,
    start_stack,
    stop_stack,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "copper kettle marmalade 9"
SEEN: list[str] = []  # addresses and names used: none may reach a log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("cns")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"dpo-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def consent_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["consent"].db_name]


def address(stack: Stack) -> str:
    email = f"{unique('c')}-{stack.run_id}@customer.example".lower()
    SEEN.append(email)
    return email


def member(stack: Stack, **headers: str) -> tuple[Browser, dict[str, Any]]:
    browser = Browser(stack.gateway_url, **headers)
    return browser, browser.sign_up(address(stack), PASSWORD, name="Marie Curie")


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Browser:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"dpo-{stack.run_id}@staff.example", PASSWORD)
    return browser


def error(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert "Traceback" not in response.text
    return str(response.json()["error"]["message"])


def states(browser: Browser, **headers: str) -> dict[str, dict[str, Any]]:
    reply = browser.get("/api/v1/me/consents", headers=headers)
    assert reply.status_code == 200, reply.text
    return {s["purpose"]: s for s in reply.json()["states"]}


def publish(admin: Browser, purpose: str, version: str, body: str) -> Any:
    return admin.post(
        "/api/v1/admin/consent-texts",
        json={
            "purpose": purpose,
            "version": version,
            "de": {"title": "Newsletter", "body": f"{body} (de)"},
            "en": {"title": "Newsletter", "body": body},
        },
    )


# -- texts and the account consent ------------------------------------------------------------------
def test_the_current_texts_are_public_in_german_and_english(stack: Stack) -> None:
    texts = Browser(stack.gateway_url).get("/api/v1/consent-texts").json()
    by_purpose = {t["purpose"]: t for t in texts}
    assert {"account", "newsletter", "analytics"} <= set(by_purpose)
    assert all(set(t["texts"]) == {"de", "en"} for t in texts)


def test_registration_needs_the_current_account_text(stack: Stack) -> None:
    browser = Browser(stack.gateway_url)
    email = address(stack)
    reply = browser.post(
        "/api/v1/accounts",
        json={"email": email, "password": PASSWORD, "name": "X", "account_consent_version": "1999-01"},
    )
    assert "current account text" in error(reply, 422)
    login = browser.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert login.status_code == 401


def test_the_account_consent_given_at_registration_is_on_record(stack: Stack) -> None:
    browser, _ = member(stack)
    account = wait_for(
        lambda: states(browser)["account"]["state"] == "granted" and states(browser)["account"],
        15,
        what="the account consent record",
    )
    assert account["version"] == browser.current_version("account")
    history = browser.get("/api/v1/me/consents").json()["history"]
    grant = next(r for r in history if r["purpose"] == "account")
    assert grant["channel"] == "double_opt_in" and "Kundenkonto" in grant["text"]["texts"]["de"]["title"]


# -- the ledger ------------------------------------------------------------------------------------------
def test_grant_new_text_withdraw_history_and_the_withdrawal_event(
    stack: Stack, admin: Browser, amqp_url: str
) -> None:
    purpose = f"events_{unique('e')[-6:]}"
    assert publish(admin, purpose, "v1", "Invitations to our user days").status_code == 201
    browser, me = member(stack)
    granted = browser.post("/api/v1/me/consents", json={"purpose": purpose, "version": "v1"})
    assert granted.status_code == 201, granted.text
    assert granted.json()["client_address"] == "127.0.0.0"  # truncated before it is stored

    assert publish(admin, purpose, "v2", "Invitations, now with dinner").status_code == 201
    state = states(browser)[purpose]
    assert (state["state"], state["version"], state["current_version"]) == ("granted", "v1", "v2")
    history = browser.get("/api/v1/me/consents").json()["history"]
    assert history[0]["text"]["texts"]["en"]["body"] == "Invitations to our user days"
    old = browser.post("/api/v1/me/consents", json={"purpose": purpose, "version": "v1"})
    assert "not the current one" in error(old, 422)

    with EventTap(amqp_url, "consent", "consent.withdrawn") as tap:
        withdrawn = browser.delete(f"/api/v1/me/consents/{purpose}")
        assert withdrawn.status_code == 200, withdrawn.text
        record_id = withdrawn.json()["record"]["id"]
        events = wait_for(
            lambda: [e for e in tap.drain() if e["payload"]["record_id"] == record_id],
            10,  # type: ignore[index]
            what="the consent.withdrawn event",
        )
    assert events[0]["payload"]["account_id"] == me["id"]  # type: ignore[index]
    assert me["email"] not in str(events[0]) and "Marie" not in str(events[0])
    history = browser.get("/api/v1/me/consents").json()["history"]
    mine = [(r["action"], r["version"]) for r in history if r["purpose"] == purpose]
    assert mine == [("withdrawal", "v1"), ("grant", "v1")]
    assert [
        r["text"]["texts"]["en"]["body"]
        for r in history
        if r["purpose"] == purpose and r["action"] == "grant"
    ] == ["Invitations to our user days"]


def test_unknown_purposes_and_old_versions_are_422_and_records_cannot_be_edited(stack: Stack) -> None:
    browser, _ = member(stack)
    version = browser.current_version("newsletter")
    for body in (
        {"purpose": "horoscope", "version": version},
        {"purpose": "newsletter", "version": "2020-01"},
        {"purpose": "access_logs", "version": version},
        {"purpose": "Newsletter!", "version": version},
        {"purpose": "newsletter", "version": version, "state": "granted"},
    ):
        assert browser.post("/api/v1/me/consents", json=body).status_code == 422, body
    assert (
        browser.post("/api/v1/me/consents", json={"purpose": "newsletter", "version": version}).status_code
        == 201
    )
    record_id = browser.get("/api/v1/me/consents").json()["history"][0]["id"]
    for method, path in (
        ("PUT", "/api/v1/me/consents"),
        ("PATCH", "/api/v1/me/consents"),
        ("PUT", f"/api/v1/me/consents/{record_id}"),
        ("PATCH", "/api/v1/me/consents/newsletter"),
        ("DELETE", f"/api/v1/me/consents/records/{record_id}"),
        ("DELETE", "/api/v1/me/consents"),
    ):
        assert browser.request(method, path, json={}).status_code in (404, 405), (method, path)
    assert browser.delete("/api/v1/me/consents/newsletter").status_code == 200
    history = browser.get("/api/v1/me/consents").json()["history"]
    assert [r["action"] for r in history if r["purpose"] == "newsletter"] == ["withdrawal", "grant"]
    assert browser.delete("/api/v1/me/consents/horoscope").status_code == 422


def test_the_gpc_signal_refuses_analytics_with_its_reason(stack: Stack) -> None:
    browser, _ = member(stack)
    assert states(browser)["analytics"]["state"] == "not_given"
    assert states(browser, **{"Sec-GPC": "1"})["analytics"]["state"] == "refused"
    history = browser.get("/api/v1/me/consents").json()["history"]
    refusal = next(r for r in history if r["purpose"] == "analytics")
    assert (refusal["action"], refusal["reason"]) == ("refusal", "global_privacy_control")
    version = browser.current_version("analytics")
    granted = browser.post(
        "/api/v1/me/consents", json={"purpose": "analytics", "version": version}, headers={"Sec-GPC": "1"}
    )
    assert granted.json()["action"] == "refusal"
    assert (
        browser.post("/api/v1/me/consents", json={"purpose": "analytics", "version": version}).json()[
            "action"
        ]
        == "grant"
    )


def test_a_log_in_with_gpc_withdraws_analytics(stack: Stack) -> None:
    browser, me = member(stack)
    browser.post(
        "/api/v1/me/consents", json={"purpose": "analytics", "version": browser.current_version("analytics")}
    )
    again = Browser(stack.gateway_url, **{"Sec-GPC": "1"})
    assert again.post("/api/v1/session", json={"email": me["email"], "password": PASSWORD}).status_code == 200
    assert states(browser)["analytics"]["state"] == "withdrawn"


# -- privacy requests ---------------------------------------------------------------------------------
def follow(stack: Stack, request_id: str, token: str) -> dict[str, Any]:
    reply = Browser(stack.gateway_url).get(f"/api/v1/privacy-requests/{request_id}", params={"token": token})
    assert reply.status_code == 200, reply.text
    return dict(reply.json())


def test_erasure_from_the_portal_fans_out_and_completes_with_every_receipt(
    stack: Stack, consent_db: Database
) -> None:
    browser, me = member(stack)
    browser.post(
        "/api/v1/me/consents",
        json={"purpose": "newsletter", "version": browser.current_version("newsletter")},
    )
    opened = browser.post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request_id, token = opened.json()["request"]["id"], opened.json()["follow_token"]
    assert "pr_" in mail_text(wait_for_mail(me["email"], "privacy-request"))
    done = wait_for(
        lambda: (r := follow(stack, request_id, token))["status"] == "complete" and r,
        20,
        what="the erasure to complete",
    )
    receipts = sorted(r["service"] for r in done["receipts"])
    assert receipts == ["analytics", "consent", "identity", "newsletter", "shop"]
    identity_receipt = next(r for r in done["receipts"] if r["service"] == "identity")
    assert any("account" in item for item in identity_receipt["deleted"])
    assert browser.get("/api/v1/me").status_code == 401
    again = Browser(stack.gateway_url).post(
        "/api/v1/session", json={"email": me["email"], "password": PASSWORD}
    )
    assert again.status_code == 401
    records = list(consent_db.consent_records.find({"account_id": me["id"]}))
    assert records and all("pseudonymised_at" in r and "email" not in r and "name" not in r for r in records)
    assert {r["purpose"] for r in records} == {"account", "newsletter"}
    wrong = Browser(stack.gateway_url).get(
        f"/api/v1/privacy-requests/{request_id}", params={"token": "x" * 43}
    )
    error(wrong, 404)


def test_a_request_without_an_account_is_confirmed_by_mail(stack: Stack) -> None:
    anonymous = Browser(stack.gateway_url)
    email = address(stack)
    filed = anonymous.post("/api/v1/privacy-requests", json={"email": email, "kind": "access"})
    assert filed.status_code == 202 and "request" not in filed.json()
    mail = wait_for_mail(email, "privacy-request-confirmation")
    request_id, token = re.search(
        r"privacy-requests/(pr_[0-9a-f]{32})\?token=([\w-]{43})", mail_text(mail)
    ).groups()  # type: ignore[union-attr]
    assert follow(stack, request_id, token)["status"] == "awaiting_confirmation"
    confirmed = anonymous.post("/api/v1/privacy-requests/confirm", json={"token": token_in(mail)})
    assert confirmed.status_code == 200, confirmed.text
    # An access request is answered by the download link mailed now (issue 14).
    assert (confirmed.json()["id"], confirmed.json()["status"]) == (request_id, "in_progress")
    for bad in (
        {"email": email, "kind": "deletion"},
        {"email": "nobody", "kind": "access"},
        {"email": email, "kind": "objection"},
        {"email": email},
    ):
        assert anonymous.post("/api/v1/privacy-requests", json=bad).status_code == 422, bad
    error(anonymous.post("/api/v1/privacy-requests/confirm", json={"token": "y" * 43}), 422)
    error(anonymous.get("/api/v1/privacy-requests/not-an-id", params={"token": "z"}), 422)


def test_access_without_an_account_is_a_single_use_expiring_download_by_mail(
    stack: Stack, admin: Browser, consent_db: Database
) -> None:
    """Issue 14: a person without an account who sent a contact request asks for their data.
    Once confirmed, a second mail brings a download link; the document holds what identity
    keeps of them, with every service's purposes; the download completes the request for
    staff; the link then, or a forged, wrong or expired one, gets 410 and changes nothing."""
    anonymous = Browser(stack.gateway_url)
    email = address(stack)
    contact = {"name": "Lise Meitner", "email": email, "message": "Please send a quote", "kind": "contact"}
    assert anonymous.post("/api/v1/contact", json=contact).status_code == 202
    assert (
        anonymous.post("/api/v1/privacy-requests", json={"email": email, "kind": "access"}).status_code == 202
    )
    confirmed = anonymous.post(
        "/api/v1/privacy-requests/confirm",
        json={"token": token_in(wait_for_mail(email, "privacy-request-confirmation"))},
    )
    assert confirmed.status_code == 200, confirmed.text
    request_id = confirmed.json()["id"]
    assert confirmed.json()["status"] == "in_progress" and "download link" in confirmed.json()["decision"]
    mail = wait_for_mail(email, "privacy-data-ready")
    link = re.search(
        r"(/api/v1/privacy-requests/pr_[0-9a-f]{32}/data-export)\?token=([\w-]{43})", mail_text(mail)
    )
    assert link is not None and request_id in link.group(1)
    path, token = link.groups()

    for wrong in ({"token": "x" * 43}, {"token": "short"}):
        refused = anonymous.get(path, params=wrong)
        assert refused.status_code in (410, 422), refused.text
    other = anonymous.get(f"/api/v1/privacy-requests/pr_{'0' * 32}/data-export", params={"token": token})
    assert error(other, 410)
    assert consent_db.privacy_downloads.count_documents({"_id": request_id}) == 1  # still usable

    got = anonymous.get(path, params={"token": token})
    assert got.status_code == 200, got.text
    assert got.headers["X-Export-Complete"] == "true" and "attachment" in got.headers["Content-Disposition"]
    document = got.json()
    parts = {part["service"]: part for part in document["services"]}
    assert set(parts) == {"identity", "consent", "shop", "newsletter", "analytics"}
    assert "Please send a quote" in json.dumps(parts["identity"]["data"])
    assert all(part["purposes"] and part["retention"] for part in parts.values())
    assert "used" in error(anonymous.get(path, params={"token": token}), 410)

    listed = admin.get("/api/v1/admin/privacy-requests", params={"kind": "access", "status": "complete"})
    mine = [r for r in listed.json() if r["id"] == request_id]
    assert mine and mine[0]["completed_at"] and "downloaded" in mine[0]["decision"]

    # An expired link: a second request, its link's end moved into the past.
    assert (
        anonymous.post("/api/v1/privacy-requests", json={"email": email, "kind": "access"}).status_code == 202
    )
    second = wait_for_mail(email, "privacy-request-confirmation", count=2)
    reconfirmed = anonymous.post("/api/v1/privacy-requests/confirm", json={"token": token_in(second)})
    second_id = reconfirmed.json()["id"]
    late = token_in(wait_for_mail(email, "privacy-data-ready", count=2))
    consent_db.privacy_downloads.update_one(
        {"_id": second_id}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
    )
    assert "expired" in error(
        anonymous.get(f"/api/v1/privacy-requests/{second_id}/data-export", params={"token": late}), 410
    )
    assert follow_status(admin, second_id) == "in_progress"


def follow_status(admin: Browser, request_id: str) -> str:
    listed = admin.get("/api/v1/admin/privacy-requests", params={"kind": "access"})
    assert listed.status_code == 200, listed.text
    return str(next(r["status"] for r in listed.json() if r["id"] == request_id))


def test_bad_privacy_input_is_refused_clearly_and_changes_nothing(
    stack: Stack, consent_db: Database, amqp_url: str
) -> None:
    """Issue 14's list: an erasure for an address nobody holds, a confirmation link used
    again, a forged follow token, a receipt for a request that does not exist. (The test
    taps and publishes with the broker's administrator; consent's own user may not.)"""
    anonymous = Browser(stack.gateway_url)
    _, known = member(stack)
    nobody = address(stack)
    # Nobody's address: the very same answer as anyone's (whether an address is known is
    # not given away), one mail to that mailbox, and nothing published until it is confirmed.
    with EventTap(amqp_url, "consent", "privacy.erasure_requested") as tap:
        answers = [
            anonymous.post("/api/v1/privacy-requests", json={"email": email, "kind": "erasure"})
            for email in (nobody, known["email"])
        ]
        assert [a.status_code for a in answers] == [202, 202] and answers[0].json() == answers[1].json()
        token = token_in(wait_for_mail(nobody, "privacy-request-confirmation"))
        assert tap.drain(1.0) == []
        confirmed = anonymous.post("/api/v1/privacy-requests/confirm", json={"token": token})
        assert confirmed.status_code == 200, confirmed.text
        request_id = confirmed.json()["id"]
        # The same link again: the request as it is, no second erasure published.
        replayed = anonymous.post("/api/v1/privacy-requests/confirm", json={"token": token})
        assert replayed.status_code == 200 and replayed.json()["id"] == request_id
        published = [e for e in tap.drain(2.0) if e["payload"]["request_id"] == request_id]  # type: ignore[index]
        assert len(published) == 1
    # A forged follow token shows nothing.
    error(anonymous.get(f"/api/v1/privacy-requests/{request_id}", params={"token": "f" * 43}), 404)
    # The known person is untouched: they still log in.
    again = Browser(stack.gateway_url).post(
        "/api/v1/session", json={"email": known["email"], "password": PASSWORD}
    )
    assert again.status_code == 200, again.text

    # A receipt for a request that does not exist is dropped with a warning, not filed,
    # and leaves no dead letter.
    stranger = "pr_" + uuid.uuid4().hex
    publisher = EventPublisher(amqp_url)
    receipt = Receipt(request_id=stranger, kind="erasure", note="nothing held")
    publisher.publish(
        Envelope(type="privacy.receipt", source="shop", subject_key="a" * 64, payload=receipt.payload())
    )
    publisher.close()
    wait_for(
        lambda: (
            "receipt for no matching privacy request ignored" in stack.backends["consent"].worker.log()
            or any("receipt for no matching" in w.log() for w in stack.backends["consent"].workers)
        ),
        15,
        what="consent to drop the stray receipt",
    )
    assert consent_db.privacy_receipts.count_documents({"request_id": stranger}) == 0
    assert consent_db.privacy_requests.count_documents({"_id": stranger}) == 0
    with Connection(amqp_url) as connection:
        dead = f"{stack.backends['consent'].queue_group}.dead"
        assert connection.channel().queue_declare(queue=dead, passive=True)[1] == 0


def test_restriction_marks_the_account_and_lifting_it_unmarks(stack: Stack, admin: Browser) -> None:
    browser, _ = member(stack)
    opened = browser.post("/api/v1/me/restriction", json={})
    assert opened.status_code == 202, opened.text
    request_id, token = opened.json()["request"]["id"], opened.json()["follow_token"]
    done = wait_for(
        lambda: (r := follow(stack, request_id, token))["status"] == "complete" and r,
        20,
        what="the restriction to complete",
    )
    assert any(r["blocked"] for r in done["receipts"] if r["service"] == "identity")
    assert browser.get("/api/v1/me").json()["restricted"] is True
    assert browser.delete("/api/v1/me/restriction").status_code == 202
    wait_for(
        lambda: browser.get("/api/v1/me").json()["restricted"] is False,
        20,
        what="the restriction to be lifted",
    )
    kinds = [r["kind"] for r in browser.get("/api/v1/me/privacy-requests").json()]
    assert sorted(kinds) == ["restriction", "restriction_lift"]


def test_objections_direct_marketing_at_once_others_by_staff(stack: Stack, admin: Browser) -> None:
    browser, _ = member(stack)
    browser.post(
        "/api/v1/me/consents",
        json={"purpose": "newsletter", "version": browser.current_version("newsletter")},
    )
    at_once = browser.post("/api/v1/me/objections", json={"purpose": "newsletter", "reason": "no more mail"})
    assert at_once.json()["request"]["status"] == "complete"
    assert states(browser)["newsletter"]["state"] == "withdrawn"
    queued = browser.post(
        "/api/v1/me/objections", json={"purpose": "access_logs", "reason": "I do not want logs"}
    )
    request_id = queued.json()["request"]["id"]
    assert queued.json()["request"]["status"] == "open"
    listed = admin.get(
        "/api/v1/admin/privacy-requests", params={"kind": "objection", "status": "open"}
    ).json()
    assert request_id in [r["id"] for r in listed]
    decided = admin.post(
        f"/api/v1/admin/privacy-requests/{request_id}/decision",
        json={"uphold": False, "reason": "security logs, kept 7 days"},
    )
    assert decided.status_code == 200, decided.text
    mine = {r["id"]: r for r in browser.get("/api/v1/me/privacy-requests").json()}
    assert mine[request_id]["status"] == "rejected"
    assert "security logs" in mine[request_id]["decision"]


def test_staff_read_the_ledger_a_page_at_a_time(stack: Stack, admin: Browser) -> None:
    for _ in range(3):
        browser, _ = member(stack)
        assert (
            browser.post(
                "/api/v1/me/objections", json={"purpose": "access_logs", "reason": "paging"}
            ).status_code
            == 202
        )
    seen: list[dict[str, Any]] = []
    url = "/api/v1/admin/privacy-requests?kind=objection&status=open&limit=2"
    while url:
        page = admin.get(url)
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 2
        seen += page.json()
        link = page.headers.get("Link", "")
        url = (
            re.match(r'<(/api/v1/admin/privacy-requests\?[^>]+)>; rel="next"', link).group(1) if link else ""
        )  # type: ignore[union-attr]
    assert len(seen) >= 3 and len({r["id"] for r in seen}) == len(seen)
    assert [r["due_at"] for r in seen] == sorted(r["due_at"] for r in seen)
    # Not past due, and nobody to wait for (an objection does not fan out).
    assert all(r["overdue"] is False and r["waiting_for"] == [] for r in seen)
    late = admin.get("/api/v1/admin/privacy-requests", params={"overdue": "true", "kind": "objection"})
    assert late.status_code == 200, late.text
    assert not {r["id"] for r in late.json()} & {r["id"] for r in seen}
    error(admin.get("/api/v1/admin/privacy-requests", params={"page_token": "?!"}), 422)


def test_staff_routes_are_for_staff_only(stack: Stack) -> None:
    browser, _ = member(stack)
    anonymous = Browser(stack.gateway_url)
    some_id = "pr_" + "0" * 32
    for method, path, body in (
        ("GET", "/api/v1/admin/privacy-requests", None),
        ("POST", "/api/v1/admin/consent-texts", {"purpose": "x", "version": "1"}),
        ("POST", f"/api/v1/admin/privacy-requests/{some_id}/status", {"status": "complete"}),
        ("POST", f"/api/v1/admin/privacy-requests/{some_id}/decision", {"uphold": True, "reason": "r"}),
    ):
        assert browser.request(method, path, json=body).status_code == 403, path
        assert anonymous.request(method, path, json=body).status_code == 401, path


def test_no_address_or_name_reaches_any_log(stack: Stack) -> None:
    logs = "".join(process.log() for process in stack.processes())
    assert SEEN and not [email for email in SEEN if email in logs]
    assert "Marie Curie" not in logs and "Traceback" not in logs
