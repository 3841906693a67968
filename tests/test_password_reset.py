"""Forgotten password and password change through the gateway's JSON API: the whole system
(gateway, every backend with its replicas, store, broker) and the real SMTP sink, whose
Maildir the mails are read from."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe_common import tokens
from lethe_testing import Browser, Stack, mail_text, mails_to, token_in, unique, wait_for, wait_for_mail
from lethe_testing.web import csrf_of

PASSWORD = "violet tractor umbrella 42"
NEW_PASSWORD = "seven quiet herons at dawn"
SESSION_CACHE_SECONDS = 2  # LETHE_GATEWAY_SESSION_CACHE_SECONDS: how long a GET may see an ended session
RESET = "/api/v1/accounts/password-reset"
COMPLETE = "/api/v1/accounts/password-reset/complete"
CHANGE = "/api/v1/me/password"


@pytest.fixture(scope="module")
def identity_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["identity"].db_name]


@pytest.fixture
def people(stack: Stack) -> Iterator[list[Browser]]:
    opened: list[Browser] = []
    yield opened
    for browser in opened:
        browser.close()


def browser(stack: Stack, people: list[Browser]) -> Browser:
    opened = Browser(stack.gateway_url)
    people.append(opened)
    return opened


def address(stack: Stack) -> str:
    return f"{unique('pw')}-{stack.run_id}@customer.example".lower()


def member(stack: Stack, people: list[Browser]) -> tuple[Browser, str]:
    """A verified, logged-in person and their address."""
    person, email = browser(stack, people), address(stack)
    person.sign_up(email, PASSWORD)
    return person, email


def log_in(stack: Stack, people: list[Browser], email: str, password: str = PASSWORD) -> Browser:
    """Another device of the same person: a session of its own."""
    device = browser(stack, people)
    answer = device.post("/api/v1/session", json={"email": email, "password": password})
    assert answer.status_code == 200, answer.text
    return device


def session_works(device: Browser) -> bool:
    """Whether the device's session is alive, asked of identity itself: a state-changing
    request is never answered from the gateway's short session cache."""
    answer = device.request("PATCH", "/api/v1/me", json={})
    assert answer.status_code in (200, 401), answer.text
    return bool(answer.status_code == 200)


def error_of(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"] and "Traceback" not in response.text
    return dict(error)


def reset_link(stack: Stack, anyone: Browser, email: str, count: int = 1) -> str:
    answer = anyone.post(RESET, json={"email": email})
    assert answer.status_code == 202, answer.text
    mail = wait_for_mail(email, "password-reset", count)
    assert f"{stack.gateway_url}/reset-password?token=" in mail_text(mail)
    return token_in(mail)


def test_a_forgotten_password_gets_the_same_answer_for_every_address_and_a_mail_only_for_an_account(
    stack: Stack, people: list[Browser]
) -> None:
    _, known = member(stack, people)
    stranger = browser(stack, people)
    unknown = address(stack)
    answers = [stranger.post(RESET, json={"email": email}) for email in (unknown, known)]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].json() == answers[1].json() and "link" in answers[0].json()["message"]
    assert set(answers[0].headers.get_list("set-cookie")) == set(answers[1].headers.get_list("set-cookie"))
    wait_for_mail(known, "password-reset")
    assert mails_to(unknown) == []
    error_of(stranger.post(RESET, json={"email": "not an address"}), 422)
    error_of(stranger.post(RESET, json={"email": known, "name": "Mallory"}), 422)  # unknown field


def test_the_mailed_link_sets_a_new_password_once_and_ends_every_session(
    stack: Stack, people: list[Browser]
) -> None:
    laptop, email = member(stack, people)
    phone = log_in(stack, people, email)
    assert laptop.get("/api/v1/me").status_code == 200 and phone.get("/api/v1/me").status_code == 200
    token = reset_link(stack, browser(stack, people), email)
    # The laptop, still logged in, opens the link: its own session ends too, and its cookies go.
    done = laptop.post(COMPLETE, json={"token": token, "new_password": NEW_PASSWORD})
    assert done.status_code == 200, done.text
    assert "log in again" in done.json()["message"]
    assert any(
        h.startswith("lethe_session=") and "Max-Age=0" in h for h in done.headers.get_list("set-cookie")
    )
    assert "lethe_session" not in laptop.http.cookies
    assert not session_works(phone)
    # A GET may be answered from the gateway's short cache of the session, for 2 s at most.
    wait_for(lambda: phone.get("/api/v1/me").status_code == 401, SESSION_CACHE_SECONDS + 3, what="401")
    error_of(phone.get("/api/v1/me"), 401)

    error_of(browser(stack, people).post("/api/v1/session", json={"email": email, "password": PASSWORD}), 401)
    log_in(stack, people, email, NEW_PASSWORD)
    again = error_of(
        laptop.post(COMPLETE, json={"token": token, "new_password": "yet another passphrase"}), 410
    )
    assert again["code"] == "link_expired" and "ask for a new one" in again["message"]
    log_in(stack, people, email, NEW_PASSWORD)  # the second use changed nothing

    notice = wait_for_mail(email, "password-changed")
    text = mail_text(notice)
    assert (
        "Every session of your account has ended" in text and f"{stack.gateway_url}/forgot-password" in text
    )
    assert NEW_PASSWORD not in text and PASSWORD not in text and "Ada" not in text


def test_an_expired_link_is_refused_with_the_same_answer_as_a_used_one(
    stack: Stack, people: list[Browser], identity_db: Database
) -> None:
    _, email = member(stack, people)
    stranger = browser(stack, people)
    token = reset_link(stack, stranger, email)
    identity_db["verification_tokens"].update_one(
        {"_id": tokens.digest(token)}, {"$set": {"expires_at": datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    expired = error_of(stranger.post(COMPLETE, json={"token": token, "new_password": NEW_PASSWORD}), 410)
    assert expired == {
        "code": "link_expired",
        "message": "this link to set a new password has expired or has already been used; "
        "please ask for a new one",
    }
    log_in(stack, people, email, PASSWORD)  # the password stayed
    fresh = reset_link(stack, stranger, email, count=2)  # a new link works
    assert stranger.post(COMPLETE, json={"token": fresh, "new_password": NEW_PASSWORD}).status_code == 200
    error_of(stranger.post(COMPLETE, json={"token": "x" * 43, "new_password": NEW_PASSWORD}), 410)


def test_a_new_password_against_the_policy_is_refused_and_the_link_stays_usable(
    stack: Stack, people: list[Browser]
) -> None:
    _, email = member(stack, people)
    stranger = browser(stack, people)
    token = reset_link(stack, stranger, email)
    error_of(stranger.post(COMPLETE, json={"token": token, "new_password": "short"}), 422)
    common = error_of(stranger.post(COMPLETE, json={"token": token, "new_password": "Password2024!"}), 422)
    assert "too common" in common["message"]
    assert stranger.post(COMPLETE, json={"token": token, "new_password": NEW_PASSWORD}).status_code == 200


def test_a_change_keeps_this_session_ends_every_other_and_sends_a_notice(
    stack: Stack, people: list[Browser]
) -> None:
    laptop, email = member(stack, people)
    phone = log_in(stack, people, email)
    forged = laptop.http.put(CHANGE, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert "X-CSRF-Token" in error_of(forged, 403)["message"]  # the header is missing
    wrong = error_of(
        laptop.request(
            "PUT", CHANGE, json={"current_password": "not my password", "new_password": NEW_PASSWORD}
        ),
        403,
    )
    assert wrong == {"code": "forbidden", "message": "the current password is wrong"}
    error_of(laptop.request("PUT", CHANGE, json={"current_password": PASSWORD, "new_password": "short"}), 422)
    assert session_works(phone) and mails_to(email, kind="password-changed") == []

    changed = laptop.request("PUT", CHANGE, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert session_works(laptop) and laptop.get("/api/v1/me").json()["email"] == email
    assert not session_works(phone)
    time.sleep(SESSION_CACHE_SECONDS + 0.5)
    error_of(phone.get("/api/v1/me"), 401)
    error_of(browser(stack, people).post("/api/v1/session", json={"email": email, "password": PASSWORD}), 401)
    log_in(stack, people, email, NEW_PASSWORD)
    text = mail_text(wait_for_mail(email, "password-changed"))
    assert "in your profile" in text and "Every other session of your account has ended" in text
    assert NEW_PASSWORD not in text and PASSWORD not in text


def test_a_change_needs_a_session(stack: Stack, people: list[Browser]) -> None:
    nobody = browser(stack, people)
    error_of(
        nobody.request("PUT", CHANGE, json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}), 401
    )


def test_the_api_document_describes_the_password_routes(stack: Stack) -> None:
    paths = httpx.get(f"{stack.gateway_url}/api/v1/openapi.json", timeout=10).json()["paths"]
    assert "post" in paths[RESET] and "post" in paths[COMPLETE] and "put" in paths[CHANGE]
    assert "410" in paths[COMPLETE]["post"]["responses"]
    assert paths[COMPLETE]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_the_pages_refuse_a_form_without_its_csrf_field_and_show_errors_at_their_fields(
    stack: Stack, people: list[Browser]
) -> None:
    person, email = member(stack, people)
    visitor = httpx.Client(base_url=stack.gateway_url, follow_redirects=False, timeout=30)
    form = visitor.get("/forgot-password")
    assert form.status_code == 200 and 'autocomplete="email"' in form.text
    assert visitor.post("/forgot-password", data={"email": email}).status_code == 403
    assert visitor.post("/forgot-password", data={"email": email, "csrf_token": "forged"}).status_code == 403
    time.sleep(0.5)
    assert mails_to(email, kind="password-reset") == []  # nothing was asked for
    sent = visitor.post("/forgot-password", data={"email": email, "csrf_token": csrf_of(form)})
    unknown = visitor.post("/forgot-password", data={"email": address(stack), "csrf_token": csrf_of(form)})
    assert sent.status_code == unknown.status_code == 200
    assert "Please check your mail" in sent.text and "Please check your mail" in unknown.text
    token = token_in(wait_for_mail(email, "password-reset"))

    page = visitor.get(f"/reset-password?token={token}")
    assert page.status_code == 200 and token in page.text and 'autocomplete="new-password"' in page.text
    mismatch = visitor.post(
        "/reset-password",
        data={
            "csrf_token": csrf_of(page),
            "token": token,
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD + "!",
        },
    )
    assert mismatch.status_code == 422
    assert 'aria-describedby="f-repeat_password-error"' in mismatch.text
    assert 'id="f-repeat_password-error">The two passwords are not the same.' in mismatch.text
    assert person.get("/api/v1/me").status_code == 200  # nothing happened
    assert (
        visitor.post("/reset-password", data={"token": token, "new_password": NEW_PASSWORD}).status_code
        == 403
    )

    # Logged in: the change form, whose CSRF field is the session's own token.
    account = person.get("/account")
    assert 'href="/account/password"' in account.text
    change = person.get("/account/password")
    assert change.status_code == 200 and 'autocomplete="current-password"' in change.text
    refused = person.post(
        "/account/password",
        data={
            "csrf_token": csrf_of(change),
            "current_password": "not my password",
            "new_password": NEW_PASSWORD,
            "repeat_password": NEW_PASSWORD,
        },
    )
    assert refused.status_code == 403 and 'aria-describedby="f-current_password-error' in refused.text
    assert visitor.get("/account/password").headers["location"] == "/login?next=/account/password"
    assert 'href="/forgot-password"' in visitor.get("/login").text
