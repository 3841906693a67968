"""The shop service on its own: configuration, its gRPC contract against the real store
and broker, erasure delivered twice, bad input answered without repeating it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import grpc
import pytest
from pymongo import MongoClient

from lethe.common.v1 import subject_pb2
from lethe.shop.v1 import shop_pb2 as pb
from lethe.shop.v1 import shop_pb2_grpc
from lethe_common.config import ConfigError
from lethe_common.staff import ACCOUNTING
from lethe_common.subject import subject_key
from lethe_shop.config import load_config
from lethe_testing import Backend, code_of, running_backend, wait_for, worker_metrics
from lethe_testing.staff import staff_metadata

Stub = shop_pb2_grpc.ShopServiceStub
STAFF = "acc_" + "1" * 32


def test_defaults_give_the_shop_its_ports_database_and_retention(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "SHOP_GRPC_PORT",
        "SHOP_MONGO_DB",
        "SHOP_RETENTION_INVOICE_YEARS",
        "SHOP_RETENTION_LETTER_YEARS",
    ):
        monkeypatch.delenv(name, raising=False)
    config = load_config()
    common = config.common
    assert (common.grpc_port, common.api_metrics_port, common.worker_metrics_port) == (50053, 9103, 9203)
    assert (common.service, common.mongo_db) == ("shop", "lethe_shop")
    assert (config.invoice_retention_years, config.letter_retention_years) == (8, 6)


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("LETHE_SUBJECT_PEPPER", None, "LETHE_SUBJECT_PEPPER"),
        ("SHOP_PAYMENT_API_KEY", "", "SHOP_PAYMENT_API_KEY"),
        ("SHOP_PAYMENT_WEBHOOK_SECRET", "", "SHOP_PAYMENT_WEBHOOK_SECRET"),
        ("SHOP_DOWNLOAD_LINK_SECRET", "short", "at least 32"),
        ("SHOP_RETENTION_INVOICE_YEARS", "0", "between 1 and 30"),
    ],
)
def test_the_shop_stops_at_start_up_on_missing_or_wrong_settings(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str | None, problem: str
) -> None:
    if value is None:
        monkeypatch.delenv(name, raising=False)
    else:
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=problem):
        load_config()


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    with running_backend("shop", tmp_path_factory.mktemp("shop")) as backend:
        yield backend


@pytest.fixture(scope="module")
def stub(shop: Backend) -> Iterator[Stub]:
    with shop.channel() as channel:
        yield Stub(channel)


def test_the_demo_catalogue_is_seeded_once(stub: Stub) -> None:
    skus = sorted(p.sku for p in stub.ListProducts(pb.ListProductsRequest(), timeout=5).products)
    assert skus == ["LETHE-ANALYZER-32", "LETHE-FEED-12M", "LETHE-KEY-01", "LETHE-MANUAL"]


def test_bad_input_is_refused_without_repeating_it(stub: Stub, shop: Backend) -> None:
    secret = "ada.secret@example.com"
    calls = [
        lambda: stub.GetCart(pb.Customer(account_id="acc_nope", email=secret), timeout=5),
        lambda: stub.PlaceOrder(
            pb.PlaceOrderRequest(
                customer=pb.Customer(account_id="acc_" + "1" * 32, email=secret), idempotency_key="k"
            ),
            timeout=5,
        ),
        lambda: stub.ExportSubjectData(subject_pb2.ExportSubjectDataRequest(), timeout=5),
        lambda: stub.MoveOrder(
            pb.MoveOrderRequest(actor_account_id=STAFF, order_id="x", status="paid"),
            metadata=staff_metadata(STAFF, ACCOUNTING),
            timeout=5,
        ),
        lambda: stub.ReadBlockedOrder(
            pb.LegalHoldRequest(actor_account_id=STAFF, order_id="ord_" + "1" * 32, reason=""),
            metadata=staff_metadata(STAFF, ACCOUNTING),
            timeout=5,
        ),
        lambda: stub.PaymentNotification(
            pb.PaymentNotificationRequest(body=b"{}", signature="t=1,v1=0"), timeout=5
        ),
        lambda: list(
            stub.FetchDownload(
                pb.FetchDownloadRequest(
                    customer=pb.Customer(account_id="acc_" + "1" * 32, email="a@example.com"),
                    token="forged.0.1.x",
                ),
                timeout=5,
            )
        ),
    ]
    for call in calls:
        with pytest.raises(grpc.RpcError) as raised:
            call()
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT, raised.value.details()
        assert secret not in (raised.value.details() or "")
    assert secret not in shop.api.log() and "Traceback" not in shop.api.log()


def test_a_blocked_order_that_does_not_exist_is_not_found(stub: Stub) -> None:
    assert (
        code_of(
            lambda: stub.ReadBlockedOrder(
                pb.LegalHoldRequest(actor_account_id=STAFF, order_id="ord_" + "1" * 32, reason="audit"),
                metadata=staff_metadata(STAFF, ACCOUNTING),
                timeout=5,
            )
        )
        == grpc.StatusCode.NOT_FOUND
    )


def test_an_erasure_delivered_twice_gives_one_receipt(
    stub: Stub, shop: Backend, mongo_client: MongoClient
) -> None:
    key = subject_key(shop.api.env["LETHE_SUBJECT_PEPPER"], f"{uuid.uuid4().hex}@example.com")
    account_id = "acc_" + uuid.uuid4().hex
    db = mongo_client[shop.db_name]
    db.carts.insert_one({"_id": account_id, "subject_key": key, "lines": []})
    request = subject_pb2.EraseSubjectRequest(
        subject=subject_pb2.Subject(account_id=account_id, subject_key=key),
        request_id=f"pr_{uuid.uuid4().hex}",
    )
    first = stub.EraseSubject(request, timeout=10)
    second = stub.EraseSubject(request, timeout=10)
    assert first.service == second.service == "shop"
    assert db.carts.count_documents({"_id": account_id}) == 0
    assert db.privacy_receipts_sent.count_documents({"_id": {"$regex": f"^{request.request_id}/"}}) == 1
    exported = json.loads(
        stub.ExportSubjectData(
            subject_pb2.ExportSubjectDataRequest(subject=request.subject), timeout=5
        ).data_json
    )
    assert exported == {
        "cart": [],
        "orders": [],
        "supplier_handoffs": [],
        "download_rights": [],
        "download_history": [],
        "staff_actions": [],
    }


def test_the_shop_worker_consumes_from_its_own_durable_queue(shop: Backend) -> None:
    metric = f'lethe_consumer_queue_depth{{queue="{shop.queue_group}.inbox"}}'
    wait_for(lambda: metric in worker_metrics(shop), 10, what="the queue-depth gauge")
