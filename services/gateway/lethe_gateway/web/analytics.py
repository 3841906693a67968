"""First-party analytics of the portal's pages (SPEC §3: consent, TTDSG §25).

Every page shown (a GET answered 200) is counted by the analytics service after the answer
has gone out, so a slow or absent analytics service never slows a page:

* without the visitor's consent only ``(day, page)`` is counted: no identifier, no cookie,
  no address; the page is its route template (``/orders/{order_id}``), so no id or token
  in a path is ever counted;
* with consent (the choice cookie says "accepted" and no ``Sec-GPC: 1``) the view is also
  kept under a pseudonymous visitor id from the first-party ``lethe_visitor`` cookie,
  and, when someone is logged in, under their subject key, so that their erasure or
  withdrawal finds it.

Declining or withdrawing deletes this browser's visitor's views at once (``forget``) and
removes the cookie; a logged-in person's withdrawal and erasure also reach the analytics
service as events, which delete every view kept under their subject key.
Nothing here is sent from the browser: the pages make no analytics request at all.
"""

from __future__ import annotations

import logging
import re
import secrets

import grpc
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from lethe.analytics.v1 import analytics_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.access_log import route_template
from lethe_gateway.cookies import drop_cookie, put_cookie, read_cookie
from lethe_gateway.deps import analytics, rpc_timeout
from lethe_gateway.web.forms import analytics_choice

log = logging.getLogger(__name__)

VISITOR_COOKIE = "lethe_visitor"
VISITOR_MAX_AGE = 395 * 24 * 3600  # 13 months, as long as the views are kept
VISITOR_ID = re.compile(r"vis_[0-9a-f]{32}")
RECORD_TIMEOUT_SECONDS = 2.0


def _visitor_id(request: Request) -> str:
    found = read_cookie(request, VISITOR_COOKIE)
    return found if VISITOR_ID.fullmatch(found) else ""


def _page_of(request: Request) -> str:
    """The route's template, never the path itself: an id or a token in it is not counted."""
    return route_template(request.scope.get("route"), request.url.path) or "/"


async def _record(request: Request, view: analytics_pb2.RecordPageViewRequest) -> None:
    try:
        await analytics(request).RecordPageView(
            view, timeout=min(RECORD_TIMEOUT_SECONDS, rpc_timeout(request))
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("a page view was not counted", extra={"grpc_code": exc.code().name})


def count_page_view(request: Request, response: Response, account: pb.Account | None) -> None:
    """Count the page once ``response`` has been sent; with consent, under the visitor."""
    if request.method != "GET" or response.status_code != 200:
        return
    view = analytics_pb2.RecordPageViewRequest(path=_page_of(request))
    leftover = ""
    if analytics_choice(request) == "accepted":
        visitor = _visitor_id(request) or f"vis_{secrets.token_hex(16)}"
        put_cookie(request, response, VISITOR_COOKIE, visitor, max_age=VISITOR_MAX_AGE)
        view.visitor_id = visitor
        if account is not None and account.subject_key:
            view.subject_key = account.subject_key
    elif read_cookie(request, VISITOR_COOKIE):
        # A visitor cookie without consent (a decline whose deletion failed, or GPC
        # turned on): its views are deleted now and the cookie goes.
        leftover = _visitor_id(request)
        drop_cookie(request, response, VISITOR_COOKIE)
    response.background = BackgroundTask(_after_page, request, view, leftover)


async def _after_page(request: Request, view: analytics_pb2.RecordPageViewRequest, leftover: str) -> None:
    await _record(request, view)
    if leftover:
        await _forget(request, leftover)


async def _forget(request: Request, visitor: str) -> bool:
    try:
        await analytics(request).ForgetVisitor(
            analytics_pb2.ForgetVisitorRequest(visitor_id=visitor), timeout=rpc_timeout(request)
        )
    except grpc.aio.AioRpcError as exc:
        log.warning("a visitor's page views were not deleted", extra={"grpc_code": exc.code().name})
        return False
    return True


async def forget_visitor(request: Request, response: Response) -> None:
    """This browser's visitor's views are deleted and its cookie goes (decline, withdrawal,
    erasure). If the analytics service cannot be reached the cookie stays, so the next
    page shown tries again (``count_page_view``); a logged-in person's withdrawal and
    erasure reach the service as events anyway."""
    visitor = _visitor_id(request)
    if visitor and not await _forget(request, visitor):
        return
    if read_cookie(request, VISITOR_COOKIE):
        drop_cookie(request, response, VISITOR_COOKIE)
