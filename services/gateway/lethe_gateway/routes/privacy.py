"""Privacy requests: erasure, restriction, objection, and following a request.

A logged-in person's request is open at once. Anyone else's is confirmed by a
link mailed to the address; until then nothing happens, and the answer never
tells whether the address is known.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request

from lethe.consent.v1 import consent_pb2 as pb
from lethe_gateway.auth import REAUTHENTICATE, require_recent_password
from lethe_gateway.deps import LoggedIn, client_address, consent, person, rpc_timeout
from lethe_gateway.privacy_schemas import (
    ConfirmBody,
    ErasureBody,
    ObjectionBody,
    OpenedOut,
    PrivacyRequestBody,
    PrivacyRequestOut,
)
from lethe_gateway.schemas import Accepted

router = APIRouter(tags=["privacy"])
RequestId = Annotated[str, Path(pattern=r"^pr_[0-9a-f]{32}$")]
FollowToken = Annotated[str, Query(min_length=1, max_length=128)]


async def _open(
    request: Request, account: LoggedIn, kind: str, purpose: str = "", reason: str = ""
) -> OpenedOut:
    reply = await consent(request).OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(
            person=person(account),
            kind=kind,
            purpose=purpose,
            reason=reason,
            authenticated=True,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return OpenedOut(request=PrivacyRequestOut.of(reply.request), follow_token=reply.follow_token)


@router.post(
    "/me/erasure",
    status_code=202,
    response_model=OpenedOut,
    responses={403: {"description": REAUTHENTICATE}},
)
async def erase_me(body: ErasureBody, request: Request, account: LoggedIn) -> OpenedOut:
    """Be forgotten: every service purges or blocks its data and sends a receipt. Needs the
    password entered within 10 minutes (403 ``reauthentication_required``)."""
    await require_recent_password(request)
    return await _open(request, account, "erasure", reason=body.reason)


@router.post("/me/restriction", status_code=202, response_model=OpenedOut)
async def restrict_me(body: ErasureBody, request: Request, account: LoggedIn) -> OpenedOut:
    """Restrict processing (Art. 18): no marketing, no profiling, no changes by staff."""
    return await _open(request, account, "restriction", reason=body.reason)


@router.delete("/me/restriction", status_code=202, response_model=OpenedOut)
async def lift_restriction(request: Request, account: LoggedIn) -> OpenedOut:
    return await _open(request, account, "restriction_lift")


@router.post("/me/objections", status_code=202, response_model=OpenedOut)
async def object_to(body: ObjectionBody, request: Request, account: LoggedIn) -> OpenedOut:
    """Object (Art. 21): direct marketing stops at once, anything else goes to our DPO."""
    return await _open(request, account, "objection", body.purpose, body.reason)


@router.get("/me/privacy-requests", response_model=list[PrivacyRequestOut])
async def my_requests(request: Request, account: LoggedIn) -> list[PrivacyRequestOut]:
    reply = await consent(request).ListOwnPrivacyRequests(person(account), timeout=rpc_timeout(request))
    return [PrivacyRequestOut.of(r) for r in reply.requests]


@router.post("/privacy-requests", status_code=202, response_model=Accepted)
async def file_request(body: PrivacyRequestBody, request: Request) -> Accepted:
    """Any right, for a person without an account: confirmed by a link mailed to the address."""
    await consent(request).OpenPrivacyRequest(
        pb.OpenPrivacyRequestRequest(
            person=pb.Person(email=body.email),
            kind=body.kind,
            purpose=body.purpose or "",
            reason=body.reason,
            authenticated=False,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return Accepted(message="we sent a link to this address; the request goes ahead once it is confirmed")


@router.post("/privacy-requests/confirm", response_model=PrivacyRequestOut)
async def confirm_request(body: ConfirmBody, request: Request) -> PrivacyRequestOut:
    reply = await consent(request).ConfirmPrivacyRequest(
        pb.TokenRequest(token=body.token), timeout=rpc_timeout(request)
    )
    return PrivacyRequestOut.of(reply)


@router.get("/privacy-requests/{request_id}", response_model=PrivacyRequestOut)
async def follow_request(request_id: RequestId, token: FollowToken, request: Request) -> PrivacyRequestOut:
    """A request's status and every service's receipt, for whoever holds its follow token."""
    reply = await consent(request).GetPrivacyRequest(
        pb.FollowRequest(request_id=request_id, token=token), timeout=rpc_timeout(request)
    )
    return PrivacyRequestOut.of(reply)
