"""Finding a person's traces by keyed hashes (issue 14, proof of erasure): pure tests."""

from __future__ import annotations

import pytest

from lethe_common.inventory import CONTACT, CONTRACT, Holding, Inventory
from lethe_common.subject import subject_key
from lethe_common.trace_search import declares
from lethe_common.traces import (
    ACCOUNT_ID,
    EMAIL,
    NAME,
    PHONE,
    SUBJECT_KEY,
    Hit,
    Sought,
    TraceFinder,
    fingerprints,
    name_fingerprint,
    phone_fingerprint,
)

pytestmark = pytest.mark.unit

PEPPER = "test-pepper"
EMAIL_ADDRESS = "Ada.Lovelace@Example.org"
KEY = subject_key(PEPPER, EMAIL_ADDRESS)
ACCOUNT = "acc_" + "1" * 32
ADA = Sought(
    "pr_" + "a" * 32,
    KEY,
    ACCOUNT,
    fingerprints(PEPPER, names=["Ada King Lovelace"], phones=["+49 30 1234 5678"]),
)
OTHER = Sought("pr_" + "b" * 32, subject_key(PEPPER, "grace@example.org"))


def finder() -> TraceFinder:
    return TraceFinder(PEPPER, [ADA, OTHER])


def whats(text: str) -> set[str]:
    return {hit.what for hit in finder().in_text(text) if hit.request_id == ADA.request_id}


def test_the_address_is_found_in_any_case_and_url_encoded_without_being_given() -> None:
    assert whats("mail to ADA.LOVELACE@example.ORG please") == {EMAIL}
    assert whats("GET /confirm?email=ada.lovelace%40example.org HTTP/1.1") == {EMAIL}
    assert whats("ada.lovelace@example.com") == set()
    assert whats("ada.lovelace at example.org") == set()


def test_the_name_is_found_as_its_words_in_order_whatever_the_case_and_spacing() -> None:
    assert whats("Dear ada  KING\tLovelace,") == {NAME}
    assert whats("Ada Lovelace King") == set()
    assert whats("Ada King") == set()


def test_the_phone_is_found_by_its_last_eight_digits_in_any_notation() -> None:
    assert whats("call +49 (30) 1234-5678") == {PHONE}
    assert whats("030/12345678") == {PHONE}
    assert whats("0049301234567800") == {PHONE}
    assert whats("+49 30 1234 5679") == set()


def test_the_ids_are_found_as_they_are_and_each_hit_names_its_person() -> None:
    assert whats(f"owners/{KEY.upper()}/requests") == {SUBJECT_KEY}
    assert whats(f"session of {ACCOUNT}") == {ACCOUNT_ID}
    assert whats(f"owner{ACCOUNT}/x") == {ACCOUNT_ID}
    assert whats(f"{KEY}ff") == {SUBJECT_KEY}  # inside a longer hex run too
    assert whats(KEY[:-1]) == set()
    hits = finder().in_text(f"{KEY} and grace@example.org")
    assert hits == {Hit(ADA.request_id, SUBJECT_KEY), Hit(OTHER.request_id, EMAIL)}


def test_documents_are_searched_at_any_depth_in_keys_and_values() -> None:
    doc = {
        "_id": f"{KEY}/1",
        "billing": {"lines": ["x", {"note": "for ada king lovelace"}]},
        ACCOUNT: 1,
        "n": 5,
    }
    found = {(path, hit.what) for path, hit in finder().in_document(doc) if hit.request_id == ADA.request_id}
    assert found == {("_id", SUBJECT_KEY), ("billing.lines.1.note", NAME), (ACCOUNT, ACCOUNT_ID)}


def test_a_place_is_masked_so_a_result_never_repeats_an_identifier() -> None:
    masked = finder().mask(f"owners/{KEY}/x/{ACCOUNT}/Ada.Lovelace@Example.org")
    assert KEY not in masked and ACCOUNT not in masked and "lovelace" not in masked.lower()
    assert masked == "owners/<subject key>/x/<account id>/<e-mail address>"


def test_fingerprints_hold_no_value_and_skip_what_cannot_be_sought() -> None:
    marks = fingerprints(PEPPER, names=["Ada King Lovelace", ""], phones=["+49 30 1234 5678", "12"])
    assert len(marks) == 2 and all("ada" not in m.lower() and "5678" not in m for m in marks)
    assert name_fingerprint(PEPPER, "Al") == "" and phone_fingerprint(PEPPER, "1234567") == ""
    assert name_fingerprint(PEPPER, "Ada Lovelace") != name_fingerprint("other pepper", "Ada Lovelace")


def test_nothing_is_found_when_nobody_is_sought() -> None:
    empty = TraceFinder(PEPPER, [])
    assert empty.in_text(f"{KEY} {EMAIL_ADDRESS} Ada King Lovelace") == set()


def test_a_store_hit_is_declared_only_where_the_inventory_names_its_field() -> None:
    inventory = Inventory(
        "svc",
        (Holding("orders", ("billing", "_id"), (CONTACT,), "p", CONTRACT, "r"),),
    )
    assert declares(inventory, "orders", "billing.name") and declares(inventory, "orders", "_id")
    assert declares(inventory, "orders", "billing")
    assert not declares(inventory, "orders", "billingx") and not declares(inventory, "orders", "note")
    assert not declares(inventory, "carts", "billing") and not declares(None, "orders", "billing")
