"""The strict check every mail a test reads goes through (``checked_mail``) fails when it should."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lethe_common.mail import POLICY, Mail, build_message
from lethe_testing.maildir import MailCheckFailed, checked_mail

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

SENDER = "Lethe Tests <no-reply@lethe.invalid>"
PERSONAL = "Ada Lovelace"

GOOD = (
    "From: Lethe <no-reply@lethe.invalid>\n"
    "To: ada@customer.example\n"
    f"Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?= {PERSONAL}\n"
    "Date: Mon, 30 Nov 2026 10:00:00 +0000\n"
    "Message-ID: <1.2.3@lethe.invalid>\n"
    "List-Unsubscribe: <https://lethe.example/unsubscribe?token=abc>\n"
    "List-Unsubscribe-Post: List-Unsubscribe=One-Click\n"
    "X-Lethe-Mail: test\n"
    'Content-Type: text/plain; charset="utf-8"\n'
    "Content-Transfer-Encoding: 7bit\n"
    "MIME-Version: 1.0\n"
    "\n"
    f"Hello {PERSONAL}\n"
)


def changed(header: str, value: str | None, add: bool = False) -> bytes:
    """GOOD with ``header`` given ``value`` (None: without it; ``add``: once more)."""
    lines = GOOD.split("\n")
    at = next(n for n, line in enumerate(lines) if line.startswith(f"{header}:"))
    if add:
        lines.insert(at, f"{header}: {value}")
    elif value is None:
        del lines[at]
    else:
        lines[at] = f"{header}: {value}"
    return "\n".join(lines).encode()


def fails_on(raw: bytes, header: str) -> str:
    with pytest.raises(MailCheckFailed) as failed:
        checked_mail(raw)
    said = str(failed.value)
    assert f"header {header}:" in said
    assert PERSONAL not in said and "ada@" not in said  # names the header, shows no data
    return said


def test_a_good_mail_passes_and_is_parsed() -> None:
    message = checked_mail(GOOD.encode())
    assert message["Subject"] == f"Grüße {PERSONAL}"
    assert message.get_content() == f"Hello {PERSONAL}\n"


def test_a_mail_without_a_date_fails() -> None:
    fails_on(changed("Date", None), "Date")


def test_a_broken_encoded_word_fails() -> None:
    fails_on(changed("Subject", f"=?utf-8?q?broken {PERSONAL}"), "Subject")


def test_a_bad_message_id_fails() -> None:
    fails_on(changed("Message-ID", "1.2.3.lethe.invalid"), "Message-ID")


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("Date", "Mon, 30 Nov 2026 10:00:00 -0000"),  # no time zone: a naive time
        ("Date", "yesterday"),
        ("Message-ID", None),
        ("Message-ID", "<no-at-sign>"),
        ("From", None),
        ("From", "Lethe"),
        ("From", "a@lethe.invalid, b@lethe.invalid"),
        ("To", None),
        ("To", "nobody"),
        ("Subject", f"=?utf-8?b?!!!?= {PERSONAL}"),  # not base64
        ("Subject", f"=?utf-8?q?=FF?= {PERSONAL}"),  # not UTF-8
        ("Subject", f"=?no-such-charset?q?x?= {PERSONAL}"),
        ("Subject", "=?utf-8?q?" + "a" * 70 + "?="),  # longer than RFC 2047's 75 characters
        ("Subject", f"Grüße {PERSONAL}"),  # raw 8-bit text in a mail not sent as SMTPUTF8
        ("List-Unsubscribe", "https://lethe.example/unsubscribe"),
        ("List-Unsubscribe", None),  # List-Unsubscribe-Post without it
        ("List-Unsubscribe-Post", "yes"),
    ],
)
def test_each_broken_header_fails_by_name(header: str, value: str | None) -> None:
    name = "List-Unsubscribe-Post" if header == "List-Unsubscribe" and value is None else header
    fails_on(changed(header, value), name)


@pytest.mark.parametrize("header", ["Date", "Message-ID", "From", "To"])
def test_a_repeated_header_fails(header: str) -> None:
    value = {
        "Date": "Tue, 1 Dec 2026 10:00:00 +0000",
        "Message-ID": "<4@lethe.invalid>",
        "From": "x@lethe.invalid",
        "To": "y@customer.example",
    }[header]
    fails_on(changed(header, value, add=True), header)


def test_utf8_header_text_passes_only_in_a_mail_to_an_international_address() -> None:
    utf8 = GOOD.replace("To: ada@", "To: jürgen@").replace("=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "Grüße")
    assert checked_mail(utf8.encode())["Subject"] == f"Grüße {PERSONAL}"
    with pytest.raises(MailCheckFailed, match="header Subject: 8-bit text that is not UTF-8"):
        checked_mail(utf8.encode().replace("Grüße".encode(), "Grüße".encode("latin-1")))


def test_a_mail_that_does_not_parse_strictly_fails_without_showing_it() -> None:
    raw = GOOD.replace("X-Lethe-Mail: test\n", f"not a header {PERSONAL}\n").encode()
    with pytest.raises(MailCheckFailed, match="does not parse strictly") as failed:
        checked_mail(raw)
    assert PERSONAL not in str(failed.value)


def message_bytes(mail: Mail) -> bytes:
    return build_message(mail, SENDER).as_bytes(policy=POLICY.clone(linesep="\r\n"))


def test_every_message_we_build_is_dated_now_in_utc_and_passes() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = checked_mail(message_bytes(Mail(to="a@customer.example", subject="s", text="t")))
    assert message["Date"].datetime.utcoffset() == timedelta(0)
    assert before <= message["Date"].datetime <= datetime.now(UTC)


def test_long_text_needing_encoding_makes_encoded_words_of_at_most_75_characters() -> None:
    subject = "Grüße für Ihre Bestätigung: äöü äöü äöü äöü äöü äöü " + "Übergrößenträger" * 5
    url = "<https://lethe.example/api/v1/newsletter/unsubscribe?token=" + "a" * 150 + ">"
    raw = message_bytes(
        Mail(to="a@customer.example", subject=subject, text="t", headers={"List-Unsubscribe": url})
    )
    message = checked_mail(raw)  # encoded words longer than 75 characters fail it
    assert message["Subject"] == subject
    assert f"List-Unsubscribe: {url}\r\n".encode() in raw  # ASCII stays one line
