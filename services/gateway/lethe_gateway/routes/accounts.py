"""Registration and e-mail verification."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from lethe.consent.v1 import consent_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.deps import client_address, consent, identity, rpc_timeout
from lethe_gateway.schemas import Accepted, AccountOut, EmailBody, RegisterBody, Registered, VerifyBody

router = APIRouter(tags=["accounts"])


async def _check_account_text(request: Request, version: str) -> None:
    texts = await consent(request).ListCurrentTexts(consent_pb2.Empty(), timeout=rpc_timeout(request))
    current = next((t.version for t in texts.texts if t.purpose == "account"), "")
    if version != current:
        raise HTTPException(
            422,
            f"account_consent_version must be the current account text "
            f"({current}); see GET /api/v1/consent-texts",
        )


@router.post("/accounts", status_code=201, response_model=Registered)
async def register(body: RegisterBody, request: Request) -> Registered:
    """Open a customer account; a verification link goes to the address.

    An address that already has an account is answered the same (201, an id that leads
    nowhere), and its holder is told by mail: the answer never says whether an address has
    an account. The account consent must be given to the current text (else 422): the
    consent service records it once the address is verified.
    """
    await _check_account_text(request, body.account_consent_version)
    reply = await identity(request).Register(
        pb.RegisterRequest(
            email=body.email,
            password=body.password,
            name=body.name,
            phone=body.phone or "",
            account_consent_version=body.account_consent_version,
            client_address=client_address(request),
        ),
        timeout=rpc_timeout(request),
    )
    return Registered(
        id=reply.account_id, message="we sent a link to your address; open it to activate your account"
    )


@router.post("/accounts/verify", response_model=AccountOut)
async def verify(body: VerifyBody, request: Request) -> AccountOut:
    """Confirm an address with the token from the mail (activation or an e-mail change)."""
    account = await identity(request).VerifyEmail(
        pb.VerifyEmailRequest(token=body.token, password=body.password), timeout=rpc_timeout(request)
    )
    return AccountOut.of(account)


@router.post("/accounts/verify/resend", status_code=202, response_model=Accepted)
async def resend(body: EmailBody, request: Request) -> Accepted:
    """Send a new verification link; the answer is the same, and as fast, for every address
    (identity looks the address up and mails after answering)."""
    await identity(request).ResendVerification(
        pb.ResendVerificationRequest(email=body.email, client_address=client_address(request)),
        timeout=rpc_timeout(request),
    )
    return Accepted(
        message="if this address has an account waiting for verification, a new link is on its way"
    )
