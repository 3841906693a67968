"""The gateway's access log (issue 16, SPEC section 3): one line per request with the client's
address truncated before it is written, no query string, no ids; day files older than the
retention are deleted by a sweep.

The unit tests drive the middleware over httpx's ASGI transport (which lets them choose the
client address) and the sweep with an injected clock; the last tests run the real gateway
process behind a "proxy" (the test, from 127.0.0.1, trusted) that forwards clients'
addresses."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI

from lethe_common.config import ConfigError
from lethe_gateway.access_log import (
    AccessLog,
    AccessLogMiddleware,
    Sweeper,
    access_line,
    day_file,
    logged_path,
    sweep,
)
from lethe_gateway.config import load_config
from lethe_testing import wait_for

LoneGateway = Callable[..., AbstractContextManager[str]]  # the fixture of conftest.py
FIELDS = {"time", "method", "path", "status", "duration_ms", "client"}
NOW = datetime(2026, 3, 10, 12, 30, tzinfo=UTC)
IPV4 = "203.0.113.77"
IPV6 = "2001:db8:85a3:8d3:1319:8a2e:370:7348"


def lines_in(folder: Path) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for path in sorted(folder.glob("access-*.log"))
        for line in path.read_text(encoding="utf-8").splitlines()
    ]


# -- one line ---------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize(
    ("client", "written"),
    [
        (IPV4, "203.0.113.0"),
        (IPV6, "2001:db8:85a3::"),
        ("::ffff:198.51.100.9", "198.51.100.0"),
        ("testclient", None),
        (None, None),
    ],
)
def test_a_line_holds_the_truncated_address_and_nothing_more(client: str | None, written: str | None) -> None:
    line = access_line(NOW, "GET", "/api/v1/me", 200, 3.14159, client)
    assert "\n" not in line
    assert json.loads(line) == {
        "time": "2026-03-10T12:30:00.000Z",
        "method": "GET",
        "path": "/api/v1/me",
        "status": 200,
        "duration_ms": 3.1,
        "client": written,
    }


@pytest.mark.unit
def test_odd_methods_are_not_written_as_sent() -> None:
    assert json.loads(access_line(NOW, "GET /x", "/", 400, 0, None))["method"] == "other"
    assert json.loads(access_line(NOW, "PROPFIND", "/", 405, 0, None))["method"] == "PROPFIND"


@pytest.mark.unit
@pytest.mark.parametrize(
    ("path", "written"),
    [
        ("/wp-login.php", "/wp-login.php"),
        ("/api/v1/nowhere/max.mustermann@beispiel.de", "/api/v1/nowhere/[email]"),
        ("/api/v1/x/acc_0123456789abcdef0123456789abcdef/y", "/api/v1/x/[id]/y"),
        ("/t/" + "A" * 43, "/t/[id]"),
        (f"/from/{IPV4}", "/from/[id]"),
    ],
)
def test_a_path_no_route_serves_loses_what_may_name_someone(path: str, written: str) -> None:
    assert logged_path({"type": "http", "path": path}) == written


# -- the middleware ---------------------------------------------------------
def small_app(folder: Path) -> AccessLogMiddleware:
    """Routes as the gateway has them: in a router included in one with the prefix /api/v1."""
    app, api, orders = FastAPI(), APIRouter(prefix="/api/v1"), APIRouter()

    @orders.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"id": order_id}

    api.include_router(orders)
    app.include_router(api)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("handler failed")

    return AccessLogMiddleware(app, AccessLog(folder))


def get(app: AccessLogMiddleware, client: str, *paths: str) -> list[int]:
    async def run() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=(client, 51234), raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
            return [(await http.get(path)).status_code for path in paths]

    return asyncio.run(run())


@pytest.mark.unit
def test_the_route_template_is_written_never_the_ids_or_the_query(tmp_path: Path) -> None:
    statuses = get(
        small_app(tmp_path),
        IPV4,
        "/api/v1/orders/ord_5f0c1d2e3f?token=s3cr3t-t0ken&email=a@b.de",
        "/boom",
        "/api/v1/orders/ord_5f0c1d2e3f/unknown",
    )
    assert statuses == [200, 500, 404]
    lines = lines_in(tmp_path)
    assert [(line["method"], line["path"], line["status"]) for line in lines] == [
        ("GET", "/api/v1/orders/{order_id}", 200),
        ("GET", "/boom", 500),
        ("GET", "/api/v1/orders/[id]/unknown", 404),
    ]
    assert all(set(line) == FIELDS and line["client"] == "203.0.113.0" for line in lines)
    assert all(line["duration_ms"] >= 0 for line in lines)
    text = "".join(p.read_text() for p in tmp_path.iterdir())
    for secret in ("ord_5f0c1d2e3f", "s3cr3t", "token", "a@b.de", "?", IPV4):
        assert secret not in text


@pytest.mark.unit
def test_each_utc_day_has_its_own_file(tmp_path: Path) -> None:
    log = AccessLog(tmp_path)
    late, early = datetime(2026, 3, 9, 23, 59, tzinfo=UTC), datetime(2026, 3, 10, 0, 1, tzinfo=UTC)
    log.write(late, access_line(late, "GET", "/", 200, 1, IPV4))
    log.write(early, access_line(early, "GET", "/", 200, 1, IPV6))
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["access-2026-03-09.log", "access-2026-03-10.log"]
    assert json.loads(day_file(tmp_path, date(2026, 3, 10)).read_text())["client"] == "2001:db8:85a3::"


# -- the sweep --------------------------------------------------------------
def day_files(folder: Path, *ages: int) -> dict[int, Path]:
    files = {age: day_file(folder, (NOW - timedelta(days=age)).date()) for age in ages}
    for path in files.values():
        path.write_text('{"path":"/"}\n')
    return files


@pytest.mark.unit
def test_the_sweep_deletes_the_days_older_than_the_retention(tmp_path: Path) -> None:
    files = day_files(tmp_path, 0, 1, 6, 7, 8, 30)
    others = [
        tmp_path / name for name in ("access-2026-02-30.log", "access-old.log", "gateway.log", "notes.txt")
    ]
    for path in others:
        path.write_text("kept\n")

    removed = sweep(tmp_path, 7, clock=lambda: NOW)

    # Day 7's first hours are older than 7 days, so its whole file goes; day 6 is younger.
    assert sorted(removed) == sorted([files[7], files[8], files[30]])
    assert sorted(tmp_path.iterdir()) == sorted([files[0], files[1], files[6], *others])
    assert sweep(tmp_path, 7, clock=lambda: NOW) == []  # a second sweep (another replica) finds nothing


@pytest.mark.unit
def test_the_retention_is_configurable(tmp_path: Path) -> None:
    files = day_files(tmp_path, 0, 1, 2)
    sweep(tmp_path, 1, clock=lambda: NOW)
    assert list(tmp_path.iterdir()) == [files[0]]


@pytest.mark.unit
def test_the_sweeper_sweeps_at_once_and_then_again(tmp_path: Path) -> None:
    now = [NOW]
    files = day_files(tmp_path, 6, 8)
    sweeper = Sweeper(tmp_path, 7, clock=lambda: now[0], interval=0.05).start()
    try:
        wait_for(lambda: not files[8].exists(), 5, what="the start-up sweep")
        assert files[6].exists()
        now[0] = NOW + timedelta(days=2)  # day 6 is now day 8
        wait_for(lambda: not files[6].exists(), 5, what="a later sweep")
    finally:
        sweeper.stop()


@pytest.mark.unit
def test_access_log_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LETHE_GATEWAY_ACCESS_LOG_DIR", raising=False)
    monkeypatch.delenv("LETHE_GATEWAY_ACCESS_LOG_DAYS", raising=False)
    assert (load_config().access_log_dir, load_config().access_log_days) == ("", 7)
    monkeypatch.setenv("LETHE_GATEWAY_ACCESS_LOG_DIR", str(tmp_path))
    monkeypatch.setenv("LETHE_GATEWAY_ACCESS_LOG_DAYS", "30")
    assert (load_config().access_log_dir, load_config().access_log_days) == (str(tmp_path), 30)
    for bad in ("0", "366", "a week"):
        monkeypatch.setenv("LETHE_GATEWAY_ACCESS_LOG_DAYS", bad)
        with pytest.raises(ConfigError, match="LETHE_GATEWAY_ACCESS_LOG_DAYS"):
            load_config()


# -- the gateway process ------------------------------------------------------
def test_the_gateway_writes_truncated_forwarded_addresses_only(
    lone_gateway: LoneGateway, tmp_path: Path
) -> None:
    folder = tmp_path / "access"
    folder.mkdir()
    today = datetime.now(UTC)
    old, recent = day_files_at(folder, today, 8), day_files_at(folder, today, 6)
    settings = {"LETHE_GATEWAY_ACCESS_LOG_DIR": str(folder), "LETHE_GATEWAY_TRUSTED_PROXIES": "127.0.0.1/32"}
    with lone_gateway(**settings) as url:
        wait_for(lambda: not old.exists(), 10, what="the start-up sweep")
        assert recent.exists()
        answers = [
            httpx.get(f"{url}/healthz?email=max%40beispiel.de&token=abc", headers={"X-Forwarded-For": IPV4}),
            httpx.get(f"{url}/api/v1/orders/ord_5f0c1d2e3f4a?x=1", headers={"X-Forwarded-For": IPV6}),
            httpx.get(f"{url}/api/v1/openapi.json"),  # from the proxy itself
        ]
        assert [a.status_code for a in answers] == [200, 401, 200]
        lines = wait_for(lambda: requests_in(folder) if len(requests_in(folder)) == 3 else None, 10)

    assert [(line["method"], line["path"], line["status"], line["client"]) for line in lines] == [
        ("GET", "/healthz", 200, "203.0.113.0"),
        ("GET", "/api/v1/orders/{order_id}", 401, "2001:db8:85a3::"),
        ("GET", "/api/v1/openapi.json", 200, "127.0.0.0"),
    ]
    assert all(set(line) == FIELDS for line in lines)
    text = "".join(p.read_text() for p in folder.iterdir())
    for whole in (IPV4, IPV6, "8d3:1319", "127.0.0.1", "ord_5f0c1d2e3f4a", "beispiel", "token", "?"):
        assert whole not in text


def requests_in(folder: Path) -> list[dict[str, Any]]:
    """The lines of the test's requests: not those the test planted, nor the readiness probes'
    (GET /healthz from 127.0.0.1 while the gateway started)."""
    probe = ("/healthz", "127.0.0.0")
    return [line for line in lines_in(folder) if "time" in line and (line["path"], line["client"]) != probe]


def day_files_at(folder: Path, now: datetime, age: int) -> Path:
    path = day_file(folder, (now - timedelta(days=age)).date())
    path.write_text('{"path":"/"}\n')
    return path
