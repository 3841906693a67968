"""Every collection of the identity service, and what personal data each can hold (issue 14).

The one place that says, per collection: the fields that can name a person, their
categories, why they are kept, on which lawful basis, for how long and to whom they go. The
export, the verifier and the privacy notice are to read it from here. Collection names are
the repositories' own constants, so a renamed collection cannot leave this list behind.
Retention follows the configuration defaults (docs/architecture.md, "Configuration").
"""

from __future__ import annotations

from lethe_common.audit import AUDIT
from lethe_common.inventory import (
    COMMUNICATION,
    CONSENT,
    CONSENT_RECORD,
    CONTACT,
    CONTRACT,
    CREDENTIALS,
    IDENTIFIER,
    LEGAL_OBLIGATION,
    LEGITIMATE_INTEREST,
    LIBRARY_HOLDINGS,
    MESSAGE_BUS,
    NETWORK,
    PRIVACY_REQUEST,
    USAGE,
    Holding,
    Inventory,
)
from lethe_identity.repo_access import ATTEMPTS, CONFIRMATIONS, SESSIONS, TOKENS, USED_TOKENS
from lethe_identity.repo_accounts import ACCOUNTS, LINKS, PROFILES
from lethe_identity.repo_accounts import CREDENTIALS as CREDENTIALS_COLLECTION
from lethe_identity.repo_addresses import ADDRESSES
from lethe_identity.repo_contacts import CLOSURES, CONTACTS, RESTRICTIONS
from lethe_identity.repo_portal import ORG_DOMAINS, ORGANISATIONS
from lethe_identity.repository import EXPIRIES, OWNED, STAFF_MEMBERS, STAFF_QUEUES, TOMBSTONES

ACCOUNT_PURPOSE = "the customer account: log-in, profile, portal access"
ACCOUNT_BASIS = f"{CONTRACT}; {CONSENT} to open a customer account"
UNTIL_DELETED = (
    "until the account is deleted (erasure, or withdrawal of the account consent); an "
    "unverified account when its verification link expires (IDENTITY_VERIFICATION_TTL_MINUTES, "
    "1440); a superseded version is blanked when the next one is written"
)
CONTACT_PURPOSE = "answering a contact or callback request"
CONTACT_RETENTION = "until answered, then IDENTITY_CONTACT_RETENTION_DAYS (90); at once on erasure"
SECURITY = (
    f"{LEGITIMATE_INTEREST}: security of the accounts (limiting log-in, password-change and contact "
    "attempts, password-reset mails and account mails anyone can cause)"
)
LINK_LIFETIME = (
    "until used or expired: IDENTITY_VERIFICATION_TTL_MINUTES (1440), password-reset links "
    "IDENTITY_PASSWORD_RESET_TTL_MINUTES (60); at once on erasure"
)
INDEX = "index documents: find a person's items for erasure, export and expiry by key"
WITH_ITEM = "as long as the item the entry points to (deleted after it)"

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        ACCOUNTS,
        (
            "_id",
            "account_consent_version",
            "created_at",
            "domain",
            "restricted",
            "request_id",
            "old_subject_key",
        ),
        (IDENTIFIER, CONSENT_RECORD, USAGE),
        ACCOUNT_PURPOSE + " (base, activation, portal-request steps, restriction marks, former address keys)",
        ACCOUNT_BASIS,
        UNTIL_DELETED,
        (MESSAGE_BUS,),
    ),
    Holding(
        PROFILES,
        ("_id", "email", "name", "phone", "subject_key"),
        (IDENTIFIER, CONTACT),
        ACCOUNT_PURPOSE,
        ACCOUNT_BASIS,
        UNTIL_DELETED,
    ),
    Holding(
        CREDENTIALS_COLLECTION,
        ("_id", "password_hash"),
        (IDENTIFIER, CREDENTIALS),
        "log-in: the password's argon2id hash, never the password",
        ACCOUNT_BASIS,
        UNTIL_DELETED,
    ),
    Holding(
        LINKS,
        ("_id", "digest"),
        (IDENTIFIER, CREDENTIALS),
        "the newest link of each purpose (activation, e-mail change, password reset)",
        ACCOUNT_BASIS,
        UNTIL_DELETED,
    ),
    Holding(
        ADDRESSES,
        ("_id", "account_id"),
        (IDENTIFIER,),
        "which account holds an e-mail address (keyed by its subject_key)",
        ACCOUNT_BASIS,
        "while the account holds the address; released at erasure or e-mail change",
    ),
    Holding(
        SESSIONS,
        ("_id", "account_id", "created_at", "last_seen_at"),
        (IDENTIFIER, CREDENTIALS, USAGE),
        "keep a person logged in (the token's digest only)",
        CONTRACT,
        "until log-out, or IDENTITY_SESSION_IDLE_MINUTES (30) idle / IDENTITY_SESSION_ABSOLUTE_HOURS "
        "(12); with remember-me IDENTITY_REMEMBER_ME_DAYS (30); at once on erasure",
    ),
    Holding(
        CONFIRMATIONS,
        ("_id",),
        (IDENTIFIER, CREDENTIALS),
        "when the password was last entered again in a session (a staff step-up; the session "
        "token's digest only)",
        CONTRACT,
        "as long as the session",
    ),
    Holding(
        TOKENS,
        ("_id", "account_id", "email"),
        (IDENTIFIER, CONTACT, CREDENTIALS),
        "a mailed link (its digest: activation, e-mail change, password reset) and the address "
        "it was sent to",
        ACCOUNT_BASIS,
        LINK_LIFETIME,
    ),
    Holding(
        USED_TOKENS,
        ("_id",),
        (CREDENTIALS,),
        "a mailed link works once (the digest of a used one)",
        ACCOUNT_BASIS,
        "until the link would have expired (IDENTITY_VERIFICATION_TTL_MINUTES, 1440; "
        "IDENTITY_PASSWORD_RESET_TTL_MINUTES, 60)",
    ),
    Holding(
        ATTEMPTS,
        ("_id",),
        (IDENTIFIER, NETWORK),
        "limit failed log-ins and wrong current passwords per account, log-ins per address, "
        "contact requests per client, password-reset mails per e-mail address, and account mails "
        "(registration, resend, e-mail change) per e-mail address and per client (keyed hashes "
        "of the account, address or client address)",
        SECURITY,
        "the limiter's window: IDENTITY_LOGIN_WINDOW_SECONDS (900), IDENTITY_CONTACT_WINDOW_SECONDS "
        "(3600), IDENTITY_PASSWORD_RESET_WINDOW_SECONDS (3600), IDENTITY_ACCOUNT_MAIL_WINDOW_SECONDS "
        "(86400), IDENTITY_ACCOUNT_MAIL_CLIENT_WINDOW_SECONDS (3600)",
    ),
    Holding(
        CONTACTS,
        ("_id", "email", "name", "phone", "message", "subject_key", "account_id"),
        (IDENTIFIER, CONTACT, COMMUNICATION),
        CONTACT_PURPOSE,
        LEGITIMATE_INTEREST + ": answering the request",
        CONTACT_RETENTION,
    ),
    Holding(
        CLOSURES,
        ("_id", "closed_by"),
        (IDENTIFIER, COMMUNICATION),
        CONTACT_PURPOSE + ": who of staff answered it, and when",
        LEGITIMATE_INTEREST + ": answering the request",
        CONTACT_RETENTION,
    ),
    Holding(
        RESTRICTIONS,
        ("_id",),
        (IDENTIFIER, PRIVACY_REQUEST),
        "a person's restriction of processing (Art. 18): hide their contact requests from staff",
        LEGAL_OBLIGATION + ": Art. 18 GDPR",
        "until the restriction is lifted (the latest entry counts) or the person is erased",
    ),
    Holding(
        ORGANISATIONS,
        (),
        (),
        "customer organisations (company name and e-mail domains) for portal access",
        CONTRACT,
        "until staff change them (older versions are blanked)",
    ),
    Holding(
        ORG_DOMAINS,
        (),
        (),
        "which organisation an e-mail domain belongs to",
        CONTRACT,
        "until staff remove the domain",
    ),
    Holding(
        OWNED,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (an account's sessions and links, a person's contact requests)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        EXPIRIES,
        ("_id", "item", "account_id", "subject_key"),
        (IDENTIFIER,),
        INDEX + " (what falls due: sessions, links, attempts, unverified accounts, contacts)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        STAFF_QUEUES,
        ("_id", "item"),
        (IDENTIFIER,),
        INDEX + " (staff lists of contact and portal requests)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        STAFF_MEMBERS,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (the accounts that hold a staff role granted in the back office)",
        f"{LEGITIMATE_INTEREST}: who of staff may do what",
        "while the account holds a granted role; at once on erasure",
    ),
    Holding(
        AUDIT,
        ("_id", "actor_id", "target", "subject_key", "reason"),
        (IDENTIFIER, USAGE),
        "the staff audit trail: who of staff did what to whom, when and why (role changes, "
        "portal decisions, organisations, contact requests)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 32 GDPR (accountability)",
        "LETHE_AUDIT_RETENTION_DAYS (1095); on erasure only the subject key, the action, the "
        "actor and the time stay",
    ),
    Holding(
        TOMBSTONES,
        (),
        (),
        "proof of an erasure: the request id and the time, nothing of the person (tombstones "
        "written before issue 14's proof of erasure also hold the subject_key)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 17 GDPR (accountability)",
        "not deleted by any sweep (no personal data)",
    ),
)

INVENTORY = Inventory("identity", HOLDINGS + LIBRARY_HOLDINGS)
