"""The identity service's data inventory (issue 14) against its code: every collection the code
names is declared, every declaration names a collection the code (or the library) uses, and
every declaration says what it holds, why, on which basis and for how long."""

from __future__ import annotations

import pytest

from lethe_identity.inventory import INVENTORY
from lethe_testing.inventory import code_collections

pytestmark = pytest.mark.unit

# ``db[...]`` whose collection is no constant, and why each is covered anyway.
DYNAMIC = {
    "lethe_identity.seeding: db[collection]": "the benchmark seed: WRITE_ORDER (below)",
}


def test_every_collection_the_identity_code_names_is_declared_in_its_inventory() -> None:
    named, dynamic = code_collections("lethe_identity")
    from lethe_identity.seeding import WRITE_ORDER

    named = {**named, **{c: {"lethe_identity.seeding.WRITE_ORDER"} for c in WRITE_ORDER}}
    assert dynamic <= set(DYNAMIC), f"collections the test cannot resolve: {sorted(dynamic - set(DYNAMIC))}"
    missing = INVENTORY.undeclared(named)
    assert not missing, "\n".join(
        f"{name} (named in {sorted(named[name])}) is not declared" for name in missing
    )


def test_every_identity_declaration_names_a_collection_of_its_code_or_the_library() -> None:
    named, _ = code_collections("lethe_identity")
    library, _ = code_collections("lethe_common")
    assert sorted(INVENTORY.collections() - set(named) - set(library)) == []


def test_every_identity_holding_says_what_it_holds_why_on_which_basis_and_how_long() -> None:
    assert INVENTORY.service == "identity"
    assert INVENTORY.problems() == []
    assert INVENTORY.personal(), "a service that holds no personal data needs no inventory"
