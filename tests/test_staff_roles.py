"""Staff roles through the gateway: each role reaches its own staff routes and no other,
roles are granted with a reason (and the password again when it is older than 10
minutes), a revoked role stops working on the next request, and the audit trail shows it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe_testing import Stack, mails_to, start_stack, stop_stack, unique, wait_for_mail
from lethe_testing.web import Browser

PASSWORD = "brass lantern quiet harbour"
# One staff route of each area, and the role it needs (admin holds them all).
ROUTES = {
    "/api/v1/admin/organisations": "support",
    "/api/v1/admin/portal-access-requests": "support",
    "/api/v1/admin/contact-requests": "support",
    "/api/v1/admin/privacy-requests": "privacy",
    "/api/v1/admin/orders": "accounting",
    "/api/v1/admin/legal-hold/reads": "accounting",
    "/api/v1/admin/newsletter/campaigns": "marketing",
    "/api/v1/admin/traffic": "marketing",
    "/api/v1/admin/products": "admin",
    "/api/v1/admin/staff": "admin",
    "/api/v1/admin/audit": "admin",
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("sr")
    running = start_stack(
        run, tmp_path_factory.mktemp("logs"), IDENTITY_ADMIN_EMAILS=f"boss-{run}@staff.example"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def boss(stack: Stack) -> Iterator[Browser]:
    browser = Browser(stack.gateway_url)
    browser.sign_up(f"boss-{stack.run_id}@staff.example", PASSWORD, name="Bea Boss")
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def identity_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["identity"].db_name]


def member(stack: Stack, boss: Browser, role: str) -> tuple[Browser, str]:
    email = f"{unique(role)}-{stack.run_id}@staff.example".lower()
    browser = Browser(stack.gateway_url)
    browser.sign_up(email, PASSWORD, name="Sam Staff")
    change = boss.post(
        "/api/v1/admin/staff/roles",
        json={"email": email, "role": role, "grant": True, "reason": "joined the team"},
    )
    assert change.status_code == 200, change.text
    assert change.json()["roles"] == [role]
    return browser, email


@pytest.mark.parametrize("role", ["support", "privacy", "accounting", "marketing", "admin"])
def test_each_role_reaches_its_own_staff_routes_and_no_other(stack: Stack, boss: Browser, role: str) -> None:
    browser, _ = member(stack, boss, role)
    answers = {path: browser.get(path).status_code for path in ROUTES}
    expected = {path: 200 if role in (needed, "admin") else 403 for path, needed in ROUTES.items()}
    assert answers == expected
    refused = browser.get("/api/v1/admin/staff") if role != "admin" else None
    if refused is not None:
        assert refused.json()["error"]["message"] == "this needs the admin role"
    customer = Browser(stack.gateway_url)
    customer.sign_up(f"{unique('cu')}-{stack.run_id}@buyer.example".lower(), PASSWORD)
    assert {customer.get(path).status_code for path in ROUTES} == {403}
    assert {Browser(stack.gateway_url).get(path).status_code for path in ROUTES} == {401}


def test_a_revoked_role_is_refused_on_the_next_request_and_both_changes_are_audited(
    stack: Stack, boss: Browser
) -> None:
    browser, email = member(stack, boss, "accounting")
    assert browser.get("/api/v1/admin/orders").status_code == 200
    revoked = boss.post(
        "/api/v1/admin/staff/roles",
        json={"email": email, "role": "accounting", "grant": False, "reason": "left"},
    )
    assert (revoked.status_code, revoked.json()["roles"]) == (200, [])
    assert browser.get("/api/v1/admin/orders").status_code == 403
    assert email not in [m["email"] for m in boss.get("/api/v1/admin/staff").json()]
    account_id = browser.get("/api/v1/me").json()["id"]
    trail = [
        (e["action"], e["detail"], e["reason"])
        for e in boss.get("/api/v1/admin/audit").json()
        if e["target"] == account_id
    ]
    assert trail == [
        ("staff_role.revoked", "accounting", "left"),
        ("staff_role.granted", "accounting", "joined the team"),
    ]


def test_granting_asks_for_the_password_again_after_ten_minutes(
    stack: Stack, boss: Browser, identity_db: Database
) -> None:
    email = f"{unique('late')}-{stack.run_id}@staff.example".lower()
    Browser(stack.gateway_url).sign_up(email, PASSWORD)
    long_ago = datetime.now(UTC) - timedelta(minutes=11)
    identity_db["sessions"].update_many({}, {"$set": {"created_at": long_ago}})
    identity_db["session_confirmations"].delete_many({})
    body = {"email": email, "role": "privacy", "grant": True, "reason": "data-protection officer"}
    asked = boss.post("/api/v1/admin/staff/roles", json=body)
    assert (asked.status_code, asked.json()["error"]["code"]) == (403, "reauthentication_required")
    wrong = boss.post("/api/v1/session/password-check", json={"password": "not my password"})
    assert wrong.status_code == 403
    assert boss.post("/api/v1/admin/staff/roles", json=body).status_code == 403
    assert boss.post("/api/v1/session/password-check", json={"password": PASSWORD}).status_code == 204
    granted = boss.post("/api/v1/admin/staff/roles", json=body)
    assert (granted.status_code, granted.json()["roles"]) == (200, ["privacy"])


def test_a_role_change_is_checked_at_the_edge(stack: Stack, boss: Browser) -> None:
    bad = [
        {"email": "x@staff.example", "role": "owner", "grant": True, "reason": "because"},
        {"email": "x@staff.example", "role": "support", "grant": True, "reason": ""},
        {"email": "x@staff.example", "role": "support", "grant": "yes", "reason": "because"},
    ]
    assert [boss.post("/api/v1/admin/staff/roles", json=b).status_code for b in bad] == [422, 422, 422]
    unknown = boss.post(
        "/api/v1/admin/staff/roles",
        json={
            "email": f"nobody-{stack.run_id}@staff.example",
            "role": "support",
            "grant": True,
            "reason": "new",
        },
    )
    assert (unknown.status_code, unknown.json()["error"]["message"]) == (
        404,
        "no active account has this address",
    )


def test_a_test_send_goes_to_the_marketing_members_own_address_only(stack: Stack, boss: Browser) -> None:
    browser, email = member(stack, boss, "marketing")
    created = browser.post(
        "/api/v1/admin/newsletter/campaigns", json={"subject": "Autumn news", "text_body": "Hello all!"}
    )
    assert created.status_code == 201, created.text
    campaign = created.json()["id"]
    other = f"{unique('other')}@else.example"
    test_url = f"/api/v1/admin/newsletter/campaigns/{campaign}/test"
    assert browser.post(test_url, json={"email": other}).status_code == 202  # a body changes nothing
    mail = wait_for_mail(email, "newsletter-campaign-test")
    assert "[TEST]" in str(mail["Subject"]) and "Autumn news" in str(mail["Subject"])
    assert browser.get(f"/api/v1/admin/newsletter/campaigns/{campaign}").json()["status"] == "draft"
    assert mails_to(other) == []
    support, _ = member(stack, boss, "support")
    assert support.post(f"/api/v1/admin/newsletter/campaigns/{campaign}/test").status_code == 403


def test_the_admin_reads_each_services_audit_trail(stack: Stack, boss: Browser) -> None:
    marketer, _ = member(stack, boss, "marketing")
    campaign = marketer.post(
        "/api/v1/admin/newsletter/campaigns", json={"subject": "Trail", "text_body": "Hello!"}
    ).json()["id"]
    marketer_id = marketer.get("/api/v1/me").json()["id"]
    trails = {
        s: boss.get("/api/v1/admin/audit", params={"service": s})
        for s in ("identity", "consent", "shop", "newsletter")
    }
    assert {s: r.status_code for s, r in trails.items()} == dict.fromkeys(trails, 200)
    assert [
        (e["action"], e["actor_account_id"]) for e in trails["newsletter"].json() if e["target"] == campaign
    ] == [("campaign.created", marketer_id)]
    assert {e["service"] for e in trails["identity"].json()} == {"identity"}
    assert boss.get("/api/v1/admin/audit", params={"service": "analytics"}).status_code == 422
    assert marketer.get("/api/v1/admin/audit", params={"service": "newsletter"}).status_code == 403
