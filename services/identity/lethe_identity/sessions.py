"""Log-in, sessions and log-out.

Failed log-ins are counted per account (a keyed hash of the address, so an
address without an account is counted and locked exactly like one with an
account) and per client address. An unknown address costs one argon2
verification against a decoy hash, like a wrong password does, and both get
the same error.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from lethe_common import tokens
from lethe_common.errors import PermissionDenied, TooManyRequests, Unauthenticated
from lethe_common.staff import STEP_UP_SECONDS
from lethe_common.subject import normalise_email
from lethe_identity.accounts import Accounts
from lethe_identity.config import IdentityConfig
from lethe_identity.limiter import AttemptLimiter
from lethe_identity.models import AccountView, LoginResult, utcnow
from lethe_identity.passwords import MAX_LENGTH, Passwords
from lethe_identity.repository import IdentityRepository

log = logging.getLogger(__name__)

BAD_CREDENTIALS = "the e-mail address or the password is wrong"
NOT_LOGGED_IN = "you are not logged in, or your session has ended"
REAUTHENTICATE = (
    "for your security, please enter your password again: "
    f"you last entered it more than {STEP_UP_SECONDS // 60} minutes ago"
)
# Refreshing last_seen on every request would be a store write per request;
# once a minute keeps the idle clock honest to within a minute.
TOUCH_AFTER = timedelta(seconds=60)


class Sessions:
    def __init__(
        self,
        repo: IdentityRepository,
        accounts: Accounts,
        passwords: Passwords,
        config: IdentityConfig,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self._repo = repo
        self._accounts = accounts
        self._passwords = passwords
        self._config = config
        self._pepper = config.common.subject_pepper
        self._clock = clock
        self._per_account = AttemptLimiter(
            repo.attempts, "login-account", config.login_max_failures_per_account, config.login_window_seconds
        )
        self._per_address = AttemptLimiter(
            repo.attempts, "login-address", config.login_max_failures_per_address, config.login_window_seconds
        )

    def _limit_keys(self, email: str, client_address: str) -> tuple[str, str]:
        account_key = tokens.keyed(self._pepper, "login", normalise_email(email) or "-")
        return account_key, tokens.client_key(self._pepper, client_address)

    def _begin_attempt(self, account_key: str, address_key: str, now: datetime) -> tuple[str, str]:
        """Count this attempt on both limits before checking the password.

        Counted first, so that parallel guesses see one another; a successful
        log-in withdraws both, so only failures (and attempts in flight) count.
        """
        account_attempt, account_wait = self._per_account.begin(account_key, now)
        address_attempt, address_wait = self._per_address.begin(address_key, now)
        waits = [wait for wait in (account_wait, address_wait) if wait]
        if waits:
            for limiter, attempt, wait in (
                (self._per_account, account_attempt, account_wait),
                (self._per_address, address_attempt, address_wait),
            ):
                if not wait:
                    limiter.forget(attempt)
            longest = max(waits)
            raise TooManyRequests(
                f"too many failed log-ins; try again in {longest} seconds", retry_after=longest
            )
        return account_attempt, address_attempt

    def login(self, email: str, password: str, remember_me: bool, client_address: str) -> LoginResult:
        now = self._clock()
        account_key, address_key = self._limit_keys(email, client_address)
        attempts = self._begin_attempt(account_key, address_key, now)
        doc, stored_hash = None, None
        if normalise_email(email) and len(password) <= MAX_LENGTH:
            doc = self._accounts.by_address(email)
            stored_hash = self._accounts.credentials.hash_of(doc["_id"]) if doc else None
        if not self._passwords.verify(stored_hash, password[:MAX_LENGTH]) or doc is None:
            log.info("log-in failed")
            raise Unauthenticated(BAD_CREDENTIALS)
        self._per_account.forget(attempts[0])
        self._per_address.forget(attempts[1])
        if doc.get("status") != "active":
            raise Unauthenticated("please confirm your e-mail address first; we sent you a link")
        expected_hash = str(stored_hash)
        if self._passwords.needs_rehash(expected_hash):
            expected_hash = self._accounts.credentials.rehash(doc["_id"], expected_hash, password)
            log.info("password rehashed with the current parameters")
        result = self._open_session(AccountView.from_doc(doc, self._config.admin_emails), remember_me, now)
        # A password reset or change ends every session it finds; one opened at this moment
        # with the old password may have come too late to be found, so it checks for itself.
        if self._accounts.credentials.hash_of(doc["_id"]) != expected_hash:
            self._repo.sessions.end(tokens.digest(result.session_token), doc["_id"])
            raise Unauthenticated(BAD_CREDENTIALS)
        return result

    def _open_session(self, account: AccountView, remember_me: bool, now: datetime) -> LoginResult:
        token = tokens.new_token()
        config = self._config
        if remember_me:
            lifetime = idle = timedelta(days=config.remember_me_days)
        else:
            lifetime = timedelta(hours=config.session_absolute_hours)
            idle = timedelta(minutes=config.session_idle_minutes)
        digest = tokens.digest(token)
        self._repo.sessions.open(
            {
                "_id": digest,
                "account_id": account.id,
                "created_at": now,
                "last_seen_at": now,
                "idle_seconds": int(idle.total_seconds()),
                "idle_expires_at": now + idle,
                "absolute_expires_at": now + lifetime,
                "persistent": remember_me,
            }
        )
        if not self._repo.accounts.exists(account.id):  # erased while logging in
            self._repo.sessions.end(digest, account.id)
            raise Unauthenticated(NOT_LOGGED_IN)
        max_age = int(lifetime.total_seconds()) if remember_me else 0
        return LoginResult(session_token=token, account=account, cookie_max_age_seconds=max_age)

    def authenticate(self, session_token: str) -> AccountView:
        """The hot path of every logged-in request: the session and the account, three
        reads by key (a write once a minute)."""
        if not tokens.looks_like_token(session_token):
            raise Unauthenticated(NOT_LOGGED_IN)
        digest = tokens.digest(session_token)
        session = self._repo.sessions.get(digest)
        now = self._clock()
        if session is None or session["absolute_expires_at"] <= now or session["idle_expires_at"] <= now:
            raise Unauthenticated(NOT_LOGGED_IN)
        doc = self._repo.accounts.account(session["account_id"])
        if doc is None or doc.get("status") != "active":
            self._repo.sessions.end(digest, str(session["account_id"]))
            raise Unauthenticated(NOT_LOGGED_IN)
        if now - session["last_seen_at"] >= TOUCH_AFTER:
            self._repo.sessions.touch(digest, now, now + timedelta(seconds=int(session["idle_seconds"])))
        return AccountView.from_doc(doc, self._config.admin_emails)

    def password_entered_at(self, session_token: str) -> datetime:
        """When the password was last entered in this (authenticated) session."""
        session = self._repo.sessions.get(tokens.digest(session_token))
        if session is None:
            raise Unauthenticated(NOT_LOGGED_IN)
        return self._repo.sessions.password_entered_at(session)

    def require_recent_password(self, session_token: str) -> None:
        """A customer's own dangerous action (erasure, a new e-mail address): the password
        entered in this session within the staff step-up's window (``STEP_UP_SECONDS``)."""
        if not tokens.looks_like_token(session_token):
            raise Unauthenticated(NOT_LOGGED_IN)
        entered = self.password_entered_at(session_token)
        if (self._clock() - entered).total_seconds() > STEP_UP_SECONDS:
            raise PermissionDenied(REAUTHENTICATE, reason="reauthentication_required")

    def password_confirmed(self, session_token: str) -> None:
        """Record a step-up: the password was just entered again in this session."""
        self._repo.sessions.confirm_password(tokens.digest(session_token), self._clock())

    def logout(self, session_token: str) -> None:
        if not tokens.looks_like_token(session_token):
            return
        digest = tokens.digest(session_token)
        session = self._repo.sessions.get(digest)
        if session is not None:
            self._repo.sessions.end(digest, str(session["account_id"]))
