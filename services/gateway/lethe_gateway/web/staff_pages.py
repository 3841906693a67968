"""Back-office pages: the dashboard every member of staff starts from, and the traffic
page (role marketing).

The dashboard shows the sections the person's roles open and, for each, how much waits
for someone to act. The traffic page shows the analytics service's counts only, page
views per day and the most viewed pages, which name no one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sized
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import ACCOUNTING, ADMIN, MARKETING, PRIVACY, ROLES, SUPPORT, holds
from lethe_gateway.routes.admin import list_contact_requests, list_portal_requests
from lethe_gateway.routes.admin_privacy import list_requests
from lethe_gateway.routes.admin_shop import orders
from lethe_gateway.routes.admin_traffic import read_traffic
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import message, render
from lethe_gateway.web.staff_gate import staff_account

router = APIRouter()
WINDOWS = (7, 30, 90, 395)  # the choices of the traffic page's window, in days
COUNT_UP_TO = 100  # the dashboard counts one page: "100+" beyond
# The back office's pages: the role that opens each, its address and its name's text key.
SECTIONS = (
    (SUPPORT, "/staff/portal-requests", "staff.page.portal"),
    (SUPPORT, "/staff/contacts", "staff.page.contacts"),
    (SUPPORT, "/staff/organisations", "staff.page.organisations"),
    (PRIVACY, "/staff/privacy", "staff.page.privacy"),
    (ACCOUNTING, "/staff/orders", "staff.page.orders"),
    (ACCOUNTING, "/staff/legal-hold", "staff.page.legal_hold"),
    (ACCOUNTING, "/staff/legal-hold/reads", "staff.page.legal_hold_reads"),
    (MARKETING, "/staff/campaigns", "staff.page.campaigns"),
    (MARKETING, "/staff/traffic", "staff.page.traffic"),
    (ADMIN, "/staff/roles", "staff.page.roles"),
    (ADMIN, "/staff/audit", "staff.page.audit"),
)


@dataclass(frozen=True)
class Waiting:
    """One dashboard line: what waits, how many (None: the service did not answer), where."""

    label: str
    count: int | None
    more: bool
    href: str


async def _count(call: Callable[[Response], Awaitable[Sized]]) -> tuple[int | None, bool]:
    response = Response()
    try:
        items = await attempt(call(response), "")
    except Refused:
        return None, False
    return len(items), "link" in response.headers


async def _waiting(request: Request, staff: pb.Account) -> list[Waiting]:
    t = translator(language(request))
    found: list[Waiting] = []
    lines: list[tuple[str, str, str, Callable[[Response], Awaitable[Sized]]]] = [
        (
            SUPPORT,
            "staff.dash.portal",
            "/staff/portal-requests",
            lambda r: list_portal_requests(request, r, staff, "pending", COUNT_UP_TO, ""),
        ),
        (
            SUPPORT,
            "staff.dash.contacts",
            "/staff/contacts",
            lambda r: list_contact_requests(request, r, staff, "open", COUNT_UP_TO, ""),
        ),
        (
            PRIVACY,
            "staff.dash.privacy",
            "/staff/privacy",
            lambda r: list_requests(request, r, staff, None, None, False, COUNT_UP_TO, ""),
        ),
        (
            ACCOUNTING,
            "staff.dash.orders",
            "/staff/orders",
            lambda r: orders(request, r, staff, "", COUNT_UP_TO, ""),
        ),
    ]
    for role, label, href, call in lines:
        if holds(staff.roles, (role,)):
            count, more = await _count(call)
            found.append(Waiting(t(label), count, more, href))
    return found


@router.get("/staff")
async def dashboard(request: Request) -> Response:
    staff = await staff_account(request, *ROLES)
    if isinstance(staff, Response):
        return staff
    sections = [(href, label) for role, href, label in SECTIONS if holds(staff.roles, (role,))]
    return render(
        request,
        "staff_dashboard.html",
        account=staff,
        waiting=await _waiting(request, staff),
        sections=sections,
        roles=[r for r in ROLES if r in staff.roles],
    )


@router.get("/staff/traffic")
async def traffic_page(request: Request, days: int = 30) -> Response:
    staff = await staff_account(request, MARKETING)
    if isinstance(staff, Response):
        return staff
    t = translator(language(request))
    window = days if days in WINDOWS else 30
    try:
        traffic = await attempt(read_traffic(request, staff, window, 10), t("error.unavailable"))
    except Refused as refused:
        return message(
            request,
            account=staff,
            status_code=refused.status,
            title=t("staff.traffic.title"),
            text=refused.message,
        )
    busiest = max((d.views for d in traffic.days), default=0)
    return render(
        request,
        "staff_traffic.html",
        account=staff,
        traffic=traffic,
        window=window,
        windows=WINDOWS,
        busiest=busiest,
    )
