"""The links in newsletter mails: confirming a subscription and unsubscribing.

These routes take no session: the signed token in the link is the only
credential, so they carry no CSRF check either (a forged request would need
the token). A GET only shows a page that asks for the click (link scanners
fetch every link in a mail, and must change nothing); a POST acts.
Unsubscribing also takes RFC 8058 one-click POSTs from mail clients: the
token is in the address, the body is ``List-Unsubscribe=One-Click``.
"""

from __future__ import annotations

import json
from typing import Annotated, Any
from urllib.parse import quote

import grpc
from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from lethe.newsletter.v1 import newsletter_pb2 as pb
from lethe_gateway.deps import client_address, newsletter, rpc_timeout
from lethe_gateway.errors import error_body, http_error_of
from lethe_gateway.newsletter_schemas import LinkTokenBody, SubscriptionOut
from lethe_gateway.pages import page
from lethe_gateway.schemas import Accepted

router = APIRouter(prefix="/newsletter", tags=["newsletter"])
QueryToken = Annotated[
    str | None, Query(max_length=400, pattern=r"^[A-Za-z0-9_.-]+$", description="the token from the link")
]
# The body is read by hand (JSON or a form), so FastAPI does not list LinkTokenBody among
# the document's components: its schema goes inline, a $ref to it would point nowhere.
TOKEN_BODY = {
    "requestBody": {
        "required": False,
        "content": {
            "application/json": {"schema": LinkTokenBody.model_json_schema()},
            "application/x-www-form-urlencoded": {
                "schema": {
                    "type": "object",
                    "properties": {"List-Unsubscribe": {"type": "string", "enum": ["One-Click"]}},
                }
            },
        },
    }
}
INVALID_LINK = "this link is not complete; please use the whole link from the mail"


class BadLink(Exception):
    """The request names no usable token."""


def _is_json(request: Request) -> bool:
    return request.headers.get("content-type", "").split(";")[0].strip().endswith("json")


async def _token(request: Request, token: str | None) -> str:
    """The token from the address (links, one-click) or from a JSON body (API clients)."""
    if token:
        return token
    if _is_json(request):
        try:
            return LinkTokenBody.model_validate(json.loads(await request.body() or b"null")).token
        except (ValueError, ValidationError):
            raise BadLink from None
    raise BadLink


def _link(path: str, token: str) -> str:
    return f"/api/v1/newsletter/{path}?token={quote(token)}"


def _answer(request: Request, title: str, status: int, code: str, message: str) -> Response:
    """An error as JSON to API clients, as a page to browsers and mail clients."""
    if _is_json(request):
        return JSONResponse(error_body(code, message), status_code=status)
    return page(title, [message], status_code=status)


def _failure(request: Request, exc: grpc.aio.AioRpcError, title: str) -> Response:
    return _answer(request, title, *http_error_of(exc))


def _bad_link(request: Request, title: str) -> Response:
    return _answer(request, title, 422, "invalid_request", INVALID_LINK)


async def confirm_link(request: Request, token: str) -> pb.Subscription:
    """Confirm a subscription with the mailed token (also the portal's confirm page)."""
    reply: pb.Subscription = await newsletter(request).Confirm(
        pb.TokenRequest(token=token, client_address=client_address(request)), timeout=rpc_timeout(request)
    )
    return reply


async def check_unsubscribe_link(request: Request, token: str) -> None:
    """Refuses a token that would unsubscribe nobody; changes nothing."""
    await newsletter(request).CheckUnsubscribeToken(
        pb.TokenRequest(token=token), timeout=rpc_timeout(request)
    )


async def unsubscribe_link(request: Request, token: str) -> pb.Accepted:
    """Unsubscribe with the token of any newsletter (also the portal's unsubscribe page)."""
    reply: pb.Accepted = await newsletter(request).Unsubscribe(
        pb.TokenRequest(token=token), timeout=rpc_timeout(request)
    )
    return reply


@router.get("/confirm", include_in_schema=False)
async def confirm_page(request: Request, token: QueryToken = None) -> Response:
    if not token:
        return _bad_link(request, "Newsletter")
    return page(
        "Newsletter",
        [
            "Bitte bestätigen Sie Ihre Anmeldung zum Newsletter.",
            "Please confirm your newsletter subscription.",
        ],
        form_action=_link("confirm", token),
        button="Bestätigen / Confirm",
    )


@router.post("/confirm", response_model=SubscriptionOut, openapi_extra=TOKEN_BODY)
async def confirm(request: Request, token: QueryToken = None) -> Any:
    """Confirm with the mailed token: the consent is recorded and the subscription starts."""
    try:
        link_token = await _token(request, token)
    except BadLink:
        return _bad_link(request, "Newsletter")
    try:
        reply = await confirm_link(request, link_token)
    except grpc.aio.AioRpcError as exc:
        return _failure(request, exc, "Newsletter")
    if _is_json(request):
        return SubscriptionOut.of(reply)
    return page(
        "Newsletter", ["Danke! Ihre Anmeldung ist bestätigt.", "Thank you: your subscription is confirmed."]
    )


@router.get("/unsubscribe", include_in_schema=False)
async def unsubscribe_page(request: Request, token: QueryToken = None) -> Response:
    """Asks for the click; fetching the link unsubscribes nobody."""
    if not token:
        return _bad_link(request, "Newsletter abbestellen / Unsubscribe")
    try:
        await check_unsubscribe_link(request, token)
    except grpc.aio.AioRpcError as exc:
        return _failure(request, exc, "Newsletter abbestellen / Unsubscribe")
    return page(
        "Newsletter abbestellen / Unsubscribe",
        ["Möchten Sie den Newsletter nicht mehr erhalten?", "Do you want to stop receiving the newsletter?"],
        form_action=_link("unsubscribe", token),
        button="Abmelden / Unsubscribe",
    )


@router.post("/unsubscribe", response_model=Accepted, openapi_extra=TOKEN_BODY)
async def unsubscribe(request: Request, token: QueryToken = None) -> Any:
    """Unsubscribe at once with the token of any newsletter (also RFC 8058 one-click)."""
    try:
        link_token = await _token(request, token)
    except BadLink:
        return _bad_link(request, "Newsletter abbestellen / Unsubscribe")
    try:
        reply = await unsubscribe_link(request, link_token)
    except grpc.aio.AioRpcError as exc:
        return _failure(request, exc, "Newsletter abbestellen / Unsubscribe")
    if _is_json(request):
        return Accepted(message=reply.message)
    return page(
        "Newsletter abbestellen / Unsubscribe",
        ["Sie sind abgemeldet und erhalten den Newsletter nicht mehr.", reply.message],
    )
