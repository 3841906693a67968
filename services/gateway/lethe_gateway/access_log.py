"""The gateway's access log (SPEC section 3, issue 16): one JSON line per request, kept
``LETHE_GATEWAY_ACCESS_LOG_DAYS`` (7) days, then deleted by a sweep.

A line holds the time (UTC), the method, the path, the status, the duration and the
client's address truncated before it is written (``lethe_common.netaddr``), nothing else:
no query string, no headers, no user agent, no referrer, no cookies. The path is the
route's template when a route served the request (``/api/v1/orders/{order_id}``), so ids in
paths never reach the log; a path no route serves is written with id-like segments, e-mail
addresses, phone numbers and IP addresses replaced by markers. The client is the address
uvicorn settled on: the peer, or the X-Forwarded-For of a trusted proxy
(``LETHE_GATEWAY_TRUSTED_PROXIES``).

Lines go to ``access-YYYY-MM-DD.log`` (the UTC day of the request) in
``LETHE_GATEWAY_ACCESS_LOG_DIR``; unset, nothing is written. A day's file is deleted as soon
as its first hour is older than the retention, so no line outlives it (between days - 1
and days of lines are there). Every gateway process sweeps at start-up and then hourly
(:class:`Sweeper`); several replicas sharing a folder may all sweep, deleting is idempotent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lethe_common.logging import redact
from lethe_common.netaddr import truncate_address

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
DAY_FILE = re.compile(r"access-(\d{4}-\d{2}-\d{2})\.log")
SWEEP_INTERVAL_SECONDS = 3600.0
MAX_PATH_CHARS = 256
ID_MARKER = "[id]"
# A segment that may be an id or a token: long with a digit (prd_5f0c..., 2026-01-...), or
# very long (a random token without a digit).
_ID_LIKE = re.compile(r"(?=.*\d).{8,}|.{32,}", re.DOTALL)
_METHOD = re.compile(r"[A-Z]{1,16}")


def utc_now() -> datetime:
    return datetime.now(UTC)


def day_file(directory: Path, day: date) -> Path:
    return directory / f"access-{day.isoformat()}.log"


def logged_path(scope: Scope) -> str:
    """What the line says about the path: the template of the route that served the request,
    else the path with whatever may name someone replaced. Never the query string."""
    path = str(scope.get("path", ""))
    template = route_template(scope.get("route"), path)
    return (template if template is not None else _scrubbed(path))[:MAX_PATH_CHARS]


def route_template(route: Any, path: str) -> str | None:
    """The full template of ``route`` for ``path``. FastAPI's included routers keep their
    routes' own paths (``/orders/{order_id}``, below the prefix ``/api/v1``), so the route's
    pattern is matched against the path's tails: the first tail it matches is the route's
    part, what comes before is the routers' prefixes (scrubbed too, should one hold an id)."""
    template, pattern = getattr(route, "path_format", None), getattr(route, "path_regex", None)
    if not isinstance(template, str) or not isinstance(pattern, re.Pattern):
        return None
    for start in (i for i, char in enumerate(path) if char == "/"):
        if pattern.fullmatch(path[start:]) is not None:
            return _scrubbed(path[:start]) + template
    return None


def _scrubbed(path: str) -> str:
    """``path`` with id-like segments, e-mail addresses, phone numbers and IP addresses
    replaced by markers; segment by segment, as an e-mail address may hold a "/"."""
    return "/".join(ID_MARKER if _ID_LIKE.fullmatch(part) else redact(part) for part in path.split("/"))


def access_line(
    at: datetime, method: str, path: str, status: int, duration_ms: float, client_host: str | None
) -> str:
    """One line of the log (without its newline). ``client_host`` is truncated here, so no
    caller can write a whole address."""
    moment = at.astimezone(UTC)
    entry: dict[str, Any] = {
        "time": moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
        "method": method if _METHOD.fullmatch(method) else "other",
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 1),
        "client": truncate_address(client_host or "") or None,
    }
    return json.dumps(entry, separators=(",", ":"))


class AccessLog:
    """Appends lines to the file of their UTC day in ``directory``; safe from any thread."""

    def __init__(self, directory: Path, clock: Clock = utc_now) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.clock = clock
        self._lock = threading.Lock()
        self._day: date | None = None
        self._file: IO[str] | None = None
        self._failing = False

    def write(self, at: datetime, line: str) -> None:
        """Append ``line``; a failure is logged (once until a write succeeds), never raised:
        the request it describes has been answered already."""
        day = at.astimezone(UTC).date()
        with self._lock:
            try:
                if self._file is None or day != self._day:
                    self._close()
                    self._file = _open_append(day_file(self.directory, day))
                    self._day = day
                self._file.write(line + "\n")  # line-buffered: one write(2) per line
            except OSError as exc:
                self._close()
                if not self._failing:
                    log.warning("access log not written: %s", exc.strerror or exc)
                self._failing = True
                return
            self._failing = False

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        file, self._file, self._day = self._file, None, None
        if file is not None:
            with contextlib.suppress(OSError):
                file.close()


def _open_append(path: Path) -> IO[str]:
    """``path`` for appending (created 0640), line-buffered."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    return os.fdopen(fd, "a", buffering=1, encoding="utf-8")


class AccessLogMiddleware:
    """Writes one line per HTTP request once its answer is sent (or has failed: 500).

    A plain ASGI middleware like ``ObserveMiddleware`` (app.py). Added outside it, so it
    sees every status the client got, 413s of the body limit too."""

    def __init__(self, app: ASGIApp, access_log: AccessLog) -> None:
        self.app = app
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at = self.access_log.clock()
        started = time.perf_counter()
        status = 500  # what the client gets when the handler raises past this point

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            client = scope.get("client")
            line = access_line(
                at,
                str(scope.get("method", "")),
                logged_path(scope),
                status,
                (time.perf_counter() - started) * 1000,
                client[0] if client else None,
            )
            self.access_log.write(at, line)


def sweep(directory: Path, days: int, clock: Clock = utc_now) -> list[Path]:
    """Delete the day files of ``directory`` that hold lines older than ``days`` days (a
    day's file goes once its first hour is older). Other files are left alone."""
    cutoff = clock() - timedelta(days=days)
    removed = []
    for path in sorted(directory.glob("access-*.log")):
        match = DAY_FILE.fullmatch(path.name)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match[1])
        except ValueError:
            continue
        if datetime(day.year, day.month, day.day, tzinfo=UTC) < cutoff:
            path.unlink(missing_ok=True)  # another replica may have been first
            removed.append(path)
    return removed


class Sweeper:
    """Runs :func:`sweep` now and then every ``interval`` seconds in a daemon thread."""

    def __init__(
        self, directory: Path, days: int, clock: Clock = utc_now, interval: float = SWEEP_INTERVAL_SECONDS
    ) -> None:
        self.directory = directory
        self.days = days
        self.clock = clock
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="access-log-sweep", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def sweep_once(self) -> list[Path]:
        try:
            removed = sweep(self.directory, self.days, self.clock)
        except OSError as exc:
            log.warning("access log sweep failed: %s", exc.strerror or exc)
            return []
        if removed:
            log.info("access log sweep removed %d day files", len(removed))
        return removed

    def _run(self) -> None:
        while True:
            self.sweep_once()
            if self._stop.wait(self.interval):
                return


def install(app: Any, directory: str) -> AccessLog | None:
    """Add the access log to ``app`` when ``directory`` is set (``LETHE_GATEWAY_ACCESS_LOG_DIR``)."""
    if not directory:
        return None
    access_log = AccessLog(Path(directory))
    app.add_middleware(AccessLogMiddleware, access_log=access_log)
    return access_log


def start_sweeper(directory: str, days: int) -> Sweeper | None:
    """The gateway process's sweeper (api.py), when the access log is on."""
    if not directory:
        return None
    Path(directory).mkdir(parents=True, exist_ok=True)
    return Sweeper(Path(directory), days).start()
