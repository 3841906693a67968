"""Consent texts and the logged-in person's own consents.

A request that carries ``Sec-GPC: 1`` refuses (or withdraws) analytics: the
consent service records the signal as the reason.
"""

from __future__ import annotations

from typing import Annotated

import grpc
from fastapi import APIRouter, Path, Request

from lethe.consent.v1 import consent_pb2 as pb
from lethe.identity.v1 import identity_pb2
from lethe_gateway.auth import REAUTHENTICATE, require_recent_password
from lethe_gateway.deps import LoggedIn, client_address, consent, global_privacy_control, person, rpc_timeout
from lethe_gateway.privacy_schemas import (
    ConsentRecordOut,
    ConsentsOut,
    ConsentTextOut,
    GrantBody,
    WithdrawnOut,
)

router = APIRouter(tags=["consents"])
PurposePath = Annotated[str, Path(min_length=2, max_length=40, pattern=r"^[a-z][a-z0-9_]{1,39}$")]


@router.get("/consent-texts", response_model=list[ConsentTextOut])
async def consent_texts(request: Request) -> list[ConsentTextOut]:
    """The current text of every consent purpose, in German and English."""
    reply = await consent(request).ListCurrentTexts(pb.Empty(), timeout=rpc_timeout(request))
    return [ConsentTextOut.of(text) for text in reply.texts]


async def honour_gpc(request: Request, account: identity_pb2.Account) -> None:
    """Record the Global Privacy Control signal, if the request carries it."""
    if global_privacy_control(request):
        await consent(request).ApplyGlobalPrivacyControl(
            pb.GpcRequest(person=person(account), client_address=client_address(request)),
            timeout=rpc_timeout(request),
        )


async def record_analytics_choice(request: Request, account: identity_pb2.Account, choice: str) -> None:
    """A browser's analytics choice ("accepted" or "declined") into the person's ledger: a
    grant of the current analytics text, or its withdrawal (nothing to withdraw is no
    error). Made when a logged-in person chooses, and at log-in for the choice made before."""
    texts = await consent(request).ListCurrentTexts(pb.Empty(), timeout=rpc_timeout(request))
    version = next((x.version for x in texts.texts if x.purpose == "analytics"), "")
    try:
        if choice == "accepted" and version:
            await grant(GrantBody(purpose="analytics", version=version), request, account)
        elif choice == "declined":
            await withdraw("analytics", request, account)
    except grpc.aio.AioRpcError as exc:
        if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION):
            raise


@router.get("/me/consents", response_model=ConsentsOut)
async def my_consents(request: Request, account: LoggedIn) -> ConsentsOut:
    """Current state per purpose and the full history, with the exact text of every grant."""
    await honour_gpc(request, account)
    reply = await consent(request).GetConsents(person(account), timeout=rpc_timeout(request))
    return ConsentsOut.of(reply)


@router.post("/me/consents", status_code=201, response_model=ConsentRecordOut)
async def grant(body: GrantBody, request: Request, account: LoggedIn) -> ConsentRecordOut:
    """Agree to the current text of a purpose (with Sec-GPC: 1, analytics is refused instead)."""
    await honour_gpc(request, account)
    reply = await consent(request).Grant(
        pb.GrantRequest(
            person=person(account),
            purpose=body.purpose,
            version=body.version,
            channel="web_form",
            client_address=client_address(request),
            global_privacy_control=global_privacy_control(request),
        ),
        timeout=rpc_timeout(request),
    )
    return ConsentRecordOut.of(reply)


@router.delete(
    "/me/consents/{purpose}",
    response_model=WithdrawnOut,
    responses={403: {"description": f"for the account consent only: {REAUTHENTICATE}"}},
)
async def withdraw(purpose: PurposePath, request: Request, account: LoggedIn) -> WithdrawnOut:
    """Withdraw for the future: a new record; the grant stays as proof.

    Withdrawing the ``account`` consent erases the account, so it needs the password
    entered within 10 minutes, like ``POST /me/erasure``.
    """
    if purpose == "account":
        await require_recent_password(request)
    reply = await consent(request).Withdraw(
        pb.WithdrawRequest(
            person=person(account),
            purpose=purpose,
            channel="web_form",
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return WithdrawnOut(
        record=ConsentRecordOut.of(reply.record), erasure_request_id=reply.erasure_request_id or None
    )
