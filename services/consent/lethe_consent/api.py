"""The consent API process: the gRPC server.

Its domain RPCs arrive with their issue; until then ``ConsentService`` answers
UNIMPLEMENTED (the generated base class) and the diagnostic ping works.
"""

from __future__ import annotations

from collections.abc import Sequence

from lethe.consent.v1 import consent_pb2, consent_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_consent.config import load_config


def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
    return [ServiceBinding(consent_pb2_grpc.add_ConsentServiceServicer_to_server,
                           consent_pb2_grpc.ConsentServiceServicer(),
                           consent_pb2.DESCRIPTOR.services_by_name["ConsentService"].full_name)]


def main() -> None:
    api_main(load_config(), bindings)


if __name__ == "__main__":
    main()
