"""Mails in the SMTP sink's Maildir, and the tokens in their links.

Every mail a test reads through this module is first checked by
:func:`checked_mail` with a strict parser: one timezone-aware ``Date``, one
``Message-ID`` of the form ``<left@right>``, one ``From`` address, a ``To``,
and valid encoded words (RFC 2047) in every header. A failure names the
header and never shows the mail: it may hold personal data.
"""

from __future__ import annotations

import binascii
import codecs
import os
import re
from email import message_from_bytes
from email.errors import (
    HeaderParseError,
    MessageDefect,
    MessageError,
    NonASCIILocalPartDefect,
    UndecodableBytesDefect,
)
from email.header import decode_header, make_header
from email.headerregistry import Address, AddressHeader
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.policy import strict as strict_policy
from email.utils import parsedate_to_datetime
from pathlib import Path

from lethe_testing.waiting import wait_for


class MailCheckFailed(AssertionError):
    """A mail broke a rule; the message names the header, not its value."""


# RFC 2047, section 2: =?charset[*language]?encoding?encoded-text?= of at most 75 characters.
_ENCODED_WORD = re.compile(r"=\?([^?*\s]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_Q_TEXT = re.compile(r"(?:[!->@-~]|=[0-9A-F]{2})*")  # printable ASCII but "=", "?", space
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_LIST_URIS = re.compile(r"<[^<>\s]+>(?:\s*,\s*<[^<>\s]+>)*")
# What Python's parser reports of UTF-8 header text (RFC 6532): allowed in an SMTPUTF8 mail,
# whose raw header text is checked to be UTF-8 first.
_UTF8_DEFECTS = (NonASCIILocalPartDefect, UndecodableBytesDefect)


def checked_mail(raw: bytes) -> EmailMessage:
    """``raw`` parsed with ``email.policy.strict``, once it passed every check.

    Raises :class:`MailCheckFailed` naming the header that is missing, repeated
    or malformed.
    """
    try:
        message = BytesParser(policy=strict_policy).parsebytes(raw)
    except (MessageError, ValueError) as exc:  # policy.strict raises on every message defect
        raise MailCheckFailed(f"mail does not parse strictly: {type(exc).__name__}") from None
    if not isinstance(message, EmailMessage):
        raise MailCheckFailed("mail does not parse into an EmailMessage")
    international = _addresses_are_international(message)
    for name, value in message.raw_items():
        _check_header_text(name, value, international)
    tolerated = _UTF8_DEFECTS if international else ()
    _check_date(_only(message, "Date"))
    _check_message_id(_only(message, "Message-ID"))
    if len(_addresses(_only(message, "From", tolerated), "From")) != 1:
        raise MailCheckFailed("mail header From: not exactly one address")
    _addresses(_only(message, "To", tolerated), "To")
    _check_list_headers(message)
    return message


def _only(message: EmailMessage, name: str, tolerated: tuple[type[MessageDefect], ...] = ()) -> object:
    """The one ``name`` header of ``message``, parsed without defects."""
    values = message.get_all(name) or []
    if len(values) != 1:
        raise MailCheckFailed(f"mail header {name}: {len(values)} times, not once")
    header: object = values[0]
    defects = [d for d in getattr(header, "defects", ()) if not isinstance(d, tolerated)]
    if defects:
        raise MailCheckFailed(f"mail header {name}: {type(defects[0]).__name__}")
    return header


def _addresses(header: object, name: str) -> tuple[Address, ...]:
    if not isinstance(header, AddressHeader):
        raise MailCheckFailed(f"mail header {name}: not an address header")
    found = header.addresses
    if not found or not all(a.username and a.domain and "@" in a.addr_spec for a in found):
        raise MailCheckFailed(f"mail header {name}: not an address with an @")
    return found


def _addresses_are_international(message: EmailMessage) -> bool:
    """Whether the envelope had to use SMTPUTF8: an address in To or From is not ASCII.

    That is when our senders (``lethe_common.mail``) send with SMTPUTF8, and only
    then may header text be raw UTF-8 (RFC 6532) instead of encoded words.
    """
    for name in ("From", "To"):
        for header in message.get_all(name) or []:
            if isinstance(header, AddressHeader) and not all(a.addr_spec.isascii() for a in header.addresses):
                return True
    return False


def _check_header_text(name: str, value: str, international: bool) -> None:
    """Raw 8-bit text only in an SMTPUTF8 mail, as UTF-8; every encoded word valid."""
    if not value.isascii():
        if not international:
            raise MailCheckFailed(
                f"mail header {name}: 8-bit text in a mail not sent as "
                "SMTPUTF8 (not encoded as RFC 2047 words)"
            )
        try:
            value.encode("ascii", "surrogateescape").decode("utf-8")
        except UnicodeError:
            raise MailCheckFailed(f"mail header {name}: 8-bit text that is not UTF-8") from None
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value)
    if "=?" in _ENCODED_WORD.sub("", unfolded):
        raise MailCheckFailed(f"mail header {name}: broken encoded word")
    for word in _ENCODED_WORD.finditer(unfolded):
        _check_encoded_word(name, word)
    try:
        str(make_header(decode_header(unfolded)))
    except (HeaderParseError, UnicodeError, LookupError, binascii.Error):
        raise MailCheckFailed(f"mail header {name}: encoded word does not decode") from None


def _check_encoded_word(name: str, word: re.Match[str]) -> None:
    charset, encoding, text = word.groups()
    if len(word.group(0)) > 75:
        raise MailCheckFailed(f"mail header {name}: encoded word longer than 75 characters")
    try:
        codecs.lookup(charset)
        if encoding in "bB":
            data = binascii.a2b_base64(text, strict_mode=True)
        else:
            if not _Q_TEXT.fullmatch(text):
                raise ValueError("not Q-encoded")
            data = binascii.a2b_qp(text.replace("_", " "), header=False)
        data.decode(charset)
    except (LookupError, ValueError, binascii.Error):  # UnicodeError is a ValueError
        raise MailCheckFailed(f"mail header {name}: encoded word does not decode") from None


def _check_date(header: object) -> None:
    try:
        when = parsedate_to_datetime(str(header))
    except (TypeError, ValueError):
        when = None
    if when is None:
        raise MailCheckFailed("mail header Date: not an RFC 5322 date")
    if when.tzinfo is None:
        raise MailCheckFailed("mail header Date: no time zone (-0000)")


def _check_message_id(header: object) -> None:
    if not _MESSAGE_ID.fullmatch(str(header).strip()):
        raise MailCheckFailed("mail header Message-ID: not of the form <left@right>")


def _check_list_headers(message: EmailMessage) -> None:
    """List-Unsubscribe (RFC 2369) and its one-click POST (RFC 8058), where a mail has them."""
    unsubscribe = message.get_all("List-Unsubscribe") or []
    if unsubscribe and not _LIST_URIS.fullmatch(str(_only(message, "List-Unsubscribe")).strip()):
        raise MailCheckFailed("mail header List-Unsubscribe: not a list of <URI>")
    if message.get_all("List-Unsubscribe-Post"):
        if str(_only(message, "List-Unsubscribe-Post")) != "List-Unsubscribe=One-Click":
            raise MailCheckFailed("mail header List-Unsubscribe-Post: not List-Unsubscribe=One-Click")
        if not unsubscribe or not re.search(r"<https?://", str(unsubscribe[0])):
            raise MailCheckFailed("mail header List-Unsubscribe-Post: without an HTTP(S) List-Unsubscribe")


def mails_in(maildir: Path, to: str = "", kind: str = "") -> list[EmailMessage]:
    """Messages in a Maildir, oldest first, each checked (:func:`checked_mail`).

    ``to`` and ``kind`` (``X-Lethe-Mail``) keep only those; only the messages
    kept are checked (the shared Maildir holds other tests' mails too).
    """
    found = []
    for sub in ("new", "cur"):
        folder = maildir / sub
        for path in sorted(folder.glob("*"), key=_mtime) if folder.is_dir() else ():
            try:
                raw = path.read_bytes()
            except FileNotFoundError:  # moved from new/ to cur/ by another reader
                continue
            message = message_from_bytes(raw, policy=default_policy)
            if to and message["To"] != to:
                continue
            if kind and message["X-Lethe-Mail"] != kind:
                continue
            found.append(checked_mail(raw))
    return found


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def mails_to(address: str, maildir: Path | None = None, kind: str = "") -> list[EmailMessage]:
    """Messages in the SMTP sink's Maildir addressed to ``address``, oldest first, checked."""
    return mails_in(maildir or Path(os.environ["LETHE_MAILDIR"]), address, kind)


def wait_for_mail(address: str, kind: str = "", count: int = 1, timeout: float = 15.0) -> EmailMessage:
    """The ``count``-th mail of ``kind`` to ``address``, once it has arrived."""

    def arrived() -> list[EmailMessage]:
        mails = mails_to(address, kind=kind)
        return mails if len(mails) >= count else []

    return wait_for(arrived, timeout, what=f"mail number {count} ({kind or 'any'})")[count - 1]


def mail_text(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    return str(body.get_content()) if body is not None else ""


def token_in(message: EmailMessage) -> str:
    """The token of the link in a mail."""
    found = re.search(r"token=([A-Za-z0-9_-]{43})", mail_text(message))
    if found is None:
        raise AssertionError("no token link in the mail")
    return found.group(1)
