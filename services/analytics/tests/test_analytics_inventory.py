"""The analytics service's data inventory (issue 14) against its code: every collection the
code names is declared, every declaration names a collection the code (or the library)
uses, and every declaration says what it holds, why, on which basis and for how long."""

from __future__ import annotations

import pytest

from lethe_analytics.inventory import INVENTORY
from lethe_analytics.repository import PAGE_COUNTS, VISITS
from lethe_testing.inventory import code_problems

pytestmark = pytest.mark.unit

# ``db[...]`` whose collection is no constant, and why each is covered anyway.
DYNAMIC: dict[str, str] = {}


def test_the_analytics_inventory_declares_every_collection_of_its_code_and_says_why() -> None:
    assert INVENTORY.service == "analytics"
    assert code_problems("lethe_analytics", INVENTORY, DYNAMIC) == []


def test_counts_hold_no_personal_data_and_visits_rest_on_the_analytics_consent() -> None:
    assert not INVENTORY.holding(PAGE_COUNTS).personal
    visits = INVENTORY.holding(VISITS)
    assert "TTDSG" in visits.lawful_basis and "consent" in visits.lawful_basis
    assert "13 months" in visits.retention
    assert visits.fields == ("_id", "visitor", "subject_key")
