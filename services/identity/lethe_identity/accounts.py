"""Accounts: registration, e-mail verification, the profile and its rectification.

Who may change what, and how races end (docs/identity.md, "Storage"):

- an address belongs to one account: registration claims it before the account exists
  (a compare-and-set on the address's versions), an e-mail change claims the new one
  before switching and frees the old one after;
- an account's fate is decided once: its activation link (``verified``, which publishes
  ``account.verified``) or the unverified-account sweep (``expired``), by one unique key;
- the profile is versioned: two edits at once both survive, and an e-mail change whose
  link was superseded by a newer request loses against it;
- only the newest link of each purpose works (its digest is the head of the account's
  link versions); a link works once (``used_tokens``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from lethe_common.events.envelope import Envelope
from lethe_common.mongo import Document
from lethe_common.store.keys import key
from lethe_common.store.steps import Step
from lethe_common.subject import Subject, subject_key
from lethe_identity import validation
from lethe_identity.account_mails import MailJobs, MailLimits
from lethe_identity.config import IdentityConfig
from lethe_identity.credentials import Credentials
from lethe_identity.mailer import Mailer
from lethe_identity.models import ACTIVATE, CHANGE_EMAIL, AccountView, utcnow
from lethe_identity.passwords import MAX_LENGTH, Passwords, check_password
from lethe_identity.portal import Portal
from lethe_identity.repo_accounts import UNVERIFIED_QUEUE, VERIFIED
from lethe_identity.repository import IdentityRepository

INVALID_LINK = "this verification link is invalid or has already been used"
PROFILE_FIELDS = ("email", "subject_key", "name", "phone", "pending_email", "email_changed_at")
# A claim on an address whose account never came, or has moved to another address, is
# taken over after this long (a registration or e-mail change takes milliseconds).
CLAIM_GRACE = timedelta(minutes=10)


def email_changed(account_id: str, old_key: str, new_key: str) -> Envelope:
    """``account.email_changed``: the keys only, never an address (issue 18)."""
    return Envelope(
        type="account.email_changed",
        source="identity",
        subject_key=new_key,
        payload={"account_id": account_id, "old_subject_key": old_key, "new_subject_key": new_key},
    )


class Accounts:
    def __init__(
        self,
        repo: IdentityRepository,
        passwords: Passwords,
        mailer: Mailer,
        config: IdentityConfig,
        portal: Portal,
        clock: Callable[[], datetime] = utcnow,
        jobs: MailJobs | None = None,
    ) -> None:
        self._repo = repo
        self._passwords = passwords
        # The password hash's versions: log-in's rehash, a reset, a change (credentials.py).
        self.credentials = Credentials(repo, passwords)
        self._mailer = mailer
        self._config = config
        self._portal = portal
        self._pepper = config.common.subject_pepper
        self._clock = clock
        self._ttl = timedelta(minutes=config.verification_ttl_minutes)
        # Mails anyone can cause: limited, and sent after the answer (account_mails.py).
        self._jobs = jobs or MailJobs(0)
        self._limits = MailLimits(repo.attempts, self._pepper, config)

    # -- the address an account holds ---------------------------------------------------
    def _stale(self, address_key: str) -> Callable[[Document], bool]:
        """Whether a claim on ``address_key`` may be taken over: old enough, and its
        account is gone or holds another address now."""

        def stale(claim: Document) -> bool:
            if self._clock() - claim["claimed_at"] < CLAIM_GRACE:
                return False
            holder = self._repo.accounts.account(str(claim["account_id"]))
            return holder is None or holder["subject_key"] != address_key

        return stale

    def by_address(self, address: str) -> Document | None:
        """The account that holds ``address`` (two or three reads by key), or None."""
        address_key = subject_key(self._pepper, address)
        claim = self._repo.addresses.holder(address_key)
        if claim is None:
            return None
        doc = self._repo.accounts.account(str(claim["account_id"]))
        return doc if doc is not None and doc["subject_key"] == address_key else None

    # -- registration and verification ------------------------------------------------
    def register(
        self, email: str, password: str, name: str, phone: str, consent_version: str, client_address: str = ""
    ) -> str:
        """Open an unverified account and mail its activation link. An address that has an
        account is answered alike (an id that leads nowhere) and its holder is told by mail:
        the answer must not say whether an address has an account (issue 18)."""
        address = validation.email(email)
        checked_name = validation.name(name)
        checked_phone = validation.phone(phone)
        version = validation.consent_version(consent_version)
        check_password(password, email=address, min_length=self._config.password_min_length)
        password_hash = self._passwords.hash(password)
        account_id, address_key, now = tokens.new_id("acc"), subject_key(self._pepper, address), self._clock()
        # The sweep's entry comes first: whatever happens next, it cleans up after it.
        self._repo.expiries.schedule(UNVERIFIED_QUEUE, now + self._ttl, account_id, subject_key=address_key)
        try:
            self._repo.addresses.claim(
                Subject(account_id=account_id, subject_key=address_key), now, self._stale(address_key)
            )
        except AlreadyExists:
            self._repo.expiries.remove_item(UNVERIFIED_QUEUE, now + self._ttl, account_id)
            self._tell_holder(address, client_address, change=False)
            return account_id  # never stored: it leads nowhere
        self._repo.accounts.register(
            account_id,
            {"created_at": now, "account_consent_version": version},
            {"email": address, "subject_key": address_key, "name": checked_name, "phone": checked_phone},
            password_hash,
        )
        claim = self._repo.addresses.holder(address_key)
        if claim is None or claim["account_id"] != account_id:  # taken over as stale meanwhile
            self._repo.delete_account(account_id)
            self._tell_holder(address, client_address, change=False)
            return account_id
        self._send_verification(account_id, address, ACTIVATE, client_address)
        return account_id

    def _send_verification(self, account_id: str, address: str, purpose: str, client_address: str) -> None:
        """After the answer, and within the limits: issue a link that replaces every
        earlier one of its purpose, and mail it (naming no one: the address is unverified)."""
        self._jobs.run(purpose, lambda: self._mail_link(account_id, address, purpose, client_address))

    def _mail_link(self, account_id: str, address: str, purpose: str, client_address: str) -> None:
        if not self._limits.allow(purpose, address, client_address, self._clock()):
            return  # the earlier link, if any, keeps working
        token = self.issue_link(account_id, address, purpose, self._ttl)
        self._mailer.verification(
            address, token, self._ttl.total_seconds() / 3600, change=purpose == CHANGE_EMAIL
        )

    def _tell_holder(self, address: str, client_address: str, change: bool) -> None:
        """After the answer, and within the same limits: tell the holder of ``address``
        that someone tried to register it (or move their account to it)."""

        def notify() -> None:
            if self._limits.allow("address_in_use", address, client_address, self._clock()):
                self._mailer.address_in_use(address, change=change)

        self._jobs.run("address_in_use", notify)

    def issue_link(self, account_id: str, address: str, purpose: str, ttl: timedelta) -> str:
        """A new link of ``purpose`` for the account, mailed to ``address``: only its digest
        is stored, and it makes every earlier link of its purpose void. Returns the token
        (for the mail only). NotFound when the account was erased meanwhile."""
        token, now = tokens.new_token(), self._clock()
        digest, expires_at = tokens.digest(token), now + ttl
        self._repo.tokens.issue(
            {
                "_id": digest,
                "account_id": account_id,
                "purpose": purpose,
                "email": address,
                "created_at": now,
                "expires_at": expires_at,
            }
        )
        replaced: dict[str, Document | None] = {}

        def newest(head: Document | None) -> Step:
            replaced["link"] = head
            return Step({"digest": digest, "expires_at": expires_at})

        link, _ = self._repo.accounts.links.write(key(account_id, purpose), newest)
        old = replaced.get("link")
        if old is not None and old.get("digest"):  # it works no more: its address goes now
            self._repo.tokens.delete(str(old["digest"]), account_id)
        if not self._repo.accounts.exists(account_id):  # erased meanwhile: take it all back
            if link is not None:
                self._repo.accounts.links.delete_version(key(account_id, purpose), int(link["n"]))
            self._repo.tokens.delete(digest, account_id)
            raise NotFound("no such account")
        return token

    def resend_verification(self, email: str, client_address: str = "") -> None:
        """Send a fresh link to an unverified account; silent for any other address. The
        look-up, the limits and the mail all come after the answer, so a known address is
        answered as fast as an unknown one."""
        address = validation.email(email)

        def resend() -> None:
            doc = self.by_address(address)
            if doc is not None and doc.get("status") == "unverified":
                self._mail_link(str(doc["_id"]), address, ACTIVATE, client_address)

        self._jobs.run(ACTIVATE, resend)

    def verify(self, token: str, password: str = "") -> AccountView:
        """Consume a link. Activation also needs the account's password: without it,
        someone who registered another person's address could have that person
        activate an account whose password the registrant chose."""
        if not tokens.looks_like_token(token):
            raise InvalidArgument(INVALID_LINK)
        digest, now = tokens.digest(token), self._clock()
        record = self._repo.tokens.get(digest)
        if record is None:
            raise InvalidArgument(INVALID_LINK)
        if record["expires_at"] <= now:
            raise InvalidArgument("this verification link has expired; ask for a new one")
        account_id, purpose = str(record["account_id"]), str(record["purpose"])
        doc = self._repo.accounts.account(account_id)
        link = self._repo.accounts.links.head(key(account_id, purpose))
        if doc is None or link is None or link.get("digest") != digest:
            raise InvalidArgument(INVALID_LINK)  # unknown, or superseded by a newer link
        if purpose == CHANGE_EMAIL:
            self._change_email(doc, str(record["email"]), digest, record["expires_at"], now)
        else:
            self._activate(doc, password, digest, record["expires_at"], now)
        return self.profile(account_id)

    def _activate(
        self, doc: Document, password: str, digest: str, expires_at: datetime, now: datetime
    ) -> None:
        if not self._passwords.verify(self.credentials.hash_of(doc["_id"]), password[:MAX_LENGTH]):
            raise Unauthenticated("to activate your account, enter the password you chose")
        if not self._repo.tokens.claim(digest, now, expires_at):
            raise InvalidArgument(INVALID_LINK)
        event = Envelope(
            type="account.verified",
            source="identity",
            subject_key=str(doc["subject_key"]),
            payload={
                "account_id": doc["_id"],
                "account_consent_version": doc.get("account_consent_version", ""),
            },
        )
        # One fate per account: two links used at once publish one event; the sweep that
        # expired the account first makes the link invalid.
        if self._repo.accounts.settle(doc["_id"], VERIFIED, now, [event]) != VERIFIED:
            raise InvalidArgument(INVALID_LINK)
        if not self._repo.accounts.exists(doc["_id"]):  # erased meanwhile
            self._repo.accounts.delete_part(key(doc["_id"], "activation"))
            raise InvalidArgument(INVALID_LINK)

    def _change_email(
        self, doc: Document, address: str, digest: str, expires_at: datetime, now: datetime
    ) -> None:
        """Claim the new address, spend the link, switch the profile, free the old address."""
        account_id, new_key = str(doc["_id"]), subject_key(self._pepper, address)
        new_holder = Subject(account_id=account_id, subject_key=new_key)
        if doc.get("pending_email") != address:
            raise InvalidArgument(INVALID_LINK)  # superseded by a newer change
        self._repo.addresses.claim(new_holder, now, self._stale(new_key))
        if not self._repo.tokens.claim(digest, now, expires_at):
            raise InvalidArgument(INVALID_LINK)  # used at this moment by another request
        switched: dict[str, Document] = {}

        def switch(head: Document | None) -> Step:
            if head is None:
                raise NotFound("no such account")
            if head.get("pending_email") != address:
                raise InvalidArgument(INVALID_LINK)
            switched["from"] = head
            kept: Document = {name: head[name] for name in ("name", "phone") if name in head}
            return Step({**kept, "email": address, "subject_key": new_key, "email_changed_at": now})

        try:
            version, _ = self._repo.accounts.write_profile(account_id, switch)
        except InvalidArgument:
            head = self._repo.accounts.profiles.head(account_id)
            if head is None or head.get("subject_key") != new_key:
                self._repo.addresses.release(new_holder)
            raise
        old_key = str(switched["from"]["subject_key"])
        former_entry = ""
        if old_key != new_key:
            former_entry = self._repo.accounts.record_former_key(
                account_id, old_key, now, email_changed(account_id, old_key, new_key)
            )
            self._repo.addresses.release(Subject(account_id=account_id, subject_key=old_key))
        with contextlib.suppress(NotFound):  # erased meanwhile: handled just below
            self._portal.address_changed(account_id, validation.email_domain(address), now)
        if not self._repo.accounts.exists(account_id):  # erased meanwhile: take it back
            if version is not None:
                self._repo.accounts.profiles.delete_version(account_id, int(version["n"]))
            if former_entry:
                self._repo.accounts.delete_part(former_entry)
            self._repo.addresses.release(new_holder)
            raise NotFound("no such account")

    # -- profile ---------------------------------------------------------------------
    def profile(self, account_id: str) -> AccountView:
        doc = self._repo.accounts.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        return AccountView.from_doc(doc, self._config.admin_emails)

    def update_profile(
        self,
        account_id: str,
        *,
        name: str | None = None,
        phone: str | None = None,
        email: str | None = None,
        client_address: str = "",
    ) -> AccountView:
        """Rectify name and phone; a new address waits for its link. An address another
        account holds is answered alike (pending, "check your mail"), but no link goes to
        it: its holder is told by mail instead, so the address never becomes this
        account's and the answer does not say whether it has an account (issue 18)."""
        current = self.profile(account_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = validation.name(name)
        if phone is not None:
            changes["phone"] = validation.phone(phone)
        new_address = validation.email(email) if email is not None else None
        if new_address == current.email:
            new_address = None
        taken = False
        if new_address is not None:
            new_key = subject_key(self._pepper, new_address)
            claim = self._repo.addresses.holder(new_key)
            taken = (
                claim is not None and claim["account_id"] != account_id and not self._stale(new_key)(claim)
            )

        def edit(head: Document | None) -> Step | None:
            if head is None:
                raise NotFound("no such account")
            before = {name: head[name] for name in PROFILE_FIELDS if name in head}
            after = {**before, **changes}
            if new_address is not None and new_address != head["email"]:
                after["pending_email"] = new_address
            elif after == before:
                return None
            return Step(after)

        doc, written = self._repo.accounts.write_profile(account_id, edit)
        if written and doc is not None and not self._repo.accounts.exists(account_id):
            self._repo.accounts.profiles.delete_version(account_id, int(doc["n"]))
            raise NotFound("no such account")  # erased meanwhile: nothing of it stays
        if written and new_address is not None and taken:
            self._tell_holder(new_address, client_address, change=True)
        elif written and new_address is not None:
            self._send_verification(account_id, new_address, CHANGE_EMAIL, client_address)
        return self.profile(account_id)

    def cancel_email_change(self, account_id: str) -> None:
        """Forget a pending e-mail change: its link, mailed to the new address, confirms
        nothing any more (``_change_email`` checks the pending address). After a password
        reset, whoever used the account before must not move it to their own address."""

        def drop(head: Document | None) -> Step | None:
            if head is None or not head.get("pending_email"):
                return None
            kept = [name for name in PROFILE_FIELDS if name in head and name != "pending_email"]
            return Step({name: head[name] for name in kept})

        doc, written = self._repo.accounts.write_profile(account_id, drop)
        if written and doc is not None and not self._repo.accounts.exists(account_id):
            self._repo.accounts.profiles.delete_version(account_id, int(doc["n"]))
