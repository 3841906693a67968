"""The newsletter API process: the gRPC server."""

from __future__ import annotations

from collections.abc import Sequence

from lethe.newsletter.v1 import newsletter_pb2, newsletter_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_common.staff import AssertionVerifier
from lethe_common.trace_search import ServiceTraceSearch
from lethe_newsletter.config import load_config
from lethe_newsletter.inventory import INVENTORY
from lethe_newsletter.repository import INDEXES
from lethe_newsletter.servicer import NewsletterServicer
from lethe_newsletter.wiring import build_parts


def main() -> None:
    config = load_config()

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        parts = build_parts(runtime, config)
        return [
            ServiceBinding(
                newsletter_pb2_grpc.add_NewsletterServiceServicer_to_server,
                NewsletterServicer(
                    parts,
                    traces=ServiceTraceSearch.of(runtime, INVENTORY),
                    assertions=AssertionVerifier(config.common.staff_verify_key),
                ),
                newsletter_pb2.DESCRIPTOR.services_by_name["NewsletterService"].full_name,
            )
        ]

    api_main(config.common, bindings, INDEXES)


if __name__ == "__main__":
    main()
