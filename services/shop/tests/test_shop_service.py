"""The shop service's skeleton: configuration, both processes, its honest contract."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from lethe.common.v1 import subject_pb2
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.config import ConfigError
from lethe_common.testing import Backend, running_backend, wait_for, worker_metrics
from lethe_shop.config import load_config


def test_defaults_give_the_shop_its_own_ports_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHOP_GRPC_PORT", "SHOP_MONGO_DB"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert (config.grpc_port, config.api_metrics_port, config.worker_metrics_port) == (50053, 9103, 9203)
    assert (config.service, config.mongo_db) == ("shop", "lethe_shop")


def test_a_missing_pepper_stops_the_shop_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETHE_SUBJECT_PEPPER", raising=False)
    with pytest.raises(ConfigError, match="LETHE_SUBJECT_PEPPER"):
        load_config()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("shop", tmp_path_factory.mktemp("shop")) as backend:
        yield backend


def test_shop_privacy_rpcs_answer_unimplemented_until_implemented(shop: Backend) -> None:
    with grpc.insecure_channel(shop.grpc_addr) as channel:
        stub = shop_pb2_grpc.ShopServiceStub(channel)
        with pytest.raises(grpc.RpcError) as export:
            stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(), timeout=5)
        with pytest.raises(grpc.RpcError) as erase:
            stub.EraseSubject(subject_pb2.EraseSubjectRequest(), timeout=5)
    assert export.value.code() == erase.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "Traceback" not in shop.api.log()


def test_the_shop_worker_consumes_from_its_own_durable_queue(shop: Backend) -> None:
    metric = f'lethe_consumer_queue_depth{{queue="{shop.queue_group}.inbox"}}'
    wait_for(lambda: metric in worker_metrics(shop), 10, what="the queue-depth gauge")
