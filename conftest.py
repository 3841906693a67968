"""Fixtures every test shares: the real store and broker that `make test` started."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pymongo import MongoClient
from pymongo.database import Database

from lethe_common import mongo
from lethe_testing import EventTap, unique


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        pytest.exit(f"{name} is not set: run the tests with `make test`", returncode=2)
    return value


@pytest.fixture(scope="session")
def mongo_url() -> str:
    return _required("LETHE_MONGO_URL")


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return _required("LETHE_AMQP_URL")


@pytest.fixture(scope="session")
def mongo_client(mongo_url: str) -> Iterator[MongoClient]:
    client = mongo.connect(mongo_url, "lethe-tests")
    yield client
    client.close()


@pytest.fixture
def run_id() -> str:
    """A fresh token: names databases, queues and consumer groups of one test."""
    return unique("t")


@pytest.fixture
def test_db(mongo_client: MongoClient, run_id: str) -> Iterator[Database]:
    db = mongo_client[f"test_{run_id}"]
    yield db
    mongo_client.drop_database(db.name)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "logs"
    folder.mkdir()
    return folder


@pytest.fixture
def tap(amqp_url: str) -> Iterator[EventTap]:
    """What a consumer of identity's system.ping events would receive."""
    tap = EventTap(amqp_url, "identity", "system.ping")
    yield tap
    tap.close()
