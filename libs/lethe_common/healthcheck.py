"""A container health check without extra binaries: ``python -m lethe_common.healthcheck``.

    python -m lethe_common.healthcheck grpc 127.0.0.1:50051   the standard gRPC health check
    python -m lethe_common.healthcheck http http://127.0.0.1:9201/readyz

Exits 0 when the process says it serves, 1 otherwise (compose's ``healthcheck``;
Kubernetes uses its native gRPC and HTTP probes instead).
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request

TIMEOUT_SECONDS = 3.0


def grpc_serving(address: str) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=""), timeout=TIMEOUT_SECONDS
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def http_ok(url: str) -> bool:
    if not url.startswith(("http://", "https://")):
        return False
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310 - checked above
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in {"grpc", "http"}:
        print(__doc__, file=sys.stderr)
        return 2
    kind, target = argv
    ok = grpc_serving(target) if kind == "grpc" else http_ok(target)
    if not ok:
        print(f"{kind} {target}: not serving", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
