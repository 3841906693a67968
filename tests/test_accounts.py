"""Accounts, sessions, CSRF and log-in limits through the gateway (issue 3).

Real gateway, identity API and worker, store, broker and SMTP sink; mails are
read from the sink's Maildir.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from pymongo import DESCENDING, MongoClient
from pymongo.database import Database

from lethe_common.store.keys import under
from lethe_testing import EventTap, Stack, start_stack, stop_stack, token_in, unique, wait_for_mail

PASSWORD = "violet tractor umbrella 42"
WINDOW_SECONDS = 4
SECRETS_SEEN: list[str] = []  # every address, password and token used: none may reach a log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    run = unique("acc")
    running = start_stack(
        run,
        tmp_path_factory.mktemp("logs"),
        IDENTITY_ADMIN_EMAILS=f"boss-{run}@staff.example",
        IDENTITY_LOGIN_WINDOW_SECONDS=str(WINDOW_SECONDS),
        IDENTITY_CONTACT_MAX_PER_ADDRESS="50",
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def identity_db(stack: Stack, mongo_client: MongoClient) -> Database:
    return mongo_client[stack.backends["identity"].db_name]


def address(stack: Stack, local: str = "", domain: str = "customer.example") -> str:
    email = f"{local or unique('p')}-{stack.run_id}@{domain}".lower()
    SECRETS_SEEN.append(email)
    return email


def client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, timeout=30)


def register(c: httpx.Client, email: str, password: str = PASSWORD, **extra: object) -> httpx.Response:
    body = {
        "email": email,
        "password": password,
        "name": "Ada Lovelace",
        "account_consent_version": "2026-01",
        **extra,
    }
    return c.post("/api/v1/accounts", json=body)


def verify_from_mail(c: httpx.Client, email: str, count: int = 1) -> httpx.Response:
    token = token_in(wait_for_mail(email, "verification", count))
    SECRETS_SEEN.append(token)
    return c.post("/api/v1/accounts/verify", json={"token": token, "password": PASSWORD}, headers=csrf(c))


def login(c: httpx.Client, email: str, password: str = PASSWORD, remember_me: bool = False) -> httpx.Response:
    response = c.post(
        "/api/v1/session",
        json={"email": email, "password": password, "remember_me": remember_me},
        headers=csrf(c),
    )
    if "lethe_session" in response.cookies:
        SECRETS_SEEN.append(response.cookies["lethe_session"])
    return response


def csrf(c: httpx.Client) -> dict[str, str]:
    token = c.cookies.get("lethe_csrf")
    return {"X-CSRF-Token": token} if token else {}


def member(
    stack: Stack, domain: str = "customer.example", remember_me: bool = False
) -> tuple[httpx.Client, str]:
    """A verified, logged-in person and their address."""
    c = client(stack)
    email = address(stack, domain=domain)
    assert register(c, email).status_code == 201
    assert verify_from_mail(c, email).status_code == 200
    assert login(c, email, remember_me=remember_me).status_code == 200
    return c, email


def set_cookie_headers(response: httpx.Response, name: str) -> str:
    return next(h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}="))


def assert_envelope(response: httpx.Response, status: int) -> dict[str, str]:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message"} and error["message"]
    assert "Traceback" not in response.text
    return dict(error)


# -- the main path --------------------------------------------------------------------------
def test_register_verify_login_me_logout(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    created = register(c, f"  {email.upper()}  ", phone="+49 30 1234567")
    assert created.status_code == 201, created.text
    mail = wait_for_mail(email, "verification")
    assert mail["To"] == email
    verified = verify_from_mail(c, email)
    assert verified.status_code == 200, verified.text
    assert verified.json()["email"] == email and verified.json()["email_verified"] is True

    logged_in = login(c, email)
    assert logged_in.status_code == 200, logged_in.text
    me = c.get("/api/v1/me")
    assert me.status_code == 200
    assert (me.json()["email"], me.json()["phone"], me.json()["roles"]) == (email, "+49 30 1234567", [])

    token = c.cookies["lethe_session"]
    out = c.delete("/api/v1/session", headers=csrf(c))
    assert out.status_code == 204
    assert_envelope(c.get("/api/v1/me"), 401)
    # Revoked on the server: the old cookie, sent again, opens nothing.
    replay = client(stack)
    replay.cookies.set("lethe_session", token, domain="127.0.0.1")
    assert_envelope(replay.get("/api/v1/me"), 401)


def test_an_unverified_account_cannot_log_in(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    assert register(c, email).status_code == 201
    error = assert_envelope(login(c, email), 401)
    assert "confirm" in error["message"]
    assert "lethe_session" not in c.cookies


def test_a_used_or_expired_verification_token_is_refused(stack: Stack, identity_db: Database) -> None:
    c = client(stack)
    email = address(stack)
    assert register(c, email).status_code == 201
    token = token_in(wait_for_mail(email, "verification"))
    SECRETS_SEEN.append(token)
    assert c.post("/api/v1/accounts/verify", json={"token": token, "password": PASSWORD}).status_code == 200
    assert_envelope(c.post("/api/v1/accounts/verify", json={"token": token, "password": PASSWORD}), 422)

    other = address(stack)
    assert register(c, other).status_code == 201
    late = token_in(wait_for_mail(other, "verification"))
    SECRETS_SEEN.append(late)
    identity_db["verification_tokens"].update_many(
        {"email": other}, {"$set": {"expires_at": datetime(2000, 1, 1, tzinfo=UTC)}}
    )
    error = assert_envelope(
        c.post("/api/v1/accounts/verify", json={"token": late, "password": PASSWORD}), 422
    )
    assert "expired" in error["message"]
    assert_envelope(login(c, other), 401)
    assert_envelope(c.post("/api/v1/accounts/verify", json={"token": "x" * 43}), 422)


def test_activation_needs_the_password_so_a_squatter_cannot_hand_over_an_account(stack: Stack) -> None:
    """Someone registers another person's address; the owner's click alone activates nothing."""
    squatter = client(stack)
    email = address(stack)
    assert register(squatter, email, password="squatters own passphrase").status_code == 201
    token = token_in(wait_for_mail(email, "verification"))
    SECRETS_SEEN.append(token)
    for attempt in ({"token": token}, {"token": token, "password": PASSWORD}):
        assert_envelope(squatter.post("/api/v1/accounts/verify", json=attempt), 401)
    assert_envelope(login(squatter, email, "squatters own passphrase"), 401)  # still unverified
    activated = squatter.post(
        "/api/v1/accounts/verify", json={"token": token, "password": "squatters own passphrase"}
    )
    assert activated.status_code == 200  # only with the mailbox AND the password


def test_a_second_registration_of_an_address_is_answered_alike_whatever_its_case(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    first = register(c, email)
    assert first.status_code == 201
    again = register(c, email.upper(), password="another fine passphrase")
    assert again.status_code == 201  # not 409: the answer must not say the address has an account
    assert set(again.json()) == set(first.json()) and again.json()["message"] == first.json()["message"]
    assert first.json()["id"] not in again.text and email not in again.text.lower()
    wait_for_mail(email, "address-in-use")  # its holder is told instead (tests/test_enumeration.py)


def test_resend_answers_alike_for_known_and_unknown_addresses(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    assert register(c, email).status_code == 201
    wait_for_mail(email, "verification")  # mails go after the answer: the resend's is the newer
    known = c.post("/api/v1/accounts/verify/resend", json={"email": email})
    unknown = c.post("/api/v1/accounts/verify/resend", json={"email": address(stack)})
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    # Only the newest link works.
    second = wait_for_mail(email, "verification", count=2)
    old = token_in(wait_for_mail(email, "verification", count=1))
    SECRETS_SEEN.extend([old, token_in(second)])
    assert_envelope(c.post("/api/v1/accounts/verify", json={"token": old, "password": PASSWORD}), 422)
    assert verify_from_mail(c, email, count=2).status_code == 200


# -- sessions and CSRF -----------------------------------------------------------------------------
def test_cookies_session_by_default_persistent_with_remember_me(stack: Stack) -> None:
    c, email = member(stack)
    default = set_cookie_headers(login(c, email), "lethe_session").lower()
    assert "httponly" in default and "samesite=lax" in default and "path=/" in default
    assert "max-age" not in default and "expires" not in default
    assert "secure" not in default  # served over plain HTTP here
    csrf_cookie = set_cookie_headers(login(c, email), "lethe_csrf").lower()
    assert "httponly" not in csrf_cookie

    remembered = set_cookie_headers(login(c, email, remember_me=True), "lethe_session").lower()
    assert f"max-age={30 * 24 * 3600}" in remembered and "httponly" in remembered
    assert c.get("/api/v1/me").status_code == 200


def test_log_in_issues_a_new_session_id_and_ends_the_old_one(stack: Stack) -> None:
    c, email = member(stack)
    first = c.cookies["lethe_session"]
    second_login = login(c, email)
    assert second_login.status_code == 200
    second = c.cookies["lethe_session"]
    assert second != first
    stale = client(stack)
    stale.cookies.set("lethe_session", first, domain="127.0.0.1")
    assert_envelope(stale.get("/api/v1/me"), 401)

    # A session id planted before log-in is never adopted.
    planted = client(stack)
    planted.cookies.set("lethe_session", "A" * 43, domain="127.0.0.1")
    assert login(planted, email).status_code == 200
    assert planted.cookies["lethe_session"] != "A" * 43


def test_state_changing_requests_with_a_session_need_the_csrf_header(stack: Stack) -> None:
    c, _ = member(stack)
    missing = c.patch("/api/v1/me", json={"name": "Mallory"})
    assert assert_envelope(missing, 403)["code"] == "forbidden"
    wrong = c.patch("/api/v1/me", json={"name": "Mallory"}, headers={"X-CSRF-Token": "nope"})
    assert_envelope(wrong, 403)
    assert_envelope(c.post("/api/v1/me/portal-access"), 403)
    assert c.get("/api/v1/me").json()["name"] == "Ada Lovelace"  # nothing changed
    right = c.patch("/api/v1/me", json={"name": "Ada King"}, headers=csrf(c))
    assert right.status_code == 200 and right.json()["name"] == "Ada King"
    # Log-out alone needs the session cookie only (issue 18).
    assert c.delete("/api/v1/session").status_code == 204
    assert c.get("/api/v1/me").status_code == 401


# -- brute force ------------------------------------------------------------------------------
def test_the_eleventh_wrong_password_is_429_and_the_lock_ends(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    assert register(c, email).status_code == 201
    assert verify_from_mail(c, email).status_code == 200
    for attempt in range(10):
        assert_envelope(login(c, email, "wrong password " + str(attempt)), 401)
    locked = login(c, email, "wrong password again")
    assert_envelope(locked, 429)
    assert 1 <= int(locked.headers["Retry-After"]) <= WINDOW_SECONDS
    assert_envelope(login(c, email), 429)  # even the right password, while locked
    time.sleep(int(locked.headers["Retry-After"]) + 0.5)
    assert login(c, email).status_code == 200


def test_unknown_address_and_wrong_password_look_the_same(stack: Stack) -> None:
    c = client(stack)
    email = address(stack)
    assert register(c, email).status_code == 201
    assert verify_from_mail(c, email).status_code == 200
    wrong, unknown = [], []
    for _ in range(3):
        started = time.perf_counter()
        a = login(c, email, "not the password at all")
        wrong.append(time.perf_counter() - started)
        started = time.perf_counter()
        b = login(c, address(stack), "not the password at all")
        unknown.append(time.perf_counter() - started)
        assert (a.status_code, a.json()) == (b.status_code, b.json())
    # Same timing class: both pay one argon2 verification (a broken decoy would
    # answer the unknown address an order of magnitude faster).
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.33 < ratio < 3, (wrong, unknown)


# -- profile --------------------------------------------------------------------------------------
def test_rectification_and_an_email_change_that_waits_for_verification(stack: Stack) -> None:
    c, email = member(stack)
    changed = c.patch("/api/v1/me", json={"name": "Ada King", "phone": "+44 20 7946 0000"}, headers=csrf(c))
    assert changed.status_code == 200
    assert (changed.json()["name"], changed.json()["phone"]) == ("Ada King", "+44 20 7946 0000")
    cleared = c.patch("/api/v1/me", json={"phone": ""}, headers=csrf(c))
    assert cleared.json()["phone"] is None

    new = address(stack)
    pending = c.patch("/api/v1/me", json={"email": new}, headers=csrf(c))
    assert pending.status_code == 200
    assert (pending.json()["email"], pending.json()["pending_email"]) == (email, new)
    assert verify_from_mail(c, new).status_code == 200
    me = c.get("/api/v1/me").json()
    assert (me["email"], me["pending_email"]) == (new, None)
    assert_envelope(login(client(stack), email), 401)
    assert login(client(stack), new).status_code == 200

    _, taken = member(stack)  # answered like a free address; its holder is told (test_enumeration.py)
    to_taken = c.patch("/api/v1/me", json={"email": taken}, headers=csrf(c))
    assert to_taken.status_code == 200 and to_taken.json()["pending_email"] == taken


def test_passwords_are_argon2id_and_rehashed_when_parameters_change(
    stack: Stack, identity_db: Database
) -> None:
    c, email = member(stack)
    account_id = c.get("/api/v1/me").json()["id"]
    credentials = identity_db["credentials"]  # versions <account>/<n>: the newest holds

    def stored() -> dict[str, object]:
        found = credentials.find_one({"_id": under(account_id)}, sort=[("_id", DESCENDING)])
        assert found is not None
        return found

    assert str(stored()["password_hash"]).startswith("$argon2id$v=19$m=19456,t=5,p=1$")
    weaker = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1).hash(PASSWORD)
    credentials.update_one({"_id": stored()["_id"]}, {"$set": {"password_hash": weaker}})
    assert login(c, email).status_code == 200
    assert str(stored()["password_hash"]).startswith("$argon2id$v=19$m=19456,t=5,p=1$")
    assert credentials.count_documents({"_id": under(account_id), "password_hash": weaker}) == 0


# -- admin role and portal access --------------------------------------------------------------
ADMINS_MADE: set[str] = set()  # a second registration is answered 201 too (issue 18)


def admin_client(stack: Stack) -> httpx.Client:
    c = client(stack)
    email = f"boss-{stack.run_id}@staff.example".lower()
    if email not in ADMINS_MADE:
        assert register(c, email).status_code == 201
        assert verify_from_mail(c, email).status_code == 200
        ADMINS_MADE.add(email)
    assert login(c, email).status_code == 200
    assert c.get("/api/v1/me").json()["roles"] == ["admin"]
    return c


def test_portal_access_rejected_pending_approved_with_mail_and_event(stack: Stack, amqp_url: str) -> None:
    tap = EventTap(amqp_url, "identity", "account.#")
    try:
        outsider, _ = member(stack, domain=f"nowhere-{stack.run_id}.example")
        rejected = outsider.post("/api/v1/me/portal-access", headers=csrf(outsider))
        assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
        assert "organisation" in rejected.json()["reason"]

        boss = admin_client(stack)
        domain = f"acme-{stack.run_id}.example".replace("_", "-")
        org = boss.post(
            "/api/v1/admin/organisations", json={"name": "ACME", "domains": [domain]}, headers=csrf(boss)
        )
        assert org.status_code == 201, org.text
        assert_envelope(
            boss.post(
                "/api/v1/admin/organisations",
                json={"name": "Copycat", "domains": [domain.upper()]},
                headers=csrf(boss),
            ),
            409,
        )

        person, email = member(stack, domain=domain)
        assert_envelope(person.get("/api/v1/portal/organisation"), 403)
        pending = person.post("/api/v1/me/portal-access", headers=csrf(person))
        assert pending.json()["status"] == "pending"
        queue = boss.get("/api/v1/admin/portal-access-requests").json()
        mine = next(r for r in queue if r["email"] == email)
        decided = boss.post(
            f"/api/v1/admin/portal-access-requests/{mine['account_id']}/decision",
            json={"approve": True},
            headers=csrf(boss),
        )
        assert decided.status_code == 200 and decided.json()["status"] == "approved"
        mail = wait_for_mail(email, "portal-access")
        assert "approved" in str(mail.get_body().get_content())  # type: ignore[union-attr]
        portal = person.get("/api/v1/portal/organisation")
        assert portal.status_code == 200 and portal.json()["name"] == "ACME"

        account_id = mine["account_id"]
        events = [
            e
            for e in tap.drain(1.0)
            if e["type"] == "account.portal_access_changed" and e["payload"]["account_id"] == account_id
        ]  # type: ignore[index]
        assert [e["payload"]["status"] for e in events] == ["pending", "approved"]  # type: ignore[index]
        assert all(email not in str(e) for e in events)
    finally:
        tap.close()


def test_two_staff_deciding_at_once_one_wins_the_other_gets_409_and_lists_page(stack: Stack) -> None:
    first, second = admin_client(stack), admin_client(stack)  # two staff sessions
    domain = f"duel-{stack.run_id}.example".replace("_", "-")
    assert (
        first.post(
            "/api/v1/admin/organisations", json={"name": "Duel", "domains": [domain]}, headers=csrf(first)
        ).status_code
        == 201
    )
    people = [member(stack, domain=domain)[0] for _ in range(3)]
    ids = []
    for person in people:
        assert person.post("/api/v1/me/portal-access", headers=csrf(person)).json()["status"] == "pending"
        ids.append(person.get("/api/v1/me").json()["id"])
    for account_id in ids:
        barrier = threading.Barrier(2)

        def decide(
            boss: httpx.Client,
            approve: bool,
            account_id: str = account_id,
            barrier: threading.Barrier = barrier,
        ) -> int:
            barrier.wait()
            return boss.post(
                f"/api/v1/admin/portal-access-requests/{account_id}/decision",
                json={"approve": approve},
                headers=csrf(boss),
            ).status_code

        with ThreadPoolExecutor(2) as pool:
            codes = list(pool.map(decide, (first, second), (True, False)))
        assert sorted(codes) == [200, 409]
    # The staff list in pages of one: a Link to the next page, every request once.
    seen, url = [], "/api/v1/admin/portal-access-requests?status=approved&limit=1"
    while url:
        page = first.get(url)
        assert page.status_code == 200 and len(page.json()) <= 1
        seen += [r["account_id"] for r in page.json()]
        url = page.links.get("next", {}).get("url", "")
    rejected = [
        r["account_id"]
        for r in first.get("/api/v1/admin/portal-access-requests", params={"status": "rejected"}).json()
    ]
    assert sorted(i for i in seen + rejected if i in ids) == sorted(ids)


def test_verification_publishes_account_verified_without_the_address(stack: Stack, amqp_url: str) -> None:
    tap = EventTap(amqp_url, "identity", "account.verified")
    try:
        c = client(stack)
        email = address(stack)
        created = register(c, email)
        assert verify_from_mail(c, email).status_code == 200
        events = [e for e in tap.drain(1.0) if e["payload"]["account_id"] == created.json()["id"]]  # type: ignore[index]
        assert len(events) == 1
        assert events[0]["payload"]["account_consent_version"] == "2026-01"  # type: ignore[index]
        assert len(str(events[0]["subject_key"])) == 64 and email not in str(events[0])
    finally:
        tap.close()


ADMIN_ROUTES = [
    ("GET", "/api/v1/admin/organisations", None),
    ("POST", "/api/v1/admin/organisations", {"name": "X", "domains": ["x.example"]}),
    ("PATCH", "/api/v1/admin/organisations/{org}", {"name": "Mine now"}),
    ("GET", "/api/v1/admin/portal-access-requests", None),
    ("POST", "/api/v1/admin/portal-access-requests/{victim}/decision", {"approve": True}),
    ("GET", "/api/v1/admin/contact-requests", None),
    ("POST", "/api/v1/admin/contact-requests/{contact}/close", None),
]


def test_no_person_reaches_another_persons_data_or_an_admin_route(stack: Stack) -> None:
    boss = admin_client(stack)
    domain = f"globex-{stack.run_id}.example".replace("_", "-")
    org = boss.post(
        "/api/v1/admin/organisations", json={"name": "Globex", "domains": [domain]}, headers=csrf(boss)
    ).json()
    victim, victim_email = member(stack, domain=domain)
    victim.post("/api/v1/me/portal-access", headers=csrf(victim))
    victim_id = victim.get("/api/v1/me").json()["id"]
    contact = client(stack).post(
        "/api/v1/contact", json={"name": "Vic", "email": victim_email, "message": "call me"}
    )
    assert contact.status_code == 202
    contact_id = boss.get("/api/v1/admin/contact-requests").json()[0]["id"]

    mallory, _ = member(stack, domain=domain)
    ids = {"org": org["id"], "victim": victim_id, "contact": contact_id}
    for method, path, body in ADMIN_ROUTES:
        response = mallory.request(method, path.format(**ids), json=body, headers=csrf(mallory))
        assert_envelope(response, 403)
        anonymous = client(stack).request(method, path.format(**ids), json=body)
        assert_envelope(anonymous, 401)
    # Her own routes show only her, whatever she sends.
    me = mallory.get("/api/v1/me").json()
    assert me["id"] != victim_id and me["email"] != victim_email
    assert_envelope(
        mallory.patch("/api/v1/me", json={"id": victim_id, "name": "Pwned"}, headers=csrf(mallory)), 422
    )
    assert victim.get("/api/v1/me").json()["name"] == "Ada Lovelace"
    assert victim.get("/api/v1/me").json()["portal_access"]["status"] == "pending"
    assert_envelope(mallory.get("/api/v1/portal/organisation"), 403)


# -- contact requests --------------------------------------------------------------------------
def test_contact_and_callback_requests_reach_staff_and_robots_do_not(stack: Stack) -> None:
    anyone = client(stack)
    email = address(stack)
    sent = anyone.post(
        "/api/v1/contact",
        json={"name": "Grace", "email": email, "message": "Please send an offer.", "kind": "contact"},
    )
    assert sent.status_code == 202
    robot_mail = address(stack)
    trap = anyone.post(
        "/api/v1/contact",
        json={"name": "Bot", "email": robot_mail, "message": "buy now", "website": "http://spam"},
    )
    assert trap.status_code == 202 and trap.json() == sent.json()
    assert_envelope(
        anyone.post(
            "/api/v1/contact",
            json={"name": "Grace", "email": email, "message": "Call me", "kind": "callback"},
        ),
        422,
    )
    assert_envelope(
        anyone.post(
            "/api/v1/contact", json={"name": "Grace", "email": email, "message": "hi", "kind": "letter"}
        ),
        422,
    )

    boss = admin_client(stack)
    open_requests = boss.get("/api/v1/admin/contact-requests").json()
    mine = [r for r in open_requests if r["email"] == email]
    assert len(mine) == 1 and mine[0]["message"] == "Please send an offer."
    assert not [r for r in open_requests if r["email"] == robot_mail]
    closed = boss.post(f"/api/v1/admin/contact-requests/{mine[0]['id']}/close", headers=csrf(boss))
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert_envelope(
        boss.post(f"/api/v1/admin/contact-requests/{mine[0]['id']}/close", headers=csrf(boss)), 409
    )
    assert mine[0]["id"] in [
        r["id"] for r in boss.get("/api/v1/admin/contact-requests", params={"status": "closed"}).json()
    ]


# -- bad input ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{not json", 400),
        (
            '{"email": 5, "password": "violet tractor umbrella 42", "name": "A", '
            '"account_consent_version": "1"}',
            422,
        ),
        (
            '{"email": "EMAIL", "password": "violet tractor umbrella 42", "name": "'
            + "N" * 201
            + '", "account_consent_version": "1"}',
            422,
        ),
        ('{"email": "EMAIL", "password": "short", "name": "A", "account_consent_version": "1"}', 422),
        ('{"email": "EMAIL", "password": "password12345", "name": "A", "account_consent_version": "1"}', 422),
        (
            '{"email": "EMAIL", "password": "violet tractor umbrella 42", "name": "A", '
            '"account_consent_version": "1", "roles": ["admin"]}',
            422,
        ),
        ('{"email": "EMAIL", "password": "violet tractor umbrella 42", "name": "A"}', 422),
        (
            '{"email": "not-an-address", "password": "violet tractor umbrella 42", "name": "A", '
            '"account_consent_version": "1"}',
            422,
        ),
    ],
)
def test_bad_registrations_get_the_envelope_and_store_nothing(stack: Stack, body: str, status: int) -> None:
    c = client(stack)
    email = address(stack)
    response = c.post(
        "/api/v1/accounts", content=body.replace("EMAIL", email), headers={"content-type": "application/json"}
    )
    error = assert_envelope(response, status)
    assert email not in error["message"] and "violet" not in error["message"]
    assert register(c, email).status_code == 201  # nothing was stored by the bad request


def test_overlong_and_mistyped_profile_fields_change_nothing(stack: Stack) -> None:
    c, _ = member(stack)
    for body in (
        {"name": "N" * 201},
        {"phone": "call me maybe"},
        {"name": 7},
        {"name": None},
        {"email": "nope"},
    ):
        assert_envelope(c.patch("/api/v1/me", json=body, headers=csrf(c)), 422)
    assert c.get("/api/v1/me").json()["name"] == "Ada Lovelace"


def test_openapi_marks_required_fields(stack: Stack) -> None:
    document = client(stack).get("/api/v1/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert sorted(schemas["RegisterBody"]["required"]) == [
        "account_consent_version",
        "email",
        "name",
        "password",
    ]
    assert sorted(schemas["ContactBody"]["required"]) == ["email", "message", "name"]
    for path in (
        "/api/v1/accounts",
        "/api/v1/session",
        "/api/v1/me",
        "/api/v1/contact",
        "/api/v1/me/portal-access",
        "/api/v1/admin/organisations",
    ):
        assert path in document["paths"]


def test_no_address_password_or_token_in_any_log(stack: Stack) -> None:
    """Runs last in the module: every secret the tests above used is checked."""
    assert len(SECRETS_SEEN) > 20
    logs = {p.name: p.log() for p in stack.processes()}
    assert all(text for text in logs.values())
    for secret in {*SECRETS_SEEN, PASSWORD}:
        for name, text in logs.items():
            assert secret not in text, f"{name} logged a secret"
            assert secret.upper() not in text, f"{name} logged a secret"
    identity_log = Path(stack.backends["identity"].api.log_path).read_text()
    assert "grpc call" in identity_log  # the log is there, and has our lines
