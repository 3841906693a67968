"""What a page view is, checked at the edge, and the pure rules around it.

A page view names a page and, only with the analytics consent, a visitor: the random id
of the analytics cookie (``vis_`` and 32 hex digits, :func:`new_visitor_id`). The service
never stores that id, only its keyed hash (:func:`visitor_hash`), so a leaked database
cannot be matched against cookies without the key. A logged-in person's subject key comes
only together with a visitor id: without the consent nothing names anyone.

Paths are route templates (``/api/v1/orders/{order_id}``) or paths; a segment that may
name someone (an id, an e-mail address, a phone number, an IP address) is replaced by
``[id]`` as the gateway's access log does, so the counts stay free of personal data even
when a caller sends a concrete path.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import unquote

from lethe_common import tokens
from lethe_common.errors import InvalidArgument
from lethe_common.logging import redact
from lethe_common.subject import Subject

MAX_PATH = 200
ID_MARKER = "[id]"
VISITOR_ID = re.compile(r"vis_[0-9a-f]{32}")
# The characters of a URL path (RFC 3986 pchar and "/"), and the braces of a template.
_PATH = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@%/{}\[\]]*")
# A segment that may be an id or a token: long with a digit, or very long.
_ID_LIKE = re.compile(r"(?=.*\d).{8,}|.{32,}", re.DOTALL)
DEFAULT_DAYS = 30
MAX_DAYS = 400
MAX_TOP = 50


def new_visitor_id() -> str:
    """A fresh id for the analytics cookie (the gateway sets it once the visitor consents)."""
    return tokens.new_id("vis")


def visitor_hash(key: bytes, visitor_id: str) -> str:
    """The keyed hash that stands for a visitor in the store (64 hex digits)."""
    return hmac.new(key, visitor_id.encode(), hashlib.sha256).hexdigest()


def _may_name_someone(segment: str) -> bool:
    decoded = unquote(segment)
    return bool(_ID_LIKE.fullmatch(decoded)) or redact(decoded) != decoded


def checked_path(value: str) -> str:
    """The path as it is counted, or InvalidArgument saying what is wrong (never the value)."""
    if not value:
        raise InvalidArgument("path is required")
    if len(value) > MAX_PATH:
        raise InvalidArgument(f"path may be at most {MAX_PATH} characters long")
    if "?" in value or "#" in value:
        raise InvalidArgument("path must not carry a query string or a fragment (no ? or #)")
    if not value.startswith("/"):
        raise InvalidArgument("path must start with /")
    if not _PATH.fullmatch(value):
        raise InvalidArgument("path may hold only the characters of a web address, without spaces")
    return "/".join(ID_MARKER if _may_name_someone(part) else part for part in value.split("/"))


def checked_visitor_id(value: str) -> str:
    if not VISITOR_ID.fullmatch(value):
        raise InvalidArgument("visitor_id is not a visitor id (vis_ and 32 hex digits)")
    return value


def checked_subject_key(value: str) -> str:
    """The subject key as every service checks it (64 hex digits)."""
    return Subject.checked(account_id="", subject_key=value, error=InvalidArgument).subject_key


@dataclass(frozen=True)
class PageView:
    """One page view as the gateway reports it; ``visitor_id`` only with the consent."""

    path: str
    visitor_id: str = ""
    subject_key: str = ""


def checked_page_view(path: str, visitor_id: str, subject_key: str) -> PageView:
    checked = checked_path(path)
    if not visitor_id:
        if subject_key:
            raise InvalidArgument(
                "subject_key needs a visitor_id: a page view names a person only with the analytics consent"
            )
        return PageView(checked)
    return PageView(
        checked,
        checked_visitor_id(visitor_id),
        checked_subject_key(subject_key) if subject_key else "",
    )


def checked_window(days: int, top: int, default_top: int) -> tuple[int, int]:
    """``GetTraffic``'s window in days and number of top pages (0: the defaults)."""
    days = days or DEFAULT_DAYS
    top = top or default_top
    if not 1 <= days <= MAX_DAYS:
        raise InvalidArgument(f"days must be between 1 and {MAX_DAYS}")
    if not 1 <= top <= MAX_TOP:
        raise InvalidArgument(f"top must be between 1 and {MAX_TOP}")
    return days, top


def day_of(moment: datetime) -> str:
    """The UTC day of ``moment`` as counts are filed under it (YYYY-MM-DD)."""
    return moment.astimezone(UTC).date().isoformat()


def day_start(moment: datetime) -> datetime:
    """Midnight UTC at the start of ``moment``'s UTC day."""
    return datetime.combine(moment.astimezone(UTC).date(), time(), tzinfo=UTC)


def window(today: date, days: int) -> list[str]:
    """The ``days`` UTC days up to ``today``, oldest first."""
    return [(today - timedelta(days=n)).isoformat() for n in range(days - 1, -1, -1)]


def utc_now() -> datetime:
    return datetime.now(UTC)
