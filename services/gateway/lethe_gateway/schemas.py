"""The JSON bodies of the public API, as the OpenAPI document describes them.

Required fields are marked required; everything else is optional (data
minimisation). Unknown fields are refused, so a typo or a field the server
computes itself (an id, a role) is an error rather than silently dropped.

Every request body model is strict (``strict=True``): a value of the wrong JSON type
is a 422 rather than converted (``"3"`` is no quantity, ``"true"`` or ``1`` no boolean,
``5`` no name); errors.py says which type was expected and which came. FastAPI validates
bodies in pydantic's Python mode, where strict also refuses the ISO strings a JSON client
sends for ``datetime``, ``date`` or ``UUID`` fields and the plain strings it sends for
``Enum`` fields: choices here are ``Literal`` strings, and a field of one of those types
needs ``Field(strict=False)`` (the JSON API documents them as strings).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from lethe.identity.v1 import identity_pb2 as pb

Email = Annotated[str, Field(min_length=3, max_length=254, examples=["ada@example.com"])]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Phone = Annotated[str, Field(max_length=32, examples=["+49 30 1234567"])]
Password = Annotated[str, Field(min_length=10, max_length=1024)]
Token = Annotated[str, Field(min_length=1, max_length=128)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class RegisterBody(Strict):
    email: Email
    password: Password
    name: Name
    phone: Phone | None = None
    account_consent_version: Annotated[str, Field(min_length=1, max_length=32, examples=["2026-01"])]


class VerifyBody(Strict):
    token: Token
    password: Annotated[
        str,
        Field(
            max_length=1024,
            description=(
                "the account's password: required to activate a new account, "
                "not needed to confirm a changed address"
            ),
        ),
    ] = ""


class EmailBody(Strict):
    email: Email


class LoginBody(Strict):
    email: Email
    password: Annotated[str, Field(min_length=1, max_length=1024)]
    remember_me: bool = False


class ProfilePatch(Strict):
    name: Name | None = None
    phone: Phone | None = Field(default=None, description="an empty string removes the number")
    email: Email | None = Field(default=None, description="takes effect after the new address is verified")


class ContactBody(Strict):
    name: Name
    email: Email
    phone: Phone | None = None
    message: Annotated[str, Field(min_length=1, max_length=5000)]
    kind: Literal["contact", "callback"] = "contact"
    website: Annotated[
        str,
        Field(
            max_length=200, description=("leave empty: a field people never see, so only robots fill it in")
        ),
    ] = ""


class OrganisationBody(Strict):
    name: Name
    domains: Annotated[
        list[Annotated[str, Field(min_length=3, max_length=253)]], Field(min_length=1, max_length=50)
    ]


class OrganisationPatch(Strict):
    name: Name | None = None
    domains: (
        Annotated[
            list[Annotated[str, Field(min_length=3, max_length=253)]], Field(min_length=1, max_length=50)
        ]
        | None
    ) = None


class DecisionBody(Strict):
    approve: bool
    reason: Annotated[str, Field(max_length=500)] = ""


# -- responses -------------------------------------------------------------------------
def _opt(value: str) -> str | None:
    return value or None


class PortalAccessOut(BaseModel):
    status: str
    organisation_id: str | None = None
    organisation_name: str | None = None
    requested_at: str | None = None
    decided_at: str | None = None
    reason: str | None = None

    @classmethod
    def of(cls, msg: pb.PortalAccess) -> PortalAccessOut:
        return cls(
            status=msg.status or "none",
            organisation_id=_opt(msg.organisation_id),
            organisation_name=_opt(msg.organisation_name),
            requested_at=_opt(msg.requested_at),
            decided_at=_opt(msg.decided_at),
            reason=_opt(msg.reason),
        )


class AccountOut(BaseModel):
    id: str
    email: str
    name: str
    phone: str | None
    email_verified: bool
    roles: list[str]
    portal_access: PortalAccessOut
    pending_email: str | None
    account_consent_version: str
    created_at: str
    restricted: bool

    @classmethod
    def of(cls, msg: pb.Account) -> AccountOut:
        return cls(
            id=msg.id,
            email=msg.email,
            name=msg.name,
            phone=_opt(msg.phone),
            email_verified=msg.email_verified,
            roles=list(msg.roles),
            portal_access=PortalAccessOut.of(msg.portal_access),
            pending_email=_opt(msg.pending_email),
            account_consent_version=msg.account_consent_version,
            created_at=msg.created_at,
            restricted=msg.restricted,
        )


class Registered(BaseModel):
    id: str
    message: str


class Accepted(BaseModel):
    message: str


class OrganisationOut(BaseModel):
    id: str
    name: str
    domains: list[str]
    created_at: str

    @classmethod
    def of(cls, msg: pb.Organisation) -> OrganisationOut:
        return cls(id=msg.id, name=msg.name, domains=list(msg.domains), created_at=msg.created_at)


class PortalRequestOut(BaseModel):
    account_id: str
    name: str
    email: str
    access: PortalAccessOut


class ContactOut(BaseModel):
    id: str
    kind: str
    name: str
    email: str
    phone: str | None
    message: str
    status: str
    created_at: str
    closed_at: str | None

    @classmethod
    def of(cls, msg: pb.ContactRequest) -> ContactOut:
        return cls(
            id=msg.id,
            kind=msg.kind,
            name=msg.name,
            email=msg.email,
            phone=_opt(msg.phone),
            message=msg.message,
            status=msg.status,
            created_at=msg.created_at,
            closed_at=_opt(msg.closed_at),
        )


class PasswordResetBody(Strict):
    token: Token
    new_password: Password


class PasswordChangeBody(Strict):
    current_password: Annotated[str, Field(min_length=1, max_length=1024)]
    new_password: Password


class PasswordSet(BaseModel):
    message: str


StaffRole = Literal["support", "privacy", "accounting", "marketing", "admin"]


class RoleChangeBody(Strict):
    email: Annotated[str, Field(min_length=3, max_length=254)]
    role: StaffRole
    grant: bool
    reason: Annotated[str, Field(min_length=3, max_length=300)]


class PasswordCheckBody(Strict):
    password: Annotated[str, Field(min_length=1, max_length=1024)]
