"""The shop worker process: event consumers, outbox relay, sweeps.

It hands paid physical orders to the supplier and grants downloads, does the
shop's part of erasures and restrictions, deletes orders whose retention has
ended and staff audit entries older than ``LETHE_AUDIT_RETENTION_DAYS``, sends the
follow-up receipt of erasures that waited for open orders, and makes refunds whose
writer stopped before making them. Each sweep reads only its
due entries (``queues/<queue>/<time>/...``).
"""

from __future__ import annotations

import functools

from lethe_common.errors import InvalidArgument
from lethe_common.events.consumer import Subscription
from lethe_common.events.envelope import Envelope, EnvelopeError
from lethe_common.privacy import privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_common.validation import object_id
from lethe_shop.config import ShopConfig, load_config
from lethe_shop.repository import INDEXES
from lethe_shop.wiring import ShopParts, build_parts


def subscriptions(parts: ShopParts) -> list[Subscription]:
    def order_paid(event: Envelope) -> None:
        order_id = event.payload.get("order_id")
        try:
            object_id(order_id if isinstance(order_id, str) else "", "order_id")
        except InvalidArgument as exc:
            raise EnvelopeError(str(exc)) from None
        parts.fulfilment.order_paid(str(order_id))

    return [
        Subscription("shop", "order.paid", order_paid),
        *privacy_subscriptions(parts.erasure.erase, parts.erasure.restrict),
    ]


def sweeps(parts: ShopParts, config: ShopConfig) -> list[Sweep]:
    def tidy() -> dict[str, int]:
        deleted = parts.retention.sweep()
        deleted.update(parts.retention.sweep_audit())
        return {
            **{f"deleted_{name}": count for name, count in deleted.items()},
            "erasures_finished": parts.erasure.finish_all_waiting(),
            "refunds_settled": parts.staff.retry_refunds(),
        }

    return [Sweep("shop-retention", config.sweep_interval_seconds, tidy)]


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> ShopParts:
        return build_parts(runtime, config)

    worker_main(
        config.common,
        subscriptions=lambda runtime: subscriptions(parts_of(runtime)),
        sweeps=lambda runtime: sweeps(parts_of(runtime), config),
        indexes=INDEXES,
    )


if __name__ == "__main__":
    main()
