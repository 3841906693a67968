"""Mails about an account that anyone can cause, limited and sent off the request path.

A registration, a resend of the activation link, an e-mail change and the notice that an
address is in use (someone tried to register it, or to move their account to it) each
mail an address the caller names. Two things keep that from being used against the
address's owner or to learn whether the address has an account (issue 18):

- **Limits.** Mails to one address (``IDENTITY_ACCOUNT_MAILS_PER_ADDRESS`` in
  ``IDENTITY_ACCOUNT_MAIL_WINDOW_SECONDS``, 10 a day) and mails caused by one client address
  (``IDENTITY_ACCOUNT_MAILS_PER_CLIENT`` in ``IDENTITY_ACCOUNT_MAIL_CLIENT_WINDOW_SECONDS``,
  30 an hour) are counted in the store by keyed hashes (``AttemptLimiter``), never the
  addresses. A mail over a limit is dropped: counted in
  ``lethe_identity_account_mails_refused_total{mail, limit}`` and logged without the address,
  and the caller's answer is the one it would have had.
- **Off the request path.** Whatever decides whether a mail goes (looking the address up,
  the limits, the link, SMTP) runs in :class:`MailJobs`, a small pool of threads in the
  process, after the answer; the request does the same work for every address. A job lost
  with its process (a crash) loses one mail, which the person can ask for again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from prometheus_client import Counter

from lethe_common import tokens
from lethe_common.errors import NotFound
from lethe_identity.config import IdentityConfig
from lethe_identity.limiter import AttemptLimiter
from lethe_identity.repo_access import AttemptStore

log = logging.getLogger(__name__)

MAILS_REFUSED = Counter(
    "lethe_identity_account_mails_refused_total",
    "Account mails not sent: over the limit per target address or per client, or the queue full.",
    ["mail", "limit"],
)
MAIL_JOBS = Counter(
    "lethe_identity_account_mail_jobs_total",
    "Account mail jobs finished (whatever their outcome: sent, nothing to send, refused).",
    ["mail"],
)
# Jobs waiting in one process at most; more are dropped like a mail over a limit.
MAX_WAITING = 10_000


class MailJobs:
    """Runs mail jobs after the answer, in ``threads`` threads (one keeps their order in a
    process); with ``threads=0`` at once in the caller (for code that must not wait)."""

    def __init__(self, threads: int) -> None:
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="identity-mail") if threads else None
        self._lock = threading.Lock()
        self._waiting = 0

    def run(self, mail: str, job: Callable[[], None]) -> None:
        if self._pool is None:
            self._guarded(mail, job)
            return
        with self._lock:
            if self._waiting >= MAX_WAITING:
                MAILS_REFUSED.labels(mail, "queue").inc()
                log.warning("account mail dropped: too many waiting", extra={"mail": mail})
                return
            self._waiting += 1
        self._pool.submit(self._guarded, mail, job)

    def _guarded(self, mail: str, job: Callable[[], None]) -> None:
        try:
            job()
        except NotFound:  # the account was erased meanwhile: nothing to mail
            log.info("account mail not sent: the account is gone", extra={"mail": mail})
        except Exception:
            log.exception("account mail failed", extra={"mail": mail})
        finally:
            MAIL_JOBS.labels(mail).inc()
            if self._pool is not None:
                with self._lock:
                    self._waiting -= 1

    def drain(self) -> None:
        """Wait for every job handed in so far (tests and shutdown)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class MailLimits:
    """Whether one more account mail may go to an address, caused by a client."""

    def __init__(self, attempts: AttemptStore, pepper: str, config: IdentityConfig) -> None:
        self._pepper = pepper
        self._per_address = AttemptLimiter(
            attempts, "account-mail", config.account_mails_per_address, config.account_mail_window_seconds
        )
        self._per_client = AttemptLimiter(
            attempts,
            "account-mail-client",
            config.account_mails_per_client,
            config.account_mail_client_window_seconds,
        )

    def allow(self, mail: str, address: str, client_address: str, now: datetime) -> bool:
        """Count a mail of kind ``mail`` to ``address``; False (counted in the metric,
        logged without the address) when it would be over a limit. A mail with no client
        address (an internal caller) is limited per address only."""
        client_attempt = ""
        if client_address:
            client_attempt, wait = self._per_client.begin(
                tokens.client_key(self._pepper, client_address), now
            )
            if wait:
                return self._refused(mail, "client")
        _, wait = self._per_address.begin(tokens.keyed(self._pepper, "account-mail", address), now)
        if wait:
            if client_attempt:  # nothing went out: the client's count stays as it was
                self._per_client.forget(client_attempt)
            return self._refused(mail, "address")
        return True

    @staticmethod
    def _refused(mail: str, limit: str) -> bool:
        MAILS_REFUSED.labels(mail, limit).inc()
        log.info("account mail not sent: over the limit", extra={"mail": mail, "limit": limit})
        return False
