"""Access and portability through the gateway: ``GET /api/v1/me/data-export`` (issue 14).

Real gateway, identity, consent, shop and newsletter (API and worker each), store, broker,
SMTP sink and the payment provider's and supplier's fakes.
"""

from __future__ import annotations

import os
import re
import signal
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest

from lethe_analytics.inventory import INVENTORY as ANALYTICS_INVENTORY
from lethe_consent.inventory import INVENTORY as CONSENT_INVENTORY
from lethe_identity.inventory import INVENTORY as IDENTITY_INVENTORY
from lethe_newsletter.inventory import INVENTORY as NEWSLETTER_INVENTORY
from lethe_shop.inventory import INVENTORY as SHOP_INVENTORY
from lethe_testing import Browser, Stack, mail_text, start_stack, stop_stack, unique, wait_for, wait_for_mail

PASSWORD = "quartz meadow lighthouse 7"
CARD = "4242424242424242"
PHONE = "+49 30 5550123"
EXPORT = "/api/v1/me/data-export"
TIMEOUT_SECONDS = 3
LINK_TOKEN = re.compile(r"token=([A-Za-z0-9_.%-]+)")
SERVICES = ["identity", "consent", "shop", "newsletter", "analytics"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(
        unique("dx"),
        tmp_path_factory.mktemp("logs"),
        LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS=str(TIMEOUT_SECONDS),
    )
    yield running
    stop_stack(running)


def payment_token() -> str:
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def active_person(stack: Stack, name: str) -> tuple[Browser, str]:
    """Registers, verifies, grants a consent, subscribes to the newsletter and orders."""
    email = f"{unique('d')}-{stack.run_id}@person.example".lower()
    browser = Browser(stack.gateway_url)
    browser.sign_up(email, PASSWORD, name=name)
    granted = browser.post(
        "/api/v1/me/consents",
        json={"purpose": "analytics", "version": browser.current_version("analytics")},
    )
    assert granted.status_code == 201, granted.text

    subscribed = browser.post(
        "/api/v1/newsletter/subscriptions",
        json={"email": email, "name": name, "consent_version": browser.current_version("newsletter")},
    )
    assert subscribed.status_code == 202, subscribed.text
    found = LINK_TOKEN.search(mail_text(wait_for_mail(email, "newsletter-confirmation")))
    assert found is not None
    confirmed = browser.post("/api/v1/newsletter/confirm", json={"token": unquote(found.group(1))})
    assert confirmed.status_code == 200, confirmed.text

    products = {p["sku"]: p for p in browser.get("/api/v1/products").json()}
    where = {"name": name, "street": "Hauptstraße 1", "postcode": "10115", "city": "Berlin", "country": "DE"}
    placed = browser.post(
        "/api/v1/orders",
        json={
            "lines": [{"product_id": p["id"]} for p in products.values() if not p["files"]][:1],
            "billing": {**where, "phone": PHONE},
            "delivery": where,
            "payment_token": payment_token(),
        },
        headers={"Idempotency-Key": f"key-{uuid.uuid4().hex}"},
    )
    assert placed.status_code == 201, placed.text
    order_id = placed.json()["id"]
    wait_for(
        lambda: browser.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid",
        15,
        what="the order to be paid",
    )
    return browser, email


@pytest.fixture(scope="module")
def people(stack: Stack) -> Iterator[list[tuple[Browser, str]]]:
    both = [active_person(stack, "Rosalind Franklin"), active_person(stack, "Lise Meitner")]
    yield both
    for browser, _ in both:
        browser.close()


INVENTORIES = {
    "identity": IDENTITY_INVENTORY,
    "consent": CONSENT_INVENTORY,
    "shop": SHOP_INVENTORY,
    "newsletter": NEWSLETTER_INVENTORY,
    "analytics": ANALYTICS_INVENTORY,
}


def export(browser: Browser) -> tuple[Any, dict[str, Any]]:
    response = browser.get(EXPORT)
    assert response.status_code == 200, response.text
    return response, response.json()


def test_the_export_holds_every_service_with_purposes_retention_and_recipients(
    people: list[tuple[Browser, str]],
) -> None:
    (browser, email), (_, other) = people
    response, document = export(browser)

    assert response.headers["cache-control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="lethe-data-export-\d{4}-\d{2}-\d{2}\.json"',
        response.headers["content-disposition"],
    )
    assert response.headers["x-export-complete"] == "true"
    assert document["complete"] is True and document["missing"] == []
    assert document["format"] == "lethe-data-export/1" and document["email"] == email
    parts = {part["service"]: part for part in document["services"]}
    assert [part["service"] for part in document["services"]] == SERVICES
    for part in parts.values():
        assert part["complete"] is True and part["missing_reason"] is None
        assert part["purposes"] and part["lawful_bases"] and part["retention"] and part["holds"]
        # Every place the service's inventory declares, as it declares it (issue 14).
        declared = INVENTORIES[part["service"]]
        assert [h["collection"] for h in part["inventory"]] == [
            h.collection for h in declared.personal() if not h.retired
        ]
        for shown in part["inventory"]:
            holding = declared.holding(shown["collection"])
            assert (shown["purpose"], shown["retention"]) == (holding.purpose, holding.retention)
            assert shown["lawful_basis"] == holding.lawful_basis and shown["fields"] == list(holding.fields)

    [account] = parts["identity"]["data"]["accounts"]
    assert account["email"] == email and account["name"] == "Rosalind Franklin"
    assert account["sessions"] and "password" not in str(account).lower().replace("password_", "")
    consents = {c["purpose"]: c["state"] for c in parts["consent"]["data"]["consents"]}
    assert consents.get("analytics") == "granted", consents
    [order] = parts["shop"]["data"]["orders"]
    assert order["status"] == "paid"
    assert any("payment provider" in r for r in parts["shop"]["recipients"])
    assert any("supplier" in r for r in parts["shop"]["recipients"])
    [subscription] = parts["newsletter"]["data"]["subscriptions"]
    assert subscription["email"] == email and subscription["status"] == "active"

    text = response.text
    assert other not in text and "Lise Meitner" not in text
    assert browser.http.cookies.get("lethe_session") not in text


def test_each_person_sees_only_their_own_data(people: list[tuple[Browser, str]]) -> None:
    (first, email), (second, other) = people
    _, mine = export(first)
    _, theirs = export(second)
    assert theirs["email"] == other and email not in str(theirs) and "Rosalind" not in str(theirs)
    assert mine["account_id"] != theirs["account_id"]


def test_without_a_session_the_export_is_refused(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        refused = anonymous.get(EXPORT)
    assert refused.status_code == 401
    assert set(refused.json()["error"]) == {"code", "message"}


def test_a_stopped_service_makes_the_export_partial_and_says_so(
    stack: Stack, people: list[tuple[Browser, str]]
) -> None:
    browser, email = people[0]
    shop = stack.backends["shop"]
    shop.stop_apis()
    try:
        response, document = export(browser)
    finally:
        shop.restart_apis()
    assert response.headers["x-export-complete"] == "false"
    assert document["complete"] is False
    [missing] = document["missing"]
    assert missing["service"] == "shop" and "could not be reached" in missing["reason"]
    parts = {part["service"]: part for part in document["services"]}
    assert parts["shop"]["complete"] is False and parts["shop"]["data"] is None
    assert parts["shop"]["missing_reason"] == missing["reason"]
    assert all(parts[name]["complete"] for name in ("identity", "consent", "newsletter"))
    assert parts["identity"]["data"]["accounts"][0]["email"] == email


def test_a_service_that_does_not_answer_in_time_is_named_as_missing(
    stack: Stack, people: list[tuple[Browser, str]]
) -> None:
    browser, _ = people[0]
    # every service answers again (another test stopped and restarted one)
    wait_for(lambda: export(browser)[1]["complete"], 30, what="a complete export")
    apis = stack.backends["newsletter"].apis
    for api in apis:  # frozen: connections are accepted, nothing answers
        assert api.popen is not None
        os.killpg(api.popen.pid, signal.SIGSTOP)
    try:
        response, document = export(browser)
    finally:
        for api in apis:
            assert api.popen is not None
            os.killpg(api.popen.pid, signal.SIGCONT)
    assert document["complete"] is False and response.headers["x-export-complete"] == "false"
    [missing] = document["missing"]
    assert missing["service"] == "newsletter"
    assert f"did not answer within {TIMEOUT_SECONDS} seconds" in missing["reason"]
