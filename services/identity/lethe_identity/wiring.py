"""The identity domain wired together once, for the API and the worker alike."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from lethe_common.privacy import ReceiptSender
from lethe_common.runtime import Runtime
from lethe_common.staff import AssertionSigner, AssertionVerifier
from lethe_identity.account_mails import MailJobs
from lethe_identity.accounts import Accounts
from lethe_identity.config import SERVICE, IdentityConfig
from lethe_identity.contact import ContactRequests
from lethe_identity.erasure import IdentityErasure
from lethe_identity.export import IdentityExport
from lethe_identity.mailer import Mailer
from lethe_identity.password_changes import PasswordChanges
from lethe_identity.passwords import Passwords
from lethe_identity.portal import Portal
from lethe_identity.repository import IdentityRepository
from lethe_identity.retention import Retention
from lethe_identity.sessions import Sessions
from lethe_identity.staff_roles import StaffRoles


@dataclass(frozen=True)
class IdentityParts:
    accounts: Accounts
    sessions: Sessions
    passwords: PasswordChanges
    portal: Portal
    contacts: ContactRequests
    erasure: IdentityErasure
    retention: Retention
    export: IdentityExport
    contact_retention_days: int
    staff: StaffRoles
    signer: AssertionSigner
    verifier: AssertionVerifier


def build_parts(runtime: Runtime, config: IdentityConfig) -> IdentityParts:
    repo = IdentityRepository(runtime.db, runtime.outbox)
    passwords = Passwords(config.argon2)
    mailer = Mailer(config.common, config.public_url)
    portal = Portal(repo, mailer, config.admin_emails)
    jobs = MailJobs(config.mail_threads)
    accounts = Accounts(repo, passwords, mailer, config, portal, jobs=jobs)
    return IdentityParts(
        accounts=accounts,
        sessions=Sessions(repo, accounts, passwords, config),
        passwords=PasswordChanges(repo, accounts, passwords, mailer, config, jobs=jobs),
        portal=portal,
        contacts=ContactRequests(repo, portal, config),
        erasure=IdentityErasure(
            repo,
            ReceiptSender(runtime.db, runtime.outbox, SERVICE),
            portal,
            config.common.subject_pepper,
            max(
                timedelta(days=config.remember_me_days),
                timedelta(hours=config.session_absolute_hours),
                timedelta(minutes=config.verification_ttl_minutes),
                timedelta(minutes=config.password_reset_ttl_minutes),
            ),
            timedelta(days=config.common.audit_retention_days),
        ),
        retention=Retention(repo, config),
        export=IdentityExport(repo),
        contact_retention_days=config.contact_retention_days,
        staff=StaffRoles(repo, accounts, portal, config.admin_emails),
        signer=AssertionSigner(config.staff_signing_key),
        verifier=AssertionVerifier(config.common.staff_verify_key),
    )
