"""Every collection of the analytics service, and what personal data each can hold (issue 14).

The one place that says, per collection: the fields that can name a person, their
categories, why they are kept, on which lawful basis, for how long and to whom they go. The
export, the verifier and the privacy notice are to read it from here. Collection names are
the repository's own constants. Retention follows SPEC §3 and the configuration default
(``ANALYTICS_EVENT_RETENTION_DAYS`` 396, 13 months).
"""

from __future__ import annotations

from lethe_analytics.repository import ERASURE_FINDINGS, PAGE_COUNTS, VISIT_EXPIRIES, VISITOR_LINKS, VISITS
from lethe_common.inventory import (
    CONSENT,
    IDENTIFIER,
    LEGAL_OBLIGATION,
    LIBRARY_HOLDINGS,
    PRIVACY_REQUEST,
    USAGE,
    Holding,
    Inventory,
)

ANALYTICS = "analytics: which pages are viewed, by day, to improve the site"
ANALYTICS_BASIS = CONSENT + " to analytics (§ 25(1) TTDSG: the analytics cookie needs opt-in)"
RETENTION = (
    "ANALYTICS_EVENT_RETENTION_DAYS (396, 13 months) after the page view; at once when the "
    "consent is withdrawn or declined, the visitor is forgotten or the person erased"
)
WITH_ITEM = "as long as the visits the entry points to (deleted after them)"

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        PAGE_COUNTS,
        (),
        (),
        ANALYTICS + ": the number of views per page and UTC day, naming no one (no visitor, "
        "no address, no cookie)",
        "none needed: no personal data (counted for every page view, without consent)",
        "not deleted by the service (counts only)",
    ),
    Holding(
        VISITS,
        ("_id", "visitor", "subject_key"),
        (IDENTIFIER, USAGE),
        ANALYTICS + ": page views of a visitor who consented (a keyed hash of the analytics "
        "cookie's id, never the id), with the person's subject key when logged in",
        ANALYTICS_BASIS,
        RETENTION,
    ),
    Holding(
        VISITOR_LINKS,
        ("_id",),
        (IDENTIFIER,),
        "index documents: which visitor cookies (keyed hashes) a logged-in person who "
        "consented was seen with, so that an erasure finds their visits from before the log-in",
        ANALYTICS_BASIS,
        WITH_ITEM + "; at once on withdrawal, forgetting or erasure",
    ),
    Holding(
        VISIT_EXPIRIES,
        ("_id", "item"),
        (IDENTIFIER,),
        "index documents: the visitors (keyed hashes) with visits that fall due on a day, "
        "for the retention sweep",
        ANALYTICS_BASIS,
        WITH_ITEM,
    ),
    Holding(
        ERASURE_FINDINGS,
        ("_id",),
        (PRIVACY_REQUEST,),
        "what the first handler of an erasure request found (two numbers), so that the "
        "receipt says it whichever handler sends it",
        LEGAL_OBLIGATION + ": Art. 12 and 17 GDPR (answering the request)",
        "until the request's receipt is sent (seconds)",
    ),
)

INVENTORY = Inventory("analytics", HOLDINGS + LIBRARY_HOLDINGS)
