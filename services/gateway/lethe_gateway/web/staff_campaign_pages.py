"""Back-office pages of the marketing role: newsletter campaigns.

- ``/staff/campaigns``: every campaign, newest first, a page at a time, and the form for a
  new one (``POST /staff/campaigns/new``; ``GET`` shows the form alone);
- ``/staff/campaigns/{id}``: the campaign, a preview of its text and of its HTML, and what
  can be done with it: a draft can be sent as a test to the staff member's own address
  (never another: the address is the logged-in account's, not a form field), sent to every
  subscriber (the password again if it was last entered more than 10 minutes ago: the
  newsletter service answers ``reauthentication_required``, the page asks for it, and the
  filled field is checked first, as on the roles page) or cancelled.

The HTML version is shown as its escaped source, never rendered: a campaign's HTML is
staff's input, and rendering it inside the back office (even in a sandboxed ``srcdoc``
frame, which the CSP would have to allow) gains nothing the test mail does not show in a
real mail client.

While a campaign is being sent its page reloads itself every :data:`REFRESH_SECONDS`
seconds without JavaScript: the HTTP ``Refresh`` header (the same as
``<meta http-equiv="refresh">``, which axe counts as a critical failure of WCAG 2.2.1), and
only while sending; the page says so and offers a link that stops it (``?refresh=off``).
Each form posts, then redirects to the campaign's page (``?done=`` names what was done), so
a reload never posts again.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2
from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe_common.staff import MARKETING
from lethe_gateway.deps import as_staff, newsletter, rpc_timeout
from lethe_gateway.newsletter_schemas import CampaignBody
from lethe_gateway.routes.admin_newsletter import (
    cancel_campaign,
    create_campaign,
    send_campaign,
    send_test_to_self,
)
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt, field_errors
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import after_step_up, staff_account
from lethe_gateway.web.step_up import STEP_UP, WrongPassword

router = APIRouter()
CAMPAIGN_ID = re.compile(r"cmp_[0-9a-f]{32}")
PAGE_TOKEN = re.compile(r"[A-Za-z0-9_=-]{1,400}")
PAGE_SIZE = 20
REFRESH_SECONDS = 3
DONE = ("created", "test", "started", "cancelled")  # what ?done= may say
EMPTY_FORM = {"subject": "", "text_body": "", "html_body": "", "greeting": ""}


# -- calls to the newsletter service ---------------------------------------------------------
# Reading goes straight to the service (its progress carries ``remaining``, which the JSON
# route's model does not have yet); creating, sending and cancelling reuse the JSON routes.
async def _campaign(request: Request, staff: identity_pb2.Account, campaign_id: str) -> pb.Campaign:
    reply: pb.Campaign = await newsletter(request).GetCampaign(
        pb.CampaignRef(actor_account_id=staff.id, campaign_id=campaign_id),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return reply


async def _campaigns(
    request: Request, staff: identity_pb2.Account, page_token: str
) -> tuple[list[pb.Campaign], str]:
    reply = await newsletter(request).ListCampaigns(
        pb.ListCampaignsRequest(actor_account_id=staff.id, page_size=PAGE_SIZE, page_token=page_token),
        metadata=as_staff(staff),
        timeout=rpc_timeout(request),
    )
    return list(reply.campaigns), str(reply.next_page_token)


# -- the list and the new campaign -------------------------------------------------------------
def _text(form: FormData, name: str) -> str:
    """A textarea's text with the line ends a service takes: browsers send CR LF."""
    return str(form.get(name, "")).replace("\r\n", "\n").replace("\r", "\n").strip()


def _values(form: FormData) -> dict[str, str]:
    return {
        "subject": field(form, "subject"),
        "text_body": _text(form, "text_body"),
        "html_body": _text(form, "html_body"),
        "greeting": "on" if form.get("greeting") else "",
    }


@router.get("/staff/campaigns")
async def campaigns_page(request: Request, page_token: str = "") -> Response:
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    if page_token and not PAGE_TOKEN.fullmatch(page_token):
        return RedirectResponse("/staff/campaigns", status_code=303)
    try:
        campaigns, next_token = await attempt(_campaigns(request, staff, page_token), t("error.unavailable"))
    except Refused as no:
        if no.status == 422:  # a page token that is not ours: start again
            return RedirectResponse("/staff/campaigns", status_code=303)
        return problem(request, staff, no.message, no.status)
    return render(
        request,
        "staff_campaigns.html",
        account=staff,
        campaigns=campaigns,
        next_token=next_token,
        first_page=not page_token,
        values=EMPTY_FORM,
        errors={},
        message="",
    )


def _new_page(
    request: Request,
    staff: identity_pb2.Account,
    values: dict[str, str],
    errors: dict[str, str],
    message: str = "",
    status_code: int = 200,
) -> Response:
    return render(
        request,
        "staff_campaign_new.html",
        account=staff,
        values=values,
        errors=errors,
        message=message,
        status_code=status_code,
    )


@router.get("/staff/campaigns/new")
async def new_campaign_page(request: Request) -> Response:
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    return _new_page(request, staff, EMPTY_FORM, {})


@router.post("/staff/campaigns/new")
async def new_campaign_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    values = _values(form)
    try:
        body = CampaignBody(
            subject=values["subject"],
            text_body=values["text_body"],
            html_body=values["html_body"],
            greeting=bool(values["greeting"]),
        )
    except ValidationError as exc:
        messages = {
            name: t(f"staff.campaigns.field.{name}") for name in ("subject", "text_body", "html_body")
        }
        errors = field_errors(exc, messages, t("error.field"))
        return _new_page(request, staff, values, errors, t("error.field"), 422)
    try:
        created = await attempt(create_campaign(body, request, staff), t("error.unavailable"))
    except Refused as no:
        return _new_page(request, staff, values, {}, no.message, no.status)
    return RedirectResponse(f"/staff/campaigns/{created.id}?done=created", status_code=303)


# -- one campaign ---------------------------------------------------------------------------------
async def _campaign_page(
    request: Request,
    staff: identity_pb2.Account,
    campaign_id: str,
    *,
    notice: str = "",
    message: str = "",
    errors: dict[str, str] | None = None,
    step_up: bool = False,
    refresh: bool = True,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    try:
        campaign = await attempt(_campaign(request, staff, campaign_id), t("error.unavailable"))
    except Refused as no:
        return problem(request, staff, no.message, no.status)
    sending = campaign.status == "sending"
    response = render(
        request,
        "staff_campaign.html",
        account=staff,
        campaign=campaign,
        notice=notice,
        message=message,
        errors=errors or {},
        step_up=step_up,
        refreshing=sending and refresh,
        sending=sending,
        refresh_seconds=REFRESH_SECONDS,
        status_code=status_code,
    )
    if sending and refresh:
        # The page's own address, without ?done=: what was done is said once.
        response.headers["Refresh"] = f"{REFRESH_SECONDS}; url=/staff/campaigns/{campaign.id}"
    return response


def _checked_id(request: Request, staff: identity_pb2.Account, campaign_id: str) -> Response | None:
    if CAMPAIGN_ID.fullmatch(campaign_id):
        return None
    return problem(request, staff, translator(language(request))("staff.campaigns.none_such"), 404)


@router.get("/staff/campaigns/{campaign_id}")
async def campaign_page(request: Request, campaign_id: str, done: str = "", refresh: str = "") -> Response:
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    if (wrong := _checked_id(request, staff, campaign_id)) is not None:
        return wrong
    t = translator(language(request))
    notice = t(f"staff.campaigns.done.{done}", email=staff.email) if done in DONE else ""
    return await _campaign_page(request, staff, campaign_id, notice=notice, refresh=refresh != "off")


async def _posted(request: Request, campaign_id: str) -> tuple[FormData, identity_pb2.Account] | Response:
    """The form and the staff member, or the page to show instead."""
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    if (wrong := _checked_id(request, staff, campaign_id)) is not None:
        return wrong
    return form, staff


def _done(campaign_id: str, what: str) -> Response:
    return RedirectResponse(f"/staff/campaigns/{campaign_id}?done={what}", status_code=303)


@router.post("/staff/campaigns/{campaign_id}/test")
async def campaign_test(request: Request, campaign_id: str) -> Response:
    posted = await _posted(request, campaign_id)
    if isinstance(posted, Response):
        return posted
    _, staff = posted
    t = translator(language(request))
    try:
        await attempt(send_test_to_self(request, staff, campaign_id), t("error.unavailable"))
    except Refused as no:
        text = t("staff.campaigns.test_limit") if no.status == 429 else no.message
        return await _campaign_page(request, staff, campaign_id, message=text, status_code=no.status)
    return _done(campaign_id, "test")


@router.post("/staff/campaigns/{campaign_id}/send")
async def campaign_send(request: Request, campaign_id: str) -> Response:
    posted = await _posted(request, campaign_id)
    if isinstance(posted, Response):
        return posted
    form, staff = posted
    t = translator(language(request))
    password = str(form.get("password", ""))
    try:
        actor = await after_step_up(request, staff, password, MARKETING)
        if isinstance(actor, Response):
            return actor
        await attempt(send_campaign(campaign_id, request, actor), t("error.unavailable"))
    except Refused as no:
        wrong = isinstance(no, WrongPassword)
        if no.code == STEP_UP:
            text = t("staff.campaigns.step_up")
        elif wrong:
            text = t("staff.campaigns.wrong_password")
        else:
            text = no.message
        return await _campaign_page(
            request,
            staff,
            campaign_id,
            message=text,
            errors={"password": t("staff.campaigns.wrong_password")} if wrong else {},
            step_up=no.code == STEP_UP or wrong,
            status_code=no.status,
        )
    return _done(campaign_id, "started")


@router.post("/staff/campaigns/{campaign_id}/cancel")
async def campaign_cancel(request: Request, campaign_id: str) -> Response:
    posted = await _posted(request, campaign_id)
    if isinstance(posted, Response):
        return posted
    _, staff = posted
    t = translator(language(request))
    try:
        await attempt(cancel_campaign(campaign_id, request, staff), t("error.unavailable"))
    except Refused as no:
        return await _campaign_page(request, staff, campaign_id, message=no.message, status_code=no.status)
    return _done(campaign_id, "cancelled")
