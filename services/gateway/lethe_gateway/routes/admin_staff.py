"""Staff roles and the audit trail (role admin), and the step-up every dangerous staff
action asks for.

Granting or revoking a role, a legal-hold read and sending a campaign need the password
entered within the last 10 minutes; the service that owns the action checks it from the
staff assertion and answers 403 ``reauthentication_required`` otherwise. The client then
sends the password to ``POST /session/password-check`` (routes/session.py) and tries
again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from lethe.common.v1 import audit_pb2
from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.deps import Admin, as_staff, consent, identity, newsletter, rpc_timeout, shop
from lethe_gateway.paging import DEFAULT_LIMIT, PageLimit, PageToken, link_next_page
from lethe_gateway.schemas import RoleChangeBody

router = APIRouter(tags=["admin"])
AuditService = Literal["identity", "consent", "shop", "newsletter"]
AUDITED: dict[str, Callable[[Request], Any]] = {
    "identity": identity,
    "consent": consent,
    "shop": shop,
    "newsletter": newsletter,
}


class StaffMemberOut(BaseModel):
    account_id: str
    email: str
    name: str
    roles: list[str]
    admin_from_environment: bool

    @classmethod
    def of(cls, msg: pb.StaffMember) -> StaffMemberOut:
        return cls(
            account_id=msg.account_id,
            email=msg.email,
            name=msg.name,
            roles=list(msg.roles),
            admin_from_environment=msg.admin_from_environment,
        )


class AuditEntryOut(BaseModel):
    service: str
    id: str
    at: str
    actor_account_id: str
    action: str
    target: str
    reason: str
    detail: str

    @classmethod
    def of(cls, msg: audit_pb2.AuditEntry) -> AuditEntryOut:
        return cls(
            service=msg.service,
            id=msg.id,
            at=msg.at,
            actor_account_id=msg.actor_account_id,
            action=msg.action,
            target=msg.target,
            reason=msg.reason,
            detail=msg.detail,
        )


async def list_staff(request: Request, admin: pb.Account) -> list[StaffMemberOut]:
    reply = await identity(request).ListStaff(
        pb.AdminListRequest(actor_account_id=admin.id), metadata=as_staff(admin), timeout=rpc_timeout(request)
    )
    return [StaffMemberOut.of(m) for m in reply.members]


async def change_role(request: Request, admin: pb.Account, body: RoleChangeBody) -> StaffMemberOut:
    reply = await identity(request).ChangeStaffRole(
        pb.ChangeStaffRoleRequest(
            actor_account_id=admin.id, email=body.email, role=body.role, grant=body.grant, reason=body.reason
        ),
        metadata=as_staff(admin),
        timeout=rpc_timeout(request),
    )
    return StaffMemberOut.of(reply)


async def audit_page(
    request: Request, admin: pb.Account, limit: int, page_token: str, service: AuditService = "identity"
) -> tuple[list[AuditEntryOut], str]:
    """One page of one service's trail: each service keeps the entries of what its staff
    calls did, so the trail is read per service."""
    reply = await AUDITED[service](request).ListAuditEntries(
        audit_pb2.AuditListRequest(actor_account_id=admin.id, page_size=limit, page_token=page_token),
        metadata=as_staff(admin),
        timeout=rpc_timeout(request),
    )
    return [AuditEntryOut.of(e) for e in reply.entries], reply.next_page_token


@router.get("/admin/staff", response_model=list[StaffMemberOut])
async def staff_members(request: Request, admin: Admin) -> list[StaffMemberOut]:
    """Everyone who holds a staff role, and which."""
    return await list_staff(request, admin)


@router.post("/admin/staff/roles", response_model=StaffMemberOut)
async def grant_or_revoke(body: RoleChangeBody, request: Request, admin: Admin) -> StaffMemberOut:
    """Grant or revoke one role of the account with this address (step-up, a reason)."""
    return await change_role(request, admin, body)


@router.get("/admin/audit", response_model=list[AuditEntryOut])
async def audit_entries(
    request: Request,
    response: Response,
    admin: Admin,
    service: AuditService = "identity",
    limit: PageLimit = DEFAULT_LIMIT,
    page_token: PageToken = "",
) -> list[AuditEntryOut]:
    """The staff audit trail of one service, newest first (identity: roles, portal
    decisions, organisations, contact requests; consent: privacy requests, objections, the
    verifier, texts; shop: orders, legal-hold reads, products; newsletter: campaigns); the
    next page is in the ``Link`` header."""
    entries, token = await audit_page(request, admin, limit, page_token, service)
    link_next_page(request, response, token)
    return entries
