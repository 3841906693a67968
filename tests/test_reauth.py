"""Re-authentication for a customer's own dangerous actions, and log-out with the session
cookie alone (issue 18), through the gateway's JSON API on the real stack.

Erasure of one's account (also by withdrawing the account consent) and a new e-mail
address need the password entered within 10 minutes: at log-in, or
``POST /api/v1/session/password-check`` since. "More than 10 minutes ago" is made by moving
the session's start back in the identity store and dropping its confirmations, as the
staff step-up's tests do.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe_testing import Stack, mails_to, unique
from lethe_testing.web import Browser

PASSWORD = "copper kettle morning tide"
REAUTH = "reauthentication_required"


@pytest.fixture(scope="module")
def identity_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["identity"].db_name]


def address(stack: Stack, local: str) -> str:
    return f"{unique(local)}-{stack.run_id}@customer.example".lower()


def customer(stack: Stack) -> tuple[Browser, str, str]:
    """A person signed up and logged in just now: the browser, the address, the account id."""
    browser = Browser(stack.gateway_url)
    email = address(stack, "re")
    account = browser.sign_up(email, PASSWORD, name="Rita Reauth")
    return browser, email, str(account["id"])


def password_entered_long_ago(identity_db: Database, account_id: str) -> None:
    """The account's sessions started 11 minutes ago, with no password entered since."""
    sessions = list(identity_db["sessions"].find({"account_id": account_id}, {"_id": 1}))
    assert sessions, "the person has a session"
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    identity_db["sessions"].update_many({"account_id": account_id}, {"$set": {"created_at": long_ago}})
    identity_db["session_confirmations"].delete_many({"_id": {"$in": [s["_id"] for s in sessions]}})


def refused_for_reauthentication(answer: httpx.Response) -> None:
    assert answer.status_code == 403, answer.text
    error = answer.json()["error"]
    assert error["code"] == REAUTH
    assert "password again" in error["message"] and "10 minutes" in error["message"]


def test_erasure_without_a_recent_password_is_refused_and_with_it_proceeds(
    stack: Stack, identity_db: Database
) -> None:
    browser, _, account_id = customer(stack)
    password_entered_long_ago(identity_db, account_id)

    refused_for_reauthentication(browser.post("/api/v1/me/erasure", json={"reason": "leaving"}))
    # Withdrawing the account consent erases the account too: the same rule.
    refused_for_reauthentication(browser.delete("/api/v1/me/consents/account"))
    assert browser.get("/api/v1/me/privacy-requests").json() == []  # nothing was opened
    assert browser.get("/api/v1/me").status_code == 200

    wrong = browser.post("/api/v1/session/password-check", json={"password": "not my password"})
    assert (wrong.status_code, wrong.json()["error"]["code"]) == (403, "forbidden")
    refused_for_reauthentication(browser.post("/api/v1/me/erasure", json={"reason": "leaving"}))
    assert browser.get("/api/v1/me/privacy-requests").json() == []

    # A customer's password-check works like staff's; then the erasure goes ahead.
    assert browser.post("/api/v1/session/password-check", json={"password": PASSWORD}).status_code == 204
    opened = browser.post("/api/v1/me/erasure", json={"reason": "leaving"})
    assert opened.status_code == 202, opened.text
    assert opened.json()["request"]["kind"] == "erasure"


def test_an_email_change_without_a_recent_password_is_refused_and_with_it_proceeds(
    stack: Stack, identity_db: Database
) -> None:
    browser, email, account_id = customer(stack)
    password_entered_long_ago(identity_db, account_id)
    new = address(stack, "moved")

    # Name and phone need no password.
    renamed = browser.request("PATCH", "/api/v1/me", json={"name": "Rita Renamed", "phone": "+49 30 1234567"})
    assert renamed.status_code == 200, renamed.text
    # The same address again is no change.
    assert browser.request("PATCH", "/api/v1/me", json={"email": email.upper()}).status_code == 200

    refused_for_reauthentication(
        browser.request("PATCH", "/api/v1/me", json={"name": "Rita Elsewhere", "email": new})
    )
    me = browser.get("/api/v1/me").json()
    assert (me["email"], me["pending_email"], me["name"]) == (email, None, "Rita Renamed")  # nothing changed
    time.sleep(1)
    assert mails_to(new) == []

    assert browser.post("/api/v1/session/password-check", json={"password": PASSWORD}).status_code == 204
    changed = browser.request("PATCH", "/api/v1/me", json={"email": new})
    assert changed.status_code == 200, changed.text
    assert changed.json()["pending_email"] == new


def test_right_after_log_in_the_password_counts_as_entered(stack: Stack, identity_db: Database) -> None:
    browser, _, account_id = customer(stack)
    password_entered_long_ago(identity_db, account_id)
    refused_for_reauthentication(browser.request("PATCH", "/api/v1/me", json={"email": address(stack, "x")}))
    email = browser.get("/api/v1/me").json()["email"]
    again = browser.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert again.status_code == 200
    assert browser.request("PATCH", "/api/v1/me", json={"email": address(stack, "y")}).status_code == 200


def test_a_password_change_asks_the_current_password_whenever_it_was_last_entered(
    stack: Stack, identity_db: Database
) -> None:
    browser, _, account_id = customer(stack)
    password_entered_long_ago(identity_db, account_id)
    body = {"current_password": "not my password", "new_password": "silver meadow under rain"}
    assert browser.request("PUT", "/api/v1/me/password", json=body).status_code == 403
    body["current_password"] = PASSWORD
    changed = browser.request("PUT", "/api/v1/me/password", json=body)
    assert changed.status_code == 200, changed.text


def test_log_out_needs_the_session_cookie_alone(stack: Stack) -> None:
    browser, _, _ = customer(stack)
    session = browser.http.cookies.get("lethe_session")
    assert session
    bare = httpx.Client(base_url=stack.gateway_url, timeout=30, cookies={"lethe_session": session})
    try:
        assert bare.get("/api/v1/me").status_code == 200
        # Every other state-changing request still needs the CSRF header.
        assert bare.post("/api/v1/me/portal-access").status_code == 403
        assert bare.request("PATCH", "/api/v1/me", json={"name": "Mallory"}).status_code == 403
        assert bare.delete("/api/v1/me/consents/analytics").status_code == 403
        assert bare.post("/api/v1/session/password-check", json={"password": PASSWORD}).status_code == 403
        assert browser.get("/api/v1/me").json()["name"] == "Rita Reauth"

        ended = bare.delete("/api/v1/session")
        assert ended.status_code == 204, ended.text
        assert "lethe_session=" in ended.headers.get("set-cookie", "")
        after = httpx.get(f"{stack.gateway_url}/api/v1/me", cookies={"lethe_session": session}, timeout=30)
        assert after.status_code == 401
        assert browser.get("/api/v1/me").status_code == 401  # the session ended on the server
    finally:
        bare.close()
