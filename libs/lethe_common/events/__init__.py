"""Events: one envelope, a confirmed publisher, a single-document outbox with
its relay, and a consumer base with retries, dead letters and idempotency."""

from lethe_common.events.envelope import Envelope, EnvelopeError

__all__ = ["Envelope", "EnvelopeError"]
