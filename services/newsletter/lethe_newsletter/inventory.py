"""Every collection of the newsletter service, and what personal data each can hold (issue 14).

The one place that says, per collection: the fields that can name a person, their
categories, why they are kept, on which lawful basis, for how long and to whom they go. The
export, the verifier and the privacy notice are to read it from here. Collection names are
the repositories' own constants. Retention follows SPEC §3 and the configuration defaults
(``NEWSLETTER_CONFIRMATION_TTL_HOURS`` 48).
"""

from __future__ import annotations

from lethe_common.audit import AUDIT
from lethe_common.inventory import (
    CONSENT,
    CONSENT_RECORD,
    CONTACT,
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
from lethe_newsletter.campaign_repository import (
    CAMPAIGN_INDEX,
    CAMPAIGN_LEASES,
    CAMPAIGN_PROGRESS,
    CAMPAIGN_STEPS,
    TEST_SENDS,
)
from lethe_newsletter.repository import (
    CONFIRMATION_MAILS,
    QUEUES,
    RESTRICTIONS,
    SEND_LOG,
    SUBSCRIBER_INDEX,
    SUBSCRIBER_STEPS,
    SUPPRESSION,
)

NEWSLETTER = "sending the newsletter a person subscribed to (double opt-in)"
NEWSLETTER_BASIS = CONSENT + " to the newsletter"
UNTIL_LEFT = (
    "until unsubscribing, withdrawal of the consent or erasure (the life's steps are deleted "
    "then); an unconfirmed request after NEWSLETTER_CONFIRMATION_TTL_HOURS (48)"
)
INDEX = "index documents: find a person's subscriptions and what falls due by key"
WITH_ITEM = "as long as the item the entry points to (deleted after it)"
RETIRED = "none: a collection of the layout before issue 12; no code reads or writes it"
RETIRED_RETENTION = "not deleted by the service: an old database keeps it until an operator drops it"

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        SUBSCRIBER_STEPS,
        (
            "_id",
            "email",
            "name",
            "subject_key",
            "account_id",
            "client_address",
            "consent_version",
            "consent_record_id",
        ),
        (IDENTIFIER, CONTACT, CONSENT_RECORD, NETWORK),
        NEWSLETTER + ": each address's subscription as a step log",
        NEWSLETTER_BASIS,
        UNTIL_LEFT + "; an erasure's last step keeps only the keyed hash it suppressed",
        (MESSAGE_BUS,),
    ),
    Holding(
        SUBSCRIBER_INDEX,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (an account's subscriptions)",
        NEWSLETTER_BASIS,
        WITH_ITEM,
    ),
    Holding(
        SUPPRESSION,
        ("_id",),
        (IDENTIFIER,),
        "never mail an erased address again: its keyed hash (subject_key) only",
        LEGAL_OBLIGATION + ": Art. 17 and 21(3) GDPR; " + LEGITIMATE_INTEREST,
        "until the person subscribes and confirms again",
    ),
    Holding(
        RESTRICTIONS,
        ("_id",),
        (IDENTIFIER, PRIVACY_REQUEST),
        "a person's restriction of processing (Art. 18): no sends",
        LEGAL_OBLIGATION + ": Art. 18 GDPR",
        "until the person is erased (the latest entry counts)",
    ),
    Holding(
        SEND_LOG,
        ("_id", "subscriber_id"),
        (IDENTIFIER, USAGE),
        NEWSLETTER + ": each message goes once; the person's send log",
        NEWSLETTER_BASIS,
        "until the subscription ends (unsubscribe, withdrawal, erasure)",
    ),
    Holding(
        CONFIRMATION_MAILS,
        ("_id",),
        (IDENTIFIER,),
        "one double opt-in mail per request",
        NEWSLETTER_BASIS,
        "until the subscription ends or the request expires",
    ),
    Holding(
        QUEUES,
        ("_id", "item"),
        (IDENTIFIER,),
        INDEX + " (unconfirmed requests, withdrawals to retry)",
        NEWSLETTER_BASIS,
        WITH_ITEM,
    ),
    Holding(
        SEND_LIMITS,
        ("_id", "entry"),
        (IDENTIFIER, NETWORK),
        "limit double opt-in mails per target address and per client (keyed hashes of the "
        "address and of the client address, never either; lethe_common.send_limits)",
        LEGITIMATE_INTEREST + ": no mail bombing through the subscription form",
        "the limit's window: NEWSLETTER_CONFIRMATION_WINDOW_SECONDS (86400) per address, "
        "NEWSLETTER_CONFIRMATION_CLIENT_WINDOW_SECONDS (3600) per client; then swept",
    ),
    Holding(
        CAMPAIGN_STEPS,
        ("created_by", "by"),
        (IDENTIFIER,),
        "campaigns (subject, bodies) and who of staff created and sent them",
        LEGITIMATE_INTEREST + ": accountability of what was sent",
        "not deleted by the service (staff accounts' ids only)",
    ),
    Holding(
        CAMPAIGN_INDEX,
        (),
        (),
        "campaign lists and the campaigns being sent",
        LEGITIMATE_INTEREST,
        "the created list: with the campaign; the sending entry: until sent or cancelled",
    ),
    Holding(
        CAMPAIGN_LEASES,
        (),
        (),
        "which worker sends a campaign",
        "none needed: no personal data",
        "until the campaign is sent or cancelled",
    ),
    Holding(
        CAMPAIGN_PROGRESS,
        (),
        (),
        "counts of each sending run",
        "none needed: no personal data",
        "not deleted by the service (counts only)",
    ),
    Holding(
        TEST_SENDS,
        ("by",),
        (IDENTIFIER,),
        "the test sends of a campaign in the current hour (at most 10): who of staff sent one "
        "and when, never the address it went to",
        LEGITIMATE_INTEREST + ": a test send cannot be used to mail anyone much",
        "until the hour is over (the next sweep deletes it)",
    ),
    Holding(
        AUDIT,
        ("actor_id", "subject_key"),
        (IDENTIFIER,),
        "the staff audit trail: who of staff created, sent, cancelled or test-sent which "
        "campaign, and when (a campaign concerns no one person: the subject key stays empty, "
        "and a test send's address is not recorded)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 32 GDPR (accountability)",
        "LETHE_AUDIT_RETENTION_DAYS (1095)",
    ),
    Holding(
        "subscribers",
        ("email", "name", "subject_key", "account_id"),
        (IDENTIFIER, CONTACT),
        RETIRED + " (subscribers)",
        NEWSLETTER_BASIS,
        RETIRED_RETENTION,
        retired=True,
    ),
    Holding(
        "campaigns",
        ("created_by",),
        (IDENTIFIER,),
        RETIRED + " (campaigns)",
        LEGITIMATE_INTEREST,
        RETIRED_RETENTION,
        retired=True,
    ),
)

INVENTORY = Inventory("newsletter", HOLDINGS + LIBRARY_HOLDINGS)
