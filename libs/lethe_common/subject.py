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
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True, kw_only=True)
class Subject:
    """One person as the services know them: their account id and their subject key.

    Either may be empty: a newsletter-only subscriber or an anonymous privacy request has
    no account id, and a staff action or an event of an account may lack the key. The
    fields are keyword-only, so the two strings cannot be swapped by position.
    """

    account_id: str = ""
    subject_key: str = ""

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

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Subject:
        """Whom a stored document or queue entry names (its ``account_id`` and ``subject_key``)."""
        return cls(account_id=str(doc.get("account_id") or ""), subject_key=str(doc.get("subject_key") or ""))

    def fields(self) -> dict[str, str]:
        """The two ids as documents and event payloads carry them."""
        return {"account_id": self.account_id, "subject_key": self.subject_key}

    def owners(self) -> list[str]:
        """The owner keys of the person's index entries, markers and restrictions: the
        subject key and the account id, those that are set."""
        return [owner for owner in (self.subject_key, self.account_id) if owner]

    def store_filter(self, id_field: str = "account_id") -> dict[str, Any]:
        """A person's documents: by account id where they have one, always by subject_key.

        ``id_field`` names the field holding the account id (``_id`` in an accounts
        collection). With neither id set, the filter matches nothing. Not ``_id``-led: for
        what is off the hot path only (docs/architecture.md, "The rules").
        """
        clauses: list[dict[str, Any]] = [{"subject_key": self.subject_key}] if self.subject_key else []
        if self.account_id:
            clauses.append({id_field: self.account_id})
        return {"$or": clauses} if clauses else {"_id": {"$exists": False}}
