"""The analytics API process: the gRPC server."""

from __future__ import annotations

from collections.abc import Sequence

from lethe.analytics.v1 import analytics_pb2, analytics_pb2_grpc
from lethe_analytics.config import load_config
from lethe_analytics.inventory import INVENTORY
from lethe_analytics.repository import INDEXES
from lethe_analytics.servicer import AnalyticsServicer
from lethe_analytics.wiring import build_parts
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_common.staff import AssertionVerifier
from lethe_common.trace_search import ServiceTraceSearch


def main() -> None:
    config = load_config()
    verifier = AssertionVerifier(config.common.staff_verify_key)

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        parts = build_parts(runtime, config)
        return [
            ServiceBinding(
                analytics_pb2_grpc.add_AnalyticsServiceServicer_to_server,
                AnalyticsServicer(parts, traces=ServiceTraceSearch.of(runtime, INVENTORY), verifier=verifier),
                analytics_pb2.DESCRIPTOR.services_by_name["AnalyticsService"].full_name,
            )
        ]

    api_main(config.common, bindings, INDEXES)


if __name__ == "__main__":
    main()
