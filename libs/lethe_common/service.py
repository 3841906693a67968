"""The entry points every backend service shares.

A service's ``api.py`` and ``worker.py`` only say what is theirs (their gRPC
servicers, their subscriptions, their outbox collections, their sweeps); the
diagnostic ping, health, metrics and shutdown come from here, the same for all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from lethe_common.config import CommonConfig
from lethe_common.diagnostics import INDEXES as DIAGNOSTIC_INDEXES
from lethe_common.diagnostics import Diagnostics
from lethe_common.diagnostics_api import diagnostics_binding
from lethe_common.events.consumer import PROCESSED_COLLECTION, Subscription, sweep_processed
from lethe_common.grpc_server import ServiceBinding
from lethe_common.mongo import IndexSpec, RetiredIndex
from lethe_common.runtime import Loop, Runtime, Sweep, run_api, run_worker


def _diagnostics(runtime: Runtime) -> Diagnostics:
    config = runtime.config
    return Diagnostics(config.service, runtime.db, runtime.outbox, config.subject_pepper)


def api_main(
    config: CommonConfig,
    bindings: Callable[[Runtime], Sequence[ServiceBinding]],
    indexes: Sequence[IndexSpec | RetiredIndex] = (),
    seed: Callable[[Runtime], Any] | None = None,
) -> None:
    """Serve the service's gRPC API; ``seed(runtime)`` runs once the store answers."""
    runtime = Runtime(config, "api")
    run_api(
        runtime,
        [diagnostics_binding(_diagnostics(runtime)), *bindings(runtime)],
        [*DIAGNOSTIC_INDEXES, *indexes],
        (lambda: seed(runtime)) if seed else None,
    )


def worker_main(
    config: CommonConfig,
    subscriptions: Callable[[Runtime], Sequence[Subscription]] = lambda _: (),
    sweeps: Callable[[Runtime], Sequence[Sweep]] = lambda _: (),
    indexes: Sequence[IndexSpec | RetiredIndex] = (),
    loops: Callable[[Runtime], Sequence[Loop]] = lambda _: (),
) -> None:
    runtime = Runtime(config, "worker")
    diagnostics = _diagnostics(runtime)
    run_worker(
        runtime,
        [*diagnostics.subscriptions(), *subscriptions(runtime)],
        [*DIAGNOSTIC_INDEXES, *indexes],
        [
            Sweep("diagnostics", 3600, lambda: diagnostics.sweep(timedelta(days=1))),
            Sweep(
                "processed-events",
                3600,
                lambda: sweep_processed(
                    runtime.db[PROCESSED_COLLECTION], timedelta(days=runtime.config.processed_retention_days)
                ),
            ),
            *sweeps(runtime),
        ],
        loops(runtime),
    )
