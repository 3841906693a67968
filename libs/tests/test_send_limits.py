"""The send limits (lethe_common.send_limits) against the real dev store."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import REGISTRY
from pymongo.database import Database

from lethe_common.send_limits import (
    DUE,
    MailLimiter,
    SlidingWindow,
    Window,
    client_network,
    sweep_send_limits,
)
from lethe_common.store.keys import under
from lethe_common.subject import subject_key

PEPPER = "a pepper for the send-limit tests"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def limiter(db: Database, mail: str = "test-mail", per_address: int = 3, per_client: int = 5) -> MailLimiter:
    return MailLimiter(
        db["send_limits"],
        PEPPER,
        mail,
        Window(per_address, 3600),
        Window(per_client, 600),
        clock=lambda: START,
    )


def refused(mail: str, limit: str) -> float:
    return REGISTRY.get_sample_value("lethe_mail_sends_refused_total", {"mail": mail, "limit": limit}) or 0.0


def test_a_window_counts_up_to_its_limit_and_frees_up_as_time_passes(test_db: Database) -> None:
    window = SlidingWindow(test_db["send_limits"], "w", Window(3, 60))
    times = [START + timedelta(seconds=s) for s in (0, 10, 20)]
    assert all(window.begin("k", at) for at in times)
    assert window.begin("k", START + timedelta(seconds=30)) is None  # the fourth in 60 s
    assert window.begin("other", START + timedelta(seconds=30))  # another key counts apart
    assert window.count("k", START + timedelta(seconds=30)) == 3  # the refused one was withdrawn
    assert window.begin("k", START + timedelta(seconds=59)) is None
    assert window.begin("k", START + timedelta(seconds=61))  # the first left the window


def test_the_tenth_mail_to_an_address_goes_and_the_eleventh_does_not(test_db: Database) -> None:
    mails = limiter(test_db, "ten", per_address=10, per_client=1000)
    before = refused("ten", "address")
    answers = [mails.admit("Someone@Example.org", f"198.51.100.{i}") for i in range(11)]
    assert answers == [True] * 10 + [False]
    assert refused("ten", "address") == before + 1
    # The same address however it is written; another address is not affected.
    assert not mails.admit(" someone@example.ORG ", "203.0.113.9")
    assert mails.admit("someone.else@example.org", "203.0.113.9")
    # A day later (the window of an hour has passed) it goes again.
    assert mails.admit("someone@example.org", "203.0.113.9", START + timedelta(hours=1, seconds=1))


def test_a_client_may_mail_so_many_addresses_and_a_refusal_counts_against_neither(test_db: Database) -> None:
    mails = limiter(test_db, "per-client", per_address=2, per_client=5)
    before = refused("per-client", "client")
    assert all(mails.admit(f"p{i}@example.org", "192.0.2.7") for i in range(5))
    assert not mails.admit("p5@example.org", "192.0.2.7")
    assert refused("per-client", "client") == before + 1
    assert mails.admit("p5@example.org", "192.0.2.8")  # another client: p5 counts one mail
    # Refused by the address limit: the client's record is withdrawn, so it is not charged.
    assert mails.admit("p6@example.org", "192.0.2.9") and mails.admit("p6@example.org", "192.0.2.9")
    for _ in range(5):
        assert not mails.admit("p6@example.org", "192.0.2.9")
    assert all(mails.admit(f"q{i}@example.org", "192.0.2.9") for i in range(3))  # 2 + 3 = 5
    assert not mails.admit("q3@example.org", "192.0.2.9")
    # Without a client address (a call not through the gateway) only the address counts.
    assert mails.admit("r@example.org", "") and mails.admit("r@example.org", "")
    assert not mails.admit("r@example.org", "")


def test_an_ipv6_client_is_counted_by_its_network_of_64_bits() -> None:
    assert (
        client_network("2001:db8:1:2:aaaa::1")
        == client_network("2001:db8:1:2:bbbb::2")
        == "2001:db8:1:2::/64"
    )
    assert client_network("2001:db8:1:3::1") != client_network("2001:db8:1:2::1")
    assert client_network("::ffff:192.0.2.1") == "192.0.2.1"
    assert client_network("198.51.100.7") == "198.51.100.7"
    assert client_network("") == client_network("testclient") == ""


def test_the_store_holds_keyed_hashes_never_an_address_nor_its_subject_key(test_db: Database) -> None:
    address, client = "Private.Person@example.org", "203.0.113.77"
    first, second = limiter(test_db, "kind-a"), limiter(test_db, "kind-b")
    assert first.admit(address, client) and second.admit(address, client)
    stored = " ".join(f"{doc['_id']} {doc.get('entry', '')}" for doc in test_db["send_limits"].find())
    for secret in (address, address.lower(), client, subject_key(PEPPER, address)):
        assert secret not in stored
    # Two kinds of mail key the same address differently: their counts cannot be matched.
    assert first.address_key(address) != second.address_key(address)
    assert first.client_key(client) != second.client_key(client)
    assert first.address_key(address) != subject_key(PEPPER, address)
    assert (
        test_db["send_limits"].count_documents({"_id": under("kind-a-address", first.address_key(address))})
        == 1
    )


def test_requests_at_once_never_get_more_mails_than_the_limit(test_db: Database) -> None:
    mails = limiter(test_db, "burst", per_address=4, per_client=1000)
    barrier = threading.Barrier(12)

    def ask(_: int) -> bool:
        barrier.wait()
        return mails.admit("burst@example.org", "192.0.2.1")

    for _ in range(3):
        with ThreadPoolExecutor(12) as pool:
            admitted = sum(pool.map(ask, range(12)))
        assert admitted <= 4  # never more (a burst may refuse more than strictly needed)
        kept = test_db["send_limits"].count_documents(
            {"_id": under("burst-address", mails.address_key("burst@example.org"))}
        )
        assert kept == admitted
        test_db["send_limits"].delete_many({})


def test_the_sweep_deletes_every_record_once_its_window_ended_and_nothing_before(test_db: Database) -> None:
    collection = test_db["send_limits"]
    mails = limiter(test_db, "swept", per_address=100, per_client=100)  # address: 1 h, client: 10 min
    for i in range(5):
        assert mails.admit(f"s{i}@example.org", "192.0.2.1", START + timedelta(minutes=i))

    def records() -> int:
        return collection.count_documents({}) - collection.count_documents({"_id": under(DUE)})

    assert records() == 10 and collection.count_documents({"_id": under(DUE)}) == 10
    assert mails.sweep(START + timedelta(minutes=9)) == 0
    assert mails.sweep(START + timedelta(minutes=12)) == 3  # the client's first three
    assert records() == 7 and collection.count_documents({"_id": under(DUE)}) == 7
    assert sweep_send_limits(collection, START + timedelta(hours=2)) == 7
    assert collection.count_documents({}) == 0  # due entries went with their records
    # A withdrawn record's due entry finds nothing, and goes as well.
    window = SlidingWindow(collection, "w", Window(1, 60))
    assert window.begin("k", START) and window.begin("k", START) is None
    assert sweep_send_limits(collection, START + timedelta(seconds=61)) == 1
    assert collection.count_documents({}) == 0


def test_a_limit_needs_a_name_a_pepper_and_a_window() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Window(0, 60)
    with pytest.raises(ValueError, match="at least 1"):
        Window(1, 0)
    with pytest.raises(ValueError, match="limiter name"):
        SlidingWindow(None, "~due", Window(1, 1))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="pepper"):
        MailLimiter(None, "", "x", Window(1, 1), Window(1, 1))  # type: ignore[arg-type]
