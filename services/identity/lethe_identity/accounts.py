"""Accounts: registration, e-mail verification, the profile and its rectification."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from lethe_common.events.envelope import Envelope
from lethe_common.subject import subject_key
from lethe_identity import validation
from lethe_identity.config import IdentityConfig
from lethe_identity.mailer import Mailer
from lethe_identity.models import AccountView
from lethe_identity.passwords import MAX_LENGTH, Passwords, check_password
from lethe_identity.repository import IdentityRepository

ACTIVATE = "activate"
CHANGE_EMAIL = "change_email"
INVALID_LINK = "this verification link is invalid or has already been used"


def utcnow() -> datetime:
    return datetime.now(UTC)


class Accounts:
    def __init__(self, repo: IdentityRepository, passwords: Passwords, mailer: Mailer,
                 config: IdentityConfig, clock: Callable[[], datetime] = utcnow) -> None:
        self._repo = repo
        self._passwords = passwords
        self._mailer = mailer
        self._config = config
        self._pepper = config.common.subject_pepper
        self._clock = clock

    # -- registration and verification ------------------------------------------------
    def register(self, email: str, password: str, name: str, phone: str,
                 consent_version: str) -> str:
        address = validation.email(email)
        checked_name = validation.name(name)
        checked_phone = validation.phone(phone)
        version = validation.consent_version(consent_version)
        check_password(password, email=address, min_length=self._config.password_min_length)
        account_id = tokens.new_id("acc")
        self._repo.insert_account({
            "_id": account_id, "email": address, "subject_key": subject_key(self._pepper, address),
            "name": checked_name, "phone": checked_phone,
            "password_hash": self._passwords.hash(password), "status": "unverified",
            "account_consent_version": version, "created_at": self._clock(),
        })
        self._send_verification(account_id, address, checked_name, ACTIVATE)
        return account_id

    def _send_verification(self, account_id: str, address: str, name: str, purpose: str) -> None:
        token = tokens.new_token()
        ttl = timedelta(minutes=self._config.verification_ttl_minutes)
        self._repo.delete_tokens_of(account_id, purpose)  # only the newest link works
        self._repo.insert_token({
            "_id": tokens.digest(token), "account_id": account_id, "purpose": purpose,
            "email": address, "created_at": self._clock(), "expires_at": self._clock() + ttl,
        })
        self._mailer.verification(address, name, token, ttl.total_seconds() / 3600,
                                  change=purpose == CHANGE_EMAIL)

    def resend_verification(self, email: str) -> None:
        """Send a fresh link to an unverified account; silent for any other address."""
        address = validation.email(email)
        doc = self._repo.account_by_subject_key(subject_key(self._pepper, address))
        if doc is not None and doc.get("status") == "unverified":
            self._send_verification(doc["_id"], address, doc.get("name", ""), ACTIVATE)

    def verify(self, token: str, password: str = "") -> AccountView:
        """Consume a link. Activation also needs the account's password: without it,
        someone who registered another person's address could have that person
        activate an account whose password the registrant chose."""
        if not tokens.looks_like_token(token):
            raise InvalidArgument(INVALID_LINK)
        digest = tokens.digest(token)
        record = self._repo.token(digest)
        now = self._clock()
        if record is None:
            raise InvalidArgument(INVALID_LINK)
        if record["expires_at"] <= now:
            raise InvalidArgument("this verification link has expired; ask for a new one")
        doc = self._repo.account(record["account_id"])
        if doc is None:
            raise InvalidArgument(INVALID_LINK)
        if record["purpose"] == ACTIVATE and not self._passwords.verify(
                doc.get("password_hash"), password[:MAX_LENGTH]):
            raise Unauthenticated("to activate your account, enter the password you chose")
        if not self._repo.claim_token(digest, now, record["expires_at"]):
            raise InvalidArgument(INVALID_LINK)
        if record["purpose"] == CHANGE_EMAIL:
            self._apply_email_change(doc, record["email"], now)
        else:
            self._activate(doc, now)
        return self.profile(doc["_id"])

    def _activate(self, doc: dict[str, object], now: datetime) -> None:
        if doc.get("status") == "active":
            return
        event = Envelope(type="account.verified", source="identity",
                         subject_key=str(doc["subject_key"]),
                         payload={"account_id": doc["_id"],
                                  "account_consent_version": doc.get("account_consent_version", "")})
        self._repo.update_account(str(doc["_id"]), {"status": "active", "verified_at": now},
                                  events=[event])

    def _apply_email_change(self, doc: dict[str, object], address: str, now: datetime) -> None:
        if doc.get("pending_email") != address:
            raise InvalidArgument(INVALID_LINK)  # superseded by a newer change
        old_domain = validation.email_domain(str(doc["email"]))
        # Portal access was granted for the old address's organisation.
        unset = ("pending_email", "portal_access") \
            if validation.email_domain(address) != old_domain else ("pending_email",)
        self._repo.update_account(str(doc["_id"]), {
            "email": address, "subject_key": subject_key(self._pepper, address),
            "email_changed_at": now,
        }, unset_fields=unset)

    # -- profile ---------------------------------------------------------------------
    def profile(self, account_id: str) -> AccountView:
        doc = self._repo.account(validation.object_id(account_id, "account_id"))
        if doc is None:
            raise NotFound("no such account")
        return AccountView.from_doc(doc, self._config.admin_emails)

    def update_profile(self, account_id: str, *, name: str | None = None,
                       phone: str | None = None, email: str | None = None) -> AccountView:
        current = self.profile(account_id)
        changes: dict[str, object] = {}
        if name is not None:
            changes["name"] = validation.name(name)
        if phone is not None:
            changes["phone"] = validation.phone(phone)
        new_address = validation.email(email) if email is not None else None
        if new_address is not None and new_address != current.email:
            taken = self._repo.account_by_subject_key(subject_key(self._pepper, new_address))
            if taken is not None:
                raise FailedPrecondition("this e-mail address cannot be used for your account")
            changes["pending_email"] = new_address
        if changes:
            self._repo.update_account(account_id, changes)
        if "pending_email" in changes:
            self._send_verification(account_id, str(changes["pending_email"]),
                                    str(changes.get("name", current.name)), CHANGE_EMAIL)
        return self.profile(account_id)
