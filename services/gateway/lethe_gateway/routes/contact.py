"""Contact and callback requests from anyone."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.deps import client_address, identity, rpc_timeout
from lethe_gateway.schemas import Accepted, ContactBody

log = logging.getLogger(__name__)
router = APIRouter(tags=["contact"])
RECEIVED = Accepted(message="thank you; we will get back to you")


@router.post("/contact", status_code=202, response_model=Accepted)
async def contact(body: ContactBody, request: Request) -> Accepted:
    """Send a contact or callback request (a callback needs a phone number)."""
    if body.website:
        # Only robots fill the hidden field: answer as usual, keep nothing.
        log.info("contact honeypot tripped")
        return RECEIVED
    await identity(request).SubmitContactRequest(
        pb.SubmitContactRequestRequest(
            name=body.name,
            email=body.email,
            phone=body.phone or "",
            message=body.message,
            kind=body.kind,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return RECEIVED
