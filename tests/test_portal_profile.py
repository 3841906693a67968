"""The account page through the real system: rectify name and phone, change the e-mail
address from the mailed link without a password, ask for portal access and see the
organisation once staff approve; the contact form, the privacy notice and the imprint."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import httpx
import pytest
from markupsafe import escape

from lethe.analytics.v1 import analytics_pb2_grpc
from lethe.common.v1 import subject_pb2
from lethe.consent.v1 import consent_pb2_grpc
from lethe.identity.v1 import identity_pb2_grpc
from lethe.newsletter.v1 import newsletter_pb2_grpc
from lethe.shop.v1 import shop_pb2_grpc
from lethe_testing import Browser, Stack, start_stack, stop_stack, unique
from lethe_testing.maildir import token_in, wait_for_mail

PASSWORD = "a long passphrase for profiles"
STUBS: dict[str, Any] = {
    "identity": identity_pb2_grpc.IdentityServiceStub,
    "consent": consent_pb2_grpc.ConsentServiceStub,
    "shop": shop_pb2_grpc.ShopServiceStub,
    "newsletter": newsletter_pb2_grpc.NewsletterServiceStub,
    "analytics": analytics_pb2_grpc.AnalyticsServiceStub,
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("pp")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"boss-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def boss(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"boss-{stack.run_id}@staff.example", PASSWORD, name="Bo Ss")
    yield browser
    browser.close()


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found, "the page has no form with a CSRF field"
    return found[1]


def person(stack: Stack, domain: str = "example.com") -> tuple[Browser, str]:
    email = f"pp-{uuid.uuid4().hex[:10]}@{domain}"
    browser = Browser(stack.gateway_url)
    browser.sign_up(email, PASSWORD, name="Pat Person")
    return browser, email


def test_a_person_corrects_name_and_phone_and_the_api_shows_it(stack: Stack) -> None:
    me, email = person(stack)
    page = me.http.get("/account")
    assert page.status_code == 200 and email in page.text and 'action="/account/profile"' in page.text

    bad = me.http.post(
        "/account/profile", data={"csrf_token": csrf_of(page), "name": "Pat Person", "phone": "not a number"}
    )
    assert bad.status_code == 422 and 'id="f-phone-error"' in bad.text
    assert me.get("/api/v1/me").json()["phone"] is None

    saved = me.http.post(
        "/account/profile",
        data={"csrf_token": csrf_of(page), "name": "Patricia Person", "phone": "+49 30 1234567"},
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/account?done=profile"
    mine = me.get("/api/v1/me").json()
    assert (mine["name"], mine["phone"]) == ("Patricia Person", "+49 30 1234567")
    shown = me.http.get("/account?done=profile")
    assert "Your details are saved." in shown.text and "Patricia Person" in shown.text

    forged = me.http.post("/account/profile", data={"csrf_token": "forged", "name": "Mallory", "phone": ""})
    assert forged.status_code == 403
    assert me.get("/api/v1/me").json()["name"] == "Patricia Person"


def test_an_email_change_waits_for_the_mailed_link_which_needs_no_password(stack: Stack) -> None:
    me, email = person(stack)
    page = me.http.get("/account")
    new = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    sent = me.http.post("/account/email", data={"csrf_token": csrf_of(page), "email": new})
    assert sent.status_code == 303 and sent.headers["location"] == "/account?done=email"
    mine = me.get("/api/v1/me").json()
    assert (mine["email"], mine["pending_email"]) == (email, new)
    assert new in me.http.get("/account").text  # shown as waiting for confirmation

    token = token_in(wait_for_mail(new, "verification"))
    landing = me.http.get(f"/verify-email?token={token}")
    assert landing.status_code == 200 and "Leave it empty if you are confirming" in landing.text
    confirmed = me.http.post(
        "/verify-email", data={"csrf_token": csrf_of(landing), "token": token, "password": ""}
    )
    assert confirmed.status_code == 200 and "new e-mail address is confirmed" in confirmed.text
    mine = me.get("/api/v1/me").json()
    assert (mine["email"], mine["pending_email"]) == (new, None)


def test_an_activation_link_without_the_password_asks_for_it_at_the_field(stack: Stack) -> None:
    c = httpx.Client(base_url=stack.gateway_url, timeout=30)
    email = f"pp-{uuid.uuid4().hex[:10]}@example.com"
    version = next(t["version"] for t in c.get("/api/v1/consent-texts").json() if t["purpose"] == "account")
    body = {"email": email, "password": PASSWORD, "name": "New One", "account_consent_version": version}
    assert c.post("/api/v1/accounts", json=body).status_code == 201
    token = token_in(wait_for_mail(email, "verification"))
    landing = c.get(f"/verify-email?token={token}")
    refused = c.post("/verify-email", data={"csrf_token": csrf_of(landing), "token": token, "password": ""})
    assert refused.status_code == 401 and 'id="f-password-error"' in refused.text
    done = c.post(
        "/verify-email", data={"csrf_token": csrf_of(landing), "token": token, "password": PASSWORD}
    )
    assert done.status_code == 200 and "account is active" in done.text


def test_portal_access_is_asked_shown_pending_and_the_organisation_page_opens_once_approved(
    stack: Stack, boss: Browser
) -> None:
    domain = f"org-{uuid.uuid4().hex[:8]}.example"
    org = boss.post("/api/v1/admin/organisations", json={"name": "Globex Pages", "domains": [domain]})
    assert org.status_code == 201, org.text
    me, _ = person(stack, domain=domain)
    page = me.http.get("/account")
    assert "not requested" in page.text
    assert me.http.get("/account/organisation").status_code == 403

    asked = me.http.post("/account/portal-access", data={"csrf_token": csrf_of(page)})
    assert asked.status_code == 303
    assert me.get("/api/v1/me").json()["portal_access"]["status"] == "pending"
    assert "requested, waiting for a decision" in me.http.get("/account").text

    account_id = me.get("/api/v1/me").json()["id"]
    decided = boss.post(f"/api/v1/admin/portal-access-requests/{account_id}/decision", json={"approve": True})
    assert decided.status_code == 200, decided.text
    page = me.http.get("/account")
    assert "approved" in page.text and 'href="/account/organisation"' in page.text
    organisation = me.http.get("/account/organisation")
    assert (
        organisation.status_code == 200
        and "Globex Pages" in organisation.text
        and domain in organisation.text
    )


def test_the_contact_form_reaches_staff_logged_in_or_not(stack: Stack, boss: Browser) -> None:
    c = httpx.Client(base_url=stack.gateway_url, timeout=30)
    form = c.get("/contact")
    assert form.status_code == 200
    assert "answering a contact or callback request" in form.text  # identity's declared purpose
    marker = uuid.uuid4().hex
    refused = c.post(
        "/contact",
        data={
            "csrf_token": csrf_of(form),
            "kind": "contact",
            "name": "Vi Sitor",
            "email": "no",
            "message": "",
        },
    )
    assert (
        refused.status_code == 422
        and 'id="f-email-error"' in refused.text
        and 'id="f-message-error"' in refused.text
    )
    no_phone = c.post(
        "/contact",
        data={
            "csrf_token": csrf_of(form),
            "kind": "callback",
            "name": "Vi Sitor",
            "email": "visitor@example.com",
            "message": f"call me {marker}",
        },
    )
    assert no_phone.status_code == 422 and 'id="f-phone-error"' in no_phone.text
    sent = c.post(
        "/contact",
        data={
            "csrf_token": csrf_of(form),
            "kind": "callback",
            "name": "Vi Sitor",
            "email": "visitor@example.com",
            "phone": "+49 30 7654321",
            "message": f"call me {marker}",
            "website": "",
        },
    )
    assert sent.status_code == 200 and "we will get back to you" in sent.text

    me, email = person(stack)
    mine = me.http.get("/contact")
    assert email in mine.text  # filled in from the account
    assert (
        me.http.post(
            "/contact",
            data={
                "csrf_token": csrf_of(mine),
                "kind": "contact",
                "name": "Pat Person",
                "email": email,
                "message": f"a question {marker}",
            },
        ).status_code
        == 200
    )
    requests = boss.get("/api/v1/admin/contact-requests").json()
    found = {(r["kind"], r["email"]) for r in requests if marker in r["message"]}
    assert found == {("callback", "visitor@example.com"), ("contact", email)}


def test_the_privacy_notice_lists_every_declared_holding_and_the_current_consent_texts(stack: Stack) -> None:
    c = httpx.Client(base_url=stack.gateway_url, timeout=30)
    notice = c.get("/privacy-notice")
    assert notice.status_code == 200
    text = notice.text
    for service, stub_class in STUBS.items():
        with stack.backends[service].channel() as channel:
            declared = stub_class(channel).DescribeInventory(
                subject_pb2.DescribeInventoryRequest(), timeout=10
            )
        assert declared.service == service and declared.inventory, service
        assert f'id="service-{service}"' in text
        for holding in declared.inventory:
            assert f"<code>{holding.collection}</code>" in text, (service, holding.collection)
            for value in (holding.purpose, holding.lawful_basis, holding.retention):
                assert escape(value) in text, (service, value)
    # The gateway's own: its access log, with the retention it is configured with.
    assert 'id="service-gateway"' in text and "7 days (LETHE_GATEWAY_ACCESS_LOG_DAYS)" in text
    for consent_text in c.get("/api/v1/consent-texts").json():
        assert consent_text["version"] in text
        if "en" in consent_text["texts"]:
            assert escape(consent_text["texts"]["en"]["body"]) in text
    german = c.get("/privacy-notice", headers={"Accept-Language": "de"})
    assert german.status_code == 200 and "Datenschutzerklärung" in german.text
    imprint = c.get("/imprint")
    assert imprint.status_code == 200 and "Lethe" in imprint.text and "lethe.example" in imprint.text
    footer = c.get("/").text
    for path in ("/privacy-notice", "/imprint", "/contact", "/newsletter"):
        assert f'href="{path}"' in footer


def test_describe_inventory_names_no_one_and_needs_no_person(stack: Stack) -> None:
    with stack.backends["identity"].channel() as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        try:
            reply = stub.DescribeInventory(subject_pb2.DescribeInventoryRequest(), timeout=10)
        except grpc.RpcError as exc:  # pragma: no cover - the failure says why
            pytest.fail(f"DescribeInventory failed: {exc}")
    assert {h.collection for h in reply.inventory} >= {"contact_requests"}
