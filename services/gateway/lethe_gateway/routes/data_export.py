"""Access and portability (Art. 15 and 20): ``GET /api/v1/me/data-export``.

The gateway asks every data-holding service for its part (``ExportSubjectData``, SPEC
section 4, step 5) at the same time, each call with its own deadline
(``LETHE_GATEWAY_EXPORT_TIMEOUT_SECONDS``), and puts the answers into one JSON document:
for each service what it holds, what for, on which legal ground, for how long, and to
whom it was passed.

A service that fails or does not answer in time does not fail the request: its part is
marked missing with a reason a person understands, the document says ``complete: false``
and names every missing part, and the header ``X-Export-Complete`` says the same. The
status is 200 either way, so the person gets everything that could be collected now and
can ask again for the rest. The document is never cached and a browser saves it as a file.

The person is named to every service by the account id and subject key of the session's
account, never by anything the client sends, so nothing of another person can be asked for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from fastapi import APIRouter, HTTPException, Request, Response

from lethe.common.v1 import subject_pb2
from lethe.consent.v1 import consent_pb2 as pb
from lethe_gateway.deps import LoggedIn, consent, rpc_timeout
from lethe_gateway.privacy_schemas import DataExportOut, DeclaredHoldingOut, MissingPartOut, ServiceExportOut
from lethe_gateway.routes.privacy import FollowToken, RequestId

log = logging.getLogger(__name__)
router = APIRouter(tags=["privacy"])

FORMAT = "lethe-data-export/1"
COMPLETE_HEADER = "X-Export-Complete"


@dataclass(frozen=True)
class Part:
    service: str
    name: str  # how a person calls the service
    holds: str


PARTS = (
    Part(
        "identity",
        "The account service",
        "your account, profile, log-in sessions, portal access and contact requests",
    ),
    Part("consent", "The consent service", "your consents with their history, and your privacy requests"),
    Part("shop", "The shop", "your orders, invoices, payments, deliveries and downloads"),
    Part(
        "newsletter",
        "The newsletter service",
        "your newsletter subscriptions and the newsletters sent to you",
    ),
    Part(
        "analytics",
        "The web analytics",
        "the pages you viewed while you had agreed to analytics (nothing without your consent)",
    ),
)


def explain_missing(part: Part, code: grpc.StatusCode | None, timeout: float) -> str:
    later = "This part is not in this file; please ask for your data again in a few minutes."
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return f"{part.name} did not answer within {timeout:g} seconds. {later}"
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"{part.name} could not be reached just now. {later}"
    return f"{part.name} ran into an error while collecting your data. {later}"


def _missing(part: Part, reason: str) -> ServiceExportOut:
    return ServiceExportOut(
        service=part.service,
        holds=part.holds,
        complete=False,
        missing_reason=reason,
        data=None,
        purposes=[],
        lawful_bases=[],
        retention="",
        recipients=[],
    )


async def _collect(part: Part, stub: Any, subject: subject_pb2.Subject, timeout: float) -> ServiceExportOut:
    try:
        reply = await stub.ExportSubjectData(
            subject_pb2.ExportSubjectDataRequest(subject=subject), timeout=timeout
        )
    except grpc.aio.AioRpcError as exc:
        log.warning(
            "a data export is missing a part", extra={"service": part.service, "code": exc.code().name}
        )
        return _missing(part, explain_missing(part, exc.code(), timeout))
    try:
        data = json.loads(reply.data_json) if reply.data_json else {}
    except ValueError:
        data = None
    if not isinstance(data, dict) or reply.service != part.service:
        log.warning("a data export part was unreadable", extra={"service": part.service})
        return _missing(part, explain_missing(part, None, timeout))
    return ServiceExportOut(
        service=part.service,
        holds=part.holds,
        complete=True,
        missing_reason=None,
        data=data,
        purposes=list(reply.purposes),
        lawful_bases=list(reply.lawful_bases),
        retention=reply.retention,
        recipients=list(reply.recipients),
        inventory=[
            DeclaredHoldingOut(
                collection=h.collection,
                fields=list(h.fields),
                categories=list(h.categories),
                purpose=h.purpose,
                lawful_basis=h.lawful_basis,
                retention=h.retention,
                recipients=list(h.recipients),
            )
            for h in reply.inventory
        ],
    )


@router.get(
    "/me/data-export",
    response_model=DataExportOut,
    responses={
        200: {
            "description": "the document; when a service could not be asked, `complete` is false "
            "and `missing` names it (the status is still 200)",
            "headers": {
                "Content-Disposition": {
                    "description": "attachment: a browser saves the document as a file",
                    "schema": {"type": "string"},
                },
                COMPLETE_HEADER: {
                    "description": "true or false: whether every service's part is in the document",
                    "schema": {"type": "string", "enum": ["true", "false"]},
                },
            },
        }
    },
)
async def data_export(request: Request, response: Response, account: LoggedIn) -> DataExportOut:
    """Everything held about you, from every service, as one JSON document (Art. 15 and 20)."""
    subject = subject_pb2.Subject(
        account_id=account.id,
        subject_key=account.subject_key,
        former_subject_keys=list(account.former_subject_keys),
    )
    document = await assemble(request, subject, account.id, account.email)
    as_attachment(response, document)
    return document


async def assemble(
    request: Request, subject: subject_pb2.Subject, account_id: str, email: str
) -> DataExportOut:
    """Every service's part for ``subject``, asked at once, each with its deadline."""
    timeout = float(request.app.state.config.export_timeout_seconds)
    now = datetime.now(UTC)
    services = list(
        await asyncio.gather(
            *(_collect(part, getattr(request.app.state, part.service), subject, timeout) for part in PARTS)
        )
    )
    missing = [
        MissingPartOut(service=s.service, reason=s.missing_reason or "") for s in services if not s.complete
    ]
    return DataExportOut(
        format=FORMAT,
        generated_at=now.isoformat(timespec="seconds"),
        account_id=account_id,
        email=email,
        complete=not missing,
        missing=missing,
        services=services,
    )


def as_attachment(response: Response, document: DataExportOut) -> None:
    """A browser saves the document as a file; nothing caches it."""
    day = document.generated_at[:10]
    response.headers["Content-Disposition"] = f'attachment; filename="lethe-data-export-{day}.json"'
    response.headers["Cache-Control"] = "no-store"
    response.headers[COMPLETE_HEADER] = "true" if document.complete else "false"


@router.get(
    "/privacy-requests/{request_id}/data-export",
    response_model=DataExportOut,
    responses={
        410: {"description": "the link is unknown, used or expired"},
        503: {"description": "a service could not be asked just now; the link stays valid"},
    },
)
async def mailed_data_export(
    request_id: RequestId, token: FollowToken, request: Request, response: Response
) -> DataExportOut:
    """The data of a person without an account, from the single-use link mailed after they
    confirmed their access request (Art. 15 and 20). The document is put together now; only
    a complete one uses the link up, so a service that cannot answer costs no link."""
    link = pb.FollowRequest(request_id=request_id, token=token)
    opened = await consent(request).OpenDataDownload(link, timeout=rpc_timeout(request))
    document = await assemble(request, opened.subject, "", "")
    if not document.complete:
        names = ", ".join(m.service for m in document.missing)
        raise HTTPException(
            503,
            f"not every service could be asked just now ({names}); your link still works, "
            "please try again in a few minutes",
            headers={"Retry-After": "60"},
        )
    await consent(request).UseDataDownload(link, timeout=rpc_timeout(request))
    as_attachment(response, document)
    return document
