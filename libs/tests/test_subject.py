"""subject_key: HMAC-SHA256 of the normalised address under the pepper; Subject, the
person it names with their account id; the restriction receipt built from them."""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import replace

import pytest

from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.privacy import PrivacyEvent, RestrictionWording, restriction_receipt
from lethe_common.subject import Subject, subject_key

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

PEPPER = "test-pepper-1"


def test_subject_key_is_64_lower_case_hex_digits() -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", subject_key(PEPPER, "alice@example.com"))


def test_subject_key_ignores_case_and_surrounding_space() -> None:
    assert subject_key(PEPPER, " Alice@Example.COM ") == subject_key(PEPPER, "alice@example.com")


def test_subject_key_is_the_hmac_sha256_of_the_normalised_address() -> None:
    expected = hmac.new(PEPPER.encode(), b"alice@example.com", hashlib.sha256).hexdigest()
    assert subject_key(PEPPER, "ALICE@example.com") == expected


def test_subject_key_treats_composed_and_decomposed_unicode_alike() -> None:
    composed, decomposed = "jos\u00e9@example.com", "jose\u0301@example.com"
    assert subject_key(PEPPER, composed) == subject_key(PEPPER, decomposed)


def test_another_pepper_gives_another_key() -> None:
    assert subject_key(PEPPER, "alice@example.com") != subject_key("test-pepper-2", "alice@example.com")


def test_another_address_gives_another_key() -> None:
    assert subject_key(PEPPER, "alice@example.com") != subject_key(PEPPER, "bob@example.com")


def test_empty_pepper_is_refused() -> None:
    with pytest.raises(ValueError, match="pepper"):
        subject_key("", "alice@example.com")


@pytest.mark.parametrize("email", ["", "   "])
def test_empty_address_is_refused(email: str) -> None:
    with pytest.raises(ValueError, match="e-mail"):
        subject_key(PEPPER, email)


ACCOUNT = "acc_" + "a" * 32
KEY = "b" * 64


def test_a_subject_names_its_ids_only_by_keyword() -> None:
    with pytest.raises(TypeError):
        Subject(ACCOUNT, KEY)  # type: ignore[misc]
    person = Subject(account_id=ACCOUNT, subject_key=KEY)
    assert person.fields() == {"account_id": ACCOUNT, "subject_key": KEY}
    assert Subject.from_doc({"_id": "x", **person.fields(), "other": 1}) == person
    assert Subject.from_doc({"subject_key": KEY}) == Subject(subject_key=KEY)


def test_a_subjects_owner_keys_are_the_ids_it_has_key_first() -> None:
    assert Subject(account_id=ACCOUNT, subject_key=KEY).owners() == [KEY, ACCOUNT]
    assert Subject(subject_key=KEY).owners() == [KEY]
    assert Subject(account_id=ACCOUNT).owners() == [ACCOUNT]


def test_a_subjects_store_filter_is_what_it_has() -> None:
    assert Subject(account_id=ACCOUNT, subject_key=KEY).store_filter("_id") == {
        "$or": [{"subject_key": KEY}, {"_id": ACCOUNT}]
    }
    assert Subject(subject_key=KEY).store_filter() == {"$or": [{"subject_key": KEY}]}
    assert Subject().store_filter() == {"_id": {"$exists": False}}


def test_checked_ids_have_our_shapes() -> None:
    assert Subject.checked(account_id="", subject_key=KEY) == Subject(subject_key=KEY)
    assert Subject.checked(account_id=ACCOUNT, subject_key="", key_required=False) == Subject(
        account_id=ACCOUNT
    )


@pytest.mark.parametrize(
    ("account_id", "key", "key_required", "problem"),
    [
        (None, KEY, True, "account_id"),
        ("someone@example.com", KEY, True, "account_id"),
        (ACCOUNT, "", True, "subject_key"),
        (ACCOUNT, KEY.upper(), False, "subject_key"),
        (ACCOUNT, 5, False, "subject_key"),
        ("", "", False, "account id or a subject key"),
    ],
)
def test_checked_ids_refuse_anything_else_with_the_callers_error(
    account_id: object, key: object, key_required: bool, problem: str
) -> None:
    with pytest.raises(EnvelopeError, match=problem):
        Subject.checked(
            account_id=account_id, subject_key=key, key_required=key_required, error=EnvelopeError
        )


def request(kind: str) -> PrivacyEvent:
    return PrivacyEvent(kind, "pr_" + "c" * 32, Subject(subject_key=KEY))


WORDING = RestrictionWording(
    blocked=("things: never used",),
    restricted="{count} thing(s) restricted",
    lifted="restriction lifted: things as before",
    none_held="no thing held for this person",
)


def test_a_restriction_receipt_says_what_is_blocked_until_the_person_lifts_it() -> None:
    receipt = restriction_receipt(request("restriction"), 2, WORDING)
    assert (receipt.kind, receipt.blocked, receipt.blocked_until, receipt.note) == (
        "restriction",
        ("things: never used",),
        "until the person lifts the restriction",
        "2 thing(s) restricted",
    )
    lifted = restriction_receipt(request("restriction_lift"), 2, WORDING)
    assert (lifted.kind, lifted.blocked, lifted.blocked_until, lifted.note) == (
        "restriction_lift",
        (),
        "",
        "restriction lifted: things as before",
    )


def test_a_restriction_receipt_of_nothing_held_says_so_where_the_service_words_it() -> None:
    for kind in ("restriction", "restriction_lift"):
        receipt = restriction_receipt(request(kind), 0, WORDING)
        assert (receipt.blocked, receipt.note) == ((), "no thing held for this person")
    counted = restriction_receipt(request("restriction"), 0, replace(WORDING, none_held=""))
    assert (counted.blocked, counted.note) == (("things: never used",), "0 thing(s) restricted")


OLD = subject_key(PEPPER, "old@example.com")
OLDER = subject_key(PEPPER, "older@example.com")


def test_a_subject_with_former_keys_is_found_under_each_of_them() -> None:
    """Issue 18: what the person left under an earlier address is theirs too."""
    person = Subject(account_id=ACCOUNT, subject_key=KEY).with_former_keys([OLD, KEY, OLDER, OLD])
    assert person.former_keys == (OLD, OLDER)  # the current key and repeats are not former
    assert person.all_keys() == [KEY, OLD, OLDER]
    assert person.owners() == [KEY, OLD, OLDER, ACCOUNT]
    assert person.store_filter() == {
        "$or": [{"subject_key": {"$in": [KEY, OLD, OLDER]}}, {"account_id": ACCOUNT}]
    }
    assert person.fields() == {"account_id": ACCOUNT, "subject_key": KEY}
    assert person.stored() == {**person.fields(), "former_subject_keys": [OLD, OLDER]}
    assert Subject.from_doc({"_id": "x", **person.stored()}) == person
    assert Subject(subject_key=KEY).stored() == {"account_id": "", "subject_key": KEY}


@pytest.mark.parametrize("former", [OLD, [OLD.upper()], ["old@example.com"], [5], [OLD] * 51])
def test_former_keys_from_outside_are_checked(former: object) -> None:
    with pytest.raises(ValueError, match="former subject key"):
        Subject.checked_keys(former)


def test_a_privacy_event_carries_the_former_keys_and_refuses_bad_ones() -> None:
    event = PrivacyEvent.checked(
        "erasure", "pr_" + "a" * 32, account_id=ACCOUNT, subject_key=KEY, former_keys=[OLD]
    )
    assert event.subject.all_keys() == [KEY, OLD]
    with pytest.raises(EnvelopeError, match="former subject key"):
        PrivacyEvent.checked(
            "erasure", "pr_" + "a" * 32, account_id=ACCOUNT, subject_key=KEY, former_keys=["a@b.example"]
        )


@pytest.mark.parametrize("former", [None, 5, "x", {"k": OLD}])
def test_a_bus_event_with_malformed_former_keys_is_refused(former: object) -> None:
    envelope = Envelope(
        type="privacy.erasure_requested",
        source="consent",
        subject_key=KEY,
        payload={"request_id": "pr_" + "b" * 32, "account_id": ACCOUNT, "former_subject_keys": former},
    )
    with pytest.raises(EnvelopeError):
        PrivacyEvent.from_envelope(envelope)
