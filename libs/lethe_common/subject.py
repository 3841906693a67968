"""The key by which every service knows a person (SPEC section 2).

``subject_key`` = HMAC-SHA256(pepper, normalised e-mail). The pepper is a
server-side secret from the environment; without it nobody can recompute a
key from an address, yet every service that holds the same address derives
the same key, so an erasure finds a newsletter-only subscriber too.

:class:`Subject` is that key together with the account id: the one value by which a
person is passed around, checked and looked up in every service.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any


def normalise_email(email: str) -> str:
    """Case-fold and trim an address; NFC so that equal-looking strings match."""
    return unicodedata.normalize("NFC", email).strip().lower()


def subject_key(pepper: str, email: str) -> str:
    """Hex HMAC-SHA256 of the normalised address under the pepper."""
    if not pepper:
        raise ValueError("the subject pepper must not be empty")
    normalised = normalise_email(email)
    if not normalised:
        raise ValueError("an e-mail address is required")
    return hmac.new(pepper.encode(), normalised.encode(), hashlib.sha256).hexdigest()


ACCOUNT_ID = re.compile(r"[a-z]{2,4}_[0-9a-f]{32}")
SUBJECT_KEY = re.compile(r"[0-9a-f]{64}")
# An account's earlier addresses that travel with it: more are kept, this many are sent.
MAX_FORMER_KEYS = 50


@dataclass(frozen=True, kw_only=True)
class Subject:
    """One person as the services know them: their account id and their subject key.

    Either may be empty: a newsletter-only subscriber or an anonymous privacy request has
    no account id, and a staff action or an event of an account may lack the key. The
    fields are keyword-only, so the two strings cannot be swapped by position.
    """

    account_id: str = ""
    subject_key: str = ""
    # The keys of the addresses the account held before (issue 18): whatever the person left
    # under an earlier address is theirs too, for export, erasure and restriction alike.
    former_keys: tuple[str, ...] = ()

    @classmethod
    def checked(
        cls,
        *,
        account_id: object,
        subject_key: object,
        key_required: bool = True,
        error: Callable[[str], Exception] = ValueError,
    ) -> Subject:
        """The ids a caller or an event sent, if they have the shapes our services give
        them; otherwise ``error`` (each caller's own kind) with what is wrong. The account id
        may be empty; the key too unless ``key_required``, but not both."""
        if not isinstance(account_id, str) or (account_id and not ACCOUNT_ID.fullmatch(account_id)):
            raise error("account_id is not an account id")
        if not isinstance(subject_key, str) or (
            (subject_key or key_required) and not SUBJECT_KEY.fullmatch(subject_key)
        ):
            raise error("subject_key is not a subject key")
        if not account_id and not subject_key:
            raise error("an account id or a subject key is required")
        return cls(account_id=account_id, subject_key=subject_key)

    @staticmethod
    def checked_keys(value: object, error: Callable[[str], Exception] = ValueError) -> tuple[str, ...]:
        """A list of former subject keys a caller or an event sent, each checked."""
        if not isinstance(value, (list, tuple)) or len(value) > MAX_FORMER_KEYS:
            raise error(f"former subject keys must be a list of at most {MAX_FORMER_KEYS}")
        if not all(isinstance(k, str) and SUBJECT_KEY.fullmatch(k) for k in value):
            raise error("a former subject key is not a subject key")
        return tuple(value)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Subject:
        """Whom a stored document or queue entry names (its ``account_id`` and ``subject_key``)."""
        return cls(
            account_id=str(doc.get("account_id") or ""),
            subject_key=str(doc.get("subject_key") or ""),
            former_keys=tuple(str(k) for k in doc.get("former_subject_keys") or ()),
        )

    def all_keys(self) -> list[str]:
        """Every subject key of the person: the current one first, then the former ones."""
        found = [self.subject_key] if self.subject_key else []
        return found + [k for k in self.former_keys if k and k not in found]

    def with_former_keys(self, keys: Iterable[str]) -> Subject:
        """The same person, also known by ``keys`` (earlier addresses' keys)."""
        former = tuple(dict.fromkeys([*self.former_keys, *keys]))
        return replace(self, former_keys=tuple(k for k in former if k and k != self.subject_key))

    def fields(self) -> dict[str, str]:
        """The two ids as documents and event payloads carry them (the former keys go
        separately, as ``former_subject_keys``, where a document or event needs them)."""
        return {"account_id": self.account_id, "subject_key": self.subject_key}

    def stored(self) -> dict[str, Any]:
        """What a document keeps of the person to act for them later (a request, a wait):
        the two ids, and the former keys when there are any (:meth:`from_doc` reads them)."""
        doc: dict[str, Any] = dict(self.fields())
        if self.former_keys:
            doc["former_subject_keys"] = list(self.former_keys)
        return doc

    def owners(self) -> list[str]:
        """The owner keys of the person's index entries, markers and restrictions: every
        subject key (current and former) and the account id, those that are set."""
        return [*self.all_keys(), *([self.account_id] if self.account_id else [])]

    def store_filter(self, id_field: str = "account_id") -> dict[str, Any]:
        """A person's documents: by account id where they have one, always by subject_key.

        ``id_field`` names the field holding the account id (``_id`` in an accounts
        collection). With neither id set, the filter matches nothing. Not ``_id``-led: for
        what is off the hot path only (docs/architecture.md, "The rules").
        """
        keys = self.all_keys()
        clauses: list[dict[str, Any]] = []
        if keys:
            clauses.append({"subject_key": keys[0] if len(keys) == 1 else {"$in": keys}})
        if self.account_id:
            clauses.append({id_field: self.account_id})
        return {"$or": clauses} if clauses else {"_id": {"$exists": False}}
