"""The identity worker process: privacy requests, outbox relay and the retention sweep."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from lethe_common.events.consumer import Subscription
from lethe_common.privacy import ReceiptSender, privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_identity.config import SERVICE, load_config
from lethe_identity.erasure import IdentityErasure
from lethe_identity.repository import INDEXES, OUTBOX_COLLECTIONS, IdentityRepository


def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
    erasure = IdentityErasure(IdentityRepository(runtime.db, runtime.outbox),
                              ReceiptSender(runtime.db, runtime.outbox, SERVICE))

    return privacy_subscriptions(erasure.erase, erasure.restrict)


def main() -> None:
    config = load_config()

    def sweeps(runtime: Runtime) -> Sequence[Sweep]:
        repo = IdentityRepository(runtime.db, runtime.outbox)

        def expire() -> dict[str, int]:
            now = datetime.now(UTC)
            return repo.sweep(now, now - timedelta(days=config.contact_retention_days),
                              now - timedelta(minutes=config.verification_ttl_minutes))
        return [Sweep("identity-retention", config.sweep_interval_seconds, expire)]

    worker_main(config.common, subscriptions=subscriptions, outbox_collections=OUTBOX_COLLECTIONS,
                sweeps=sweeps, indexes=INDEXES)


if __name__ == "__main__":
    main()
