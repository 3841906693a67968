"""send_mail delivers through the real SMTP sink into its Maildir."""

from __future__ import annotations

import mailbox
import os
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from lethe_common.mail import Mail, build_message, send_mail
from lethe_testing import checked_mail, free_port, unique, wait_for

SENDER = "Lethe Tests <no-reply@lethe.invalid>"


@pytest.fixture
def smtp_port() -> int:
    return int(os.environ.get("LETHE_SMTP_PORT", "2525"))


@pytest.fixture
def maildir() -> mailbox.Maildir:
    return mailbox.Maildir(os.environ["LETHE_MAILDIR"], create=False)


def _find(box: mailbox.Maildir, message_id: str) -> EmailMessage | None:
    for key in box.iterkeys():
        try:
            raw = box.get_bytes(key)
        except (KeyError, FileNotFoundError):  # moved from new/ to cur/ by another reader
            continue
        if f"Message-ID: {message_id}".encode() in raw:
            return checked_mail(raw)
    return None


def test_build_message_has_a_unique_message_id_on_our_domain() -> None:
    mail = Mail(to="a@example.com", subject="s", text="t")
    first, second = build_message(mail, SENDER), build_message(mail, SENDER)
    assert str(first["Message-ID"]).endswith("@lethe.invalid>")
    assert first["Message-ID"] != second["Message-ID"]


def test_build_message_is_dated_now_in_utc() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = build_message(Mail(to="a@example.com", subject="s", text="t"), SENDER)
    [date] = message.get_all("Date")
    when = parsedate_to_datetime(str(date))
    assert when.utcoffset() == timedelta(0)
    assert before <= when <= datetime.now(UTC)


def test_text_only_mail_is_a_single_plain_part() -> None:
    message = build_message(Mail(to="a@example.com", subject="s", text="hello"), SENDER)
    assert not message.is_multipart()
    assert message.get_content_type() == "text/plain"


def test_sent_mail_lands_in_the_maildir_with_both_parts_and_custom_headers(
    smtp_port: int, maildir: mailbox.Maildir
) -> None:
    subject = unique("mail-test")
    unsubscribe = f"<https://lethe.invalid/unsubscribe/{subject}>"
    mail = Mail(
        to="reader@example.com",
        subject=subject,
        text=f"plain body {subject}",
        html=f"<p>html body {subject}</p>",
        headers={"List-Unsubscribe": unsubscribe},
    )

    message_id = send_mail(mail, host="127.0.0.1", port=smtp_port, sender=SENDER)

    received = wait_for(lambda: _find(maildir, message_id), timeout=15, what="the mail in the Maildir")
    assert received["Subject"] == subject
    assert received["To"] == "reader@example.com"
    assert received["From"] == SENDER
    assert received["List-Unsubscribe"] == unsubscribe
    assert received.get_content_type() == "multipart/alternative"
    assert received.get_body(("plain",)).get_content().strip() == f"plain body {subject}"
    assert received.get_body(("html",)).get_content().strip() == f"<p>html body {subject}</p>"


def test_send_mail_to_a_closed_port_raises_os_error() -> None:
    with pytest.raises(OSError):
        send_mail(
            Mail(to="a@example.com", subject="s", text="t"),
            host="127.0.0.1",
            port=free_port(),
            sender=SENDER,
            timeout=3,
        )
