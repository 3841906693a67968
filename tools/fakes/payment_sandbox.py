"""A payment provider's sandbox (test mode), on 127.0.0.1:$LETHE_PAYMENT_PORT (8090).

Shaped like a real card provider's API, so the shop talks to it as it would
in production:

- ``POST /v1/tokens`` {card: {number, exp_month, exp_year, cvc}}: the client
  (browser) sends the card here, never to Lethe, and gets a single-use token.
- ``POST /v1/charges`` (``Authorization: Bearer $SHOP_PAYMENT_API_KEY``,
  ``Idempotency-Key``) {token, amount, currency, reference, notify_url}: 201
  with the charge ``pending``; 402 ``card_declined`` for the test card
  4000 0000 0000 0002; 400 ``invalid_token`` for an unknown or used token. A
  moment later the sandbox POSTs ``charge.succeeded`` to ``notify_url``, signed
  ``Sandbox-Signature: t=<unix time>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``
  with ``$SHOP_PAYMENT_WEBHOOK_SECRET``, retrying with back-off until answered 2xx.
- ``GET /v1/charges/{id}``: one charge (for reconciliation).
- ``POST /v1/charges/{id}/refunds``: refund it in full (the charge becomes ``refunded``).

Card numbers stay in this process's memory only.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jsonhttp import Idempotency, JsonHandler, serve

DECLINED_CARD = "4000000000000002"
NOTIFY_DELAY = float(os.environ.get("SANDBOX_NOTIFY_DELAY_SECONDS", "0.2"))
WEBHOOK_SECRET = os.environ.get("SHOP_PAYMENT_WEBHOOK_SECRET", "")
_CURRENCY = re.compile(r"[A-Z]{3}")


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


class Ledger:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens: dict[str, dict[str, Any]] = {}
        self.charges: dict[str, dict[str, Any]] = {}


LEDGER = Ledger()
IDEMPOTENCY = Idempotency()


def signature(body: bytes, at: int) -> str:
    mac = hmac.new(WEBHOOK_SECRET.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


def notify(url: str, charge: dict[str, Any]) -> None:
    """Deliver ``charge.<status>`` to the merchant, as providers do: retried until 2xx."""
    body = json.dumps({"type": f"charge.{charge['status']}", "charge": charge}).encode()
    delay = 0.0
    for _ in range(8):
        time.sleep(delay)
        headers = {
            "Content-Type": "application/json",
            "Sandbox-Signature": signature(body, int(time.time())),
        }
        request = urllib.request.Request(url, data=body, method="POST", headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - loopback
                if 200 <= response.status < 300:
                    return
        except OSError:
            pass
        delay = min(delay * 2 + 0.5, 30.0)  # 0.5, 1.5, 3.5 ... seconds


def settle(charge_id: str, url: str) -> None:
    time.sleep(NOTIFY_DELAY)
    with LEDGER.lock:
        charge = LEDGER.charges[charge_id]
        if charge["status"] == "pending":
            charge["status"] = "succeeded"
        snapshot = dict(charge)
    if url:
        notify(url, snapshot)


class Handler(JsonHandler):
    api_key = os.environ.get("SHOP_PAYMENT_API_KEY", "")

    def do_GET(self) -> None:  # noqa: N802
        match = re.fullmatch(r"/v1/charges/(ch_[0-9a-f]{24})", self.path)
        if not match:
            self.error(404, "not_found", "no such resource")
            return
        if not self.authorised():
            return
        charge = LEDGER.charges.get(match.group(1))
        if charge is None:
            self.error(404, "not_found", "no such charge")
        else:
            self.answer(200, charge)

    def do_POST(self) -> None:  # noqa: N802
        if self.path == "/v1/tokens":
            self.create_token()
        elif self.path == "/v1/charges":
            if self.authorised():
                self.create_charge()
        elif re.fullmatch(r"/v1/charges/ch_[0-9a-f]{24}/refunds", self.path):
            if self.authorised():
                self.refund(self.path.split("/")[3])
        else:
            self.error(404, "not_found", "no such resource")

    def create_token(self) -> None:
        body = self.body()
        if body is None:
            return
        card = body.get("card")
        card = card if isinstance(card, dict) else {}
        number = re.sub(r"[ -]", "", str(card.get("number", "")))
        if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
            self.error(400, "invalid_card", "the card number is not valid")
            return
        token = f"tok_{secrets.token_hex(12)}"
        with LEDGER.lock:
            LEDGER.tokens[token] = {"number": number, "used": False}
        self.answer(201, {"id": token, "card": {"last4": number[-4:]}})

    def create_charge(self) -> None:
        body = self.body()
        if body is None:
            return
        key = self.headers.get("Idempotency-Key", "")
        with IDEMPOTENCY.lock():
            remembered = IDEMPOTENCY.get(key)
            if remembered:
                self.answer(*remembered)
                return
            status, answer = self.charge(body)
            IDEMPOTENCY.put(key, status, answer)
        self.answer(status, answer)
        if status == 201:
            threading.Thread(
                target=settle, args=(answer["id"], str(body.get("notify_url", ""))), daemon=True
            ).start()

    def refund(self, charge_id: str) -> None:
        with LEDGER.lock:
            charge = LEDGER.charges.get(charge_id)
            if charge is not None and charge["status"] in ("pending", "succeeded", "refunded"):
                charge["status"] = "refunded"
                answer = dict(charge)
        if charge is None:
            self.error(404, "not_found", "no such charge")
        elif charge["status"] != "refunded":
            self.error(409, "not_refundable", "the charge cannot be refunded")
        else:
            self.answer(201, answer)

    def charge(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        amount, currency = body.get("amount"), str(body.get("currency", ""))
        if not isinstance(amount, int) or amount <= 0 or not _CURRENCY.fullmatch(currency):
            return 400, {
                "error": {"code": "invalid_request", "message": "amount (cents) and currency are required"}
            }
        with LEDGER.lock:
            token = LEDGER.tokens.get(str(body.get("token", "")))
            if token is None or token["used"]:
                return 400, {
                    "error": {"code": "invalid_token", "message": "the token is unknown or was used"}
                }
            token["used"] = True
            if token["number"] == DECLINED_CARD:
                return 402, {"error": {"code": "card_declined", "message": "the card was declined"}}
            charge = {
                "id": f"ch_{secrets.token_hex(12)}",
                "status": "pending",
                "amount": amount,
                "currency": currency,
                "reference": str(body.get("reference", ""))[:64],
            }
            LEDGER.charges[str(charge["id"])] = charge
            return 201, dict(charge)


if __name__ == "__main__":
    serve(Handler, int(os.environ.get("LETHE_PAYMENT_PORT", "8090")))
