"""The shop API process: the gRPC server (and the demo catalogue, when asked for)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from lethe.shop.v1 import shop_pb2, shop_pb2_grpc
from lethe_common.grpc_server import ServiceBinding
from lethe_common.runtime import Runtime
from lethe_common.service import api_main
from lethe_common.staff import AssertionVerifier
from lethe_common.trace_search import ServiceTraceSearch
from lethe_shop.config import load_config
from lethe_shop.inventory import INVENTORY
from lethe_shop.repository import INDEXES
from lethe_shop.seed import seed_catalogue
from lethe_shop.servicer import ShopServicer
from lethe_shop.wiring import ShopParts, build_parts


def main() -> None:
    config = load_config()
    verifier = AssertionVerifier(config.common.staff_verify_key)

    @functools.cache
    def parts_of(runtime: Runtime) -> ShopParts:
        return build_parts(runtime, config)

    def bindings(runtime: Runtime) -> Sequence[ServiceBinding]:
        return [
            ServiceBinding(
                shop_pb2_grpc.add_ShopServiceServicer_to_server,
                ShopServicer(
                    parts_of(runtime),
                    config.common.subject_pepper,
                    traces=ServiceTraceSearch.of(runtime, INVENTORY),
                    verifier=verifier,
                ),
                shop_pb2.DESCRIPTOR.services_by_name["ShopService"].full_name,
            )
        ]

    def seed(runtime: Runtime) -> None:
        if config.seed_catalogue:
            seed_catalogue(parts_of(runtime).catalogue, config.downloads_dir)

    api_main(config.common, bindings, INDEXES, seed=seed)


if __name__ == "__main__":
    main()
