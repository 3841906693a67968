"""The event envelope: a strict wire format, and the catalogue's payload rules."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from lethe_common.events.catalogue import check_payload
from lethe_common.events.envelope import Envelope, EnvelopeError

KEY = "ab" * 32


def _ping(**overrides: Any) -> Envelope:
    fields: dict[str, Any] = {
        "type": "system.ping",
        "source": "identity",
        "payload": {"ping_id": uuid.uuid4().hex, "note": "hello"},
        "subject_key": KEY,
    }
    fields.update(overrides)
    return Envelope(**fields)


def _wire(**changes: Any) -> dict[str, Any]:
    body = _ping().to_wire()
    body.update(changes)
    return body


def test_wire_round_trip_keeps_every_field() -> None:
    original = _ping(occurred_at=datetime(2026, 11, 21, 12, 20, 46, 123456, tzinfo=UTC))
    assert Envelope.from_wire(original.to_wire()) == original


def test_to_wire_writes_occurred_at_in_utc() -> None:
    berlin = timezone(timedelta(hours=1))
    envelope = _ping(occurred_at=datetime(2026, 11, 21, 13, 0, tzinfo=berlin))
    assert envelope.to_wire()["occurred_at"] == "2026-11-21T12:00:00.000000+00:00"


def test_exchange_is_named_after_the_source() -> None:
    assert _ping(source="shop").exchange == "shop.events"


@pytest.mark.parametrize("body", [None, [], "text", 42])
def test_from_wire_rejects_a_body_that_is_not_an_object(body: Any) -> None:
    with pytest.raises(EnvelopeError, match="not a JSON object"):
        Envelope.from_wire(body)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"id": "not-an-id"}, "id must be"),
        ({"id": uuid.uuid4().hex.upper()}, "id must be"),
        ({"id": 12}, "id must be"),
        ({"type": "Ping"}, "type must be"),
        ({"type": "ping"}, "type must be"),
        ({"source": "Identity"}, "source must be"),
        ({"source": "shop.events"}, "source must be"),
        ({"subject_key": "xyz" * 21 + "x"}, "subject_key must be"),
        ({"subject_key": KEY[:-1]}, "subject_key must be"),
        ({"payload": ["a"]}, "payload must be"),
        ({"payload": None}, "payload must be"),
        ({"payload": {f"k{i}": i for i in range(101)}}, "payload must be"),
        ({"occurred_at": "2026-11-21T12:20:46"}, "time zone"),
        ({"occurred_at": "yesterday"}, "ISO 8601"),
        ({"occurred_at": None}, "ISO 8601"),
        ({"version": 2}, "version must be 1"),
    ],
)
def test_from_wire_rejects_an_invalid_field(changes: dict[str, Any], problem: str) -> None:
    with pytest.raises(EnvelopeError, match=problem):
        Envelope.from_wire(_wire(**changes))


def test_from_wire_accepts_exactly_100_payload_keys() -> None:
    payload = {f"k{i}": i for i in range(100)}
    assert Envelope.from_wire(_wire(payload=payload)).payload == payload


def test_from_wire_names_every_problem_at_once() -> None:
    with pytest.raises(EnvelopeError) as caught:
        Envelope.from_wire(_wire(id="x", source="X", version=3))
    assert "id must be" in str(caught.value)
    assert "source must be" in str(caught.value)
    assert "version must be" in str(caught.value)


@pytest.mark.parametrize("field", ["id", "type", "source", "subject_key"])
def test_from_wire_rejects_a_trailing_newline(field: str) -> None:
    body = _wire()
    body[field] = f"{body[field]}\n"
    with pytest.raises(EnvelopeError):
        Envelope.from_wire(body)


def test_from_wire_rejects_a_boolean_version() -> None:
    with pytest.raises(EnvelopeError, match="version"):
        Envelope.from_wire(_wire(version=True))


def test_constructor_validates_like_the_wire() -> None:
    with pytest.raises(EnvelopeError, match="source must be"):
        _ping(source="Not Valid")


def test_document_round_trip_keeps_occurred_at_as_a_datetime() -> None:
    original = _ping(occurred_at=datetime(2026, 11, 21, 12, 20, 46, 500, tzinfo=UTC))
    document = original.to_document()
    assert document["occurred_at"] == original.occurred_at
    restored = Envelope.from_document(document)
    assert restored == original
    assert restored.occurred_at.tzinfo is not None


def test_document_round_trip_through_the_store(test_db: Any) -> None:
    original = _ping(occurred_at=datetime(2026, 11, 21, 12, 20, 46, 123000, tzinfo=UTC))
    test_db.outbox.insert_one({"_id": original.id, **original.to_document()})
    stored = test_db.outbox.find_one({"_id": original.id}, {"_id": False})
    assert Envelope.from_document(stored) == original


def test_catalogue_accepts_a_valid_ping() -> None:
    check_payload(_ping())


def test_catalogue_rejects_an_unknown_type() -> None:
    with pytest.raises(EnvelopeError, match="unknown event type"):
        check_payload(_ping(type="system.pong"))


def test_catalogue_rejects_a_source_not_allowed() -> None:
    with pytest.raises(EnvelopeError, match="may not send"):
        check_payload(_ping(source="billing"))


@pytest.mark.parametrize(
    "payload", [{"note": "hello"}, {"ping_id": 7, "note": "hello"}, {"ping_id": "abc", "note": None}]
)
def test_catalogue_rejects_a_missing_or_mistyped_field(payload: dict[str, Any]) -> None:
    with pytest.raises(EnvelopeError, match="payload field"):
        check_payload(_ping(payload=payload))
