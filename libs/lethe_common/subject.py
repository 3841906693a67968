"""The key by which every service knows a person (SPEC section 2).

``subject_key`` = HMAC-SHA256(pepper, normalised e-mail). The pepper is a
server-side secret from the environment; without it nobody can recompute a
key from an address, yet every service that holds the same address derives
the same key, so an erasure finds a newsletter-only subscriber too.
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata


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
