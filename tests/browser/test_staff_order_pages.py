"""The accounting role's back office in a real Chromium: a member of staff granted
``accounting`` moves a customer's paid order to shipped, delivered and completed by clicking
(a step someone else took first is refused with the reason), then reads the now blocked
order under legal hold: nothing is shown before an order number and a reason are given,
and with the password entered more than 10 minutes ago it is asked for first. The read is
listed with its reason, and is the shop's audit entry. A member with another role is
refused every one of these pages; every page passes axe at desktop and phone width, has
the security headers and asks nothing of another origin."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from pymongo import MongoClient

from lethe.common.v1 import audit_pb2
from lethe.shop.v1.shop_pb2_grpc import ShopServiceStub
from lethe_common.staff import ACCOUNTING, ADMIN
from lethe_testing import Browser as WebClient
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems
from lethe_testing.staff import staff_metadata

PASSWORD = "a long accounting passphrase"
CARD = "4242424242424242"
PAGES = ["/staff/orders", "/staff/orders?status=paid", "/staff/legal-hold", "/staff/legal-hold/reads"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("acct")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"chief-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@dataclass(frozen=True)
class Member:
    email: str
    account_id: str
    api: WebClient  # logged in to the JSON API


def sign_up(stack: Stack, email: str, name: str) -> Member:
    client = WebClient(stack.gateway_url)
    profile = client.sign_up(email, PASSWORD, name=name)
    return Member(email, str(profile["id"]), client)


@pytest.fixture(scope="module")
def staff(stack: Stack) -> dict[str, Member]:
    """The first admin (from IDENTITY_ADMIN_EMAILS), and a new member of staff for each of
    accounting and marketing, granted by the admin through the JSON API."""
    chief = sign_up(stack, f"chief-{stack.run_id}@staff.example", "Chris Chief")
    members = {"admin": chief}
    for role in ("accounting", "marketing"):
        member = sign_up(stack, f"{unique(role[:4])}-{stack.run_id}@staff.example".lower(), "Sam Staff")
        granted = chief.api.post(
            "/api/v1/admin/staff/roles",
            json={"email": member.email, "role": role, "grant": True, "reason": "joined the team"},
        )
        assert granted.status_code == 200, granted.text
        assert role in granted.json()["roles"]
        members[role] = member
    return members


@pytest.fixture(scope="module")
def buyer(stack: Stack) -> WebClient:
    client = WebClient(stack.gateway_url)
    client.sign_up(f"{unique('buyer')}-{stack.run_id}@buyer.example".lower(), PASSWORD, name="Grace Hopper")
    return client


def payment_token() -> str:
    """What the browser gets from the provider for the card; Lethe never sees the card."""
    reply = httpx.post(
        f"{os.environ['SHOP_PAYMENT_URL']}/v1/tokens",
        json={"card": {"number": CARD, "exp_month": 12, "exp_year": 2030, "cvc": "123"}},
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def paid_order(buyer: WebClient) -> str:
    """A paid order of a physical product (it is shipped before it is delivered)."""
    products = {p["sku"]: p for p in buyer.get("/api/v1/products").json()}
    address = {
        "name": "Grace Hopper",
        "street": "Hauptstraße 1",
        "postcode": "10115",
        "city": "Berlin",
        "country": "DE",
    }
    placed = buyer.post(
        "/api/v1/orders",
        json={
            "lines": [{"product_id": products["LETHE-KEY-01"]["id"]}],
            "billing": address,
            "delivery": address,
            "payment_token": payment_token(),
        },
        headers={"Idempotency-Key": f"key-{uuid.uuid4().hex}"},
    )
    assert placed.status_code == 201, placed.text
    order_id = str(placed.json()["id"])
    wait_for(
        lambda: buyer.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid",
        20,
        what="the provider's notification to mark the order paid",
    )
    return order_id


def logged_in(chromium: Browser, stack: Stack, email: str, **options: Any) -> tuple[BrowserContext, Page]:
    context = new_context(chromium, locale="en", **options)
    page = context.new_page()
    page.goto(stack.gateway_url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))
    return context, page


def audit_entries(stack: Stack, action: str, who: str, role: str) -> list[audit_pb2.AuditEntry]:
    """The shop's audit trail (of one action), newest first, asked of the shop directly."""
    with stack.backends["shop"].channel() as channel:
        reply = ShopServiceStub(channel).ListAuditEntries(
            audit_pb2.AuditListRequest(action=action, page_size=200),
            metadata=staff_metadata(who, role),
            timeout=10,
        )
    return list(reply.entries)


def alert_text(page: Page) -> str:
    return page.get_by_role("alert").or_(page.get_by_role("status")).first.inner_text()


def test_accounting_moves_an_order_by_clicking_and_a_step_taken_first_is_refused_with_why(
    chromium: Browser, stack: Stack, staff: dict[str, Member], buyer: WebClient
) -> None:
    clerk = staff["accounting"]
    order_id, other_id = paid_order(buyer), paid_order(buyer)
    context, page = logged_in(chromium, stack, clerk.email)
    page.get_by_role("link", name="Back office").click()
    page.get_by_role("link", name="Orders", exact=True).click()
    page.wait_for_url(re.compile(r"/staff/orders$"))
    rows = page.locator("#staff-orders tbody tr").all_inner_texts()
    assert [r for r in rows if order_id in r] and other_id in rows[0]  # newest first
    page.get_by_role("link", name=order_id).click()
    page.wait_for_url(re.compile(rf"/staff/orders/{order_id}$"))
    assert page.locator("#order-status").inner_text() == "Paid"
    assert page.get_by_role("button", name="Mark delivered").count() == 0  # physical: shipped first

    for button, shown in (("Mark shipped", "Shipped"), ("Mark delivered", "Delivered")):
        page.get_by_role("button", name=button).click()
        page.wait_for_url(re.compile(rf"/staff/orders/{order_id}\?done="))
        assert page.locator("#order-status").inner_text() == shown
        assert alert_text(page) == f"The order is now: {shown}."
    page.get_by_role("button", name="Mark completed").click()
    page.wait_for_url(re.compile(r"/staff/orders\?done=completed"))
    assert alert_text(page).startswith(f"Order {order_id} is completed. It is blocked now")
    assert order_id not in page.locator("main").inner_text().replace(alert_text(page), "")

    # The filter: the other order is paid, not shipped.
    page.get_by_role("link", name="Shipped", exact=True).click()
    assert other_id not in page.locator("main").inner_text()
    page.get_by_role("link", name="Paid", exact=True).click()
    assert other_id in page.locator("#staff-orders").inner_text()

    # Someone else ships the other order while this page still offers to.
    page.get_by_role("link", name=other_id).click()
    moved = clerk.api.post(f"/api/v1/admin/orders/{other_id}/status", json={"status": "shipped"})
    assert moved.status_code == 200, moved.text
    with page.expect_response(re.compile(rf"/staff/orders/{other_id}/status$")) as answer:
        page.get_by_role("button", name="Mark shipped").click()
    assert answer.value.status == 409
    refused = page.get_by_role("alert").inner_text()
    assert refused.startswith("The order could not be marked “Shipped”: ") and "shipped" in refused
    assert page.locator("#order-status").inner_text() == "Shipped"  # as it is now
    assert page.get_by_role("button", name="Mark delivered").count() == 1
    context.close()

    entries = audit_entries(stack, "order.moved", staff["admin"].account_id, ADMIN)
    mine = [(e.actor_account_id, e.detail) for e in entries if e.target == order_id]
    assert mine == [(clerk.account_id, s) for s in ("completed", "delivered", "shipped")]


def test_a_blocked_order_is_read_only_with_a_reason_and_the_password_and_the_read_is_listed(
    chromium: Browser, stack: Stack, staff: dict[str, Member], buyer: WebClient, mongo_client: MongoClient
) -> None:
    clerk = staff["accounting"]
    order_id = paid_order(buyer)
    for status in ("shipped", "delivered", "completed"):
        moved = clerk.api.post(f"/api/v1/admin/orders/{order_id}/status", json={"status": status})
        assert moved.status_code == 200, moved.text
    reason = f"tax inspection {uuid.uuid4().hex[:6]}"

    context, page = logged_in(chromium, stack, clerk.email)
    page.goto(stack.gateway_url + "/staff")
    page.get_by_role("link", name="Read a blocked order").click()
    page.wait_for_url(re.compile(r"/staff/legal-hold$"))
    assert page.locator("#order-facts").count() == 0 and "Grace Hopper" not in page.content()

    # No reason: nothing is shown, the field says why.
    page.get_by_label("Order number").fill(order_id)
    page.get_by_role("button", name="Read the order").click()
    assert page.get_by_label("Reason").get_attribute("aria-invalid") == "true"
    assert page.locator("#order-facts").count() == 0 and "Grace Hopper" not in page.content()

    # The password was entered more than 10 minutes ago: it is asked for first.
    identity = mongo_client[stack.backends["identity"].db_name]
    aged = identity["sessions"].update_many(
        {"account_id": clerk.account_id},
        {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=11)}},
    )
    assert aged.modified_count >= 1
    identity["session_confirmations"].delete_many({})
    page.get_by_label("Reason").fill(reason)
    page.get_by_role("button", name="Read the order").click()
    assert alert_text(page) == "Please enter your password again to read a blocked order."
    assert page.get_by_label("Your password").get_attribute("aria-required") == "true"
    assert page.locator("#order-facts").count() == 0 and "Grace Hopper" not in page.content()
    reads = audit_entries(stack, "legal_hold.read", clerk.account_id, ACCOUNTING)
    assert order_id not in {e.target for e in reads}

    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Read the order").click()
    assert page.get_by_role("heading", level=1).inner_text() == f"Blocked order {order_id}"
    assert page.locator("#order-status").inner_text() == "Completed"
    assert "Grace Hopper" in page.locator("main").inner_text()
    assert alert_text(page) == f"Your read was recorded with the reason: {reason}"

    page.get_by_role("link", name="Legal-hold reads").first.click()
    page.wait_for_url(re.compile(r"/staff/legal-hold/reads$"))
    first = page.locator("#legal-hold-reads tbody tr").first.inner_text()
    assert order_id in first and reason in first and clerk.account_id in first and "(you)" in first
    context.close()

    reads = audit_entries(stack, "legal_hold.read", clerk.account_id, ACCOUNTING)
    [read] = [e for e in reads if e.reason == reason]
    assert (read.actor_account_id, read.target, read.service) == (clerk.account_id, order_id, "shop")


def test_a_member_of_staff_without_the_accounting_role_is_refused_every_page(
    chromium: Browser, stack: Stack, staff: dict[str, Member], buyer: WebClient
) -> None:
    marketer = staff["marketing"]
    order_id = paid_order(buyer)
    context, page = logged_in(chromium, stack, marketer.email)
    for path in [*PAGES, f"/staff/orders/{order_id}"]:
        answer = page.goto(stack.gateway_url + path)
        assert answer is not None and answer.status == 403, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not for this account"
    context.close()
    # Nor can they move the order by posting the form themselves.
    api = marketer.api
    token = api.http.cookies.get("lethe_csrf")
    assert token
    posted = api.http.post(
        f"/staff/orders/{order_id}/status", data={"csrf_token": token, "status": "shipped"}
    )
    assert posted.status_code == 403 and "Not for this account" in posted.text  # not the CSRF check
    assert buyer.get(f"/api/v1/orders/{order_id}").json()["status"] == "paid"


def test_every_accounting_page_passes_axe_has_the_headers_and_stays_on_its_origin(
    chromium: Browser, stack: Stack, staff: dict[str, Member], buyer: WebClient
) -> None:
    clerk = staff["accounting"]
    open_id, blocked_id = paid_order(buyer), paid_order(buyer)
    for status in ("shipped", "delivered", "completed"):
        assert clerk.api.post(f"/api/v1/admin/orders/{blocked_id}/status", json={"status": status}).is_success
    paths = [*PAGES, f"/staff/orders/{open_id}"]

    def read_blocked(page: Page) -> None:
        page.goto(stack.gateway_url + "/staff/legal-hold")
        page.get_by_label("Order number").fill(blocked_id)
        page.get_by_label("Reason").fill("page check")
        page.get_by_label("Your password").fill(PASSWORD)
        page.get_by_role("button", name="Read the order").click()
        assert page.locator("#order-status").inner_text() == "Completed"

    found: list[str] = []
    for viewport in ("desktop", "phone"):
        context, page = logged_in(chromium, stack, clerk.email, viewport=viewport)
        recorder = PageRecorder(page)
        for path in paths:
            response = page.goto(stack.gateway_url + path)
            assert response is not None and response.status == 200, path
            found += [f"{viewport} {path}: {p}" for p in security_header_problems(response)]
        with page.expect_response(
            lambda r: r.url.endswith("/staff/legal-hold") and r.request.method == "POST"
        ) as shown:
            read_blocked(page)
        found += [f"{viewport} legal-hold read: {p}" for p in security_header_problems(shown.value)]
        found += [f"{viewport}: request to another origin {u}" for u in recorder.foreign(stack.gateway_url)]
        found += [f"{viewport}: CSP violation {text}" for text in recorder.csp_violations]
        context.close()
        # axe is injected into the page, which the CSP forbids: its own context may bypass it.
        context, page = logged_in(chromium, stack, clerk.email, bypass_csp=True, viewport=viewport)
        for path in paths:
            page.goto(stack.gateway_url + path)
            found += [f"{viewport} {path}: {v}" for v in axe_violations(page)]
        read_blocked(page)
        found += [f"{viewport} legal-hold read: {v}" for v in axe_violations(page)]
        page.goto(stack.gateway_url + "/staff/legal-hold")
        page.get_by_role("button", name="Read the order").click()  # every field wrong
        found += [f"{viewport} legal-hold errors: {v}" for v in axe_violations(page)]
        context.close()
    assert found == []
