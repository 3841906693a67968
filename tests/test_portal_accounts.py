"""The portal's first pages through the real system: register with the account text shown in
full, activate from the mailed link, log in and out, choose cookies, switch language; every
form refused without its CSRF field, and bad input shown at its field."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from lethe_testing import Stack
from lethe_testing.maildir import token_in, wait_for_mail
from lethe_testing.web import csrf_of

PASSWORD = "a long passphrase for pages"


@pytest.fixture
def visitor(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, follow_redirects=False, timeout=30)


def register(visitor: httpx.Client, email: str, **extra: str) -> httpx.Response:
    form = visitor.get("/register")
    assert form.status_code == 200
    version = re.search(r'name="consent_version" value="([^"]+)"', form.text)
    assert version
    data = {
        "csrf_token": csrf_of(form),
        "email": email,
        "name": "Page Person",
        "password": PASSWORD,
        "consent_version": version[1],
        "consent": "yes",
        **extra,
    }
    return visitor.post("/register", data={k: v for k, v in data.items() if v is not None})


def test_a_new_person_registers_activates_from_the_mail_and_logs_in_and_out(visitor: httpx.Client) -> None:
    email = f"page-{uuid.uuid4().hex[:8]}@example.com"
    form = visitor.get("/register")
    assert "I agree that Lethe opens a customer account for me" in form.text  # the text in full
    assert register(visitor, email).status_code == 200
    link = token_in(wait_for_mail(email, "verification"))
    landing = visitor.get(f"/verify-email?token={link}")
    assert landing.status_code == 200 and 'type="password"' in landing.text
    activated = visitor.post(
        "/verify-email", data={"csrf_token": csrf_of(landing), "token": link, "password": PASSWORD}
    )
    assert activated.status_code == 200 and "account is active" in activated.text

    login = visitor.get("/login")
    wrong = visitor.post(
        "/login",
        data={"csrf_token": csrf_of(login), "email": email, "password": "not the password", "next": "/"},
    )
    assert wrong.status_code == 401 and "wrong" in wrong.text
    entered = visitor.post(
        "/login",
        data={
            "csrf_token": csrf_of(login),
            "email": email,
            "password": PASSWORD,
            "remember_me": "yes",
            "next": "/account",
        },
    )
    assert entered.status_code == 303 and entered.headers["location"] == "/account"
    session = next(c for c in visitor.cookies.jar if c.name == "lethe_session")
    assert session.expires is not None  # remember me: a persistent cookie
    account = visitor.get("/account")
    assert account.status_code == 200 and email in account.text
    assert visitor.get("/api/v1/me").json()["email"] == email  # the same session as the JSON API

    assert csrf_of(account)  # the form has the field; log-out does not need it (issue 18)
    session_token = visitor.cookies["lethe_session"]
    visitor.cookies.delete("lethe_csrf")
    left = visitor.post("/logout", data={})
    assert left.status_code == 303 and left.headers["location"] == "/login?out=1"
    gone = httpx.get(visitor.base_url.join("/api/v1/me"), cookies={"lethe_session": session_token})
    assert gone.status_code == 401  # ended on the server, not only in this browser
    assert "lethe_session" not in visitor.cookies
    assert visitor.get("/account").status_code == 303


def test_bad_input_is_shown_at_its_fields_and_nothing_is_registered(visitor: httpx.Client) -> None:
    email = f"bad-{uuid.uuid4().hex[:8]}@example.com"
    refused = register(visitor, "not an address", password="short", consent=None)
    assert refused.status_code == 422
    assert set(re.findall(r'id="f-([a-z]+)-error"', refused.text)) == {"email", "password", "consent"}
    assert 'aria-invalid="true"' in refused.text and 'aria-describedby="f-email-error' in refused.text
    assert 'value="not an address"' in refused.text  # what was typed stays
    taken = register(visitor, email)
    assert taken.status_code == 200
    again = register(visitor, email)  # answered like the first (issue 18); the holder is told
    assert again.status_code == 200
    sent = re.compile(r"<main.*</main>", re.S)
    assert sent.findall(again.text) == sent.findall(taken.text)
    wait_for_mail(email, "address-in-use")


def test_a_form_without_its_csrf_field_changes_nothing(visitor: httpx.Client) -> None:
    email = f"csrf-{uuid.uuid4().hex[:8]}@example.com"
    visitor.get("/register")  # the visitor's CSRF cookie is set
    forged = visitor.post(
        "/register", data={"email": email, "name": "X", "password": PASSWORD, "consent": "yes"}
    )
    assert forged.status_code == 403
    assert visitor.post("/cookies", data={"choice": "accepted", "csrf_token": "forged"}).status_code == 400
    assert "lethe_consent_choice" not in visitor.cookies


def test_the_cookie_choice_and_the_language_switch(visitor: httpx.Client) -> None:
    first = visitor.get("/")
    assert first.status_code == 200 and 'name="choice" value="accepted"' in first.text  # the banner
    assert set(visitor.cookies.keys()) == {"lethe_csrf"}  # strictly necessary only
    chosen = visitor.post("/cookies", data={"csrf_token": csrf_of(first), "choice": "declined", "next": "/"})
    assert chosen.status_code == 303 and visitor.cookies["lethe_consent_choice"] == "declined"
    assert 'name="choice" value="accepted"' not in visitor.get("/").text  # no banner once chosen
    settings = visitor.get("/cookies")
    assert "You declined analytics." in settings.text

    gpc = httpx.get(f"{visitor.base_url}/cookies", headers={"Sec-GPC": "1"})
    assert "Global Privacy Control" in gpc.text and "You declined analytics." in gpc.text

    german = visitor.get("/", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert '<html lang="de">' in german.text and "Anmelden" in german.text
    switched = visitor.post("/language", data={"csrf_token": csrf_of(first), "to": "en", "next": "/cookies"})
    assert switched.status_code == 303 and switched.headers["location"] == "/cookies"
    assert '<html lang="en">' in visitor.get("/", headers={"Accept-Language": "de"}).text
    outside = visitor.post(
        "/language", data={"csrf_token": csrf_of(first), "to": "de", "next": "//evil.example/"}
    )
    assert outside.headers["location"] == "/"  # never a redirect to another site


def test_the_catalogue_and_a_product_page(visitor: httpx.Client) -> None:
    home = visitor.get("/")
    product = re.search(r'href="/products/([^"]+)"', home.text)
    assert product, "the start page lists products"
    page = visitor.get(f"/products/{product[1]}")
    assert page.status_code == 200 and "VAT" in page.text
    assert visitor.get("/products/prd_missing").status_code == 404
