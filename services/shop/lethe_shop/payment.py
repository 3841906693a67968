"""Payment through a provider: the interface the shop needs, and the sandbox's client.

The customer's browser gives the card to the provider and the shop a token for
it; the shop charges the token and keeps only the provider's charge reference
and its status. A charge's idempotency key is the order id, so charging the
same order again (a retried request) can never charge twice. Each payment attempt
under a customer's Idempotency-Key is an order id of its own (``checkout.order_id_for``),
so an attempt after a declined one is a new charge, never the decline replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Protocol

from lethe_shop.http_json import ProviderUnavailable, call, error_code

__all__ = [
    "BadNotification",
    "Charge",
    "InvalidPaymentToken",
    "PaymentDeclined",
    "PaymentProvider",
    "ProviderUnavailable",
    "SandboxProvider",
]

_CHARGE_ID = re.compile(r"ch_[0-9a-f]{24}")
_TOKEN = re.compile(r"tok_[0-9a-f]{24}")
NOTIFICATION_TOLERANCE_SECONDS = 300
CHARGE_STATUSES = ("pending", "succeeded", "failed", "refunded")


class PaymentDeclined(Exception):
    """The provider declined the payment method."""


class InvalidPaymentToken(Exception):
    """The token is not the provider's, or was used already."""


class BadNotification(Exception):
    """A notification that is not signed by the provider, too old, or not understood."""


@dataclass(frozen=True)
class Charge:
    reference: str
    status: str
    order_id: str = ""


class PaymentProvider(Protocol):
    name: str

    def check_token(self, token: str) -> None:
        """Raise InvalidPaymentToken for what cannot be a token of this provider (checked
        before any order is written, so that only the provider's answer voids one)."""

    def charge(
        self, token: str, amount_cents: int, currency: str, order_id: str, notify_url: str
    ) -> Charge: ...

    def refund(self, reference: str, order_id: str) -> Charge: ...

    def notification(self, body: bytes, signature: str) -> Charge: ...


class SandboxProvider:
    """The client of ``tools/fakes/payment_sandbox.py``, shaped like a card provider's API."""

    name = "sandbox"

    def __init__(self, url: str, api_key: str, webhook_secret: str, timeout: float) -> None:
        self._url = url
        self._api_key = api_key
        self._secret = webhook_secret.encode()
        self._timeout = timeout

    def check_token(self, token: str) -> None:
        if not _TOKEN.fullmatch(token):
            raise InvalidPaymentToken("not a token of this provider")

    def charge(self, token: str, amount_cents: int, currency: str, order_id: str, notify_url: str) -> Charge:
        self.check_token(token)
        status, answer = call(
            "POST",
            f"{self._url}/v1/charges",
            self._api_key,
            self._timeout,
            {
                "token": token,
                "amount": amount_cents,
                "currency": currency,
                "reference": order_id,
                "notify_url": notify_url,
            },
            idempotency_key=f"charge-{order_id}",
        )
        if status == 402:
            raise PaymentDeclined(error_code(answer) or "declined")
        if status in (401, 403):  # our API key: a configuration fault, not the customer's
            raise ProviderUnavailable("the provider refused our API key")
        if status != 201:
            raise InvalidPaymentToken(error_code(answer) or f"status {status}")
        return self._charge_of(answer)

    def refund(self, reference: str, order_id: str) -> Charge:
        status, answer = call(
            "POST",
            f"{self._url}/v1/charges/{reference}/refunds",
            self._api_key,
            self._timeout,
            {},
            idempotency_key=f"refund-{order_id}",
        )
        if status not in (200, 201):
            raise ProviderUnavailable(f"the refund was not taken ({error_code(answer)})")
        return self._charge_of(answer)

    def notification(self, body: bytes, signature: str) -> Charge:
        """The charge a signed notification reports; BadNotification unless it is genuine."""
        parts = dict(p.split("=", 1) for p in signature.split(",") if "=" in p)
        sent_at, mac = parts.get("t", ""), parts.get("v1", "")
        if not sent_at.isdigit() or abs(time.time() - int(sent_at)) > NOTIFICATION_TOLERANCE_SECONDS:
            raise BadNotification("the notification's time is missing or too far off")
        expected = hmac.new(self._secret, sent_at.encode() + b"." + body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac.encode(), expected.encode()):
            raise BadNotification("the notification's signature does not match")
        try:
            charge = json.loads(body)["charge"]
        except (ValueError, KeyError, TypeError):
            raise BadNotification("the notification is not understood") from None
        if not isinstance(charge, dict):
            raise BadNotification("the notification is not understood")
        return self._charge_of(charge)

    @staticmethod
    def _charge_of(answer: dict[str, object]) -> Charge:
        reference, status = str(answer.get("id", "")), str(answer.get("status", ""))
        if not _CHARGE_ID.fullmatch(reference) or status not in CHARGE_STATUSES:
            raise BadNotification("the provider's charge is not understood")
        return Charge(reference, status, str(answer.get("reference", "")))
