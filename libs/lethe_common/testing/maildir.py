"""Mails in the SMTP sink's Maildir, and the tokens in their links."""

from __future__ import annotations

import os
import re
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path

from lethe_common.testing.waiting import wait_for


def mails_to(address: str, maildir: Path | None = None, kind: str = "") -> list[EmailMessage]:
    """Messages in the SMTP sink's Maildir addressed to ``address``, oldest first."""
    folder = maildir or Path(os.environ["LETHE_MAILDIR"])
    found = []
    for sub in ("new", "cur"):
        for path in sorted((folder / sub).glob("*"), key=lambda p: p.stat().st_mtime_ns) \
                if (folder / sub).is_dir() else ():
            message = message_from_bytes(path.read_bytes(), policy=default_policy)
            if not isinstance(message, EmailMessage) or message["To"] != address:
                continue
            if kind and message["X-Lethe-Mail"] != kind:
                continue
            found.append(message)
    return found


def wait_for_mail(address: str, kind: str = "", count: int = 1,
                  timeout: float = 15.0) -> EmailMessage:
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
