"""The inventory types (issue 14), the library's own holdings, and the store checks."""

from __future__ import annotations

import pytest

from lethe_common.inventory import CONTACT, CONTRACT, IDENTIFIER, LIBRARY_HOLDINGS, Holding, Inventory
from lethe_testing.inventory import code_collections, covered, paths

pytestmark = pytest.mark.unit

# The library's ``db[...]`` whose collection is no constant, and why each is covered anyway.
DYNAMIC = {
    "lethe_common.diagnostics: self._db[name]": "the sweep over (PINGS, PINGS_SEEN)",
    "lethe_common.events.outbox: self._db[str(intent['collection'])]": "reads the proof of an intent",
    "lethe_common.mongo: db[spec.collection]": "ensure_indexes: the services' INDEXES",
    "lethe_common.trace_search: db[name]": "the proof of erasure reads every collection there is",
}


def holding(
    collection: str, *fields: str, purpose: str = "p", lawful_basis: str = CONTRACT, retention: str = "r"
) -> Holding:
    return Holding(collection, fields, (CONTACT,) if fields else (), purpose, lawful_basis, retention)


def test_every_collection_the_library_names_is_one_of_its_shared_holdings() -> None:
    named, dynamic = code_collections("lethe_common")
    assert dynamic <= set(DYNAMIC), sorted(dynamic - set(DYNAMIC))
    declared = {h.collection for h in LIBRARY_HOLDINGS}
    assert set(named) == declared
    assert Inventory("any", LIBRARY_HOLDINGS).problems() == []


def test_an_inventory_finds_its_holdings_and_refuses_a_collection_declared_twice() -> None:
    inventory = Inventory("svc", (holding("people", "email"), holding("products")))
    assert inventory.collections() == {"people", "products"}
    assert inventory.holding("people").fields == ("email",)
    assert [h.collection for h in inventory.personal()] == ["people"]
    assert inventory.undeclared(["people", "carts", "system.views"]) == ["carts"]
    with pytest.raises(KeyError, match="carts"):
        inventory.holding("carts")
    with pytest.raises(ValueError, match="people"):
        Inventory("svc", (holding("people"), holding("people", "email")))


def test_a_holding_without_purpose_basis_retention_or_category_is_incomplete() -> None:
    assert holding("a", "email").problems() == []
    assert holding("b", "email", purpose=" ").problems() == ["b: no purpose"]
    assert holding("c", lawful_basis="", retention="").problems() == ["c: no lawful basis", "c: no retention"]
    no_category = Holding("d", ("email",), (), "p", CONTRACT, "r")
    assert no_category.problems() == ["d: personal fields without a category"]
    assert Holding("e", (), (IDENTIFIER,), "p", CONTRACT, "r").problems() == [
        "e: categories but no personal fields"
    ]


def test_recipients_are_listed_once_in_declaration_order() -> None:
    inventory = Inventory(
        "svc",
        (
            Holding("a", ("x",), (IDENTIFIER,), "p", CONTRACT, "r", ("supplier", "bus")),
            Holding("b", ("y",), (IDENTIFIER,), "p", CONTRACT, "r", ("bus", "payment provider")),
            Holding("c", (), (), "p", CONTRACT, "r", ("nobody: holds nothing personal",)),
        ),
    )
    assert inventory.recipients() == ("supplier", "bus", "payment provider")


def test_stored_paths_are_dotted_and_a_declared_field_covers_what_is_below_it() -> None:
    doc = {"_id": "o", "billing": {"street": "s", "city": "c"}, "lines": [{"sku": "k"}, {"name": "n"}]}
    assert sorted(paths(doc)) == [
        "_id",
        "billing",
        "billing.city",
        "billing.street",
        "lines",
        "lines.name",
        "lines.sku",
    ]
    assert covered("billing.street", ("billing",)) and covered("billing", ("billing",))
    assert not covered("billing_phone", ("billing",)) and not covered("billing.street", ("delivery",))
