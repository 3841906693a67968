"""The consent API process: the gRPC server."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_common.staff import AssertionVerifier
from lethe_consent.config import ConsentConfig, load_config
from lethe_consent.repository import INDEXES
from lethe_consent.servicer import ConsentServicer
from lethe_consent.wiring import ConsentParts, build_parts


def servicer(parts: ConsentParts, config: ConsentConfig) -> ConsentServicer:
    return ConsentServicer(
        config.common.subject_pepper,
        parts.texts,
        parts.ledger,
        parts.requests,
        parts.staff,
        parts.erasure,
        verifier=parts.verifier,
        traces=parts.traces,
        assertions=AssertionVerifier(config.common.staff_verify_key),
    )


def main() -> None:
    config = load_config()

    @functools.cache
    def parts_of(runtime: Runtime) -> ConsentParts:
        return build_parts(runtime, config)

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        return [
            ServiceBinding(
                consent_pb2_grpc.add_ConsentServiceServicer_to_server,
                servicer(parts_of(runtime), config),
                consent_pb2.DESCRIPTOR.services_by_name["ConsentService"].full_name,
            )
        ]

    api_main(config.common, bindings, INDEXES, seed=lambda runtime: parts_of(runtime).texts.seed())


if __name__ == "__main__":
    main()
