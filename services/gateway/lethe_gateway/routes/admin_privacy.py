"""Staff routes (role privacy): consent texts, the privacy-request ledger, objections, the
erasure verifier."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from lethe.consent.v1 import consent_pb2 as pb
from lethe.identity.v1 import identity_pb2
from lethe_gateway.deps import Privacy, as_staff, consent, rpc_timeout, verify_timeout
from lethe_gateway.paging import DEFAULT_LIMIT, PageLimit, PageToken, link_next_page
from lethe_gateway.privacy_schemas import (
    ConsentTextOut,
    ObjectionDecisionBody,
    PrivacyRequestOut,
    PublishTextBody,
    RequestKind,
    StaffUpdateBody,
)

router = APIRouter(prefix="/admin", tags=["admin"])
RequestId = Annotated[str, Path(pattern=r"^pr_[0-9a-f]{32}$")]
Status = Literal["open", "in_progress", "deferred", "complete", "rejected"]
# The longest text PublishTextBody takes (2 x 20,200 characters), every character escaped as
# \uXXXX (6 bytes): over the gateway's default body limit.
MAX_TEXT_BODY_BYTES = 256 * 1024


@router.post("/consent-texts", status_code=201, response_model=ConsentTextOut)
async def publish_text(body: PublishTextBody, request: Request, staff: Privacy) -> ConsentTextOut:
    """Publish a new version; it is current at once and never changes afterwards."""
    reply = await consent(request).PublishText(
        pb.PublishTextRequest(
            actor_account_id=staff.id,
            purpose=body.purpose,
            version=body.version,
            direct_marketing=body.direct_marketing,
            texts=[
                pb.LocalisedText(language=lang, title=text.title, body=text.body)
                for lang, text in (("de", body.de), ("en", body.en))
            ],
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return ConsentTextOut.of(reply)


@router.get("/privacy-requests", response_model=list[PrivacyRequestOut])
async def list_requests(
    request: Request,
    response: Response,
    staff: Privacy,
    status: Status | None = None,
    kind: RequestKind | None = None,
    overdue: bool = False,
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[PrivacyRequestOut]:
    """The ledger, soonest deadline first, a page at a time (the next page is in the
    ``Link`` header); ``overdue=true`` shows what is late."""
    reply = await consent(request).ListPrivacyRequests(
        pb.AdminListRequest(
            actor_account_id=staff.id,
            status=status or "",
            kind=kind or "",
            overdue_only=overdue,
            page_size=limit,
            page_token=page_token,
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [PrivacyRequestOut.of(r) for r in reply.requests]


@router.get("/privacy-requests/{request_id}", response_model=PrivacyRequestOut)
async def one_request(request_id: RequestId, request: Request, staff: Privacy) -> PrivacyRequestOut:
    """One request of the ledger, as the list shows it."""
    return await privacy_request_for_staff(request, staff, request_id)


async def privacy_request_for_staff(
    request: Request, staff: identity_pb2.Account, request_id: str
) -> PrivacyRequestOut:
    reply = await consent(request).GetStaffPrivacyRequest(
        pb.StaffRequestLookup(actor_account_id=staff.id, request_id=request_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return PrivacyRequestOut.of(reply)


@router.post("/privacy-requests/{request_id}/status", response_model=PrivacyRequestOut)
async def update_request(
    body: StaffUpdateBody, request_id: RequestId, request: Request, staff: Privacy
) -> PrivacyRequestOut:
    """Move a request on; a deferral, a rejection or an extension needs a reason."""
    reply = await consent(request).UpdatePrivacyRequest(
        pb.UpdatePrivacyRequestRequest(
            actor_account_id=staff.id,
            request_id=request_id,
            status=body.status,
            reason=body.reason,
            extend_months=body.extend_months,
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return PrivacyRequestOut.of(reply)


@router.post("/privacy-requests/{request_id}/decision", response_model=PrivacyRequestOut)
async def decide_objection(
    body: ObjectionDecisionBody, request_id: RequestId, request: Request, staff: Privacy
) -> PrivacyRequestOut:
    """Decide an objection; the person sees the decision and its reasons."""
    reply = await consent(request).DecideObjection(
        pb.DecideObjectionRequest(
            actor_account_id=staff.id, request_id=request_id, uphold=body.uphold, reason=body.reason
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return PrivacyRequestOut.of(reply)


@router.post("/privacy-requests/{request_id}/verification", response_model=PrivacyRequestOut)
async def verify_erasure(request_id: RequestId, request: Request, staff: Privacy) -> PrivacyRequestOut:
    """Run the proof of erasure for a complete erasure now: every service's store, retry and
    dead-letter queues, and the dev stack's logs are searched for the person; the result is
    stored with the request (409 unless the request is a complete erasure)."""
    reply = await consent(request).VerifyErasure(
        pb.VerifyErasureRequest(actor_account_id=staff.id, request_id=request_id),
        metadata=as_staff(staff),
        timeout=verify_timeout(request),
    )
    return PrivacyRequestOut.of(reply)
