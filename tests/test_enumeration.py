"""No enumeration, mail limits and the account consent version, through the gateway (issue 18).

Real gateway, every backend, store, broker and SMTP sink; mails are read from the sink's
Maildir. Nothing the gateway answers may tell whether an address has an account: a resend,
a registration and an e-mail change are answered alike (and a resend as fast) for a known
and an unknown address; the holder of a taken address is told by mail instead. Mails go out
after the answer, so a test that says a mail did not come first waits for identity's
``lethe_identity_account_mails_refused_total`` to count it.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator

import httpx
import pytest

from lethe_testing import (
    Stack,
    mail_text,
    mails_to,
    metric_total,
    start_stack,
    stop_stack,
    token_in,
    unique,
    wait_for,
    wait_for_mail,
)

PASSWORD = "violet tractor umbrella 42"
NAME = "Ada Lovelace"
MAILS_PER_ADDRESS = 10  # identity's default: IDENTITY_ACCOUNT_MAILS_PER_ADDRESS
ROUNDS = 15


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Every reset in the timing test mails the known address (3 an hour by default, after
    # which a refusal would answer as fast whether the mail were in line or not).
    running = start_stack(
        unique("enum"), tmp_path_factory.mktemp("logs"), IDENTITY_PASSWORD_RESET_MAILS_PER_ADDRESS="100"
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def consent_version(stack: Stack) -> str:
    texts = httpx.get(f"{stack.gateway_url}/api/v1/consent-texts", timeout=10).json()
    return str(next(t["version"] for t in texts if t["purpose"] == "account"))


def address(stack: Stack) -> str:
    return f"{unique('en')}-{stack.run_id}@customer.example".lower()


def client(stack: Stack) -> httpx.Client:
    return httpx.Client(base_url=stack.gateway_url, timeout=30)


def csrf(c: httpx.Client) -> dict[str, str]:
    token = c.cookies.get("lethe_csrf")
    return {"X-CSRF-Token": token} if token else {}


def register(
    c: httpx.Client, email: str, version: str, password: str = PASSWORD, name: str = NAME
) -> httpx.Response:
    body = {"email": email, "password": password, "name": name, "account_consent_version": version}
    return c.post("/api/v1/accounts", json=body)


def resend(c: httpx.Client, email: str) -> httpx.Response:
    return c.post("/api/v1/accounts/verify/resend", json={"email": email})


def login(c: httpx.Client, email: str, password: str = PASSWORD) -> httpx.Response:
    return c.post("/api/v1/session", json={"email": email, "password": password}, headers=csrf(c))


def member(stack: Stack, version: str) -> tuple[httpx.Client, str]:
    """A verified, logged-in person and their address."""
    c, email = client(stack), address(stack)
    assert register(c, email, version).status_code == 201
    token = token_in(wait_for_mail(email, "verification"))
    verified = c.post("/api/v1/accounts/verify", json={"token": token, "password": PASSWORD})
    assert verified.status_code == 200, verified.text
    assert login(c, email).status_code == 200
    return c, email


def refused(stack: Stack) -> float:
    return metric_total(
        stack.backends["identity"], "lethe_identity_account_mails_refused_total", limit="address"
    )


def one_more_refused(stack: Stack, before: float) -> None:
    wait_for(lambda: refused(stack) >= before + 1, 15, what="a mail refused over the address's limit")


def answer(response: httpx.Response) -> tuple[int, object]:
    return response.status_code, response.json()


def timed_alike(stack: Stack, path: str, known: str) -> None:
    """``path`` answers a known and a never-seen address with the same status and body, and
    in the same timing class: medians of interleaved rounds."""
    c = client(stack)
    for _ in range(3):  # warm the connections, the gateway and the store's caches
        c.post(path, json={"email": address(stack)})
    known_times, unknown_times, answers = [], [], set()
    for _ in range(ROUNDS):
        for email, times in ((known, known_times), (address(stack), unknown_times)):
            started = time.perf_counter()
            response = c.post(path, json={"email": email})
            times.append(time.perf_counter() - started)
            answers.add((response.status_code, response.text))
    assert len(answers) == 1 and next(iter(answers))[0] == 202, answers
    # Same timing class: the look-up, the link and SMTP come after the answer for every
    # address (sent in line, a known address would pay a link's store writes and SMTP).
    known_median, unknown_median = statistics.median(known_times), statistics.median(unknown_times)
    assert 0.5 < known_median / unknown_median < 2, (known_times, unknown_times)
    assert abs(known_median - unknown_median) < 0.015, (known_times, unknown_times)


def test_resend_answers_known_and_unknown_addresses_alike_and_as_fast(
    stack: Stack, consent_version: str
) -> None:
    c, known = client(stack), address(stack)
    assert register(c, known, consent_version).status_code == 201
    wait_for_mail(known, "verification")
    timed_alike(stack, "/api/v1/accounts/verify/resend", known)
    wait_for_mail(known, "verification", count=2)  # the resends did go out


def test_a_password_reset_answers_known_and_unknown_addresses_alike_and_as_fast(
    stack: Stack, consent_version: str
) -> None:
    _, known = member(stack, consent_version)
    timed_alike(stack, "/api/v1/accounts/password-reset", known)
    wait_for_mail(known, "password-reset")  # the known address did get its link


def test_the_eleventh_mail_to_an_address_is_not_sent_and_answered_like_the_first(
    stack: Stack, consent_version: str
) -> None:
    c, email = client(stack), address(stack)
    first = register(c, email, consent_version)
    assert first.status_code == 201
    wait_for_mail(email, "verification")
    resends = []
    for sent in range(2, MAILS_PER_ADDRESS + 1):
        resends.append(resend(c, email))
        wait_for_mail(email, "verification", count=sent)  # each in turn: the newest link is the last
    before = refused(stack)
    eleventh = resend(c, email)
    assert answer(eleventh) == answer(resends[0])
    one_more_refused(stack, before)
    assert len(mails_to(email, kind="verification")) == MAILS_PER_ADDRESS
    # A registration of the address now: answered like the first, and no mail either.
    again = register(client(stack), email, consent_version, password="another fine passphrase")
    assert again.status_code == first.status_code == 201
    assert set(again.json()) == set(first.json()) and again.json()["message"] == first.json()["message"]
    one_more_refused(stack, before + 1)
    assert mails_to(email, kind="address-in-use") == []
    # The tenth link, the last mailed, still works: the refused ones issued none.
    last = token_in(wait_for_mail(email, "verification", count=MAILS_PER_ADDRESS))
    activated = c.post("/api/v1/accounts/verify", json={"token": last, "password": PASSWORD})
    assert activated.status_code == 200, activated.text


def test_registering_a_taken_address_is_201_like_a_fresh_one_and_tells_its_owner(
    stack: Stack, consent_version: str
) -> None:
    owner, email = member(stack, consent_version)
    fresh = register(client(stack), address(stack), consent_version)
    taken = register(client(stack), email.upper(), consent_version, "squatters own passphrase", "Mallory")
    assert (taken.status_code, fresh.status_code) == (201, 201)
    assert set(taken.json()) == set(fresh.json()) and taken.json()["message"] == fresh.json()["message"]
    own_id = owner.get("/api/v1/me").json()["id"]
    assert taken.json()["id"] != own_id
    assert len(taken.json()["id"]) == len(fresh.json()["id"]) and taken.json()["id"][:4] == "acc_"
    notice = mail_text(wait_for_mail(email, "address-in-use"))
    assert "someone tried to register" in notice and "/forgot-password" in notice
    assert "Mallory" not in notice and "token=" not in notice
    assert len(mails_to(email, kind="verification")) == 1  # the owner's own activation only
    assert login(client(stack), email, "squatters own passphrase").status_code == 401
    assert login(client(stack), email).status_code == 200

    # An address registered but not activated yet is answered alike too.
    waiting = address(stack)
    assert register(client(stack), waiting, consent_version).status_code == 201
    again = register(client(stack), waiting, consent_version)
    assert again.status_code == 201 and set(again.json()) == set(fresh.json())
    wait_for_mail(waiting, "address-in-use")


def test_patch_me_to_a_taken_address_answers_like_a_free_one_and_tells_its_owner(
    stack: Stack, consent_version: str
) -> None:
    mover, mover_email = member(stack, consent_version)
    other, other_email = member(stack, consent_version)
    holder, taken = member(stack, consent_version)
    free = address(stack)
    to_taken = mover.patch("/api/v1/me", json={"email": taken}, headers=csrf(mover))
    to_free = other.patch("/api/v1/me", json={"email": free}, headers=csrf(other))
    assert to_taken.status_code == to_free.status_code == 200, (to_taken.text, to_free.text)
    shape = {
        k: v for k, v in to_taken.json().items() if k not in ("id", "email", "pending_email", "created_at")
    }
    assert shape == {
        k: v for k, v in to_free.json().items() if k not in ("id", "email", "pending_email", "created_at")
    }
    assert (to_taken.json()["email"], to_taken.json()["pending_email"]) == (mover_email, taken)
    assert (to_free.json()["email"], to_free.json()["pending_email"]) == (other_email, free)
    notice = mail_text(wait_for_mail(taken, "address-in-use"))
    assert "another account" in notice and "token=" not in notice and mover_email not in notice
    wait_for_mail(free, "verification")
    assert len(mails_to(taken, kind="verification")) == 1  # the holder's own activation only
    me = mover.get("/api/v1/me").json()
    assert (me["email"], me["pending_email"]) == (mover_email, taken)
    assert holder.get("/api/v1/me").json()["email"] == taken
    assert login(client(stack), taken).status_code == 200  # the holder's password, the holder's account
    assert login(client(stack), mover_email).status_code == 200


def test_the_activation_mail_does_not_name_the_registrant(stack: Stack, consent_version: str) -> None:
    email = address(stack)
    assert register(client(stack), email, consent_version, name="Zebulon Quirk").status_code == 201
    text = mail_text(wait_for_mail(email, "verification"))
    assert "Zebulon" not in text and "Quirk" not in text
    assert "Hello,\n" in text and "token=" in text


def test_a_stale_account_consent_version_is_refused(stack: Stack, consent_version: str) -> None:
    c, email = client(stack), address(stack)
    stale = register(c, email, "2000-01")
    assert stale.status_code == 422
    error = stale.json()["error"]
    assert "current account text" in error["message"] and consent_version in error["message"]
    assert register(c, email, consent_version).status_code == 201  # nothing was kept of the first
    assert token_in(wait_for_mail(email, "verification"))
    assert mails_to(email, kind="address-in-use") == []
