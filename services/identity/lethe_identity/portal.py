"""Portal access: for employees of customer organisations (:mod:`organisations`).

The domain of a person's verified address must belong to an organisation, and staff
approve.

A person's portal access is a step log (``<account>/portal/<n>``): the person's request,
staff's decision, the reset by an e-mail change and a restriction each append a step
decided on the steps before it. So two staff deciding one request at once: the first
step wins, the second sees no pending request (FailedPrecondition); a decision and a
restriction, or an e-mail change, are ordered too. The profile lives elsewhere, so a
decision and the person's profile edit never touch the same document.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from lethe_common.audit import AuditRecord
from lethe_common.errors import (
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.staff import SUPPORT, holds
from lethe_common.store.index import TimeQueue
from lethe_common.store.paging import decode_cursor, encode_cursor, filtered_page, page_size
from lethe_common.store.steps import Step
from lethe_common.subject import Subject
from lethe_identity import validation
from lethe_identity.mailer import Mailer
from lethe_identity.models import (
    ACCESS,
    MARKER,
    AccountView,
    OrganisationView,
    PortalAccessView,
    portal_step,
    utcnow,
)
from lethe_identity.organisations import Organisations
from lethe_identity.repo_portal import parse_portal_item, portal_item, portal_queue
from lethe_identity.repository import IdentityRepository

NO_ORGANISATION = "your e-mail domain does not belong to a customer organisation"
NO_PENDING = "this person has no pending portal-access request"
RESTRICTED = (
    "this person has restricted the processing of their data; "
    "staff cannot change their account until it is lifted"
)
# A list entry whose step never came (a crash between the two) is dropped after this long.
ORPHAN_AFTER = timedelta(hours=1)


class Portal:
    def __init__(
        self,
        repo: IdentityRepository,
        mailer: Mailer,
        admin_emails: frozenset[str],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._admin_emails = admin_emails
        self._repo = repo
        self._mailer = mailer
        self._clock = clock
        self.organisations = Organisations(repo, self.require_support, clock)

    # -- staff -----------------------------------------------------------------------------
    def require_role(self, actor_id: str, *roles: str) -> AccountView:
        """The acting staff member, if their account holds one of ``roles`` now (admin holds
        all): the assertion the call carried was checked already, and this sees a role
        revoked since it was signed."""
        doc = self._repo.accounts.account(validation.object_id(actor_id, "actor_account_id"))
        account = AccountView.from_doc(doc, self._admin_emails) if doc else None
        if account is None or not holds(account.roles, roles):
            raise PermissionDenied(f"this needs the {' or '.join(roles)} role")
        return account

    def require_support(self, actor_id: str) -> AccountView:
        return self.require_role(actor_id, SUPPORT)

    # -- a person asks -----------------------------------------------------------------
    @staticmethod
    def _event(subject: Subject, access: Document) -> Envelope:
        return Envelope(
            type="account.portal_access_changed",
            source="identity",
            subject_key=subject.subject_key,
            payload={
                "account_id": subject.account_id,
                "status": str(access["status"]),
                "organisation_id": str(access.get("organisation_id", "")),
            },
        )

    def _unlist(self, account_id: str, step: Document | None) -> None:
        """Take a step that no longer holds out of its staff list."""
        if step is not None:
            self._repo.organisations.dequeue(
                TimeQueue.entry_id(
                    portal_queue(str(step["status"])),
                    step["requested_at"],
                    portal_item(account_id, int(step["n"]), str(step.get("w", "-"))),
                )
            )

    def _append(self, account_id: str, decide: Callable[[list[Document]], Step | None]) -> None:
        """Append a portal step; one that lands after an erasure of the account is taken back."""
        step = self._repo.accounts.append_portal(account_id, decide)
        if step is not None and not self._repo.accounts.exists(account_id):
            self._repo.accounts.delete_part(str(step["_id"]))
            raise NotFound("no such account")

    def request_access(self, account_id: str) -> PortalAccessView:
        doc = self._repo.accounts.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        if not AccountView.from_doc(doc, self._admin_emails).email_verified:
            raise FailedPrecondition("please confirm your e-mail address first")
        outcome: dict[str, Document | None] = {}

        def ask(steps: list[Document]) -> Step | None:
            current = portal_step(steps)
            outcome["before"] = current
            if current is not None and current["status"] in ("pending", "approved"):
                outcome["access"] = current
                return None
            profile = self._repo.accounts.profiles.head(account_id) or {}
            domain = validation.email_domain(str(profile.get("email", "@")))
            now = self._clock()
            organisation = self.organisations.of_domain(domain)
            access: Document = {"kind": ACCESS, "requested_at": now, "domain": domain, "w": uuid.uuid4().hex}
            if organisation is None:
                access.update(status="rejected", decided_at=now, reason=NO_ORGANISATION)
            else:
                access.update(
                    status="pending",
                    organisation_id=organisation["_id"],
                    organisation_name=organisation["name"],
                )
            self._repo.organisations.enqueue(access["status"], now, account_id, len(steps), access["w"], now)
            outcome["access"] = access
            holder = Subject(account_id=account_id, subject_key=str(profile.get("subject_key", "")))
            return Step(access, [self._event(holder, access)])

        self._append(account_id, ask)
        access = outcome["access"]
        if access is not outcome["before"]:
            self._unlist(account_id, outcome["before"])
        return PortalAccessView.from_doc(access)

    def organisation_of(self, account_id: str) -> OrganisationView:
        """The caller's organisation: only for people whose portal access is approved."""
        doc = self._repo.accounts.account(validation.object_id(account_id, "account_id"))
        access = PortalAccessView.from_doc(doc.get("portal_access") if doc else None)
        if access.status != "approved":
            raise PermissionDenied("this part of the portal needs approved portal access")
        organisation = self._repo.organisations.head(access.organisation_id)
        if organisation is None:
            raise NotFound("your organisation no longer exists")
        return OrganisationView.from_doc({**organisation, "_id": access.organisation_id})

    def address_changed(self, account_id: str, domain: str, now: datetime) -> None:
        """After an e-mail change: access granted for another domain ends. Always a step,
        so that a request or decision made on the old address loses its race."""
        reset: dict[str, Document | None] = {}

        def change(steps: list[Document]) -> Step:
            current = portal_step(steps)
            if current is not None and current.get("domain") != domain:
                reset["step"] = current
                return Step({"kind": ACCESS, "status": "none", "at": now, "domain": domain})
            reset["step"] = None
            return Step({"kind": MARKER, "what": "address", "at": now, "domain": domain})

        self._append(account_id, change)
        self._unlist(account_id, reset["step"])

    def restriction_changed(self, account_id: str, restricted: bool, at: datetime) -> None:
        """A marker step: a decision made before the restriction was recorded loses."""
        self._append(
            account_id,
            lambda _: Step({"kind": MARKER, "what": "restriction", "restricted": restricted, "at": at}),
        )

    # -- staff decide --------------------------------------------------------------------
    def requests(
        self, actor_id: str, status: str, size: int = 0, token: str = ""
    ) -> tuple[list[AccountView], str]:
        """Portal requests of one status, oldest request first, a page at a time."""
        self.require_support(actor_id)
        wanted = status or "pending"
        if wanted not in ("pending", "approved", "rejected"):
            raise InvalidArgument("status must be pending, approved or rejected")
        shown: dict[str, AccountView] = {}
        now = self._clock()

        def keep(entry: Document) -> bool:
            account_id, number, writer = parse_portal_item(str(entry["item"]))
            doc = self._repo.accounts.account(account_id)
            steps = doc["portal_steps"] if doc else []
            current = portal_step(steps)
            if (
                doc is not None
                and current is not None
                and current["n"] == number
                and current.get("w") == writer
                and current["status"] == wanted
            ):
                shown[str(entry["_id"])] = AccountView.from_doc(doc, self._admin_emails)
                return True
            # Stale for good: the account is gone, step n was appended (by this writer and
            # superseded since, or by another), or it never came. Else its writer is at work.
            appended = any(s.get("n") == number for s in steps)
            queued: datetime = entry.get("queued_at") or entry["at"]
            if doc is None or appended or queued < now - ORPHAN_AFTER:
                self._repo.organisations.dequeue(str(entry["_id"]))
            return False

        page = filtered_page(
            lambda cursor, limit: self._repo.organisations.queue_page(wanted, cursor, limit),
            keep,
            after=decode_cursor(token),
            limit=page_size(size),
        )
        return [shown[str(entry["_id"])] for entry in page.items], encode_cursor(page.next_cursor)

    def decide(self, actor_id: str, account_id: str, approve: bool, reason: str) -> PortalAccessView:
        self.require_support(actor_id)
        checked_reason = validation.text(reason, "reason", max_length=500, required=False)
        doc = self._repo.accounts.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        account = AccountView.from_doc(doc, self._admin_emails)
        decided: dict[str, Document] = {}

        def decision(steps: list[Document]) -> Step:
            current = portal_step(steps)
            if current is None or current["status"] != "pending":
                raise FailedPrecondition(NO_PENDING)
            if self._repo.accounts.restricted(account_id):
                raise FailedPrecondition(RESTRICTED)
            kept: Document = {
                name: current[name]
                for name in ("requested_at", "organisation_id", "organisation_name", "domain")
                if name in current
            }
            access: Document = {
                **kept,
                "kind": ACCESS,
                "status": "approved" if approve else "rejected",
                "decided_at": self._clock(),
                "decided_by": actor_id,
                "reason": checked_reason,
                "w": uuid.uuid4().hex,
            }
            self._repo.organisations.enqueue(
                access["status"],
                access["requested_at"],
                account_id,
                len(steps),
                access["w"],
                access["decided_at"],
            )
            decided.update(before=current, access=access)
            holder = Subject(account_id=account_id, subject_key=str(doc["subject_key"]))
            return Step(access, [self._event(holder, access)])

        self._append(account_id, decision)
        self._unlist(account_id, decided["before"])
        access = decided["access"]
        self._repo.audit.record(
            AuditRecord(
                actor_id,
                f"portal_access.{access['status']}",
                target=account_id,
                subject_key=str(doc["subject_key"]),
                reason=checked_reason,
            )
        )
        self._mailer.portal_decision(
            account.email, account.name, approve, str(access.get("organisation_name", "")), checked_reason
        )
        return PortalAccessView.from_doc(access)
