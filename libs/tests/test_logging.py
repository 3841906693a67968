"""Logs are JSON lines without e-mail addresses, phone numbers or IP addresses."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from lethe_common.logging import (
    REDACTED_EMAIL,
    REDACTED_IP,
    REDACTED_PHONE,
    JsonFormatter,
    redact,
)

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these

EMAIL = "alice.smith@example.com"


@pytest.mark.parametrize(
    "address",
    [
        "alice@example.com",
        "alice.smith+newsletter@example.com",
        "bob_o'neil@mail.sub.example.co.uk",
        "ALICE@EXAMPLE.COM",
        "a-b.c@x-y.example.org",
    ],
)
def test_redact_removes_email_addresses(address: str) -> None:
    redacted = redact(f"sent to {address} today")
    assert redacted == f"sent to {REDACTED_EMAIL} today"


@pytest.mark.parametrize(
    "number",
    [
        "+49 30 1234567",
        "0049-171-1234567",
        "030/1234567",
        "(030) 123 4567",
        "+1 (555) 123-4567",
        "+4930123456",
    ],
)
def test_redact_removes_phone_numbers(number: str) -> None:
    assert redact(f"call {number} now") == f"call {REDACTED_PHONE} now"


@pytest.mark.parametrize(
    "address",
    [
        "203.0.113.7",
        "2001:db8::1",
        "2001:0db8:0000:0000:0000:ff00:0042:8329",
        "FE80:0000:0000:0000:0202:B3FF:FE1E:8329",
    ],
)
def test_redact_removes_ip_addresses(address: str) -> None:
    assert redact(f"client {address} connected") == f"client {REDACTED_IP} connected"


def test_redact_removes_the_address_but_keeps_the_port() -> None:
    assert redact("peer ipv4:203.0.113.7:5555") == f"peer ipv4:{REDACTED_IP}:5555"


@pytest.mark.parametrize(
    "text",
    [
        "bind 127.0.0.1",
        "bind ::1",
        "bind 0.0.0.0",
        "listening on 127.0.0.1:50051",
        "at 2026-11-21T12:20:46",
        "at 2026-11-21T12:20:46.123456+00:00",
        "at 12:20:46",
        "ping 0123456789abcdef0123456789abcdef",
        "port 50051",
        "count 1234567",
        "elapsed 0.001234567",
        "event 123e4567-e89b-12d3-a456-426614174000",
    ],
)
def test_redact_keeps_text_that_names_no_one(text: str) -> None:
    assert redact(text) == text


def test_redact_removes_a_phone_number_written_after_a_colon() -> None:
    assert redact("contact tel:+49-30-1234567") == f"contact tel:{REDACTED_PHONE}"


def test_redact_removes_an_ipv4_mapped_ipv6_address_whole() -> None:
    redacted = redact("client ::ffff:203.0.113.7 connected")
    assert "113" not in redacted
    assert redacted == f"client {REDACTED_IP} connected"


def _record(message: str, *args: object, exc_info: object = None, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("lethe.test", logging.INFO, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def _format(record: logging.LogRecord) -> dict[str, object]:
    line = JsonFormatter("identity", "api").format(record)
    assert "\n" not in line
    return json.loads(line)


def test_formatter_writes_one_json_object_with_the_fixed_fields() -> None:
    entry = _format(_record("hello %s", "world"))
    assert entry["message"] == "hello world"
    assert (entry["level"], entry["service"], entry["process"], entry["logger"]) == (
        "INFO",
        "identity",
        "api",
        "lethe.test",
    )
    assert str(entry["time"]).endswith("Z")


def test_formatter_redacts_the_message_and_its_arguments() -> None:
    entry = _format(_record("signup from %s at %s", EMAIL, "203.0.113.7"))
    assert EMAIL not in json.dumps(entry)
    assert entry["message"] == f"signup from {REDACTED_EMAIL} at {REDACTED_IP}"


def test_formatter_redacts_nested_extra_fields_and_keeps_numbers() -> None:
    entry = _format(
        _record(
            "lookup", who=EMAIL, context={"emails": [EMAIL, "x"], "port": 50051}, pair=("+49 30 1234567", 3)
        )
    )
    assert EMAIL not in json.dumps(entry)
    assert entry["who"] == REDACTED_EMAIL
    assert entry["context"] == {"emails": [REDACTED_EMAIL, "x"], "port": 50051}
    assert entry["pair"] == [REDACTED_PHONE, 3]


def test_formatter_redacts_email_addresses_used_as_extra_keys() -> None:
    entry = _format(_record("counts", per_address={EMAIL: 2}))
    assert EMAIL not in json.dumps(entry)


def test_formatter_redacts_exception_text() -> None:
    try:
        raise ValueError(f"no account for {EMAIL}")
    except ValueError:
        entry = _format(_record("failed", exc_info=sys.exc_info()))
    assert EMAIL not in json.dumps(entry)
    assert "ValueError" in str(entry["exception"])
    assert REDACTED_EMAIL in str(entry["exception"])


def test_logger_exception_inside_except_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("lethe.test.exc")
    with caplog.at_level(logging.ERROR, logger="lethe.test.exc"):
        try:
            raise RuntimeError(f"mail to {EMAIL} bounced")
        except RuntimeError:
            logger.exception("sending failed for %s", EMAIL, extra={"to": EMAIL})
    (record,) = caplog.records
    line = JsonFormatter("identity", "worker").format(record)
    assert EMAIL not in line
    assert json.loads(line)["to"] == REDACTED_EMAIL


def test_configure_logging_prints_redacted_json_lines_on_stdout() -> None:
    script = (
        "import logging\n"
        "from lethe_common.logging import configure_logging\n"
        "configure_logging('identity', 'api', 'INFO')\n"
        "log = logging.getLogger('lethe.demo')\n"
        f"log.info('signup %s', {EMAIL!r}, extra={{'phone': '+49 30 1234567', 'ip': '203.0.113.7'}})\n"
        "log.debug('hidden below INFO')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    lines = done.stdout.splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert EMAIL not in done.stdout and "1234567" not in done.stdout and "203.0.113.7" not in done.stdout
    assert entry["message"] == f"signup {REDACTED_EMAIL}"
    assert (entry["phone"], entry["ip"]) == (REDACTED_PHONE, REDACTED_IP)
    assert entry["service"] == "identity"


def test_redact_removes_internationalised_email_addresses() -> None:
    from lethe_common.logging import redact

    text = redact("from jürgen.müller@bücher.de and ÅSA@exämple.org")

    assert "jürgen" not in text and "bücher" not in text and "exämple" not in text
    assert text.count("[email]") == 2
