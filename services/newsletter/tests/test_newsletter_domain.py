"""Pure rules of the newsletter: links, messages, pacing."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from lethe_common.errors import InvalidArgument
from lethe_common.signing import derive_key
from lethe_newsletter.links import Links
from lethe_newsletter.messages import Messages
from lethe_newsletter.sender import Pacer, chunks
from lethe_newsletter.subscriptions import checked_applicant

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
    return {"_id": "cmp_" + "2" * 32, "subject": "Release 9", "text_body": "News.",
            "html_body": "<p>News.</p>", "greeting": True, **changes}


def test_every_campaign_message_carries_the_one_click_unsubscribe_headers() -> None:
    subscriber = {"_id": SUBSCRIBER, "email": "ada@example.com", "name": "Ada"}
    mail = Messages(LINKS).campaign(campaign(), subscriber)
    url = LINKS.unsubscribe_url(SUBSCRIBER)
    assert mail.headers["List-Unsubscribe"] == f"<{url}>"
    assert mail.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert url.startswith("https://lethe.example/api/v1/newsletter/unsubscribe?token=sub_")
    assert url in mail.text and url.replace("&", "&amp;") in (mail.html or "")
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


@pytest.mark.parametrize(("email", "name", "account_id"), [
    ("not an address", "", ""), ("a@example.com", "x" * 201, ""),
    ("a@example.com", "line\nbreak", ""), ("a@example.com", "", "acc_nothex"),
])
def test_a_bad_applicant_is_refused_with_a_message_naming_the_field(email: str, name: str,
                                                                   account_id: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        checked_applicant(email, name, account_id)
    assert email not in refused.value.message or email == "a@example.com"
