"""Client addresses are truncated before anything keeps them."""

from __future__ import annotations

import pytest

from lethe_common.netaddr import truncate_address

pytestmark = pytest.mark.unit  # needs no stack: `make unit` runs these


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("203.0.113.57", "203.0.113.0"),
        (" 198.51.100.255 ", "198.51.100.0"),
        ("2001:db8:85a3:8d3:1319:8a2e:370:7348", "2001:db8:85a3::"),
        ("2001:db8:85a3:ffff:ffff:ffff:ffff:ffff", "2001:db8:85a3::"),
        ("::ffff:192.0.2.128", "192.0.2.0"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
    ],
)
def test_the_host_part_is_dropped(given: str, kept: str) -> None:
    assert truncate_address(given) == kept


@pytest.mark.parametrize("given", ["", "testclient", "300.1.1.1", "1.2.3.4/8", "::ffff:999.1.1.1"])
def test_anything_that_is_no_address_is_kept_as_nothing(given: str) -> None:
    assert truncate_address(given) == ""
