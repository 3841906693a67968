"""Back-office pages of the admin role: staff roles (grant, revoke) and the audit trail.

Granting or revoking asks for a reason and, when the password was last entered more than
10 minutes ago, for the password again (identity says so: ``reauthentication_required``).
The form carries an optional password field for that: when it is filled the password is
checked first, so one submission does both.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from lethe.identity.v1 import identity_pb2 as pb
from lethe_common.staff import ADMIN, ROLES
from lethe_gateway.routes.admin_staff import (
    AUDITED,
    audit_page,
    change_role,
    list_staff,
)
from lethe_gateway.schemas import RoleChangeBody
from lethe_gateway.web.forms import csrf_ok, field
from lethe_gateway.web.i18n import language, translator
from lethe_gateway.web.outcome import Refused, attempt
from lethe_gateway.web.render import expired, problem, render
from lethe_gateway.web.staff_gate import after_step_up, staff_account
from lethe_gateway.web.step_up import STEP_UP, WrongPassword

router = APIRouter()


async def _roles_page(
    request: Request,
    admin: pb.Account,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    message: str = "",
    notice: str = "",
    step_up: bool = False,
    status_code: int = 200,
) -> Response:
    t = translator(language(request))
    try:
        members = await attempt(list_staff(request, admin), t("error.unavailable"))
    except Refused as no:
        return problem(request, admin, no.message, no.status)
    return render(
        request,
        "staff_roles.html",
        account=admin,
        members=members,
        roles=ROLES,
        values=values or {"email": "", "role": "support", "change": "grant", "reason": ""},
        errors=errors or {},
        message=message,
        notice=notice,
        step_up=step_up,
        status_code=status_code,
    )


@router.get("/staff/roles")
async def roles_page(request: Request) -> Response:
    admin = await staff_account(request, ADMIN)
    if isinstance(admin, Response):
        return admin
    return await _roles_page(request, admin)


@router.post("/staff/roles")
async def roles_submit(request: Request) -> Response:
    form = await request.form()
    if not csrf_ok(request, form):
        return expired(request)
    admin = await staff_account(request, ADMIN)
    if isinstance(admin, Response):
        return admin
    t = translator(language(request))
    values = {name: field(form, name) for name in ("email", "role", "change", "reason")}
    password = str(form.get("password", ""))
    try:
        body = RoleChangeBody(
            email=values["email"],
            role=values["role"],  # type: ignore[arg-type]  # checked by the model
            grant=values["change"] != "revoke",
            reason=values["reason"],
        )
    except ValidationError as exc:
        names = {str(p["loc"][0]) for p in exc.errors() if p.get("loc")}
        errors = {n: t(f"staff.roles.field.{n}") for n in names if n in ("email", "role", "reason")}
        return await _roles_page(
            request, admin, values=values, errors=errors, message=t("error.field"), status_code=422
        )
    try:
        actor = await after_step_up(request, admin, password, ADMIN)
        if isinstance(actor, Response):
            return actor
        member = await attempt(change_role(request, actor, body), t("error.unavailable"))
    except Refused as no:
        wrong = isinstance(no, WrongPassword)
        step_up = no.code == STEP_UP or wrong
        errors = {"password": t("staff.roles.wrong_password")} if wrong else {}
        text = t("staff.roles.step_up") if no.code == STEP_UP else no.message
        return await _roles_page(
            request, admin, values=values, errors=errors, message=text, step_up=step_up, status_code=no.status
        )
    done = t(
        "staff.roles.granted" if body.grant else "staff.roles.revoked", role=t(f"staff.role.{body.role}")
    )
    return await _roles_page(request, admin, notice=f"{done} ({member.email})")


@router.get("/staff/audit")
async def audit_trail_page(request: Request, service: str = "identity", page_token: str = "") -> Response:
    admin = await staff_account(request, ADMIN)
    if isinstance(admin, Response):
        return admin
    t = translator(language(request))
    shown = service if service in AUDITED else "identity"
    try:
        entries, next_token = await attempt(
            audit_page(request, admin, 50, page_token[:200], shown),  # type: ignore[arg-type]
            t("error.unavailable"),
        )
    except Refused as no:
        if no.status == 422:  # a page token that is not ours: start again
            return RedirectResponse("/staff/audit", status_code=303)
        return problem(request, admin, no.message, no.status)
    return render(
        request,
        "staff_audit.html",
        account=admin,
        entries=entries,
        next_token=next_token,
        service=shown,
        services=list(AUDITED),
    )
