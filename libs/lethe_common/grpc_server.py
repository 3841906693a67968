"""One way to build and run every service's gRPC server.

The server gets the standard ``grpc.health.v1`` health service (NOT_SERVING
until the store and the bus answer, and again during shutdown), server
reflection, and one interceptor that counts and times every call, logs it
and turns :mod:`lethe_common.errors` into gRPC status codes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from lethe_common import errors
from lethe_common.metrics import GRPC_HANDLED, GRPC_LATENCY, GRPC_STARTED

log = logging.getLogger(__name__)

STATUS_OF_ERROR: dict[type[errors.DomainError], grpc.StatusCode] = {
    errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    errors.NotFound: grpc.StatusCode.NOT_FOUND,
    errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    errors.FailedPrecondition: grpc.StatusCode.FAILED_PRECONDITION,
    errors.Aborted: grpc.StatusCode.ABORTED,
    errors.PermissionDenied: grpc.StatusCode.PERMISSION_DENIED,
    errors.Unauthenticated: grpc.StatusCode.UNAUTHENTICATED,
    errors.TooManyRequests: grpc.StatusCode.RESOURCE_EXHAUSTED,
    errors.Unavailable: grpc.StatusCode.UNAVAILABLE,
}


def status_of(error: errors.DomainError) -> grpc.StatusCode:
    for kind in type(error).__mro__:
        if kind in STATUS_OF_ERROR:
            return STATUS_OF_ERROR[kind]
    return grpc.StatusCode.INTERNAL


def _split_method(full_method: str) -> tuple[str, str]:
    _, service, method = full_method.split("/", 2)
    return service, method


@contextlib.contextmanager
def _observing(service: str, method: str, request: Any, context: grpc.ServicerContext) -> Iterator[None]:
    """Count, time and log one call; turn domain and store errors into status codes."""
    GRPC_STARTED.labels(service, method).inc()
    started = time.perf_counter()
    code = grpc.StatusCode.OK
    try:
        # Field names only: values may be personal data in any spelling.
        log.debug(
            "grpc request",
            extra={"method": method, "fields": [field.name for field, _ in request.ListFields()]},
        )
        yield
    except errors.DomainError as exc:
        code = status_of(exc)
        metadata = [("reason", exc.reason)]
        if isinstance(exc, errors.TooManyRequests) and exc.retry_after > 0:
            metadata.append(("retry-after", str(exc.retry_after)))
        context.set_trailing_metadata(tuple(metadata))
        context.abort(code, exc.message)
    except (ConnectionFailure, ServerSelectionTimeoutError):
        code = grpc.StatusCode.UNAVAILABLE
        log.warning("store unavailable", extra={"method": method})
        context.abort(code, "the service's store is unavailable; try again shortly")
    except NotImplementedError:
        code = grpc.StatusCode.UNIMPLEMENTED
        context.abort(code, f"{method} is not implemented yet")
    except Exception:
        chosen = context.code()
        if chosen is None or chosen == grpc.StatusCode.OK:
            code = grpc.StatusCode.INTERNAL
            log.exception("grpc handler failed", extra={"method": method})
            context.abort(code, "internal error")
        code = chosen
        raise
    finally:
        elapsed = time.perf_counter() - started
        GRPC_LATENCY.labels(service, method).observe(elapsed)
        GRPC_HANDLED.labels(service, method, code.name).inc()
        log.info("grpc call", extra={"method": method, "code": code.name, "ms": round(elapsed * 1000, 2)})


class ObservingInterceptor(grpc.ServerInterceptor):
    """Metrics, a log line per call, and domain errors as status codes.

    Unary calls and server streams (a download's chunks); a domain error also
    travels as the ``reason`` trailer, so the gateway can tell, say, a declined
    payment from another failed precondition.
    """

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        if handler is None:
            return handler
        service, method = _split_method(details.method)
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            def observed(request: Any, context: grpc.ServicerContext) -> Any:
                with _observing(service, method, request, context):
                    return unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                observed,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            stream = handler.unary_stream

            def observed_stream(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
                with _observing(service, method, request, context):
                    yield from stream(request, context)

            return grpc.unary_stream_rpc_method_handler(
                observed_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        return handler


@dataclass
class ServiceBinding:
    """A servicer, the generated function that adds it, and its full proto name."""

    add_to_server: Callable[[Any, grpc.Server], None]
    servicer: Any
    full_name: str


BIND_WAIT_SECONDS = 75.0


def bind_port(server: Any, host: str, port: int, wait: float = BIND_WAIT_SECONDS) -> int:
    """Bind, waiting while the port is taken. Our ports lie in Linux's ephemeral range: a
    client connection (RabbitMQ asking epmd, say) may have used it as its own port and left it
    in TIME_WAIT for up to a minute, which refuses a listener until it ends."""
    deadline = time.monotonic() + wait
    while True:
        try:
            return int(server.add_insecure_port(f"{host}:{port}"))
        except RuntimeError:
            if port == 0 or time.monotonic() > deadline:
                raise
            log.warning("gRPC port busy; waiting", extra={"port": port})
            time.sleep(1.0)


class GrpcServer:
    """A running server whose health follows its dependencies."""

    def __init__(
        self,
        bindings: Sequence[ServiceBinding],
        port: int,
        *,
        readiness: Callable[[], bool],
        host: str = "127.0.0.1",
        max_workers: int = 16,
        health_interval: float = 1.0,
    ) -> None:
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers), interceptors=[ObservingInterceptor()]
        )
        self._health = health.HealthServicer()
        self._names = [b.full_name for b in bindings]
        self._readiness = readiness
        self._interval = health_interval
        self._stop = threading.Event()
        self._serving = False
        for binding in bindings:
            binding.add_to_server(binding.servicer, self._server)
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [
                *self._names,
                health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
                reflection.SERVICE_NAME,
            ],
            self._server,
        )
        self.port = bind_port(self._server, host, port)
        self._set_all(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _set_all(self, status: Any) -> None:
        for name in ("", *self._names):
            self._health.set(name, status)

    @property
    def serving(self) -> bool:
        """What the health service currently says (for the HTTP /readyz as well)."""
        return self._serving and not self._stop.is_set()

    def _watch_health(self) -> None:
        serving = None
        while not self._stop.is_set():
            ready = bool(self._readiness())
            if ready != serving:
                serving = self._serving = ready
                self._set_all(
                    health_pb2.HealthCheckResponse.SERVING
                    if ready
                    else health_pb2.HealthCheckResponse.NOT_SERVING
                )
                log.info("health changed", extra={"serving": ready})
            self._stop.wait(self._interval)

    def start(self) -> None:
        self._server.start()
        threading.Thread(target=self._watch_health, name="health", daemon=True).start()
        log.info("grpc server started", extra={"port": self.port})

    def stop(self, grace: float, drain: float = 0.0) -> None:
        """NOT_SERVING first, then ``drain`` seconds still taking calls (while balancers and
        probes see NOT_SERVING and move away), then refuse new calls and finish those in
        flight within ``grace``."""
        self._stop.set()
        self._health.enter_graceful_shutdown()
        if drain > 0:
            log.info("draining", extra={"drain_seconds": drain})
            time.sleep(drain)
        self._server.stop(grace).wait()
        log.info("grpc server stopped")
