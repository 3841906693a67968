"""What a customer's Idempotency-Key has named: its payment attempts (plain functions).

The key names one order the customer means to place. Each try to pay for it is an
*attempt* with an order of its own (``checkout.order_id_for(account, key, n)``; the first
attempt's id is the key's order id of old), charged at the provider under
``charge-<that order id>``. The key's step log (``order_keys``,
``<account id>/<key hash>/<n>``, appended by unique insert) holds:

- ``attempt``: attempt ``n`` begins, with its order id and the fingerprint of the token
  it began with (never the token itself);
- ``declined``: the provider declined that attempt's charge (or refused its token), its
  order was voided and is being removed; the attempt holds nothing any more.

The *current* attempt is the last one, unless it was declined. While there is one, every
request with the key goes to its order: a network retry, a retry with another token after
the provider did not answer (charged under the same provider key, so whatever the
provider did first stands), and every request once the order is charged (answered with
that order). A new attempt begins only after the last one was declined, so at most one
attempt of a key can ever take money, whatever runs at once in any replica. A request
with the token a declined attempt began with is refused again without a new attempt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from lethe_common.errors import DomainError, FailedPrecondition, InvalidArgument
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_shop.checkout import order_id_for

ATTEMPT, DECLINED = "attempt", "declined"
CARD_DECLINED, INVALID_TOKEN = "declined", "invalid_token"


@dataclass(frozen=True)
class KeyState:
    """The key's attempts, first to last, and the order ids of the declined ones (with why)."""

    attempts: tuple[Document, ...] = ()
    declined: Mapping[str, str] = field(default_factory=dict)

    @property
    def current(self) -> str:
        """The order id of the attempt still going on (or charged), or ""."""
        if not self.attempts or self.attempts[-1]["order_id"] in self.declined:
            return ""
        return str(self.attempts[-1]["order_id"])

    def refused_token(self, token: str) -> str:
        """Why the attempt that began with ``token`` (a fingerprint) was declined, or ""."""
        for attempt in self.attempts:
            if attempt["token_fingerprint"] == token and attempt["order_id"] in self.declined:
                return self.declined[attempt["order_id"]]
        return ""


def key_state(steps: list[Document]) -> KeyState:
    attempts = tuple(s for s in steps if s.get("kind") == ATTEMPT)
    declined = {
        str(s["order_id"]): str(s.get("reason") or CARD_DECLINED) for s in steps if s.get("kind") == DECLINED
    }
    return KeyState(attempts, declined)


def refusal(reason: str) -> DomainError:
    """What the customer is told about a declined attempt."""
    if reason == INVALID_TOKEN:
        return InvalidArgument(
            "the payment token is not valid or was used already; get a new one from the payment provider"
        )
    return FailedPrecondition("the payment was declined; no order was placed", reason="payment_declined")


def attempt_step(
    state: KeyState, account_id: str, idempotency_key: str, token: str, now: datetime
) -> Step | None:
    """None while an attempt is current (the request goes to its order); else the next
    attempt. The token of a declined attempt is refused again (raised)."""
    if state.current:
        return None
    reason = state.refused_token(token)
    if reason:
        raise refusal(reason)
    number = len(state.attempts)
    return Step(
        {
            "kind": ATTEMPT,
            "attempt": number,
            "order_id": order_id_for(account_id, idempotency_key, number),
            "token_fingerprint": token,
            "at": now,
        }
    )


def declined_step(state: KeyState, order_id: str, reason: str, now: datetime) -> Step | None:
    """The current attempt's order was voided: the key holds nothing any more (once)."""
    if state.current != order_id:
        return None
    return Step({"kind": DECLINED, "order_id": order_id, "reason": reason, "at": now})
