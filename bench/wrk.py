"""Driving HTTP load with wrk (Debian's package), which is not bounded by one Python core.

A Lua script per flow builds each request (a session cookie per person, rotating; a fresh
idempotency key and payment token per order) and prints wrk's own figures as one JSON
line when the run ends, which :func:`run` parses.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Reads one cookie (or body) per line from the files named in the environment; every
# thread walks its own slice, so no two threads send the same single-use token.
LUA_COMMON = r"""
local function lines(path)
  local out = {}
  if path == nil or path == "" then return out end
  for line in io.lines(path) do out[#out + 1] = line end
  return out
end
local cookies = lines(os.getenv("WRK_COOKIES"))
local tokens = lines(os.getenv("WRK_TOKENS"))
local method = os.getenv("WRK_METHOD") or "GET"
local path = os.getenv("WRK_PATH") or "/"
local body_template = os.getenv("WRK_BODY") or ""
local csrf = os.getenv("WRK_CSRF") or ""
local threads_total = tonumber(os.getenv("WRK_THREADS") or "1")
local thread_index, i, sent = 0, 0, 0
local counter = 0

setup = function(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

init = function(args)
  thread_index = tonumber(wrk.thread:get("thread_index") or 0) or 0
end

request = function()
  i = i + 1
  local headers = {}
  if #cookies > 0 then
    -- a line is the Cookie header, optionally a tab and that session's CSRF token
    local line = cookies[(i * threads_total + thread_index) % #cookies + 1]
    local tab = string.find(line, "\t", 1, true)
    if tab then
      headers["Cookie"] = string.sub(line, 1, tab - 1)
      headers["X-CSRF-Token"] = string.sub(line, tab + 1)
    else
      headers["Cookie"] = line
    end
  end
  if csrf ~= "" then headers["X-CSRF-Token"] = csrf end
  local body = nil
  if body_template ~= "" then
    sent = sent + 1
    local n = sent * threads_total + thread_index
    local token = tokens[n % math.max(#tokens, 1) + 1] or ""
    headers["Content-Type"] = "application/json"
    headers["Idempotency-Key"] = string.format("wrk-%d-%d-%d", os.time(), thread_index, sent)
    body = string.gsub(body_template, "__TOKEN__", token)
  end
  return wrk.format(method, path, headers, body)
end

done = function(summary, latency, requests)
  io.write(string.format(
    '\nWRK_JSON {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"non2xx":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, summary.errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    errors: int
    non2xx: int
    p50_ms: float
    p90_ms: float
    p99_ms: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def row(self, name: str, floor: WrkResult | None = None) -> str:
        share = f"{self.rate / floor.rate:5.2f} of floor" if floor and floor.rate else " " * 14
        return (
            f"  {name:<46} {self.rate:9.1f}/s  p50={self.p50_ms:7.2f} ms  "
            f"p99={self.p99_ms:8.2f} ms  errors={self.errors + self.non2xx:<5} {share}"
        )


def available() -> bool:
    return shutil.which("wrk") is not None


def run(
    url: str,
    *,
    seconds: float,
    connections: int,
    threads: int = 2,
    method: str = "GET",
    cookies: list[str] | None = None,
    tokens: list[str] | None = None,
    body: str = "",
    csrf: str = "",
) -> WrkResult:
    """Run wrk against ``url`` (scheme, host, port, path). ``cookies``: one Cookie header per
    session, optionally followed by a tab and its CSRF token; ``body`` may hold ``__TOKEN__``,
    replaced by the next of ``tokens`` (each used once while there are enough)."""
    if not available():
        raise SystemExit("wrk is not installed: `tools/setup.sh --bench` installs Debian's wrk")
    with tempfile.TemporaryDirectory(prefix="wrk-") as tmp:
        folder = Path(tmp)
        (folder / "flow.lua").write_text(LUA_COMMON)
        (folder / "cookies").write_text("\n".join(cookies or []))
        (folder / "tokens").write_text("\n".join(tokens or []))
        base, _, path = url.partition("//")[2].partition("/")
        env = {
            "WRK_COOKIES": str(folder / "cookies") if cookies else "",
            "WRK_TOKENS": str(folder / "tokens") if tokens else "",
            "WRK_METHOD": method,
            "WRK_PATH": "/" + path,
            "WRK_BODY": body,
            "WRK_CSRF": csrf,
            "WRK_THREADS": str(threads),
            "PATH": "/usr/bin:/bin",
        }
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                str(folder / "flow.lua"),
                f"http://{base}/",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 120,
        )
    line = next(line for line in completed.stdout.splitlines() if line.startswith("WRK_JSON "))
    data = json.loads(line.removeprefix("WRK_JSON "))
    errors = sum(data[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        errors=errors,
        non2xx=data["non2xx"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
    )
