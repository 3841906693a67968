"""The identity worker process: privacy requests, outbox relay and the retention sweep."""

from __future__ import annotations

from collections.abc import Sequence

from lethe_common.events.consumer import Subscription
from lethe_common.privacy import ReceiptSender, privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_identity.config import SERVICE, IdentityConfig, load_config
from lethe_identity.erasure import IdentityErasure
from lethe_identity.mailer import Mailer
from lethe_identity.portal import Portal
from lethe_identity.repository import INDEXES, IdentityRepository
from lethe_identity.retention import Retention


def subscriptions(runtime: Runtime, config: IdentityConfig) -> Sequence[Subscription]:
    repo = IdentityRepository(runtime.db, runtime.outbox)
    portal = Portal(repo, Mailer(config.common, config.public_url), config.admin_emails)
    erasure = IdentityErasure(repo, ReceiptSender(runtime.db, runtime.outbox, SERVICE), portal)
    return privacy_subscriptions(erasure.erase, erasure.restrict)


def main() -> None:
    config = load_config()

    def sweeps(runtime: Runtime) -> Sequence[Sweep]:
        retention = Retention(IdentityRepository(runtime.db, runtime.outbox), config)
        return [Sweep("identity-retention", config.sweep_interval_seconds, retention.run)]

    worker_main(config.common, subscriptions=lambda runtime: subscriptions(runtime, config),
                sweeps=sweeps, indexes=INDEXES)


if __name__ == "__main__":
    main()
