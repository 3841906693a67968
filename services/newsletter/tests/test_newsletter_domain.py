"""Pure rules of the newsletter: links, messages, pacing, and the states steps fold into."""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest

from lethe_common.errors import InvalidArgument
from lethe_common.signing import derive_key
from lethe_newsletter.campaign_state import campaign_state
from lethe_newsletter.lifecycle import (
    CONFIRM_FAILED,
    CONFIRMED,
    CONFIRMING,
    ENDED,
    LEFT,
    REQUESTED,
    fold,
    is_restricted,
    step,
    subscriber_id,
)
from lethe_newsletter.links import Links
from lethe_newsletter.messages import Messages
from lethe_newsletter.sender import Pacer, chunks
from lethe_newsletter.subscriptions import checked_applicant

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
LINKS = Links(derive_key("k" * 32, "newsletter"), "https://lethe.example")
SUBSCRIBER = "sub_" + "1" * 32


def test_a_confirmation_link_holds_until_it_expires() -> None:
    token = LINKS.confirmation_token(SUBSCRIBER, 1234, NOW, timedelta(hours=48))
    claim = LINKS.confirmation(token, NOW + timedelta(hours=47))
    assert (claim.subscriber_id, claim.pending_since) == (SUBSCRIBER, 1234)
    with pytest.raises(InvalidArgument, match="expired"):
        LINKS.confirmation(token, NOW + timedelta(hours=48))


def test_confirmation_and_unsubscribe_tokens_cannot_stand_in_for_each_other() -> None:
    confirm = LINKS.confirmation_token(SUBSCRIBER, 1, NOW, timedelta(hours=1))
    unsubscribe = LINKS.unsubscribe_token(SUBSCRIBER)
    with pytest.raises(InvalidArgument, match="not valid"):
        LINKS.unsubscribed_id(confirm)
    with pytest.raises(InvalidArgument, match="not valid"):
        LINKS.confirmation(unsubscribe, NOW)
    other = Links(derive_key("o" * 32, "newsletter"), "https://lethe.example")
    with pytest.raises(InvalidArgument):
        other.unsubscribed_id(unsubscribe)
    assert LINKS.unsubscribed_id(unsubscribe) == SUBSCRIBER


def campaign(**changes: object) -> dict[str, object]:
    return {
        "_id": "cmp_" + "2" * 32,
        "subject": "Release 9",
        "text_body": "News.",
        "html_body": "<p>News.</p>",
        "greeting": True,
        **changes,
    }


def test_every_campaign_message_carries_the_one_click_unsubscribe_headers() -> None:
    subscriber = {"_id": SUBSCRIBER, "email": "ada@example.com", "name": "Ada"}
    mail = Messages(LINKS).campaign(campaign(), subscriber)
    url = LINKS.unsubscribe_url(SUBSCRIBER)
    assert mail.headers["List-Unsubscribe"] == f"<{url}>"
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url.startswith("https://lethe.example/api/v1/newsletter/unsubscribe?token=sub_")
    # The text's link is the portal's page, which asks in the reader's language.
    page = LINKS.unsubscribe_page_url(SUBSCRIBER)
    assert page.startswith("https://lethe.example/newsletter/unsubscribe?token=sub_")
    assert page.split("?")[1] == url.split("?")[1]
    assert page in mail.text and page.replace("&", "&amp;") in (mail.html or "")
    assert url not in mail.text
    assert mail.text.startswith("Hallo Ada, / Hello Ada,")
    assert mail.headers["Message-ID"] == f"<cmp_{'2' * 32}.{SUBSCRIBER}@lethe.invalid>"


def test_a_name_is_escaped_in_html_and_left_out_without_greeting() -> None:
    subscriber = {"_id": SUBSCRIBER, "email": "x@example.com", "name": "<script>x</script>"}
    mail = Messages(LINKS).campaign(campaign(), subscriber)
    assert "<script>" not in (mail.html or "") and "&lt;script&gt;" in (mail.html or "")
    plain = Messages(LINKS).campaign(campaign(greeting=False, html_body=""), subscriber)
    assert "script" not in plain.text and plain.html is None


def test_the_pacer_spaces_messages_without_bursting() -> None:
    now = [100.0]
    waits: list[float] = []

    class Stop(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(round(timeout or 0, 6))
            now[0] += timeout or 0
            return False

    pacer, stop = Pacer(4.0, clock=lambda: now[0]), Stop()
    for _ in range(3):
        pacer.wait(stop)
    assert waits == [0.25, 0.25]
    now[0] += 10  # idle for a while: no burst of saved-up messages afterwards
    pacer.wait(stop)
    pacer.wait(stop)
    assert waits == [0.25, 0.25, 0.25]
    unlimited = Pacer(0, clock=lambda: now[0])
    unlimited.wait(stop)
    assert len(waits) == 3


def test_batches_cover_everyone_once() -> None:
    ids = [str(n) for n in range(7)]
    assert [list(c) for c in chunks(ids, 3)] == [["0", "1", "2"], ["3", "4", "5"], ["6"]]


@pytest.mark.parametrize(
    ("email", "name", "account_id"),
    [
        ("not an address", "", ""),
        ("a@example.com", "x" * 201, ""),
        ("a@example.com", "line\nbreak", ""),
        ("a@example.com", "", "acc_nothex"),
    ],
)
def test_a_bad_applicant_is_refused_with_a_message_naming_the_field(
    email: str, name: str, account_id: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        checked_applicant(email, name, account_id)
    assert email not in refused.value.message or email == "a@example.com"


def steps(*fields: dict[str, object]) -> list[dict[str, object]]:
    return [{**f, "_id": f"{SUBSCRIBER}/{n:08d}", "n": n} for n, f in enumerate(fields)]


def requested(at: datetime = NOW) -> dict[str, object]:
    return step(
        REQUESTED,
        subject_key="k" * 64,
        email="ada@example.com",
        name="Ada",
        account_id="",
        consent_version="2026-01",
        pending_since=7,
        requested_at=at,
        confirmation_requested_at=at,
    )


def test_a_life_runs_from_request_to_tombstone_and_the_next_one_starts_afresh() -> None:
    log = steps(
        requested(),
        step(CONFIRMING, at=NOW, claim="c1"),
        step(CONFIRMED, at=NOW, claim="c1", consent_record_id="cr_1"),
        step(LEFT, at=NOW),
        step(ENDED, at=NOW, reason="unsubscribed"),
        step(CONFIRMED, at=NOW, claim="c1"),
    )  # a stray step of the life that ended
    assert [fold(SUBSCRIBER, log[:n]).status for n in range(1, 7)] == [
        "pending",
        "confirming",
        "active",
        "leaving",
        "none",
        "none",
    ]
    again = fold(SUBSCRIBER, [*log, {**requested(NOW + timedelta(days=1)), "n": 6}])
    assert (again.status, again.ended_n, again.last_n, again.steps) == ("pending", 4, 6, 1)


def test_only_the_claim_that_won_confirms_and_a_failed_claim_gives_the_request_back() -> None:
    log = steps(
        requested(), step(CONFIRMING, at=NOW, claim="c1"), step(CONFIRMED, at=NOW, claim="c0")
    )  # a claim that lost: ignored
    assert fold(SUBSCRIBER, log).status == "confirming"
    failed = steps(
        requested(), step(CONFIRMING, at=NOW, claim="c1"), step(CONFIRM_FAILED, at=NOW, claim="c1")
    )
    assert fold(SUBSCRIBER, failed).status == "pending"


def test_the_latest_restriction_event_counts_whichever_owner_it_names() -> None:
    life = fold(SUBSCRIBER, steps({**requested(), "account_id": "acc_" + "1" * 32}))
    key, account = "k" * 64, "acc_" + "1" * 32
    older = {"_id": f"{key}/2026-01-01T00:00:00.000000Z/pr_1", "restricted": True}
    newer = {"_id": f"{account}/2026-02-01T00:00:00.000000Z/pr_2", "restricted": False}
    assert is_restricted(life, {key: older}) is True
    assert is_restricted(life, {key: older, account: newer}) is False
    assert is_restricted(life, {}) is False


def test_a_cancel_is_final_and_a_late_sent_changes_nothing() -> None:
    created = {"kind": "created", "subject": "S", "text_body": "T", "created_at": NOW}
    log = [
        {**created, "n": 0},
        {"kind": "sending", "at": NOW, "n": 1},
        {"kind": "cancelled", "at": NOW, "n": 2},
        {"kind": "sent", "at": NOW, "n": 3, "progress": {"sent": 9}},
    ]
    state = campaign_state("cmp_1", log)
    assert state is not None and (state.status, state.final_progress) == ("cancelled", None)
    assert campaign_state("cmp_1", []) is None


def test_a_subscriber_id_is_derived_from_the_address_key_alone() -> None:
    assert subscriber_id("k" * 64) == subscriber_id("k" * 64) != subscriber_id("j" * 64)
    assert re.fullmatch(r"sub_[0-9a-f]{32}", subscriber_id("k" * 64))


def test_the_confirmation_mail_greets_no_one() -> None:
    """Issue 18: the address is not confirmed yet, so no name typed at subscribing reaches it."""
    mail = Messages(LINKS).confirmation("x@example.com", "t" * 43, timedelta(hours=48))
    assert mail.text.startswith("Hallo,\n") and "Hello,\n" in mail.text
    assert "t" * 43 in mail.text and "48" in mail.text
