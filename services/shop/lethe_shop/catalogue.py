"""The catalogue: products with net prices in cents, a currency and a VAT rate.

Staff create and change products; nobody deletes one (orders refer to it),
they set it inactive and it leaves the shop window. A change is an edit step of
the product (``product_edits``), so two staff changing one product at once both
keep their change. Staff's creations and changes are entries of the staff audit trail
(``product.created``, ``product.changed`` with the names of the changed fields); the
demo catalogue's seeding is no one's action and leaves none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lethe_common import tokens
from lethe_common.audit import AuditRecord
from lethe_common.errors import AlreadyExists, InvalidArgument, NotFound
from lethe_common.mongo import Document
from lethe_common.store.steps import Step
from lethe_common.validation import object_id, text
from lethe_shop.models import KINDS
from lethe_shop.repo_catalogue import apply_edits
from lethe_shop.repository import ShopRepository

_SKU = re.compile(r"[A-Z0-9][A-Z0-9-]{1,39}")
_FILE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_CURRENCIES = ("EUR", "USD", "GBP", "CHF")
EDITABLE = ("name", "description", "price_cents", "currency", "vat_rate_bp", "term_months", "files", "active")
MAX_PRICE_CENTS = 100_000_000
PRODUCT_CREATED = "product.created"  # the audit trail's actions
PRODUCT_CHANGED = "product.changed"


def check_product(fields: Mapping[str, Any], downloads_dir: Path) -> Document:
    """The product fields after every check; raises InvalidArgument with a readable reason."""
    kind = fields["kind"]
    if kind not in KINDS:
        raise InvalidArgument(f"kind must be one of {', '.join(KINDS)}")
    price, vat, term = fields["price_cents"], fields["vat_rate_bp"], fields["term_months"]
    if not 0 < price <= MAX_PRICE_CENTS:
        raise InvalidArgument("price_cents must be a positive amount in cents")
    if fields["currency"] not in _CURRENCIES:
        raise InvalidArgument(f"currency must be one of {', '.join(_CURRENCIES)}")
    if not 0 <= vat <= 5000:
        raise InvalidArgument("vat_rate_bp must be between 0 and 5000 (basis points: 1900 = 19 %)")
    if (kind == "subscription") != (term > 0) or not 0 <= term <= 120:
        raise InvalidArgument("a subscription needs term_months (1 to 120); other kinds none")
    files = list(fields["files"])
    if (kind == "physical") == bool(files):
        raise InvalidArgument("downloads and subscriptions need files; physical products none")
    for name in files:
        if not _FILE.fullmatch(name) or not (downloads_dir / name).is_file():
            raise InvalidArgument("every file must be the name of a file in the download storage")
    return {
        "name": text(fields["name"], "name", max_length=200),
        "description": text(
            fields["description"], "description", max_length=2000, required=False, multiline=True
        ),
        "kind": kind,
        "price_cents": price,
        "currency": fields["currency"],
        "vat_rate_bp": vat,
        "term_months": term,
        "files": files,
        "active": bool(fields["active"]),
    }


class Catalogue:
    def __init__(self, repo: ShopRepository, downloads_dir: Path) -> None:
        self._repo = repo
        self._downloads_dir = downloads_dir

    def products(self, include_inactive: bool = False) -> list[Document]:
        """By name; only active ones unless staff ask for all."""
        products = [p for p in self._repo.catalogue.all() if include_inactive or p["active"]]
        return sorted(products, key=lambda p: (p["name"], p["_id"]))

    def create(self, sku: str, fields: Mapping[str, Any], *, actor_id: str = "") -> Document:
        """A new product; ``actor_id``, the member of staff who created it (audited)."""
        if not _SKU.fullmatch(sku):
            raise InvalidArgument("sku must be 2 to 40 capital letters, digits or dashes")
        now = datetime.now(UTC)
        doc = {
            "_id": tokens.new_id("prd"),
            "sku": sku,
            **check_product(fields, self._downloads_dir),
            "created_at": now,
            "updated_at": now,
        }
        if not self._repo.catalogue.insert(doc):
            raise AlreadyExists("a product with this sku exists already")
        if actor_id:
            self._repo.audit.record(AuditRecord(actor_id, PRODUCT_CREATED, target=doc["_id"]), now)
        return doc

    def update(self, actor_id: str, product_id: str, changes: Mapping[str, Any]) -> Document:
        """Change some fields of a product, for the member of staff ``actor_id`` (audited)."""
        object_id(actor_id, "actor_account_id")
        object_id(product_id, "product id")
        unknown = set(changes) - set(EDITABLE)
        if unknown or not changes:
            raise InvalidArgument(f"only these fields can be changed: {', '.join(EDITABLE)}")
        created = self._repo.catalogue.get(product_id)
        if created is None:
            raise NotFound("no such product")
        now = datetime.now(UTC)

        def decide(edits: list[Document]) -> Step:
            """Checked against the product as its edits left it, each time it is decided."""
            checked = check_product({**apply_edits(created, edits), **changes}, self._downloads_dir)
            return Step({"changes": {name: checked[name] for name in changes}, "at": now})

        doc = self._repo.catalogue.edit(product_id, decide)
        if doc is None:
            raise NotFound("no such product")
        changed = ",".join(sorted(changes))
        self._repo.audit.record(
            AuditRecord(actor_id, PRODUCT_CHANGED, target=product_id, detail=changed), now
        )
        return doc

    def priced(self, product_ids: list[str]) -> dict[str, Document]:
        """The active products among ``product_ids`` (ids checked by ``checked_lines``);
        an unknown one is an InvalidArgument."""
        found = self._repo.catalogue.by_id(product_ids)
        missing = [p for p in product_ids if p not in found or not found[p]["active"]]
        if missing:
            raise InvalidArgument("the order names a product that is not in the catalogue")
        return found
