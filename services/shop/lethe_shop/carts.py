"""The customer's cart: products and quantities, priced from the catalogue whenever read."""

from __future__ import annotations

from datetime import UTC, datetime

from lethe_common.mongo import Document
from lethe_shop.catalogue import Catalogue
from lethe_shop.checkout import Customer, checked_lines
from lethe_shop.models import line_of
from lethe_shop.repository import ShopRepository


class Carts:
    def __init__(self, repo: ShopRepository, catalogue: Catalogue) -> None:
        self._repo = repo
        self._catalogue = catalogue

    def get(self, customer: Customer) -> list[Document]:
        """The cart's lines at today's prices; products gone from the shop drop out."""
        cart = self._repo.people.cart(customer.subject.account_id)
        wanted = [(line["product_id"], line["quantity"]) for line in (cart or {}).get("lines", [])]
        products = self._repo.catalogue.by_id(p for p, _ in wanted)
        return [line_of(products[p], q) for p, q in wanted if p in products and products[p]["active"]]

    def put(self, customer: Customer, lines: list[tuple[str, int]]) -> list[Document]:
        """Replace the cart; an empty list empties it."""
        wanted = checked_lines(lines) if lines else []
        products = self._catalogue.priced([p for p, _ in wanted])
        priced = [line_of(products[p], q) for p, q in wanted]  # checks quantities and kinds
        self._repo.people.put_cart(
            {
                "_id": customer.subject.account_id,
                "subject_key": customer.subject.subject_key,
                "lines": [{"product_id": p, "quantity": q} for p, q in wanted],
                "updated_at": datetime.now(UTC),
            }
        )
        return priced
