"""`make up` runs a Prometheus that scrapes every process of the stack and loads the alert rules.

A dev stack of its own (its own LETHE_STACK, on ports no other process holds) is started with
``tools/stack.py up`` and stopped the way Ctrl-C or ``make down`` stops it: SIGTERM to the
``up`` process, which stops its children by their pid files. ``make down`` itself is not
used: it would stop every stack of this checkout, a developer's ``make up`` too.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
STACK_PY = ROOT / "tools" / "stack.py"
RULES = ROOT / "deploy" / "prometheus" / "rules.yml"
UP_TIMEOUT = 180.0


def load_stack() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lethe_stack_tool", STACK_PY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


stack = load_stack()


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a person typing `make up`: none of this test run's settings."""
    return {**{k: v for k, v in os.environ.items() if not k.startswith(stack.ENV_PREFIXES)}, **extra}


def stack_ports(offset: int) -> set[int]:
    """Every port `make up` with this offset listens on."""
    env = {"LETHE_PORT_OFFSET": str(offset)}
    ports = {port + offset for port in (*stack.INFRA_PORTS.values(), *stack.MONITORING_PORTS.values())}
    for name in stack.BACKENDS:
        for replica in range(1, stack.replicas(env) + 1):
            ports.update(p + offset for p in stack.replica_ports(env, name, replica))
    return ports


def free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return not stack.port_open(port)


def pick_offset() -> int:
    for _ in range(200):
        offset = 100 * (10 + secrets.randbelow(91))  # 1000 ... 10000
        if all(free(port) for port in stack_ports(offset)):
            return offset
    pytest.fail("no LETHE_PORT_OFFSET with every port free")


def get(url: str, timeout: float = 5) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for(predicate: Any, timeout: float, what: str, up: subprocess.Popen[bytes], log: Path) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            pytest.fail(
                f"`stack.py up` exited ({up.returncode}) waiting for {what}:\n{log.read_text()[-3000:]}"
            )
        with contextlib.suppress(OSError, ValueError):
            result = predicate()
            if result:
                return result
        time.sleep(1)
    pytest.fail(f"no {what} after {timeout:.0f}s:\n{log.read_text()[-3000:]}")


class DevStack:
    def __init__(self, name: str, offset: int, env: dict[str, str], up: subprocess.Popen[bytes], log: Path):
        self.name, self.offset, self.env, self.up, self.log = name, offset, env, up, log

    def url(self, key: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.env[key]}{path}"


@pytest.fixture(scope="module")
def dev_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    name, offset = f"prom-{secrets.token_hex(3)}", pick_offset()
    env = clean_env(LETHE_STACK=name, LETHE_PORT_OFFSET=str(offset))
    place = stack.Place(name)
    resolved = dict(
        line.split("=", 1)
        for line in subprocess.run(
            [sys.executable, str(STACK_PY), "env"], env=env, capture_output=True, text=True, check=True
        ).stdout.splitlines()
    )
    log = tmp_path_factory.mktemp("devstack") / "up.log"
    with open(log, "wb") as out:
        up = subprocess.Popen(
            [sys.executable, str(STACK_PY), "up", "--timeout", "150"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    running = DevStack(name, offset, resolved, up, log)
    try:
        wait_for(lambda: "Lethe is up" in log.read_text(), UP_TIMEOUT, "Lethe is up", up, log)
        yield running
    finally:
        if up.poll() is None:
            up.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                up.wait(90)
        if up.poll() is None:  # it did not stop: stop its processes by their pid files, then it
            stack.stop_owner(place.run / "up")
            up.kill()
            up.wait(10)
        leftovers = sorted(p.name for p in place.run.glob("*/*.pid"))
        if up.returncode == 0 and not leftovers:
            shutil.rmtree(place.root, ignore_errors=True)
        else:
            stack.stop_owner(place.run / "up")
            print(f"kept {place.root} for its logs (exit {up.returncode}, pid files {leftovers})")


def expected_targets(dev: DevStack) -> set[tuple[str, str]]:
    targets = {("gateway", f"127.0.0.1:{dev.env['GATEWAY_METRICS_PORT']}")}
    for name in stack.BACKENDS:
        for replica in range(1, stack.replicas(dev.env) + 1):
            _, api, worker = stack.replica_ports(dev.env, name, replica)
            targets |= {(f"{name}-api", f"127.0.0.1:{api}"), (f"{name}-worker", f"127.0.0.1:{worker}")}
    return targets


def test_ports_follow_the_offset(dev_stack: DevStack) -> None:
    assert int(dev_stack.env["GATEWAY_METRICS_PORT"]) == 9105 + dev_stack.offset
    assert int(dev_stack.env["LETHE_PROMETHEUS_PORT"]) == 9090 + dev_stack.offset
    banner = dev_stack.log.read_text()
    assert f"/metrics on http://127.0.0.1:{dev_stack.env['GATEWAY_METRICS_PORT']}" in banner
    assert f"prometheus {dev_stack.url('LETHE_PROMETHEUS_PORT')}" in banner


def test_prometheus_scrapes_every_process_of_the_stack(dev_stack: DevStack) -> None:
    expected = expected_targets(dev_stack)
    assert len(expected) == 5 * 2 * stack.replicas(dev_stack.env) + 1  # five backends, api and worker

    def all_up() -> list[dict[str, Any]] | None:
        status, body = get(dev_stack.url("LETHE_PROMETHEUS_PORT", "/api/v1/targets?state=active"))
        targets = json.loads(body)["data"]["activeTargets"] if status == 200 else []
        found = {(t["labels"]["job"], t["labels"]["instance"]) for t in targets}
        return targets if found == expected and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 90, "every target up", dev_stack.up, dev_stack.log)
    assert {(t["labels"]["job"], t["labels"]["instance"]) for t in targets} == expected
    assert {t["health"] for t in targets} == {"up"}


def test_every_process_serves_metrics_promtool_finds_no_fault_in(dev_stack: DevStack) -> None:
    promtool = shutil.which("promtool")
    assert promtool, "tools/setup.sh installs Debian's prometheus package (promtool)"
    for job, instance in sorted(expected_targets(dev_stack)):
        status, body = get(f"http://{instance}/metrics")
        assert status == 200, (job, instance)
        assert b"# TYPE " in body, (job, instance)
        checked = subprocess.run([promtool, "check", "metrics"], input=body, capture_output=True, timeout=60)
        report = (checked.stdout + checked.stderr).decode()
        assert checked.returncode == 0 and report.strip() == "", f"{job} {instance}: {report}"
    gateway_metrics = get(dev_stack.url("GATEWAY_METRICS_PORT", "/metrics"))[1].decode()
    assert "lethe_http_requests_total" in gateway_metrics
    # and the public port does not serve them
    assert get(dev_stack.url("LETHE_GATEWAY_PORT", "/metrics"))[0] == 404
    assert get(dev_stack.url("LETHE_GATEWAY_PORT", "/readyz"))[0] == 200


def test_prometheus_evaluates_the_alert_rules(dev_stack: DevStack) -> None:
    defined = {
        rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]
    }

    def loaded() -> dict[str, str] | None:
        status, body = get(dev_stack.url("LETHE_PROMETHEUS_PORT", "/api/v1/rules?type=alert"))
        groups = json.loads(body)["data"]["groups"] if status == 200 else []
        rules = {rule["name"]: rule for group in groups for rule in group["rules"]}
        evaluated = all(not rule.get("lastEvaluation", "0001").startswith("0001") for rule in rules.values())
        return {n: r["health"] for n, r in rules.items()} if set(rules) == defined and evaluated else None

    health = wait_for(loaded, 60, "the rules evaluated", dev_stack.up, dev_stack.log)
    assert set(health.values()) == {"ok"}, health
    # The stack is healthy: every target answers its scrape. (One scrape missed under load,
    # a worker's port opening a moment after the first scrape, makes LetheProcessDown pending
    # for a while; a process that is really down stays down and fails this.)

    def every_target_up() -> list[dict[str, Any]] | None:
        status, body = get(dev_stack.url("LETHE_PROMETHEUS_PORT", "/api/v1/query?query=up"))
        results = json.loads(body)["data"]["result"] if status == 200 else []
        return results if results and all(r["value"][1] == "1" for r in results) else None

    targets = wait_for(every_target_up, 60, "every target up", dev_stack.up, dev_stack.log)
    assert {(r["metric"]["job"], r["metric"]["instance"]) for r in targets} == expected_targets(dev_stack)
    status, body = get(dev_stack.url("LETHE_PROMETHEUS_PORT", "/api/v1/alerts"))
    assert status == 200
    firing = {a["labels"]["alertname"] for a in json.loads(body)["data"]["alerts"] if a["state"] == "firing"}
    assert "LetheProcessDown" not in firing


def test_stopping_up_stops_prometheus_and_every_process(dev_stack: DevStack) -> None:
    place = stack.Place(dev_stack.name)
    prometheus_port = int(dev_stack.env["LETHE_PROMETHEUS_PORT"])
    recorded = (place.run / "up" / "prometheus.pid").read_text().split()
    assert len(recorded) == 2 and stack.start_time(int(recorded[0])) == recorded[1]
    dev_stack.up.send_signal(signal.SIGTERM)
    assert dev_stack.up.wait(90) == 0
    assert sorted(p.name for p in place.run.glob("*/*.pid")) == []
    assert stack.start_time(int(recorded[0])) is None
    for job, instance in expected_targets(dev_stack):
        assert not stack.port_open(int(instance.rsplit(":", 1)[1])), job
    assert not stack.port_open(prometheus_port)
