"""Verified accounts written in bulk, exactly as registration and verification leave them.

For tests and benchmarks only (off every hot path): the documents of each account by
``insert_many``, without the mails, the links or the ``account.verified`` event. Every
account gets the same password hash (hash once, pass it in: argon2 is slow on purpose).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lethe_common import tokens
from lethe_common.mongo import Db, Document
from lethe_common.store.keys import key
from lethe_common.store.versions import Versions
from lethe_common.subject import subject_key
from lethe_identity.models import millis
from lethe_identity.repo_accounts import ACCOUNTS, CREDENTIALS, PROFILES, VERIFIED
from lethe_identity.repo_addresses import ADDRESSES

BATCH = 3000
# The account's base comes last: an account exists once it does (repo_accounts.py).
WRITE_ORDER = (ADDRESSES, CREDENTIALS, PROFILES, ACCOUNTS)


@dataclass(frozen=True)
class Person:
    email: str
    name: str = "Seeded Person"
    phone: str = ""


def account_docs(
    pepper: str,
    person: Person,
    account_id: str,
    password_hash: str,
    at: datetime,
    consent_version: str = "2026-01",
) -> dict[str, list[Document]]:
    """The documents of one verified account, by collection."""
    address_key, at = subject_key(pepper, person.email), millis(at)
    return {
        ADDRESSES: [
            {"_id": Versions.version_id(address_key, 0), "n": 0, "account_id": account_id, "claimed_at": at}
        ],
        CREDENTIALS: [{"_id": Versions.version_id(account_id, 0), "n": 0, "password_hash": password_hash}],
        PROFILES: [
            {
                "_id": Versions.version_id(account_id, 0),
                "n": 0,
                "email": person.email,
                "subject_key": address_key,
                "name": person.name,
                "phone": person.phone,
            }
        ],
        ACCOUNTS: [
            {"_id": key(account_id, "activation"), "outcome": VERIFIED, "at": at},
            {"_id": key(account_id, "base"), "created_at": at, "account_consent_version": consent_version},
        ],
    }


def seed_verified(db: Db, pepper: str, people: list[Person], password_hash: str, at: datetime) -> list[str]:
    """Write verified accounts; their ids, in the order given."""
    ids = [tokens.new_id("acc") for _ in people]
    batches: dict[str, list[Document]] = {}
    for person, account_id in zip(people, ids, strict=True):
        for collection, docs in account_docs(pepper, person, account_id, password_hash, at).items():
            batches.setdefault(collection, []).extend(docs)
    for collection in WRITE_ORDER:
        docs = batches.get(collection, [])
        for start in range(0, len(docs), BATCH):
            db[collection].insert_many(docs[start : start + BATCH], ordered=False)
    return ids
