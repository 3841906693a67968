"""The analytics domain's checks and pure rules, and its configuration: no store, no broker."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from lethe_analytics.config import load_config
from lethe_analytics.domain import (
    PageView,
    checked_page_view,
    checked_path,
    checked_window,
    day_start,
    new_visitor_id,
    visitor_hash,
    window,
)
from lethe_common.config import ConfigError
from lethe_common.errors import InvalidArgument

pytestmark = pytest.mark.unit

KEY = "a" * 64
ENV = {
    "LETHE_MONGO_URL": "mongodb://x",
    "LETHE_AMQP_URL": "amqp://x",
    "LETHE_SUBJECT_PEPPER": "p" * 32,
    "LETHE_STAFF_VERIFY_KEY": "ab" * 32,
}


@pytest.mark.parametrize(
    "path",
    ["/", "/products", "/api/v1/orders/{order_id}", "/de/datenschutz", "/a-b/c_d.html", "/shop/%C3%A4pfel"],
)
def test_route_templates_and_plain_paths_are_counted_as_they_are(path: str) -> None:
    assert checked_path(path) == path


@pytest.mark.parametrize(
    ("path", "counted"),
    [
        ("/orders/ord_0123456789abcdef0123456789abcdef", "/orders/[id]"),
        ("/u/ada@example.com/profile", "/u/[id]/profile"),
        ("/u/ada%40example.com", "/u/[id]"),
        ("/call/+4930123456", "/call/[id]"),
        ("/from/203.0.113.7", "/from/[id]"),
        ("/t/" + "x" * 40, "/t/[id]"),
    ],
)
def test_segments_that_may_name_someone_are_replaced_before_they_are_counted(path: str, counted: str) -> None:
    assert checked_path(path) == counted


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("", "path is required"),
        ("products", "must start with /"),
        ("/search?q=ada", "query string"),
        ("/faq#top", "query string or a fragment"),
        ("/" + "a" * 200, "at most 200"),
        ("/two words", "characters of a web address"),
        ("/tab\there", "characters of a web address"),
        ("/caf\u00e9", "characters of a web address"),
    ],
)
def test_a_bad_path_is_refused_with_a_message_that_says_why_and_not_the_value(
    path: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message) as refused:
        checked_path(path)
    assert path[1:] not in refused.value.message or not path[1:]


def test_a_visitor_id_is_vis_and_32_hex_digits_and_each_is_new() -> None:
    first, second = new_visitor_id(), new_visitor_id()
    assert first != second and first.startswith("vis_") and len(first) == 36
    assert checked_page_view("/", first, KEY) == PageView("/", first, KEY)


@pytest.mark.parametrize(
    ("visitor_id", "subject_key", "message"),
    [
        ("vis_123", "", "visitor_id is not a visitor id"),
        ("VIS_" + "a" * 32, "", "visitor_id is not a visitor id"),
        ("acc_" + "a" * 32, "", "visitor_id is not a visitor id"),
        ("", KEY, "subject_key needs a visitor_id"),
        ("vis_" + "b" * 32, "A" * 64, "subject_key is not a subject key"),
        ("vis_" + "b" * 32, "a" * 63, "subject_key is not a subject key"),
    ],
)
def test_ids_of_the_wrong_shape_and_a_person_without_consent_are_refused(
    visitor_id: str, subject_key: str, message: str
) -> None:
    with pytest.raises(InvalidArgument, match=message):
        checked_page_view("/", visitor_id, subject_key)


def test_without_a_visitor_a_page_view_names_no_one() -> None:
    assert checked_page_view("/products", "", "") == PageView("/products")


def test_the_visitor_hash_is_keyed_and_never_the_id() -> None:
    visitor = new_visitor_id()
    hashed = visitor_hash(b"k" * 32, visitor)
    assert len(hashed) == 64 and visitor[4:] not in hashed
    assert hashed == visitor_hash(b"k" * 32, visitor) != visitor_hash(b"l" * 32, visitor)


@pytest.mark.parametrize(
    ("days", "top", "expected"), [(0, 0, (30, 7)), (1, 1, (1, 1)), (400, 50, (400, 50)), (7, 0, (7, 7))]
)
def test_the_traffic_window_has_defaults_and_bounds(days: int, top: int, expected: tuple[int, int]) -> None:
    assert checked_window(days, top, 7) == expected


@pytest.mark.parametrize(("days", "top"), [(401, 5), (-1, 5), (5, 51), (5, -2)])
def test_a_traffic_window_out_of_bounds_is_refused(days: int, top: int) -> None:
    with pytest.raises(InvalidArgument, match="must be between"):
        checked_window(days, top, 10)


def test_days_are_utc_days_oldest_first() -> None:
    assert window(date(2026, 3, 1), 3) == ["2026-02-27", "2026-02-28", "2026-03-01"]
    late = datetime(2026, 3, 1, 23, 59, 59, tzinfo=UTC)
    assert day_start(late) == datetime(2026, 3, 1, tzinfo=UTC)


def test_the_defaults_give_analytics_its_ports_database_and_13_months() -> None:
    config = load_config(ENV)
    common = config.common
    assert (common.grpc_port, common.api_metrics_port, common.worker_metrics_port) == (50056, 9106, 9206)
    assert (common.service, common.mongo_db) == ("analytics", "lethe_analytics")
    assert (config.retention_days, config.top_pages, config.sweep_interval_seconds) == (396, 10, 3600.0)
    assert len(config.visitor_key) == 32


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LETHE_SUBJECT_PEPPER", ""),
        ("ANALYTICS_EVENT_RETENTION_DAYS", "397"),
        ("ANALYTICS_EVENT_RETENTION_DAYS", "0"),
        ("ANALYTICS_TOP_PAGES", "51"),
        ("ANALYTICS_SWEEP_INTERVAL_SECONDS", "0"),
        ("ANALYTICS_SWEEP_INTERVAL_SECONDS", "soon"),
    ],
)
def test_a_bad_setting_stops_analytics_at_start_up(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_config({**ENV, name: value})
