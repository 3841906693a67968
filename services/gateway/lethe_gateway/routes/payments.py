"""The payment provider's notifications (its webhook).

The provider calls this with no session and no CSRF token: its credential is
the signature over the body, which only the shop can check (it holds the
secret). The gateway passes body and signature through unread. Its size limit is its
own, whatever the gateway's default (``LETHE_GATEWAY_MAX_BODY_BYTES``): the body-limit
middleware refuses a larger body before it is read (``routes.body_limits``).
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from lethe.shop.v1 import shop_pb2 as pb
from lethe_gateway.deps import rpc_timeout, shop
from lethe_gateway.schemas import Accepted

router = APIRouter(tags=["payments"])
MAX_NOTIFICATION_BYTES = 64 * 1024
TOO_LARGE = "a payment notification is never this large"


@router.post("/payments/notifications", response_model=Accepted)
async def payment_notification(request: Request) -> Accepted:
    body = await request.body()
    if len(body) > MAX_NOTIFICATION_BYTES:
        raise HTTPException(413, TOO_LARGE)
    reply = await shop(request).PaymentNotification(
        pb.PaymentNotificationRequest(
            body=body, signature=request.headers.get("Sandbox-Signature", "")[:300]
        ),
        timeout=rpc_timeout(request),
    )
    return Accepted(message=reply.message)
