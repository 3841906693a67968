"""The shop API process: the gRPC server.

Its domain RPCs arrive with their issue; until then ``ShopService`` answers
UNIMPLEMENTED (the generated base class) and the diagnostic ping works.
"""

from __future__ import annotations

from collections.abc import Sequence

from lethe.shop.v1 import shop_pb2, shop_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_shop.config import load_config


def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
    return [ServiceBinding(shop_pb2_grpc.add_ShopServiceServicer_to_server,
                           shop_pb2_grpc.ShopServiceServicer(),
                           shop_pb2.DESCRIPTOR.services_by_name["ShopService"].full_name)]


def main() -> None:
    api_main(load_config(), bindings)


if __name__ == "__main__":
    main()
