"""Opaque random tokens (sessions, links in mails), stored only as digests.

A token has 256 bits from the OS's CSPRNG, so a plain SHA-256 digest is
enough to store it: nobody can guess a preimage, and a leaked table of
digests opens no session and verifies no address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
import uuid

_TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")


def new_token() -> str:
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(value: str) -> bool:
    """Cheap shape check before any lookup: a wrong shape is never a valid token."""
    return bool(_TOKEN_RE.fullmatch(value))


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def new_ordered_id(prefix: str) -> str:
    """An id like :func:`new_id` whose order follows creation time to the nanosecond, so
    records written in the same millisecond (BSON's precision) still sort as written."""
    return f"{prefix}_{time.time_ns():016x}{secrets.token_hex(8)}"


def keyed(pepper: str, purpose: str, value: str) -> str:
    """A keyed hash of a value (an address) that must be countable but not readable."""
    return hmac.new(pepper.encode(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()


def client_key(pepper: str, client_address: str) -> str:
    """The key under which a client address's attempts are counted."""
    return keyed(pepper, "client", client_address or "-")


def same_digest(token: str, stored_digest: str) -> bool:
    """Whether ``token`` hashes to ``stored_digest``, compared in constant time."""
    return hmac.compare_digest(digest(token).encode(), stored_digest.encode())
