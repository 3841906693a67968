"""Staff routes (role support): organisations, portal-access decisions, contact requests.

Lists come in pages (``?limit=&page_token=``; the next page is in the ``Link`` header).
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.deps import Support, as_staff, identity, rpc_timeout
from lethe_gateway.paging import DEFAULT_LIMIT, PageLimit, PageToken, link_next_page
from lethe_gateway.schemas import (
    ContactOut,
    DecisionBody,
    OrganisationBody,
    OrganisationOut,
    OrganisationPatch,
    PortalAccessOut,
    PortalRequestOut,
)

PortalStatus = Literal["pending", "approved", "rejected"]
ContactStatus = Literal["open", "closed"]
router = APIRouter(prefix="/admin", tags=["admin"])
RecordId = Annotated[str, Path(max_length=64, pattern=r"^[a-z]{2,4}_[0-9a-f]{32}$")]


@router.get("/organisations", response_model=list[OrganisationOut])
async def list_organisations(
    request: Request,
    response: Response,
    staff: Support,
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[OrganisationOut]:
    """Customer organisations, newest first."""
    reply = await identity(request).ListOrganisations(
        pb.AdminListRequest(actor_account_id=staff.id, page_size=limit, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [OrganisationOut.of(o) for o in reply.organisations]


@router.post("/organisations", status_code=201, response_model=OrganisationOut)
async def create_organisation(body: OrganisationBody, request: Request, staff: Support) -> OrganisationOut:
    reply = await identity(request).CreateOrganisation(
        pb.CreateOrganisationRequest(actor_account_id=staff.id, name=body.name, domains=body.domains),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return OrganisationOut.of(reply)


@router.patch("/organisations/{organisation_id}", response_model=OrganisationOut)
async def update_organisation(
    body: OrganisationPatch, request: Request, staff: Support, organisation_id: RecordId
) -> OrganisationOut:
    update = pb.UpdateOrganisationRequest(actor_account_id=staff.id, organisation_id=organisation_id)
    if body.name is not None:
        update.name = body.name
    if body.domains is not None:
        update.domains.extend(body.domains)
        update.set_domains = True
    reply = await identity(request).UpdateOrganisation(
        update, metadata=as_staff(staff), timeout=rpc_timeout(request)
    )
    return OrganisationOut.of(reply)


@router.get("/portal-access-requests", response_model=list[PortalRequestOut])
async def list_portal_requests(
    request: Request,
    response: Response,
    staff: Support,
    status: PortalStatus = "pending",
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[PortalRequestOut]:
    """Portal-access requests of one status, oldest request first."""
    reply = await identity(request).ListPortalAccessRequests(
        pb.AdminListRequest(actor_account_id=staff.id, status=status, page_size=limit, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [
        PortalRequestOut(
            account_id=r.account_id, name=r.name, email=r.email, access=PortalAccessOut.of(r.access)
        )
        for r in reply.requests
    ]


@router.post("/portal-access-requests/{account_id}/decision", response_model=PortalAccessOut)
async def decide_portal_access(
    body: DecisionBody, request: Request, staff: Support, account_id: RecordId
) -> PortalAccessOut:
    """Approve or reject a pending request; 409 when it is no longer pending (someone
    decided it first)."""
    reply = await identity(request).DecidePortalAccess(
        pb.DecidePortalAccessRequest(
            actor_account_id=staff.id, account_id=account_id, approve=body.approve, reason=body.reason
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return PortalAccessOut.of(reply)


@router.get("/contact-requests", response_model=list[ContactOut])
async def list_contact_requests(
    request: Request,
    response: Response,
    staff: Support,
    status: ContactStatus = "open",
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[ContactOut]:
    """Contact and callback requests of one status, newest first."""
    reply = await identity(request).ListContactRequests(
        pb.AdminListRequest(actor_account_id=staff.id, status=status, page_size=limit, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [ContactOut.of(c) for c in reply.requests]


@router.post("/contact-requests/{contact_request_id}/close", response_model=ContactOut)
async def close_contact_request(request: Request, staff: Support, contact_request_id: RecordId) -> ContactOut:
    reply = await identity(request).CloseContactRequest(
        pb.CloseContactRequestRequest(actor_account_id=staff.id, contact_request_id=contact_request_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return ContactOut.of(reply)
