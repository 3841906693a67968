"""The newsletter API process: the gRPC server.

Its domain RPCs arrive with their issue; until then ``NewsletterService`` answers
UNIMPLEMENTED (the generated base class) and the diagnostic ping works.
"""

from __future__ import annotations

from collections.abc import Sequence

from lethe.newsletter.v1 import newsletter_pb2, newsletter_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_newsletter.config import load_config


def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
    return [ServiceBinding(newsletter_pb2_grpc.add_NewsletterServiceServicer_to_server,
                           newsletter_pb2_grpc.NewsletterServiceServicer(),
                           newsletter_pb2.DESCRIPTOR.services_by_name["NewsletterService"].full_name)]


def main() -> None:
    api_main(load_config(), bindings)


if __name__ == "__main__":
    main()
