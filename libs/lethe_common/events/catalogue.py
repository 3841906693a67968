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


ALL_SERVICES = ("identity", "consent", "shop", "newsletter", "analytics", "gateway")

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
            name="account.email_changed",
            sources=("identity",),
            payload={"account_id": str, "old_subject_key": str, "new_subject_key": str},
            description="A person verified a new e-mail address for their account. Keys only, "
            "never an address: what a service holds under the old key is the same person's "
            "(privacy requests name every key the account held).",
        ),
        EventType(
            name="account.portal_access_changed",
            sources=("identity",),
            payload={"account_id": str, "status": str, "organisation_id": str},
            description="Portal access was requested, approved or rejected "
            "(status pending, approved or rejected).",
        ),
        EventType(
            name="consent.granted",
            sources=("consent",),
            payload={"record_id": str, "account_id": str, "purpose": str, "version": str, "channel": str},
            description="A person agreed to the consent text of one purpose and version.",
        ),
        EventType(
            name="consent.withdrawn",
            sources=("consent",),
            payload={"record_id": str, "account_id": str, "purpose": str, "channel": str, "reason": str},
            description="A person withdrew (or refused) a consent; it takes effect for the "
            "future at once, in every service.",
        ),
        EventType(
            name="newsletter.confirmation_requested",
            sources=("newsletter",),
            payload={"subscriber_id": str},
            description="Someone asked to subscribe (or to subscribe again): the newsletter "
            "worker mails the double opt-in link. Internal to the newsletter "
            "service; the address is never in the event.",
        ),
        EventType(
            name="order.placed",
            sources=("shop",),
            payload={"order_id": str, "account_id": str, "currency": str, "gross_cents": int},
            description="A customer placed an order and the payment provider took the charge "
            "(pending). No address and no payment details in the event.",
        ),
        EventType(
            name="order.paid",
            sources=("shop",),
            payload={"order_id": str, "account_id": str},
            description="The provider confirmed an order's payment: the shop worker hands "
            "physical goods to the supplier and grants downloads. Internal to the "
            "shop service.",
        ),
        EventType(
            name="order.completed",
            sources=("shop",),
            payload={"order_id": str, "account_id": str},
            description="An order was completed: it is blocked from now on and kept only for "
            "the statutory retention period. The last event about the order.",
        ),
        EventType(
            name="privacy.erasure_requested",
            sources=("consent",),
            payload={"request_id": str, "account_id": str},
            description="A person asked to be forgotten: every data-holding service purges or "
            "blocks their data and sends a privacy.receipt.",
        ),
        EventType(
            name="privacy.restriction_changed",
            sources=("consent",),
            payload={"request_id": str, "account_id": str, "restricted": bool},
            description="A person restricted processing of their data (Art. 18) or lifted it.",
        ),
        EventType(
            name="privacy.receipt",
            sources=ALL_SERVICES,
            payload={
                "request_id": str,
                "kind": str,
                "outcome": str,
                "deleted": list,
                "blocked": list,
                "blocked_until": str,
                "kept": list,
                "note": str,
            },
            description="One service's answer to an erasure or restriction: what it deleted, "
            "blocked until when, and kept and why.",
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
