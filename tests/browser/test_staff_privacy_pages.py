"""The privacy role's back office in a real Chromium: the privacy-request queue in due order
with the overdue ones marked in words and the silent services named, a request's detail
page, a status change with a note, an objection decided by clicking (without JavaScript),
the proof of erasure run for a completed erasure, the support role refused, and every page
passing axe, with the security headers and nothing asked of another origin.

The stack makes every request due at once (``CONSENT_REQUEST_DUE_MONTHS=0``): each one is
overdue as soon as it is open, until staff extend its deadline.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from pymongo import MongoClient
from pymongo.database import Database

from lethe_testing import Browser as WebClient
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems

PASSWORD = "a long privacy passphrase"
SERVICES = {"identity", "consent", "shop", "newsletter", "analytics"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("bop")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"chief-{run}@staff.example",
        CONSENT_REQUEST_DUE_MONTHS="0",
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def consent_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["consent"].db_name]


@pytest.fixture(scope="module")
def chief(stack: Stack) -> WebClient:
    admin = WebClient(stack.gateway_url)
    admin.sign_up(f"chief-{stack.run_id}@staff.example", PASSWORD, name="Chris Chief")
    return admin


def member(stack: Stack, chief: WebClient, role: str) -> dict[str, Any]:
    """A new account that the admin grants ``role`` (its profile)."""
    email = f"{unique(role[:3])}-{stack.run_id}@staff.example".lower()
    me = WebClient(stack.gateway_url).sign_up(email, PASSWORD, name="Sam Staff")
    granted = chief.post(
        "/api/v1/admin/staff/roles", json={"email": email, "role": role, "grant": True, "reason": "the team"}
    )
    assert granted.status_code == 200, granted.text
    return me


@pytest.fixture(scope="module")
def dpo(stack: Stack, chief: WebClient) -> dict[str, Any]:
    return member(stack, chief, "privacy")


def customer(stack: Stack) -> WebClient:
    browser = WebClient(stack.gateway_url)
    # A name of its own: the proof of erasure looks for the erased person's name everywhere.
    name = f"Marie Curie {uuid.uuid4().hex[:8]}"
    browser.sign_up(f"{unique('c')}-{stack.run_id}@customer.example".lower(), PASSWORD, name=name)
    return browser


def objection(stack: Stack, browser: WebClient | None = None) -> tuple[WebClient, str]:
    """A customer (a new one unless given) objects to the access logs: an objection that
    waits for staff."""
    browser = browser or customer(stack)
    opened = browser.post("/api/v1/me/objections", json={"purpose": "access_logs", "reason": "no logs of me"})
    assert opened.status_code == 202, opened.text
    assert opened.json()["request"]["status"] == "open"
    return browser, str(opened.json()["request"]["id"])


@pytest.fixture(scope="module")
def erasure(stack: Stack) -> str:
    """A customer's erasure, complete with every receipt and its first (automatic) proof."""
    opened = customer(stack).post("/api/v1/me/erasure", json={})
    assert opened.status_code == 202, opened.text
    request_id, token = opened.json()["request"]["id"], opened.json()["follow_token"]

    def verified() -> dict[str, Any] | None:
        reply = WebClient(stack.gateway_url).get(
            f"/api/v1/privacy-requests/{request_id}", params={"token": token}
        )
        found = reply.json()
        return found if found["status"] == "complete" and found.get("verification") else None

    done = wait_for(verified, 60, what="the erasure to complete and its proof to run")
    assert done is not None and {r["service"] for r in done["receipts"]} == SERVICES
    return str(request_id)


def logged_in(chromium: Browser, stack: Stack, email: str, **options: object) -> tuple[BrowserContext, Page]:
    context = new_context(chromium, locale="en", **options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(stack.gateway_url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))
    return context, page


def rows(page: Page) -> list[str]:
    """The request ids of the queue's rows, top to bottom."""
    ids = page.locator("#privacy-queue tbody tr").evaluate_all("rows => rows.map(r => r.id)")
    return [str(i).removeprefix("row-") for i in ids]


def audit(consent_db: Database, action: str, target: str) -> list[dict[str, Any]]:
    """Consent's staff audit entries of one action on one request (the entries themselves)."""
    return list(
        consent_db["staff_audit"].find({"_id": {"$regex": "^t/"}, "action": action, "target": target})
    )


def test_the_queue_comes_in_due_order_marks_the_overdue_and_names_the_silent_services(
    chromium: Browser,
    stack: Stack,
    dpo: dict[str, Any],
    chief: WebClient,
    erasure: str,
    consent_db: Database,
) -> None:
    first, second, third = (objection(stack)[1] for _ in range(3))
    context, page = logged_in(chromium, stack, dpo["email"])
    page.goto(stack.gateway_url + "/staff/privacy?kind=objection&status=open")
    assert page.get_by_role("heading", level=1).inner_text() == "Privacy requests"
    mine = [i for i in rows(page) if i in (first, second, third)]
    assert mine == [first, second, third]  # opened one after the other: due in that order
    for request_id in mine:
        assert "Overdue" in page.locator(f"#row-{request_id}").inner_text()

    # The first one's deadline is extended by a month, with a note: it goes last, not overdue.
    page.locator(f"#row-{first} a").click()
    page.wait_for_url(re.compile(rf"/staff/privacy/{first}$"))
    assert "Overdue" in page.locator("#request-status").inner_text()
    page.get_by_label("New status").select_option(label="In progress")
    page.get_by_label("Extend the deadline").select_option(label="By one month")
    page.get_by_role("button", name="Save the status").click()
    assert page.get_by_role("alert").inner_text() == "Please correct the fields marked below."
    assert page.get_by_label("Reason or note").get_attribute("aria-invalid") == "true"
    page.get_by_label("New status").select_option(label="In progress")
    page.get_by_label("Reason or note").fill("asked the logging team")
    page.get_by_label("Extend the deadline").select_option(label="By one month")
    page.get_by_role("button", name="Save the status").click()
    assert page.get_by_role("status").inner_text() == "The status is saved."
    assert page.locator("#request-status").inner_text() == "In progress"
    assert "asked the logging team" in page.locator("#request-decision").inner_text()
    (entry,) = audit(consent_db, "privacy_request.updated", first)
    assert (entry["actor_id"], entry["detail"]) == (dpo["id"], "in_progress, deadline +1 months")

    for other in (second, third):  # taken on too, their deadlines as they were
        moved = chief.post(f"/api/v1/admin/privacy-requests/{other}/status", json={"status": "in_progress"})
        assert moved.status_code == 200, moved.text
    page.get_by_role("link", name="Back to all privacy requests").click()
    page.get_by_label("Status").select_option(label="In progress")
    page.get_by_label("Kind").select_option(label="Objection")
    page.get_by_role("button", name="Show").click()
    assert [i for i in rows(page) if i in (first, second, third)] == [second, third, first]
    due = page.locator("#privacy-queue tbody time").evaluate_all("ts => ts.map(t => t.dateTime)")
    assert due == sorted(due)
    assert "Overdue" not in page.locator(f"#row-{first}").inner_text()
    assert "Overdue" in page.locator(f"#row-{second}").inner_text()
    page.get_by_label("Only overdue requests").check()
    page.get_by_role("button", name="Show").click()
    overdue = rows(page)
    assert second in overdue and third in overdue and first not in overdue
    assert all("Overdue" in text for text in page.locator("#privacy-queue tbody tr").all_inner_texts())

    # An erasure names the services without a receipt ("none" once every one answered).
    page.goto(stack.gateway_url + "/staff/privacy?kind=erasure&status=complete")
    assert page.locator(f"#row-{erasure} td").nth(2).inner_text() == "none"
    context.close()


def test_the_queue_pages_the_list(
    chromium: Browser, stack: Stack, dpo: dict[str, Any], chief: WebClient
) -> None:
    someone = customer(stack)
    for _ in range(51):  # one more than a page, deferred: a list no other test adds to
        _, request_id = objection(stack, someone)
        deferred = chief.post(
            f"/api/v1/admin/privacy-requests/{request_id}/status",
            json={"status": "deferred", "reason": "waiting for the logging team"},
        )
        assert deferred.status_code == 200, deferred.text
    context, page = logged_in(chromium, stack, dpo["email"])
    page.goto(stack.gateway_url + "/staff/privacy?kind=objection&status=deferred")
    first = rows(page)
    assert len(first) == 50
    page.get_by_role("link", name="Next page").click()
    second = rows(page)
    assert second and not set(second) & set(first)
    page.get_by_role("link", name="First page").click()
    assert rows(page) == first
    page.goto(stack.gateway_url + "/staff/privacy?kind=objection&status=deferred&page_token=not-ours")
    assert page.url.endswith("/staff/privacy?status=deferred&kind=objection")
    context.close()


def test_a_privacy_member_decides_an_objection_by_clicking_without_javascript(
    chromium: Browser, stack: Stack, dpo: dict[str, Any], consent_db: Database
) -> None:
    person, request_id = objection(stack)
    context, page = logged_in(chromium, stack, dpo["email"], javascript=False)
    page.goto(stack.gateway_url + f"/staff/privacy/{request_id}")  # the queue's link: test above
    assert page.get_by_role("heading", level=1).inner_text() == "Privacy request: Objection"
    assert "no logs of me" in page.locator("#request-facts").inner_text()  # the person's reason

    page.get_by_role("button", name="Decide", exact=True).click()
    assert page.get_by_role("alert").inner_text() == "Please correct the fields marked below."
    assert "uphold or reject" in page.locator("#f-decision-error").inner_text()
    assert page.get_by_label("Reasons").get_attribute("aria-invalid") == "true"
    assert audit(consent_db, "objection.decided", request_id) == []

    page.get_by_label("Reject: the processing goes on").check()
    page.get_by_label("Reasons").fill("security logs are kept 7 days, Art. 6(1)(f)")
    page.get_by_role("button", name="Decide", exact=True).click()
    assert page.get_by_role("status").inner_text().startswith("The objection is decided")
    assert page.locator("#request-status").inner_text() == "Rejected"
    assert "security logs" in page.locator("#request-decision").inner_text()
    assert page.get_by_role("button", name="Decide", exact=True).count() == 0  # closed now

    mine = {r["id"]: r for r in person.get("/api/v1/me/privacy-requests").json()}
    assert mine[request_id]["status"] == "rejected" and "security logs" in mine[request_id]["decision"]
    (entry,) = audit(consent_db, "objection.decided", request_id)
    assert (entry["actor_id"], entry["detail"]) == (dpo["id"], "rejected")
    assert entry["reason"] == "security logs are kept 7 days, Art. 6(1)(f)"
    context.close()


def test_a_privacy_member_runs_the_proof_of_erasure_for_a_completed_erasure(
    chromium: Browser, stack: Stack, dpo: dict[str, Any], erasure: str, consent_db: Database
) -> None:
    context, page = logged_in(chromium, stack, dpo["email"])
    page.goto(stack.gateway_url + f"/staff/privacy/{erasure}")
    assert page.get_by_role("heading", level=1).inner_text() == "Privacy request: Erasure"
    services = page.locator("#request-services tbody tr").all_inner_texts()
    assert {line.split("\t")[0].strip() for line in services} == SERVICES
    assert all("done" in line for line in services)
    assert page.get_by_role("button", name="Save the status").count() == 0  # complete: no moves

    for run in (1, 2):
        page.get_by_role("button", name="Run the proof of erasure now").click()
        page.wait_for_url(re.compile(rf"/staff/privacy/{erasure}\?done=verified$"))
        assert page.get_by_role("status").inner_text().startswith("The proof of erasure has run")
        assert page.locator("#proof-outcome").inner_text().startswith("Passed"), page.locator(
            "main"
        ).inner_text()
        assert page.locator("#proof-failures").count() == 0
        assert len(audit(consent_db, "erasure.verified", erasure)) == run
    # The second run found the first run's audit entry: the consent receipt declared it kept.
    retained = page.locator("#proof-retained tbody tr").all_inner_texts()
    assert any(line.startswith("consent") and "staff_audit" in line for line in retained), retained
    assert {e["actor_id"] for e in audit(consent_db, "erasure.verified", erasure)} == {dpo["id"]}
    context.close()


def test_a_support_member_is_refused_the_privacy_pages(
    chromium: Browser, stack: Stack, chief: WebClient, erasure: str
) -> None:
    support = member(stack, chief, "support")
    person, request_id = objection(stack)
    context, page = logged_in(chromium, stack, support["email"])
    for path in ("/staff/privacy", f"/staff/privacy/{request_id}", f"/staff/privacy/{erasure}"):
        answer = page.goto(stack.gateway_url + path)
        assert answer is not None and answer.status == 403, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not for this account"
        assert "Privacy" in page.locator("main").inner_text()
    csrf = next(c["value"] for c in context.cookies() if c["name"] == "lethe_csrf")
    posted = page.request.post(
        stack.gateway_url + f"/staff/privacy/{request_id}/decision",
        form={"csrf_token": csrf, "decision": "uphold", "reason": "let me"},
        max_redirects=0,
    )
    assert posted.status == 403
    mine = {r["id"]: r for r in person.get("/api/v1/me/privacy-requests").json()}
    assert mine[request_id]["status"] == "open"  # nothing was decided
    context.close()


def test_every_privacy_page_passes_axe_has_the_headers_and_stays_on_its_origin(
    chromium: Browser, stack: Stack, dpo: dict[str, Any], erasure: str
) -> None:
    _, open_id = objection(stack)
    paths = [
        "/staff/privacy",
        "/staff/privacy?kind=objection&overdue=1",
        f"/staff/privacy/{open_id}",
        f"/staff/privacy/{erasure}",
    ]
    found: list[str] = []
    for viewport in ("desktop", "phone"):
        context, page = logged_in(chromium, stack, dpo["email"], viewport=viewport)
        recorder = PageRecorder(page)
        for path in paths:
            response = page.goto(stack.gateway_url + path)
            assert response is not None and response.status == 200, path
            found += [f"{viewport} {path}: {p}" for p in security_header_problems(response)]
        found += [
            f"{viewport}: request to another origin {url}" for url in recorder.foreign(stack.gateway_url)
        ]
        found += [f"{viewport}: CSP violation {text}" for text in recorder.csp_violations]
        context.close()
        # axe is injected into the page, which the CSP forbids: its own context may bypass it.
        context, page = logged_in(chromium, stack, dpo["email"], bypass_csp=True, viewport=viewport)
        for path in paths:
            page.goto(stack.gateway_url + path)
            found += [f"{viewport} {path}: {v}" for v in axe_violations(page)]
        # A form sent back with its errors marked, too.
        page.goto(stack.gateway_url + f"/staff/privacy/{open_id}")
        page.get_by_role("button", name="Decide", exact=True).click()
        found += [f"{viewport} decision errors: {v}" for v in axe_violations(page)]
        context.close()
    assert found == []
