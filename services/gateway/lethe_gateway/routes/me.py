"""The logged-in person's own profile, portal access and portal."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request

from lethe.identity.v1 import identity_pb2 as pb
from lethe_gateway.auth import REAUTHENTICATE, require_recent_password
from lethe_gateway.deps import LoggedIn, PortalMember, client_address, identity, rpc_timeout
from lethe_gateway.schemas import AccountOut, OrganisationOut, PortalAccessOut, ProfilePatch

router = APIRouter(tags=["me"])


@router.get("/me", response_model=AccountOut)
async def get_me(account: LoggedIn) -> AccountOut:
    return AccountOut.of(account)


@router.patch(
    "/me",
    response_model=AccountOut,
    responses={403: {"description": REAUTHENTICATE}},
)
async def patch_me(body: ProfilePatch, request: Request, account: LoggedIn) -> AccountOut:
    """Rectify name and phone at once; a new e-mail address waits for its verification and
    needs the password entered within 10 minutes (nothing changes otherwise)."""
    fields = body.model_dump(exclude_unset=True)
    if any(name in fields and fields[name] is None for name in ("name", "email")):
        raise HTTPException(422, "name and email cannot be removed, only changed")
    if fields.get("email") and str(fields["email"]).strip().lower() != account.email.lower():
        await require_recent_password(request)
    update = pb.UpdateProfileRequest(
        account_id=account.id,
        client_address=client_address(request),
        **{name: value if value is not None else "" for name, value in fields.items()},
    )
    reply = await identity(request).UpdateProfile(update, timeout=rpc_timeout(request))
    return AccountOut.of(reply)


@router.post("/me/portal-access", response_model=PortalAccessOut)
async def ask_portal_access(request: Request, account: LoggedIn) -> PortalAccessOut:
    """Ask for portal access: refused at once unless the domain is a customer's, then staff decide."""
    reply = await identity(request).RequestPortalAccess(
        pb.AccountRef(account_id=account.id), timeout=rpc_timeout(request)
    )
    return PortalAccessOut.of(reply)


@router.get("/portal/organisation", response_model=OrganisationOut, tags=["portal"])
async def portal_organisation(request: Request, account: PortalMember) -> OrganisationOut:
    """The organisation the person works for (portal-only)."""
    reply = await identity(request).GetPortalOrganisation(
        pb.AccountRef(account_id=account.id), timeout=rpc_timeout(request)
    )
    return OrganisationOut.of(reply)
