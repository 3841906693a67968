"""Bootstrapping a service's two kinds of process: the API and the worker.

Both build the same :class:`Runtime` (store, publisher, outbox), log JSON and
serve ``/metrics``. The API process runs the gRPC server; the worker runs the
event consumer, the outbox relay and the scheduled sweeps, each in a thread,
until SIGTERM or SIGINT.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from pymongo.errors import PyMongoError

from lethe_common import mongo
from lethe_common.config import CommonConfig
from lethe_common.events.consumer import (
    PROCESSED_COLLECTION,
    ConsumerSettings,
    EventConsumer,
    Subscription,
)
from lethe_common.events.outbox import Outbox, OutboxRelay
from lethe_common.events.publisher import EventPublisher
from lethe_common.grpc_server import GrpcServer, ServiceBinding
from lethe_common.logging import configure_logging
from lethe_common.metrics import SWEEP_LAST_SUCCESS, SWEEP_RUNS, start_metrics_server
from lethe_common.mongo import Db, IndexSpec, RetiredIndex

log = logging.getLogger(__name__)

# What the library's own collections no longer use (their keys say it all now).
LIBRARY_RETIRED_INDEXES = (RetiredIndex("processed_events", "consumer_event_unique"),)


@dataclass(frozen=True)
class Sweep:
    """A job the worker runs every ``interval_seconds`` (retention, clean-up)."""

    name: str
    interval_seconds: float
    run: Callable[[], Any]


@dataclass(frozen=True)
class Loop:
    """A long job the worker runs in its own thread until ``stop`` is set (a campaign sender)."""

    name: str
    run: Callable[[threading.Event], None]


class Runtime:
    """What both processes of a service share: the store, the publisher, the outbox."""

    def __init__(self, config: CommonConfig, process_kind: str) -> None:
        self.config = config
        configure_logging(config.service, process_kind, config.log_level)
        self.client = mongo.connect(config.mongo_url, f"lethe-{config.service}-{process_kind}")
        self.db: Db = self.client[config.mongo_db]
        self.publisher = EventPublisher(config.amqp_url)
        self.outbox = Outbox(self.publisher, self.db, config.outbox_publish_grace_seconds)
        self.bootstrapped = threading.Event()

    def ready(self) -> bool:
        """Indexes are in place and the store and the bus both answer."""
        return self.bootstrapped.is_set() and mongo.ping(self.client) and self.publisher.ping()

    def bootstrap(
        self,
        specs: Sequence[IndexSpec | RetiredIndex],
        stop: threading.Event,
        seed: Callable[[], Any] | None = None,
    ) -> None:
        """Ensure indexes and seed data, retrying until the store answers (the process
        starts unready). ``seed`` must be safe to run from many processes at once."""
        delay = 0.5
        while not stop.is_set():
            try:
                mongo.ensure_indexes(self.db, [*specs, *LIBRARY_RETIRED_INDEXES])
                if seed is not None:
                    seed()
            except PyMongoError:
                log.warning("store not reachable yet; retrying", extra={"delay": delay})
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.bootstrapped.set()
            return

    def start_bootstrap(
        self,
        specs: Sequence[IndexSpec | RetiredIndex],
        stop: threading.Event,
        seed: Callable[[], Any] | None = None,
    ) -> None:
        threading.Thread(
            target=self.bootstrap, args=(specs, stop, seed), name="bootstrap", daemon=True
        ).start()

    def close(self) -> None:
        self.publisher.close()
        self.client.close()


def _wait_for_signal() -> None:
    done = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: done.set())
    done.wait()


def run_api(
    runtime: Runtime,
    bindings: Sequence[ServiceBinding],
    indexes: Sequence[IndexSpec | RetiredIndex],
    seed: Callable[[], Any] | None = None,
) -> None:
    """Serve gRPC until a signal; health follows the store and the bus."""
    config = runtime.config
    stop = threading.Event()
    server = GrpcServer(bindings, config.grpc_port, readiness=runtime.ready, host=config.bind_host)
    start_metrics_server(config.bind_host, config.api_metrics_port, lambda: server.serving)
    server.start()
    runtime.start_bootstrap(indexes, stop, seed)
    _wait_for_signal()
    stop.set()
    log.info(
        "shutting down",
        extra={
            "grace_seconds": config.shutdown_grace_seconds,
            "drain_seconds": config.shutdown_drain_seconds,
        },
    )
    server.stop(config.shutdown_grace_seconds, drain=config.shutdown_drain_seconds)
    runtime.close()


def run_sweep_once(sweep: Sweep) -> bool:
    """Run ``sweep`` once, log and count it (``lethe_sweep_runs_total``); a success sets
    ``lethe_sweep_last_success_timestamp_seconds``, which the retention alert watches."""
    try:
        result = sweep.run()
    except Exception:
        SWEEP_RUNS.labels(sweep.name, "failure").inc()
        log.exception("sweep failed", extra={"sweep": sweep.name})
        return False
    SWEEP_RUNS.labels(sweep.name, "success").inc()
    SWEEP_LAST_SUCCESS.labels(sweep.name).set_to_current_time()
    log.info("sweep ran", extra={"sweep": sweep.name, "result": str(result)})
    return True


def _loop_sweep(sweep: Sweep, stop: threading.Event) -> None:
    for outcome in ("success", "failure"):  # both series exist from the start, at 0
        SWEEP_RUNS.labels(sweep.name, outcome)
    while not stop.wait(sweep.interval_seconds):
        run_sweep_once(sweep)


def _run_loop(loop: Loop, stop: threading.Event) -> None:
    """Run ``loop`` until stop; if it fails, log it and start it again after a pause."""
    while not stop.is_set():
        try:
            loop.run(stop)
        except Exception:
            log.exception("loop failed; restarting it", extra={"loop": loop.name})
            stop.wait(5.0)


def consumer_settings(config: CommonConfig) -> ConsumerSettings:
    """The service's queues: its inbox, retry queues and dead letters."""
    return ConsumerSettings(
        name=f"{config.queue_prefix}{config.service}",
        max_attempts=config.consumer_max_attempts,
        retry_base_seconds=config.consumer_retry_base_seconds,
        queue_type=config.queue_type,
    )


def run_worker(
    runtime: Runtime,
    subscriptions: Sequence[Subscription],
    indexes: Sequence[IndexSpec | RetiredIndex],
    sweeps: Sequence[Sweep] = (),
    loops: Sequence[Loop] = (),
) -> None:
    """Consume events, relay the outbox, run sweeps and loops until a signal."""
    config = runtime.config
    stop = threading.Event()
    runtime.start_bootstrap(indexes, stop)
    consumer = EventConsumer(
        config.amqp_url,
        consumer_settings(config),
        subscriptions,
        runtime.db[PROCESSED_COLLECTION],
        runtime.publisher,
    )
    relay = OutboxRelay(runtime.publisher, runtime.db, lease_seconds=config.outbox_lease_seconds)
    start_metrics_server(
        config.bind_host, config.worker_metrics_port, lambda: consumer.ready.is_set() and runtime.ready()
    )
    threads = [
        threading.Thread(target=consumer.run, args=(stop,), name="consumer", daemon=True),
        threading.Thread(target=relay.run_forever, args=(stop,), name="relay", daemon=True),
        *(
            threading.Thread(target=_loop_sweep, args=(sweep, stop), name=f"sweep-{sweep.name}", daemon=True)
            for sweep in sweeps
        ),
        *(
            threading.Thread(target=_run_loop, args=(loop, stop), name=f"loop-{loop.name}", daemon=True)
            for loop in loops
        ),
    ]
    for thread in threads:
        thread.start()
    log.info("worker started", extra={"subscriptions": len(subscriptions)})
    _wait_for_signal()
    log.info("worker stopping")
    stop.set()
    for thread in threads:
        thread.join(timeout=config.shutdown_grace_seconds)
    runtime.close()
