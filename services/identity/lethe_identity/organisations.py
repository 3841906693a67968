"""Customer organisations and their e-mail domains (staff).

Each domain belongs to at most one organisation: a unique key (``organisation_domains``)
decides. An organisation's name and domains are versions, so two staff editing one
organisation at once is a compare-and-set: the second edit is decided again on the first
one's result, and the domains a version drops are released by the one writer whose
version dropped them, so the domain claims and the organisation's list agree.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from lethe_common import tokens
from lethe_common.audit import AuditRecord
from lethe_common.errors import Aborted, AlreadyExists, InvalidArgument, NotFound
from lethe_common.mongo import Document
from lethe_common.store.paging import decode_cursor, encode_cursor, page_size
from lethe_common.store.steps import Step
from lethe_identity import validation
from lethe_identity.models import OrganisationView, utcnow
from lethe_identity.repository import IdentityRepository

MAX_DOMAINS = 50
ORG_FIELDS = ("name", "domains", "created_at")


class Organisations:
    def __init__(
        self,
        repo: IdentityRepository,
        require_support: Callable[[str], Any],
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self.require_support = require_support  # Portal's: the role comes with the account
        self._clock = clock

    @staticmethod
    def _domains(domains: Sequence[str]) -> list[str]:
        checked = sorted({validation.domain(d) for d in domains})
        if not checked:
            raise InvalidArgument("an organisation needs at least one e-mail domain")
        if len(checked) > MAX_DOMAINS:
            raise InvalidArgument(f"an organisation may have at most {MAX_DOMAINS} domains")
        return checked

    def _claim(self, domain: str, organisation_id: str, claimed: list[str]) -> None:
        """Claim a domain for the organisation, remembering it in ``claimed``."""
        if self._repo.organisations.claim_domain(domain, organisation_id):
            claimed.append(domain)
        elif self._repo.organisations.domain_holder(domain) == organisation_id:
            raise Aborted("someone else is changing this organisation's domains; try again")
        else:
            raise AlreadyExists(f"the domain {domain} already belongs to an organisation")

    def create(self, actor_id: str, name: str, domains: Sequence[str]) -> OrganisationView:
        self.require_support(actor_id)
        organisation_id, checked = tokens.new_ordered_id("org"), self._domains(domains)
        fields = {
            "name": validation.text(name, "name", max_length=200),
            "domains": checked,
            "created_at": self._clock(),
        }
        claimed: list[str] = []
        try:
            for domain in checked:
                self._claim(domain, organisation_id, claimed)
        except (AlreadyExists, Aborted):
            self._repo.organisations.release_domains(claimed, organisation_id)
            raise
        self._repo.organisations.write(organisation_id, lambda _: Step(fields))
        self._repo.audit.record(AuditRecord(actor_id, "organisation.created", target=organisation_id))
        return OrganisationView.from_doc({"_id": organisation_id, **fields})

    def update(
        self, actor_id: str, organisation_id: str, name: str | None, domains: Sequence[str] | None
    ) -> OrganisationView:
        """A compare-and-set on the organisation's versions: the domains a version drops are
        released by the one writer whose version dropped them."""
        self.require_support(actor_id)
        validation.object_id(organisation_id, "organisation_id")
        new_name = validation.text(name, "name", max_length=200) if name is not None else None
        wanted = self._domains(domains) if domains is not None else None
        claimed: list[str] = []
        based_on: dict[str, Document] = {}

        def change(head: Document | None) -> Step | None:
            if head is None:
                raise NotFound("no such organisation")
            based_on["head"] = head
            before = {field: head[field] for field in ORG_FIELDS if field in head}
            after = dict(before)
            if new_name is not None:
                after["name"] = new_name
            if wanted is not None:
                for domain in wanted:
                    if domain not in head["domains"] and domain not in claimed:
                        self._claim(domain, organisation_id, claimed)
                after["domains"] = wanted
            return Step(after) if after != before else None

        try:
            doc, written = self._repo.organisations.write(organisation_id, change)
        except (AlreadyExists, Aborted):
            head = self._repo.organisations.head(organisation_id) or {"domains": []}
            self._repo.organisations.release_domains(
                [d for d in claimed if d not in head["domains"]], organisation_id
            )
            raise
        assert doc is not None
        if written and wanted is not None:
            dropped = [d for d in based_on["head"]["domains"] if d not in wanted]
            self._repo.organisations.release_domains(dropped, organisation_id)
        self._repo.organisations.release_domains(
            [d for d in claimed if d not in doc["domains"]], organisation_id
        )
        if written:
            self._repo.audit.record(AuditRecord(actor_id, "organisation.changed", target=organisation_id))
        return OrganisationView.from_doc({**doc, "_id": organisation_id})

    def page(self, actor_id: str, size: int = 0, token: str = "") -> tuple[list[OrganisationView], str]:
        """Organisations newest first, a page at a time."""
        self.require_support(actor_id)
        page = self._repo.organisations.page(decode_cursor(token), page_size(size))
        views = [
            OrganisationView.from_doc({**doc, "_id": str(doc["_id"]).split("/", 1)[0]}) for doc in page.items
        ]
        return views, encode_cursor(page.next_cursor)

    def of_domain(self, domain: str) -> Document | None:
        """The organisation that holds ``domain`` now (claim and current version agree)."""
        organisation_id = self._repo.organisations.domain_holder(domain)
        head = self._repo.organisations.head(organisation_id) if organisation_id else None
        if head is None or domain not in head.get("domains", ()):
            return None
        return {**head, "_id": organisation_id}
