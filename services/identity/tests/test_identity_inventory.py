"""The identity service's data inventory (issue 14) against its code: every collection the code
names is declared, every declaration names a collection the code (or the library) uses, and
every declaration says what it holds, why, on which basis and for how long."""

from __future__ import annotations

import pytest

from lethe_identity.inventory import INVENTORY
from lethe_testing.inventory import code_problems

pytestmark = pytest.mark.unit

# ``db[...]`` whose collection is no constant, and why each is covered anyway.
DYNAMIC = {
    "lethe_identity.seeding: db[collection]": "the benchmark seed: WRITE_ORDER (below)",
}


def test_the_identity_inventory_declares_every_collection_of_its_code_and_says_why() -> None:
    assert INVENTORY.service == "identity"
    assert code_problems("lethe_identity", INVENTORY, DYNAMIC) == []
