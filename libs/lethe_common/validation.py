"""Checks every service makes of what callers send, with messages a person understands.

The gateway checks shapes and lengths already; services check again because
they trust no caller. Messages never repeat the value they reject.
"""

from __future__ import annotations

import re
import unicodedata

from lethe_common.errors import InvalidArgument
from lethe_common.subject import normalise_email

MAX_EMAIL = 254
# RFC 5321 dot-atom (letters may be any script's): no quotes, commas, colons, angle
# brackets or parentheses, which mail headers would read as something else.
_ATOM = r"[\w!#$%&'*+/=?^`{|}~-]+"
_LOCAL_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*")
_EMAIL_DOMAIN_LABEL_RE = re.compile(r"(?!-)[\w-]{1,63}(?<!-)")
_ID_RE = re.compile(r"[a-z]{2,4}_[0-9a-f]{32}")


def email(value: str, field: str = "email") -> str:
    """The normalised address, or InvalidArgument."""
    normalised = normalise_email(value)
    if not normalised:
        raise InvalidArgument(f"{field} is required")
    local, _, host = normalised.rpartition("@")
    labels = host.split(".")
    if (
        len(normalised) > MAX_EMAIL
        or len(local) > 64
        or has_control_chars(normalised)
        or not _LOCAL_RE.fullmatch(local)
        or len(labels) < 2
        or not all(_EMAIL_DOMAIN_LABEL_RE.fullmatch(label) for label in labels)
    ):
        raise InvalidArgument(f"{field} is not a valid e-mail address")
    return normalised


def has_control_chars(value: str) -> bool:
    return any(
        unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") and ch not in "\n\t" for ch in value
    )


def text(value: str, field: str, *, max_length: int, required: bool = True, multiline: bool = False) -> str:
    cleaned = value.strip()
    if required and not cleaned:
        raise InvalidArgument(f"{field} is required")
    if len(cleaned) > max_length:
        raise InvalidArgument(f"{field} may be at most {max_length} characters long")
    if has_control_chars(cleaned) or (not multiline and ("\n" in cleaned or "\t" in cleaned)):
        raise InvalidArgument(f"{field} contains characters that are not allowed")
    return cleaned


def object_id(value: str, field: str) -> str:
    """Our ids look like ``acc_<32 hex>``; anything else cannot name a record."""
    if not _ID_RE.fullmatch(value):
        raise InvalidArgument(f"{field} is not a valid id")
    return value
