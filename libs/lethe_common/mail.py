"""The one way a Lethe service sends mail: plain SMTP to the configured relay.

In development the relay is the SMTP sink (``tools/smtp_sink.py``) that
writes every message into the Maildir ``var/mail/``.
"""

from __future__ import annotations

import contextlib
import email.policy
import logging
import re
import smtplib
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Any
from urllib.parse import quote

from lethe_common.config import CommonConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


# Folded at the default 78 (or 77), Python writes encoded words of 76 characters on
# continuation lines; at 76 they keep to RFC 2047's 75.
ENCODED_LINE_LENGTH = 76


class _MailPolicy(email.policy.EmailPolicy):
    """The default policy, with two line lengths for headers.

    A header whose text is ASCII stays one line up to RFC 5322's 998 characters:
    folded at 78, the default policy would turn a long List-Unsubscribe URL into
    encoded words. A header with other text is folded at 76, so that each encoded
    word keeps to RFC 2047's 75 characters (at 998 it would make one encoded word
    of any length).
    """

    def fold(self, name: str, value: Any) -> str:
        return str(super(_MailPolicy, self._for(value)).fold(name, value))

    def fold_binary(self, name: str, value: Any) -> bytes:
        return bytes(super(_MailPolicy, self._for(value)).fold_binary(name, value))

    def _for(self, value: Any) -> _MailPolicy:
        return self if str(value).isascii() else self.clone(max_line_length=ENCODED_LINE_LENGTH)


POLICY = _MailPolicy(max_line_length=998)
# Set by build_message itself, each once; a Mail's headers may give their values.
_OWN_HEADERS = ("Date", "Message-ID")


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage(policy=POLICY)
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    # RFC 5322 requires the origination date; in UTC, with its "+0000" zone.
    message["Date"] = mail.headers.get("Date") or format_datetime(datetime.now(UTC))
    message["Message-ID"] = mail.headers.get("Message-ID") or make_msgid(domain="lethe.invalid")
    for name, value in mail.headers.items():
        if name not in _OWN_HEADERS:
            message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def send_mail(mail: Mail, *, host: str, port: int, sender: str, timeout: float = 10.0) -> str:
    """Send one message; return its Message-ID. Raises ``smtplib.SMTPException``/``OSError``."""
    message = build_message(mail, sender)
    with smtplib.SMTP(host, port, timeout=timeout) as client:
        client.send_message(message)
    return str(message["Message-ID"])


def deliver(mail: Mail, *, host: str, port: int, sender: str) -> bool:
    """Send one message; on failure log the kind (never the address) and return False.

    The record a mail belongs to is stored before it is sent, so a failed mail
    loses nothing: the person can ask for it again.
    """
    kind = mail.headers.get("X-Lethe-Mail", "mail")
    try:
        send_mail(mail, host=host, port=port, sender=sender)
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("mail not sent", extra={"mail": kind, "error": type(exc).__name__})
        return False
    return True


class ServiceMailer:
    """What every service's mailer shares; the service's own subclass holds its texts.

    Its mails go through :func:`deliver` (a mail not sent is logged and reported as
    False) from the configured sender, and its links lead to the public site.
    """

    def __init__(self, common: CommonConfig, public_url: str) -> None:
        self._common = common
        self._public_url = public_url

    def _send(self, mail: Mail) -> bool:
        return deliver(
            mail, host=self._common.smtp_host, port=self._common.smtp_port, sender=self._common.mail_from
        )

    def _link(self, path: str, token: str) -> str:
        return f"{self._public_url}{path}?token={quote(token)}"


_LONE_LINE_ENDS = re.compile(rb"(?:\r\n|\n|\r(?!\n))")
_LEADING_DOT = re.compile(rb"(?m)^\.")


def _data_bytes(message: EmailMessage, utf8: bool) -> bytes:
    """The DATA section of ``message``: CRLF lines, leading dots doubled, ending in CRLF."""
    policy = POLICY.clone(linesep="\r\n", utf8=utf8)
    data = message.as_bytes(policy=policy)
    data = _LEADING_DOT.sub(b"..", _LONE_LINE_ENDS.sub(b"\r\n", data))
    return data if data.endswith(b"\r\n") else data + b"\r\n"


class MailSession:
    """One SMTP connection for many messages, each committed by the caller before it goes.

    ``send`` runs the SMTP transaction up to the end of the message data and
    then asks ``commit()``. Only if that returns True does it send the final
    dot, on which the server takes the message; otherwise it drops the
    connection, and an SMTP server discards a message whose data did not end
    (RFC 5321, section 4.1.1.4). So a sender that records each message in
    ``commit`` before it goes never has a message out that it did not record.
    """

    def __init__(self, host: str, port: int, sender: str, timeout: float = 30.0) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._envelope_sender = parseaddr(sender)[1]
        self._timeout = timeout
        self._client: smtplib.SMTP | None = None
        # Set when the last send failed after its final dot went out: the relay may have
        # taken the message, so it must count as sent and never go again.
        self.in_doubt = False

    def _connected(self) -> smtplib.SMTP:
        if self._client is None:
            client = smtplib.SMTP(self._host, self._port, timeout=self._timeout)
            # The final dot is a small write right after the data: with Nagle's algorithm
            # and the relay's delayed ACK it would wait ~40 ms for every message.
            if client.sock is not None:
                client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            client.ehlo_or_helo_if_needed()
            self._client = client
        return self._client

    def send(self, mail: Mail, commit: Callable[[], bool]) -> bool:
        """Send ``mail`` if ``commit()`` agrees; False when it did not.

        Raises ``smtplib.SMTPRecipientsRefused`` for a refused address,
        ``smtplib.SMTPResponseException``/``OSError`` for other failures (the
        connection is dropped then, and opened again by the next call).
        """
        message = build_message(mail, self._sender)
        self.in_doubt = False
        try:
            return self._transaction(self._connected(), mail.to, message, commit)
        except (smtplib.SMTPException, OSError):
            self.close()
            raise

    def _transaction(
        self, client: smtplib.SMTP, to: str, message: EmailMessage, commit: Callable[[], bool]
    ) -> bool:
        utf8 = not (to.isascii() and self._envelope_sender.isascii())
        if utf8 and not client.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError("the relay cannot take international addresses")
        options = ["SMTPUTF8", "BODY=8BITMIME"] if utf8 else []
        code, reply = client.mail(self._envelope_sender, options)
        if code != 250:
            raise smtplib.SMTPSenderRefused(code, reply, self._envelope_sender)
        code, reply = client.rcpt(to)
        if code not in (250, 251):
            client.rset()
            raise smtplib.SMTPRecipientsRefused({to: (code, reply)})
        code, reply = client.docmd("DATA")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        client.send(_data_bytes(message, utf8))
        if not commit():
            self.close()  # no final dot: the server discards the message
            return False
        client.send(b".\r\n")
        self.in_doubt = True
        code, reply = client.getreply()
        self.in_doubt = False
        if code != 250:
            raise smtplib.SMTPDataError(code, reply)
        return True

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(OSError):
                client.close()
