"""First-party analytics through the real system (SPEC §3, TTDSG §25): pages counted with
no identifier before consent; with consent, views kept under a pseudonymous visitor and the
logged-in person, shown in their export; a decline or a withdrawal deletes them at once; an
erasure answers with the analytics receipt; staff see only the counts."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from lethe.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from lethe_testing import Stack, start_stack, stop_stack, unique
from lethe_testing.waiting import wait_for
from lethe_testing.web import Browser, csrf_of, member_on_pages

PASSWORD = "a long passphrase for counting"
VISITOR = re.compile(r"vis_[0-9a-f]{32}")
PRODUCT_PAGE = "/products/{product_id}"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("an")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"boss-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def staff(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"boss-{stack.run_id}@staff.example", PASSWORD, name="Staff Member")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def analytics(stack: Stack) -> Iterator[analytics_pb2_grpc.AnalyticsServiceStub]:
    channel = stack.backends["analytics"].channel()
    yield analytics_pb2_grpc.AnalyticsServiceStub(channel)
    channel.close()


def client(stack: Stack, **headers: str) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, follow_redirects=False, timeout=30, headers=headers)


def product_path(stack: Stack) -> str:
    products = httpx.get(f"{stack.gateway_url}/api/v1/products").json()
    return f"/products/{products[0]['id']}"


def page_views(staff: Browser, page: str) -> int:
    traffic = staff.get("/api/v1/admin/traffic", params={"days": 1, "top": 50})
    assert traffic.status_code == 200, traffic.text
    return next((p["views"] for p in traffic.json()["top_pages"] if p["path"] == page), 0)


def choose(browser: httpx.Client, choice: str) -> httpx.Response:
    form = browser.get("/cookies")
    chosen = browser.post("/cookies", data={"csrf_token": csrf_of(form), "choice": choice, "next": "/"})
    assert chosen.status_code == 303, chosen.text
    return chosen


def member(stack: Stack) -> httpx.Client:
    # Names differ: the proof of erasure would take a namesake's profile for a trace.
    email, name = f"counted-{uuid.uuid4().hex[:10]}@example.com", f"Counted Person {uuid.uuid4().hex[:6]}"
    return member_on_pages(stack.gateway_url, email, PASSWORD, name)


def exported_views(browser: httpx.Client) -> list[dict[str, Any]]:
    document = browser.get("/privacy/export")
    assert document.status_code == 200, document.text
    (part,) = [p for p in document.json()["services"] if p["service"] == "analytics"]
    assert part["complete"], part
    return list(part["data"]["page_views"])


def test_without_consent_a_page_is_counted_with_no_cookie_and_no_identifier(
    stack: Stack, staff: Browser
) -> None:
    page = product_path(stack)
    before = page_views(staff, PRODUCT_PAGE)
    for visitor in (client(stack), client(stack, **{"Sec-GPC": "1"})):
        shown = visitor.get(page)
        assert shown.status_code == 200
        assert "lethe_visitor" not in shown.headers.get("set-cookie", "")
        assert "lethe_visitor" not in visitor.cookies
    # GPC counts as a decline even with an "accepted" choice cookie: still only the count.
    gpc = client(stack, **{"Sec-GPC": "1"})
    gpc.cookies.set("lethe_consent_choice", "accepted")
    assert "lethe_visitor" not in gpc.get(page).headers.get("set-cookie", "")
    wait_for(lambda: page_views(staff, PRODUCT_PAGE) == before + 3, 10, what="three views counted")
    # The page is counted as its route, never with the product's id in it.
    top = staff.get("/api/v1/admin/traffic", params={"days": 1, "top": 50}).json()["top_pages"]
    assert all(page not in p["path"] for p in top)


def test_with_consent_views_are_kept_for_the_person_and_withdrawal_deletes_them(stack: Stack) -> None:
    browser = member(stack)
    choose(browser, "accepted")
    browser.get(product_path(stack))
    visitor = browser.cookies.get("lethe_visitor")
    assert visitor and VISITOR.fullmatch(visitor)
    browser.get("/orders")
    wait_for(lambda: len(exported_views(browser)) >= 2, 10, what="the views in the export")
    paths = {v["path"] for v in exported_views(browser)}
    assert {PRODUCT_PAGE, "/orders"} <= paths and all(v["logged_in"] for v in exported_views(browser))

    consents = browser.get("/privacy/consents")
    withdrawn = browser.post(
        "/privacy/consents",
        data={"csrf_token": csrf_of(consents), "action": "withdraw", "purpose": "analytics"},
    )
    assert withdrawn.status_code == 303, withdrawn.text
    assert "lethe_visitor" not in browser.cookies  # the cookie went with the consent
    assert browser.cookies.get("lethe_consent_choice") == "declined"
    assert exported_views(browser) == []
    browser.get("/orders")
    assert "lethe_visitor" not in browser.cookies and exported_views(browser) == []


def test_an_anonymous_decline_deletes_that_visitor_and_no_other(
    stack: Stack, staff: Browser, analytics: analytics_pb2_grpc.AnalyticsServiceStub
) -> None:
    leaving, staying = client(stack), client(stack)
    for visitor in (leaving, staying):
        choose(visitor, "accepted")
    before = page_views(staff, PRODUCT_PAGE), page_views(staff, "/")
    for visitor in (leaving, staying):
        visitor.get("/")
        visitor.get(product_path(stack))
    leaving_id, staying_id = leaving.cookies["lethe_visitor"], staying.cookies["lethe_visitor"]
    assert leaving_id != staying_id
    # Views are counted after each page has gone out; a count shows its visit is stored.
    wait_for(
        lambda: (page_views(staff, PRODUCT_PAGE), page_views(staff, "/")) == (before[0] + 2, before[1] + 2),
        10,
        what="every view stored",
    )

    # The decline straight from the form's fields: no page view in between that could be
    # counted while the decline is on its way (docs/portal.md says what such a race leaves).
    declined = leaving.post(
        "/cookies", data={"csrf_token": leaving.cookies["lethe_csrf"], "choice": "declined", "next": "/"}
    )
    assert declined.status_code == 303, declined.text
    assert "lethe_visitor" not in leaving.cookies

    def forgotten(visitor: str) -> int:
        reply = analytics.ForgetVisitor(analytics_pb2.ForgetVisitorRequest(visitor_id=visitor), timeout=10)
        return int(reply.deleted)

    assert forgotten(leaving_id) == 0  # the decline already deleted them
    assert forgotten(staying_id) == 2  # the other visitor's two views were kept


def test_an_erasure_deletes_the_views_and_the_analytics_service_sends_its_receipt(stack: Stack) -> None:
    browser = member(stack)
    choose(browser, "accepted")
    browser.get("/")
    browser.get(product_path(stack))
    wait_for(lambda: len(exported_views(browser)) >= 2, 10, what="the views in the export")
    erase = browser.get("/privacy/erase")
    opened = browser.post(
        "/privacy/erase", data={"csrf_token": csrf_of(erase), "confirm": "yes", "reason": ""}
    )
    assert opened.status_code == 202, opened.text
    assert "lethe_visitor" not in browser.cookies
    follow = re.search(r'href="(/privacy-requests/pr_[0-9a-f]{32}\?token=[^"]+)"', opened.text)
    assert follow, "the page links to the request's follow page"
    api = follow[1].replace("/privacy-requests/", "/api/v1/privacy-requests/").replace("&amp;", "&")

    def finished() -> dict[str, Any] | None:
        body = dict(httpx.get(stack.gateway_url + api).json())
        return body if body["status"] == "complete" and body.get("verification") else None

    done = wait_for(finished, 60, what="the erasure and its proof")
    (receipt,) = [r for r in done["receipts"] if r["service"] == "analytics"]
    assert receipt["outcome"] == "done" and receipt["deleted"], receipt
    assert done["verification"]["outcome"] == "passed", done["verification"]


def test_only_staff_see_the_traffic(stack: Stack, staff: Browser) -> None:
    person = member(stack)
    assert person.get("/api/v1/admin/traffic").status_code == 403
    refused = person.get("/staff/traffic")
    assert refused.status_code == 403 and "for staff with the role: Marketing" in refused.text
    assert client(stack).get("/staff/traffic").status_code == 303
    page = staff.get("/staff/traffic", params={"days": 7})
    assert page.status_code == 200 and 'id="traffic-top"' in page.text
    assert staff.get("/api/v1/admin/traffic", params={"days": 0}).status_code == 422


def analytics_history(browser: httpx.Client) -> list[str]:
    consents = browser.get("/api/v1/me/consents")
    assert consents.status_code == 200, consents.text
    return [r["action"] for r in consents.json()["history"] if r["purpose"] == "analytics"]


def log_in(stack: Stack, browser: httpx.Client, email: str) -> None:
    entered = browser.post(
        "/login",
        data={
            "csrf_token": csrf_of(browser.get("/login")),
            "email": email,
            "password": PASSWORD,
            "next": "/",
        },
    )
    assert entered.status_code == 303, entered.text


def test_the_choice_made_before_log_in_goes_into_the_ledger_once(stack: Stack) -> None:
    """An anonymous visitor's banner choice is kept in a cookie, and in the person's consent
    ledger once they log in; logging in again with the same choice adds nothing."""
    person = member(stack)
    email = person.get("/api/v1/me").json()["email"]
    assert analytics_history(person) == []

    device = client(stack)  # another browser, not logged in: the banner's choice first
    choose(device, "accepted")
    log_in(stack, device, email)
    assert analytics_history(device) == ["grant"]
    log_in(stack, device, email)
    assert analytics_history(device) == ["grant"]  # the same choice again: nothing new

    elsewhere = client(stack)
    choose(elsewhere, "declined")
    log_in(stack, elsewhere, email)
    assert analytics_history(elsewhere)[0] == "withdrawal"  # newest first
    # With the GPC signal the choice cookie is not what counts: GPC's refusal is recorded.
    gpc = client(stack, **{"Sec-GPC": "1"})
    choose(gpc, "accepted")
    log_in(stack, gpc, email)
    assert "grant" not in analytics_history(gpc)[:1]
