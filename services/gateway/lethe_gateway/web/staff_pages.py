"""Staff pages (role admin until the back office brings its own roles): the traffic page.

It shows the analytics service's counts only, page views per day and the most viewed
pages, which name no one; no visitor's own views are ever shown to staff.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import RedirectResponse, Response

from lethe_gateway.routes.admin_traffic import read_traffic
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import message, render
from lethe_gateway.web.session import page_account

router = APIRouter()
WINDOWS = (7, 30, 90, 395)  # the choices of the page's window, in days


@router.get("/staff/traffic")
async def traffic_page(request: Request, days: int = 30) -> Response:
    account = await page_account(request)
    if account is None:
        return RedirectResponse("/login?next=/staff/traffic", status_code=303)
    t = translator(language(request))
    if "admin" not in account.roles:
        return message(
            request,
            account=account,
            status_code=403,
            title=t("staff.forbidden.title"),
            text=t("staff.forbidden"),
        )
    window = days if days in WINDOWS else 30
    try:
        traffic = await attempt(read_traffic(request, window, 10), t("error.unavailable"))
    except Refused as refused:
        return message(
            request,
            account=account,
            status_code=refused.status,
            title=t("staff.traffic.title"),
            text=refused.message,
        )
    busiest = max((d.views for d in traffic.days), default=0)
    return render(
        request,
        "staff_traffic.html",
        account=account,
        traffic=traffic,
        window=window,
        windows=WINDOWS,
        busiest=busiest,
    )
