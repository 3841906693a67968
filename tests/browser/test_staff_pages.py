"""The back office in a real Chromium: an admin grants and revokes roles by clicking (with
the password asked again after 10 minutes), the audit trail shows both, each role sees only
its own pages, and every back-office page passes axe, has the CSP and asks nothing of
another origin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Browser, BrowserContext, Page
from pymongo import MongoClient

from lethe_testing import Browser as WebClient
from lethe_testing import Stack, start_stack, stop_stack, unique
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems

PASSWORD = "a long staff passphrase here"
STAFF_PAGES = ["/staff", "/staff/roles", "/staff/audit", "/staff/traffic"]
# Which back-office page each role may open (admin: every one).
PAGE_ROLE = {"/staff/roles": "admin", "/staff/audit": "admin", "/staff/traffic": "marketing"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("bo")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"chief-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def chief(stack: Stack) -> str:
    email = f"chief-{stack.run_id}@staff.example"
    WebClient(stack.gateway_url).sign_up(email, PASSWORD, name="Chris Chief")
    return email


def person(stack: Stack) -> str:
    email = f"{unique('st')}-{stack.run_id}@staff.example".lower()
    WebClient(stack.gateway_url).sign_up(email, PASSWORD, name="Sam Staff")
    return email


def logged_in(chromium: Browser, stack: Stack, email: str, **options: object) -> tuple[BrowserContext, Page]:
    context = new_context(chromium, locale="en", **options)  # type: ignore[arg-type]
    page = context.new_page()
    page.goto(stack.gateway_url + "/login")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r"/account$"))
    return context, page


def change_role(page: Page, email: str, role: str, grant: bool, reason: str, password: str = "") -> str:
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Role").select_option(label=role)
    page.get_by_label("Grant" if grant else "Revoke", exact=True).check()
    page.get_by_label("Reason").fill(reason)
    if password:
        page.get_by_label("Your password").fill(password)
    page.get_by_role("button", name="Save").click()
    return page.get_by_role("alert").or_(page.get_by_role("status")).first.inner_text()


def test_an_admin_grants_and_revokes_a_role_by_clicking_and_the_audit_trail_shows_it(
    chromium: Browser, stack: Stack, chief: str, mongo_client: MongoClient
) -> None:
    email = person(stack)
    context, page = logged_in(chromium, stack, chief)
    page.get_by_role("link", name="Back office").click()
    page.wait_for_url(re.compile(r"/staff$"))
    assert "Admin" in page.locator("#staff-roles").inner_text()
    waiting = page.locator("#staff-waiting").inner_text()
    for line in ("Portal-access requests", "Open privacy requests", "Orders in fulfilment"):
        assert line in waiting
    page.get_by_role("link", name="Staff roles").click()
    page.wait_for_url(re.compile(r"/staff/roles$"))
    assert (
        change_role(page, email, "Support", True, "new in the support team")
        == f"Role Support granted ({email})"
    )
    assert (
        "Support"
        in page.locator("#staff-members").get_by_role("row", name=re.compile(re.escape(email))).inner_text()
    )

    # Ten minutes later the password is asked again before any role changes.
    identity = mongo_client[stack.backends["identity"].db_name]
    identity["sessions"].update_many({}, {"$set": {"created_at": datetime.now(UTC) - timedelta(minutes=11)}})
    identity["session_confirmations"].delete_many({})
    asked = change_role(page, email, "Support", False, "moved to sales")
    assert asked == "Please enter your password again to change roles."
    assert page.get_by_label("Your password").get_attribute("aria-required") == "true"
    assert change_role(page, email, "Support", False, "moved to sales", "wrong password!") != ""
    assert page.get_by_label("Your password").get_attribute("aria-invalid") == "true"
    assert (
        change_role(page, email, "Support", False, "moved to sales", PASSWORD)
        == f"Role Support revoked ({email})"
    )
    assert email not in page.locator("#staff-members").inner_text()

    page.get_by_role("link", name="Audit trail").click()
    rows = page.locator("#audit-entries tbody tr").all_inner_texts()
    assert "staff_role.revoked (support)" in rows[0] and "moved to sales" in rows[0]
    assert "staff_role.granted (support)" in rows[1] and "new in the support team" in rows[1]
    context.close()


@pytest.mark.parametrize("role", ["Support", "Privacy", "Accounting", "Marketing"])
def test_each_role_sees_its_own_back_office_and_is_refused_the_others(
    chromium: Browser, stack: Stack, chief: str, role: str
) -> None:
    email = person(stack)
    admin = WebClient(stack.gateway_url)
    admin.post("/api/v1/session", json={"email": chief, "password": PASSWORD})
    granted = admin.post(
        "/api/v1/admin/staff/roles",
        json={"email": email, "role": role.lower(), "grant": True, "reason": "team"},
    )
    assert granted.status_code == 200, granted.text
    context, page = logged_in(chromium, stack, email)
    page.get_by_role("link", name="Back office").click()
    assert page.locator("#staff-roles").inner_text() == f"Your roles: {role}"
    for path, needed in PAGE_ROLE.items():
        answer = page.goto(stack.gateway_url + path)
        assert answer is not None
        assert answer.status == (200 if needed == role.lower() else 403), path
        if answer.status == 403:
            assert page.get_by_role("heading", level=1).inner_text() == "Not for this account"
    context.close()


def test_every_back_office_page_passes_axe_has_the_headers_and_stays_on_its_origin(
    chromium: Browser, stack: Stack, chief: str
) -> None:
    found: list[str] = []
    for viewport in ("desktop", "phone"):
        context, page = logged_in(chromium, stack, chief, viewport=viewport)
        recorder = PageRecorder(page)
        for path in STAFF_PAGES:
            response = page.goto(stack.gateway_url + path)
            assert response is not None and response.status == 200, path
            found += [f"{viewport} {path}: {p}" for p in security_header_problems(response)]
        found += [
            f"{viewport}: request to another origin {url}" for url in recorder.foreign(stack.gateway_url)
        ]
        found += [f"{viewport}: CSP violation {text}" for text in recorder.csp_violations]
        context.close()
        # axe is injected into the page, which the CSP forbids: its own context may bypass it.
        context, page = logged_in(chromium, stack, chief, bypass_csp=True, viewport=viewport)
        for path in STAFF_PAGES:
            page.goto(stack.gateway_url + path)
            found += [f"{viewport} {path}: {v}" for v in axe_violations(page)]
        context.close()
    assert found == []
