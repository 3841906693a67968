"""A payment provider's sandbox (test mode), on 127.0.0.1:$LETHE_PAYMENT_PORT (8090).

Shaped like a real card provider's API, so the shop talks to it as it would
in production:

- ``POST /v1/tokens`` {card: {number, exp_month, exp_year, cvc}}: the client
  (browser) sends the card here, never to Lethe, and gets a single-use token.
- ``GET /v1/checkout?return_url=&amount=&currency=&reference=``: the provider's hosted
  card page (HTML, on this origin). Its form posts the card to ``POST /v1/checkout`` here,
  which makes a token as ``/v1/tokens`` does and sends the browser back (303) to
  ``return_url`` with ``payment_token=tok_...`` added (``payment_cancelled=1`` if the
  person cancels). ``return_url`` must be on an origin of ``$SANDBOX_RETURN_ORIGINS``
  (comma-separated, a port may be ``*``; default ``http://127.0.0.1:*,http://localhost:*``),
  as a real provider allows only the merchant's registered addresses.
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
import html
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jsonhttp import MAX_BODY, Idempotency, JsonHandler, serve

DECLINED_CARD = "4000000000000002"
NOTIFY_DELAY = float(os.environ.get("SANDBOX_NOTIFY_DELAY_SECONDS", "0.2"))
WEBHOOK_SECRET = os.environ.get("SHOP_PAYMENT_WEBHOOK_SECRET", "")
_CURRENCY = re.compile(r"[A-Z]{3}")
RETURN_ORIGINS = [
    o.strip()
    for o in os.environ.get("SANDBOX_RETURN_ORIGINS", "http://127.0.0.1:*,http://localhost:*").split(",")
    if o.strip()
]


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


def card_token(card: dict[str, Any]) -> dict[str, Any] | None:
    """A single-use token for a valid card number, or None."""
    number = re.sub(r"[ -]", "", str(card.get("number", "")))
    if not (number.isdigit() and 12 <= len(number) <= 19 and luhn_ok(number)):
        return None
    token = f"tok_{secrets.token_hex(12)}"
    with LEDGER.lock:
        LEDGER.tokens[token] = {"number": number, "used": False}
    return {"id": token, "card": {"last4": number[-4:]}}


def return_origin(url: str) -> str | None:
    """The origin of ``url`` if it is one the merchant registered (SANDBOX_RETURN_ORIGINS)."""
    default_ports = {"http": 80, "https": 443}
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port or default_ports.get(parts.scheme, 0)
    except ValueError:
        return None
    if parts.scheme not in default_ports or not parts.hostname or parts.username or parts.password:
        return None
    for allowed in RETURN_ORIGINS:
        scheme, _, rest = allowed.partition("://")
        host, colon, allowed_port = rest.partition(":")
        allowed_port = allowed_port if colon else str(default_ports.get(scheme, 0))
        if (scheme, host.lower()) == (parts.scheme, parts.hostname.lower()) and allowed_port in (
            "*",
            str(port),
        ):
            return f"{parts.scheme}://{parts.netloc}"
    return None


def with_query(url: str, **values: str) -> str:
    return url + ("&" if "?" in url else "?") + urllib.parse.urlencode(values)


CARD_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sandbox payment</title></head>
<body>
<main>
<h1>Pay {amount} {currency}</h1>
<p>Payment provider sandbox. Reference: {reference}. Your card goes to the provider only.</p>
{error}
<form method="post" action="/v1/checkout">
<input type="hidden" name="return_url" value="{return_url}">
<input type="hidden" name="amount" value="{amount_raw}">
<input type="hidden" name="currency" value="{currency}">
<input type="hidden" name="reference" value="{reference}">
<p><label for="number">Card number</label><br>
<input id="number" name="number" inputmode="numeric" autocomplete="cc-number" required{invalid}></p>
<p><label for="exp_month">Expiry month</label><br>
<input id="exp_month" name="exp_month" inputmode="numeric" autocomplete="cc-exp-month" required></p>
<p><label for="exp_year">Expiry year</label><br>
<input id="exp_year" name="exp_year" inputmode="numeric" autocomplete="cc-exp-year" required></p>
<p><label for="cvc">Security code</label><br>
<input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" required></p>
<p><button type="submit">Pay</button></p>
</form>
<p><a href="{cancel_url}">Cancel and go back to the shop</a></p>
</main>
</body>
</html>
"""


class Handler(JsonHandler):
    api_key = os.environ.get("SHOP_PAYMENT_API_KEY", "")

    def do_GET(self) -> None:  # noqa: N802
        path, _, query = self.path.partition("?")
        if path == "/v1/checkout":
            values = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
            self.card_page(values, "", 200)
            return
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
        elif self.path == "/v1/checkout":
            self.checkout()
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
        token = card_token(card if isinstance(card, dict) else {})
        if token is None:
            self.error(400, "invalid_card", "the card number is not valid")
            return
        self.answer(201, token)

    def card_page(self, values: dict[str, str], error: str, status: int) -> None:
        """The hosted card form; only for a registered return address."""
        return_url = values.get("return_url", "")
        origin = return_origin(return_url)
        amount = values.get("amount", "")
        currency = values.get("currency", "")
        if origin is None:
            self.page(400, "<p>The shop's return address is not registered with the provider.</p>", "")
            return
        if not (amount.isdigit() and int(amount) > 0 and _CURRENCY.fullmatch(currency)):
            self.page(400, "<p>The amount or the currency is missing.</p>", "")
            return
        e = html.escape
        body = CARD_PAGE.format(
            amount=e(f"{int(amount) // 100}.{int(amount) % 100:02d}"),
            amount_raw=e(amount),
            currency=e(currency),
            reference=e(values.get("reference", "")[:64]),
            return_url=e(return_url),
            cancel_url=e(with_query(return_url, payment_cancelled="1")),
            error=f'<p role="alert" id="number-error">{e(error)}</p>' if error else "",
            invalid=' aria-invalid="true" aria-describedby="number-error"' if error else "",
        )
        self.page(status, body, origin)

    def page(self, status: int, body: str, return_origin: str) -> None:
        if not body.startswith("<!doctype"):
            body = f'<!doctype html><html lang="en"><meta charset="utf-8"><title>Sandbox</title>{body}</html>'
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Content-Type-Options", "nosniff")
        # the card form posts here; its answer redirects to the shop, which form-action governs too
        policy = f"default-src 'none'; form-action 'self' {return_origin}; frame-ancestors 'none'"
        self.send_header("Content-Security-Policy", policy + "; base-uri 'none'")
        self.end_headers()
        self.wfile.write(data)

    def checkout(self) -> None:
        """The card form's post: a token, and the browser back to the shop (303)."""
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self.page(413, "<p>The form is too large.</p>", "")
            return
        raw = self.rfile.read(length).decode("utf-8", "replace")
        values = {k: v[0] for k, v in urllib.parse.parse_qs(raw).items()}
        return_url = values.get("return_url", "")
        if return_origin(return_url) is None:
            self.page(400, "<p>The shop's return address is not registered with the provider.</p>", "")
            return
        token = card_token({"number": values.get("number", "")})
        if token is None:
            self.card_page(values, "The card number is not valid.", 400)
            return
        self.send_response(303)
        self.send_header("Location", with_query(return_url, payment_token=token["id"]))
        self.send_header("Content-Length", "0")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()

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
