"""The identity API process: the gRPC server."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lethe.identity.v1 import identity_pb2, identity_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_common.trace_search import ServiceTraceSearch
from lethe_identity.config import load_config
from lethe_identity.inventory import INVENTORY
from lethe_identity.repository import INDEXES
from lethe_identity.servicer import IdentityServicer
from lethe_identity.wiring import IdentityParts, build_parts


def servicer(parts: IdentityParts, traces: ServiceTraceSearch) -> IdentityServicer:
    return IdentityServicer(
        parts.accounts,
        parts.sessions,
        parts.portal,
        parts.contacts,
        parts.export,
        parts.contact_retention_days,
        parts.erasure,
        traces=traces,
        passwords=parts.passwords,
        staff=parts.staff,
        signer=parts.signer,
        verifier=parts.verifier,
    )


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> IdentityParts:
        return build_parts(runtime, config)

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        return [
            ServiceBinding(
                identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                servicer(parts_of(runtime), ServiceTraceSearch.of(runtime, INVENTORY)),
                identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name,
            )
        ]

    api_main(config.common, bindings, INDEXES)


if __name__ == "__main__":
    main()
