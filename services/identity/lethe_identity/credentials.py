"""An account's password hash: versions under ``credentials/<acc>/<v>``, each decided on the
head (a compare-and-set), so a log-in's rehash never overwrites a reset or change made at
the same moment, and a write that lands after an erasure is taken back."""

from __future__ import annotations

from lethe_common.errors import Aborted, NotFound
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_identity.passwords import Passwords
from lethe_identity.repository import IdentityRepository


class Credentials:
    def __init__(self, repo: IdentityRepository, passwords: Passwords) -> None:
        self._repo = repo
        self._passwords = passwords

    def hash_of(self, account_id: str) -> str | None:
        """The account's current password hash, or None."""
        head = self._repo.accounts.credentials.head(account_id)
        return str(head["password_hash"]) if head and head.get("password_hash") else None

    def rehash(self, account_id: str, verified_hash: str, password: str) -> str:
        """Store the password under the current parameters (log-in), unless it changed.
        Returns the hash the account holds if nothing else changed it: the new one, or
        ``verified_hash`` when it was changed meanwhile (the caller's check then fails)."""
        new_hash = self._passwords.hash(password)

        def replace(head: Document | None) -> Step | None:
            if head is None or head.get("password_hash") != verified_hash:
                return None
            return Step({"password_hash": new_hash})

        doc, written = self._repo.accounts.credentials.write(account_id, replace)
        if written and doc is not None and not self._repo.accounts.exists(account_id):
            self._repo.accounts.credentials.delete_version(account_id, int(doc["n"]))
        return new_hash if written else verified_hash

    def set_password_hash(self, account_id: str, new_hash: str, replaces: str | None = None) -> None:
        """Make ``new_hash`` the account's password (a reset, or a change in which the
        person gave ``replaces``' password): a new credentials version. With ``replaces``,
        Aborted when the password was changed meanwhile by someone else."""

        def replace(head: Document | None) -> Step:
            if head is None:
                raise NotFound("no such account")
            if replaces is not None and head.get("password_hash") != replaces:
                raise Aborted("your password was changed at this moment elsewhere; please try again")
            return Step({"password_hash": new_hash})

        doc, written = self._repo.accounts.credentials.write(account_id, replace)
        if written and doc is not None and not self._repo.accounts.exists(account_id):
            self._repo.accounts.credentials.delete_version(account_id, int(doc["n"]))
            raise NotFound("no such account")  # erased meanwhile: nothing of it stays
