"""Prometheus metrics shared by every process, and the endpoint that serves them.

Labels hold only bounded, non-personal values (service, method, event type,
queue, status code), never ids or addresses.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

log = logging.getLogger(__name__)

GRPC_STARTED = Counter(
    "lethe_grpc_server_started_total", "gRPC calls started.", ["grpc_service", "grpc_method"]
)
GRPC_HANDLED = Counter(
    "lethe_grpc_server_handled_total",
    "gRPC calls finished, by status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
GRPC_LATENCY = Histogram(
    "lethe_grpc_server_handling_seconds",
    "gRPC call latency.",
    ["grpc_service", "grpc_method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)

EVENTS_PUBLISHED = Counter("lethe_events_published_total", "Events confirmed by the broker.", ["event_type"])
PUBLISH_FAILURES = Counter("lethe_event_publish_failures_total", "Publishes the broker did not confirm.")
OUTBOX_BACKLOG = Gauge(
    "lethe_outbox_backlog", "Events waiting in the outbox (not yet confirmed).", ["collection"]
)
OUTBOX_RELAYED = Counter(
    "lethe_outbox_relayed_total", "Events the relay published because the writer did not."
)
OUTBOX_POISONED = Counter(
    "lethe_outbox_poisoned_total",
    "Outbox intents that were no valid envelope, moved to outbox_poison.",
    ["collection"],
)
OUTBOX_ABANDONED = Counter(
    "lethe_outbox_abandoned_total", "Outbox intents dropped because the change they announced never happened."
)
OUTBOX_OLDEST_SECONDS = Gauge(
    "lethe_outbox_oldest_pending_seconds", "Age of the oldest pending outbox entry.", ["collection"]
)

EVENTS_CONSUMED = Counter(
    "lethe_events_consumed_total", "Events handled, by outcome.", ["queue", "event_type", "outcome"]
)
CONSUMER_RETRIES = Counter(
    "lethe_consumer_retries_total", "Deliveries sent back for a retry.", ["queue", "event_type"]
)
DEAD_LETTERS = Counter(
    "lethe_consumer_dead_letters_total", "Messages parked in a dead-letter queue.", ["queue", "reason"]
)
CONSUMER_QUEUE_DEPTH = Gauge("lethe_consumer_queue_depth", "Messages waiting in a queue.", ["queue"])
CONSUMER_LAG = Histogram(
    "lethe_consumer_lag_seconds",
    "Time from an event's occurrence to the end of its handling.",
    ["queue"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)

SWEEP_RUNS = Counter(
    "lethe_sweep_runs_total", "Runs of a worker's scheduled sweep, by outcome.", ["sweep", "outcome"]
)
SWEEP_LAST_SUCCESS = Gauge(
    "lethe_sweep_last_success_timestamp_seconds",
    "Unix time at which the sweep last finished without an error (absent until it has).",
    ["sweep"],
)

HealthCheck = Callable[[], bool]


def _handler_class(health: HealthCheck | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] == "/metrics":
                self._reply(200, generate_latest(), CONTENT_TYPE_LATEST)
            elif self.path == "/healthz":
                self._reply(200, b"ok\n", "text/plain")
            elif self.path == "/readyz":
                ready = health() if health else True
                self._reply(200 if ready else 503, b"ready\n" if ready else b"not ready\n", "text/plain")
            else:
                self._reply(404, b"not found\n", "text/plain")

        def _reply(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            """Scrapes are not worth a log line each."""

    return Handler


def start_metrics_server(host: str, port: int, health: HealthCheck | None = None) -> ThreadingHTTPServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` from a daemon thread."""
    server = ThreadingHTTPServer((host, port), _handler_class(health))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    log.info("metrics endpoint listening", extra={"port": server.server_address[1]})
    return server
