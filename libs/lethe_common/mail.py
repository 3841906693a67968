"""The one way a Lethe service sends mail: plain SMTP to the configured relay.

In development the relay is the SMTP sink (``tools/smtp_sink.py``) that
writes every message into the Maildir ``var/mail/``.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def build_message(mail: Mail, sender: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain="lethe.invalid")
    for name, value in mail.headers.items():
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
