"""Client addresses as Lethe may keep them (SPEC section 3, access logs).

Before an address is written anywhere it is truncated: the last octet of an
IPv4 address, the last 80 bits of an IPv6 address. What is left names a
network, not a household.
"""

from __future__ import annotations

import ipaddress

IPV4_KEPT_BITS = 24
IPV6_KEPT_BITS = 48


def truncate_address(address: str) -> str:
    """The truncated form of ``address``; an empty string for anything that is no address."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return ""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kept = IPV4_KEPT_BITS if ip.version == 4 else IPV6_KEPT_BITS
    network = ipaddress.ip_network(f"{ip}/{kept}", strict=False)
    return str(network.network_address)
