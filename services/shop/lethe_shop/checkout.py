"""What a customer sends to place an order, checked: the customer, lines, addresses, key.

Prices never come from the client: a line is a product id and a quantity, and
the price is the catalogue's at the moment of ordering.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lethe_common import validation
from lethe_common.errors import InvalidArgument
from lethe_common.store.keys import key
from lethe_common.subject import Subject, subject_key
from lethe_shop.models import MAX_LINES, derived_id

ADDRESS_FIELDS = ("name", "company", "street", "extra", "postcode", "city", "country", "phone", "vat_id")
REQUIRED_ADDRESS_FIELDS = ("name", "street", "postcode", "city", "country")
_COUNTRY = re.compile(r"[A-Z]{2}")
_POSTCODE = re.compile(r"[A-Za-z0-9 -]{2,12}")
_PHONE = re.compile(r"\+?[0-9 ()/-]{5,30}")
_VAT_ID = re.compile(r"[A-Z]{2}[A-Z0-9]{2,13}")
_IDEMPOTENCY_KEY = re.compile(r"[A-Za-z0-9_.:-]{8,100}")


@dataclass(frozen=True)
class Customer:
    """A logged-in buyer: who they are, and the address their orders are placed with."""

    subject: Subject
    email: str


def checked_customer(account_id: str, email: str, pepper: str) -> Customer:
    validation.object_id(account_id, "account_id")
    address = validation.email(email)
    return Customer(Subject(account_id=account_id, subject_key=subject_key(pepper, address)), address)


def checked_address(fields: Mapping[str, str], what: str) -> dict[str, str]:
    """An address with its required fields; optional ones kept only when given."""
    address: dict[str, str] = {}
    for name in ADDRESS_FIELDS:
        value = validation.text(
            fields.get(name, ""), f"{what}.{name}", max_length=200, required=name in REQUIRED_ADDRESS_FIELDS
        )
        if value:
            address[name] = value
    if not _COUNTRY.fullmatch(address["country"]):
        raise InvalidArgument(f"{what}.country must be a two-letter country code (ISO 3166)")
    if not _POSTCODE.fullmatch(address["postcode"]):
        raise InvalidArgument(f"{what}.postcode is not a postcode")
    if "phone" in address and not _PHONE.fullmatch(address["phone"]):
        raise InvalidArgument(f"{what}.phone is not a phone number")
    if "vat_id" in address and not _VAT_ID.fullmatch(address["vat_id"]):
        raise InvalidArgument(f"{what}.vat_id is not a VAT identification number")
    return address


def checked_lines(lines: Iterable[tuple[str, int]]) -> list[tuple[str, int]]:
    """(product id, quantity) pairs, one per product, at least one."""
    wanted: dict[str, int] = {}
    for product_id, quantity in lines:
        validation.object_id(product_id, "product_id")
        if quantity < 1:
            raise InvalidArgument("quantity must be at least 1")
        wanted[product_id] = wanted.get(product_id, 0) + quantity
    if not wanted:
        raise InvalidArgument("an order needs at least one product")
    if len(wanted) > MAX_LINES:
        raise InvalidArgument(f"an order may hold at most {MAX_LINES} different products")
    return list(wanted.items())


def checked_idempotency_key(key: str) -> str:
    if not _IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidArgument(
            "an Idempotency-Key of 8 to 100 letters, digits or _.:- is "
            "required, so that a retried order is never placed twice"
        )
    return key


def order_id_for(account_id: str, idempotency_key: str, attempt: int = 0) -> str:
    """The order of the customer's key's ``attempt``-th payment attempt (the first: 0).

    The same customer, key and attempt always name the same order, so a retried request
    meets it; an attempt after a declined one has an id of its own, so nothing the declined
    attempt left can meet it (and its charge has its own idempotency key at the provider).
    """
    if attempt == 0:
        return derived_id("ord", account_id, idempotency_key)
    return derived_id("ord", account_id, idempotency_key, f"attempt-{attempt}")


def key_log_id(account_id: str, idempotency_key: str) -> str:
    """The step log of what the customer's key named (:mod:`lethe_shop.attempts`): under
    the account id, so an erasure finds every key of the person by one range."""
    return key(account_id, derived_id("key", idempotency_key))


@dataclass(frozen=True)
class OrderRequest:
    customer: Customer
    idempotency_key: str
    lines: list[tuple[str, int]]
    billing: dict[str, str]
    delivery: dict[str, str] | None
    delivery_note: str
    payment_token: str

    def fingerprint(self) -> str:
        """What makes two requests the same order (the payment token may differ on a retry)."""
        content = {
            "lines": sorted(self.lines),
            "billing": self.billing,
            "delivery": self.delivery,
            "note": self.delivery_note,
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    def token_fingerprint(self) -> str:
        """Which payment token the request carries, never the token itself (not in ids,
        documents or logs): a network retry sends the same one, a new card another."""
        return hashlib.sha256(b"payment-token\0" + self.payment_token.encode()).hexdigest()[:32]


def checked_note(note: str) -> str:
    return validation.text(note, "delivery_note", max_length=500, required=False, multiline=True)
