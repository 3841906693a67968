"""Every collection of the consent service, and what personal data each can hold (issue 14).

The one place that says, per collection: the fields that can name a person, their
categories, why they are kept, on which lawful basis, for how long and to whom they go. The
export, the verifier and the privacy notice are to read it from here. Collection names are
the repositories' own constants. Retention follows SPEC §3 and the configuration defaults
(``CONSENT_PROOF_RETENTION_DAYS`` 1095, ``CONSENT_CONFIRMATION_TTL_HOURS`` 72,
``CONSENT_CONFIRMATION_WINDOW_SECONDS`` 86400).
"""

from __future__ import annotations

from lethe_common.audit import AUDIT
from lethe_common.inventory import (
    COMMUNICATION,
    CONSENT_RECORD,
    CONTACT,
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
from lethe_common.send_limits import SEND_LIMITS
from lethe_consent.record_store import OWNERS, RECORDS
from lethe_consent.repository import EXPIRIES, OLD_USED_TOKENS, PURPOSES, TEXTS
from lethe_consent.request_store import (
    ATTEMPTS,
    CONFIRMATIONS,
    CONTACTS,
    DOWNLOADS,
    OVERDUE_ALERTS,
    RECEIPTS,
    REQUEST_STEPS,
    REQUESTS,
    STAFF_QUEUE,
    VERIFICATIONS,
)

PROOF = LEGAL_OBLIGATION + ": proof of consent, Art. 7(1) GDPR"
PROOF_RETENTION = (
    "CONSENT_PROOF_RETENTION_DAYS (1095) after the withdrawal, refusal or erasure; at erasure "
    "e-mail, name and client address are dropped at once (pseudonymised)"
)
REQUESTS_BASIS = LEGAL_OBLIGATION + ": answering the rights of Art. 15-22 GDPR (Art. 12), and proving it"
REQUEST_RETENTION = (
    "unconfirmed: CONSENT_CONFIRMATION_TTL_HOURS (72); closed: CONSENT_PROOF_RETENTION_DAYS "
    "(1095) after completion; the last step of a deleted request a day more"
)
UNCONFIRMED = "until confirmed, or CONSENT_CONFIRMATION_TTL_HOURS (72); at once on erasure"
INDEX = "index documents: find a person's records and requests, and what falls due, by key"
WITH_ITEM = "as long as the item the entry points to (deleted after it)"

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        PURPOSES,
        ("by",),
        (IDENTIFIER,),
        "the consent purposes, which text of each is current, and who of staff published it",
        PROOF,
        "not deleted (what a record refers to)",
    ),
    Holding(
        TEXTS,
        ("published_by",),
        (IDENTIFIER,),
        "every published consent text, word for word, and who of staff published it",
        PROOF,
        "not deleted (what a record refers to)",
    ),
    Holding(
        RECORDS,
        ("_id", "id", "subject_key", "account_id", "email", "name", "client_address", "reason"),
        (IDENTIFIER, CONTACT, CONSENT_RECORD, NETWORK),
        "proof of each grant, withdrawal and refusal with the exact text (client addresses truncated)",
        PROOF,
        PROOF_RETENTION,
        (MESSAGE_BUS,),
    ),
    Holding(
        OWNERS,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (an account's keys, a person's requests, erasure marks)",
        "the basis of the item the entry points to",
        WITH_ITEM + "; erasure marks after a short time",
    ),
    Holding(
        REQUESTS,
        (
            "_id",
            "subject_key",
            "former_subject_keys",
            "account_id",
            "purpose",
            "reason",
            "decision",
            "follow_digest",
            "confirm_digest",
        ),
        (IDENTIFIER, PRIVACY_REQUEST, COMMUNICATION, CREDENTIALS),
        "the privacy-request ledger: access, erasure, restriction, objection",
        REQUESTS_BASIS,
        REQUEST_RETENTION,
        (MESSAGE_BUS,),
    ),
    Holding(
        REQUEST_STEPS,
        ("_id", "by", "reason", "decision"),
        (IDENTIFIER, PRIVACY_REQUEST, COMMUNICATION),
        "each move of a request: confirmation, receipts, staff decisions and their reasons",
        REQUESTS_BASIS,
        REQUEST_RETENTION,
        (MESSAGE_BUS,),
    ),
    Holding(
        RECEIPTS,
        ("_id", "deleted", "blocked", "kept", "note"),
        (PRIVACY_REQUEST,),
        "every service's receipt of a request, shown to the person",
        REQUESTS_BASIS,
        "with the request",
    ),
    Holding(
        CONFIRMATIONS,
        ("_id", "request_id"),
        (CREDENTIALS,),
        "the digest of a mailed confirmation link of a request made without an account",
        REQUESTS_BASIS,
        UNCONFIRMED,
    ),
    Holding(
        CONTACTS,
        ("_id", "email"),
        (CONTACT,),
        "the address an unconfirmed request is confirmed and answered at",
        REQUESTS_BASIS,
        "until confirmed (then deleted), or CONSENT_CONFIRMATION_TTL_HOURS (72); at once on erasure",
    ),
    Holding(
        SEND_LIMITS,
        ("_id", "entry"),
        (IDENTIFIER, NETWORK),
        "limit confirmation mails of requests made without an account per target address and "
        "per client (keyed hashes of the address and of the client address, never either; "
        "lethe_common.send_limits)",
        LEGITIMATE_INTEREST + ": no mail bombing through the request form",
        "the limit's window: CONSENT_CONFIRMATION_WINDOW_SECONDS (86400) per address, "
        "CONSENT_CONFIRMATION_CLIENT_WINDOW_SECONDS (3600) per client; then swept",
    ),
    Holding(
        ATTEMPTS,
        ("_id",),
        (IDENTIFIER,),
        "none: the earlier layout's mail limit per subject_key; no code writes it any more",
        LEGITIMATE_INTEREST + ": no mail bombing through the request form",
        "what an old database holds is swept as its expiries fall due (within an hour)",
        retired=True,
    ),
    Holding(
        STAFF_QUEUE,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (staff lists of requests by status and kind)",
        REQUESTS_BASIS,
        WITH_ITEM,
    ),
    Holding(
        EXPIRIES,
        ("_id", "item", "subject_key", "former_subject_keys", "account_id", "owners", "digest"),
        (IDENTIFIER,),
        INDEX + " (confirmations, attempts, closed requests, tombstones, records, marks)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        DOWNLOADS,
        ("_id", "subject_key", "digest"),
        (PRIVACY_REQUEST, IDENTIFIER, CREDENTIALS),
        "the single-use download link mailed to answer an access request without an account "
        "(its digest, never the link); the data itself is never stored",
        REQUESTS_BASIS,
        "until it is used or CONSENT_DOWNLOAD_TTL_HOURS (72) pass; with the request at the latest",
    ),
    Holding(
        VERIFICATIONS,
        ("_id", "request_id", "retained.place", "failures.place"),
        (PRIVACY_REQUEST,),
        "the proof of erasure: each run's findings (places and kinds of identifier, never "
        "their values; identifiers in places are masked)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 17 GDPR (accountability)",
        "with the request (deleted with it)",
    ),
    Holding(
        OVERDUE_ALERTS,
        ("_id",),
        (PRIVACY_REQUEST,),
        "a request's missed due date was alerted once (request id and due date in the key)",
        REQUESTS_BASIS,
        "with the request (deleted with it)",
    ),
    Holding(
        AUDIT,
        ("_id", "actor_id", "target", "subject_key", "reason"),
        (IDENTIFIER, USAGE, COMMUNICATION),
        "the staff audit trail: who of staff did what to whose privacy request, when and why "
        "(status changes, objection decisions, proofs of erasure run, consent texts published)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 32 GDPR (accountability)",
        "LETHE_AUDIT_RETENTION_DAYS (1095); on erasure only the subject key, the action, the "
        "actor and the time stay",
    ),
    Holding(
        OLD_USED_TOKENS,
        ("_id",),
        (CREDENTIALS,),
        "none: a collection of the earlier layout (used confirmation links); no code writes it",
        REQUESTS_BASIS,
        "not deleted by the service: an old database keeps it until an operator drops it",
        retired=True,
    ),
)

INVENTORY = Inventory("consent", HOLDINGS + LIBRARY_HOLDINGS)
