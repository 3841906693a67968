"""Request bodies take JSON values of the documented types only (issue 13).

A string where a number is expected, a number or a string where a boolean is, a number
where a string is: 422 with the error envelope and a message that names the field, what
it must be and what came instead. The JSON forms the API documents still pass: numbers,
booleans, choices as strings, versions that look like dates.

Real gateway, identity, consent, shop and newsletter (API and worker each), store,
broker, SMTP sink and payment sandbox.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from lethe_gateway import newsletter_schemas, privacy_schemas, schemas, shop_schemas
from lethe_gateway.app import create_app
from lethe_gateway.config import GatewayConfig
from lethe_gateway.newsletter_schemas import LinkTokenBody
from lethe_testing import BACKENDS, Browser, Stack, start_stack, stop_stack, unique, wait_for

PASSWORD = "copper kettle marmalade 9"
HEX = "0" * 32


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("st")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"clerk-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def clerk(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"clerk-{stack.run_id}@staff.example", PASSWORD, name="Cleo Clerk")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def customer(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"{unique('c')}-{stack.run_id}@buyer.example".lower(), PASSWORD)
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def product_id(customer: Browser) -> str:
    listed = customer.get("/api/v1/products")
    assert listed.status_code == 200, listed.text
    return str(next(p["id"] for p in listed.json() if p["sku"] == "LETHE-MANUAL"))


def payment_token() -> str:
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": "4242424242424242", "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def address(**changes: Any) -> dict[str, Any]:
    return {
        "name": "Grace Hopper",
        "street": "Hauptstraße 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
        **changes,
    }


def order(product_id: str, quantity: Any = 1, **changes: Any) -> dict[str, Any]:
    return {
        "lines": [{"product_id": product_id, "quantity": quantity}],
        "billing": address(),
        "delivery": address(),
        "payment_token": payment_token(),
        **changes,
    }


def place(browser: Browser, body: dict[str, Any]) -> Any:
    return browser.post("/api/v1/orders", json=body, headers={"Idempotency-Key": f"key-{uuid.uuid4().hex}"})


def refused(response: Any, message: str) -> None:
    """A 422 in the error envelope whose message is exactly ``message``."""
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {"code": "invalid_request", "message": message}}


def text(purpose: str, **changes: Any) -> dict[str, Any]:
    return {
        "purpose": purpose,
        "version": "2026-07",
        "de": {"title": "T", "body": "Text"},
        "en": {"title": "T", "body": "Text"},
        **changes,
    }


EMAIL = "someone@example.com"
# (path, method, body, message) for callers without a session: one loose value each.
ANYONE = [
    (
        "/api/v1/accounts",
        "POST",
        {"email": EMAIL, "password": PASSWORD, "name": 42, "account_consent_version": "2026-01"},
        "name: must be a string, not a whole number",
    ),
    (
        "/api/v1/accounts/verify",
        "POST",
        {"token": 12345, "password": PASSWORD},
        "token: must be a string, not a whole number",
    ),
    ("/api/v1/accounts/verify/resend", "POST", {"email": [EMAIL]}, "email: must be a string, not a list"),
    (
        "/api/v1/session",
        "POST",
        {"email": EMAIL, "password": PASSWORD, "remember_me": "true"},
        "remember_me: must be true or false, not a string",
    ),
    (
        "/api/v1/session",
        "POST",
        {"email": EMAIL, "password": PASSWORD, "remember_me": 1},
        "remember_me: must be true or false, not a whole number",
    ),
    (
        "/api/v1/contact",
        "POST",
        {"name": "Ada", "email": EMAIL, "message": "Call me", "kind": "callback", "phone": 4930123},
        "phone: must be a string, not a whole number",
    ),
    (
        "/api/v1/privacy-requests",
        "POST",
        {"email": EMAIL, "kind": "erasure", "reason": False},
        "reason: must be a string, not false",
    ),
    ("/api/v1/privacy-requests/confirm", "POST", {"token": True}, "token: must be a string, not true"),
    (
        "/api/v1/newsletter/subscriptions",
        "POST",
        {"email": EMAIL, "consent_version": 2026.01},
        "consent_version: must be a string, not a number with a decimal point",
    ),
    ("/api/v1/accounts", "POST", ["not", "an", "object"], "the request body must be an object, not a list"),
]


@pytest.mark.parametrize(
    ("path", "method", "body", "message"), ANYONE, ids=[f"{c[0]}:{c[3].split(':')[0]}" for c in ANYONE]
)
def test_a_loose_value_is_refused_without_a_session(
    stack: Stack, path: str, method: str, body: Any, message: str
) -> None:
    refused(Browser(stack.gateway_url).request(method, path, json=body), message)


def test_the_newsletter_links_take_a_string_token_only(stack: Stack) -> None:
    for path in ("/api/v1/newsletter/confirm", "/api/v1/newsletter/unsubscribe"):
        answer = Browser(stack.gateway_url).post(path, json={"token": 12345})
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_request"


def test_a_customer_s_loose_values_are_refused(customer: Browser, product_id: str) -> None:
    for method, path, body, message in (
        ("PATCH", "/api/v1/me", {"phone": 4930123}, "phone: must be a string, not a whole number"),
        (
            "POST",
            "/api/v1/me/consents",
            {"purpose": "newsletter", "version": 202601},
            "version: must be a string, not a whole number",
        ),
        (
            "POST",
            "/api/v1/me/objections",
            {"purpose": "access_logs", "reason": 7},
            "reason: must be a string, not a whole number",
        ),
        ("POST", "/api/v1/me/erasure", {"reason": ["why"]}, "reason: must be a string, not a list"),
        ("POST", "/api/v1/me/restriction", {"reason": 1}, "reason: must be a string, not a whole number"),
        (
            "POST",
            "/api/v1/me/newsletter",
            {"consent_version": 202601},
            "consent_version: must be a string, not a whole number",
        ),
        (
            "PUT",
            "/api/v1/cart",
            {"lines": [{"product_id": product_id, "quantity": "3"}]},
            "lines.0.quantity: must be a whole number, not a string",
        ),
    ):
        refused(customer.request(method, path, json=body), message)
    assert customer.get("/api/v1/me/privacy-requests").json() == []  # nothing was opened


def test_an_order_takes_a_quantity_as_a_number_only(customer: Browser, product_id: str) -> None:
    refused(place(customer, order(product_id, "3")), "lines.0.quantity: must be a whole number, not a string")
    refused(
        place(customer, order(product_id, 3.0)),
        "lines.0.quantity: must be a whole number, not a number with a decimal point",
    )
    refused(
        place(customer, order(product_id, 1, billing=address(postcode=10115))),
        "billing.postcode: must be a string, not a whole number",
    )
    refused(place(customer, order(product_id, True)), "lines.0.quantity: must be a whole number, not true")
    assert customer.get("/api/v1/orders").json() == []


STAFF = [
    (
        "POST",
        "/api/v1/admin/organisations",
        {"name": "Acme", "domains": ["acme.example", 5]},
        "domains.1: must be a string, not a whole number",
    ),
    (
        "PATCH",
        f"/api/v1/admin/organisations/org_{HEX}",
        {"name": 5},
        "name: must be a string, not a whole number",
    ),
    (
        "POST",
        f"/api/v1/admin/portal-access-requests/acc_{HEX}/decision",
        {"approve": "true"},
        "approve: must be true or false, not a string",
    ),
    (
        "POST",
        "/api/v1/admin/consent-texts",
        text("strict_texts", direct_marketing="false"),
        "direct_marketing: must be true or false, not a string",
    ),
    (
        "POST",
        "/api/v1/admin/consent-texts",
        text("strict_texts", de={"title": "T", "body": 1}),
        "de.body: must be a string, not a whole number",
    ),
    (
        "POST",
        f"/api/v1/admin/privacy-requests/pr_{HEX}/status",
        {"status": "in_progress", "extend_months": "1", "reason": "busy"},
        "extend_months: must be a whole number, not a string",
    ),
    (
        "POST",
        f"/api/v1/admin/privacy-requests/pr_{HEX}/decision",
        {"uphold": 1, "reason": "r"},
        "uphold: must be true or false, not a whole number",
    ),
    (
        "POST",
        "/api/v1/admin/products",
        {"sku": "STRICT-1", "name": "Cable", "kind": "physical", "price_cents": "999"},
        "price_cents: must be a whole number, not a string",
    ),
    (
        "POST",
        "/api/v1/admin/products",
        {"sku": "STRICT-2", "name": "Cable", "kind": "physical", "price_cents": 999, "active": "true"},
        "active: must be true or false, not a string",
    ),
    (
        "PATCH",
        f"/api/v1/admin/products/prd_{HEX}",
        {"vat_rate_bp": "700"},
        "vat_rate_bp: must be a whole number, not a string",
    ),
    (
        "POST",
        f"/api/v1/admin/orders/ord_{HEX}/status",
        {"status": 1},
        "status: Input should be 'paid', 'shipped', 'delivered', 'completed' or 'cancelled'",
    ),
    (
        "POST",
        "/api/v1/admin/newsletter/campaigns",
        {"subject": "S", "text_body": "T", "greeting": "yes"},
        "greeting: must be true or false, not a string",
    ),
]


def test_staff_loose_values_are_refused(clerk: Browser) -> None:
    for method, path, body, message in STAFF:
        refused(clerk.request(method, path, json=body), message)
    skus = [p["sku"] for p in clerk.get("/api/v1/admin/products").json()]
    assert "STRICT-1" not in skus and "STRICT-2" not in skus
    purposes = [t["purpose"] for t in clerk.get("/api/v1/consent-texts").json()]
    assert "strict_texts" not in purposes


def test_the_documented_json_forms_still_pass(
    stack: Stack, customer: Browser, clerk: Browser, product_id: str
) -> None:
    """Numbers, booleans, choices as strings and versions that look like dates."""
    anyone = Browser(stack.gateway_url)
    assert (
        anyone.post(
            "/api/v1/contact",
            json={
                "name": "Ada",
                "email": EMAIL,
                "message": "Call me",
                "kind": "callback",
                "phone": "+49 30 1234567",
            },
        ).status_code
        == 202
    )
    filed = anyone.post("/api/v1/privacy-requests", json={"email": EMAIL, "kind": "erasure"})
    assert filed.status_code == 202, filed.text
    again = Browser(stack.gateway_url)
    logged_in = again.post(
        "/api/v1/session",
        json={"email": customer.get("/api/v1/me").json()["email"], "password": PASSWORD, "remember_me": True},
    )
    assert logged_in.status_code == 200, logged_in.text

    granted = customer.post(
        "/api/v1/me/consents",
        json={"purpose": "newsletter", "version": customer.current_version("newsletter")},
    )
    assert granted.status_code == 201, granted.text
    cart = customer.request(
        "PUT", "/api/v1/cart", json={"lines": [{"product_id": product_id, "quantity": 2}]}
    )
    assert cart.status_code == 200 and cart.json()["lines"][0]["quantity"] == 2
    placed = place(customer, order(product_id, 3))
    assert placed.status_code == 201, placed.text
    assert placed.json()["lines"][0]["quantity"] == 3
    order_id = placed.json()["id"]
    wait_for(
        lambda: customer.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid",
        15,
        what="the provider's notification",
    )
    shipped = clerk.post(f"/api/v1/admin/orders/{order_id}/status", json={"status": "shipped"})
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped", shipped.text

    objection = customer.post(
        "/api/v1/me/objections", json={"purpose": "access_logs", "reason": "no logs of me"}
    )
    assert objection.status_code == 202, objection.text
    request_id = objection.json()["request"]["id"]
    moved = clerk.post(
        f"/api/v1/admin/privacy-requests/{request_id}/status",
        json={"status": "in_progress", "extend_months": 1, "reason": "we ask the hosting provider"},
    )
    assert moved.status_code == 200, moved.text
    decided = clerk.post(
        f"/api/v1/admin/privacy-requests/{request_id}/decision",
        json={"uphold": True, "reason": "logs of you are no longer kept"},
    )
    assert decided.status_code == 200, decided.text

    sku = f"STRICT-{uuid.uuid4().hex[:8].upper()}"
    created = clerk.post(
        "/api/v1/admin/products",
        json={
            "sku": sku,
            "name": "Cable",
            "kind": "physical",
            "price_cents": 999,
            "vat_rate_bp": 700,
            "active": False,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["active"] is False and created.json()["price_cents"] == 999
    changed = clerk.request(
        "PATCH", f"/api/v1/admin/products/{created.json()['id']}", json={"price_cents": 1099, "active": True}
    )
    assert changed.status_code == 200 and changed.json()["price_cents"] == 1099, changed.text
    published = clerk.post(
        "/api/v1/admin/consent-texts", json=text("strict_forms", version="2026-07-01", direct_marketing=False)
    )
    assert published.status_code == 201, published.text
    assert published.json()["version"] == "2026-07-01"
    campaign = clerk.post(
        "/api/v1/admin/newsletter/campaigns", json={"subject": "S", "text_body": "T", "greeting": True}
    )
    assert campaign.status_code == 201 and campaign.json()["greeting"] is True, campaign.text


def _models(annotation: Any) -> Iterator[type[BaseModel]]:
    """The pydantic models in an annotation (``list[LineIn]``, ``AddressIn | None``) and
    in their fields."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        for field in annotation.model_fields.values():
            yield from _models(field.annotation)
    for argument in getattr(annotation, "__args__", ()):
        yield from _models(argument)


def test_every_request_body_model_is_strict() -> None:
    """Also the ones a route adds later: every model the OpenAPI document names as a JSON
    request body, with the models nested in it."""
    config = GatewayConfig(
        host="127.0.0.1",
        port=1,
        log_level="INFO",
        backends={name: "127.0.0.1:1" for name in BACKENDS},
        health_timeout_seconds=1.0,
        rpc_timeout_seconds=1.0,
        cookie_secure="auto",
        session_cache_seconds=0.0,
    )
    paths = create_app(config).openapi()["paths"]
    names = {
        schema["$ref"].rsplit("/", 1)[-1]
        for operations in paths.values()
        for operation in operations.values()
        for content in operation.get("requestBody", {}).get("content", {}).values()
        if "$ref" in (schema := content.get("schema", {}))
    }
    declared = {
        name: model
        for module in (schemas, shop_schemas, newsletter_schemas, privacy_schemas)
        for name, model in vars(module).items()
        if isinstance(model, type) and issubclass(model, BaseModel)
    }
    assert len(names) >= 25 and names <= set(declared)
    models = {nested for name in names for nested in _models(declared[name])}
    models |= set(_models(LinkTokenBody))  # read by hand in routes/newsletter_links.py
    assert [m.__name__ for m in models if m.model_config.get("strict") is not True] == []
