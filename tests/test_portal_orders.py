"""The shop's pages in the browser (issue 16): cart, checkout through the payment
provider's own card page, orders and downloads.

Real system (``stack``); httpx plays the browser without following redirects, so each
step's answer is checked. The card goes only to the provider's sandbox: every request the
test sends to the gateway is recorded, and none may carry a card number.
"""

from __future__ import annotations

import html
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from lethe_testing import Browser, Stack, unique, wait_for

PASSWORD = "copper kettle marmalade 9"
CARD = "4242424242424242"
DECLINED_CARD = "4000000000000002"


class Shopper:
    """A person with a verified account, logged in; every request to the gateway recorded."""

    def __init__(self, stack: Stack) -> None:
        self.gateway = stack.gateway_url
        self.sent: list[httpx.Request] = []
        self.browser = Browser(stack.gateway_url)
        self.http = self.browser.http
        self.http.event_hooks = {"request": [self._record], "response": []}
        self.email = f"{unique('o')}-{stack.run_id}@buyer.example".lower()
        self.browser.sign_up(self.email, PASSWORD, name="Grace Hopper")
        self.provider = httpx.Client(timeout=30)  # the provider's page: another origin, other cookies

    def _record(self, request: httpx.Request) -> None:
        request.read()
        self.sent.append(request)

    def csrf(self) -> str:
        return str(self.http.cookies.get("lethe_csrf"))

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return self.http.post(path, data={"csrf_token": self.csrf(), **data})

    def api(self, path: str) -> Any:
        answer = self.browser.get(f"/api/v1{path}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def close(self) -> None:
        self.http.close()
        self.provider.close()

    def card_never_sent(self) -> None:
        origin = urlsplit(self.gateway).netloc
        to_gateway = [r for r in self.sent if r.url.netloc.decode() == origin]
        assert to_gateway, "no request to the gateway was recorded"
        for request in to_gateway:
            seen = str(request.url) + str(request.headers) + request.content.decode("utf-8", "replace")
            for number in (CARD, DECLINED_CARD):
                assert number not in seen and number[:8] not in seen, f"a card number went to {request.url}"


@pytest.fixture
def shopper(stack: Stack) -> Iterator[Shopper]:
    person = Shopper(stack)
    yield person
    person.card_never_sent()
    person.close()


def catalogue(shopper: Shopper) -> dict[str, dict[str, Any]]:
    return {p["sku"]: p for p in shopper.api("/products")}


def add(shopper: Shopper, product_id: str, quantity: int = 1) -> None:
    page = shopper.get(f"/products/{product_id}")
    assert page.status_code == 200
    assert 'action="/cart/add"' in page.text and 'name="csrf_token"' in page.text
    added = shopper.post("/cart/add", {"product_id": product_id, "quantity": str(quantity)})
    assert added.status_code == 303 and added.headers["location"] == "/cart?done=added", added.text


def address(prefix: str, name: str = "Grace Hopper") -> dict[str, str]:
    return {
        f"{prefix}_name": name,
        f"{prefix}_company": "Analytical Engines GmbH",
        f"{prefix}_street": "Hauptstraße 1",
        f"{prefix}_postcode": "10115",
        f"{prefix}_city": "Berlin",
        f"{prefix}_country": "de",
    }


def to_payment(shopper: Shopper, **form: str) -> str:
    """Addresses in, the summary page out; returns the link to the provider's card page."""
    sent = shopper.post("/checkout", {**address("billing"), **form})
    assert sent.status_code == 303 and sent.headers["location"] == "/checkout/pay", sent.text
    assert "lethe_checkout" in sent.headers["set-cookie"] and "HttpOnly" in sent.headers["set-cookie"]
    return provider_link(shopper.get("/checkout/pay"))


def provider_link(page: httpx.Response) -> str:
    assert page.status_code in (200, 400, 402, 409), page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    found = re.search(r'<a class="button" id="pay-provider" href="([^"]+)"', page.text)
    assert found, page.text
    link = html.unescape(found[1])
    assert link.startswith(f"{os.environ['LETHE_GATEWAY_PAYMENT_PAGE_URL']}/v1/checkout?")
    return link


def pay(shopper: Shopper, link: str, card: str = CARD) -> str:
    """On the provider's own page: its form, the card posted to it, the redirect back.
    Returns the return address (on the gateway) with the token."""
    page = shopper.provider.get(link)
    assert page.status_code == 200, page.text
    assert "form-action 'self'" in page.headers["content-security-policy"]
    action = re.search(r'<form method="post" action="([^"]+)"', page.text)
    assert action and action[1] == "/v1/checkout"
    hidden = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page.text)
    }
    card_form = {**hidden, "number": card, "exp_month": "12", "exp_year": "2030", "cvc": "123"}
    sent = shopper.provider.post(
        f"{os.environ['LETHE_GATEWAY_PAYMENT_PAGE_URL']}/v1/checkout", data=card_form
    )
    assert sent.status_code == 303, sent.text
    back = sent.headers["location"]
    assert back.startswith(f"{shopper.gateway}/checkout/return?checkout=") and "payment_token=tok_" in back
    return back


def placed_order(shopper: Shopper, back: str) -> str:
    """Follow the provider's redirect back; the order is placed and shown."""
    returned = shopper.get(back)
    assert returned.status_code == 303, returned.text
    found = re.fullmatch(r"/orders/(ord_[0-9a-f]{32})\?placed=1", returned.headers["location"])
    assert found, returned.headers["location"]
    assert "lethe_checkout=" in returned.headers.get("set-cookie", "")  # the cookie is removed
    page = shopper.get(returned.headers["location"])
    assert page.status_code == 200 and "Thank you, your order is placed" in page.text
    return found[1]


def paid(shopper: Shopper, order_id: str) -> str:
    def page_says_paid() -> str | None:
        page = shopper.get(f"/orders/{order_id}")
        return page.text if 'id="order-status" data-status="paid"' in page.text else None

    return str(wait_for(page_says_paid, 20, 0.3, what="the order page to show the order paid"))


def test_pages_need_a_login(stack: Stack) -> None:
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        for path in ("/cart", "/checkout", "/orders", "/downloads"):
            answer = anonymous.get(path)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=")


def test_add_change_and_remove_in_the_cart(shopper: Shopper) -> None:
    products = catalogue(shopper)
    key, analyzer = products["LETHE-KEY-01"], products["LETHE-ANALYZER-32"]
    add(shopper, key["id"], 2)
    add(shopper, analyzer["id"])
    add(shopper, key["id"])  # added again: the quantities add up
    cart = shopper.get("/cart")
    assert cart.status_code == 200 and key["name"] in cart.text and analyzer["name"] in cart.text
    assert f'name="quantity-{key["id"]}" type="number"' in cart.text
    assert {line["product_id"]: line["quantity"] for line in shopper.api("/cart")["lines"]} == {
        key["id"]: 3,
        analyzer["id"]: 1,
    }

    changed = shopper.post("/cart", {f"quantity-{key['id']}": "5", f"quantity-{analyzer['id']}": "1"})
    assert changed.status_code == 303 and changed.headers["location"] == "/cart?done=saved"
    assert [line["quantity"] for line in shopper.api("/cart")["lines"]] == [5, 1]
    bad = shopper.post("/cart", {f"quantity-{key['id']}": "lots"})
    assert bad.status_code == 422 and "whole number" in bad.text
    assert [line["quantity"] for line in shopper.api("/cart")["lines"]] == [5, 1]

    removed = shopper.post("/cart/remove", {"product_id": key["id"]})
    assert removed.status_code == 303
    assert [line["product_id"] for line in shopper.api("/cart")["lines"]] == [analyzer["id"]]
    zero = shopper.post("/cart", {f"quantity-{analyzer['id']}": "0"})
    assert zero.status_code == 303 and shopper.api("/cart")["lines"] == []
    assert "Your cart is empty." in shopper.get("/cart").text

    forged = shopper.http.post("/cart/add", data={"csrf_token": "forged", "product_id": key["id"]})
    assert forged.status_code == 403 and shopper.api("/cart")["lines"] == []


def test_checkout_through_the_providers_card_page_places_a_paid_order(shopper: Shopper) -> None:
    products = catalogue(shopper)
    key, analyzer = products["LETHE-KEY-01"], products["LETHE-ANALYZER-32"]
    add(shopper, key["id"], 2)
    add(shopper, analyzer["id"])
    form = shopper.get("/checkout")
    assert form.status_code == 200 and 'name="delivery_street"' in form.text  # physical goods

    missing = shopper.post("/checkout", {**address("billing"), "billing_country": "Germany"})
    assert missing.status_code == 422
    assert 'id="f-billing_country-error"' in missing.text
    assert 'aria-describedby="f-billing_country-error' in missing.text
    no_delivery = shopper.post("/checkout", address("billing"))  # not "same", no delivery address
    assert no_delivery.status_code == 422 and 'id="f-delivery_street-error"' in no_delivery.text

    link = to_payment(
        shopper,
        **address("delivery", name="Ada Lovelace"),
        delivery_note="ring twice",
    )
    query = parse_qs(urlsplit(link).query)
    total = shopper.api("/cart")["totals"]
    assert query["amount"] == [str(total["gross_cents"])] and query["currency"] == [total["currency"]]
    assert query["return_url"][0].startswith(f"{shopper.gateway}/checkout/return?checkout=")
    summary = shopper.get("/checkout/pay").text
    assert "Ada Lovelace" in summary and "Analytical Engines GmbH" in summary

    order_id = placed_order(shopper, pay(shopper, link))
    page = paid(shopper, order_id)
    assert key["name"] in page and 'data-status="succeeded"' in page
    order = shopper.api(f"/orders/{order_id}")
    assert order["status"] == "paid" and order["payment"]["status"] == "succeeded"
    assert order["billing"]["name"] == "Grace Hopper" and order["billing"]["country"] == "DE"
    assert order["delivery"]["name"] == "Ada Lovelace" and order["delivery_note"] == "ring twice"
    assert {line["product_id"]: line["quantity"] for line in order["lines"]} == {
        key["id"]: 2,
        analyzer["id"]: 1,
    }
    assert shopper.api("/cart")["lines"] == []
    listed = shopper.get("/orders")
    assert listed.status_code == 200 and f'href="/orders/{order_id}"' in listed.text


def test_a_declined_card_places_no_order_and_another_card_can_pay(shopper: Shopper) -> None:
    analyzer = catalogue(shopper)["LETHE-ANALYZER-32"]
    add(shopper, analyzer["id"])
    link = to_payment(shopper)
    declined = shopper.get(pay(shopper, link, DECLINED_CARD))
    assert declined.status_code == 402
    assert "Your card was declined. No order was placed" in declined.text
    assert 'role="alert"' in declined.text
    assert shopper.api("/orders") == []
    assert shopper.get("/orders").text.count("/orders/ord_") == 0

    again = provider_link(declined)  # the same checkout, paid with another card
    order_id = placed_order(shopper, pay(shopper, again))
    paid(shopper, order_id)
    assert [o["id"] for o in shopper.api("/orders")] == [order_id]


def test_a_forged_or_reused_token_is_refused(shopper: Shopper) -> None:
    analyzer = catalogue(shopper)["LETHE-ANALYZER-32"]
    add(shopper, analyzer["id"])
    back = pay(shopper, to_payment(shopper))
    checkout_id = parse_qs(urlsplit(back).query)["checkout"][0]

    forged = shopper.get(f"/checkout/return?checkout={checkout_id}&payment_token=tok_{'0' * 24}")
    assert forged.status_code == 400 and "did not give a valid payment" in forged.text
    not_a_token = shopper.get(f"/checkout/return?checkout={checkout_id}&payment_token=%3Cscript%3E")
    assert not_a_token.status_code == 400 and "<script>" not in not_a_token.text
    other_checkout = shopper.get(back.replace(checkout_id, "x" * 32))
    assert other_checkout.status_code == 409 and "finished or has expired" in other_checkout.text
    assert shopper.api("/orders") == []

    order_id = placed_order(shopper, back)  # the genuine return still works
    again = shopper.get(back)  # the same return once more: the checkout is over
    assert again.status_code == 409 and "finished or has expired" in again.text

    add(shopper, analyzer["id"])  # a new checkout with the used token
    new_link = to_payment(shopper)
    new_id = parse_qs(urlsplit(parse_qs(urlsplit(new_link).query)["return_url"][0]).query)["checkout"][0]
    token = parse_qs(urlsplit(back).query)["payment_token"][0]
    reused = shopper.get(f"/checkout/return?checkout={new_id}&payment_token={token}")
    assert reused.status_code == 400 and "did not give a valid payment" in reused.text
    assert [o["id"] for o in shopper.api("/orders")] == [order_id]


def test_the_download_link_of_a_bought_file_works(shopper: Shopper) -> None:
    analyzer = catalogue(shopper)["LETHE-ANALYZER-32"]
    add(shopper, analyzer["id"])
    checkout = shopper.get("/checkout")
    assert 'name="delivery_street"' not in checkout.text  # nothing to deliver
    order_id = placed_order(shopper, pay(shopper, to_payment(shopper)))
    paid(shopper, order_id)

    def links() -> list[str] | None:
        page = shopper.get("/downloads")
        assert page.status_code == 200
        found = re.findall(r'<a href="(/api/v1/downloads/file\?token=[^"]+)" download>', page.text)
        return [html.unescape(link) for link in found] or None

    found = wait_for(links, 20, 0.3, what="the download link")
    fetched = shopper.get(found[0])
    assert fetched.status_code == 200, fetched.text
    folder = Path(os.environ["SHOP_DOWNLOADS_DIR"])
    assert fetched.content == (folder / analyzer["files"][0]).read_bytes()
    assert "attachment" in fetched.headers["content-disposition"]


def test_the_providers_card_page_returns_only_to_registered_addresses(stack: Stack) -> None:
    sandbox = os.environ["LETHE_GATEWAY_PAYMENT_PAGE_URL"]
    refused = httpx.get(
        f"{sandbox}/v1/checkout",
        params={"return_url": "https://evil.example/steal", "amount": "100", "currency": "EUR"},
    )
    assert refused.status_code == 400
    posted = httpx.post(
        f"{sandbox}/v1/checkout",
        data={"return_url": "https://evil.example/steal", "number": CARD, "amount": "100", "currency": "EUR"},
    )
    assert posted.status_code == 400 and "location" not in posted.headers


def test_a_checkout_is_its_own_accounts_only(stack: Stack, shopper: Shopper) -> None:
    analyzer = catalogue(shopper)["LETHE-ANALYZER-32"]
    add(shopper, analyzer["id"])
    back = pay(shopper, to_payment(shopper))
    other = Shopper(stack)  # the same device, another account: the cookie is carried over
    try:
        kept = next(c for c in shopper.http.cookies.jar if c.name == "lethe_checkout")
        other.http.cookies.set(kept.name, str(kept.value), domain=kept.domain, path=kept.path)
        add(other, analyzer["id"])
        assert "Analytical Engines GmbH" not in other.get("/checkout").text
        refused = other.get(back)
        assert refused.status_code == 409 and other.api("/orders") == []
    finally:
        other.close()
    placed_order(shopper, back)
