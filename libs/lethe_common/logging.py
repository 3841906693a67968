"""JSON logs on stdout that never carry personal data.

Redaction happens in the formatter, on the message, on every string of the
record's extra fields and on exception text, so no call site can forget it.
E-mail addresses, phone numbers and IP addresses are replaced by a marker.
Loopback and unspecified addresses are kept: they identify no one and make
bind addresses readable.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import sys
import time
from typing import Any

# \w is Unicode-aware: internationalised addresses (jürgen@bücher.de) match too.
EMAIL_RE = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# International (+49 / 0049) or national (leading 0) numbers with at least
# seven digits; ISO dates and plain ids (no leading 0 or +) do not match.
PHONE_RE = re.compile(
    r"(?<![\w+.-])(?!\d{2}\.\d{2}\.\d{4}(?!\d))(?:(?:\+|00)\d{1,3}|0\d{1,5}|\(0\d{1,5}\))"
    r"(?:[ \-/.]?\(?\d{1,6}\)?){2,6}(?![\w:.-]*\w)"
)
IPV4_RE = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.]*\d)")
# Hex groups with colons, optionally ending in an embedded IPv4 address
# (::ffff:203.0.113.7); candidates are confirmed by the ipaddress module.
IPV6_CANDIDATE_RE = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4})"
    r"(?:%\w+)?(?![\w:.]*\w)"
)

REDACTED_EMAIL = "[email]"
REDACTED_PHONE = "[phone]"
REDACTED_IP = "[ip]"

_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",
}


def _ip_replacement(match: re.Match[str]) -> str:
    text = match.group(0)
    try:
        address = ipaddress.ip_address(text.split("%")[0])
    except ValueError:
        return text
    if address.is_loopback or address.is_unspecified:
        return text
    return REDACTED_IP


def _phone_replacement(match: re.Match[str]) -> str:
    digits = sum(ch.isdigit() for ch in match.group(0))
    return REDACTED_PHONE if digits >= 7 else match.group(0)


def redact(text: str) -> str:
    """Replace e-mail addresses, phone numbers and IP addresses in ``text``."""
    text = EMAIL_RE.sub(REDACTED_EMAIL, text)
    text = IPV6_CANDIDATE_RE.sub(_ip_replacement, text)
    text = IPV4_RE.sub(_ip_replacement, text)
    return PHONE_RE.sub(_phone_replacement, text)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact(str(key)): _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(item) for item in value]
    if isinstance(value, int | float | bool) or value is None:
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, extras."""

    def __init__(self, service: str, process_kind: str) -> None:
        super().__init__()
        self._service = service
        self._process_kind = process_kind

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self._service,
            "process": self._process_kind,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = _redact_value(value)
        if record.exc_info:
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, process_kind: str, level: str = "INFO") -> None:
    """Route every logger of the process to redacted JSON on stdout."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service, process_kind))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("amqp", "kombu", "pymongo", "urllib3", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
