"""The support role's back office in a real Chromium, without JavaScript: a support member
approves one portal-access request and rejects another with a reason (and is told when
someone else decided first), closes a contact request, creates an organisation and changes
its domains, with identity's refusals at the field; the customers see the decisions through
the API. A marketing member is refused every support page, and every support page passes
axe at desktop and phone width, has the security headers and asks nothing of another origin.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page

from lethe_testing import Browser as WebClient
from lethe_testing import Stack, start_stack, stop_stack, unique, wait_for
from lethe_testing.browser import PageRecorder, axe_violations, new_context, security_header_problems

PASSWORD = "a long support passphrase"
SUPPORT_PAGES = ["/staff/portal-requests", "/staff/contacts", "/staff/organisations"]
EVERY_VIEW = [
    *SUPPORT_PAGES,
    "/staff/portal-requests?status=approved",
    "/staff/portal-requests?status=rejected",
    "/staff/contacts?status=closed",
]
GERMAN_TITLES = {
    "/staff/portal-requests": "Portalzugangsanfragen",
    "/staff/contacts": "Kontakt- und Rückrufanfragen",
    "/staff/organisations": "Organisationen",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("sup")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"chief-{run}@staff.example",
        IDENTITY_CONTACT_MAX_PER_ADDRESS="100",  # every contact request here comes from 127.0.0.1
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def admin(stack: Stack) -> WebClient:
    """The first admin (from IDENTITY_ADMIN_EMAILS), logged in to the JSON API."""
    client = WebClient(stack.gateway_url)
    client.sign_up(f"chief-{stack.run_id}@staff.example", PASSWORD, name="Chris Chief")
    return client


def staff_member(stack: Stack, admin: WebClient, role: str) -> str:
    """A new account that the admin grants ``role`` through the JSON API."""
    email = f"{unique(role[:3])}-{stack.run_id}@staff.example".lower()
    WebClient(stack.gateway_url).sign_up(email, PASSWORD, name=f"Sam {role.title()}")
    granted = admin.post(
        "/api/v1/admin/staff/roles", json={"email": email, "role": role, "grant": True, "reason": "team"}
    )
    assert granted.status_code == 200, granted.text
    return email


@pytest.fixture(scope="module")
def support(stack: Stack, admin: WebClient) -> str:
    return staff_member(stack, admin, "support")


def domain_of(stack: Stack, name: str) -> str:
    return f"{name}-{stack.run_id}.example".lower().replace("_", "-")


@pytest.fixture(scope="module")
def acme(stack: Stack, admin: WebClient) -> str:
    """A customer organisation's domain: its people may ask for portal access."""
    domain = domain_of(stack, "acme")
    created = admin.post("/api/v1/admin/organisations", json={"name": "ACME", "domains": [domain]})
    assert created.status_code == 201, created.text
    return domain


def customer(stack: Stack, domain: str, name: str) -> tuple[WebClient, str]:
    """A customer at ``domain`` who asked for portal access (now pending)."""
    email = f"{unique('c')}@{domain}".lower()
    client = WebClient(stack.gateway_url)
    client.sign_up(email, PASSWORD, name=name)
    asked = client.post("/api/v1/me/portal-access")
    assert asked.status_code == 200 and asked.json()["status"] == "pending", asked.text
    return client, email


def contact_request(stack: Stack, name: str) -> str:
    """A callback request from someone without an account; its message, unique."""
    text = f"Please call me back about {unique('m')}"
    sent = WebClient(stack.gateway_url).post(
        "/api/v1/contact",
        json={
            "name": name,
            "email": f"{unique('v')}@visitor.example",
            "phone": "+49 30 1234567",
            "message": text,
            "kind": "callback",
        },
    )
    assert sent.status_code == 202, sent.text
    return text


def logged_in(chromium: Browser, stack: Stack, email: str, **options: Any) -> tuple[BrowserContext, Page]:
    options = {"locale": "en", **options}
    context = new_context(chromium, **options)
    page = context.new_page()
    page.goto(stack.gateway_url + "/login")
    page.locator("#f-email").fill(email)
    page.locator("#f-password").fill(PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_url(re.compile(r"/account$"))
    return context, page


def submit(page: Page, button: Locator) -> int:
    """Click a form's button; the HTTP status of the POST (303 when it redirects)."""
    with (
        page.expect_navigation(),
        page.expect_response(lambda r: r.request.method == "POST") as posted,
    ):
        button.click()
    return posted.value.status


def said(page: Page) -> str:
    """The page's status message or error."""
    return page.get_by_role("alert").or_(page.get_by_role("status")).first.inner_text()


def access_when(client: WebClient, status: str) -> dict[str, Any]:
    """The customer's portal access as the API shows it, once it has ``status`` (a GET may
    reuse the gateway's answer for the session for 2 s: LETHE_GATEWAY_SESSION_CACHE_SECONDS)."""

    def seen() -> dict[str, Any] | None:
        access: dict[str, Any] = client.get("/api/v1/me").json()["portal_access"]
        return access if access["status"] == status else None

    return wait_for(seen, timeout=10, what=f"portal access {status}")


def row(page: Page, table: str, text: str) -> Locator:
    return page.locator(f"#{table} tbody tr", has_text=text)


def domains_shown(page: Page, organisation: str) -> str:
    return row(page, "organisations", organisation).locator("td").first.inner_text()


def test_a_support_member_approves_and_rejects_portal_requests_and_the_customers_see_it(
    chromium: Browser, stack: Stack, admin: WebClient, support: str, acme: str
) -> None:
    ada, ada_email = customer(stack, acme, "Ada Approved")
    bob, bob_email = customer(stack, acme, "Bob Rejected")
    context, page = logged_in(chromium, stack, support, javascript=False)
    page.get_by_role("link", name="Back office").click()
    page.goto(stack.gateway_url + "/staff/portal-requests")
    assert page.get_by_role("heading", level=1).inner_text() == "Portal-access requests"
    assert (
        page.locator("#portal-requests caption").inner_text()
        == "Pending portal-access requests, oldest first"
    )
    ada_row = row(page, "portal-requests", ada_email)
    assert "Ada Approved" in ada_row.inner_text() and "ACME" in ada_row.inner_text()

    # Rejecting needs a reason: said at the field, nothing decided.
    assert submit(page, row(page, "portal-requests", bob_email).get_by_role("button", name="Reject")) == 422
    reason = row(page, "portal-requests", bob_email).get_by_label("Reason (needed to reject)")
    assert reason.get_attribute("aria-invalid") == "true"
    assert "Please say why you reject this request." in row(page, "portal-requests", bob_email).inner_text()
    pending = admin.get("/api/v1/admin/portal-access-requests").json()
    assert bob_email in [r["email"] for r in pending]

    assert submit(page, ada_row.get_by_role("button", name="Approve")) == 303
    assert re.search(r"/staff/portal-requests\?status=pending&done=approved$", page.url)
    assert said(page) == "The request was approved; the person has been told by mail."
    assert row(page, "portal-requests", ada_email).count() == 0

    bob_row = row(page, "portal-requests", bob_email)
    bob_row.get_by_label("Reason (needed to reject)").fill("not a customer of ours any more")
    assert submit(page, bob_row.get_by_role("button", name="Reject")) == 303
    assert said(page) == "The request was rejected; the person has been told by mail."
    assert row(page, "portal-requests", bob_email).count() == 0

    # What the customers now see.
    assert access_when(ada, "approved")["organisation_name"] == "ACME"
    organisation = ada.get("/api/v1/portal/organisation")
    assert organisation.status_code == 200 and organisation.json()["name"] == "ACME"
    assert access_when(bob, "rejected")["reason"] == "not a customer of ours any more"
    assert bob.get("/api/v1/portal/organisation").status_code == 403

    page.get_by_role("link", name="Approved", exact=True).click()
    assert page.locator("#portal-requests caption").inner_text() == "Approved portal-access requests"
    assert row(page, "portal-requests", ada_email).count() == 1
    assert page.get_by_role("button", name="Approve").count() == 0  # decided: nothing to click
    page.get_by_role("link", name="Rejected", exact=True).click()
    assert "not a customer of ours any more" in row(page, "portal-requests", bob_email).inner_text()
    context.close()


def test_a_decision_someone_else_made_first_is_said_clearly(
    chromium: Browser, stack: Stack, admin: WebClient, support: str, acme: str
) -> None:
    cy, cy_email = customer(stack, acme, "Cy Contested")
    context, page = logged_in(chromium, stack, support, javascript=False)
    page.goto(stack.gateway_url + "/staff/portal-requests")
    cy_row = row(page, "portal-requests", cy_email)
    assert cy_row.count() == 1
    account_id = cy.get("/api/v1/me").json()["id"]
    first = admin.post(f"/api/v1/admin/portal-access-requests/{account_id}/decision", json={"approve": True})
    assert first.status_code == 200, first.text

    cy_row.get_by_label("Reason (needed to reject)").fill("too late")
    assert submit(page, cy_row.get_by_role("button", name="Reject")) == 409
    assert said(page).startswith("Someone else has already decided this request")
    assert row(page, "portal-requests", cy_email).count() == 0
    assert access_when(cy, "approved")["reason"] is None  # the admin's decision, not the page's
    context.close()


def test_the_lists_come_in_pages(chromium: Browser, stack: Stack, admin: WebClient, support: str) -> None:
    for n in range(3):
        created = admin.post(
            "/api/v1/admin/organisations",
            json={"name": f"Paged {n}", "domains": [domain_of(stack, f"paged{n}")]},
        )
        assert created.status_code == 201, created.text
    context, page = logged_in(chromium, stack, support, javascript=False)
    page.goto(stack.gateway_url + "/staff/organisations?limit=2")
    seen: list[str] = []
    for _ in range(10):
        names = page.locator("#organisations tbody th").all_inner_texts()
        assert 1 <= len(names) <= 2
        seen += names
        following = page.get_by_role("link", name="Next page")
        if following.count() == 0:
            break
        assert "limit=2" in (following.get_attribute("href") or "")
        following.click()
        assert page.get_by_role("link", name="First page").count() == 1
    assert {"Paged 0", "Paged 1", "Paged 2", "ACME"} <= set(seen)
    assert len(seen) == len(set(seen)) >= 4  # every organisation once: the pages followed on
    # A page token that is not one of ours starts the list again.
    answer = page.goto(stack.gateway_url + "/staff/organisations?page_token=not*ours")
    assert answer is not None and answer.status == 200 and page.url.endswith("/staff/organisations")
    context.close()


def test_a_support_member_closes_a_contact_request(
    chromium: Browser, stack: Stack, admin: WebClient, support: str
) -> None:
    message = contact_request(stack, "Vera Visitor")
    stale = contact_request(stack, "Walt Waiting")
    context, page = logged_in(chromium, stack, support, javascript=False)
    page.goto(stack.gateway_url + "/staff/contacts")
    assert page.get_by_role("heading", level=1).inner_text() == "Contact and callback requests"
    vera = row(page, "contact-requests", message)
    for shown in ("Callback", "Vera Visitor", "+49 30 1234567"):
        assert shown in vera.inner_text()
    assert submit(page, vera.get_by_role("button", name="Close")) == 303
    assert said(page) == "The request was closed."
    assert row(page, "contact-requests", message).count() == 0
    page.get_by_role("link", name="Closed", exact=True).click()
    assert row(page, "contact-requests", message).count() == 1
    closed = admin.get("/api/v1/admin/contact-requests", params={"status": "closed"}).json()
    assert [c["status"] for c in closed if c["message"] == message] == ["closed"]

    # Closed by someone else while the page was open: said, not an error page.
    page.get_by_role("link", name="Open", exact=True).click()
    walt = row(page, "contact-requests", stale)
    contact_id = next(
        c["id"] for c in admin.get("/api/v1/admin/contact-requests").json() if c["message"] == stale
    )
    assert admin.post(f"/api/v1/admin/contact-requests/{contact_id}/close").status_code == 200
    assert submit(page, walt.get_by_role("button", name="Close")) == 409
    assert said(page) == "This request has already been closed."
    context.close()


def test_a_support_member_creates_an_organisation_and_changes_its_domains(
    chromium: Browser, stack: Stack, admin: WebClient, support: str, acme: str
) -> None:
    first, second, later = (domain_of(stack, n) for n in ("initech", "initech-eu", "initech-new"))
    name = f"Initech {stack.run_id}"
    context, page = logged_in(chromium, stack, support, javascript=False)
    page.goto(stack.gateway_url + "/staff/organisations")
    assert page.get_by_role("heading", level=1).inner_text() == "Organisations"
    new = page.locator("#org-new")

    # Identity's refusals, at the field: a domain of another organisation (409), then one
    # that is no e-mail domain (422).
    new.get_by_label("Name").fill(name)
    new.get_by_label("E-mail domains").fill(f"{first}, {acme}")
    assert submit(page, new.get_by_role("button", name="Create organisation")) == 409
    domains = page.locator("#org-new").get_by_label("E-mail domains")
    assert domains.get_attribute("aria-invalid") == "true"
    taken = f"The domain {acme} already belongs to another organisation."
    assert taken in page.locator("#org-new").inner_text()
    assert page.locator("#org-new").get_by_label("Name").input_value() == name  # kept
    domains.fill("not_a_domain")
    assert submit(page, page.locator("#org-new").get_by_role("button", name="Create organisation")) == 422
    assert "Each entry must be an e-mail domain" in page.locator("#org-new").inner_text()
    assert name not in page.locator("#organisations").inner_text()

    page.locator("#org-new").get_by_label("E-mail domains").fill(f"{first},\n{second}")
    assert submit(page, page.locator("#org-new").get_by_role("button", name="Create organisation")) == 303
    assert said(page) == "The organisation was created."
    assert row(page, "organisations", name).locator("td").first.inner_text() == ", ".join(
        sorted([first, second])
    )

    edit = page.get_by_role("region", name=f"Change {name}")
    assert edit.get_by_label("E-mail domains").input_value() == "\n".join(sorted([first, second]))
    edit.get_by_label("E-mail domains").fill(f"{first}\n{acme}")
    assert submit(page, edit.get_by_role("button", name="Save changes")) == 409
    edit = page.get_by_role("region", name=f"Change {name}")
    assert edit.get_by_label("E-mail domains").get_attribute("aria-invalid") == "true"
    assert taken in edit.inner_text()

    edit.get_by_label("E-mail domains").fill(f"{first}\n{later}")
    assert submit(page, edit.get_by_role("button", name="Save changes")) == 303
    assert said(page) == "The organisation was changed."
    assert row(page, "organisations", name).locator("td").first.inner_text() == ", ".join(
        sorted([first, later])
    )
    stored = next(o for o in admin.get("/api/v1/admin/organisations").json() if o["name"] == name)
    assert stored["domains"] == sorted([first, later])
    context.close()

    # The change counts at once: someone at the new domain may ask, at the dropped one not.
    _, asked = customer(stack, later, "Nia New")
    outsider = WebClient(stack.gateway_url)
    outsider.sign_up(f"{unique('o')}@{second}", PASSWORD, name="Otto Old")
    assert outsider.post("/api/v1/me/portal-access").json()["status"] == "rejected"
    pending = admin.get("/api/v1/admin/portal-access-requests").json()
    assert [r["access"]["organisation_name"] for r in pending if r["email"] == asked] == [name]


def test_a_marketing_member_is_refused_every_support_page(
    chromium: Browser, stack: Stack, admin: WebClient
) -> None:
    email = staff_member(stack, admin, "marketing")
    context, page = logged_in(chromium, stack, email)
    for path in SUPPORT_PAGES:
        answer = page.goto(stack.gateway_url + path)
        assert answer is not None and answer.status == 403, path
        assert page.get_by_role("heading", level=1).inner_text() == "Not for this account"
    context.close()


def test_every_support_page_passes_axe_has_the_headers_and_stays_on_its_origin(
    chromium: Browser, stack: Stack, admin: WebClient, support: str, acme: str
) -> None:
    customer(stack, acme, "Pat Pending")  # rows with their forms on every list
    contact_request(stack, "Quinn Question")
    found: list[str] = []
    for viewport, locale in (("desktop", "en"), ("phone", "de")):
        context, page = logged_in(chromium, stack, support, viewport=viewport, locale=locale)
        recorder = PageRecorder(page)
        for path in EVERY_VIEW:
            response = page.goto(stack.gateway_url + path)
            assert response is not None and response.status == 200, path
            found += [f"{viewport} {path}: {p}" for p in security_header_problems(response)]
            if locale == "de" and path in GERMAN_TITLES:
                assert page.get_by_role("heading", level=1).inner_text() == GERMAN_TITLES[path]
        found += [
            f"{viewport}: request to another origin {url}" for url in recorder.foreign(stack.gateway_url)
        ]
        found += [f"{viewport}: CSP violation {text}" for text in recorder.csp_violations]
        context.close()
        # axe is injected into the page, which the CSP forbids: its own context may bypass it.
        context, page = logged_in(chromium, stack, support, bypass_csp=True, viewport=viewport, locale=locale)
        for path in EVERY_VIEW:
            page.goto(stack.gateway_url + path)
            assert page.locator("table caption").count() == 1 or "?status=" in path, path
            found += [f"{viewport} {path}: {v}" for v in axe_violations(page)]
        # A form sent back with errors at its fields, too.
        page.goto(stack.gateway_url + "/staff/organisations")
        page.locator("#org-new button[type=submit]").click()
        page.wait_for_load_state()
        assert page.locator("#org-new [aria-invalid=true]").count() == 2
        found += [f"{viewport} refused form: {v}" for v in axe_violations(page)]
        context.close()
    assert found == []
