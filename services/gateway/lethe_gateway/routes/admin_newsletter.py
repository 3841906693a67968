"""Staff routes (role marketing): newsletter campaigns."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from lethe.identity.v1 import identity_pb2
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe_gateway.deps import Marketing, as_staff, newsletter, rpc_timeout
from lethe_gateway.newsletter_schemas import CampaignBody, CampaignOut
from lethe_gateway.paging import DEFAULT_LIMIT, PageLimit, PageToken, link_next_page
from lethe_gateway.schemas import Accepted

router = APIRouter(prefix="/admin/newsletter", tags=["admin"])
CampaignId = Annotated[str, Path(pattern=r"^cmp_[0-9a-f]{32}$")]
# The longest campaign CampaignBody takes (2 x 200,000 + 200 characters), every character
# escaped as \uXXXX (6 bytes): well over the gateway's default body limit.
MAX_CAMPAIGN_BODY_BYTES = 2_621_440  # 2.5 MiB


@router.post("/campaigns", status_code=201, response_model=CampaignOut)
async def create_campaign(body: CampaignBody, request: Request, staff: Marketing) -> CampaignOut:
    """A draft: nothing is sent until it is sent explicitly."""
    reply = await newsletter(request).CreateCampaign(
        pb.CreateCampaignRequest(
            actor_account_id=staff.id,
            subject=body.subject,
            text_body=body.text_body,
            html_body=body.html_body,
            greeting=body.greeting,
        ),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return CampaignOut.of(reply)


@router.get("/campaigns", response_model=list[CampaignOut])
async def list_campaigns(
    request: Request,
    response: Response,
    staff: Marketing,
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[CampaignOut]:
    """Newest first, a page at a time; the next page's address is in the Link header."""
    reply = await newsletter(request).ListCampaigns(
        pb.ListCampaignsRequest(actor_account_id=staff.id, page_size=limit, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    link_next_page(request, response, reply.next_page_token)
    return [CampaignOut.of(c) for c in reply.campaigns]


@router.get("/campaigns/{campaign_id}", response_model=CampaignOut)
async def get_campaign(campaign_id: CampaignId, request: Request, staff: Marketing) -> CampaignOut:
    """The campaign and its progress: recipients, sent, failed, dropped."""
    reply = await newsletter(request).GetCampaign(
        pb.CampaignRef(actor_account_id=staff.id, campaign_id=campaign_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return CampaignOut.of(reply)


@router.post("/campaigns/{campaign_id}/send", status_code=202, response_model=CampaignOut)
async def send_campaign(campaign_id: CampaignId, request: Request, staff: Marketing) -> CampaignOut:
    """Send to everyone subscribed now; the worker sends it in batches at the set rate."""
    reply = await newsletter(request).SendCampaign(
        pb.CampaignRef(actor_account_id=staff.id, campaign_id=campaign_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return CampaignOut.of(reply)


@router.post("/campaigns/{campaign_id}/cancel", response_model=CampaignOut)
async def cancel_campaign(campaign_id: CampaignId, request: Request, staff: Marketing) -> CampaignOut:
    reply = await newsletter(request).CancelCampaign(
        pb.CampaignRef(actor_account_id=staff.id, campaign_id=campaign_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return CampaignOut.of(reply)


@router.post("/campaigns/{campaign_id}/test", status_code=202, response_model=Accepted)
async def test_campaign(campaign_id: CampaignId, request: Request, staff: Marketing) -> Accepted:
    """A test of the draft to the staff member's own address (never another), marked as a
    test and with no working unsubscribe link; at most 10 per campaign and hour (429)."""
    await send_test_to_self(request, staff, campaign_id)
    return Accepted(message="a test of this campaign is on its way to your own address")


async def send_test_to_self(request: Request, staff: identity_pb2.Account, campaign_id: str) -> None:
    await newsletter(request).SendTestCampaign(
        pb.TestSendRequest(actor_account_id=staff.id, campaign_id=campaign_id, email=staff.email),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
