"""Staff roles: granted and revoked by an admin in the back office, each change recorded.

An account's roles are its staff steps (``<account>/staff/<n>``, repo_accounts.py): every
step holds the roles after it, who changed them, when and why, so two admins changing one
person's roles at once cannot lose either change, and the steps are that person's history
of roles. Each change also goes into the audit trail (lethe_common/audit.py). The first
admins come from ``IDENTITY_ADMIN_EMAILS``: their admin role is not stored and cannot be
revoked here (take the address off the list).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lethe_common.audit import AuditRecord, AuditTrail
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound
from lethe_common.mongo import Document
from lethe_common.staff import ADMIN, ROLES
from lethe_common.store.steps import Step
from lethe_identity import validation
from lethe_identity.accounts import Accounts
from lethe_identity.models import AccountView, utcnow
from lethe_identity.portal import Portal
from lethe_identity.repository import IdentityRepository

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaffMemberView:
    account: AccountView
    admin_from_environment: bool


class StaffRoles:
    def __init__(
        self,
        repo: IdentityRepository,
        accounts: Accounts,
        portal: Portal,
        admin_emails: frozenset[str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._accounts = accounts
        self._portal = portal
        self._admin_emails = admin_emails
        self._clock = clock

    def change(self, actor_id: str, email: str, role: str, grant: bool, reason: str) -> StaffMemberView:
        """Grant or revoke one role of the account that holds ``email``; a change that changes
        nothing (granting a role held) is no change and leaves no entry."""
        self._portal.require_role(actor_id, ADMIN)
        if role not in ROLES:
            raise InvalidArgument(f"role must be one of {', '.join(ROLES)}")
        why = validation.text(reason, "reason", max_length=300)
        if len(why) < 3:
            raise InvalidArgument("please give a reason of at least 3 characters")
        doc = self._accounts.by_address(validation.email(email))
        if doc is None or doc.get("status") != "active":
            raise NotFound("no active account has this address")
        target = str(doc["_id"])
        if not grant and role == ADMIN and doc["email"] in self._admin_emails:
            raise FailedPrecondition(
                "this admin role comes from IDENTITY_ADMIN_EMAILS; take the address off that list"
            )
        if not grant and target == actor_id and role == ADMIN:
            raise FailedPrecondition("an admin cannot revoke their own admin role; ask another admin")
        now = self._clock()

        def decide(steps: list[Document]) -> Step | None:
            held = set(steps[-1].get("roles", ())) if steps else set()
            after = held | {role} if grant else held - {role}
            if after == held:
                return None
            ordered = [r for r in ROLES if r in after]
            return Step(
                {"roles": ordered, "role": role, "grant": grant, "by": actor_id, "reason": why, "at": now}
            )

        step = self._repo.accounts.append_staff(target, decide)
        if step is not None:
            if not self._repo.accounts.exists(target):  # erased at this moment
                self._repo.accounts.delete_part(str(step["_id"]))
                raise NotFound("no active account has this address")
            self._repo.list_staff(target, bool(step["roles"]))
            self._repo.audit.record(
                AuditRecord(
                    actor_id,
                    "staff_role.granted" if grant else "staff_role.revoked",
                    target=target,
                    subject_key=str(doc["subject_key"]),
                    reason=why,
                    detail=role,
                ),
                now,
            )
            log.info("staff role changed", extra={"role": role, "grant": grant})
        return self._member(target)

    def _member(self, account_id: str) -> StaffMemberView:
        doc = self._repo.accounts.account(account_id)
        if doc is None:
            raise NotFound("no active account has this address")
        view = AccountView.from_doc(doc, self._admin_emails)
        return StaffMemberView(view, doc["email"] in self._admin_emails)

    def members(self, actor_id: str) -> list[StaffMemberView]:
        """Everyone who holds a role now: the granted ones and the first admins."""
        self._portal.require_role(actor_id, ADMIN)
        found: dict[str, StaffMemberView] = {}
        for address in sorted(self._admin_emails):
            doc = self._accounts.by_address(address)
            if doc is not None and doc.get("status") == "active":
                found[str(doc["_id"])] = StaffMemberView(AccountView.from_doc(doc, self._admin_emails), True)
        for account_id in self._repo.staff_ids():
            if account_id in found:
                continue
            doc = self._repo.accounts.account(account_id)
            view = AccountView.from_doc(doc, self._admin_emails) if doc else None
            if view is not None and view.roles:
                found[account_id] = StaffMemberView(view, False)
        return sorted(found.values(), key=lambda m: m.account.email)

    def require_admin(self, actor_id: str) -> None:
        self._portal.require_role(actor_id, ADMIN)

    @property
    def trail(self) -> AuditTrail:
        """Identity's audit trail (read it after :meth:`require_admin`)."""
        return self._repo.audit
