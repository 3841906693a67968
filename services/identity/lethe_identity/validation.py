"""Identity's own checks (names, phones, domains, versions); the shared ones are in
:mod:`lethe_common.validation`.
"""

from __future__ import annotations

import re

from lethe_common.errors import InvalidArgument
from lethe_common.validation import MAX_EMAIL as MAX_EMAIL
from lethe_common.validation import email as email
from lethe_common.validation import object_id as object_id
from lethe_common.validation import text as text

MAX_NAME = 200
MAX_MESSAGE = 5000
_PHONE_RE = re.compile(r"\+?[0-9(][0-9 ()./-]{3,30}[0-9]")
_VERSION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_DOMAIN_LABEL_RE = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def email_domain(address: str) -> str:
    return address.rsplit("@", 1)[1]


def name(value: str) -> str:
    return text(value, "name", max_length=MAX_NAME)


def phone(value: str) -> str:
    """An optional phone number: empty, or digits with the usual separators."""
    cleaned = value.strip()
    if cleaned and not _PHONE_RE.fullmatch(cleaned):
        raise InvalidArgument("phone must be a phone number: digits, spaces and + ( ) . / - only")
    return cleaned


def consent_version(value: str) -> str:
    if not _VERSION_RE.fullmatch(value.strip()):
        raise InvalidArgument(
            "account_consent_version must be the version of the consent text shown, "
            "e.g. 2026-01 (letters, digits, dots, dashes; at most 32)"
        )
    return value.strip()


def domain(value: str) -> str:
    cleaned = value.strip().lower().rstrip(".")
    labels = cleaned.split(".")
    if len(cleaned) > 253 or len(labels) < 2 or not all(_DOMAIN_LABEL_RE.fullmatch(p) for p in labels):
        raise InvalidArgument("domains must be e-mail domains such as example.com")
    return cleaned
