"""What the identity service hands out: read-only views of its records.

The repository stores documents; these views are what the domain returns
and the gRPC layer translates. Nothing here carries a password hash.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lethe_common.staff import ADMIN, ROLES

PORTAL_STATUSES = ("none", "pending", "approved", "rejected")
CONTACT_KINDS = ("contact", "callback")
CONTACT_STATUSES = ("open", "closed")
# The purposes of verification links.
ACTIVATE = "activate"
CHANGE_EMAIL = "change_email"
RESET_PASSWORD = "reset_password"  # noqa: S105 (a purpose, not a password)


def _time(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def millis(moment: datetime) -> datetime:
    """A time to the millisecond, as the store keeps it: keys made from a time before it
    is stored and after it is read back are then the same."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def utcnow() -> datetime:
    return millis(datetime.now(UTC))


# Portal-access steps (an account's log ``<account>/portal/<n>``): an ``access`` step carries
# the whole state; a ``marker`` step changes nothing but orders itself among the others (a
# restriction, an address change), so that a decision made on an older view loses the race.
ACCESS = "access"
MARKER = "marker"


def portal_step(steps: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The step holding the current portal access (None: never asked, or reset)."""
    for step in reversed(steps):
        if step.get("kind") == ACCESS:
            return step if step.get("status", "none") != "none" else None
    return None


@dataclass(frozen=True)
class PortalAccessView:
    status: str = "none"
    organisation_id: str = ""
    organisation_name: str = ""
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    reason: str = ""

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> PortalAccessView:
        doc = doc or {}
        return cls(
            status=doc.get("status", "none"),
            organisation_id=doc.get("organisation_id", ""),
            organisation_name=doc.get("organisation_name", ""),
            requested_at=_time(doc.get("requested_at")),
            decided_at=_time(doc.get("decided_at")),
            reason=doc.get("reason", ""),
        )


@dataclass(frozen=True)
class AccountView:
    id: str
    email: str
    name: str
    phone: str
    email_verified: bool
    roles: tuple[str, ...]
    portal_access: PortalAccessView
    pending_email: str
    account_consent_version: str
    created_at: datetime | None
    restricted: bool = False
    subject_key: str = ""
    former_subject_keys: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    @classmethod
    def from_doc(cls, doc: dict[str, Any], admin_emails: frozenset[str]) -> AccountView:
        """The account as the service shows it. Staff roles are those granted in the back
        office (``staff_roles``), plus admin for whoever has verified an address listed in
        IDENTITY_ADMIN_EMAILS (the first admin), so taking an address off the list revokes
        that admin at once. An account that is not active holds no role."""
        verified = doc.get("status") == "active"
        granted = set(doc.get("staff_roles") or ()) & set(ROLES)
        if doc["email"] in admin_emails:
            granted.add(ADMIN)
        return cls(
            id=doc["_id"],
            email=doc["email"],
            name=doc.get("name", ""),
            phone=doc.get("phone", ""),
            email_verified=verified,
            roles=tuple(r for r in ROLES if r in granted) if verified else (),
            portal_access=PortalAccessView.from_doc(doc.get("portal_access")),
            pending_email=doc.get("pending_email", ""),
            account_consent_version=doc.get("account_consent_version", ""),
            created_at=_time(doc.get("created_at")),
            restricted=bool(doc.get("restricted", False)),
            subject_key=str(doc.get("subject_key") or ""),
            former_subject_keys=tuple(doc.get("former_subject_keys") or ()),
        )


@dataclass(frozen=True)
class OrganisationView:
    id: str
    name: str
    domains: tuple[str, ...]
    created_at: datetime | None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> OrganisationView:
        return cls(
            id=doc["_id"],
            name=doc["name"],
            domains=tuple(doc.get("domains", ())),
            created_at=_time(doc.get("created_at")),
        )


@dataclass(frozen=True)
class ContactView:
    id: str
    kind: str
    name: str
    email: str
    phone: str
    message: str
    status: str
    created_at: datetime | None
    closed_at: datetime | None = field(default=None)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> ContactView:
        return cls(
            id=doc["_id"],
            kind=doc["kind"],
            name=doc["name"],
            email=doc["email"],
            phone=doc.get("phone", ""),
            message=doc["message"],
            status=doc["status"],
            created_at=_time(doc.get("created_at")),
            closed_at=_time(doc.get("closed_at")),
        )


@dataclass(frozen=True)
class LoginResult:
    session_token: str
    account: AccountView
    cookie_max_age_seconds: int
