"""The event catalogue: every event type, who sends it, what its payload holds.

A publisher may only send, and a consumer only subscribe to, types listed
here; ``docs/events.md`` describes them for people. Payload fields are named
with their JSON type so a consumer can check a body before trusting it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lethe_common.events.envelope import Envelope, EnvelopeError


@dataclass(frozen=True)
class EventType:
    name: str
    sources: tuple[str, ...]
    payload: dict[str, type]
    description: str


ALL_SERVICES = ("identity", "consent", "shop", "newsletter", "gateway")

CATALOGUE: dict[str, EventType] = {
    event.name: event
    for event in (
        EventType(
            name="system.ping",
            sources=ALL_SERVICES,
            payload={"ping_id": str, "note": str},
            description="Diagnostic round trip: every worker records that it saw the ping.",
        ),
        EventType(
            name="account.verified",
            sources=("identity",),
            payload={"account_id": str, "account_consent_version": str},
            description="An account's e-mail address was verified for the first time; the "
                        "person agreed to the account consent text of that version.",
        ),
        EventType(
            name="account.portal_access_changed",
            sources=("identity",),
            payload={"account_id": str, "status": str, "organisation_id": str},
            description="Portal access was requested, approved or rejected "
                        "(status pending, approved or rejected).",
        ),
    )
}


def check_payload(envelope: Envelope) -> None:
    """Raise :class:`EnvelopeError` unless the envelope fits its catalogue entry."""
    entry = CATALOGUE.get(envelope.type)
    if entry is None:
        raise EnvelopeError(f"unknown event type {envelope.type!r}")
    if envelope.source not in entry.sources:
        raise EnvelopeError(f"{envelope.source!r} may not send {envelope.type!r}")
    for name, kind in entry.payload.items():
        value: Any = envelope.payload.get(name)
        if not isinstance(value, kind):
            raise EnvelopeError(f"payload field {name!r} must be a {kind.__name__}")
