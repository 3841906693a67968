"""The identity API process: the gRPC server.

Its domain RPCs arrive with their issue; until then ``IdentityService`` answers
UNIMPLEMENTED (the generated base class) and the diagnostic ping works.
"""

from __future__ import annotations

from collections.abc import Sequence

from lethe.identity.v1 import identity_pb2, identity_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_identity.config import load_config


def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
    return [ServiceBinding(identity_pb2_grpc.add_IdentityServiceServicer_to_server,
                           identity_pb2_grpc.IdentityServiceServicer(),
                           identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name)]


def main() -> None:
    api_main(load_config(), bindings)


if __name__ == "__main__":
    main()
