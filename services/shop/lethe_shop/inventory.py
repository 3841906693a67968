"""Every collection of the shop, and what personal data each can hold (issue 14).

The one place that says, per collection: the fields that can name a person, their
categories, why they are kept, on which lawful basis, for how long and to whom they go. The
export, the verifier and the privacy notice are to read it from here. Collection names are
the repositories' own constants. Retention follows SPEC §3 and the configuration defaults
(``SHOP_RETENTION_INVOICE_YEARS`` 8, ``SHOP_RETENTION_LETTER_YEARS`` 6, from the end of the
calendar year; ``SHOP_DOWNLOAD_ENTITLEMENT_DAYS`` 365).
"""

from __future__ import annotations

from lethe_common.audit import AUDIT
from lethe_common.inventory import (
    ADDRESS,
    CONTACT,
    CONTRACT,
    IDENTIFIER,
    LEGAL_OBLIGATION,
    LIBRARY_HOLDINGS,
    MESSAGE_BUS,
    PAYMENT_REFERENCE,
    PRIVACY_REQUEST,
    PURCHASE,
    USAGE,
    Holding,
    Inventory,
)
from lethe_shop.repo_catalogue import PRODUCT_EDITS, PRODUCTS
from lethe_shop.repo_orders import ORDER_CONTACTS, ORDER_KEYS, ORDER_STEPS, ORDERS, PERSON_INDEX, QUEUES
from lethe_shop.repo_people import (
    CARTS,
    DOWNLOAD_LOG,
    ENTITLEMENTS,
    ERASURE_WAITS,
    HANDOFFS,
    RESTRICTIONS,
)
from lethe_shop.repository import LEGAL_HOLD_READS, RETENTION_AUDIT

PAYMENT_PROVIDER = (
    "the payment provider (SHOP_PAYMENT_URL): order id and amount; the card goes to it directly"
)
SUPPLIER = "the supplier of physical goods (SHOP_SUPPLIER_NAME): the delivery address and the items"
ORDER_BASIS = (
    f"{CONTRACT}; {LEGAL_OBLIGATION}: retention of invoices and booking documents (HGB §257, AO §147)"
)
ORDER_RETENTION = (
    "open orders until fulfilled (an erasure waits, Art. 17(3)(b)); completed: blocked at once, "
    "deleted SHOP_RETENTION_INVOICE_YEARS (8) after the end of the year; an unpaid cancelled "
    "order at erasure"
)
SHIPPING = "delivery of the ordered goods"
INDEX = "index documents: find a person's items for erasure, export and staff lists by key"
WITH_ITEM = "as long as the item the entry points to (deleted after it)"

HOLDINGS: tuple[Holding, ...] = (
    Holding(
        PRODUCTS,
        (),
        (),
        "the catalogue",
        CONTRACT,
        "while the product is sold (never deleted by the shop)",
    ),
    Holding(
        PRODUCT_EDITS,
        (),
        (),
        "the catalogue: staff's edits of a product",
        CONTRACT,
        "with the product (never deleted by the shop)",
    ),
    Holding(
        CARTS,
        ("_id", "subject_key", "lines"),
        (IDENTIFIER, PURCHASE),
        "a logged-in person's cart",
        CONTRACT + " (steps before a contract, Art. 6(1)(b))",
        "until replaced by its owner; deleted at erasure",
    ),
    Holding(
        ORDERS,
        ("_id", "account_id", "subject_key", "email", "billing", "delivery", "lines", "totals", "placed_at"),
        (IDENTIFIER, CONTACT, ADDRESS, PURCHASE),
        "the order: contract, invoice and booking document (orders placed before issue 14 "
        "also hold the e-mail address, removed at erasure)",
        ORDER_BASIS,
        ORDER_RETENTION,
        (PAYMENT_PROVIDER, SUPPLIER),
    ),
    Holding(
        ORDER_CONTACTS,
        ("_id", "billing_phone", "delivery_phone", "delivery_note"),
        (CONTACT, ADDRESS),
        SHIPPING + ": phone numbers and the delivery note, not needed for the invoice",
        CONTRACT,
        "with the order; deleted at once when an erasure blocks the order",
        (SUPPLIER,),
    ),
    Holding(
        ORDER_STEPS,
        ("_id", "reference", "by"),
        (IDENTIFIER, PAYMENT_REFERENCE, PURCHASE),
        "the order's history: payment (the provider's charge reference only, never card or "
        "bank numbers), staff moves, refunds, hand-off, blocking",
        ORDER_BASIS,
        "with the order",
        (MESSAGE_BUS,),
    ),
    Holding(
        ORDER_KEYS,
        ("_id", "order_id", "token_fingerprint"),
        (IDENTIFIER, PAYMENT_REFERENCE),
        "one order per Idempotency-Key: the attempts and declines of a key",
        CONTRACT,
        "until the account's erasure",
    ),
    Holding(
        ENTITLEMENTS,
        ("_id", "account_id", "subject_key", "order_id", "product_id", "product_name", "until"),
        (IDENTIFIER, PURCHASE),
        "downloads a person may fetch for what they bought",
        CONTRACT,
        "SHOP_DOWNLOAD_ENTITLEMENT_DAYS (365) or the subscription's term; deleted at cancellation or erasure",
    ),
    Holding(
        DOWNLOAD_LOG,
        ("_id", "account_id", "subject_key", "entitlement_id", "file", "at"),
        (IDENTIFIER, PURCHASE, USAGE),
        "the download history a person sees and exports",
        CONTRACT,
        "until erasure (deleted at once: not needed for the retention purpose)",
    ),
    Holding(
        HANDOFFS,
        ("_id", "account_id", "subject_key", "order_id", "supplier_reference"),
        (IDENTIFIER, PURCHASE),
        "proof of what was handed to the supplier, for what, and when (business letter)",
        ORDER_BASIS,
        "SHOP_RETENTION_LETTER_YEARS (6) after the end of the year",
        (SUPPLIER,),
    ),
    Holding(
        ERASURE_WAITS,
        ("_id", "account_id", "subject_key", "former_subject_keys"),
        (IDENTIFIER, PRIVACY_REQUEST),
        "an erasure waiting until the person's open orders are fulfilled (Art. 17(3)(b))",
        LEGAL_OBLIGATION + ": Art. 17 GDPR",
        "until the last open order is closed and the follow-up receipt is sent",
    ),
    Holding(
        RESTRICTIONS,
        ("_id",),
        (IDENTIFIER, PRIVACY_REQUEST),
        "a person's restriction of processing (Art. 18): their orders leave staff lists",
        LEGAL_OBLIGATION + ": Art. 18 GDPR",
        "until the person is erased (the latest step counts)",
    ),
    Holding(
        PERSON_INDEX,
        ("_id",),
        (IDENTIFIER,),
        INDEX + " (orders, rights, downloads, hand-offs, erasure waits of a person)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        QUEUES,
        ("_id", "item"),
        (IDENTIFIER,),
        INDEX + " (open orders, status lists, retention, refunds, letters, erasure waits)",
        "the basis of the item the entry points to",
        WITH_ITEM,
    ),
    Holding(
        AUDIT,
        ("_id", "actor_id", "target", "subject_key", "reason"),
        (IDENTIFIER, USAGE),
        "the staff audit trail: who of staff did what to whose order or to which product, when "
        "and why (order moves, legal-hold reads of blocked orders, catalogue changes)",
        LEGAL_OBLIGATION + ": Art. 5(2) and 32 GDPR (accountability, access to blocked data)",
        "LETHE_AUDIT_RETENTION_DAYS (1095); on erasure only the subject key, the action, the "
        "actor and the time stay",
    ),
    Holding(
        LEGAL_HOLD_READS,
        ("_id", "actor_account_id", "order_id", "reason"),
        (IDENTIFIER,),
        "the reads of blocked orders an earlier version recorded here (the staff audit trail "
        "records them now; no code writes this collection): still listed with the trail's",
        LEGAL_OBLIGATION + ": Art. 5(2) GDPR (accountability of access to blocked data)",
        "LETHE_AUDIT_RETENTION_DAYS (1095) after the read, like the audit trail",
    ),
    Holding(
        RETENTION_AUDIT,
        (),
        (),
        "audit of each retention run: counts and times only",
        LEGAL_OBLIGATION + ": Art. 5(2) GDPR (accountability)",
        "not deleted by any sweep yet (no personal data)",
    ),
)

INVENTORY = Inventory("shop", HOLDINGS + LIBRARY_HOLDINGS)
