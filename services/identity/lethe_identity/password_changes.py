"""A forgotten password (a mailed single-use link) and a change of password in the profile.

- **Asking for a link** answers the same for every address, known or not, verified or not,
  limited or not: only a verified account gets a mail. The link is an ordinary account link
  of the purpose ``reset_password`` (``Accounts.issue_link``): only its digest is stored
  (``verification_tokens``), the newest one is the account's head link of that purpose, so a
  new request makes older links void, and the sweep deletes it when it expires
  (``IDENTITY_PASSWORD_RESET_TTL_MINUTES``). Mails to one address are limited
  (``IDENTITY_PASSWORD_RESET_MAILS_PER_ADDRESS`` in ``IDENTITY_PASSWORD_RESET_WINDOW_SECONDS``,
  counted by a keyed hash of the address whether or not it has an account); more requests
  are answered the same and dropped.
- **Using the link** checks the new password against the policy first (a refused password
  leaves the link usable), then spends the link (``used_tokens``: a unique insert, so it
  works once under races too), writes the new hash, ends every session of the account and
  forgets a pending e-mail change (whoever used the account before must not move it to
  their own address), and mails a notice.
- **A change in the profile** needs the current password (wrong ones are counted like failed
  log-ins, per account), ends every session but the one it is made in, and mails a notice.

A log-in racing a reset or change cannot keep a session opened with the old password:
``Sessions.login`` checks the password hash again after its session is stored.
Nothing here logs an address, a token or a password; mails name no one (the notice goes to
the account's verified address and carries no name).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import InvalidArgument, NotFound, PermissionDenied, TooManyRequests
from lethe_common.store.keys import key
from lethe_identity import validation
from lethe_identity.account_mails import MailJobs
from lethe_identity.accounts import Accounts
from lethe_identity.config import IdentityConfig
from lethe_identity.limiter import AttemptLimiter
from lethe_identity.mailer import Mailer
from lethe_identity.models import RESET_PASSWORD, utcnow
from lethe_identity.passwords import MAX_LENGTH, Passwords, check_password
from lethe_identity.repository import IdentityRepository

log = logging.getLogger(__name__)

LINK_GONE = "this link to set a new password has expired or has already been used; please ask for a new one"
LINK_GONE_REASON = "link_expired"  # the gateway answers 410 Gone
WRONG_CURRENT = "the current password is wrong"
WRONG_PASSWORD = "that is not your password"  # noqa: S105 (a message)
SAME_AGAIN = "the new password must differ from the current one"


class PasswordChanges:
    def __init__(
        self,
        repo: IdentityRepository,
        accounts: Accounts,
        passwords: Passwords,
        mailer: Mailer,
        config: IdentityConfig,
        clock: Callable[[], datetime] = utcnow,
        jobs: MailJobs | None = None,
    ) -> None:
        self._repo = repo
        self._jobs = jobs or MailJobs(0)
        self._accounts = accounts
        self._passwords = passwords
        self._mailer = mailer
        self._config = config
        self._pepper = config.common.subject_pepper
        self._clock = clock
        self._ttl = timedelta(minutes=config.password_reset_ttl_minutes)
        self._mails = AttemptLimiter(
            repo.attempts,
            "password-reset",
            config.password_reset_mails_per_address,
            config.password_reset_window_seconds,
        )
        # Wrong current passwords: as many as failed log-ins, per account.
        self._guesses = AttemptLimiter(
            repo.attempts,
            "password-change",
            config.login_max_failures_per_account,
            config.login_window_seconds,
        )

    # -- a forgotten password ----------------------------------------------------------
    def request_reset(self, email: str) -> None:
        """Mail a link to set a new password, if a verified account holds ``email``; the
        same answer in every case (nothing tells whether the address has an account): the
        lookup and the mail run after the answer (``MailJobs``), so it takes as long too."""
        address = validation.email(email)
        self._jobs.run(RESET_PASSWORD, lambda: self._mail_reset(address))

    def _mail_reset(self, address: str) -> None:
        now = self._clock()
        _, wait = self._mails.begin(tokens.keyed(self._pepper, "password-reset", address), now)
        if wait:
            log.info("password reset link not sent: too many for one address in the window")
            return
        doc = self._accounts.by_address(address)
        if doc is None or doc.get("status") != "active":
            return
        try:
            token = self._accounts.issue_link(str(doc["_id"]), str(doc["email"]), RESET_PASSWORD, self._ttl)
        except NotFound:  # erased at this moment
            return
        if self._mailer.password_reset(str(doc["email"]), token, self._config.password_reset_ttl_minutes):
            log.info("password reset link sent")

    def reset(self, token: str, new_password: str) -> None:
        """Set a new password with a mailed link: once, before it expires, and only the
        newest link of the account. Every session of the account ends."""
        gone = InvalidArgument(LINK_GONE, reason=LINK_GONE_REASON)
        if not tokens.looks_like_token(token):
            raise gone
        digest, now = tokens.digest(token), self._clock()
        record = self._repo.tokens.get(digest)
        if record is None or record.get("purpose") != RESET_PASSWORD or record["expires_at"] <= now:
            raise gone
        account_id = str(record["account_id"])
        doc = self._repo.accounts.account(account_id)
        link = self._repo.accounts.links.head(key(account_id, RESET_PASSWORD))
        if doc is None or doc.get("status") != "active" or link is None or link.get("digest") != digest:
            raise gone  # the account went, or a newer link superseded this one
        check_password(new_password, email=str(doc["email"]), min_length=self._config.password_min_length)
        new_hash = self._passwords.hash(new_password)
        if not self._repo.tokens.claim(digest, now, record["expires_at"]):
            raise gone  # used at this moment by another request
        try:
            self._accounts.credentials.set_password_hash(account_id, new_hash)
        except NotFound:
            raise gone from None
        ended = self._repo.end_sessions(account_id)
        self._accounts.cancel_email_change(account_id)
        self._mailer.password_changed(str(doc["email"]), now, reset=True)
        log.info("password reset with a mailed link", extra={"sessions_ended": ended})

    # -- step-up ------------------------------------------------------------------------
    def confirm(self, account_id: str, password: str) -> None:
        """The person entered their password again before a dangerous action; wrong ones
        count against the same limit as a password change's."""
        now = self._clock()
        attempt, wait = self._guesses.begin(tokens.keyed(self._pepper, "password-change", account_id), now)
        if wait:
            raise TooManyRequests(f"too many wrong passwords; try again in {wait} seconds", retry_after=wait)
        stored_hash = self._accounts.credentials.hash_of(account_id)
        if len(password) > MAX_LENGTH or not self._passwords.verify(stored_hash, password):
            raise PermissionDenied(WRONG_PASSWORD)
        self._guesses.forget(attempt)

    # -- a change in the profile ---------------------------------------------------------
    def change(
        self, account_id: str, current_password: str, new_password: str, keep_session_token: str
    ) -> None:
        """Replace the password of a logged-in person who knows the current one; every
        session but ``keep_session_token``'s ends."""
        doc = self._repo.accounts.account(validation.object_id(account_id, "account_id"))
        if doc is None or doc.get("status") != "active":
            raise NotFound("no such account")
        if new_password == current_password:
            raise InvalidArgument(SAME_AGAIN)
        check_password(new_password, email=str(doc["email"]), min_length=self._config.password_min_length)
        now = self._clock()
        attempt, wait = self._guesses.begin(tokens.keyed(self._pepper, "password-change", account_id), now)
        if wait:
            raise TooManyRequests(f"too many wrong passwords; try again in {wait} seconds", retry_after=wait)
        stored_hash = self._accounts.credentials.hash_of(account_id)
        if len(current_password) > MAX_LENGTH or not self._passwords.verify(stored_hash, current_password):
            raise PermissionDenied(WRONG_CURRENT)
        self._guesses.forget(attempt)
        self._accounts.credentials.set_password_hash(
            account_id, self._passwords.hash(new_password), replaces=stored_hash
        )
        keep = tokens.digest(keep_session_token) if tokens.looks_like_token(keep_session_token) else ""
        ended = self._repo.end_sessions(account_id, keep=keep)
        self._mailer.password_changed(str(doc["email"]), now, reset=False)
        log.info("password changed in the profile", extra={"sessions_ended": ended})
