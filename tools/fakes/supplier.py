"""A supplier's delivery API, on 127.0.0.1:$LETHE_SUPPLIER_PORT (8091).

- ``POST /v1/deliveries`` (``Authorization: Bearer $SHOP_SUPPLIER_API_KEY``,
  ``Idempotency-Key``) {reference, recipient: {name, company, street, extra,
  postcode, city, country}, items: [{sku, name, quantity}]}: 201 accepted.
- ``GET /v1/deliveries/{reference}``: the delivery exactly as it was received,
  so a test can see what left Lethe.
"""

from __future__ import annotations

import os
import re
import secrets
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import unquote

sys.path.insert(0, str(Path(__file__).resolve().parent))
from jsonhttp import Idempotency, JsonHandler, serve

REQUIRED = ("name", "street", "postcode", "city", "country")
RECEIVED: dict[str, dict[str, Any]] = {}
LOCK = threading.Lock()
IDEMPOTENCY = Idempotency()


def problem(body: dict[str, Any]) -> str:
    recipient, items = body.get("recipient"), body.get("items")
    if not isinstance(body.get("reference"), str) or not body["reference"]:
        return "reference is required"
    if not isinstance(recipient, dict) or not all(recipient.get(f) for f in REQUIRED):
        return f"recipient needs {', '.join(REQUIRED)}"
    if (
        not isinstance(items, list)
        or not items
        or not all(isinstance(i, dict) and isinstance(i.get("quantity"), int) for i in items)
    ):
        return "items are required"
    return ""


class Handler(JsonHandler):
    api_key = os.environ.get("SHOP_SUPPLIER_API_KEY", "")

    def do_GET(self) -> None:  # noqa: N802
        match = re.fullmatch(r"/v1/deliveries/([^/]{1,64})", self.path)
        if not match or not self.authorised():
            if not match:
                self.error(404, "not_found", "no such resource")
            return
        delivery = RECEIVED.get(unquote(match.group(1)))
        if delivery is None:
            self.error(404, "not_found", "no such delivery")
        else:
            self.answer(200, delivery)

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/v1/deliveries":
            self.error(404, "not_found", "no such resource")
            return
        if not self.authorised():
            return
        body = self.body()
        if body is None:
            return
        wrong = problem(body)
        if wrong:
            self.error(422, "invalid_delivery", wrong)
            return
        key = self.headers.get("Idempotency-Key", "")
        with LOCK:
            remembered = IDEMPOTENCY.get(key)
            if remembered is None:
                RECEIVED[body["reference"]] = body
                remembered = (
                    201,
                    {
                        "id": f"dl_{secrets.token_hex(12)}",
                        "status": "accepted",
                        "reference": body["reference"],
                    },
                )
                IDEMPOTENCY.put(key, *remembered)
        self.answer(*remembered)


if __name__ == "__main__":
    serve(Handler, int(os.environ.get("LETHE_SUPPLIER_PORT", "8091")))
