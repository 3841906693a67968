"""Signed tokens for links in mails: tamper-evident, bound to a purpose, optionally expiring.

A token is its fields and an HMAC-SHA256 over the purpose and the fields,
joined by dots: ``<field>.<field>.<mac>``. Nothing in it is secret (ids and
times), but nobody without the key can make or alter one, so a link can
neither be forged nor guessed from another. Single use, where a link needs
it, comes from the state the fields point at (a pending subscription that
confirmation ends), not from the signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Sequence

_FIELD = re.compile(r"[A-Za-z0-9_-]{1,64}")
_MAC_LENGTH = 43  # 32 bytes in unpadded base64url
MAX_TOKEN_LENGTH = 400


class BadSignature(ValueError):
    """The token was not made by us for this purpose, or was altered."""


def _mac(key: bytes, purpose: str, body: str) -> str:
    digest = hmac.new(key, f"{purpose}\x00{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def sign(key: bytes, purpose: str, fields: Sequence[str]) -> str:
    """A token carrying ``fields`` (ids, numbers: ``[A-Za-z0-9_-]``) for ``purpose``."""
    if not fields or not all(_FIELD.fullmatch(field) for field in fields):
        raise ValueError("token fields must be short ids or numbers")
    body = ".".join(fields)
    return f"{body}.{_mac(key, purpose, body)}"


def verify(key: bytes, purpose: str, token: str, field_count: int) -> tuple[str, ...]:
    """The token's fields if it is ours, for ``purpose``, unaltered; else BadSignature."""
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise BadSignature("not a token")
    *fields, mac = token.split(".")
    if (
        len(fields) != field_count
        or len(mac) != _MAC_LENGTH
        or not all(_FIELD.fullmatch(field) for field in fields)
    ):
        raise BadSignature("not a token")
    expected = _mac(key, purpose, ".".join(fields))
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        raise BadSignature("the signature does not match")
    return tuple(fields)


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one kind of link, derived from a longer-lived secret (HKDF-like, one block)."""
    if not secret:
        raise ValueError("the secret must not be empty")
    return hmac.new(secret.encode(), f"lethe-link-key\x00{purpose}".encode(), hashlib.sha256).digest()
