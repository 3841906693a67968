"""Customer organisations and portal access.

Portal access is for employees of customer organisations: the domain of a
person's verified address must belong to an organisation, and staff approve.
Each domain belongs to at most one organisation (a unique key decides).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from lethe_common import tokens
from lethe_common.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from lethe_common.events.envelope import Envelope
from lethe_identity import validation
from lethe_identity.accounts import utcnow
from lethe_identity.mailer import Mailer
from lethe_identity.models import AccountView, OrganisationView, PortalAccessView
from lethe_identity.repository import IdentityRepository

MAX_DOMAINS = 50
NO_ORGANISATION = "your e-mail domain does not belong to a customer organisation"


class Portal:
    def __init__(self, repo: IdentityRepository, mailer: Mailer, admin_emails: frozenset[str],
                 clock: Callable[[], datetime] = utcnow) -> None:
        self._admin_emails = admin_emails
        self._repo = repo
        self._mailer = mailer
        self._clock = clock

    # -- staff: organisations --------------------------------------------------------
    def require_admin(self, actor_id: str) -> AccountView:
        doc = self._repo.account(validation.object_id(actor_id, "actor_account_id"))
        account = AccountView.from_doc(doc, self._admin_emails) if doc else None
        if account is None or not account.is_admin:
            raise PermissionDenied("this needs the admin role")
        return account

    @staticmethod
    def _domains(domains: Sequence[str]) -> list[str]:
        checked = sorted({validation.domain(d) for d in domains})
        if not checked:
            raise InvalidArgument("an organisation needs at least one e-mail domain")
        if len(checked) > MAX_DOMAINS:
            raise InvalidArgument(f"an organisation may have at most {MAX_DOMAINS} domains")
        return checked

    def _claim(self, domains: Sequence[str], organisation_id: str) -> None:
        claimed: list[str] = []
        for domain in domains:
            if not self._repo.claim_domain(domain, organisation_id):
                self._repo.release_domains(claimed, organisation_id)
                raise AlreadyExists(f"the domain {domain} already belongs to an organisation")
            claimed.append(domain)

    def create_organisation(self, actor_id: str, name: str, domains: Sequence[str]) -> OrganisationView:
        self.require_admin(actor_id)
        organisation_id, checked = tokens.new_id("org"), self._domains(domains)
        doc = {"_id": organisation_id, "name": validation.text(name, "name", max_length=200),
               "domains": checked, "created_at": self._clock()}
        self._claim(checked, organisation_id)
        self._repo.insert_organisation(doc)
        return OrganisationView.from_doc(doc)

    def update_organisation(self, actor_id: str, organisation_id: str, name: str | None,
                            domains: Sequence[str] | None) -> OrganisationView:
        self.require_admin(actor_id)
        current = self._repo.organisation(validation.object_id(organisation_id, "organisation_id"))
        if current is None:
            raise NotFound("no such organisation")
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = validation.text(name, "name", max_length=200)
        if domains is not None:
            wanted = self._domains(domains)
            self._claim([d for d in wanted if d not in current["domains"]], organisation_id)
            self._repo.release_domains([d for d in current["domains"] if d not in wanted],
                                       organisation_id)
            changes["domains"] = wanted
        if changes:
            self._repo.update_organisation(organisation_id, changes)
        return OrganisationView.from_doc({**current, **changes})

    def organisations(self, actor_id: str) -> list[OrganisationView]:
        self.require_admin(actor_id)
        return [OrganisationView.from_doc(doc) for doc in self._repo.organisations()]

    # -- a person asks -----------------------------------------------------------------
    def _event(self, account: AccountView, doc_key: str, access: dict[str, object]) -> Envelope:
        return Envelope(type="account.portal_access_changed", source="identity",
                        subject_key=doc_key,
                        payload={"account_id": account.id, "status": str(access["status"]),
                                 "organisation_id": str(access.get("organisation_id", ""))})

    def request_access(self, account_id: str) -> PortalAccessView:
        doc = self._repo.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        account = AccountView.from_doc(doc, self._admin_emails)
        if not account.email_verified:
            raise FailedPrecondition("please confirm your e-mail address first")
        if account.portal_access.status in ("pending", "approved"):
            return account.portal_access
        now = self._clock()
        organisation = self._repo.organisation_of_domain(validation.email_domain(account.email))
        access: dict[str, object]
        if organisation is None:
            access = {"status": "rejected", "requested_at": now, "decided_at": now,
                      "reason": NO_ORGANISATION}
        else:
            access = {"status": "pending", "requested_at": now,
                      "organisation_id": organisation["_id"],
                      "organisation_name": organisation["name"]}
        self._repo.update_account(account.id, {"portal_access": access},
                                  events=[self._event(account, doc["subject_key"], access)])
        return PortalAccessView.from_doc(access)

    def organisation_of(self, account_id: str) -> OrganisationView:
        """The caller's organisation: only for people whose portal access is approved."""
        doc = self._repo.account(validation.object_id(account_id, "account_id"))
        access = PortalAccessView.from_doc(doc.get("portal_access") if doc else None)
        if access.status != "approved":
            raise PermissionDenied("this part of the portal needs approved portal access")
        organisation = self._repo.organisation(access.organisation_id)
        if organisation is None:
            raise NotFound("your organisation no longer exists")
        return OrganisationView.from_doc(organisation)

    # -- staff decide --------------------------------------------------------------------
    def requests(self, actor_id: str, status: str) -> list[AccountView]:
        self.require_admin(actor_id)
        wanted = status or "pending"
        if wanted not in ("pending", "approved", "rejected"):
            raise InvalidArgument("status must be pending, approved or rejected")
        return [AccountView.from_doc(doc, self._admin_emails)
                for doc in self._repo.accounts_by_portal_status(wanted)]

    def decide(self, actor_id: str, account_id: str, approve: bool, reason: str) -> PortalAccessView:
        self.require_admin(actor_id)
        checked_reason = validation.text(reason, "reason", max_length=500, required=False)
        doc = self._repo.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        account = AccountView.from_doc(doc, self._admin_emails)
        if account.portal_access.status != "pending":
            raise FailedPrecondition("this person has no pending portal-access request")
        if account.restricted:
            raise FailedPrecondition("this person has restricted the processing of their data; "
                                     "staff cannot change their account until it is lifted")
        access = {**doc["portal_access"], "status": "approved" if approve else "rejected",
                  "decided_at": self._clock(), "decided_by": actor_id, "reason": checked_reason}
        self._repo.update_account(account.id, {"portal_access": access},
                                  events=[self._event(account, doc["subject_key"], access)])
        self._mailer.portal_decision(account.email, account.name, approve,
                                     account.portal_access.organisation_name, checked_reason)
        return PortalAccessView.from_doc(access)
