"""The identity service's skeleton: configuration, both processes, its honest contract."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest

from lethe.common.v1 import subject_pb2
from lethe.identity.v1 import identity_pb2_grpc
from lethe_common.config import ConfigError
from lethe_identity.config import load_config
from lethe_testing import Backend, running_backend, wait_for, worker_metrics


def test_defaults_give_the_identity_its_own_ports_and_database(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("IDENTITY_GRPC_PORT", "IDENTITY_MONGO_DB"):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    assert (config.common.grpc_port, config.common.api_metrics_port, config.common.worker_metrics_port) == (
        50051,
        9101,
        9201,
    )
    assert (config.common.service, config.common.mongo_db) == ("identity", "lethe_identity")


def test_a_missing_pepper_stops_the_identity_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LETHE_SUBJECT_PEPPER", raising=False)
    with pytest.raises(ConfigError, match="LETHE_SUBJECT_PEPPER"):
        load_config()


@pytest.fixture(scope="module")
def identity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("identity", tmp_path_factory.mktemp("identity")) as backend:
        yield backend


def test_identity_privacy_rpcs_check_their_subject(identity: Backend) -> None:
    with identity.channel() as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        with pytest.raises(grpc.RpcError) as export:
            stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(), timeout=5)
        with pytest.raises(grpc.RpcError) as erase:
            stub.EraseSubject(subject_pb2.EraseSubjectRequest(), timeout=5)
    assert export.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert erase.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Traceback" not in identity.api.log()


def test_the_identity_worker_consumes_from_its_own_durable_queue(identity: Backend) -> None:
    metric = f'lethe_consumer_queue_depth{{queue="{identity.queue_group}.inbox"}}'
    wait_for(lambda: metric in worker_metrics(identity), 10, what="the queue-depth gauge")
