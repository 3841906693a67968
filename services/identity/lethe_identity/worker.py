"""The identity worker process: privacy requests, outbox relay and the retention sweep."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lethe_common.events.consumer import Subscription
from lethe_common.privacy import privacy_subscriptions
from lethe_common.runtime import Runtime, Sweep
from lethe_common.service import worker_main
from lethe_identity.config import load_config
from lethe_identity.repository import INDEXES
from lethe_identity.wiring import IdentityParts, build_parts


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> IdentityParts:
        return build_parts(runtime, config)

    def subscriptions(runtime: Runtime) -> Sequence[Subscription]:
        erasure = parts_of(runtime).erasure
        return privacy_subscriptions(erasure.erase, erasure.restrict)

    def sweeps(runtime: Runtime) -> Sequence[Sweep]:
        return [Sweep("identity-retention", config.sweep_interval_seconds, parts_of(runtime).retention.run)]

    worker_main(config.common, subscriptions=subscriptions, sweeps=sweeps, indexes=INDEXES)


if __name__ == "__main__":
    main()
