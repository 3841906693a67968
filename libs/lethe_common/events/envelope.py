"""The one envelope every Lethe event travels in.

Its JSON schema is ``protos/events/envelope.schema.json``; the catalogue of
event types is :mod:`lethe_common.events.catalogue`. On the wire the envelope
is the whole JSON body of an AMQP message published to the topic exchange
``<source>.events`` with the routing key ``<type>`` (nameko's conventions).
Envelopes carry ``subject_key``, never an e-mail address in clear.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SCHEMA_VERSION = 1
_NAME_RE = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+")
_SOURCE_RE = re.compile(r"[a-z][a-z0-9_]*")
_ID_RE = re.compile(r"[0-9a-f]{32}")
_SUBJECT_RE = re.compile(r"(?:[0-9a-f]{64})?")
MAX_PAYLOAD_KEYS = 100
FIELDS = frozenset({"id", "type", "source", "occurred_at", "subject_key", "payload", "version"})


class EnvelopeError(ValueError):
    """A message from the bus is not a valid envelope."""


def _now() -> datetime:
    """Now, to the millisecond: what BSON stores, so an envelope read back from an
    outbox is identical to the one published straight away."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True)
class Envelope:
    """One event: what happened (type), where (source), to whom (subject_key)."""

    type: str
    source: str
    payload: dict[str, Any] = field(default_factory=dict)
    subject_key: str = ""
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    occurred_at: datetime = field(default_factory=_now)
    version: int = SCHEMA_VERSION

    @property
    def exchange(self) -> str:
        return f"{self.source}.events"

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready body published on the bus."""
        return {
            "id": self.id,
            "type": self.type,
            "source": self.source,
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "subject_key": self.subject_key,
            "payload": self.payload,
            "version": self.version,
        }

    def to_document(self) -> dict[str, Any]:
        """The form stored in an outbox (datetime kept as a BSON date)."""
        wire = self.to_wire()
        wire["occurred_at"] = self.occurred_at
        return wire

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> Envelope:
        wire = dict(doc)
        occurred = wire.get("occurred_at")
        if isinstance(occurred, datetime):
            wire["occurred_at"] = occurred.astimezone(UTC).isoformat()
        return cls.from_wire(wire)

    @classmethod
    def from_wire(cls, body: Any) -> Envelope:
        """Validate a body from the bus; raise :class:`EnvelopeError` if it is not one."""
        if not isinstance(body, dict):
            raise EnvelopeError("body is not a JSON object")
        problems = _wire_problems(body)
        if problems:
            raise EnvelopeError("; ".join(problems))
        return cls(
            id=body["id"],
            type=body["type"],
            source=body["source"],
            occurred_at=datetime.fromisoformat(body["occurred_at"]),
            subject_key=body.get("subject_key", ""),
            payload=body["payload"],
            version=body.get("version", SCHEMA_VERSION),
        )

    def __post_init__(self) -> None:
        problems = _wire_problems(
            {
                "id": self.id,
                "type": self.type,
                "source": self.source,
                "occurred_at": "ok",
                "subject_key": self.subject_key,
                "payload": self.payload,
                "version": self.version,
            },
            check_time=False,
        )
        if problems:
            raise EnvelopeError("; ".join(problems))


def _wire_problems(body: dict[str, Any], *, check_time: bool = True) -> list[str]:
    problems = []
    if not isinstance(body.get("id"), str) or not _ID_RE.fullmatch(body["id"]):
        problems.append("id must be 32 lower-case hex digits")
    if not isinstance(body.get("type"), str) or not _NAME_RE.fullmatch(body["type"]):
        problems.append("type must be dotted lower-case words")
    if not isinstance(body.get("source"), str) or not _SOURCE_RE.fullmatch(body["source"]):
        problems.append("source must be a lower-case word")
    if not isinstance(body.get("subject_key", ""), str) or not _SUBJECT_RE.fullmatch(
        body.get("subject_key", "")
    ):
        problems.append("subject_key must be empty or 64 hex digits")
    payload = body.get("payload")
    if not isinstance(payload, dict) or len(payload) > MAX_PAYLOAD_KEYS:
        problems.append("payload must be an object of at most 100 keys")
    version = body.get("version", SCHEMA_VERSION)
    if type(version) is not int or version != SCHEMA_VERSION:
        problems.append(f"version must be {SCHEMA_VERSION}")
    unknown = set(body) - FIELDS
    if unknown:
        problems.append(f"unknown fields: {', '.join(sorted(unknown))}")
    if check_time:
        try:
            parsed = datetime.fromisoformat(str(body.get("occurred_at")))
            if parsed.tzinfo is None:
                problems.append("occurred_at must carry a time zone")
        except ValueError:
            problems.append("occurred_at must be an ISO 8601 time")
    return problems
