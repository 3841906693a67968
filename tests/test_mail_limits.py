"""Mail limits through the gateway's HTTP API (issue 18).

Real gateway, every backend (API and worker each), store, broker and SMTP sink. Privacy
requests without an account and newsletter subscriptions mail the address they name; each
kind of mail goes at most 10 times a day to one address (the default) and at most
PER_CLIENT times an hour from one client, the address the gateway sees (here from
``X-Forwarded-For``, as behind the ingress: the stack trusts 127.0.0.1 as its proxy). The
request over a limit sends nothing, and its HTTP answer (status and body) is the 1st's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from lethe_testing import Stack, mails_to, start_stack, stop_stack, unique, wait_for_mail
from lethe_testing.processes import metric_total

PER_CLIENT = 5
PRIVACY = "privacy-request-confirmation"
NEWSLETTER = "newsletter-confirmation"
REFUSED = "lethe_mail_sends_refused_total"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = start_stack(
        unique("ml"),
        tmp_path_factory.mktemp("logs"),
        LETHE_GATEWAY_TRUSTED_PROXIES="127.0.0.1/32",
        NEWSLETTER_CONFIRMATION_RESEND_SECONDS="0",  # every subscription request mails again
        CONSENT_CONFIRMATION_MAILS_PER_CLIENT=str(PER_CLIENT),
        NEWSLETTER_CONFIRMATION_MAILS_PER_CLIENT=str(PER_CLIENT),
    )
    yield running
    stop_stack(running)


@pytest.fixture(scope="module")
def http(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def version(http: httpx.Client) -> str:
    texts = http.get("/api/v1/consent-texts").json()
    return str(next(t["version"] for t in texts if t["purpose"] == "newsletter"))


def address(stack: Stack) -> str:
    return f"{unique('ml')}-{stack.run_id}@limited.example".lower()


def file_request(http: httpx.Client, email: str, client: str) -> tuple[int, bytes]:
    answer = http.post(
        "/api/v1/privacy-requests",
        json={"email": email, "kind": "access"},
        headers={"X-Forwarded-For": client},
    )
    return answer.status_code, answer.content


def subscribe(http: httpx.Client, version: str, email: str, client: str) -> tuple[int, bytes]:
    answer = http.post(
        "/api/v1/newsletter/subscriptions",
        json={"email": email, "consent_version": version},
        headers={"X-Forwarded-For": client},
    )
    return answer.status_code, answer.content


def still(email: str, kind: str, count: int) -> None:
    """Exactly ``count`` mails of ``kind`` to ``email``, also a while later."""
    time.sleep(3)
    assert len(mails_to(email, kind=kind)) == count


def test_the_eleventh_privacy_request_for_one_address_mails_nothing_and_looks_the_same(
    stack: Stack, http: httpx.Client
) -> None:
    email = address(stack)
    before = metric_total(stack.backends["consent"], REFUSED, mail=PRIVACY, limit="address")
    answers = [file_request(http, email, f"198.51.100.{n}") for n in range(1, 11)]
    assert answers[0][0] == 202
    wait_for_mail(email, PRIVACY, 10)
    eleventh = file_request(http, email, "198.51.100.11")
    assert eleventh == answers[0] and set(answers) == {answers[0]}
    still(email, PRIVACY, 10)
    assert metric_total(stack.backends["consent"], REFUSED, mail=PRIVACY, limit="address") == before + 1


def test_the_eleventh_subscription_request_for_one_address_mails_nothing_and_looks_the_same(
    stack: Stack, http: httpx.Client, version: str
) -> None:
    email = address(stack)
    before = metric_total(stack.backends["newsletter"], REFUSED, mail=NEWSLETTER, limit="address")
    answers = []
    for n in range(1, 11):
        answers.append(subscribe(http, version, email, f"198.51.100.{n}"))
        wait_for_mail(email, NEWSLETTER, n)  # the worker mails; one after the other
    assert answers[0][0] == 202
    eleventh = subscribe(http, version, email, "198.51.100.11")
    assert eleventh == answers[0] and set(answers) == {answers[0]}
    still(email, NEWSLETTER, 10)
    assert metric_total(stack.backends["newsletter"], REFUSED, mail=NEWSLETTER, limit="address") == before + 1


def test_one_client_gets_so_many_mails_of_each_kind_whatever_the_addresses(
    stack: Stack, http: httpx.Client, version: str
) -> None:
    for kind, ask, backend in (
        (PRIVACY, lambda email, client: file_request(http, email, client), "consent"),
        (NEWSLETTER, lambda email, client: subscribe(http, version, email, client), "newsletter"),
    ):
        client = "203.0.113.99" if kind == PRIVACY else "203.0.113.100"
        emails = [address(stack) for _ in range(PER_CLIENT + 1)]
        before = metric_total(stack.backends[backend], REFUSED, mail=kind, limit="client")
        answers = [ask(email, client) for email in emails]
        assert answers[0][0] == 202 and set(answers) == {answers[0]}, kind
        for email in emails[:PER_CLIENT]:
            wait_for_mail(email, kind)
        still(emails[-1], kind, 0)
        assert metric_total(stack.backends[backend], REFUSED, mail=kind, limit="client") == before + 1
        # Another client is not held back by this one, nor is the refused address.
        assert ask(emails[-1], "203.0.113.101") == answers[0]
        wait_for_mail(emails[-1], kind)
