"""What the gateway itself keeps (SPEC §1: short-lived access logs only; the analytics are
the analytics service's), declared like every service's inventory so that the privacy
notice shows it beside theirs."""

from __future__ import annotations

from lethe.common.v1 import subject_pb2
from lethe_common.inventory import LEGITIMATE_INTEREST, NETWORK, USAGE, Holding, Inventory
from lethe_common.privacy_api import describe_inventory

SERVICE = "gateway"
ACCESS_LOG_FILES = "access-YYYY-MM-DD.log (files, not a collection)"


def inventory(access_log_days: int) -> Inventory:
    return Inventory(
        SERVICE,
        (
            Holding(
                ACCESS_LOG_FILES,
                ("client", "time", "path"),
                (NETWORK, USAGE),
                "stability and security of the site: one line per request with its time, "
                "method, page (the route, never ids or query values), status and duration",
                LEGITIMATE_INTEREST + ": to keep the site running and find attacks",
                f"{access_log_days} days (LETHE_GATEWAY_ACCESS_LOG_DAYS), then the day's file "
                "is deleted; the client address is truncated before it is written "
                "(IPv4 without its last octet, IPv6 without its last 80 bits)",
            ),
        ),
    )


def described(access_log_days: int) -> subject_pb2.DescribeInventoryResponse:
    return describe_inventory(SERVICE, inventory(access_log_days))
